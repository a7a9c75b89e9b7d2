//! A Prometheus histogram (cumulative buckets, sum, count): the delta between two scrapes,
//! its mean, and quantiles interpolated inside a bucket as PromQL's `histogram_quantile` does.

/// Cumulative buckets `(upper bound, observations ≤ bound)`, ascending, the last `+Inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    /// Sum of the observations (the family's unit, e.g. seconds).
    pub sum: f64,
    /// Number of observations.
    pub count: f64,
}

impl Histogram {
    /// Adds another series' observations (same bounds; a bucket the other lacks adds 0).
    pub fn add(&mut self, other: &Histogram) {
        for (bound, count) in &mut self.buckets {
            if let Some((_, c)) = other.buckets.iter().find(|(b, _)| b == bound) {
                *count += c;
            }
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    /// The observations made since `earlier`; `None` when the bounds differ or a count went
    /// down (the server restarted: its counters began again).
    pub fn since(&self, earlier: &Histogram) -> Option<Histogram> {
        if self.buckets.len() != earlier.buckets.len() || self.count < earlier.count {
            return None;
        }
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (&(bound, now), &(then_bound, then)) in self.buckets.iter().zip(&earlier.buckets) {
            if bound != then_bound || now < then {
                return None;
            }
            buckets.push((bound, now - then));
        }
        Some(Histogram {
            buckets,
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        })
    }

    /// Mean observation, `None` with no observations.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0 && self.sum.is_finite()).then(|| self.sum / self.count)
    }

    /// The `q` quantile (0–1), linearly interpolated inside the bucket holding it; the lowest
    /// bucket starts at 0. A quantile in the `+Inf` bucket is the highest finite bound (all
    /// that is known). `None` with no observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let mut lower = (0.0, 0.0);
        for &(bound, cumulative) in &self.buckets {
            if cumulative >= rank && cumulative > lower.1 {
                if bound.is_infinite() {
                    return Some(lower.0);
                }
                let inside = cumulative - lower.1;
                return Some(lower.0 + (bound - lower.0) * (rank - lower.1) / inside);
            }
            lower = (bound, cumulative);
        }
        Some(lower.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(buckets: &[(f64, f64)], sum: f64) -> Histogram {
        Histogram {
            buckets: buckets.to_vec(),
            sum,
            count: buckets.last().map_or(0.0, |b| b.1),
        }
    }

    #[test]
    fn the_median_is_interpolated_inside_its_bucket() {
        // 10 observations: 2 ≤ 0.1, 8 in (0.1, 0.5]. Rank 5 is 3/8 into the second bucket.
        let h = histogram(&[(0.1, 2.0), (0.5, 10.0), (f64::INFINITY, 10.0)], 2.6);
        let p50 = h.quantile(0.5).unwrap();
        assert!((p50 - (0.1 + 0.4 * 3.0 / 8.0)).abs() < 1e-12, "{p50}");
        // In the first bucket the lower edge is 0.
        assert!((h.quantile(0.1).unwrap() - 0.05).abs() < 1e-12);
        assert!((h.mean().unwrap() - 0.26).abs() < 1e-12);
    }

    #[test]
    fn quantiles_skip_empty_buckets() {
        // Nothing ≤ 0.1; four in (0.1, 0.5]. q = 0 is the first non-empty bucket's lower edge.
        let h = histogram(&[(0.1, 0.0), (0.5, 4.0), (f64::INFINITY, 4.0)], 1.0);
        assert_eq!(h.quantile(0.0), Some(0.1));
        assert_eq!(h.quantile(1.0), Some(0.5));
    }

    #[test]
    fn a_quantile_past_the_last_finite_bound_is_that_bound() {
        let h = histogram(&[(0.1, 1.0), (1.0, 1.0), (f64::INFINITY, 4.0)], 9.0);
        assert_eq!(h.quantile(0.9), Some(1.0));
    }

    #[test]
    fn empty_histograms_have_no_mean_or_quantile() {
        let h = histogram(&[(0.1, 0.0), (f64::INFINITY, 0.0)], 0.0);
        assert_eq!(h.mean(), None);
        assert_eq!(h.quantile(0.5), None);
    }

    #[test]
    fn the_delta_holds_only_the_observations_between_scrapes() {
        let before = histogram(&[(0.1, 5.0), (0.5, 5.0), (f64::INFINITY, 5.0)], 0.25);
        let after = histogram(&[(0.1, 5.0), (0.5, 9.0), (f64::INFINITY, 9.0)], 1.45);
        let delta = after.since(&before).unwrap();
        assert_eq!(delta.count, 4.0);
        assert!((delta.mean().unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(
            delta.buckets,
            vec![(0.1, 0.0), (0.5, 4.0), (f64::INFINITY, 4.0)]
        );
        // Rank 2 of 4, all in (0.1, 0.5]: halfway.
        assert!((delta.quantile(0.5).unwrap() - 0.3).abs() < 1e-12);
    }

    #[test]
    fn a_restarted_server_or_other_bounds_give_no_delta() {
        let before = histogram(&[(0.1, 5.0), (f64::INFINITY, 5.0)], 0.25);
        let restarted = histogram(&[(0.1, 1.0), (f64::INFINITY, 1.0)], 0.05);
        assert_eq!(restarted.since(&before), None);
        let other = histogram(&[(0.2, 6.0), (f64::INFINITY, 6.0)], 0.3);
        assert_eq!(other.since(&before), None);
    }

    #[test]
    fn an_unchanged_histogram_is_a_zero_delta_a_truncated_one_none() {
        let h = histogram(&[(0.1, 5.0), (f64::INFINITY, 5.0)], 0.25);
        let zero = h.since(&h).expect("no new observations is a delta of zero");
        assert_eq!(zero.count, 0.0);
        assert_eq!(zero.buckets, vec![(0.1, 0.0), (f64::INFINITY, 0.0)]);
        assert_eq!(zero.mean(), None);
        // A scrape that lost buckets (its +Inf one here) is not comparable.
        let truncated = Histogram {
            buckets: vec![(0.1, 6.0)],
            sum: 0.3,
            count: 6.0,
        };
        assert_eq!(truncated.since(&h), None);
    }

    #[test]
    fn series_add_bucket_by_bucket() {
        let mut a = histogram(&[(0.1, 1.0), (f64::INFINITY, 2.0)], 0.5);
        a.add(&histogram(&[(0.1, 3.0), (f64::INFINITY, 5.0)], 0.2));
        assert_eq!(a.buckets, vec![(0.1, 4.0), (f64::INFINITY, 7.0)]);
        assert_eq!((a.count, a.sum), (7.0, 0.7));
    }
}
