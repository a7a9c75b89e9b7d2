//! Bounded per-engine history of live snapshot values, so sparklines cover the whole run.
//!
//! One point is appended per [`Snapshot`]; the oldest points drop off once a series holds
//! [`HISTORY_CAP`] of them. Finished engines keep their history for the rest of the run.

use std::collections::VecDeque;

use crate::events::Snapshot;

/// Points kept per series (at ~4 snapshots a second, a few minutes of a level; older points
/// drop off).
pub const HISTORY_CAP: usize = 600;

/// A ring of the newest `cap` values of one metric, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    points: VecDeque<f64>,
    cap: usize,
}

impl Series {
    /// An empty series holding at most `cap` points (at least one).
    pub fn new(cap: usize) -> Series {
        let cap = cap.max(1);
        Series {
            points: VecDeque::with_capacity(cap.min(1024)),
            cap,
        }
    }

    /// Appends `value` (NaN, infinite and negative values count as 0), dropping the oldest
    /// point when full.
    pub fn push(&mut self, value: f64) {
        let value = if value.is_finite() && value > 0.0 {
            value
        } else {
            0.0
        };
        if self.points.len() == self.cap {
            self.points.pop_front();
        }
        self.points.push_back(value);
    }

    /// Points held.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when no point was pushed.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The most recent point.
    pub fn last(&self) -> Option<f64> {
        self.points.back().copied()
    }

    /// The newest `n` points, oldest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = f64> + '_ {
        self.points
            .iter()
            .skip(self.points.len().saturating_sub(n))
            .copied()
    }

    /// All points, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        self.points.iter().copied()
    }
}

/// Which live value a series tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Successful requests per second.
    RequestRate,
    /// Output tokens per second.
    TokenRate,
    /// End-to-end latency p50, ms.
    LatencyP50,
    /// Time to first token p50, ms.
    TtftP50,
}

impl Metric {
    /// Every metric, in panel order.
    pub const ALL: [Metric; 4] = [
        Metric::RequestRate,
        Metric::TokenRate,
        Metric::LatencyP50,
        Metric::TtftP50,
    ];

    /// Short label drawn above the sparkline.
    pub fn label(self) -> &'static str {
        match self {
            Metric::RequestRate => "req/s",
            Metric::TokenRate => "tok/s",
            Metric::LatencyP50 => "lat p50",
            Metric::TtftP50 => "TTFT p50",
        }
    }

    /// This metric's value in `snapshot`; `None` before the level's first completion.
    pub fn current(self, snapshot: &Snapshot) -> Option<f64> {
        let any = snapshot.completed > 0;
        match self {
            Metric::RequestRate => any.then_some(snapshot.request_throughput),
            Metric::TokenRate => any.then_some(snapshot.output_throughput),
            Metric::LatencyP50 => snapshot.e2el_p50_ms,
            Metric::TtftP50 => snapshot.ttft_p50_ms,
        }
    }

    /// True for the millisecond metrics.
    pub fn is_latency(self) -> bool {
        matches!(self, Metric::LatencyP50 | Metric::TtftP50)
    }
}

/// One engine's four series, one point per snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineHistory {
    request_rate: Series,
    token_rate: Series,
    latency_p50: Series,
    ttft_p50: Series,
}

impl Default for EngineHistory {
    fn default() -> Self {
        EngineHistory::new(HISTORY_CAP)
    }
}

impl EngineHistory {
    /// Empty series of `cap` points each.
    pub fn new(cap: usize) -> EngineHistory {
        EngineHistory {
            request_rate: Series::new(cap),
            token_rate: Series::new(cap),
            latency_p50: Series::new(cap),
            ttft_p50: Series::new(cap),
        }
    }

    /// Appends one point per series from `snapshot`.
    pub fn push(&mut self, snapshot: &Snapshot) {
        self.request_rate.push(snapshot.request_throughput);
        self.token_rate.push(snapshot.output_throughput);
        // No success yet: no latency point, rather than a made-up 0 ms.
        if let Some(ms) = snapshot.e2el_p50_ms {
            self.latency_p50.push(ms);
        }
        if let Some(ms) = snapshot.ttft_p50_ms {
            self.ttft_p50.push(ms);
        }
    }

    /// The series of `metric`.
    pub fn series(&self, metric: Metric) -> &Series {
        match metric {
            Metric::RequestRate => &self.request_rate,
            Metric::TokenRate => &self.token_rate,
            Metric::LatencyP50 => &self.latency_p50,
            Metric::TtftP50 => &self.ttft_p50,
        }
    }

    /// Points held (the same in every series).
    pub fn len(&self) -> usize {
        self.request_rate.len()
    }

    /// True before the first snapshot.
    pub fn is_empty(&self) -> bool {
        self.request_rate.is_empty()
    }
}

/// Scales `values` to bar heights `0..=1000` of a sparkline, `max` at the top (the largest
/// value any engine shows for the metric, so heights compare across engines).
pub fn to_bars(values: impl Iterator<Item = f64>, max: f64) -> Vec<u64> {
    values
        .map(|v| {
            if max > 0.0 {
                ((v / max) * 1000.0).round().clamp(0.0, 1000.0) as u64
            } else {
                0
            }
        })
        .collect()
}

/// The largest of the newest `n` points, 0 for none.
pub fn newest_max(series: &Series, n: usize) -> f64 {
    series.newest(n).fold(0.0_f64, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_is_bounded_and_keeps_newest() {
        let mut s = Series::new(3);
        for v in 1..=5 {
            s.push(v as f64);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3.0, 4.0, 5.0]);
        assert_eq!(s.newest(2).collect::<Vec<_>>(), vec![4.0, 5.0]);
        assert_eq!(s.newest(10).count(), 3);
        assert_eq!(s.last(), Some(5.0));
        s.push(f64::NAN);
        s.push(-1.0);
        assert_eq!(s.newest(2).collect::<Vec<_>>(), vec![0.0, 0.0]);
    }

    #[test]
    fn bars_scale_to_the_shared_max() {
        assert_eq!(
            to_bars([0.0, 5.0, 10.0].into_iter(), 10.0),
            vec![0, 500, 1000]
        );
        // Another engine's larger maximum: this one's bars reach half way.
        assert_eq!(
            to_bars([0.0, 5.0, 10.0].into_iter(), 20.0),
            vec![0, 250, 500]
        );
        assert_eq!(to_bars([0.0, 0.0].into_iter(), 0.0), vec![0, 0]);
        assert!(to_bars(std::iter::empty(), 1.0).is_empty());
        let mut s = Series::new(4);
        for v in [9.0, 1.0, 3.0, 2.0] {
            s.push(v);
        }
        assert_eq!(
            newest_max(&s, 3),
            3.0,
            "the 9 has scrolled out of a 3-wide window"
        );
        assert_eq!(newest_max(&s, 4), 9.0);
        assert_eq!(newest_max(&Series::new(2), 2), 0.0);
    }
}
