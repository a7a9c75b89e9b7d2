//! The recorder of one (engine, level): exact per-request values for percentiles (with
//! hdrhistograms beside them for live snapshots), each request's in-flight interval for the
//! achieved concurrency and the steady-state window, and counters.
//! Memory is bounded: at most [`super::dist::EXACT_LIMIT`] values per metric.

use std::collections::BTreeMap;

use super::conversations::ConversationRecorder;
use super::dist::{Dist, Stats};
use super::prefix_cache::PrefixCacheCounter;
use super::reasoning::ReasoningRecorder;
use super::sample::Sample;
use super::slo::SloCounter;
use super::steady::{self, Interval, Output};
use super::window::RateWindow;
use crate::client::ErrorClass;
use crate::config::SloConfig;
use crate::events::Snapshot;
use crate::results::model::{error_rate, LevelStatus, LevelSummary, ScheduleStats, LATE_START_MS};

/// Aggregates of one level in progress.
#[derive(Debug, Clone, Default)]
pub struct LevelRecorder {
    ttft: Dist,
    e2el: Dist,
    itl: Dist,
    tpot: Dist,
    completed: u64,
    failed: u64,
    cancelled: u64,
    input_tokens: u64,
    output_tokens: u64,
    estimated: bool,
    queue_sum_us: f64,
    coalesced_chunks: u64,
    errors: BTreeMap<ErrorClass, u64>,
    /// First message per class, as an example for results and the screen.
    examples: BTreeMap<ErrorClass, String>,
    window: RateWindow,
    /// Each finished request's time in flight (cancelled ones included: they held a slot),
    /// bounded like the exact values.
    intervals: Vec<Interval>,
    /// Rate mode: latencies from the scheduled send time, late starts.
    open_loop: bool,
    scheduled_ttft: Dist,
    scheduled_e2el: Dist,
    late_starts: u64,
    /// Goodput counts, when `[slo]` sets an objective.
    slo: Option<SloCounter>,
    /// TTFA, TTFR and reasoning tokens.
    reasoning: ReasoningRecorder,
    /// Cached prompt tokens, as the engine reported them.
    prefix_cache: PrefixCacheCounter,
    /// `[prompts] conversations`: per turn and per conversation.
    conversations: ConversationRecorder,
}

/// What a recorder measures beyond the basics.
#[derive(Debug, Clone, Default)]
pub struct RecorderOptions {
    /// Rate mode: summarise latencies from the scheduled send time too.
    pub open_loop: bool,
    /// Count requests meeting these objectives.
    pub slo: Option<SloConfig>,
}

/// How a level's measured phase went, from the driver.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LevelRun {
    /// The level's value: concurrency, or req/s in rate mode.
    pub level: f64,
    /// Requests kept in flight (closed loop) or the cap (rate mode; 0 = none).
    pub max_concurrency: u32,
    /// Active time, s.
    pub duration_s: f64,
    /// Cut short by a skip, quit or signal.
    pub cut_short: bool,
    /// TCP connections opened during the level.
    pub connections_opened: u64,
    /// Closed loop: active time, µs, at which the first worker found no more work (the end
    /// of the steady-state window); `None` = the last completion (a level cut short).
    pub drain_from_us: Option<u64>,
}

/// The six statistics of a distribution as the summary's optional fields.
fn split(stats: Option<Stats>) -> [Option<f64>; 6] {
    match stats {
        Some(s) => [s.mean_ms, s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.max_ms].map(Some),
        None => [None; 6],
    }
}

impl LevelRecorder {
    pub fn new(options: RecorderOptions) -> LevelRecorder {
        LevelRecorder {
            open_loop: options.open_loop,
            slo: options.slo.filter(SloConfig::any).map(SloCounter::new),
            ..LevelRecorder::default()
        }
    }

    /// Records one finished request that completed at level-active time `done_us`.
    pub fn record(&mut self, sample: &Sample, done_us: u64) {
        if sample.queue_us as f64 > LATE_START_MS * 1e3 {
            self.late_starts += 1;
        }
        self.conversations.record(sample);
        let mut interval = Interval {
            sent_us: done_us.saturating_sub(sample.in_flight_us),
            done_us,
            output: None,
        };
        match &sample.result {
            Ok(t) => {
                if self.open_loop {
                    self.scheduled_ttft.record(t.ttft_us + sample.queue_us);
                    self.scheduled_e2el.record(t.e2e_us + sample.queue_us);
                }
                if let Some(slo) = &mut self.slo {
                    slo.record(t);
                }
                self.completed += 1;
                // Before this request's TTFT joins the distribution a TTFA one may copy.
                self.reasoning.record(t, &self.ttft);
                self.prefix_cache.record(t);
                self.ttft.record(t.ttft_us);
                self.e2el.record(t.e2e_us);
                for &gap in &t.itl_us {
                    self.itl.record(gap as u64);
                }
                if let Some(tpot) = t.tpot_us() {
                    self.tpot.record(tpot.round() as u64);
                }
                self.input_tokens += t.input_tokens.unwrap_or(0);
                self.output_tokens += t.output_tokens;
                self.estimated |= t.output_tokens_estimated;
                self.coalesced_chunks += t.coalesced_chunks as u64;
                self.queue_sum_us += sample.queue_us as f64;
                self.window.add(done_us / 1_000, t.output_tokens);
                interval.output = Some(Output {
                    first_us: interval.sent_us + t.ttft_us,
                    last_us: interval.sent_us + t.e2e_us,
                    tokens: t.output_tokens,
                });
            }
            Err(e) if e.class == ErrorClass::Cancelled => self.cancelled += 1,
            Err(e) => {
                self.failed += 1;
                *self.errors.entry(e.class).or_default() += 1;
                self.examples
                    .entry(e.class)
                    .or_insert_with(|| e.message.clone());
            }
        }
        if self.intervals.len() < super::dist::EXACT_LIMIT {
            self.intervals.push(interval);
        }
    }

    /// Requests finished so far, cancelled ones included.
    /// The level's latency histograms, µs, by `.hlog` tag.
    pub fn histograms(&self) -> [(&'static str, &hdrhistogram::Histogram<u64>); 4] {
        [
            ("ttft", self.ttft.histogram()),
            ("e2el", self.e2el.histogram()),
            ("itl", self.itl.histogram()),
            ("tpot", self.tpot.histogram()),
        ]
    }

    /// The live numbers at level-active time `now_ms`.
    pub fn snapshot(&self, now_ms: u64) -> Snapshot {
        let (request_throughput, output_throughput) = self.window.rates(now_ms);
        Snapshot {
            elapsed_ms: now_ms,
            completed: self.completed,
            failed: self.failed,
            request_throughput,
            output_throughput,
            ttft_mean_ms: self.ttft.live_mean_ms(),
            ttft_p50_ms: self.ttft.live_quantile_ms(0.5),
            ttft_p99_ms: self.ttft.live_quantile_ms(0.99),
            e2el_p50_ms: self.e2el.live_quantile_ms(0.5),
            e2el_p99_ms: self.e2el.live_quantile_ms(0.99),
            ..Snapshot::default()
        }
    }

    /// The level's results. A level where most requests failed is `Failed`, whatever
    /// `run.cut_short` says.
    pub fn summary(&self, run: LevelRun) -> LevelSummary {
        let duration_s = run.duration_s;
        let attempted = self.completed + self.failed;
        let error_rate = error_rate(self.completed, self.failed);
        let status = LevelStatus::of(self.completed, self.failed, run.cut_short);
        let per_s = |x: f64| {
            if duration_s > 0.0 {
                x / duration_s
            } else {
                0.0
            }
        };
        let [mean_ttft_ms, median_ttft_ms, p90_ttft_ms, p95_ttft_ms, p99_ttft_ms, max_ttft_ms] =
            split(self.ttft.stats());
        let [mean_tpot_ms, median_tpot_ms, p90_tpot_ms, p95_tpot_ms, p99_tpot_ms, max_tpot_ms] =
            split(self.tpot.stats());
        let [mean_itl_ms, median_itl_ms, p90_itl_ms, p95_itl_ms, p99_itl_ms, max_itl_ms] =
            split(self.itl.stats());
        let [mean_e2el_ms, median_e2el_ms, p90_e2el_ms, p95_e2el_ms, p99_e2el_ms, max_e2el_ms] =
            split(self.e2el.stats());
        let schedule = self.open_loop.then(|| {
            let [mean_scheduled_ttft_ms, median_scheduled_ttft_ms, _, _, p99_scheduled_ttft_ms, _] =
                split(self.scheduled_ttft.stats());
            let [mean_scheduled_e2el_ms, median_scheduled_e2el_ms, _, _, p99_scheduled_e2el_ms, _] =
                split(self.scheduled_e2el.stats());
            ScheduleStats {
                mean_scheduled_ttft_ms,
                median_scheduled_ttft_ms,
                p99_scheduled_ttft_ms,
                mean_scheduled_e2el_ms,
                median_scheduled_e2el_ms,
                p99_scheduled_e2el_ms,
                late_starts: self.late_starts,
            }
        });
        let slo = self
            .slo
            .as_ref()
            .and_then(|slo| slo.summary(attempted, duration_s));
        let active_us = (duration_s * 1e6).round() as u64;
        let concurrency = steady::concurrency(&self.intervals, active_us);
        let window = if self.open_loop {
            steady::open_loop_window(&self.intervals)
        } else {
            steady::closed_loop_window(
                &self.intervals,
                run.max_concurrency.max(1),
                run.drain_from_us,
            )
        };
        let gaps = self.itl.len();
        LevelSummary {
            level: run.level,
            max_concurrency: run.max_concurrency,
            status,
            duration: duration_s,
            completed: self.completed,
            failed: self.failed,
            cancelled: self.cancelled,
            error_rate,
            total_input_tokens: self.input_tokens,
            total_output_tokens: self.output_tokens,
            output_tokens_estimated: self.estimated,
            request_throughput: per_s(self.completed as f64),
            output_throughput: per_s(self.output_tokens as f64),
            total_token_throughput: per_s((self.input_tokens + self.output_tokens) as f64),
            mean_output_tokens: if self.completed == 0 {
                0.0
            } else {
                self.output_tokens as f64 / self.completed as f64
            },
            mean_ttft_ms,
            median_ttft_ms,
            p90_ttft_ms,
            p95_ttft_ms,
            p99_ttft_ms,
            max_ttft_ms,
            mean_tpot_ms,
            median_tpot_ms,
            p90_tpot_ms,
            p95_tpot_ms,
            p99_tpot_ms,
            max_tpot_ms,
            mean_itl_ms,
            median_itl_ms,
            p90_itl_ms,
            p95_itl_ms,
            p99_itl_ms,
            max_itl_ms,
            mean_e2el_ms,
            median_e2el_ms,
            p90_e2el_ms,
            p95_e2el_ms,
            p99_e2el_ms,
            max_e2el_ms,
            reasoning: self.reasoning.stats(self.output_tokens),
            prefix_cache: self.prefix_cache.stats(),
            conversations: self.conversations.stats(),
            percentiles_from_histogram: [&self.ttft, &self.e2el, &self.itl, &self.tpot]
                .iter()
                .any(|d| d.approximate())
                || self.reasoning.approximate(),
            achieved_peak_concurrency: concurrency.peak,
            mean_concurrency: concurrency.mean,
            steady_window_s: window.map(|w| w.seconds()),
            steady_completed: window.map(|w| w.completed).unwrap_or(0),
            steady_request_throughput: window.map(|w| w.request_throughput()),
            steady_output_throughput: window.map(|w| w.output_throughput()),
            coalesced_chunks: self.coalesced_chunks,
            coalesced_fraction: if gaps == 0 {
                0.0
            } else {
                self.coalesced_chunks as f64 / gaps as f64
            },
            connections_opened: run.connections_opened,
            skipped_reason: None,
            server: None,
            mean_client_queue_ms: if self.completed == 0 {
                0.0
            } else {
                self.queue_sum_us / self.completed as f64 / 1e3
            },
            errors: self
                .errors
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), *v))
                .collect(),
            error_examples: self
                .examples
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect(),
            schedule,
            request_goodput: slo.map(|s| s.request_goodput),
            slo_met: slo.map(|s| s.slo_met),
            slo_ttft_met: slo.and_then(|s| s.slo_ttft_met),
            slo_tpot_met: slo.and_then(|s| s.slo_tpot_met),
            slo_e2e_met: slo.and_then(|s| s.slo_e2e_met),
            meets_slo: slo.map(|s| s.meets_slo),
            trial: None,
            trials: Vec::new(),
            intervals: window.and_then(|w| super::batches::intervals(&self.intervals, &w)),
            // Filled by the driver from its health monitor.
            client_cpu_cores: 0.0,
            client_loop_lag_p99_ms: 0.0,
            client_limited: false,
            client_state: Default::default(),
            host: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{RequestError, Timings};

    fn ok(ttft_us: u64, e2e_us: u64, tokens: u64) -> Sample {
        Sample {
            request_index: 0,
            request_id: String::new(),
            prompt_index: 0,
            sent_at_ms: 0.0,
            queue_us: 0,
            in_flight_us: e2e_us,
            finished_at: tokio::time::Instant::now(),
            result: Ok(Timings {
                ttft_us,
                e2e_us,
                itl_us: vec![((e2e_us - ttft_us) / (tokens - 1)) as u32; (tokens - 1) as usize],
                output_tokens: tokens,
                output_tokens_estimated: false,
                input_tokens: Some(10),
                coalesced_chunks: 0,
                role_only_first_chunk: false,
                ttfa_us: Some(ttft_us),
                ..Timings::default()
            }),
            turn: None,
        }
    }

    fn err(class: ErrorClass) -> Sample {
        Sample {
            result: Err(RequestError::new(class, "boom")),
            ..ok(1, 2, 2)
        }
    }

    #[test]
    fn summary_over_successes_only() {
        let mut r = LevelRecorder::default();
        r.record(&ok(50_000, 150_000, 11), 150_000);
        r.record(&ok(70_000, 170_000, 11), 170_000);
        r.record(&err(ErrorClass::HttpStatus), 300_000);
        r.record(&err(ErrorClass::Cancelled), 300_000);
        let s = r.summary(run(2.0, false));
        assert_eq!((s.completed, s.failed, s.cancelled), (2, 1, 1));
        assert_eq!(s.mean_ttft_ms, Some(60.0));
        // Two values: p50 is their mean, not the lower one.
        assert_eq!(s.median_ttft_ms, Some(60.0));
        assert_eq!(s.max_ttft_ms, Some(70.0));
        assert_eq!(s.mean_tpot_ms, Some(10.0));
        assert_eq!(s.mean_itl_ms, Some(10.0));
        assert_eq!(s.total_output_tokens, 22);
        assert_eq!(s.request_throughput, 1.0);
        assert_eq!(s.output_throughput, 11.0);
        assert!((s.error_rate - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.errors.get("http_status"), Some(&1));
        assert_eq!(s.errors.get("cancelled"), None);
        assert_eq!(s.status, LevelStatus::Complete);
        assert_eq!(r.summary(run(2.0, true)).status, LevelStatus::Skipped);
    }

    #[test]
    fn a_send_more_than_10_ms_behind_its_schedule_is_a_late_start() {
        let mut r = LevelRecorder::new(RecorderOptions {
            open_loop: true,
            slo: None,
        });
        for queue_us in [0, 10_000, 10_001, 250_000] {
            r.record(
                &Sample {
                    queue_us,
                    ..ok(1_000, 2_000, 2)
                },
                5_000,
            );
        }
        let schedule = r.summary(run(1.0, false)).schedule.expect("rate mode");
        assert_eq!(schedule.late_starts, 2, "exactly 10 ms late is on time");
    }

    #[test]
    fn the_live_snapshot_carries_counts_rates_and_latencies() {
        let mut r = LevelRecorder::default();
        // Four successes finishing at 0.5 s intervals, 11 tokens each; one failure.
        for (i, (ttft, e2e)) in [
            (10_000, 100_000),
            (20_000, 200_000),
            (30_000, 300_000),
            (40_000, 400_000),
        ]
        .into_iter()
        .enumerate()
        {
            r.record(&ok(ttft, e2e, 11), 500_000 * (i as u64 + 1));
        }
        r.record(&err(ErrorClass::HttpStatus), 2_000_000);
        let s = r.snapshot(2_000);
        assert_eq!(s.elapsed_ms, 2_000);
        assert_eq!((s.completed, s.failed), (4, 1));
        // The rate window's last 2 s: 4 successes, 44 tokens over the 1.9 s its buckets cover.
        assert!(
            (s.request_throughput - 4.0 / 1.9).abs() < 1e-9,
            "{}",
            s.request_throughput
        );
        assert!(
            (s.output_throughput - 44.0 / 1.9).abs() < 1e-9,
            "{}",
            s.output_throughput
        );
        assert_eq!(s.ttft_mean_ms, Some(25.0));
        // The live quantiles come from the histogram: within its 3 significant digits.
        let near = |v: Option<f64>, want: f64| (v.unwrap() - want).abs() <= want * 0.01;
        assert!(near(s.ttft_p50_ms, 20.0), "{:?}", s.ttft_p50_ms);
        assert!(near(s.ttft_p99_ms, 40.0), "{:?}", s.ttft_p99_ms);
        assert!(near(s.e2el_p50_ms, 200.0), "{:?}", s.e2el_p50_ms);
        assert!(near(s.e2el_p99_ms, 400.0), "{:?}", s.e2el_p99_ms);
    }

    #[test]
    fn totals_add_up_and_scheduled_latencies_include_the_clients_wait() {
        let mut r = LevelRecorder::new(RecorderOptions {
            open_loop: true,
            slo: None,
        });
        let mut estimated = ok(10_000, 110_000, 11);
        if let Ok(t) = &mut estimated.result {
            t.output_tokens_estimated = true;
            t.input_tokens = Some(7);
        }
        r.record(
            &Sample {
                queue_us: 5_000,
                ..ok(10_000, 110_000, 11)
            },
            110_000,
        );
        r.record(
            &Sample {
                queue_us: 15_000,
                ..estimated
            },
            200_000,
        );
        let s = r.summary(run(1.0, false));
        assert_eq!(s.total_input_tokens, 17, "10 + 7");
        assert_eq!(s.mean_output_tokens, 11.0, "22 tokens over 2 replies");
        // (17 input + 22 output tokens) over the level's 1 s.
        assert_eq!(s.total_token_throughput, 39.0);
        // A level with no active time has no rates (not infinite ones).
        let still = r.summary(run(0.0, false));
        assert_eq!(
            (
                still.request_throughput,
                still.output_throughput,
                still.total_token_throughput
            ),
            (0.0, 0.0, 0.0)
        );
        assert!(
            s.output_tokens_estimated,
            "one estimated reply marks the level"
        );
        assert_eq!(s.mean_client_queue_ms, 10.0);
        let schedule = s.schedule.unwrap();
        // From the scheduled send: TTFT 10 ms + the wait, E2E 110 ms + the wait.
        assert_eq!(schedule.mean_scheduled_ttft_ms, Some(20.0));
        assert_eq!(schedule.mean_scheduled_e2el_ms, Some(120.0));
        let mut exact = LevelRecorder::default();
        exact.record(&ok(10_000, 110_000, 11), 110_000);
        exact.record(&ok(10_000, 110_000, 11), 200_000);
        assert!(!exact.summary(run(1.0, false)).output_tokens_estimated);
    }

    #[test]
    fn mostly_failed_level_is_failed_not_fast() {
        let mut r = LevelRecorder::default();
        r.record(&ok(1_000, 2_000, 2), 1);
        r.record(&err(ErrorClass::Connect), 1);
        r.record(&err(ErrorClass::Connect), 1);
        assert_eq!(r.summary(run(0.1, false)).status, LevelStatus::Failed);
        // As many failures as successes: not mostly failed.
        let mut even = LevelRecorder::default();
        even.record(&ok(1_000, 2_000, 2), 1);
        even.record(&err(ErrorClass::Connect), 1);
        assert_eq!(even.summary(run(0.1, false)).status, LevelStatus::Complete);
    }

    fn run(duration_s: f64, cut_short: bool) -> LevelRun {
        LevelRun {
            level: 2.0,
            max_concurrency: 2,
            duration_s,
            cut_short,
            connections_opened: 0,
            drain_from_us: None,
        }
    }

    #[test]
    fn a_level_without_a_success_has_no_latencies() {
        let mut r = LevelRecorder::default();
        r.record(&err(ErrorClass::HttpStatus), 10);
        let s = r.summary(run(1.0, false));
        for v in [
            s.mean_ttft_ms,
            s.median_e2el_ms,
            s.p99_itl_ms,
            s.max_tpot_ms,
        ] {
            assert_eq!(v, None);
        }
        // One-token replies: TTFT and E2E, but no TPOT or ITL.
        let mut r = LevelRecorder::default();
        let mut one = ok(5_000, 5_000, 2);
        if let Ok(t) = &mut one.result {
            t.output_tokens = 1;
            t.itl_us.clear();
        }
        r.record(&one, 5_000);
        let s = r.summary(run(1.0, false));
        assert_eq!(
            (s.mean_ttft_ms, s.mean_tpot_ms, s.mean_itl_ms),
            (Some(5.0), None, None)
        );
    }

    #[test]
    fn percentiles_interpolate_between_the_exact_values() {
        let mut r = LevelRecorder::default();
        for (i, ttft) in [10_000u64, 20_000, 30_000, 40_000].into_iter().enumerate() {
            r.record(&ok(ttft, ttft + 10_000, 2), (i as u64 + 1) * 50_000);
        }
        let s = r.summary(run(1.0, false));
        // numpy: np.percentile([10, 20, 30, 40], [50, 90, 95, 99]) = [25, 37, 38.5, 39.7]
        let got = [
            s.median_ttft_ms,
            s.p90_ttft_ms,
            s.p95_ttft_ms,
            s.p99_ttft_ms,
        ]
        .map(Option::unwrap);
        for (g, w) in got.iter().zip([25.0, 37.0, 38.5, 39.7]) {
            assert!((g - w).abs() < 1e-9, "{got:?}");
        }
        // p99 sits below p100 (the max) and above p50: never swapped.
        assert!(s.p99_ttft_ms < s.max_ttft_ms && s.median_ttft_ms < s.p99_ttft_ms);
    }

    #[test]
    fn reasoning_and_cached_tokens_reach_the_summary() {
        let mut r = LevelRecorder::default();
        r.record(&ok(10_000, 110_000, 11), 110_000);
        let mut thinking = ok(20_000, 120_000, 11);
        if let Ok(t) = &mut thinking.result {
            t.ttfr_us = Some(20_000);
            t.ttfa_us = Some(70_000);
            t.reasoning_tokens = Some(5);
            t.cached_tokens = Some(4);
        }
        r.record(&thinking, 120_000);
        let s = r.summary(run(1.0, false));
        // TTFT is the first output of either kind, as ever.
        assert_eq!(s.mean_ttft_ms, Some(15.0));
        // TTFA: the plain reply's TTFT (10 ms) and the thinking reply's answer (70 ms).
        assert_eq!(s.reasoning.mean_ttfa_ms, Some(40.0));
        assert_eq!(s.reasoning.mean_ttfr_ms, Some(20.0));
        assert_eq!(s.reasoning.reasoning_requests, 1);
        assert_eq!(s.reasoning.total_reasoning_tokens, Some(5));
        assert_eq!(s.reasoning.reasoning_share, Some(5.0 / 22.0));
        // Only the thinking reply reported cached tokens: 4 of its 10.
        assert_eq!(s.prefix_cache.total_cached_tokens, Some(4));
        assert_eq!(s.prefix_cache.cached_fraction, Some(0.4));
        // Without either, the summary has neither.
        let mut plain = LevelRecorder::default();
        plain.record(&ok(10_000, 110_000, 11), 110_000);
        let s = plain.summary(run(1.0, false));
        assert!(!s.reasoning.any());
        assert_eq!(s.prefix_cache.total_cached_tokens, None);
    }

    #[test]
    fn coalesced_chunks_are_counted_over_the_gaps() {
        let mut r = LevelRecorder::default();
        let mut sample = ok(1_000, 11_000, 11);
        if let Ok(t) = &mut sample.result {
            t.coalesced_chunks = 2;
        }
        r.record(&sample, 11_000);
        let s = r.summary(run(1.0, false));
        assert_eq!(s.coalesced_chunks, 2);
        assert!((s.coalesced_fraction - 0.2).abs() < 1e-12);
    }
}
