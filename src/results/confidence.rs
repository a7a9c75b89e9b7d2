//! How sure a level's numbers are: 95 % confidence intervals of its headline metrics, from
//! repeated trials or, with one trial, from batch means inside the run.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a level's intervals come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// `[sweep] trials` > 1: Student t over the trials' values. Covers run-to-run noise
    /// (clocks, thermals, neighbours) as well as the level's own.
    Trials,
    /// One trial: the steady-state window cut into equal batches, Student t over the
    /// batches' values. Within-run only: it says nothing about how the next run would do,
    /// and neighbouring batches are correlated, so it is narrower than a trials interval.
    BatchMeans,
}

impl IntervalMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalMethod::Trials => "trials",
            IntervalMethod::BatchMeans => "batch_means",
        }
    }
}

/// One metric's mean over trials (or batches) and its 95 % confidence interval, in the
/// metric's own unit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Interval {
    /// Mean over the values.
    pub mean: f64,
    /// Lower end of the 95 % interval of the mean.
    pub low: f64,
    /// Upper end of the 95 % interval of the mean.
    pub high: f64,
    /// Coefficient of variation of the values (sample sd / mean), 0..; above 0.10 the
    /// level is flagged noisy (trials only).
    pub cv: f64,
    /// The per-trial (or per-batch) values, in order: verdicts compare engines on them.
    pub values: Vec<f64>,
}

impl Interval {
    /// Half the interval's width, in the metric's unit (the "±" of "mean ± x").
    pub fn half_width(&self) -> f64 {
        (self.high - self.low) / 2.0
    }
}

/// The 95 % intervals of a level's headline metrics; a metric is `None` when fewer than
/// two trials (or batches) had a value for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LevelIntervals {
    pub method: IntervalMethod,
    /// Trials or batches the intervals are over.
    pub n: u32,
    /// Confidence level of every interval here (0.95).
    pub confidence: f64,
    /// Successful requests per second (the plotted basis: steady-state window or whole level).
    pub request_throughput: Option<Interval>,
    /// Output tokens per second (the plotted basis).
    pub output_throughput: Option<Interval>,
    /// TTFT mean, ms.
    pub mean_ttft_ms: Option<Interval>,
    /// TTFT p50, ms.
    pub median_ttft_ms: Option<Interval>,
    /// TTFT p99, ms (trials only: a batch holds too few requests for a p99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ttft_ms: Option<Interval>,
    /// TPOT mean, ms.
    pub mean_tpot_ms: Option<Interval>,
    /// End-to-end latency mean, ms.
    pub mean_e2el_ms: Option<Interval>,
    /// End-to-end latency p50, ms.
    pub median_e2el_ms: Option<Interval>,
    /// Trials only: the metrics above whose CV across trials exceeds 10 % (the level's
    /// numbers moved between trials more than a comparison can ignore).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noisy: Vec<String>,
}

/// Above this coefficient of variation across trials a metric is flagged noisy.
pub const NOISY_CV: f64 = 0.10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_is_named_as_it_serialises() {
        for (method, name) in [
            (IntervalMethod::Trials, "trials"),
            (IntervalMethod::BatchMeans, "batch_means"),
        ] {
            assert_eq!(method.as_str(), name);
            assert_eq!(serde_json::to_value(method).unwrap(), name);
        }
    }
}
