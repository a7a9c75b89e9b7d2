//! `run --resume` in-process: a level cut short stays in results.json and requests.jsonl,
//! partial, until its re-run has finished — quitting the resumed run before then loses
//! nothing, and finishing it leaves every request exactly once.

use crate::common;

use std::path::Path;
use std::sync::atomic::AtomicI32;
use std::sync::Arc;

use common::{quick, read_report, read_requests, sim, sweep_plan, GUARD};
use llmsweep::driver::{self, RunOptions, RunOutcome};
use llmsweep::events::{Control, Event};
use llmsweep::results::model::{LevelStatus, Report};
use serde_json::Value;
use tokio::sync::mpsc;

/// Runs `plan` into `dir` (continuing `resume`) to its end; `control` = `(at, lines, what)`
/// sends `what` once the level of index `at` has started and `lines` of its requests are
/// written.
async fn run(
    plan: llmsweep::plan::Plan,
    dir: &Path,
    resume: Option<Report>,
    control: Option<(usize, usize, Control)>,
) -> RunOutcome {
    let (events_tx, mut events) = mpsc::channel(1024);
    let (control_tx, control_rx) = mpsc::channel(16);
    let task = tokio::spawn(driver::run(
        plan,
        RunOptions {
            out_dir: dir.to_path_buf(),
            run_name: "test-run".into(),
            events: events_tx,
            control: control_rx,
            signal: Arc::new(AtomicI32::new(0)),
            resume,
            check: true,
            live: None,
        },
    ));
    let mut sent = control.is_none();
    let mut started = false;
    loop {
        let event = tokio::time::timeout(GUARD, events.recv())
            .await
            .expect("no event in time")
            .expect("bus closed before RunFinished");
        match &event {
            Event::LevelStarted { level_index, .. }
                if Some(*level_index) == control.map(|c| c.0) =>
            {
                started = true;
            }
            Event::RunFinished { .. } => break,
            _ => {}
        }
        if started && !sent {
            let (at, lines, what) = control.expect("a control to send");
            while lines_of(dir, at as u64).len() < lines {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            control_tx.send(what).await.expect("driver gone");
            sent = true;
        }
    }
    task.await.expect("driver panicked").expect("driver failed")
}

fn lines_of(dir: &Path, level_index: u64) -> Vec<Value> {
    let mut lines: Vec<Value> = read_requests(dir)
        .into_iter()
        .filter(|l| l["level_index"] == level_index)
        .collect();
    lines.sort_by_key(|l| l["request_index"].as_u64());
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_level_stays_until_its_rerun_has_finished() {
    let server = sim(quick(), Default::default()).await;
    let plan = || sweep_plan(&[("e", server.chat_url())], &[1, 2], 10, 20);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");

    // Part one: level index 1 is skipped once two of its requests are written.
    run(plan(), &dir, None, Some((1, 2, Control::SkipLevel))).await;
    let saved = read_report(&dir);
    let partial = saved.engines[0].levels[1].clone();
    assert_eq!(partial.status, LevelStatus::Skipped);
    assert!(
        partial.completed >= 2 && partial.completed < 10,
        "{partial:?}"
    );
    let partial_lines = lines_of(&dir, 1);

    // Part two: resumed, and quit as soon as the re-run has started: nothing is lost.
    run(
        plan(),
        &dir,
        Some(saved.clone()),
        Some((1, 0, Control::Abort)),
    )
    .await;
    let quit = read_report(&dir);
    assert_eq!(quit.engines[0].levels[0], saved.engines[0].levels[0]);
    assert_eq!(
        quit.engines[0].levels[1], partial,
        "the saved partial level stays"
    );
    assert_eq!(lines_of(&dir, 1), partial_lines, "and so do its requests");
    assert_eq!(lines_of(&dir, 0).len(), 10);

    // Part three: resumed to the end: the re-run replaces the partial level, once.
    run(plan(), &dir, Some(quit), None).await;
    let done = read_report(&dir);
    let level = &done.engines[0].levels[1];
    assert_eq!((level.status, level.completed), (LevelStatus::Complete, 10));
    let lines = lines_of(&dir, 1);
    let indexes: Vec<u64> = lines
        .iter()
        .map(|l| l["request_index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indexes,
        (0..10).collect::<Vec<_>>(),
        "every request of the re-run, once"
    );
    assert!(lines.iter().all(|l| l["ok"] == true));
    assert_eq!(lines_of(&dir, 0).len(), 10);
    server.shutdown().await;
}

/// A re-run cut short again replaces the saved partial level when it finished more requests
/// than it, results.json and requests.jsonl together (the saved attempt's lines go).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_cut_after_more_requests_than_the_saved_attempt_replaces_it() {
    let server = sim(quick(), Default::default()).await;
    let plan = || sweep_plan(&[("e", server.chat_url())], &[1, 2], 20, 20);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");

    run(plan(), &dir, None, Some((1, 2, Control::SkipLevel))).await;
    let saved = read_report(&dir);
    let partial = saved.engines[0].levels[1].clone();
    let finished = |l: &llmsweep::results::model::LevelSummary| l.completed + l.failed;
    assert_eq!(partial.status, LevelStatus::Skipped);
    let before = finished(&partial);
    assert!((2..=14).contains(&before), "room for more: {partial:?}");

    // Resumed; the re-run is cut once it has finished 4 more requests than the saved
    // attempt. requests.jsonl holds the saved attempt's lines (its cancelled requests too)
    // until then, so the re-run's count starts above them.
    let saved_lines = lines_of(&dir, 1).len();
    let more = before as usize + 4;
    run(
        plan(),
        &dir,
        Some(saved),
        Some((1, saved_lines + more, Control::SkipLevel)),
    )
    .await;
    let report = read_report(&dir);
    let level = &report.engines[0].levels[1];
    assert_eq!(level.status, LevelStatus::Skipped);
    assert!(
        finished(level) >= more as u64,
        "the re-run is kept: {level:?}"
    );
    let lines = lines_of(&dir, 1);
    assert_eq!(
        lines.len() as u64,
        finished(level) + level.cancelled,
        "the kept attempt's lines only"
    );
    let mut indexes: Vec<u64> = lines
        .iter()
        .map(|l| l["request_index"].as_u64().unwrap())
        .collect();
    indexes.dedup();
    assert_eq!(indexes.len(), lines.len(), "no request twice");
    assert_eq!(lines_of(&dir, 0).len(), 20, "the first level untouched");
    server.shutdown().await;
}
