//! Acceptance of the sweep driver, run in-process against simulators on 127.0.0.1: event
//! order, results files, concurrency, pause, skip, abort, failed levels and signals.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use llmsweep::events::{Control, Event, RunState};
use llmsweep::results::model::{LevelStatus, LevelSummary, Report, RunStatus};
use llmsweep::sim::{Faults, SimServer};
use serde_json::Value;
use tokio::time::Instant;

async fn quick_sim() -> SimServer {
    sim(quick(), Faults::default()).await
}

/// Kinds of the lifecycle events: snapshots left out, and the read-granular ITL warning (a
/// loaded test machine reading two of the simulator's 2 ms chunks at once; `metrics::checks`
/// tests it); a preflight warning as `Preflight(<check>)`.
fn lifecycle(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| !matches!(e, Event::Snapshot(_) | Event::ServerSnapshot(_)))
        .filter(|e| {
            !matches!(e, Event::Warning { text, .. } if text.ends_with("ITL percentiles are read-granular"))
        })
        .map(|e| match e {
            Event::Warning { text, .. } if text.starts_with("preflight: ") => {
                let check = text["preflight: ".len()..].split(':').next().unwrap_or("");
                format!("Preflight({check})")
            }
            other => kind(other),
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Polls `requests.jsonl` until it has at least `n` lines.
async fn wait_lines(run: &Run, n: usize) {
    let deadline = Instant::now() + GUARD;
    while run.requests().len() < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} requests finished"
        );
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// requests.jsonl lines grouped by (engine, level), in request order.
fn by_level(lines: &[Value]) -> BTreeMap<(String, u64), Vec<Value>> {
    let mut groups: BTreeMap<(String, u64), Vec<Value>> = BTreeMap::new();
    for line in lines {
        let key = (
            line["engine"].as_str().expect("engine").to_string(),
            line["level"].as_f64().expect("level") as u64,
        );
        groups.entry(key).or_default().push(line.clone());
    }
    for group in groups.values_mut() {
        group.sort_by_key(|l| l["request_index"].as_u64());
    }
    groups
}

/// Every request line is counted in its level's summary, and every counted request has a line.
fn assert_lines_match_summaries(report: &Report, lines: &[Value]) {
    let groups = by_level(lines);
    let mut counted = 0;
    for engine in &report.engines {
        for level in &engine.levels {
            let key = (engine.name.clone(), level.level as u64);
            let group = groups.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let ok = group.iter().filter(|l| l["ok"] == true).count() as u64;
            let cancelled = group
                .iter()
                .filter(|l| l["error_class"] == "cancelled")
                .count() as u64;
            let failed = group.len() as u64 - ok - cancelled;
            assert_eq!(
                (ok, failed, cancelled),
                (level.completed, level.failed, level.cancelled),
                "{key:?}"
            );
            counted += group.len();
        }
    }
    assert_eq!(counted, lines.len(), "lines outside any reported level");
}

fn assert_exports(run: &Run) {
    for file in ["results.json", "chart.png", "levels.csv", "summary.md"] {
        let meta = std::fs::metadata(run.out_dir.join(file))
            .unwrap_or_else(|e| panic!("{file} missing: {e}"));
        assert!(meta.len() > 0, "{file} is empty");
    }
}

fn level_of(report: &Report, engine: usize, index: usize) -> &LevelSummary {
    &report.engines[engine].levels[index]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_two_engines_two_levels() {
    let (a, b) = (quick_sim().await, quick_sim().await);
    let mut plan = sweep_plan(
        &[("alpha", a.chat_url()), ("beta", b.chat_url())],
        &[1, 2],
        6,
        5,
    );
    // Not scraped: the simulator's /metrics would add a client-added-TTFT warning whenever
    // a loaded machine slows the client by more than 5 ms (tests/server_scrape.rs covers
    // scraping).
    for engine in &mut plan.config.engines {
        engine.metrics = false;
    }
    // Nor the host sampled: a busy machine warns about itself (tests/host.rs covers it).
    plan.config.host.sample = false;
    let mut run = Run::start(plan);
    let (events, outcome) = run.finish().await;

    // Event order.
    assert_eq!(
        lifecycle(&events),
        strs(&[
            "RunStarted",
            "State(Running)",
            // Each engine's preflight, before its first level: nothing to warn about.
            "LevelStarted(0,0)",
            "LevelFinished(0,0)",
            "LevelStarted(0,1)",
            "LevelFinished(0,1)",
            "LevelStarted(1,0)",
            "LevelFinished(1,0)",
            "LevelStarted(1,1)",
            "LevelFinished(1,1)",
            "State(Finished)",
            "RunFinished",
        ])
    );
    // Snapshots only inside their own level.
    let mut current = None;
    for event in &events {
        match event {
            Event::LevelStarted {
                engine,
                level_index,
                planned,
                ..
            } => {
                assert_eq!(*planned, 6);
                current = Some((*engine, *level_index));
            }
            Event::LevelFinished { .. } => current = None,
            Event::Snapshot(s) => {
                assert_eq!(Some((s.engine, s.level_index)), current, "{s:?}");
                assert!(s.completed + s.failed <= 6, "{s:?}");
            }
            _ => {}
        }
    }

    // results.json: every engine × level, complete.
    let report = run.report();
    assert_eq!(report.status, RunStatus::Complete);
    assert!(report.finished_at.is_some());
    assert!(!report.simulated);
    assert_eq!(report.workload.levels, vec![1.0, 2.0]);
    assert_eq!(report.engines.len(), 2);
    for engine in &report.engines {
        assert!(!engine.simulated);
        assert!(
            engine.levels.iter().all(|l| l.host.is_none()),
            "[host] sample = false: no host report"
        );
        assert_eq!(engine.skipped_reason, None);
        assert_eq!(engine.levels.len(), 2, "{}", engine.name);
        for (level, expected) in engine.levels.iter().zip([1.0, 2.0]) {
            assert_eq!(level.level, expected);
            assert_eq!(level.status, LevelStatus::Complete);
            assert_eq!(
                (level.completed, level.failed, level.cancelled),
                (6, 0, 0),
                "{}",
                engine.name
            );
            assert_eq!(level.total_output_tokens, 30);
            assert!(!level.output_tokens_estimated);
            assert_eq!(level.error_rate, 0.0);
            assert!(level.errors.is_empty());
            assert!(level.duration > 0.0);
            assert!(level.request_throughput > 0.0);
            // quick(): TTFT ≈ 4 ms, E2E ≈ 12 ms for 5 tokens; timings can only be late.
            assert!(level.mean_ttft_ms >= Some(3.5), "{:?}", level.mean_ttft_ms);
            assert!(level.mean_e2el_ms >= level.mean_ttft_ms);
        }
    }
    // The outcome is what was written.
    assert_eq!(*outcome.report, report);
    assert_eq!(outcome.signal, None);
    assert_eq!(outcome.out_dir, run.out_dir);
    assert_exports(&run);

    // requests.jsonl: one line per measured request, same prompt sequence for both engines.
    let lines = run.requests();
    assert_eq!(lines.len(), 2 * 2 * 6);
    assert!(lines.iter().all(|l| l["ok"] == true));
    assert_lines_match_summaries(&report, &lines);
    let groups = by_level(&lines);
    for level in [1, 2] {
        let prompts = |engine: &str| -> Vec<u64> {
            let group = &groups[&(engine.to_string(), level)];
            let indices: Vec<u64> = group
                .iter()
                .map(|l| l["request_index"].as_u64().expect("request_index"))
                .collect();
            assert_eq!(
                indices,
                (0..6).collect::<Vec<_>>(),
                "{engine} level {level}"
            );
            group
                .iter()
                .map(|l| l["prompt_index"].as_u64().expect("prompt_index"))
                .collect()
        };
        assert_eq!(prompts("alpha"), prompts("beta"), "level {level}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_never_sees_more_than_the_level_in_flight() {
    let server = counting_server(4, Duration::from_millis(10)).await;
    let levels = [1u32, 2, 4];
    let per_level = 8;
    let mut run = Run::start(sweep_plan(
        &[("counted", server.url.clone())],
        &levels,
        per_level,
        4,
    ));
    let (events, _) = run.finish().await;

    // Levels run one after the other, so arrivals [8k, 8k + 8) after the probe belong to
    // level k.
    let arrivals = server
        .in_flight_at_arrival
        .lock()
        .expect("arrivals")
        .clone();
    // The preflight's probe came first, alone.
    assert_eq!(arrivals.len(), 1 + levels.len() * per_level as usize);
    assert_eq!(arrivals[0], 1);
    let arrivals = &arrivals[1..];
    for (k, &level) in levels.iter().enumerate() {
        let group = &arrivals[k * per_level as usize..(k + 1) * per_level as usize];
        let max = group.iter().copied().max().unwrap_or(0);
        assert!(max <= level as usize, "level {level}: {group:?}");
        assert_eq!(
            max, level as usize,
            "level {level} never reached: {group:?}"
        );
    }
    for event in &events {
        if let Event::Snapshot(s) = event {
            assert!(s.in_flight <= levels[s.level_index], "{s:?}");
        }
    }
    let report = run.report();
    for (level, expected) in report.engines[0].levels.iter().zip(levels) {
        assert_eq!(level.max_concurrency, expected);
        assert_eq!(level.completed, per_level);
    }
}

/// The dashboard's space key sends `TogglePause`: the first press pauses, the second
/// resumes, and the level then finishes every request.
#[tokio::test(start_paused = true)]
async fn the_pause_key_pauses_then_resumes() {
    let sim = quick_sim().await;
    let mut run = Run::start(sweep_plan(&[("e", sim.chat_url())], &[1], 12, 8));
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    wait_lines(&run, 2).await;
    run.send(Control::TogglePause).await;
    run.until(|e| matches!(e, Event::State(RunState::Paused)))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paused = run.requests().len();
    assert!(paused < 12, "paused before the level's end");
    run.send(Control::TogglePause).await;
    run.until(|e| matches!(e, Event::State(RunState::Running)))
        .await;
    let (_, outcome) = run.finish().await;
    assert_eq!(outcome.report.engines[0].levels[0].completed, 12);
}

/// On tokio's paused clock (the simulator and the driver both keep `tokio::time`), so every
/// duration below is exact.
#[tokio::test(start_paused = true)]
async fn pause_stops_new_requests_and_only_idle_paused_time_leaves_the_duration() {
    let sim = quick_sim().await;
    // Level 1, 12 requests of 2 + 2 × 8 = 18 ms each.
    let mut run = Run::start(sweep_plan(&[("e", sim.chat_url())], &[1], 12, 8));
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    let level_started = Instant::now();
    wait_lines(&run, 3).await;

    run.send(Control::Pause).await;
    run.until(|e| matches!(e, Event::State(RunState::Paused)))
        .await;
    let paused_at = Instant::now();
    // The one in-flight request finishes (within 18 ms); then nothing more.
    tokio::time::sleep(Duration::from_millis(80)).await;
    let settled = run.requests().len();
    tokio::time::sleep(Duration::from_millis(920)).await;
    let later = run.requests().len();
    assert_eq!(settled, later, "requests finished while paused");
    assert!(later < 12, "the level ended before the pause took effect");
    // Snapshots taken while paused show nothing in flight and no progress.
    let mut during = Vec::new();
    while let Ok(event) = run.events.try_recv() {
        during.push(event);
    }
    assert!(
        !during
            .iter()
            .any(|e| matches!(e, Event::LevelFinished { .. })),
        "{:?}",
        lifecycle(&during)
    );
    let snapshots: Vec<_> = during
        .iter()
        .filter_map(|e| match e {
            Event::Snapshot(s) => Some(*s),
            _ => None,
        })
        .collect();
    let last = snapshots.last().expect("no snapshot while paused");
    assert_eq!(last.in_flight, 0, "{last:?}");
    assert_eq!(last.completed as usize, later, "{last:?}");
    // The level's clock stopped when the last in-flight request ended, not at the key press.
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pause_ms = ms(paused_at - level_started);
    let drained_ms = run
        .requests()
        .iter()
        .filter(|l| l["sent_at_ms"].as_f64().unwrap() <= pause_ms)
        .map(|l| l["sent_at_ms"].as_f64().unwrap() + l["e2el_ms"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let resumed_ms = ms(level_started.elapsed());

    run.send(Control::Resume).await;
    run.until(|e| matches!(e, Event::State(RunState::Running)))
        .await;
    let rest = run
        .until(|e| matches!(e, Event::LevelFinished { .. }))
        .await;
    let wall_ms = ms(level_started.elapsed());
    let Some(Event::LevelFinished { summary, .. }) = rest.last() else {
        unreachable!()
    };
    assert_eq!(summary.status, LevelStatus::Complete);
    assert_eq!(summary.completed, 12);
    // Duration = wall time minus exactly the idle pause (rounding: results keep µs).
    let excluded_ms = wall_ms - summary.duration * 1e3;
    assert!(
        (excluded_ms - (resumed_ms - drained_ms)).abs() < 0.01,
        "excluded {excluded_ms} ms; paused idle from {drained_ms} to {resumed_ms} ms"
    );
    // At C=1 the active time is the requests' own time, back to back.
    let busy_ms: f64 = run
        .requests()
        .iter()
        .map(|l| l["e2el_ms"].as_f64().unwrap())
        .sum();
    assert!(
        (summary.duration * 1e3 - busy_ms).abs() < 0.01,
        "duration {} ms, requests {busy_ms} ms",
        summary.duration * 1e3
    );
    let (_, outcome) = run.finish().await;
    assert_eq!(outcome.report.status, RunStatus::Complete);
    assert_eq!(run.requests().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_level_keeps_the_partial_level_and_runs_the_next() {
    let sim = quick_sim().await;
    // Level 2 first, so requests are surely in flight when the skip lands.
    let mut run = Run::start(sweep_plan(&[("e", sim.chat_url())], &[2, 1], 10, 20));
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    wait_lines(&run, 2).await;
    run.send(Control::SkipLevel).await;
    let (events, outcome) = run.finish().await;

    let kinds = lifecycle(&events);
    let skipping = kinds.iter().position(|k| k == "State(Skipping)");
    let finished0 = kinds.iter().position(|k| k == "LevelFinished(0,0)");
    let started1 = kinds.iter().position(|k| k == "LevelStarted(0,1)");
    assert!(
        skipping < finished0 && finished0 < started1 && skipping.is_some(),
        "{kinds:?}"
    );

    let report = run.report();
    assert_eq!(report.status, RunStatus::Complete);
    assert_eq!(*outcome.report, report);
    let skipped = level_of(&report, 0, 0);
    assert_eq!(skipped.status, LevelStatus::Skipped);
    assert!(skipped.cancelled >= 1, "{skipped:?}");
    assert_eq!(skipped.failed, 0, "{skipped:?}");
    assert!(skipped.errors.is_empty(), "{:?}", skipped.errors);
    assert_eq!(skipped.error_rate, 0.0);
    assert!(skipped.completed >= 2 && skipped.completed + skipped.cancelled < 10);
    let next = level_of(&report, 0, 1);
    assert_eq!(next.status, LevelStatus::Complete);
    assert_eq!(next.completed, 10);
    assert_lines_match_summaries(&report, &run.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_engine_skips_its_remaining_levels_and_moves_on() {
    let (a, b) = (quick_sim().await, quick_sim().await);
    let mut run = Run::start(sweep_plan(
        &[("first", a.chat_url()), ("second", b.chat_url())],
        &[2, 1, 3],
        6,
        20,
    ));
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    wait_lines(&run, 1).await;
    run.send(Control::SkipEngine).await;
    let (events, _) = run.finish().await;

    let kinds = lifecycle(&events);
    assert!(!kinds.iter().any(|k| k == "LevelStarted(0,1)"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "LevelFinished(1,2)"), "{kinds:?}");
    let report = run.report();
    assert_eq!(report.status, RunStatus::Complete);
    let first = &report.engines[0];
    assert_eq!(first.levels.len(), 1);
    assert_eq!(first.levels[0].status, LevelStatus::Skipped);
    assert_eq!(first.levels[0].failed, 0);
    assert!(first.skipped_reason.is_some());
    let second = &report.engines[1];
    assert_eq!(second.skipped_reason, None);
    assert_eq!(second.levels.len(), 3);
    assert!(second
        .levels
        .iter()
        .all(|l| l.status == LevelStatus::Complete && l.completed == 6));
    assert_lines_match_summaries(&report, &run.requests());
}

/// A key pressed while no level runs (here: before the first, on a single-threaded runtime
/// where the driver has not yet started) is applied before the next level starts: an engine
/// skipped there starts none of its levels, rather than starting one to cancel it.
#[tokio::test]
async fn an_engine_skipped_between_levels_starts_none_of_them() {
    let (a, b) = (quick_sim().await, quick_sim().await);
    let mut run = Run::start_no_check(sweep_plan(
        &[("first", a.chat_url()), ("second", b.chat_url())],
        &[1, 2],
        4,
        5,
    ));
    run.send(Control::SkipEngine).await;
    let (events, _) = run.finish().await;

    let kinds = lifecycle(&events);
    assert!(
        !kinds.iter().any(|k| k.starts_with("LevelStarted(0,")),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "LevelFinished(1,1)"), "{kinds:?}");
    let report = run.report();
    assert_eq!(
        report.engines[0].skipped_reason.as_deref(),
        Some("skipped by the user")
    );
    assert!(
        report.engines[0].levels.is_empty(),
        "{:?}",
        report.engines[0].levels
    );
    assert_eq!(report.engines[1].levels.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_ends_promptly_and_writes_everything_measured() {
    let (a, b) = (quick_sim().await, quick_sim().await);
    let mut run = Run::start(sweep_plan(
        &[("first", a.chat_url()), ("second", b.chat_url())],
        &[1, 2],
        10,
        20,
    ));
    run.until(|e| matches!(e, Event::LevelStarted { level_index: 1, .. }))
        .await;
    wait_lines(&run, 12).await;
    run.send(Control::Abort).await;
    let aborted_at = Instant::now();
    let (events, outcome) = run.finish().await;
    let took = aborted_at.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "RunFinished {took:?} after Abort"
    );

    let kinds = lifecycle(&events);
    assert!(kinds.contains(&"State(Stopping)".to_string()), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("RunFinished"));
    assert!(
        !kinds.iter().any(|k| k.starts_with("LevelStarted(1")),
        "{kinds:?}"
    );

    let report = run.report();
    assert_eq!(report.status, RunStatus::Aborted);
    assert_eq!(*outcome.report, report);
    assert_eq!(outcome.signal, None);
    assert!(report.finished_at.is_some());
    let first = &report.engines[0];
    assert_eq!(first.levels.len(), 2);
    assert_eq!(first.levels[0].status, LevelStatus::Complete);
    assert_eq!(first.levels[0].completed, 10);
    assert_eq!(first.levels[1].status, LevelStatus::Skipped);
    assert_eq!(first.levels[1].failed, 0);
    assert!(report.engines[1].levels.is_empty());
    assert_eq!(
        report.engines[1].skipped_reason.as_deref(),
        Some("not run: the run was quit")
    );
    let lines = run.requests();
    assert!(lines.len() >= 12);
    assert_lines_match_summaries(&report, &lines);
    assert_exports(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_where_every_request_fails_is_failed_never_fast() {
    let bad = sim(
        quick(),
        Faults {
            error_rate: 1.0,
            error_status: 503,
            ..Faults::default()
        },
    )
    .await;
    let good = quick_sim().await;
    let mut plan = sweep_plan(
        &[("bad", bad.chat_url()), ("good", good.chat_url())],
        &[2],
        6,
        5,
    );
    plan.engines[1].simulated = true;
    // Without the preflight, whose probe would meet the 503 and skip the engine unswept.
    let mut run = Run::start_no_check(plan);
    let (_, outcome) = run.finish().await;

    let report = run.report();
    assert_eq!(*outcome.report, report);
    assert!(report.simulated, "an engine was marked simulated");
    assert!(!report.engines[0].simulated && report.engines[1].simulated);
    let failed = level_of(&report, 0, 0);
    assert_eq!(failed.status, LevelStatus::Failed);
    assert_eq!((failed.completed, failed.failed), (0, 6));
    assert_eq!(failed.error_rate, 1.0);
    assert_eq!(
        failed.errors,
        BTreeMap::from([("http_status".to_string(), 6)])
    );
    assert!(failed.error_examples["http_status"].contains("503"));
    assert_eq!(failed.request_throughput, 0.0);
    assert_eq!(failed.output_throughput, 0.0);
    assert_eq!(failed.total_token_throughput, 0.0);
    // No success: no latency at all, never a 0 ms that would look fast.
    assert_eq!(failed.mean_ttft_ms, None);
    assert_eq!(failed.p99_e2el_ms, None);
    let ok = level_of(&report, 1, 0);
    assert_eq!(ok.status, LevelStatus::Complete);
    assert!(ok.request_throughput > failed.request_throughput);
    assert!(ok.output_throughput > failed.output_throughput);

    let lines = run.requests();
    assert_lines_match_summaries(&report, &lines);
    let statuses: BTreeSet<(String, u64)> = lines
        .iter()
        .filter(|l| l["engine"] == "bad")
        .map(|l| {
            (
                l["error_class"].as_str().unwrap_or("").to_string(),
                l["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(statuses, BTreeSet::from([("http_status".to_string(), 503)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_then_abort_is_interrupted() {
    let sim = quick_sim().await;
    let mut run = Run::start(sweep_plan(&[("e", sim.chat_url())], &[1, 2], 50, 20));
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    wait_lines(&run, 1).await;
    run.signal.store(15, Ordering::SeqCst);
    run.send(Control::Abort).await;
    let (_, outcome) = run.finish().await;

    assert_eq!(outcome.signal, Some(15));
    assert_eq!(outcome.report.status, RunStatus::Interrupted);
    let report = run.report();
    assert_eq!(report.status, RunStatus::Interrupted);
    assert_eq!(report.engines[0].levels.len(), 1);
    assert_eq!(report.engines[0].levels[0].status, LevelStatus::Skipped);
    assert_lines_match_summaries(&report, &run.requests());
    assert_exports(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_requests_are_sent_but_not_measured() {
    let server = counting_server(2, Duration::from_millis(2)).await;
    let mut plan = sweep_plan(&[("e", server.url.clone())], &[1, 2], 4, 2);
    plan.config.sweep.warmup_requests = 3;
    plan.workload.warmup_requests = 3;
    let mut run = Run::start(plan);
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    // The measured phase starts only once the warmup is done.
    assert!(server.in_flight_at_arrival.lock().expect("arrivals").len() >= 3);
    let (_, outcome) = run.finish().await;
    assert_eq!(outcome.report.status, RunStatus::Complete);
    // The preflight's probe, then each level's warmup and measured requests.
    assert_eq!(
        server.in_flight_at_arrival.lock().expect("arrivals").len(),
        1 + 2 * (3 + 4)
    );
    let lines = run.requests();
    assert_eq!(lines.len(), 2 * 4);
    assert_lines_match_summaries(&outcome.report, &lines);
    for level in &outcome.report.engines[0].levels {
        assert_eq!((level.completed, level.status), (4, LevelStatus::Complete));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warmup_by_time_runs_for_warmup_s_then_the_level() {
    // Requests of ~20 ms (10 tokens 2 ms apart) at C=1: 0.3 s of warmup is ~15 of them.
    let server = counting_server(10, Duration::from_millis(2)).await;
    let mut plan = sweep_plan(&[("e", server.url.clone())], &[1], 4, 10);
    plan.config.sweep.warmup_s = Some(0.3);
    let started = Instant::now();
    let mut run = Run::start(plan);
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    let warmed = started.elapsed();
    let sent = server.in_flight_at_arrival.lock().expect("arrivals").len();
    assert!(warmed >= Duration::from_millis(300), "{warmed:?}");
    // The preflight's probe, then at least a few warmup requests.
    assert!(sent > 5, "{sent} requests before the level");
    let (_, outcome) = run.finish().await;
    assert_eq!(run.requests().len(), 4, "warmup requests are not recorded");
    assert_eq!(outcome.report.engines[0].levels[0].completed, 4);
    // Four measured requests after the warmup's; the first of them may have arrived before
    // `sent` was read (the level goes on as soon as it announces itself).
    let total = server.in_flight_at_arrival.lock().expect("arrivals").len();
    assert!(
        (sent + 3..=sent + 4).contains(&total),
        "{sent} then {total}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_during_warmup_stops_without_resuming() {
    let server = counting_server(20, Duration::from_millis(5)).await;
    let mut plan = sweep_plan(&[("e", server.url.clone())], &[1, 2], 4, 20);
    plan.config.sweep.warmup_requests = 50;
    plan.workload.warmup_requests = 50;
    let mut run = Run::start(plan);
    run.until(|e| matches!(e, Event::State(RunState::Running)))
        .await;
    let deadline = Instant::now() + GUARD;
    while server.in_flight_at_arrival.lock().expect("arrivals").len() < 2 {
        assert!(Instant::now() < deadline, "warmup never started");
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    run.send(Control::Abort).await;
    let (events, outcome) = run.finish().await;
    let kinds = lifecycle(&events);
    assert_eq!(
        kinds,
        strs(&[
            // The counting server has no /v1/models and no /metrics.
            "Preflight(model)",
            "Preflight(metrics)",
            "State(Stopping)",
            "LevelFinished(0,0)",
            "State(Finished)",
            "RunFinished"
        ]),
        "nothing may claim the run is running again after a quit"
    );
    assert_eq!(outcome.report.status, RunStatus::Aborted);
    // The level cut in its warmup leaves a trace, with nothing measured.
    let levels = &outcome.report.engines[0].levels;
    assert_eq!(levels.len(), 1);
    assert_eq!(levels[0].status, LevelStatus::Skipped);
    assert_eq!(
        levels[0].skipped_reason.as_deref(),
        Some("skipped during warmup")
    );
    assert_eq!(levels[0].completed + levels[0].failed, 0);
    // It is still the level it was: its value and concurrency.
    assert_eq!((levels[0].level, levels[0].max_concurrency), (1.0, 1));
    assert!(
        run.requests().is_empty(),
        "warmup requests are not recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_join_the_engine_timing_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("timing.jsonl");
    let server = llmsweep::sim::spawn(llmsweep::sim::SimConfig {
        profile: quick(),
        faults: Faults::default(),
        seed: 1,
        timing_log: Some(log.clone()),
    })
    .await
    .expect("sim");
    let mut plan = sweep_plan(&[("e", server.chat_url())], &[1, 2], 4, 3);
    plan.config.sweep.warmup_requests = 2;
    plan.workload.warmup_requests = 2;
    let mut run = Run::start(plan);
    let (_, outcome) = run.finish().await;
    assert_eq!(outcome.report.status, RunStatus::Complete);
    server.shutdown().await;

    // The simulator's side: every streamed request, warmup included, keyed by X-Request-Id.
    let mut role_first = 0;
    let server_ttft_us: BTreeMap<String, u64> = std::fs::read_to_string(&log)
        .expect("timing log")
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("timing line");
            let id = v["request_id"].as_str().expect("request_id").to_string();
            let ttft = v["server_ttft_us"].as_u64().expect("server_ttft_us");
            // The role chunk is handed over before the first token (by the prefill's 2 ms,
            // unless hyper pulled both late, as on a loaded box).
            let first = v["server_first_chunk_us"].as_u64().expect("first chunk");
            assert!(
                first <= ttft,
                "{id}: role at {first} us, token at {ttft} us"
            );
            role_first += usize::from(first < ttft);
            (id, ttft)
        })
        .collect();
    assert!(role_first > 0, "no role chunk went before its first token");
    // The preflight's probe went too, under its own id; it is in no level.
    assert_eq!(server_ttft_us.len(), 1 + 2 * (2 + 4), "{server_ttft_us:?}");
    assert!(server_ttft_us.contains_key("test-run-e0-preflight"));
    let warmups = server_ttft_us.keys().filter(|id| id.contains("-warmup-"));
    assert_eq!(warmups.count(), 2 * 2);

    let lines = run.requests();
    assert_eq!(lines.len(), 2 * 4);
    let mut seen = BTreeSet::new();
    for line in &lines {
        let id = line["request_id"]
            .as_str()
            .expect("request_id in requests.jsonl");
        let level_index = line["level_index"].as_u64().expect("level_index");
        let index = line["request_index"].as_u64().expect("request_index");
        assert_eq!(
            id,
            format!("{}-e0-l{level_index}-{index}", outcome.report.run_name)
        );
        assert!(seen.insert(id.to_string()), "duplicate id {id}");
        // The engine's own time to first token is part of what the client measured.
        let server_ms = server_ttft_us[id] as f64 / 1e3;
        let client_ms = line["ttft_ms"].as_f64().expect("ttft_ms");
        assert!(
            server_ms > 0.0 && server_ms <= client_ms + 0.001,
            "{id}: server {server_ms} ms, client {client_ms} ms"
        );
    }
}

/// results.json is rewritten after every level, not only at the end: read as each level's
/// `LevelFinished` arrives (the driver writes before it tells the front ends, and on this
/// single-threaded runtime the next level cannot finish before the read), it holds exactly the
/// levels finished so far, with their counts, and says the run is still going.
/// (Kills the mutation "drop the results.json write after each level".)
#[tokio::test]
async fn results_json_is_rewritten_after_every_level() {
    let (a, b) = (quick_sim().await, quick_sim().await);
    let plan = sweep_plan(
        &[("alpha", a.chat_url()), ("beta", b.chat_url())],
        &[1, 2],
        6,
        5,
    );
    let mut run = Run::start(plan);
    let mut finished: Vec<(usize, LevelSummary)> = Vec::new();
    loop {
        match run.next().await {
            Event::LevelFinished {
                engine, summary, ..
            } => {
                finished.push((engine, (*summary).clone()));
                let saved = run.report();
                // (After the last level the final write may already have followed.)
                if finished.len() < 4 {
                    assert_eq!(
                        saved.status,
                        RunStatus::Running,
                        "after {} levels",
                        finished.len()
                    );
                }
                let on_disk: Vec<(usize, f64, u64)> = saved
                    .engines
                    .iter()
                    .enumerate()
                    .flat_map(|(i, e)| e.levels.iter().map(move |l| (i, l.level, l.completed)))
                    .collect();
                let so_far: Vec<(usize, f64, u64)> = finished
                    .iter()
                    .map(|(i, l)| (*i, l.level, l.completed))
                    .collect();
                assert_eq!(
                    on_disk,
                    so_far,
                    "results.json after {} levels",
                    finished.len()
                );
            }
            Event::RunFinished { .. } => break,
            _ => {}
        }
    }
    assert_eq!(finished.len(), 4);
    assert_eq!(run.outcome().await.report.status, RunStatus::Complete);
}

/// A bug that panics a request worker (here: a prompt outside the pool) must stop the run
/// with an error naming the engine, not leave the level silently short of workers or hang,
/// and the levels already finished stay in results.json.
async fn a_panicking_worker_stops_the_run_and_keeps_what_was_measured(rate_mode: bool) {
    let sim = quick_sim().await;
    let mut plan = sweep_plan(
        &[("ok", sim.chat_url()), ("broken", sim.chat_url())],
        &[2],
        6,
        5,
    );
    if rate_mode {
        plan.config.sweep.mode = llmsweep::config::SweepMode::Rate;
        plan.config.sweep.levels = vec![200.0].into();
    }
    plan.engines[1].bodies.clear();
    let mut run = Run::start(plan);
    run.until(|e| matches!(e, Event::LevelFinished { engine: 0, .. }))
        .await;
    let result = tokio::time::timeout(GUARD, &mut run.task)
        .await
        .expect("the run hung after a worker panicked")
        .expect("the driver task itself panicked");
    let Err(error) = result else {
        panic!("a worker panic must fail the run")
    };
    let text = error.to_string();
    assert!(
        text.starts_with("broken, level ") && text.contains("a request worker panicked"),
        "{text}"
    );
    let report = run.report();
    assert_eq!(level_of(&report, 0, 0).completed, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_worker_stops_a_closed_loop_run() {
    a_panicking_worker_stops_the_run_and_keeps_what_was_measured(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_request_stops_a_rate_mode_run() {
    a_panicking_worker_stops_the_run_and_keeps_what_was_measured(true).await;
}

/// Keys that land before any level (here during the first engine's preflight, held up by a
/// slow first byte): quit says the run is stopping and stops it; a level skip has no level to
/// cut, so it announces nothing and the sweep runs as planned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_between_levels_announce_only_what_they_do() {
    let slow = sim(
        quick(),
        Faults {
            first_byte_delay_ms: 400,
            ..Faults::default()
        },
    )
    .await;
    let started = |e: &Event| matches!(e, Event::RunStarted { .. });

    let mut run = Run::start(sweep_plan(&[("e", slow.chat_url())], &[1], 2, 2));
    run.until(started).await;
    run.send(Control::Abort).await;
    let (events, outcome) = run.finish().await;
    let kinds = lifecycle(&events);
    assert!(kinds.contains(&"State(Stopping)".to_string()), "{kinds:?}");
    assert!(
        !kinds.iter().any(|k| k.starts_with("LevelStarted")),
        "{kinds:?}"
    );
    assert_eq!(outcome.report.status, RunStatus::Aborted);

    let mut run = Run::start(sweep_plan(&[("e", slow.chat_url())], &[1], 2, 2));
    run.until(started).await;
    run.send(Control::SkipLevel).await;
    let (events, outcome) = run.finish().await;
    let kinds = lifecycle(&events);
    assert!(
        !kinds.iter().any(|k| k == "State(Skipping)"),
        "nothing to skip yet: {kinds:?}"
    );
    assert_eq!(outcome.report.status, RunStatus::Complete);
    assert_eq!(
        outcome.report.engines[0].levels[0].status,
        LevelStatus::Complete
    );
    slow.shutdown().await;
}

/// `e`: the exports of the levels finished so far are written into the run folder while the
/// next level runs, and the final export at the end still happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_now_writes_the_finished_levels_while_the_run_goes_on() {
    let server = quick_sim().await;
    let mut run = Run::start(sweep_plan(&[("e", server.chat_url())], &[1, 2], 12, 40));
    run.until(|e| matches!(e, Event::LevelStarted { level_index: 1, .. }))
        .await;
    run.send(Control::Export).await;
    let mut seen = Vec::new();
    let result = loop {
        let event = run.next().await;
        if let Event::Exported { result } = &event {
            break result.clone();
        }
        seen.push(kind(&event));
        assert!(!seen.contains(&"RunFinished".to_string()), "{seen:?}");
    };
    let written = result.expect("exported");
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["chart.png", "levels.csv", "summary.md"]);
    for path in &written {
        assert_eq!(path.parent(), Some(run.out_dir.as_path()));
    }
    // Taken while the second level ran (12 requests of 40 tokens at C=2, ≈ 0.5 s): the
    // first level's row only.
    let csv = std::fs::read_to_string(run.out_dir.join("levels.csv")).unwrap();
    assert_eq!(csv.lines().count() - 1, 1, "{seen:?}\n{csv}");
    let (_, outcome) = run.finish().await;
    assert_eq!(outcome.report.status, RunStatus::Complete);
    let csv = std::fs::read_to_string(run.out_dir.join("levels.csv")).unwrap();
    assert_eq!(
        csv.lines().count() - 1,
        2,
        "the final export has both levels"
    );
    server.shutdown().await;
}
