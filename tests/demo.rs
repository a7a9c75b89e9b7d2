//! The demo pipeline in-process: two simulated engines, a small sweep, every output written,
//! everything labelled simulated, and `report` re-rendering identical CSV and Markdown.

use crate::common;

use llmsweep::report::{run_report_command, ExportOptions};
use llmsweep::results::model::{Report, RunStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_sweep_writes_everything_and_report_rerenders_identically() {
    let overrides = [
        ("sweep.levels", "1,4"),
        ("sweep.requests_per_level", "8"),
        ("request.max_tokens", "8"),
    ];
    let (plan, servers) = llmsweep::demo::start(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .await
    .unwrap();
    let mut run = common::Run::start(plan);
    let (_, outcome) = run.finish().await;
    for server in servers {
        server.shutdown().await;
    }

    let report = &outcome.report;
    assert_eq!(report.status, RunStatus::Complete);
    assert!(report.simulated);
    // The demo's engines pass their own preflight: a first run shows no "fix your config".
    assert!(
        !report.warnings.iter().any(|w| w.contains("preflight")),
        "{:?}",
        report.warnings
    );
    assert!(report
        .engines
        .iter()
        .all(|e| e.simulated && e.levels.len() == 2));
    assert!(report
        .engines
        .iter()
        .flat_map(|e| &e.levels)
        .all(|l| l.completed == 8 && l.failed == 0));
    for file in [
        "results.json",
        "requests.jsonl",
        "chart.png",
        "levels.csv",
        "summary.md",
    ] {
        assert!(outcome.out_dir.join(file).is_file(), "{file} missing");
    }
    let saved: Report = common::read_report(&outcome.out_dir);
    assert_eq!(&saved, report.as_ref());
    let lines = std::fs::read_to_string(outcome.out_dir.join("requests.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, 2 * 2 * 8);
    assert!(std::fs::read_to_string(outcome.out_dir.join("summary.md"))
        .unwrap()
        .contains("SIMULATED"));

    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("again");
    run_report_command(
        &[outcome.out_dir.join("results.json")],
        Some(&again),
        &ExportOptions::default(),
    )
    .unwrap();
    for file in ["levels.csv", "summary.md"] {
        assert_eq!(
            std::fs::read(outcome.out_dir.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
            "{file} differs after re-rendering"
        );
    }
}

/// The README's demo claim, measured by the real demo plan (its engines, levels 1–32, 48
/// requests of 48 tokens a level) on tokio's paused clock, so the shape is the simulator's
/// model, not this machine's load: `fast-prefill` is fast alone but saturates early (output
/// throughput flat from C=8, median TTFT climbing from C=16), `big-batch` keeps scaling.
#[tokio::test(start_paused = true)]
async fn demo_fast_prefill_saturates_early_and_big_batch_scales() {
    let (plan, servers) = llmsweep::demo::start(Vec::new()).await.unwrap();
    assert_eq!(plan.config.sweep.levels.len(), 6);
    let mut run = common::Run::start(plan);
    let (_, outcome) = run.finish().await;
    for server in servers {
        server.shutdown().await;
    }
    let report = &outcome.report;
    assert_eq!(report.status, RunStatus::Complete);
    let engine = |name: &str| {
        let e = report.engines.iter().find(|e| e.name == name).unwrap();
        let levels: Vec<f64> = e.levels.iter().map(|l| l.level).collect();
        assert_eq!(levels, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0], "{name}");
        assert!(e.levels.iter().all(|l| l.failed == 0), "{name}");
        let tok_s: Vec<f64> = e.levels.iter().map(|l| l.output_throughput).collect();
        let ttft: Vec<f64> = e.levels.iter().map(|l| l.median_ttft_ms.unwrap()).collect();
        (tok_s, ttft)
    };
    let (fast_tok, fast_ttft) = engine("sim fast-prefill");
    let (big_tok, big_ttft) = engine("sim big-batch");
    let shape = format!(
        "fast-prefill tok/s {fast_tok:.0?} TTFT {fast_ttft:.1?}; \
         big-batch tok/s {big_tok:.0?} TTFT {big_ttft:.1?}"
    );
    eprintln!("{shape}");
    // Alone, fast-prefill is the faster engine.
    assert!(fast_tok[0] > 1.2 * big_tok[0], "{shape}");
    assert!(fast_ttft[0] < big_ttft[0], "{shape}");
    // fast-prefill: throughput rises to C=8, then stays flat (its batch holds 8) ...
    assert!(fast_tok[3] > 1.5 * fast_tok[1], "{shape}");
    for c in [4, 5] {
        let ratio = fast_tok[c] / fast_tok[3];
        assert!(
            (0.9..1.1).contains(&ratio),
            "C={}: {ratio:.2}; {shape}",
            1 << c
        );
    }
    // ... while requests queue: the median TTFT climbs from C=16 on.
    assert!(fast_ttft[4] > 2.0 * fast_ttft[3], "{shape}");
    assert!(fast_ttft[5] > 1.5 * fast_ttft[4], "{shape}");
    // big-batch: throughput rises at every level, and wins clearly at C=32.
    for c in 1..6 {
        assert!(big_tok[c] > 1.2 * big_tok[c - 1], "C={}: {shape}", 1 << c);
    }
    assert!(big_tok[5] > 1.5 * fast_tok[5], "{shape}");
}
