//! Which engine is faster at a level, and whether the difference is real: one verdict per
//! pair of engines, level and headline metric.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::confidence::IntervalMethod;

/// The metrics a verdict compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictMetric {
    /// Output tokens per second: higher is better.
    OutputThroughput,
    /// TTFT p50, ms: lower is better.
    MedianTtftMs,
    /// End-to-end latency p50, ms: lower is better.
    MedianE2elMs,
}

impl VerdictMetric {
    pub const ALL: [VerdictMetric; 3] = [
        VerdictMetric::OutputThroughput,
        VerdictMetric::MedianTtftMs,
        VerdictMetric::MedianE2elMs,
    ];

    /// The results field it reads.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictMetric::OutputThroughput => "output_throughput",
            VerdictMetric::MedianTtftMs => "median_ttft_ms",
            VerdictMetric::MedianE2elMs => "median_e2el_ms",
        }
    }

    /// A short label for tables and the screen.
    pub fn label(self) -> &'static str {
        match self {
            VerdictMetric::OutputThroughput => "output tok/s",
            VerdictMetric::MedianTtftMs => "p50 TTFT",
            VerdictMetric::MedianE2elMs => "p50 E2E",
        }
    }

    pub fn higher_is_better(self) -> bool {
        self == VerdictMetric::OutputThroughput
    }
}

/// What the interval says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictOutcome {
    /// The interval of the speed-up excludes 1: `best` is faster.
    Faster,
    /// The interval contains 1.
    NoSignificantDifference,
    /// One trial and no batch interval on a side: nothing to test.
    NotTested,
}

/// `best` against `other` at one level on one metric. `speedup` is how many times better
/// `best` is: its value over `other`'s for throughput, `other`'s over its own for latency;
/// ≥ 1 by construction (the engine with the better mean is `best`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    /// The level (concurrency, or req/s in rate mode).
    pub level: f64,
    pub metric: VerdictMetric,
    /// The engine with the better value.
    pub best: String,
    pub other: String,
    /// How many times better `best` is (a ratio of geometric means over trials or batches;
    /// of the two levels' values when not tested).
    pub speedup: f64,
    /// The speed-up's 95 % interval, when tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    /// Where the interval comes from, when tested (`batch_means` when either side had one trial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<IntervalMethod>,
    pub outcome: VerdictOutcome,
}

impl Verdict {
    /// `"faster by 1.31× (1.22–1.40)"`, `"no significant difference (0.97–1.04)"`, or
    /// `"single run: not tested (1.12×)"`.
    pub fn text(&self) -> String {
        let range = match (self.low, self.high) {
            (Some(low), Some(high)) => format!(" ({low:.2}–{high:.2})"),
            _ => String::new(),
        };
        match self.outcome {
            VerdictOutcome::Faster => format!("faster by {:.2}×{range}", self.speedup),
            VerdictOutcome::NoSignificantDifference => {
                format!("no significant difference{range}")
            }
            VerdictOutcome::NotTested => {
                format!("single run: not tested ({:.2}×)", self.speedup)
            }
        }
    }

    /// `"C=8 output tok/s: sim-fast faster by 1.31× (1.22–1.40) than sim-slow"`, or
    /// `"C=8 p50 TTFT: a vs b: no significant difference (0.97–1.04)"`; `level` is the
    /// level's label (`C=8`, `4 req/s`).
    pub fn line(&self, level: &str) -> String {
        match self.outcome {
            VerdictOutcome::NoSignificantDifference | VerdictOutcome::NotTested => format!(
                "{level} {}: {} vs {}: {}",
                self.metric.label(),
                self.best,
                self.other,
                self.text()
            ),
            _ => format!(
                "{level} {}: {} {} than {}",
                self.metric.label(),
                self.best,
                self.text(),
                self.other
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_is_named_as_its_results_field() {
        let names = VerdictMetric::ALL.map(VerdictMetric::as_str);
        assert_eq!(
            names,
            ["output_throughput", "median_ttft_ms", "median_e2el_ms"]
        );
        for metric in VerdictMetric::ALL {
            assert_eq!(serde_json::to_value(metric).unwrap(), metric.as_str());
        }
    }
}
