//! Server metrics end to end: a sweep against the simulator scrapes its `/metrics` during
//! every level; a missing or malformed endpoint is one warning and nothing measured is lost.

use crate::common;

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

/// A DCGM exporter of `gpus` GPUs each at `util` %, `power` W, `memory` MiB, `clock` MHz,
/// throttle reasons `reasons`; each GPU's energy counter grows by `energy_step` mJ per scrape.
async fn dcgm(
    gpus: u32,
    util: f64,
    power: f64,
    memory: f64,
    clock: f64,
    reasons: u64,
    energy_step: u64,
) -> RawServer {
    let scrapes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    raw_server(move |_| {
        let n = scrapes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut body = String::new();
        for (family, kind) in [
            ("DCGM_FI_DEV_GPU_UTIL", "gauge"),
            ("DCGM_FI_DEV_POWER_USAGE", "gauge"),
            ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter"),
            ("DCGM_FI_DEV_FB_USED", "gauge"),
            ("DCGM_FI_DEV_SM_CLOCK", "gauge"),
            ("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "gauge"),
        ] {
            body.push_str(&format!("# TYPE {family} {kind}\n"));
            for gpu in 0..gpus {
                let value = match family {
                    "DCGM_FI_DEV_GPU_UTIL" => util,
                    "DCGM_FI_DEV_POWER_USAGE" => power,
                    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" => (n * energy_step) as f64,
                    "DCGM_FI_DEV_FB_USED" => memory,
                    "DCGM_FI_DEV_SM_CLOCK" => clock,
                    _ => reasons as f64,
                };
                body.push_str(&format!("{family}{{gpu=\"{gpu}\"}} {value}\n"));
            }
        }
        http_response("200 OK", "text/plain; version=0.0.4", &body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gpu_exporters_are_one_box_of_gpus() {
    let sim = sim(quick(), Faults::default()).await;
    // One GPU at its power cap (reason 0x4), and three idle-clocked ones (0x1).
    let a = dcgm(1, 90.0, 400.0, 1_000.0, 1_500.0, 0x4, 1_000).await;
    let b = dcgm(3, 50.0, 100.0, 2_000.0, 1_000.0, 0x1, 500).await;
    let mut plan = scraped_plan(sim.chat_url(), None);
    plan.config.gpus = [&a, &b]
        .iter()
        .map(|s| llmsweep::config::GpuConfig {
            metrics_url: s.url.replace("/v1/chat/completions", "/metrics"),
        })
        .collect();
    let mut run = Run::start(plan);
    let mut live = Vec::new();
    let events = run
        .until(|e| matches!(e, llmsweep::events::Event::RunFinished { .. }))
        .await;
    for event in &events {
        if let llmsweep::events::Event::ServerSnapshot(s) = event {
            live.push(*s);
        }
    }
    let report = run.report();
    for level in &report.engines[0].levels {
        let server = level.server.as_ref().expect("scraped");
        // 4 GPUs: utilisation and clock weighted by GPU count, power and memory summed.
        assert_eq!(server.mean_gpu_util_pct, Some(60.0));
        assert_eq!(server.mean_gpu_power_w, Some(700.0));
        assert_eq!(server.max_gpu_memory_used_mib, Some(7_000.0));
        assert_eq!(server.mean_sm_clock_mhz, Some(1_125.0));
        // Some GPU was at its power cap between every two scrapes: the whole level.
        let throttled = server.throttled_s.expect("throttle reasons known");
        assert!(
            throttled > 0.0 && throttled <= level.duration + 1.0,
            "{throttled}"
        );
        // Every scrape adds 1 + 3 × 0.5 = 2.5 J across the box.
        let joules = 2.5 * f64::from(server.scrapes - 1);
        let per_token = server.energy_j_per_token.expect("energy");
        assert!(
            (per_token - joules / level.total_output_tokens as f64).abs() < 1e-9,
            "{per_token}"
        );
    }
    // The live view got the engine's gauges while levels ran.
    assert!(!live.is_empty(), "no live server snapshot");
    assert!(live.iter().all(|s| s.running.is_some()));
    assert!(
        live.iter()
            .filter_map(|s| s.server_ttft_mean_ms)
            .all(|ms| ms > 0.5 && ms < 1_000.0),
        "server TTFT on screen is in ms"
    );
    // metrics.jsonl: the normalised fields, each scrape's time into its level, raw values.
    let lines = metrics_lines(&run);
    let engine_lines: Vec<&Value> = lines.iter().filter(|l| l["source"] == "engine").collect();
    assert!(
        lines.iter().any(|l| l["source"] != "engine"),
        "GPU scrapes are logged too"
    );
    assert!(
        engine_lines
            .iter()
            .all(|l| l["fields"]["running"].is_number()),
        "{:?}",
        engine_lines[0]
    );
    assert!(engine_lines
        .iter()
        .any(|l| l["at_s"].as_f64().unwrap() > 0.0));
    let raw = &engine_lines[0]["raw"];
    assert!(
        raw["vllm:num_requests_running"][0]["value"].is_number(),
        "{raw}"
    );
}
