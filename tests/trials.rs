//! `[sweep] trials`: every (engine, level) measured K times in the configured order, every
//! trial kept, intervals over the trials, and verdicts against simulators of known speed.

use crate::common;

use common::{sim, Run};
use llmsweep::events::{Control, Event};
use llmsweep::results::confidence::IntervalMethod;
use llmsweep::results::model::LevelStatus;
use llmsweep::results::verdict::{VerdictMetric, VerdictOutcome};
use llmsweep::sim::{Faults, Profile, FIXED};

/// A simulator with `step_ms` prefill and decode steps and room for every request at once.
fn profile(step_ms: u64) -> Profile {
    Profile {
        prefill_base_us: step_ms * 1_000,
        decode_base_us: step_ms * 1_000,
        ..FIXED
    }
}

/// (engine, level index, trial) of every level started, in order.
fn started(events: &[Event]) -> Vec<(usize, usize, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::LevelStarted {
                engine,
                level_index,
                trial,
                ..
            } => Some((*engine, *level_index, *trial)),
            _ => None,
        })
        .collect()
}

fn toml(engines: &[(&str, String)], sweep: &str, max_tokens: u32) -> String {
    let mut text = String::new();
    for (name, url) in engines {
        text.push_str(&format!(
            "[[engines]]\nname = {name:?}\nurl = {url:?}\nmodel = \"sim\"\n\n"
        ));
    }
    text.push_str(&format!(
        "[sweep]\n{sweep}\nwarmup_requests = 1\ntimeout_s = 30.0\n\n[request]\nmax_tokens = {max_tokens}\nseed = 42\n"
    ));
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_trials_alternate_engines_and_every_trial_is_kept() {
    let (a, b) = (
        sim(profile(1), Faults::default()).await,
        sim(profile(1), Faults::default()).await,
    );
    let engines = [("a", a.chat_url()), ("b", b.chat_url())];
    let plan = common::plan(common::config(&toml(
        &engines,
        "levels = [1, 2]\nrequests_per_level = 4\ntrials = 3\norder = \"interleaved\"",
        4,
    )));
    let mut run = Run::start_no_check(plan);
    let (events, outcome) = run.finish().await;
    // A1 B1 A2 B2 A3 B3 at level 1, then the same at level 2.
    let expected: Vec<(usize, usize, u32)> = (0..2)
        .flat_map(|l| (1..=3).flat_map(move |t| (0..2).map(move |e| (e, l, t))))
        .collect();
    assert_eq!(started(&events), expected);
    assert!(events
        .iter()
        .all(|e| !matches!(e, Event::LevelStarted { trials, .. } if *trials != 3)));

    let report = &outcome.report;
    assert_eq!(report.workload.trials, Some(3));
    for engine in &report.engines {
        assert_eq!(engine.levels.len(), 2, "one entry per level, not per trial");
        for level in &engine.levels {
            let numbers: Vec<Option<u32>> = level.trials.iter().map(|t| t.trial).collect();
            assert_eq!(numbers, vec![Some(1), Some(2), Some(3)]);
            assert_eq!(level.completed, 12, "4 requests × 3 trials");
            let intervals = level.intervals.as_ref().expect("intervals over trials");
            assert_eq!((intervals.method, intervals.n), (IntervalMethod::Trials, 3));
            let ttft = intervals.median_ttft_ms.as_ref().expect("TTFT interval");
            let trial_values: Vec<f64> = level
                .trials
                .iter()
                .filter_map(|t| t.median_ttft_ms)
                .collect();
            assert_eq!(ttft.values, trial_values);
            assert!(ttft.low <= ttft.mean && ttft.mean <= ttft.high);
        }
    }
    // Every request line names its trial; ids are unique across trials.
    let lines = run.requests();
    assert_eq!(lines.len(), 2 * 2 * 3 * 4);
    for t in 1..=3 {
        let n = lines.iter().filter(|l| l["trial"] == t).count();
        assert_eq!(n, 2 * 2 * 4, "trial {t}");
    }
    let mut ids: Vec<&str> = lines
        .iter()
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), lines.len());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_trials_run_back_to_back() {
    let (a, b) = (
        sim(profile(1), Faults::default()).await,
        sim(profile(1), Faults::default()).await,
    );
    let engines = [("a", a.chat_url()), ("b", b.chat_url())];
    let plan = common::plan(common::config(&toml(
        &engines,
        "levels = [1, 2]\nrequests_per_level = 3\ntrials = 2",
        4,
    )));
    let mut run = Run::start_no_check(plan);
    let (events, _) = run.finish().await;
    assert_eq!(
        started(&events),
        vec![
            (0, 0, 1),
            (0, 0, 2),
            (0, 1, 1),
            (0, 1, 2),
            (1, 0, 1),
            (1, 0, 2),
            (1, 1, 1),
            (1, 1, 2)
        ]
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// Two identical engines: every verdict is "no significant difference", and every
/// interval of the ratio lies around 1.
///
/// On the paused clock, so identical simulators time every request alike and any difference
/// is the trial pairing's or the verdict's own. On the real clock tokio's 1 ms timer wheel
/// quantises the 2 ms steps by up to half a step, and a 2-core CI box shared with other test
/// binaries once gave a consistent 1.1x TTFT "difference" between two identical simulators.
#[tokio::test(start_paused = true)]
async fn identical_engines_show_no_significant_difference_at_every_level() {
    let (a, b) = (
        sim(profile(2), Faults::default()).await,
        sim(profile(2), Faults::default()).await,
    );
    let engines = [("a", a.chat_url()), ("b", b.chat_url())];
    let plan = common::plan(common::config(&toml(
        &engines,
        "levels = [1, 4]\nrequests_per_level = 16\ntrials = 5\norder = \"interleaved\"",
        8,
    )));
    let mut run = Run::start_no_check(plan);
    let (_, outcome) = run.finish().await;
    let verdicts = &outcome.report.verdicts;
    assert_eq!(verdicts.len(), 2 * 3, "{verdicts:#?}");
    for v in verdicts {
        assert_eq!(v.method, Some(IntervalMethod::Trials));
        assert_eq!(v.outcome, VerdictOutcome::NoSignificantDifference, "{v:?}");
        let (low, high) = (v.low.unwrap(), v.high.unwrap());
        assert!(low <= 1.02 && high >= 1.0 / 1.02, "{v:?}");
    }
    a.shutdown().await;
    b.shutdown().await;
}

/// An engine whose every step takes half as long generates twice the tokens per second:
/// the throughput ratio's interval holds 2 and excludes 1, and its TTFT and E2E verdicts
/// name it faster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_twice_as_fast_is_faster_by_two() {
    let _serial = common::TIMING.lock().await;
    // Two slots for four requests in flight: the engine is never idle (two always queue),
    // so the client's round trip between requests costs neither engine throughput, and
    // every step of one takes exactly twice as long as the other's.
    let two_slots = |step_ms| Profile {
        max_batch: 2,
        ..profile(step_ms)
    };
    let (slow, fast) = (
        sim(two_slots(10), Faults::default()).await,
        sim(two_slots(5), Faults::default()).await,
    );
    let engines = [("slow", slow.chat_url()), ("fast", fast.chat_url())];
    let plan = common::plan(common::config(&toml(
        &engines,
        "levels = [4]\nrequests_per_level = 16\ntrials = 5\norder = \"interleaved\"",
        8,
    )));
    let mut run = Run::start_no_check(plan);
    let (_, outcome) = run.finish().await;
    let verdicts = &outcome.report.verdicts;
    assert_eq!(verdicts.len(), 3, "{verdicts:#?}");
    for v in verdicts {
        assert_eq!(
            (v.best.as_str(), v.other.as_str()),
            ("fast", "slow"),
            "{v:?}"
        );
        assert_eq!(v.outcome, VerdictOutcome::Faster, "{v:?}");
        assert!(v.low.unwrap() > 1.0, "{v:?}");
    }
    let throughput = verdicts
        .iter()
        .find(|v| v.metric == VerdictMetric::OutputThroughput)
        .unwrap();
    // The interval holds 2, give or take 1 %: the simulator's steps wake on tokio's 1 ms
    // timer, late by a larger share of the faster engine's shorter steps, which biases the
    // measured ratio 0.5–1 % under 2 (1.975–2.001 seen here); a tight interval can then just
    // miss 2 though the engine is exactly twice as fast by construction.
    let (low, high) = (throughput.low.unwrap(), throughput.high.unwrap());
    assert!(low <= 2.0 * 1.01 && 2.0 * 0.99 <= high, "{throughput:?}");
    slow.shutdown().await;
    fast.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_cuts_the_level_and_its_later_trials() {
    let a = sim(profile(50), Faults::default()).await;
    let engines = [("a", a.chat_url())];
    let plan = common::plan(common::config(&toml(
        &engines,
        "levels = [1, 2]\nrequests_per_level = 2\ntrials = 3",
        4,
    )));
    let mut run = Run::start_no_check(plan);
    run.until(|e| {
        matches!(
            e,
            Event::LevelStarted {
                level_index: 0,
                trial: 1,
                ..
            }
        )
    })
    .await;
    run.send(Control::SkipLevel).await;
    let (events, outcome) = run.finish().await;
    assert_eq!(
        started(&events),
        vec![(0, 1, 1), (0, 1, 2), (0, 1, 3)],
        "level 0's trials 2 and 3 never ran"
    );
    let levels = &outcome.report.engines[0].levels;
    assert_eq!(levels[0].status, LevelStatus::Skipped);
    assert_eq!(levels[0].trials.len(), 1);
    assert_eq!(levels[1].trials.len(), 3);
    a.shutdown().await;
}

/// Runs `plan` into `dir` (continuing `resume`); with `quit_after`, quits once that level
/// index's first trial has finished. Returns the outcome.
async fn run_into(
    plan: llmsweep::plan::Plan,
    dir: &std::path::Path,
    resume: Option<llmsweep::results::model::Report>,
    quit_after: Option<usize>,
) -> llmsweep::driver::RunOutcome {
    use llmsweep::driver::{self, RunOptions};
    let (events_tx, mut events) = tokio::sync::mpsc::channel(1024);
    let (control_tx, control_rx) = tokio::sync::mpsc::channel(16);
    let task = tokio::spawn(driver::run(
        plan,
        RunOptions {
            out_dir: dir.to_path_buf(),
            run_name: "test-run".into(),
            events: events_tx,
            control: control_rx,
            signal: std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0)),
            resume,
            check: false,
            live: None,
        },
    ));
    loop {
        let event = tokio::time::timeout(common::GUARD, events.recv())
            .await
            .expect("no event in time")
            .expect("bus closed before RunFinished");
        match event {
            Event::LevelFinished { level_index, .. } if Some(level_index) == quit_after => {
                control_tx.send(Control::Abort).await.expect("driver gone");
            }
            Event::RunFinished { .. } => break,
            _ => {}
        }
    }
    task.await.expect("driver panicked").expect("driver failed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_measures_a_level_short_of_its_trials_again_in_full() {
    let a = sim(profile(1), Faults::default()).await;
    let engines = [("a", a.chat_url())];
    let plan = || {
        common::plan(common::config(&toml(
            &engines,
            "levels = [1, 2]\nrequests_per_level = 3\ntrials = 2",
            4,
        )))
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    // Quit after level 2's first trial: it is saved with one trial of two.
    let first = run_into(plan(), &dir, None, Some(1)).await;
    let saved = first.report.as_ref().clone();
    let levels = &saved.engines[0].levels;
    assert_eq!(levels[0].trials.len(), 2);
    assert!(levels[1].trials.len() < 2 || levels[1].status == LevelStatus::Skipped);

    let second = run_into(plan(), &dir, Some(saved), None).await;
    let levels = &second.report.engines[0].levels;
    assert_eq!(levels.len(), 2);
    for level in levels {
        assert_eq!(level.status, LevelStatus::Complete);
        assert_eq!(level.trials.len(), 2, "level {}", level.level);
        assert_eq!(level.completed, 6);
    }
    // Level 1's lines are the first run's; level 2's only the re-run's: 3 per trial each.
    let lines = common::read_requests(&dir);
    for index in 0..2u64 {
        let of = |t: u64| {
            lines
                .iter()
                .filter(|l| l["level_index"] == index && l["trial"] == t)
                .count()
        };
        assert_eq!((of(1), of(2)), (3, 3), "level index {index}");
    }
    a.shutdown().await;
}

/// One trial: the interval comes from batch means of the steady-state window, and the
/// verdicts say so; a level too short for five batches has none and is not tested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trial_gets_batch_means_intervals_and_verdicts_that_say_so() {
    let (a, b) = (
        sim(profile(1), Faults::default()).await,
        sim(profile(2), Faults::default()).await,
    );
    let engines = [("a", a.chat_url()), ("b", b.chat_url())];
    let plan = common::plan(common::config(&toml(
        &engines,
        "levels = [1, 4]\nrequests_per_level = 100",
        4,
    )));
    let mut run = Run::start_no_check(plan);
    let (_, outcome) = run.finish().await;
    for engine in &outcome.report.engines {
        for level in &engine.levels {
            assert!(level.trials.is_empty());
            let i = level.intervals.as_ref().expect("batch-means intervals");
            assert_eq!(i.method, IntervalMethod::BatchMeans);
            assert!((5..=10).contains(&i.n), "{i:?}");
            let out = i.output_throughput.as_ref().expect("throughput interval");
            assert_eq!(out.values.len(), i.n as usize);
            assert!(out.low <= out.mean && out.mean <= out.high);
        }
    }
    let verdicts = &outcome.report.verdicts;
    assert_eq!(verdicts.len(), 2 * 3);
    assert!(verdicts
        .iter()
        .all(|v| v.method == Some(IntervalMethod::BatchMeans) && v.low.is_some()));
    a.shutdown().await;

    // Four requests: no five batches, no interval, not tested.
    let short = common::plan(common::config(&toml(
        &[("b", b.chat_url()), ("b2", b.chat_url())],
        "levels = [1]\nrequests_per_level = 4",
        4,
    )));
    let mut run = Run::start_no_check(short);
    let (_, outcome) = run.finish().await;
    assert!(outcome.report.engines[0].levels[0].intervals.is_none());
    assert!(outcome
        .report
        .verdicts
        .iter()
        .all(|v| v.outcome == VerdictOutcome::NotTested));
    b.shutdown().await;
}
