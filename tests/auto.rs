//! `levels = "auto"` against simulators whose knee follows from their parameters: the
//! doubling stops at a throughput plateau, and an SLO break is bisected to within the
//! resolution.

use crate::common;

use common::{sim, Run};
use llmsweep::events::Event;
use llmsweep::results::search::StopReason;
use llmsweep::sim::{Faults, Profile, FIXED};

/// Batches of `max_batch`; every decode step `step_ms` whatever the batch, prefill free
/// (so arrivals never stall the batch, and requests admitted together stay in step):
/// output throughput grows in proportion to the requests in flight up to `max_batch`, then
/// stays flat. A request holds its slot `max_tokens × step_ms`, its first token one step
/// after admission. Steps this long leave the client's CPU per step negligible on a shared
/// 2-core machine.
fn saturating(max_batch: usize, step_ms: u64) -> Profile {
    Profile {
        max_batch,
        prefill_base_us: 0,
        decode_base_us: step_ms * 1_000,
        ..FIXED
    }
}

/// The engines, `levels = "auto"` with `sweep` added to `[sweep]`, and `extra` sections.
fn toml(engines: &[(&str, String)], sweep: &str, max_tokens: u32, extra: &str) -> String {
    let mut text = String::new();
    for (name, url) in engines {
        text.push_str(&format!(
            "[[engines]]\nname = {name:?}\nurl = {url:?}\nmodel = \"sim\"\n\n"
        ));
    }
    text.push_str(&format!(
        "[sweep]\nlevels = \"auto\"\nwarmup_requests = 0\ntimeout_s = 30.0\n{sweep}\n\
         [request]\nmax_tokens = {max_tokens}\nseed = 42\n\n{extra}"
    ));
    text
}

fn dump(report: &llmsweep::results::model::EngineReport) -> String {
    report
        .levels
        .iter()
        .map(|l| {
            format!(
                "C={} tok/s={:.0} p50 TTFT={:?} slo_met={:?}",
                l.level,
                l.plotted_output_throughput(),
                l.median_ttft_ms,
                l.slo_met
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doubling_stops_at_the_plateau_of_an_engine_that_saturates_at_16() {
    let _serial = common::TIMING.lock().await;
    // 16 tokens of 5 ms: a request holds its slot 80 ms, against the few ms a slot idles
    // between a completion and its replacement's admission at C = 16.
    let engine = sim(saturating(16, 5), Faults::default()).await;
    let plan = common::plan(common::config(&toml(
        &[("sat16", engine.chat_url())],
        "",
        16,
        "[sweep.auto]\nstart = 4\nstop = [\"plateau\"]\nmax = 256\n",
    )));
    let mut run = Run::start_no_check(plan);
    let (events, outcome) = run.finish().await;
    let engine_report = &outcome.report.engines[0];
    let search = engine_report.search.as_ref().expect("search result");
    let levels = dump(engine_report);
    assert_eq!(
        search.stop_reason,
        StopReason::Plateau,
        "{search:?}\n{levels}"
    );
    // The plateau starts within one doubling after the batch size: at 16 every slot
    // idles between a completion and its replacement's admission (the client's round trip
    // and the rest of the step), at 32 a queued request takes the slot at once, so 32 may
    // still gain over 16. The doubling ran two levels into the plateau and no further.
    let from = search.plateau_from.expect("plateau");
    assert!(from == 16.0 || from == 32.0, "{search:?}\n{levels}");
    assert_eq!(search.knee, Some(from));
    let ran: Vec<f64> = engine_report.levels.iter().map(|l| l.level).collect();
    let mut expected = vec![4.0, 8.0, 16.0, 32.0, 64.0];
    if from == 32.0 {
        expected.push(128.0);
    }
    assert_eq!(ran, expected);
    assert_eq!(outcome.report.workload.levels, expected);
    assert!(outcome.report.workload.auto.is_some());
    let knee_level = engine_report
        .levels
        .iter()
        .find(|l| l.level == from)
        .unwrap();
    assert_eq!(
        search.knee_output_throughput,
        Some(knee_level.plotted_output_throughput())
    );
    // The screen was told the search state before each level.
    let states: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::LevelStarted { search, .. } => search.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(states[0], "doubling: start 4");
    assert_eq!(states[2], "doubling: 8 → 16");
    engine.shutdown().await;
}

/// A batch of 16, 10 tokens of 10 ms: a request holds its slot 100 ms, and its first
/// token comes at most two steps (20 ms) after it is sent when a slot is free. At C > 16
/// in a closed loop, C − 16 requests wait in the queue at any time; requests admitted
/// together finish together, so in each round of 16 completions C − 16 requests wait for a
/// whole request (≈ 100 ms) and the rest for at most a step. A 60 ms TTFT SLO then holds
/// for a share 1 − (C − 16) / 16 of requests: with `slo_goodput_pct = 90` it holds up to
/// C = 16 + ⌊0.1 × 16⌋ = 17 and breaks from 18 on. The bisected knee must be within
/// `resolution` of 17. On the paused clock: the prediction is about the engine's steps, and
/// on a loaded 2-core box real time once let C = 16 miss the 60 ms SLO (knee 15).
#[tokio::test(start_paused = true)]
async fn an_slo_break_is_bisected_to_the_level_the_profile_predicts() {
    let batch = 16usize;
    let engine = sim(saturating(batch, 10), Faults::default()).await;
    let plan = common::plan(common::config(&toml(
        &[("sat16", engine.chat_url())],
        "",
        10,
        "[slo]\nttft_ms = 60.0\n\n[sweep.auto]\nstart = 4\nstop = [\"slo\"]\n\
         slo_goodput_pct = 90.0\nresolution = 0.1\n",
    )));
    let mut run = Run::start_no_check(plan);
    let (_, outcome) = run.finish().await;
    let engine_report = &outcome.report.engines[0];
    let search = engine_report.search.as_ref().expect("search result");
    let levels = dump(engine_report);
    assert_eq!(search.stop_reason, StopReason::Slo, "{search:?}\n{levels}");
    let predicted = batch as f64 + (0.1 * batch as f64).floor();
    let knee = search.knee.expect("a knee");
    assert!(
        (knee - predicted).abs() <= 0.1 * predicted,
        "knee {knee}, predicted {predicted}: {search:?}\n{levels}"
    );
    assert_eq!(search.max_concurrency_meeting_slo, Some(knee));
    // Doubling to the first failure (32), then bisection below it.
    let ran: Vec<f64> = engine_report.levels.iter().map(|l| l.level).collect();
    assert_eq!(&ran[..4], &[4.0, 8.0, 16.0, 32.0], "{levels}");
    assert_eq!(&ran[4..], search.bisected.as_slice());
    assert!(
        search.bisected.iter().all(|&l| l > 16.0 && l < 32.0),
        "{search:?}"
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engine_walks_the_same_doubling_grid_and_stops_on_its_own() {
    let _serial = common::TIMING.lock().await;
    let (small, big) = (
        // 16 tokens of 5 ms: a slot is held 80 ms, against the few ms it idles between a
        // completion and the next admission, so throughput is flat from the batch size on.
        sim(saturating(2, 5), Faults::default()).await,
        sim(saturating(8, 5), Faults::default()).await,
    );
    let plan = common::plan(common::config(&toml(
        &[("small", small.chat_url()), ("big", big.chat_url())],
        "order = \"interleaved\"\n",
        16,
        "[sweep.auto]\nstop = [\"plateau\"]\nmax = 128\n",
    )));
    let mut run = Run::start_no_check(plan);
    let (events, outcome) = run.finish().await;
    let report = &outcome.report;
    let ran = |e: usize| -> Vec<f64> { report.engines[e].levels.iter().map(|l| l.level).collect() };
    // The small engine's plateau starts at 2, the big one's at 8: each stops two doublings
    // into its own, on the same grid.
    let (a, b) = (ran(0), ran(1));
    let shared = a.len().min(b.len());
    assert_eq!(&b[..shared], &a[..shared]);
    let dumps = format!(
        "{}\n--\n{}",
        dump(&report.engines[0]),
        dump(&report.engines[1])
    );
    assert!(a.len() < b.len(), "{dumps}");
    for engine in &report.engines {
        let search = engine.search.as_ref().unwrap();
        assert_eq!(
            search.stop_reason,
            StopReason::Plateau,
            "{search:?}\n{dumps}"
        );
    }
    // Interleaved: while both search, their levels alternate.
    let order: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::LevelStarted { engine, .. } => Some(*engine),
            _ => None,
        })
        .collect();
    let both = 2 * a.len();
    assert_eq!(
        &order[..both],
        (0..both).map(|i| i % 2).collect::<Vec<_>>().as_slice()
    );
    assert!(order[both..].iter().all(|&e| e == 1));
    small.shutdown().await;
    big.shutdown().await;
}

/// Rate mode searches request rates the same way: an engine that serves 4 requests of
/// 40 ms at a time handles at most 4 / 0.04 s = 100 req/s; past that its queue, and the
/// TTFT, grow without bound. The knee, recorded as `max_rate_meeting_slo`, is within the
/// resolution of that capacity (a level of 60 requests barely queues at or just under it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_mode_searches_rates_up_to_the_capacity() {
    let _serial = common::TIMING.lock().await;
    let engine = sim(saturating(4, 10), Faults::default()).await;
    let plan = common::plan(common::config(&toml(
        &[("cap100", engine.chat_url())],
        "mode = \"rate\"\nrequests_per_level = 60\n",
        4,
        "[slo]\nttft_ms = 100.0\n\n[sweep.auto]\nstart = 25\nstop = [\"slo\"]\nresolution = 0.1\n",
    )));
    let mut run = Run::start_no_check(plan);
    let (_, outcome) = run.finish().await;
    let engine_report = &outcome.report.engines[0];
    let search = engine_report.search.as_ref().expect("search result");
    let levels = dump(engine_report);
    assert_eq!(search.stop_reason, StopReason::Slo, "{search:?}\n{levels}");
    let knee = search.max_rate_meeting_slo.expect("a knee rate");
    assert_eq!(search.max_concurrency_meeting_slo, None);
    let capacity = 4.0 / (4.0 * 0.010);
    assert!(
        (0.8 * capacity..=1.1 * capacity).contains(&knee),
        "{search:?}\n{levels}"
    );
    // Doubling from 25 req/s until the queue breaks the SLO, then fractional bisection.
    let ran: Vec<f64> = engine_report.levels.iter().map(|l| l.level).collect();
    assert_eq!(&ran[..2], &[25.0, 50.0], "{levels}");
    assert!(!search.bisected.is_empty(), "{search:?}");
    engine.shutdown().await;
}

/// `s` during an auto level: the search counts the level as failed (and bisects below it);
/// `n`: the engine's search ends, its knee the best level so far.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_level_fails_the_search_and_n_ends_it() {
    use llmsweep::events::Control;
    let engine = sim(saturating(64, 20), Faults::default()).await;
    let config = || {
        common::config(&toml(
            &[("e", engine.chat_url())],
            "requests_per_level = 8\n",
            4,
            "[sweep.auto]\nstart = 2\nstop = [\"plateau\"]\n",
        ))
    };
    // Skip the level at 8 in flight: it fails, the search bisects 4–8 (to 6, then 7 or 5).
    let mut run = Run::start_no_check(common::plan(config()));
    run.until(|e| matches!(e, Event::LevelStarted { level, .. } if *level == 8.0))
        .await;
    run.send(Control::SkipLevel).await;
    let (_, outcome) = run.finish().await;
    let search = outcome.report.engines[0].search.clone().unwrap();
    assert_eq!(search.stop_reason, StopReason::Skipped, "{search:?}");
    assert_eq!(search.bisected.first(), Some(&6.0), "{search:?}");
    assert!(search.knee.unwrap() >= 4.0 && search.knee.unwrap() < 8.0);

    // `n` at the level of 8: the search ends there, its knee the level before.
    let mut run = Run::start_no_check(common::plan(config()));
    let mut events = run
        .until(|e| matches!(e, Event::LevelStarted { level, .. } if *level == 8.0))
        .await;
    run.send(Control::SkipEngine).await;
    let (rest, outcome) = run.finish().await;
    events.extend(rest);
    let search = outcome.report.engines[0].search.clone().unwrap();
    assert_eq!(search.stop_reason, StopReason::Ended, "{search:?}");
    assert_eq!(search.knee, Some(4.0));
    let after: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            Event::LevelStarted { level, .. } => Some(*level),
            _ => None,
        })
        .collect();
    assert_eq!(after, vec![2.0, 4.0, 8.0], "nothing runs after n");
    engine.shutdown().await;
}
