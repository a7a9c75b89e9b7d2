//! With one trial, an interval from inside the run: the steady-state window cut into equal
//! batches, each batch's headline metrics computed on its own, and a Student t interval
//! over the batches' values (the method of batch means). It shows how steady the level was,
//! not how a second run would do; neighbouring batches are correlated (a closed loop's
//! waves span them), so it is narrower than an interval over trials.

use super::steady::{self, Interval, Window};
use crate::results::confidence::{self, IntervalMethod, LevelIntervals};
use crate::stats::interval::{cv, mean_interval, CONFIDENCE};

/// At least this many batches, or no interval.
pub const MIN_BATCHES: usize = 5;
/// At most this many batches.
pub const MAX_BATCHES: usize = 10;
/// Successful completions per batch, at least.
pub const MIN_PER_BATCH: u64 = 5;

/// The batch-means intervals of the level whose requests are `intervals` and whose
/// steady-state window is `window`; `None` when the window holds fewer than
/// `MIN_BATCHES × MIN_PER_BATCH` successful completions.
pub fn intervals(intervals: &[Interval], window: &Window) -> Option<LevelIntervals> {
    let batches = (window.completed / MIN_PER_BATCH).min(MAX_BATCHES as u64) as usize;
    if batches < MIN_BATCHES {
        return None;
    }
    let span = (window.end_us - window.start_us) / batches as u64;
    if span == 0 {
        return None;
    }
    let mut values = Values::default();
    for b in 0..batches {
        let start = window.start_us + b as u64 * span;
        let end = if b + 1 == batches {
            window.end_us
        } else {
            start + span
        };
        values.add(intervals, start, end);
    }
    let one = |v: &[f64]| -> Option<confidence::Interval> {
        if v.len() < MIN_BATCHES {
            return None;
        }
        let (mean, low, high) = mean_interval(v)?;
        Some(confidence::Interval {
            mean,
            low,
            high,
            cv: cv(v).unwrap_or(0.0),
            values: v.to_vec(),
        })
    };
    Some(LevelIntervals {
        method: IntervalMethod::BatchMeans,
        n: batches as u32,
        confidence: CONFIDENCE,
        request_throughput: one(&values.request_throughput),
        output_throughput: one(&values.output_throughput),
        mean_ttft_ms: one(&values.mean_ttft_ms),
        median_ttft_ms: one(&values.median_ttft_ms),
        p99_ttft_ms: None,
        mean_tpot_ms: one(&values.mean_tpot_ms),
        mean_e2el_ms: one(&values.mean_e2el_ms),
        median_e2el_ms: one(&values.median_e2el_ms),
        noisy: Vec::new(),
    })
}

/// Per batch, each metric's value (a batch with no completion has no latency values).
#[derive(Default)]
struct Values {
    request_throughput: Vec<f64>,
    output_throughput: Vec<f64>,
    mean_ttft_ms: Vec<f64>,
    median_ttft_ms: Vec<f64>,
    mean_tpot_ms: Vec<f64>,
    mean_e2el_ms: Vec<f64>,
    median_e2el_ms: Vec<f64>,
}

impl Values {
    /// The batch `[start, end)`: throughputs by overlap (as the steady window's), latencies
    /// of the successful requests that completed in it.
    fn add(&mut self, intervals: &[Interval], start: u64, end: u64) {
        if let Some(w) = steady::window(intervals, start, end) {
            self.request_throughput.push(w.request_throughput());
            self.output_throughput.push(w.output_throughput());
        }
        let (mut ttft, mut e2e, mut tpot) = (Vec::new(), Vec::new(), Vec::new());
        for i in intervals {
            let Some(out) = i.output else { continue };
            if !(start..end).contains(&i.done_us) {
                continue;
            }
            let first = out.first_us.saturating_sub(i.sent_us) as f64 / 1e3;
            let last = out.last_us.saturating_sub(i.sent_us) as f64 / 1e3;
            ttft.push(first);
            e2e.push(last);
            if out.tokens > 1 {
                tpot.push((last - first) / (out.tokens - 1) as f64);
            }
        }
        if ttft.is_empty() {
            return;
        }
        self.mean_ttft_ms.push(mean(&ttft));
        self.median_ttft_ms.push(median(&mut ttft));
        self.mean_e2el_ms.push(mean(&e2e));
        self.median_e2el_ms.push(median(&mut e2e));
        if !tpot.is_empty() {
            self.mean_tpot_ms.push(mean(&tpot));
        }
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The median (numpy's linear interpolation) of a non-empty slice.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::steady::Output;

    /// One request: sent at `sent`, first token `ttft` µs later, last `e2e` µs later, 11
    /// tokens.
    fn req(sent: u64, ttft: u64, e2e: u64) -> Interval {
        Interval {
            sent_us: sent,
            done_us: sent + e2e,
            output: Some(Output {
                first_us: sent + ttft,
                last_us: sent + e2e,
                tokens: 11,
            }),
        }
    }

    fn window_of(v: &[Interval], start: u64, end: u64) -> Window {
        steady::window(v, start, end).unwrap()
    }

    #[test]
    fn five_batches_of_known_latencies() {
        // One request every 1 ms, each 10 ms long with TTFT 2 ms; batch b (of 5, 10 ms each)
        // gets TTFT 2 + b ms so the batch means are 2, 3, 4, 5, 6 ms.
        let v: Vec<Interval> = (0..60u64)
            .map(|i| {
                let done = i * 1_000 + 10_000;
                let b = (done.saturating_sub(10_000) / 10_000).min(4);
                req(i * 1_000, 2_000 + b * 1_000, 10_000)
            })
            .collect();
        let w = window_of(&v, 10_000, 60_000);
        assert_eq!(w.completed, 51);
        let i = intervals(&v, &w).expect("10 per batch");
        assert_eq!((i.method, i.n), (IntervalMethod::BatchMeans, 10));
        let ttft = i.mean_ttft_ms.unwrap();
        assert_eq!(ttft.values.len(), 10);
        // With 10 batches of 5 ms each, two batches per step of TTFT: 2,2,3,3,...,6,6.
        assert!((ttft.mean - 4.0).abs() < 0.11, "{ttft:?}");
        assert!(ttft.low < 4.0 && ttft.high > 4.0);
        let e2e = i.median_e2el_ms.unwrap();
        assert!(e2e.values.iter().all(|&x| (x - 10.0).abs() < 1e-9));
        // TPOT: (10 − TTFT) / 10 tokens.
        let tpot = i.mean_tpot_ms.unwrap();
        assert!((tpot.values[0] - 0.8).abs() < 1e-9, "{tpot:?}");
        // Requests by overlap: one sent every ms, each 10 ms in flight → 1000 req/s in every
        // batch of the steady state.
        let req = i.request_throughput.unwrap();
        assert!(
            req.values.iter().all(|&x| (x - 1_000.0).abs() < 1e-6),
            "{req:?}"
        );
        // Output: 11 tokens per request spread over its first-to-last-token span.
        let out = i.output_throughput.unwrap();
        assert!(
            out.values.iter().all(|&x| (9_500.0..11_500.0).contains(&x)),
            "{out:?}"
        );
        assert_eq!(i.p99_ttft_ms, None);
    }

    #[test]
    fn too_few_completions_for_five_batches_give_none() {
        let v: Vec<Interval> = (0..30u64).map(|i| req(i * 1_000, 1_000, 5_000)).collect();
        // 24 completions in the window: 4 batches of 5 at most.
        let w = window_of(&v, 5_000, 29_000);
        assert_eq!(w.completed, 25);
        assert!(intervals(&v, &w).is_some());
        let w = window_of(&v, 5_000, 28_500);
        assert_eq!(w.completed, 24);
        assert_eq!(intervals(&v, &w), None);
    }

    #[test]
    fn median_interpolates_between_the_middle_values() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        // An odd count's middle is at n / 2: the third of five.
        assert_eq!(median(&mut [5.0, 1.0, 4.0, 2.0, 3.0]), 3.0);
        assert_eq!(median(&mut [7.0]), 7.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
