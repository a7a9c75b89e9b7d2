//! One latency distribution of a level: every value kept exactly (compact `u32` µs) up to
//! [`EXACT_LIMIT`], so percentiles are numpy's default linear interpolation over the real
//! values — what `vllm bench serve` prints — and an hdrhistogram beside them for the live
//! snapshots and for levels too large to keep exactly.

use hdrhistogram::Histogram;

/// Values kept exactly per metric per level (8 MiB of `u32`); beyond it percentiles come from
/// the histogram and the level says so (`percentiles_from_histogram`).
pub const EXACT_LIMIT: usize = 2_000_000;

/// Mean, p50, p90, p95, p99 and max of a distribution, ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A distribution in µs.
#[derive(Debug, Clone)]
pub struct Dist {
    /// 1 µs .. 1 hour, 3 significant digits: live percentiles, and the fallback.
    hist: Histogram<u64>,
    /// Every value, in arrival order, while there are at most [`EXACT_LIMIT`].
    exact: Vec<u32>,
    /// More values than [`EXACT_LIMIT`] arrived: `exact` was dropped.
    overflowed: bool,
    /// Exact sum, for the mean.
    sum_us: f64,
    count: u64,
    /// Exact maximum.
    max_us: u64,
    /// Most values kept exactly ([`EXACT_LIMIT`] but in tests).
    limit: usize,
}

impl Default for Dist {
    fn default() -> Dist {
        Dist::with_limit(EXACT_LIMIT)
    }
}

impl Dist {
    /// A distribution keeping at most `limit` values exactly.
    pub fn with_limit(limit: usize) -> Dist {
        Dist {
            // The bounds are valid constants, so this cannot fail.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            exact: Vec::new(),
            overflowed: false,
            sum_us: 0.0,
            count: 0,
            max_us: 0,
            limit,
        }
    }

    /// Records one value, µs.
    pub fn record(&mut self, us: u64) {
        self.hist.saturating_record(us.max(1));
        self.sum_us += us as f64;
        self.count += 1;
        self.max_us = self.max_us.max(us);
        if self.overflowed {
            return;
        }
        if self.exact.len() == self.limit {
            self.overflowed = true;
            self.exact = Vec::new();
        } else {
            self.exact.push(us.min(u32::MAX as u64) as u32);
        }
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The histogram of every value recorded (µs).
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// A distribution known only by its histogram (merged shards' `.hlog` files): its
    /// statistics come from the histogram (3 significant digits), as past the exact limit.
    pub fn from_histogram(hist: Histogram<u64>) -> Dist {
        let count = hist.len();
        Dist {
            sum_us: hist.mean() * count as f64,
            max_us: if count == 0 { 0 } else { hist.max() },
            count,
            hist,
            exact: Vec::new(),
            overflowed: true,
            limit: 0,
        }
    }

    /// True when the percentiles come from the histogram (more than the exact limit).
    pub fn approximate(&self) -> bool {
        self.overflowed
    }

    /// The exact mean so far, ms; `None` when empty.
    pub fn live_mean_ms(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.sum_us / self.count as f64 / 1e3)
    }

    /// A quantile for the live view, ms, from the histogram (cheap, 3 significant digits).
    pub fn live_quantile_ms(&self, q: f64) -> Option<f64> {
        (!self.is_empty()).then(|| self.hist.value_at_quantile(q) as f64 / 1e3)
    }

    /// The level's statistics, ms; `None` when no value was recorded. Sorts a copy of the
    /// exact values: done once per level, never per snapshot.
    pub fn stats(&self) -> Option<Stats> {
        if self.is_empty() {
            return None;
        }
        let mean_ms = self.sum_us / self.count as f64 / 1e3;
        let max_ms = self.max_us as f64 / 1e3;
        let [p50, p90, p95, p99] = if self.overflowed {
            [0.5, 0.9, 0.95, 0.99].map(|q| self.hist.value_at_quantile(q) as f64)
        } else {
            let mut sorted = self.exact.clone();
            sorted.sort_unstable();
            [50.0, 90.0, 95.0, 99.0].map(|p| percentile_linear(&sorted, p))
        };
        Some(Stats {
            mean_ms,
            p50_ms: p50 / 1e3,
            p90_ms: p90 / 1e3,
            p95_ms: p95 / 1e3,
            p99_ms: p99 / 1e3,
            max_ms,
        })
    }
}

/// Percentile `p` (0..=100) of `sorted` (ascending, non-empty) by linear interpolation between
/// the closest ranks: numpy's default (`method="linear"`), rank `p/100 × (n − 1)`.
pub fn percentile_linear(sorted: &[u32], p: f64) -> f64 {
    let n = sorted.len();
    debug_assert!(n > 0, "percentile of nothing");
    if n == 0 {
        return 0.0;
    }
    let rank = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let (a, b) = (sorted[lo] as f64, sorted[hi] as f64);
    a + (b - a) * (rank - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers are numpy's: `np.percentile(x, [50, 90, 95, 99])` for each fixture.
    #[test]
    fn percentiles_equal_numpys_linear_interpolation() {
        let mut x: Vec<u32> = vec![
            12_000, 15_500, 9_800, 30_250, 11_111, 14_000, 13_370, 99_999, 10_000, 12_500,
        ];
        x.sort_unstable();
        // np.percentile(x, [50, 90, 95, 99]) → [12935.0, 37224.9, 68611.95, 93721.59]
        let got = [50.0, 90.0, 95.0, 99.0].map(|p| percentile_linear(&x, p));
        let want = [12_935.0, 37_224.9, 68_611.95, 93_721.59];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
        // Even count: p50 is the mean of the two middle values, not the lower one.
        assert_eq!(percentile_linear(&[1, 2, 3, 4], 50.0), 2.5);
        // One value: every percentile is it.
        assert_eq!(percentile_linear(&[7], 99.0), 7.0);
    }

    #[test]
    fn a_distribution_from_a_histogram_has_its_count_mean_max_and_percentiles() {
        let mut hist = Histogram::<u64>::new(3).expect("histogram");
        for us in 1..=100u64 {
            hist.record(us * 1_000).expect("record");
        }
        let d = Dist::from_histogram(hist);
        assert_eq!(d.len(), 100);
        assert!(d.approximate(), "its percentiles are the histogram's");
        let s = d.stats().expect("values");
        assert!((s.mean_ms - 50.5).abs() < 0.05, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
        assert!((s.p50_ms - 50.0).abs() < 0.05, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!(Dist::from_histogram(Histogram::new(3).expect("histogram"))
            .stats()
            .is_none());
    }

    #[test]
    fn p99_of_fifty_is_not_the_max() {
        let mut d = Dist::default();
        for us in 1..=50u64 {
            d.record(us * 1_000);
        }
        let s = d.stats().expect("values");
        // numpy: np.percentile(range(1000, 50001, 1000), 99) = 49510.0
        assert!((s.p99_ms - 49.51).abs() < 1e-9, "{s:?}");
        assert_eq!(s.max_ms, 50.0);
        assert!((s.p50_ms - 25.5).abs() < 1e-9);
        assert!(!d.approximate());
    }

    #[test]
    fn beyond_the_limit_falls_back_to_the_histogram_and_says_so() {
        let mut d = Dist::with_limit(4);
        for us in [1_000, 2_000, 3_000, 4_000] {
            d.record(us);
        }
        assert!(!d.approximate());
        d.record(5_000);
        assert!(d.approximate());
        let s = d.stats().expect("values");
        assert_eq!(s.max_ms, 5.0);
        assert!((s.mean_ms - 3.0).abs() < 1e-9);
        // The histogram's p50 of 1..5 ms (3 significant digits).
        assert!((s.p50_ms - 3.0).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn live_quantiles_come_from_the_histogram_in_ms() {
        let mut d = Dist::default();
        for us in [10_000, 20_000, 30_000, 40_000] {
            d.record(us);
        }
        // hdrhistogram's p50 is the 2nd value's bucket (3 significant digits), in ms.
        let p50 = d.live_quantile_ms(0.5).expect("a value");
        assert!((p50 - 20.0).abs() < 0.02, "{p50}");
        let p99 = d.live_quantile_ms(0.99).expect("a value");
        assert!((p99 - 40.0).abs() < 0.04, "{p99}");
    }

    #[test]
    fn empty_has_no_stats() {
        assert_eq!(Dist::default().stats(), None);
        assert_eq!(Dist::default().live_quantile_ms(0.5), None);
    }
}
