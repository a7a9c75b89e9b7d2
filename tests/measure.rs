//! Numbers that mean what they say: pause accounting, the steady-state window and achieved
//! concurrency, exact percentiles, per-level defaults, warmup skips, rate-mode lateness,
//! coalesced chunks, clean stream ends and connection reuse.
//!
//! Everything runs on tokio's paused clock against the simulator's `fixed` timings (50 ms
//! prefill, then 10 ms per token, any batch size), so the expected numbers are exact.

use crate::common;

use std::time::Duration;

use common::*;
use llmsweep::client::ErrorClass;
use llmsweep::events::{Control, Event};
use llmsweep::results::model::{LevelStatus, LevelSummary, ThroughputBasis};
use llmsweep::sim::{Faults, FIXED};

/// 20 tokens on `fixed`: TTFT 60 ms, E2E 250 ms.
const TOKENS: u32 = 20;

fn only_level(outcome: &llmsweep::driver::RunOutcome) -> LevelSummary {
    outcome.report.engines[0].levels[0].clone()
}

fn engine(url: &str) -> String {
    format!("[[engines]]\nname = \"e\"\nurl = {url:?}\nmodel = \"sim\"\n\n")
}

#[tokio::test(start_paused = true)]
async fn a_pause_while_requests_are_in_flight_does_not_inflate_throughput() {
    let sim = sim(FIXED, Faults::default()).await;
    let plan = || sweep_plan(&[("e", sim.chat_url())], &[8], 32, TOKENS);
    let unpaused = only_level(&Run::start(plan()).outcome().await);

    let mut run = Run::start(plan());
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    // 8 in flight with 150 ms of generation left when the key is pressed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    run.send(Control::Pause).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    run.send(Control::Resume).await;
    let paused = only_level(&run.outcome().await);

    assert_eq!((unpaused.completed, paused.completed), (32, 32));
    // Four waves of 250 ms: the paused level's active time is the same second, not a
    // second minus the 150 ms its in-flight requests generated after the press.
    assert!(
        (unpaused.duration - 1.0).abs() < 0.005,
        "{}",
        unpaused.duration
    );
    let ratio = paused.output_throughput / unpaused.output_throughput;
    assert!(
        (ratio - 1.0).abs() < 0.05,
        "paused {} vs unpaused {} tok/s",
        paused.output_throughput,
        unpaused.output_throughput
    );
}

#[tokio::test(start_paused = true)]
async fn a_level_larger_than_its_requests_reports_the_concurrency_it_reached() {
    let sim = sim(FIXED, Faults::default()).await;
    let mut run = Run::start(sweep_plan(&[("e", sim.chat_url())], &[64], 50, TOKENS));
    let (events, outcome) = run.finish().await;
    let level = only_level(&outcome);
    assert_eq!(level.max_concurrency, 64);
    assert_eq!(level.achieved_peak_concurrency, 50);
    assert_eq!(level.steady_window_s, None);
    assert_eq!(level.throughput_basis(), ThroughputBasis::WholeLevel);
    let want = "C=64: at most 50 requests were in flight, never 64; the level did not run at its concurrency: set requests_per_level ≥ 4 × C (256) or duration_s";
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Warning { text, .. } if text == want)),
        "no warning {want:?}"
    );
    assert!(outcome.report.warnings.contains(&format!("e: {want}")));
}

#[tokio::test(start_paused = true)]
async fn the_steady_window_leaves_out_ramp_up_and_the_ragged_tail() {
    let sim = sim(FIXED, Faults::default()).await;
    // C = 4, 18 requests of 250 ms: four full waves (0–1 s), then 2 alone (1–1.25 s).
    let mut run = Run::start(sweep_plan(&[("e", sim.chat_url())], &[4], 18, TOKENS));
    let level = only_level(&run.outcome().await);
    assert_eq!(level.completed, 18);
    assert!((level.duration - 1.25).abs() < 0.005, "{}", level.duration);
    assert_eq!(level.achieved_peak_concurrency, 4);
    // 18 × 0.25 s in flight over 1.25 s.
    assert!(
        (level.mean_concurrency - 3.6).abs() < 0.02,
        "{}",
        level.mean_concurrency
    );
    // The window: 4 in flight from the start to the first idle worker at 1 s.
    let window = level.steady_window_s.expect("a window");
    assert!((window - 1.0).abs() < 0.005, "{window}");
    assert_eq!(level.steady_completed, 16);
    let steady = level.steady_request_throughput.expect("steady");
    assert!((steady - 16.0).abs() < 0.1, "{steady}");
    assert!((level.request_throughput - 14.4).abs() < 0.1);
    assert_eq!(level.throughput_basis(), ThroughputBasis::Steady);
    assert_eq!(level.plotted_request_throughput(), steady);
    let tokens = level.steady_output_throughput.expect("steady tokens");
    assert!((tokens - 16.0 * TOKENS as f64).abs() < 2.0, "{tokens}");
}

#[tokio::test(start_paused = true)]
async fn unset_request_counts_scale_with_the_level() {
    let sim = sim(quick(), Faults::default()).await;
    let toml = format!(
        "{}[sweep]\nlevels = [2, 16]\n\n[request]\nmax_tokens = 4\n",
        engine(&sim.chat_url())
    );
    let mut run = Run::start(plan(config(&toml)));
    let outcome = run.outcome().await;
    let counts: Vec<u64> = outcome.report.engines[0]
        .levels
        .iter()
        .map(|l| l.completed)
        .collect();
    // max(50, 4 × C).
    assert_eq!(counts, [50, 64]);
    assert!(outcome.report.workload.requests_scale_with_concurrency);
}

/// Linear interpolation between closest ranks (numpy's default), written out again here so
/// the test does not share the code under test.
fn numpy_percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = p / 100.0 * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (rank - lo as f64)
}

#[tokio::test(start_paused = true)]
async fn level_percentiles_interpolate_the_requests_exact_values() {
    // Costs per sequence and per prompt token, and a different length per prompt, so the
    // values are spread and nearest-rank would differ from interpolation.
    let profile = llmsweep::sim::Profile {
        decode_per_seq_us: 700,
        prefill_us_per_token: 900,
        ..FIXED
    };
    let sim = sim(profile, Faults::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("prompts.jsonl");
    let lines: Vec<String> = (2..=11)
        .map(|n| {
            format!(
                "{{\"prompt\": \"{}\", \"max_tokens\": {n}}}",
                "word ".repeat(n * 3)
            )
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).expect("write prompts");
    let toml = format!(
        "{}[sweep]\nlevels = [3]\nrequests_per_level = 11\n\n[prompts]\nfile = {:?}\n",
        engine(&sim.chat_url()),
        file.display().to_string()
    );
    let mut run = Run::start(plan(config(&toml)));
    let level = only_level(&run.outcome().await);
    let lines = run.requests();
    let values =
        |key: &str| -> Vec<f64> { lines.iter().map(|l| l[key].as_f64().unwrap()).collect() };
    for (key, got) in [
        (
            "ttft_ms",
            [
                level.median_ttft_ms,
                level.p90_ttft_ms,
                level.p95_ttft_ms,
                level.p99_ttft_ms,
            ],
        ),
        (
            "e2el_ms",
            [
                level.median_e2el_ms,
                level.p90_e2el_ms,
                level.p95_e2el_ms,
                level.p99_e2el_ms,
            ],
        ),
        (
            "tpot_ms",
            [
                level.median_tpot_ms,
                level.p90_tpot_ms,
                level.p95_tpot_ms,
                level.p99_tpot_ms,
            ],
        ),
    ] {
        let v = values(key);
        for (p, got) in [50.0, 90.0, 95.0, 99.0].into_iter().zip(got) {
            let want = numpy_percentile(&v, p);
            let got = got.expect("a value");
            assert!(
                (got - want).abs() <= 0.001,
                "{key} p{p}: {got} vs {want} over {v:?}"
            );
        }
    }
    // p99 of 11 spread values lies between the two largest, not on the max.
    assert!(level.p99_e2el_ms < level.max_e2el_ms, "{level:?}");
    assert!(level.median_e2el_ms < level.p90_e2el_ms, "{level:?}");
}

#[tokio::test(start_paused = true)]
async fn a_skip_during_warmup_is_kept_as_a_skipped_level() {
    let sim = sim(FIXED, Faults::default()).await;
    let toml = format!(
        "{}[sweep]\nlevels = [1, 2]\nrequests_per_level = 2\nwarmup_requests = 4\n\n[request]\nmax_tokens = {TOKENS}\n",
        engine(&sim.chat_url())
    );
    // Without the preflight: the skip is timed to land in the first level's warmup, and the
    // probe (60 ms and more on FIXED) would take that time.
    let mut run = Run::start_no_check(plan(config(&toml)));
    run.until(|e| matches!(e, Event::State(_))).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    run.send(Control::SkipLevel).await;
    let outcome = run.outcome().await;
    let levels = &outcome.report.engines[0].levels;
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[0].status, LevelStatus::Skipped);
    assert_eq!(
        levels[0].skipped_reason.as_deref(),
        Some("skipped during warmup")
    );
    assert_eq!((levels[0].level, levels[0].completed), (1.0, 0));
    assert_eq!(levels[1].status, LevelStatus::Complete);
    assert_eq!(levels[1].completed, 2);
}

#[tokio::test(start_paused = true)]
async fn a_pause_while_waiting_for_a_slot_is_not_lateness() {
    let sim = sim(FIXED, Faults::default()).await;
    // 100 req/s with near-constant gaps, one slot: request 1 is due at ~10 ms and waits for
    // request 0 (250 ms). A 10 s pause from 100 ms covers the rest of that wait.
    let toml = format!(
        "{}[sweep]\nmode = \"rate\"\nlevels = [100]\nrequests_per_level = 2\nburstiness = 1000000\nmax_concurrency = 1\n\n[request]\nmax_tokens = {TOKENS}\n",
        engine(&sim.chat_url())
    );
    let mut run = Run::start(plan(config(&toml)));
    run.until(|e| matches!(e, Event::LevelStarted { .. })).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    run.send(Control::Pause).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    run.send(Control::Resume).await;
    run.outcome().await;
    let lines = run.requests();
    let second = lines
        .iter()
        .find(|l| l["request_index"] == 1)
        .expect("request 1");
    // Late from its due time (~10 ms) to the press (100 ms): ~90 ms, not the 240 ms that
    // counting the pause after the slot freed would give.
    let queue = second["queue_ms"].as_f64().unwrap();
    assert!((queue - 90.0).abs() < 1.0, "queue {queue} ms");
}

#[tokio::test(start_paused = true)]
async fn rate_mode_stamps_lateness_where_it_sends() {
    // Uncapped: every request goes out at its scheduled time; what it is late by (the
    // timer's 1 ms granularity) is stamped with the send, so send − lateness = schedule.
    let sim = sim(FIXED, Faults::default()).await;
    let toml = format!(
        "{}[sweep]\nmode = \"rate\"\nlevels = [20]\nrequests_per_level = 12\n\n[request]\nmax_tokens = 4\n",
        engine(&sim.chat_url())
    );
    let plan = plan(config(&toml));
    let seed = plan.seed ^ llmsweep::plan::mix(1);
    let mut run = Run::start(plan);
    let level = only_level(&run.outcome().await);
    assert_eq!(level.completed, 12);
    let mut due = Duration::ZERO;
    let mut arrivals = llmsweep::driver::arrivals::Arrivals::new(20.0, 1.0, seed);
    let mut lines = run.requests();
    lines.sort_by_key(|l| l["request_index"].as_u64());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            due += arrivals.next().expect("an arrival");
        }
        let sent = line["sent_at_ms"].as_f64().unwrap();
        let queue = line["queue_ms"].as_f64().unwrap();
        assert!(queue < 1.0, "{line}");
        let due_ms = due.as_secs_f64() * 1e3;
        assert!(
            (sent - queue - due_ms).abs() < 0.002,
            "due {due_ms} ms: {line}"
        );
    }
}

/// Starts a server that answers every request with `body` as one SSE write, then closes.
async fn one_write_server(body: &'static str) -> RawServer {
    raw_server(move |_| http_response("200 OK", "text/event-stream", body)).await
}

#[tokio::test]
async fn a_usage_chunk_does_not_end_a_stream_that_has_no_finish() {
    // Per-chunk usage (`continuous_usage_stats`): the stream is cut before any finish or
    // [DONE] but closes cleanly.
    let server = one_write_server(concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":null}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
    ))
    .await;
    let e = client(&server.url)
        .send(body("chat", 8, true), "r-1")
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::EndedEarly, "{e:?}");
}

#[tokio::test]
async fn chunks_of_one_read_are_counted_as_coalesced() {
    let server = one_write_server(concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"c\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
        "data: [DONE]\n\n",
    ))
    .await;
    let t = client(&server.url)
        .send(body("chat", 3, true), "r-1")
        .await
        .expect("ok");
    assert_eq!(t.itl_us.len(), 2);
    assert_eq!(t.coalesced_chunks, 2);
}

#[tokio::test(start_paused = true)]
async fn chunks_of_separate_reads_are_not_coalesced() {
    let sim = sim(FIXED, Faults::default()).await;
    let t = client(&sim.chat_url())
        .send(body("chat", 5, true), "r-1")
        .await
        .expect("ok");
    assert_eq!((t.itl_us.len(), t.coalesced_chunks), (4, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_level_keeps_its_connections_alive_and_the_next_reuses_them() {
    let sim = sim(quick(), Faults::default()).await;
    let toml = format!(
        "{}[sweep]\nlevels = [4, 4]\nrequests_per_level = 40\n\n[request]\nmax_tokens = 4\n",
        engine(&sim.chat_url())
    );
    let mut run = Run::start(plan(config(&toml)));
    let outcome = run.outcome().await;
    let opened: Vec<u64> = outcome.report.engines[0]
        .levels
        .iter()
        .map(|l| l.connections_opened)
        .collect();
    // Keep-alive works: every stream is read to its end, so its connection goes back to
    // the pool (without that: [8, 3] and more). One connection more than C now and then is
    // hyper-util's pool racing a fresh connect against an idle connection's return
    // (55 runs here: [4, 0] 46×, [4, 1] 6×, [5, 0] 3×); the bounds leave room for two.
    assert!(opened[0] <= 4 + 2, "{opened:?}");
    assert!(opened[1] <= 2, "{opened:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_level_never_counts_more_in_flight_than_c() {
    // Real clock, busy channel: each request's interval is stamped where it ran, so a worker's
    // next request never overlaps its last one on the level's timeline.
    let sim = sim(
        llmsweep::sim::Profile::by_name("fast").unwrap(),
        Faults::default(),
    )
    .await;
    let toml = format!(
        "{}[sweep]\nlevels = [1, 4, 16]\nrequests_per_level = 300\n\n[request]\nmax_tokens = 8\n",
        engine(&sim.chat_url())
    );
    let mut run = Run::start(plan(config(&toml)));
    let outcome = run.outcome().await;
    let peaks: Vec<u32> = outcome.report.engines[0]
        .levels
        .iter()
        .map(|l| l.achieved_peak_concurrency)
        .collect();
    assert_eq!(peaks, [1, 4, 16]);
}
