//! The demo pipeline in-process: two simulated engines, a small sweep, every output written,
//! everything labelled simulated, and `report` re-rendering identical CSV and Markdown.

mod common;

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
    let saved: Report =
        serde_json::from_slice(&std::fs::read(outcome.out_dir.join("results.json")).unwrap())
            .unwrap();
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
