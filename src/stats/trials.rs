//! A level measured `[sweep] trials` times: one summary over its trials, every trial's own
//! summary kept, and the 95 % intervals of the headline metrics over the trials.

use super::interval::CONFIDENCE;
use super::interval::{cv, mean_interval};
use crate::results::confidence::{Interval, IntervalMethod, LevelIntervals, NOISY_CV};
use crate::results::model::{error_rate, LevelStatus, LevelSummary, ThroughputBasis};
use crate::results::prefix_cache::PrefixCacheStats;
use crate::results::reasoning::ReasoningStats;

/// The level over `trials` (in the order they ran, each with its `trial` number): counts and
/// tokens summed, rates and latency statistics the mean of the trials' values (over the
/// trials that have one), the worst status, and `intervals` over the trials. The first
/// trial alone is the level as it measured it (its batch-means intervals, if any, stay),
/// listed in `trials` so a resumed run knows the level is short of trials.
pub fn combine(trials: &[LevelSummary]) -> LevelSummary {
    let Some(last) = trials.last() else {
        return LevelSummary::default();
    };
    if trials.len() == 1 {
        return LevelSummary {
            trial: None,
            trials: trials.to_vec(),
            ..last.clone()
        };
    }
    let mut out = LevelSummary {
        trial: None,
        trials: trials.to_vec(),
        ..last.clone()
    };
    let sum = |f: fn(&LevelSummary) -> u64| trials.iter().map(f).sum::<u64>();
    out.completed = sum(|t| t.completed);
    out.failed = sum(|t| t.failed);
    out.cancelled = sum(|t| t.cancelled);
    out.total_input_tokens = sum(|t| t.total_input_tokens);
    out.total_output_tokens = sum(|t| t.total_output_tokens);
    out.steady_completed = sum(|t| t.steady_completed);
    out.coalesced_chunks = sum(|t| t.coalesced_chunks);
    out.connections_opened = sum(|t| t.connections_opened);
    out.duration = trials.iter().map(|t| t.duration).sum();
    out.error_rate = error_rate(out.completed, out.failed);
    out.mean_output_tokens = if out.completed == 0 {
        0.0
    } else {
        out.total_output_tokens as f64 / out.completed as f64
    };
    let mean = |f: fn(&LevelSummary) -> f64| mean_of(trials.iter().map(f).map(Some)).unwrap_or(0.0);
    let mean_opt = |f: fn(&LevelSummary) -> Option<f64>| mean_of(trials.iter().map(f));
    out.request_throughput = mean(|t| t.request_throughput);
    out.output_throughput = mean(|t| t.output_throughput);
    out.total_token_throughput = mean(|t| t.total_token_throughput);
    out.mean_concurrency = mean(|t| t.mean_concurrency);
    out.coalesced_fraction = mean(|t| t.coalesced_fraction);
    out.mean_client_queue_ms = mean(|t| t.mean_client_queue_ms);
    out.client_cpu_cores = mean(|t| t.client_cpu_cores);
    out.steady_window_s = mean_opt(|t| t.steady_window_s);
    out.steady_request_throughput = mean_opt(|t| t.steady_request_throughput);
    out.steady_output_throughput = mean_opt(|t| t.steady_output_throughput);
    out.request_goodput = mean_opt(|t| t.request_goodput);
    out.slo_met = mean_opt(|t| t.slo_met);
    out.slo_ttft_met = mean_opt(|t| t.slo_ttft_met);
    out.slo_tpot_met = mean_opt(|t| t.slo_tpot_met);
    out.slo_e2e_met = mean_opt(|t| t.slo_e2e_met);
    macro_rules! mean_fields {
        ($($field:ident),*) => { $( out.$field = mean_opt(|t| t.$field); )* };
    }
    mean_fields!(
        mean_ttft_ms,
        median_ttft_ms,
        p90_ttft_ms,
        p95_ttft_ms,
        p99_ttft_ms,
        mean_tpot_ms,
        median_tpot_ms,
        p90_tpot_ms,
        p95_tpot_ms,
        p99_tpot_ms,
        mean_itl_ms,
        median_itl_ms,
        p90_itl_ms,
        p95_itl_ms,
        p99_itl_ms,
        mean_e2el_ms,
        median_e2el_ms,
        p90_e2el_ms,
        p95_e2el_ms,
        p99_e2el_ms
    );
    // Maxima are the largest over the trials, not a mean.
    macro_rules! max_fields {
        ($($field:ident),*) => { $( out.$field = trials.iter().filter_map(|t| t.$field).reduce(f64::max); )* };
    }
    max_fields!(max_ttft_ms, max_tpot_ms, max_itl_ms, max_e2el_ms);
    out.client_loop_lag_p99_ms = trials
        .iter()
        .map(|t| t.client_loop_lag_p99_ms)
        .fold(0.0, f64::max);
    out.achieved_peak_concurrency = trials
        .iter()
        .map(|t| t.achieved_peak_concurrency)
        .max()
        .unwrap_or(0);
    out.client_limited = trials.iter().any(|t| t.client_limited);
    out.client_state = trials
        .iter()
        .map(|t| t.client_state)
        .max_by_key(|s| s.rank())
        .unwrap_or_default();
    // The host during the trial with the busiest box: what could have bent the level.
    out.host = trials
        .iter()
        .filter_map(|t| t.host.as_ref())
        .max_by(|a, b| (a.busy_cores + a.steal_cores).total_cmp(&(b.busy_cores + b.steal_cores)))
        .cloned();
    out.output_tokens_estimated = trials.iter().any(|t| t.output_tokens_estimated);
    out.percentiles_from_histogram = trials.iter().any(|t| t.percentiles_from_histogram);
    out.reasoning = reasoning_over(trials, out.total_output_tokens);
    out.prefix_cache = PrefixCacheStats {
        total_cached_tokens: sum_present(trials.iter().map(|t| t.prefix_cache.total_cached_tokens)),
        cached_fraction: mean_opt(|t| t.prefix_cache.cached_fraction),
    };
    out.meets_slo = trials
        .iter()
        .map(|t| t.meets_slo)
        .collect::<Option<Vec<bool>>>()
        .map(|all| all.iter().all(|&m| m));
    out.status = trials
        .iter()
        .map(|t| t.status)
        .max_by_key(|s| match s {
            LevelStatus::Complete => 0,
            LevelStatus::Skipped => 1,
            LevelStatus::Failed => 2,
        })
        .unwrap_or_default();
    out.skipped_reason = trials.iter().find_map(|t| t.skipped_reason.clone());
    out.errors.clear();
    out.error_examples.clear();
    for t in trials {
        for (class, n) in &t.errors {
            *out.errors.entry(class.clone()).or_default() += n;
        }
        for (class, text) in &t.error_examples {
            out.error_examples
                .entry(class.clone())
                .or_insert_with(|| text.clone());
        }
    }
    out.intervals = Some(trial_intervals(trials, out.throughput_basis()));
    out
}

/// The intervals over the trials of their headline metrics. Throughputs are each trial's on
/// `basis`, the combined level's (steady-state window or whole level), so the interval is
/// around the value the chart and tables show: a trial too short for its own steady basis
/// still gives its window's throughput when the level's is steady (its whole level's when
/// it has no window at all).
pub fn trial_intervals(trials: &[LevelSummary], basis: ThroughputBasis) -> LevelIntervals {
    let mut noisy = Vec::new();
    let mut over = |name: &str, values: Vec<Option<f64>>| -> Option<Interval> {
        let values: Vec<f64> = values.into_iter().flatten().collect();
        let (mean, low, high) = mean_interval(&values)?;
        let cv = cv(&values).unwrap_or(0.0);
        if cv > NOISY_CV {
            noisy.push(name.to_string());
        }
        Some(Interval {
            mean,
            low,
            high,
            cv,
            values,
        })
    };
    let of = |f: fn(&LevelSummary) -> Option<f64>| trials.iter().map(f).collect::<Vec<_>>();
    LevelIntervals {
        method: IntervalMethod::Trials,
        n: trials.len() as u32,
        confidence: CONFIDENCE,
        request_throughput: over(
            "request_throughput",
            trials
                .iter()
                .map(|t| {
                    Some(on_basis(
                        basis,
                        t.request_throughput,
                        t.steady_request_throughput,
                    ))
                })
                .collect(),
        ),
        output_throughput: over(
            "output_throughput",
            trials
                .iter()
                .map(|t| {
                    Some(on_basis(
                        basis,
                        t.output_throughput,
                        t.steady_output_throughput,
                    ))
                })
                .collect(),
        ),
        mean_ttft_ms: over("mean_ttft_ms", of(|t| t.mean_ttft_ms)),
        median_ttft_ms: over("median_ttft_ms", of(|t| t.median_ttft_ms)),
        p99_ttft_ms: over("p99_ttft_ms", of(|t| t.p99_ttft_ms)),
        mean_tpot_ms: over("mean_tpot_ms", of(|t| t.mean_tpot_ms)),
        mean_e2el_ms: over("mean_e2el_ms", of(|t| t.mean_e2el_ms)),
        median_e2el_ms: over("median_e2el_ms", of(|t| t.median_e2el_ms)),
        noisy,
    }
}

/// A trial's throughput on `basis`: its steady-state window's when the level's is steady
/// and the trial has a window, else its whole level's.
fn on_basis(basis: ThroughputBasis, whole: f64, steady: Option<f64>) -> f64 {
    match (basis, steady) {
        (ThroughputBasis::Steady, Some(v)) => v,
        _ => whole,
    }
}

/// The trials' reasoning: counts and tokens summed, the share over the summed output
/// tokens, latency statistics the mean of the trials that have one.
fn reasoning_over(trials: &[LevelSummary], output_tokens: u64) -> ReasoningStats {
    let mean =
        |f: fn(&ReasoningStats) -> Option<f64>| mean_of(trials.iter().map(|t| f(&t.reasoning)));
    let total_reasoning_tokens =
        sum_present(trials.iter().map(|t| t.reasoning.total_reasoning_tokens));
    ReasoningStats {
        mean_ttfa_ms: mean(|r| r.mean_ttfa_ms),
        median_ttfa_ms: mean(|r| r.median_ttfa_ms),
        p90_ttfa_ms: mean(|r| r.p90_ttfa_ms),
        p95_ttfa_ms: mean(|r| r.p95_ttfa_ms),
        p99_ttfa_ms: mean(|r| r.p99_ttfa_ms),
        mean_ttfr_ms: mean(|r| r.mean_ttfr_ms),
        median_ttfr_ms: mean(|r| r.median_ttfr_ms),
        p99_ttfr_ms: mean(|r| r.p99_ttfr_ms),
        reasoning_requests: trials.iter().map(|t| t.reasoning.reasoning_requests).sum(),
        unanswered_requests: trials.iter().map(|t| t.reasoning.unanswered_requests).sum(),
        total_reasoning_tokens,
        reasoning_share: ReasoningStats::share(total_reasoning_tokens, output_tokens),
        reasoning_tokens_estimated: trials
            .iter()
            .any(|t| t.reasoning.reasoning_tokens_estimated),
    }
}

/// The sum of the values present; `None` when none is.
fn sum_present(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.flatten().reduce(|a, b| a + b)
}

/// The mean of the values present; `None` when none is.
fn mean_of(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, n) = values
        .flatten()
        .fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(n: u32, completed: u64, tok_s: f64, ttft: f64) -> LevelSummary {
        LevelSummary {
            level: 4.0,
            trial: Some(n),
            completed,
            failed: 1,
            total_output_tokens: completed * 10,
            duration: 2.0,
            output_throughput: tok_s,
            request_throughput: tok_s / 10.0,
            median_ttft_ms: Some(ttft),
            mean_ttft_ms: Some(ttft + 1.0),
            max_ttft_ms: Some(ttft * 3.0),
            errors: [("http_status".to_string(), 1)].into(),
            ..LevelSummary::default()
        }
    }

    #[test]
    fn counts_are_summed_rates_and_latencies_averaged_maxima_the_largest() {
        let t = [
            trial(1, 10, 900.0, 20.0),
            trial(2, 20, 1000.0, 30.0),
            trial(3, 30, 1100.0, 40.0),
        ];
        let c = combine(&t);
        assert_eq!((c.completed, c.failed, c.total_output_tokens), (60, 3, 600));
        assert_eq!(c.duration, 6.0);
        assert_eq!(c.errors["http_status"], 3);
        assert!((c.error_rate - 3.0 / 63.0).abs() < 1e-12);
        assert!((c.mean_output_tokens - 10.0).abs() < 1e-12);
        assert!((c.output_throughput - 1000.0).abs() < 1e-9);
        assert_eq!(c.median_ttft_ms, Some(30.0));
        assert_eq!(c.mean_ttft_ms, Some(31.0));
        assert_eq!(c.max_ttft_ms, Some(120.0));
        assert_eq!(c.trials.len(), 3);
        assert_eq!(c.trial, None);
        assert_eq!(c.trials[1].trial, Some(2));
        // 900, 1000, 1100: mean 1000, sd 100, t(0.975, 2) = 4.302653 → ± 248.414.
        let i = c.intervals.as_ref().unwrap();
        assert_eq!((i.method, i.n), (IntervalMethod::Trials, 3));
        let out = i.output_throughput.as_ref().unwrap();
        assert!((out.mean - 1000.0).abs() < 1e-9);
        assert!((out.half_width() - 248.414).abs() < 1e-3, "{out:?}");
        assert_eq!(out.values, vec![900.0, 1000.0, 1100.0]);
        assert!((out.cv - 0.1).abs() < 1e-12);
        // CV of 20, 30, 40 is 1/3: noisy; 900..1100 is exactly 10 %: not above it.
        assert!(i.noisy.contains(&"median_ttft_ms".to_string()));
        assert!(
            !i.noisy.contains(&"output_throughput".to_string()),
            "{:?}",
            i.noisy
        );
    }

    #[test]
    fn reasoning_and_cache_counts_are_summed_and_their_latencies_averaged() {
        let thinking = |n: u32, ttfa: f64, tokens: u64, estimated: bool| LevelSummary {
            reasoning: ReasoningStats {
                mean_ttfa_ms: Some(ttfa),
                p99_ttfr_ms: Some(ttfa / 2.0),
                reasoning_requests: 10,
                unanswered_requests: 1,
                total_reasoning_tokens: Some(tokens),
                reasoning_tokens_estimated: estimated,
                ..ReasoningStats::default()
            },
            prefix_cache: PrefixCacheStats {
                total_cached_tokens: Some(tokens),
                cached_fraction: Some(ttfa / 1_000.0),
            },
            ..trial(n, 10, 1000.0, 20.0)
        };
        let c = combine(&[thinking(1, 100.0, 30, false), thinking(2, 200.0, 50, true)]);
        let r = &c.reasoning;
        assert_eq!((r.mean_ttfa_ms, r.p99_ttfr_ms), (Some(150.0), Some(75.0)));
        assert_eq!((r.reasoning_requests, r.unanswered_requests), (20, 2));
        assert_eq!(r.total_reasoning_tokens, Some(80));
        // Over the trials' 200 output tokens, not the last trial's share.
        assert_eq!(r.reasoning_share, Some(0.4));
        assert!(r.reasoning_tokens_estimated);
        assert_eq!(c.prefix_cache.total_cached_tokens, Some(80));
        assert!((c.prefix_cache.cached_fraction.unwrap() - 0.15).abs() < 1e-12);
        // Trials without reasoning stay without it.
        let plain = combine(&[trial(1, 10, 1.0, 2.0), trial(2, 10, 1.0, 2.0)]);
        assert_eq!(plain.reasoning, ReasoningStats::default());
        assert_eq!(plain.prefix_cache, PrefixCacheStats::default());
    }

    #[test]
    fn throughput_intervals_are_on_the_combined_levels_basis() {
        // Two trials with a steady window; the third too short for its own steady basis
        // (3 completions in the window, peak 4) but with a window all the same.
        let steady = |n: u32, whole: f64, window: f64, completed: u64| LevelSummary {
            achieved_peak_concurrency: 4,
            steady_completed: completed,
            steady_output_throughput: Some(window),
            ..trial(n, 40, whole, 20.0)
        };
        let t = [
            steady(1, 900.0, 1000.0, 20),
            steady(2, 910.0, 1010.0, 20),
            steady(3, 700.0, 990.0, 3),
        ];
        assert_eq!(t[2].throughput_basis(), ThroughputBasis::WholeLevel);
        let c = combine(&t);
        assert_eq!(c.throughput_basis(), ThroughputBasis::Steady);
        let out = c.intervals.clone().unwrap().output_throughput.unwrap();
        assert_eq!(out.values, vec![1000.0, 1010.0, 990.0]);
        // The interval is around the plotted point.
        assert!((out.mean - c.plotted_output_throughput()).abs() < 1e-9);
    }

    #[test]
    fn the_worst_status_wins_and_slos_must_hold_in_every_trial() {
        let mut t = [trial(1, 10, 900.0, 20.0), trial(2, 10, 900.0, 20.0)];
        t[0].meets_slo = Some(true);
        t[1].meets_slo = Some(false);
        t[1].status = LevelStatus::Skipped;
        let c = combine(&t);
        assert_eq!(c.status, LevelStatus::Skipped);
        assert_eq!(c.meets_slo, Some(false));
        t[0].status = LevelStatus::Failed;
        t[1].meets_slo = Some(true);
        let c = combine(&t);
        assert_eq!(c.status, LevelStatus::Failed);
        assert_eq!(c.meets_slo, Some(true));
    }

    #[test]
    fn the_worst_client_state_and_the_busiest_boxs_host_report_are_kept() {
        use crate::results::host::{ClientState, HostReport};
        let host = |busy: f64, steal: f64| HostReport {
            cores: 2,
            busy_cores: busy,
            steal_cores: steal,
            ..HostReport::default()
        };
        let mut t = [
            trial(1, 10, 900.0, 20.0),
            trial(2, 10, 900.0, 20.0),
            trial(3, 10, 900.0, 20.0),
        ];
        t[0].client_state = ClientState::Busy;
        t[0].host = Some(host(1.0, 0.5));
        t[1].client_state = ClientState::Starved;
        t[1].host = Some(host(1.4, 0.0));
        t[2].host = Some(host(0.4, 0.0));
        let c = combine(&t);
        assert_eq!(c.client_state, ClientState::Starved);
        // 1.0 + 0.5 stolen is the busiest box, above 1.4 + 0.
        assert_eq!(c.host, Some(host(1.0, 0.5)));
        t[1].client_state = ClientState::Late;
        assert_eq!(combine(&t).client_state, ClientState::Busy);
        for trial in &mut t {
            trial.host = None;
            trial.client_state = ClientState::Fine;
        }
        let c = combine(&t);
        assert_eq!((c.client_state, c.host), (ClientState::Fine, None));
    }

    #[test]
    fn one_trial_is_the_level_itself() {
        let one = trial(1, 10, 900.0, 20.0);
        let c = combine(std::slice::from_ref(&one));
        assert_eq!(c.trial, None);
        assert_eq!(c.trials, vec![one]);
        assert_eq!((c.completed, c.output_throughput), (10, 900.0));
        assert_eq!(c.intervals, None);
    }

    #[test]
    fn a_metric_missing_in_a_trial_is_averaged_over_the_others() {
        let mut t = [
            trial(1, 10, 900.0, 20.0),
            trial(2, 10, 900.0, 40.0),
            trial(3, 0, 0.0, 0.0),
        ];
        t[2].median_ttft_ms = None;
        let c = combine(&t);
        assert_eq!(c.median_ttft_ms, Some(30.0));
        let i = c.intervals.unwrap();
        assert_eq!(i.median_ttft_ms.unwrap().values, vec![20.0, 40.0]);
    }
}
