//! The A/B verdicts: for every pair of engines at every level both ran, and each headline
//! metric, which engine is better and whether the 95 % interval of the speed-up excludes 1.

use super::interval::ratio_interval;
use crate::results::confidence::{Interval, IntervalMethod, LevelIntervals};
use crate::results::model::{LevelStatus, LevelSummary, Report};
use crate::results::verdict::{Verdict, VerdictMetric, VerdictOutcome};

/// The smallest speed-up called "faster": the whole interval must lie above it. A smaller
/// difference, however certain, is within what the client's clock and the engines' timers
/// resolve (a 1 ms timer on a 50 ms TTFT is 2 %), so it is reported as no difference.
pub const MIN_SPEEDUP: f64 = 1.02;

/// Every verdict of `report`: levels in ascending order, then metrics, then pairs in
/// engine order. A level that failed on either side is not compared.
pub fn verdicts(report: &Report) -> Vec<Verdict> {
    let mut levels: Vec<f64> = report
        .engines
        .iter()
        .flat_map(|e| e.levels.iter().map(|l| l.level))
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let mut out = Vec::new();
    for level in levels {
        // Each engine's last summary at this level value.
        let at: Vec<Option<&LevelSummary>> = report
            .engines
            .iter()
            .map(|e| {
                e.levels
                    .iter()
                    .rev()
                    .find(|l| l.level == level && l.status != LevelStatus::Failed)
            })
            .collect();
        for metric in VerdictMetric::ALL {
            for a in 0..at.len() {
                for b in a + 1..at.len() {
                    let (Some(la), Some(lb)) = (at[a], at[b]) else {
                        continue;
                    };
                    let names = (&report.engines[a].name, &report.engines[b].name);
                    if let Some(v) = verdict(level, metric, (names.0, la), (names.1, lb)) {
                        out.push(v);
                    }
                }
            }
        }
    }
    out
}

/// `a` against `b` on `metric` at `level`; `None` when either has no value for it.
pub fn verdict(
    level: f64,
    metric: VerdictMetric,
    (name_a, a): (&str, &LevelSummary),
    (name_b, b): (&str, &LevelSummary),
) -> Option<Verdict> {
    let (va, vb) = (point(metric, a)?, point(metric, b)?);
    if !(va > 0.0 && vb > 0.0) {
        return None;
    }
    let tested = match (interval(metric, a), interval(metric, b)) {
        (Some((ia, ma)), Some((ib, mb))) => ratio_interval(&ia.values, &ib.values).map(|r| {
            let method = if ma == IntervalMethod::Trials && mb == IntervalMethod::Trials {
                IntervalMethod::Trials
            } else {
                IntervalMethod::BatchMeans
            };
            (r, method)
        }),
        _ => None,
    };
    // b over a, with its interval when tested: the ratio of geometric means over the
    // trials (or batches), else of the two levels' values.
    let (ratio, range, method) = match tested {
        Some(((r, low, high), method)) => (r, Some((low, high)), Some(method)),
        None => (vb / va, None, None),
    };
    // Oriented so `best` comes first and the speed-up is ≥ 1.
    let b_better = if metric.higher_is_better() {
        ratio >= 1.0
    } else {
        ratio <= 1.0
    };
    let flip = b_better != metric.higher_is_better();
    let (speedup, range) = if flip {
        (
            1.0 / ratio,
            range.map(|(low, high)| (1.0 / high, 1.0 / low)),
        )
    } else {
        (ratio, range)
    };
    let (best, other) = if b_better {
        (name_b, name_a)
    } else {
        (name_a, name_b)
    };
    let outcome = match range {
        Some((low, _)) if low > MIN_SPEEDUP => VerdictOutcome::Faster,
        Some(_) => VerdictOutcome::NoSignificantDifference,
        None => VerdictOutcome::NotTested,
    };
    Some(Verdict {
        level,
        metric,
        best: best.to_string(),
        other: other.to_string(),
        speedup,
        low: range.map(|r| r.0),
        high: range.map(|r| r.1),
        method,
        outcome,
    })
}

/// The level's value of `metric` as tables and the chart show it.
fn point(metric: VerdictMetric, l: &LevelSummary) -> Option<f64> {
    match metric {
        VerdictMetric::OutputThroughput => Some(l.plotted_output_throughput()),
        VerdictMetric::MedianTtftMs => l.median_ttft_ms,
        VerdictMetric::MedianE2elMs => l.median_e2el_ms,
    }
}

fn interval(metric: VerdictMetric, l: &LevelSummary) -> Option<(&Interval, IntervalMethod)> {
    let i: &LevelIntervals = l.intervals.as_ref()?;
    let one = match metric {
        VerdictMetric::OutputThroughput => i.output_throughput.as_ref(),
        VerdictMetric::MedianTtftMs => i.median_ttft_ms.as_ref(),
        VerdictMetric::MedianE2elMs => i.median_e2el_ms.as_ref(),
    }?;
    Some((one, i.method))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::model::EngineReport;

    fn interval_of(values: &[f64]) -> Interval {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Interval {
            mean,
            low: mean,
            high: mean,
            cv: 0.0,
            values: values.to_vec(),
        }
    }

    /// A level with trials whose output throughputs are `tok_s` and p50 TTFTs `ttft`.
    fn level(level: f64, tok_s: &[f64], ttft: &[f64], method: IntervalMethod) -> LevelSummary {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        LevelSummary {
            level,
            output_throughput: mean(tok_s),
            median_ttft_ms: Some(mean(ttft)),
            intervals: Some(LevelIntervals {
                method,
                n: tok_s.len() as u32,
                confidence: 0.95,
                request_throughput: None,
                output_throughput: Some(interval_of(tok_s)),
                mean_ttft_ms: None,
                median_ttft_ms: Some(interval_of(ttft)),
                p99_ttft_ms: None,
                mean_tpot_ms: None,
                mean_e2el_ms: None,
                median_e2el_ms: None,
                noisy: Vec::new(),
            }),
            ..LevelSummary::default()
        }
    }

    fn report(a: Vec<LevelSummary>, b: Vec<LevelSummary>) -> Report {
        let engine = |name: &str, levels| EngineReport {
            name: name.into(),
            levels,
            ..EngineReport::default()
        };
        Report {
            engines: vec![engine("a", a), engine("b", b)],
            ..Report::default()
        }
    }

    #[test]
    fn twice_the_throughput_and_half_the_ttft_is_faster_by_two() {
        let trials = IntervalMethod::Trials;
        let r = report(
            vec![level(
                4.0,
                &[100.0, 110.0, 90.0],
                &[40.0, 44.0, 36.0],
                trials,
            )],
            vec![level(
                4.0,
                &[200.0, 220.0, 180.0],
                &[20.0, 22.0, 18.0],
                trials,
            )],
        );
        let v = verdicts(&r);
        // Throughput and TTFT (the E2E has no value here).
        assert_eq!(v.len(), 2);
        for verdict in &v {
            assert_eq!((verdict.best.as_str(), verdict.other.as_str()), ("b", "a"));
            assert!((verdict.speedup - 2.0).abs() < 1e-9, "{verdict:?}");
            // The same spread of logs on both sides: the interval is symmetric around
            // ln 2 and tight; it holds 2 and excludes 1.
            let (low, high) = (verdict.low.unwrap(), verdict.high.unwrap());
            assert!(low < 2.0 && high > 2.0 && low > 1.0, "{verdict:?}");
            assert_eq!(verdict.outcome, VerdictOutcome::Faster);
            assert_eq!(verdict.method, Some(IntervalMethod::Trials));
        }
        assert_eq!(v[0].metric, VerdictMetric::OutputThroughput);
        assert!(
            v[0].text().starts_with("faster by 2.00× ("),
            "{}",
            v[0].text()
        );
        assert_eq!(v[1].metric, VerdictMetric::MedianTtftMs);
    }

    #[test]
    fn overlapping_trials_are_no_significant_difference() {
        let trials = IntervalMethod::Trials;
        let r = report(
            vec![level(
                1.0,
                &[100.0, 104.0, 97.0],
                &[40.0, 41.0, 39.0],
                trials,
            )],
            vec![level(
                1.0,
                &[101.0, 96.0, 103.0],
                &[40.5, 39.0, 40.0],
                trials,
            )],
        );
        let v = verdicts(&r);
        assert_eq!(v.len(), 2);
        for verdict in &v {
            assert_eq!(
                verdict.outcome,
                VerdictOutcome::NoSignificantDifference,
                "{verdict:?}"
            );
            assert!(verdict.low.unwrap() < 1.0 && verdict.high.unwrap() > 1.0);
            assert!(verdict.text().starts_with("no significant difference ("));
        }
    }

    #[test]
    fn a_certain_difference_under_2_percent_is_no_difference() {
        let trials = IntervalMethod::Trials;
        // b is 1.5 % faster on every trial, with no spread: certain, but below MIN_SPEEDUP.
        let r = report(
            vec![level(1.0, &[100.0, 100.0], &[10.0, 10.0], trials)],
            vec![level(1.0, &[101.5, 101.5], &[10.0, 10.0], trials)],
        );
        let v = verdicts(&r);
        assert_eq!(
            v[0].outcome,
            VerdictOutcome::NoSignificantDifference,
            "{:?}",
            v[0]
        );
        assert!((v[0].low.unwrap() - 1.015).abs() < 1e-12);
        let r = report(
            vec![level(1.0, &[100.0, 100.0], &[10.0, 10.0], trials)],
            vec![level(1.0, &[102.5, 102.5], &[10.0, 10.0], trials)],
        );
        assert_eq!(verdicts(&r)[0].outcome, VerdictOutcome::Faster);
    }

    #[test]
    fn lower_latency_wins_and_the_interval_is_flipped_with_it() {
        let trials = IntervalMethod::Trials;
        // a has the lower TTFT: a is best; the speed-up is b's TTFT over a's.
        let r = report(
            vec![level(
                2.0,
                &[100.0, 100.0, 100.0],
                &[10.0, 11.0, 9.0],
                trials,
            )],
            vec![level(
                2.0,
                &[100.0, 100.0, 100.0],
                &[30.0, 33.0, 27.0],
                trials,
            )],
        );
        let ttft = &verdicts(&r)[1];
        assert_eq!((ttft.best.as_str(), ttft.other.as_str()), ("a", "b"));
        assert!((ttft.speedup - 3.0).abs() < 1e-9);
        let (b_over_a, low, high) =
            ratio_interval(&[10.0, 11.0, 9.0], &[30.0, 33.0, 27.0]).unwrap();
        assert!((b_over_a - 3.0).abs() < 1e-9);
        assert_eq!((ttft.low.unwrap(), ttft.high.unwrap()), (low, high));
    }

    #[test]
    fn single_runs_without_intervals_are_not_tested_and_failed_levels_not_compared() {
        let mut a = LevelSummary {
            level: 8.0,
            output_throughput: 100.0,
            median_ttft_ms: Some(50.0),
            ..LevelSummary::default()
        };
        let b = LevelSummary {
            output_throughput: 150.0,
            median_ttft_ms: Some(40.0),
            ..a.clone()
        };
        let v = verdicts(&report(vec![a.clone()], vec![b.clone()]));
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].outcome, VerdictOutcome::NotTested);
        assert_eq!(v[0].best, "b");
        assert!((v[0].speedup - 1.5).abs() < 1e-12);
        assert_eq!(v[0].text(), "single run: not tested (1.50×)");
        assert_eq!((v[0].low, v[0].method), (None, None));
        a.status = LevelStatus::Failed;
        assert!(verdicts(&report(vec![a], vec![b])).is_empty());
    }

    #[test]
    fn batch_means_on_either_side_say_so() {
        let r = report(
            vec![level(
                1.0,
                &[100.0, 104.0, 97.0],
                &[40.0, 41.0, 39.0],
                IntervalMethod::BatchMeans,
            )],
            vec![level(
                1.0,
                &[201.0, 196.0, 203.0],
                &[40.5, 39.0, 40.0],
                IntervalMethod::Trials,
            )],
        );
        assert_eq!(verdicts(&r)[0].method, Some(IntervalMethod::BatchMeans));
    }

    #[test]
    fn levels_come_in_ascending_order_and_each_pair_once() {
        let t = IntervalMethod::Trials;
        let l = |x: f64| level(x, &[100.0, 101.0], &[10.0, 10.5], t);
        let mut r = report(vec![l(8.0), l(1.0)], vec![l(1.0), l(8.0)]);
        r.engines.push(EngineReport {
            name: "c".into(),
            levels: vec![l(8.0)],
            ..EngineReport::default()
        });
        let v = verdicts(&r);
        let seen: Vec<(f64, &str, &str)> = v
            .iter()
            .filter(|v| v.metric == VerdictMetric::OutputThroughput)
            .map(|v| {
                let mut pair = [v.best.as_str(), v.other.as_str()];
                pair.sort();
                (v.level, pair[0], pair[1])
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (1.0, "a", "b"),
                (8.0, "a", "b"),
                (8.0, "a", "c"),
                (8.0, "b", "c")
            ]
        );
    }
}
