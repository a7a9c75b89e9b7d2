//! Rate mode (open loop): the arrival schedules (pure), achieved send rate against the
//! simulator, coordinated omission under a cap on a saturated engine, and pause/skip.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use llmsweep::config::{Config, Sources};
use llmsweep::driver::arrivals::Arrivals;
use llmsweep::events::{Control, Event};
use llmsweep::plan::Plan;
use llmsweep::results::model::{LevelStatus, Report};
use llmsweep::sim::{self, Faults, Profile, SimConfig, SimServer, FIXED};
use serde_json::Value;

// ---- arrivals (pure) -------------------------------------------------------------------------

/// (mean, coefficient of variation) of `n` gaps, seconds.
fn stats(arrivals: Arrivals, n: usize) -> (f64, f64) {
    let gaps: Vec<f64> = arrivals.take(n).map(|d| d.as_secs_f64()).collect();
    let mean = gaps.iter().sum::<f64>() / n as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt() / mean)
}

#[test]
fn poisson_arrivals_have_cv_one_and_the_rate_as_mean() {
    for (rate, seed) in [(10.0, 1), (2.5, 42), (400.0, 7)] {
        let (mean, cv) = stats(Arrivals::new(rate, 1.0, seed), 10_000);
        assert!((cv - 1.0).abs() < 0.1, "rate {rate}: cv {cv}");
        assert!((mean * rate - 1.0).abs() < 0.05, "rate {rate}: mean {mean}");
    }
}

#[test]
fn gamma_arrivals_have_cv_one_over_sqrt_shape() {
    for shape in [0.25, 0.5, 2.0, 4.0, 16.0] {
        let (mean, cv) = stats(Arrivals::new(20.0, shape, 3), 10_000);
        let want = 1.0 / f64::sqrt(shape);
        assert!(
            (cv / want - 1.0).abs() < 0.1,
            "shape {shape}: cv {cv}, want {want}"
        );
        assert!(
            (mean * 20.0 - 1.0).abs() < 0.05,
            "shape {shape}: mean {mean}"
        );
    }
}

#[test]
fn arrivals_are_seeded() {
    let a: Vec<Duration> = Arrivals::new(5.0, 1.0, 9).take(100).collect();
    let b: Vec<Duration> = Arrivals::new(5.0, 1.0, 9).take(100).collect();
    let c: Vec<Duration> = Arrivals::new(5.0, 1.0, 10).take(100).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

// ---- against the simulator -------------------------------------------------------------------

async fn start(profile: Profile) -> SimServer {
    sim::spawn(SimConfig {
        profile,
        faults: Faults::default(),
        seed: 1,
        timing_log: None,
    })
    .await
    .expect("spawn sim")
}

fn plan(toml: &str) -> Plan {
    let config = Config::load(&Sources {
        text: Some(("test".into(), toml.to_string())),
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap();
    Plan::new(config, &|_| None).unwrap()
}

fn engine_toml(name: &str, url: &str) -> String {
    format!("[[engines]]\nname = {name:?}\nurl = {url:?}\nmodel = \"m\"\n\n")
}

struct Run {
    report: Arc<Report>,
    requests: Vec<Value>,
}

/// Runs `toml`; `control` sees every event (snapshots too) and may answer with controls to
/// send after a delay.
async fn run(toml: &str, mut control: impl FnMut(&Event) -> Vec<(Duration, Control)>) -> Run {
    let mut run = common::Run::start(plan(toml));
    loop {
        let event = run.next().await;
        for (delay, c) in control(&event) {
            let tx = run.control.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(c).await;
            });
        }
        if matches!(event, Event::RunFinished { .. }) {
            break;
        }
    }
    let outcome = run.outcome().await;
    Run {
        report: outcome.report,
        requests: run.requests(),
    }
}

fn sent_at(requests: &[Value]) -> Vec<f64> {
    let mut v: Vec<f64> = requests
        .iter()
        .map(|r| r["sent_at_ms"].as_f64().unwrap())
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn achieved_send_rate_matches_the_target() {
    let server = start(Profile::by_name("fast").unwrap()).await;
    // Near-even arrivals (CV 0.1) so 100 requests pin the realised rate well within 5 %.
    let toml = format!(
        "{}[sweep]\nmode = \"rate\"\nlevels = [50]\nrequests_per_level = 100\nburstiness = 100\n\n[request]\nmax_tokens = 4\n",
        engine_toml("A", &server.chat_url())
    );
    let run = run(&toml, |_| Vec::new()).await;
    let level = &run.report.engines[0].levels[0];
    assert_eq!(level.completed, 100);
    assert_eq!(level.max_concurrency, 0);
    assert!(level.schedule.is_some());
    assert_eq!(run.report.workload.mode, "rate");
    assert_eq!(run.report.workload.burstiness, Some(100.0));
    let sent = sent_at(&run.requests);
    let achieved = 99.0 / ((sent[99] - sent[0]) / 1e3);
    assert!(
        (achieved / 50.0 - 1.0).abs() < 0.05,
        "achieved {achieved:.2} req/s"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturated_engine_under_a_cap_shows_latency_from_the_schedule() {
    // Batch 1, 50 ms prefill + 5 × 10 ms decode: ~100 ms per request, ~10 req/s at most.
    // Offered 40 req/s with at most 2 in flight: the client queue grows, the engine's doesn't.
    let server = start(Profile {
        max_batch: 1,
        output_tokens: Some(5),
        ..FIXED
    })
    .await;
    let toml = format!(
        "{}[sweep]\nmode = \"rate\"\nlevels = [40]\nrequests_per_level = 16\nburstiness = 100\nmax_concurrency = 2\n",
        engine_toml("A", &server.chat_url())
    );
    let run = run(&toml, |_| Vec::new()).await;
    let level = &run.report.engines[0].levels[0];
    let schedule = level.schedule.as_ref().unwrap();
    assert_eq!(level.completed, 16);
    assert_eq!(level.max_concurrency, 2);
    // From the actual send: one request served, at most one waiting in the engine.
    let ms = |v: Option<f64>| v.expect("a latency");
    assert!(ms(level.max_e2el_ms) < 400.0, "{:?}", level.max_e2el_ms);
    // From the schedule: the backlog shows (the last requests wait ~1 s in the client).
    assert!(
        ms(schedule.p99_scheduled_e2el_ms) > 3.0 * ms(level.p99_e2el_ms),
        "{schedule:?} vs p99 {:?}",
        level.p99_e2el_ms
    );
    assert!(
        ms(schedule.mean_scheduled_e2el_ms)
            > ms(level.mean_e2el_ms) + level.mean_client_queue_ms * 0.99
    );
    assert!(schedule.late_starts >= 10, "{schedule:?}");
    assert!(
        level.mean_client_queue_ms > 200.0,
        "{}",
        level.mean_client_queue_ms
    );
    // Per request: scheduled latency grows along the run; actual latency does not.
    let mut rows: Vec<(u64, f64, f64)> = run
        .requests
        .iter()
        .map(|r| {
            let e2el = r["e2el_ms"].as_f64().unwrap();
            (
                r["request_index"].as_u64().unwrap(),
                e2el,
                e2el + r["queue_ms"].as_f64().unwrap(),
            )
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    let mean = |rows: &[(u64, f64, f64)], f: fn(&(u64, f64, f64)) -> f64| {
        rows.iter().map(f).sum::<f64>() / rows.len() as f64
    };
    let (early, late) = (&rows[..4], &rows[12..]);
    assert!(mean(late, |r| r.2) > 3.0 * mean(early, |r| r.2), "{rows:?}");
    assert!(mean(late, |r| r.1) < 2.5 * mean(early, |r| r.1), "{rows:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_shifts_the_schedule_and_skip_cancels() {
    let server = start(Profile::by_name("fast").unwrap()).await;
    let toml = format!(
        "{}[sweep]\nmode = \"rate\"\nlevels = [50, 20]\nrequests_per_level = 30\nburstiness = 100\n\n[request]\nmax_tokens = 2\n",
        engine_toml("A", &server.chat_url())
    );
    let mut skipped = false;
    let run = run(&toml, |event| match event {
        // Level 1: paused from 200 ms to 600 ms.
        Event::LevelStarted { level_index: 0, .. } => vec![
            (Duration::from_millis(200), Control::Pause),
            (Duration::from_millis(600), Control::Resume),
        ],
        // Level 2 (1.5 s of schedule): skipped once a few requests are done.
        Event::Snapshot(s) if s.level_index == 1 && s.completed >= 3 && !skipped => {
            skipped = true;
            vec![(Duration::ZERO, Control::SkipLevel)]
        }
        _ => Vec::new(),
    })
    .await;
    let levels = &run.report.engines[0].levels;
    assert_eq!(levels[0].status, LevelStatus::Complete);
    assert_eq!(levels[0].completed, 30);
    let first: Vec<&Value> = run.requests.iter().filter(|r| r["level"] == 50.0).collect();
    let sent: Vec<Value> = first.into_iter().cloned().collect();
    let sent = sent_at(&sent);
    let longest_gap = sent.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(longest_gap > 300.0, "no send while paused: {longest_gap}");
    // The paused time is not lateness: the rest of the schedule moved with it.
    assert!(
        levels[0].mean_client_queue_ms < 100.0,
        "{}",
        levels[0].mean_client_queue_ms
    );
    assert_eq!(levels[1].status, LevelStatus::Skipped);
    assert!(levels[1].completed < 30, "{}", levels[1].completed);
    server.shutdown().await;
}

// ---- on the paused clock: exact schedules ------------------------------------------------------

/// Every engine at a rate level gets the same arrival schedule (and the same prompts in the
/// same order): the send times of request i agree across engines to the microsecond (tokio's
/// paused clock; uncapped, so each request goes out exactly on schedule).
#[tokio::test(start_paused = true)]
async fn every_engine_gets_the_same_arrival_schedule() {
    let (a, b) = (start(FIXED).await, start(FIXED).await);
    let toml = format!(
        "{}{}[sweep]\nmode = \"rate\"\nlevels = [20, 40]\nrequests_per_level = 25\nburstiness = 1\n\n[request]\nmax_tokens = 3\n",
        engine_toml("A", &a.chat_url()),
        engine_toml("B", &b.chat_url())
    );
    let run = run(&toml, |_| Vec::new()).await;
    let schedule = |engine: &str, level: f64| -> Vec<(u64, f64, u64)> {
        let mut rows: Vec<(u64, f64, u64)> = run
            .requests
            .iter()
            .filter(|r| r["engine"] == engine && r["level"] == level)
            .map(|r| {
                (
                    r["request_index"].as_u64().unwrap(),
                    r["sent_at_ms"].as_f64().unwrap(),
                    r["prompt_index"].as_u64().unwrap(),
                )
            })
            .collect();
        rows.sort_by_key(|r| r.0);
        rows
    };
    for level in [20.0, 40.0] {
        let (sa, sb) = (schedule("A", level), schedule("B", level));
        assert_eq!(sa.len(), 25);
        assert_eq!(
            sa, sb,
            "rate {level}: A and B were sent on different schedules"
        );
        // A Poisson schedule, not a grid: the gaps differ.
        let gaps: BTreeSet<u64> = sa
            .windows(2)
            .map(|w| ((w[1].1 - w[0].1) * 1e3) as u64)
            .collect();
        assert!(gaps.len() > 10, "rate {level}: {gaps:?}");
    }
    // Each level its own schedule.
    assert_ne!(schedule("A", 20.0), schedule("A", 40.0));
    a.shutdown().await;
    b.shutdown().await;
}

/// Goodput judges the SLOs on latency from the actual send, as vLLM does, not from the
/// scheduled time: with a backlog in the client (cap 1, offered 4× what the engine serves)
/// every request's TTFT from its send is 60 ms, while from the schedule most are far over
/// the 70 ms objective — all of them still count toward goodput.
#[tokio::test(start_paused = true)]
async fn goodput_judges_latency_from_the_actual_send() {
    // Batch 1: 50 ms prefill + 5 × 10 ms decode = 100 ms a request, 10 req/s at most.
    let server = start(Profile {
        max_batch: 1,
        output_tokens: Some(5),
        ..FIXED
    })
    .await;
    let level_toml = |ttft_ms: f64| {
        format!(
            "{}[sweep]\nmode = \"rate\"\nlevels = [40]\nrequests_per_level = 16\nburstiness = 100\nmax_concurrency = 1\n\n[slo]\nttft_ms = {ttft_ms:?}\n",
            engine_toml("A", &server.chat_url())
        )
    };
    let run_70 = run(&level_toml(70.0), |_| Vec::new()).await;
    let level = &run_70.report.engines[0].levels[0];
    assert_eq!(level.completed, 16);
    for r in &run_70.requests {
        assert_eq!(r["ttft_ms"].as_f64(), Some(60.0), "{r}");
    }
    let schedule = level.schedule.as_ref().unwrap();
    let scheduled_ttft = schedule.median_scheduled_ttft_ms.unwrap();
    assert!(scheduled_ttft > 300.0, "no backlog: {schedule:?}");
    assert_eq!(level.slo_ttft_met, Some(1.0));
    assert_eq!(level.slo_met, Some(1.0));
    assert_eq!(level.request_goodput, Some(level.request_throughput));
    assert_eq!(level.meets_slo, Some(true));
    // The objective is applied at all: under 60 ms nothing meets it.
    let run_59 = run(&level_toml(59.0), |_| Vec::new()).await;
    let level = &run_59.report.engines[0].levels[0];
    assert_eq!(level.slo_met, Some(0.0));
    assert_eq!(level.request_goodput, Some(0.0));
    assert_eq!(level.meets_slo, Some(false));
    server.shutdown().await;
}
