//! The recorder of one (engine, level): hdrhistograms (µs, 3 significant digits) and counters.
//! Memory is flat in the number of requests: nothing per sample is kept.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::sample::Sample;
use super::slo::SloCounter;
use super::window::RateWindow;
use crate::client::ErrorClass;
use crate::config::SloConfig;
use crate::events::Snapshot;
use crate::results::model::{LevelStatus, LevelSummary, ScheduleStats, LATE_START_MS};

/// One latency distribution: a histogram for percentiles, an exact sum for the mean.
#[derive(Debug, Clone)]
struct Dist {
    hist: Histogram<u64>,
    sum_us: f64,
}

impl Dist {
    fn new() -> Dist {
        Dist {
            // 1 µs .. 1 hour; the bounds are valid constants, so this cannot fail.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            sum_us: 0.0,
        }
    }

    fn record(&mut self, us: f64) {
        self.hist.saturating_record(us.round().max(1.0) as u64);
        self.sum_us += us;
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            0.0
        } else {
            self.hist.value_at_quantile(q) as f64 / 1e3
        }
    }

    /// (mean, p50, p90, p95, p99, max) in ms; zeros when empty.
    fn stats_ms(&self) -> [f64; 6] {
        let n = self.hist.len();
        if n == 0 {
            return [0.0; 6];
        }
        [
            self.sum_us / n as f64 / 1e3,
            self.quantile_ms(0.5),
            self.quantile_ms(0.9),
            self.quantile_ms(0.95),
            self.quantile_ms(0.99),
            self.hist.max() as f64 / 1e3,
        ]
    }
}

/// Aggregates of one level in progress.
#[derive(Debug, Clone)]
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
    errors: BTreeMap<ErrorClass, u64>,
    /// First message per class, as an example for results and the screen.
    examples: BTreeMap<ErrorClass, String>,
    window: RateWindow,
    /// Rate mode: latencies from the scheduled send time, late starts.
    open_loop: bool,
    scheduled_ttft: Dist,
    scheduled_e2el: Dist,
    late_starts: u64,
    /// Goodput counts, when `[slo]` sets an objective.
    slo: Option<SloCounter>,
}

/// What a recorder measures beyond the basics.
#[derive(Debug, Clone, Default)]
pub struct RecorderOptions {
    /// Rate mode: summarise latencies from the scheduled send time too.
    pub open_loop: bool,
    /// Count requests meeting these objectives.
    pub slo: Option<SloConfig>,
}

impl Default for LevelRecorder {
    fn default() -> Self {
        LevelRecorder {
            ttft: Dist::new(),
            e2el: Dist::new(),
            itl: Dist::new(),
            tpot: Dist::new(),
            completed: 0,
            failed: 0,
            cancelled: 0,
            input_tokens: 0,
            output_tokens: 0,
            estimated: false,
            queue_sum_us: 0.0,
            errors: BTreeMap::new(),
            examples: BTreeMap::new(),
            window: RateWindow::default(),
            open_loop: false,
            scheduled_ttft: Dist::new(),
            scheduled_e2el: Dist::new(),
            late_starts: 0,
            slo: None,
        }
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

    /// Records one finished request at level-active time `now_ms`.
    pub fn record(&mut self, sample: &Sample, now_ms: u64) {
        if sample.queue_us as f64 > LATE_START_MS * 1e3 {
            self.late_starts += 1;
        }
        match &sample.result {
            Ok(t) => {
                if self.open_loop {
                    self.scheduled_ttft
                        .record((t.ttft_us + sample.queue_us) as f64);
                    self.scheduled_e2el
                        .record((t.e2e_us + sample.queue_us) as f64);
                }
                if let Some(slo) = &mut self.slo {
                    slo.record(t);
                }
                self.completed += 1;
                self.ttft.record(t.ttft_us as f64);
                self.e2el.record(t.e2e_us as f64);
                for &gap in &t.itl_us {
                    self.itl.record(gap as f64);
                }
                if let Some(tpot) = t.tpot_us() {
                    self.tpot.record(tpot);
                }
                self.input_tokens += t.input_tokens.unwrap_or(0);
                self.output_tokens += t.output_tokens;
                self.estimated |= t.output_tokens_estimated;
                self.queue_sum_us += sample.queue_us as f64;
                self.window.add(now_ms, t.output_tokens);
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
    }

    /// Requests finished so far, cancelled ones included.
    pub fn finished(&self) -> u64 {
        self.completed + self.failed + self.cancelled
    }

    pub fn completed(&self) -> u64 {
        self.completed
    }

    pub fn failed(&self) -> u64 {
        self.failed
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
            ttft_p50_ms: self.ttft.quantile_ms(0.5),
            ttft_p99_ms: self.ttft.quantile_ms(0.99),
            e2el_p50_ms: self.e2el.quantile_ms(0.5),
            e2el_p99_ms: self.e2el.quantile_ms(0.99),
            ..Snapshot::default()
        }
    }

    /// The level's results. `duration_s` is first send → last completion, paused time excluded.
    /// A level where most requests failed is `Failed`, whatever `cut_short` says.
    pub fn summary(
        &self,
        level: f64,
        max_concurrency: u32,
        duration_s: f64,
        cut_short: bool,
    ) -> LevelSummary {
        let attempted = self.completed + self.failed;
        let error_rate = if attempted == 0 {
            0.0
        } else {
            self.failed as f64 / attempted as f64
        };
        let status = if self.failed > self.completed {
            LevelStatus::Failed
        } else if cut_short {
            LevelStatus::Skipped
        } else {
            LevelStatus::Complete
        };
        let per_s = |x: f64| {
            if duration_s > 0.0 {
                x / duration_s
            } else {
                0.0
            }
        };
        let [mean_ttft_ms, median_ttft_ms, p90_ttft_ms, p95_ttft_ms, p99_ttft_ms, max_ttft_ms] =
            self.ttft.stats_ms();
        let [mean_tpot_ms, median_tpot_ms, p90_tpot_ms, p95_tpot_ms, p99_tpot_ms, max_tpot_ms] =
            self.tpot.stats_ms();
        let [mean_itl_ms, median_itl_ms, p90_itl_ms, p95_itl_ms, p99_itl_ms, max_itl_ms] =
            self.itl.stats_ms();
        let [mean_e2el_ms, median_e2el_ms, p90_e2el_ms, p95_e2el_ms, p99_e2el_ms, max_e2el_ms] =
            self.e2el.stats_ms();
        let schedule = self.open_loop.then(|| {
            let [mean_scheduled_ttft_ms, median_scheduled_ttft_ms, _, _, p99_scheduled_ttft_ms, _] =
                self.scheduled_ttft.stats_ms();
            let [mean_scheduled_e2el_ms, median_scheduled_e2el_ms, _, _, p99_scheduled_e2el_ms, _] =
                self.scheduled_e2el.stats_ms();
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
        LevelSummary {
            level,
            max_concurrency,
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
            // Filled by the driver from its health monitor.
            client_cpu_cores: 0.0,
            client_loop_lag_p99_ms: 0.0,
            client_limited: false,
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
            result: Ok(Timings {
                ttft_us,
                e2e_us,
                itl_us: vec![((e2e_us - ttft_us) / (tokens - 1)) as u32; (tokens - 1) as usize],
                output_tokens: tokens,
                output_tokens_estimated: false,
                input_tokens: Some(10),
            }),
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
        r.record(&ok(50_000, 150_000, 11), 100);
        r.record(&ok(70_000, 170_000, 11), 200);
        r.record(&err(ErrorClass::HttpStatus), 300);
        r.record(&err(ErrorClass::Cancelled), 300);
        let s = r.summary(2.0, 2, 2.0, false);
        assert_eq!((s.completed, s.failed, s.cancelled), (2, 1, 1));
        assert!((s.mean_ttft_ms - 60.0).abs() < 1e-9);
        assert!((s.mean_tpot_ms - 10.0).abs() < 1e-9);
        assert!((s.mean_itl_ms - 10.0).abs() < 0.01);
        assert_eq!(s.total_output_tokens, 22);
        assert_eq!(s.request_throughput, 1.0);
        assert_eq!(s.output_throughput, 11.0);
        assert!((s.error_rate - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.errors.get("http_status"), Some(&1));
        assert_eq!(s.errors.get("cancelled"), None);
        assert_eq!(s.status, LevelStatus::Complete);
        assert_eq!(r.summary(2.0, 2, 2.0, true).status, LevelStatus::Skipped);
    }

    #[test]
    fn mostly_failed_level_is_failed_not_fast() {
        let mut r = LevelRecorder::default();
        r.record(&ok(1_000, 2_000, 2), 1);
        r.record(&err(ErrorClass::Connect), 1);
        r.record(&err(ErrorClass::Connect), 1);
        assert_eq!(r.summary(1.0, 1, 0.1, false).status, LevelStatus::Failed);
    }
}
