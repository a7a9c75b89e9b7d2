//! `--metrics-listen`: llmsweep's own metrics scraped over HTTP during a simulated run, read
//! back with the same exposition parser llmsweep uses on engines, and compared with what the
//! run's results say.

use crate::common;

use std::process::Command;
use std::sync::Arc;

use common::{quick, sweep_plan, Run};
use llmsweep::events::Event;
use llmsweep::live_metrics::{serve, LiveMetrics};
use llmsweep::server_metrics::exposition::Exposition;
use llmsweep::sim::Faults;

async fn scrape(url: &str) -> (String, String) {
    let response = reqwest::get(url).await.expect("scrape");
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    (kind, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_during_a_run_shows_the_level_in_flight_and_the_counts_add_up() {
    // 40 requests of 20 tokens, 2 ms apart, at C=4: about half a second of level.
    let sim = common::sim(quick(), Faults::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let live = Arc::new(LiveMetrics::new());
    let server = tokio::spawn(serve::run(listener, live.clone(), std::future::pending()));
    let mut plan = sweep_plan(&[("sim-a", sim.chat_url())], &[4], 40, 20);
    // Warmup requests are sent but not counted.
    plan.config.sweep.warmup_requests = 6;
    let mut run = Run::start_live(plan, false, Some(live));
    // Mid-level: once a snapshot says requests are in flight.
    run.until(|e| matches!(e, Event::Snapshot(s) if s.in_flight > 0 && s.completed > 0))
        .await;
    let (kind, text) = scrape(&url).await;
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    let mid = Exposition::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(
        text.contains("llmsweep_level{engine=\"sim-a\"} 4\n"),
        "{text}"
    );
    let in_flight = mid.sum("llmsweep_requests_in_flight").unwrap();
    assert!((1.0..=4.0).contains(&in_flight), "{in_flight}\n{text}");
    assert!(
        text.contains("llmsweep_run_info{run=\"test-run\""),
        "{text}"
    );

    let (_, outcome) = run.finish().await;
    let level = &outcome.report.engines[0].levels[0];
    let (_, text) = scrape(&url).await;
    let end = Exposition::parse(&text).unwrap();
    assert_eq!(
        end.sum("llmsweep_requests_completed_total"),
        Some(level.completed as f64)
    );
    assert_eq!(level.completed, 40);
    assert_eq!(
        end.sum("llmsweep_output_tokens_total"),
        Some(level.total_output_tokens as f64)
    );
    assert_eq!(end.sum("llmsweep_requests_failed_total"), Some(0.0));
    assert!(text.contains("llmsweep_ttft_seconds_count{engine=\"sim-a\",level=\"4\"} 40\n"));
    assert!(
        text.contains("llmsweep_itl_seconds_count{engine=\"sim-a\",level=\"4\"} 760\n"),
        "19 gaps × 40 requests\n{text}"
    );
    // Between levels (here: after the last) nothing is in flight and no level runs.
    assert!(
        text.contains("llmsweep_level{engine=\"sim-a\"} 0\n"),
        "{text}"
    );
    assert_eq!(end.sum("llmsweep_requests_in_flight"), Some(0.0));
    // Anything but /metrics is not found.
    let other = reqwest::get(url.replace("/metrics", "/")).await.unwrap();
    assert_eq!(other.status(), 404);
    server.abort();
}

#[test]
fn an_address_it_cannot_bind_is_one_line_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(common::binary::BIN)
        .args(["demo", "--headless", "--metrics-listen", "not-an-address"])
        .args(["--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: --metrics-listen not-an-address: cannot listen"),
        "{err}"
    );
}
