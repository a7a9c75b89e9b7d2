//! Server metrics end to end: a sweep against the simulator scrapes its `/metrics` during
//! every level; a missing or malformed endpoint is one warning and nothing measured is lost.

mod common;

use common::*;
use llmsweep::results::model::{LevelStatus, Report};
use llmsweep::sim::Faults;
use serde_json::Value;

fn scraped_plan(url: String, metrics_url: Option<String>) -> llmsweep::plan::Plan {
    let mut plan = sweep_plan(&[("sim", url)], &[1, 4], 16, 8);
    plan.config.metrics.interval_ms = 100;
    plan.config.metrics.timeout_ms = 500;
    plan.config.engines[0].metrics_url = metrics_url;
    plan
}

fn metrics_lines(run: &Run) -> Vec<Value> {
    std::fs::read_to_string(run.out_dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("metrics.jsonl line parses"))
        .collect()
}

fn metric_warnings(report: &Report) -> Vec<&String> {
    report
        .warnings
        .iter()
        .filter(|w| w.contains("metrics at"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_level_keeps_the_engines_own_view_of_it() {
    let sim = sim(quick(), Faults::default()).await;
    let mut run = Run::start(scraped_plan(sim.chat_url(), None));
    run.finish().await;
    let report = run.report();
    let engine = &report.engines[0];
    assert_eq!(engine.server_metrics_schema.as_deref(), Some("vllm"));
    for level in &engine.levels {
        assert_eq!(level.status, LevelStatus::Complete);
        let server = level.server.as_ref().expect("the level was scraped");
        assert!(
            server.scrapes >= 2,
            "a scrape at the start and one at the end"
        );
        // Warmup ran before the first scrape and every request ended before the last: the
        // engine counted exactly the tokens the client received.
        assert_eq!(
            server.generation_tokens,
            Some(level.total_output_tokens as f64),
            "C={}",
            level.level
        );
        assert!(server.max_running.unwrap() <= level.level);
        assert_eq!(server.preemptions, Some(0.0));
        let server_ttft = server.server_mean_ttft_ms.expect("server TTFT");
        let client_ttft = level.mean_ttft_ms.unwrap();
        assert!(
            server_ttft > 0.0 && server_ttft <= client_ttft,
            "{server_ttft} vs {client_ttft}"
        );
        let added = server.client_added_ttft_ms.unwrap();
        assert!((added - (client_ttft - server_ttft)).abs() < 1e-9);
    }
    assert!(metric_warnings(&report).is_empty(), "{:?}", report.warnings);
    let lines = metrics_lines(&run);
    let scrapes: usize = engine
        .levels
        .iter()
        .map(|l| l.server.as_ref().unwrap().scrapes as usize)
        .sum();
    assert_eq!(lines.len(), scrapes, "one line per scrape");
    for line in &lines {
        assert_eq!(line["engine"], "sim");
        assert_eq!(line["schema"], "vllm");
        assert!(line["raw"]["vllm:time_to_first_token_seconds"][0]["buckets"].is_array());
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
    }
    let levels: Vec<u64> = lines
        .iter()
        .map(|l| l["level_index"].as_u64().unwrap())
        .collect();
    assert!(levels.contains(&0) && levels.contains(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_metrics_endpoint_is_one_warning_and_the_sweep_is_whole() {
    let sim = sim(quick(), Faults::default()).await;
    let url = format!("http://127.0.0.1:{}/metrics", closed_port());
    // Without the preflight (which would find the endpoint dead and not scrape it at all).
    let mut run = Run::start_no_check(scraped_plan(sim.chat_url(), Some(url.clone())));
    run.finish().await;
    let report = run.report();
    let warnings = metric_warnings(&report);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!("sim: metrics at {url}: unreachable")),
        "{}",
        warnings[0]
    );
    let engine = &report.engines[0];
    assert_eq!(engine.levels.len(), 2);
    assert!(engine
        .levels
        .iter()
        .all(|l| l.status == LevelStatus::Complete && l.completed == 16));
    assert!(
        engine.levels.iter().all(|l| l.server.is_none()),
        "nothing scraped: no stats, not zeros"
    );
    assert_eq!(engine.server_metrics_schema, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_exposition_is_one_warning_and_nothing_is_lost() {
    let sim = sim(quick(), Faults::default()).await;
    let bad = raw_server(|_| {
        http_response(
            "200 OK",
            "text/plain",
            "vllm:num_requests_running 1\nthis is { not prometheus\n",
        )
    })
    .await;
    let metrics_url = bad.url.replace("/v1/chat/completions", "/metrics");
    let mut run = Run::start_no_check(scraped_plan(sim.chat_url(), Some(metrics_url)));
    run.finish().await;
    let report = run.report();
    let warnings = metric_warnings(&report);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("not Prometheus text at line 2"),
        "{}",
        warnings[0]
    );
    let engine = &report.engines[0];
    assert!(engine
        .levels
        .iter()
        .all(|l| l.status == LevelStatus::Complete && l.completed == 16));
    assert!(
        bad.heads.lock().unwrap().len() >= 4,
        "it kept scraping, quietly"
    );
}
