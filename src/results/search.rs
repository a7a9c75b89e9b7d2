//! `levels = "auto"`: how an engine's search for its knee ended.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why an engine's search stopped doubling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Output throughput grew less than `plateau_pct` over two doublings.
    Plateau,
    /// A level missed the SLOs (goodput under `slo_goodput_pct` of attempted requests).
    Slo,
    /// A level's error rate passed `max_error_rate` (or most of its requests failed).
    Errors,
    /// The user skipped a level (`s`): the search treats it as failed.
    Skipped,
    /// The next doubling would pass `[sweep.auto] max`.
    Max,
    /// The user ended the engine's search (`n`), or the run stopped.
    Ended,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Plateau => "plateau",
            StopReason::Slo => "slo",
            StopReason::Errors => "errors",
            StopReason::Skipped => "skipped",
            StopReason::Max => "max",
            StopReason::Ended => "ended",
        }
    }
}

/// One engine's adaptive sweep, as results record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchResult {
    /// Why the doubling stopped.
    pub stop_reason: StopReason,
    /// The knee: the highest level (concurrency, or req/s in rate mode) that met every stop
    /// condition in force — the SLOs, the error limit — after bisecting between it and the
    /// first level that did not, to within `resolution`. With only the plateau in force
    /// (or nothing failing), the level where throughput stopped growing. `None` when even
    /// the first level failed.
    pub knee: Option<f64>,
    /// Output tokens per second at the knee (the plotted basis).
    pub knee_output_throughput: Option<f64>,
    /// Concurrency mode with `[slo]` set: the knee found against the SLO (the and
    /// guidellm's name for it); rate mode writes `max_rate_meeting_slo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency_meeting_slo: Option<f64>,
    /// Rate mode with `[slo]` set: the knee, req/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rate_meeting_slo: Option<f64>,
    /// Where output throughput stopped growing (the first level of the plateau), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau_from: Option<f64>,
    /// Levels bisected after the doubling stopped, in the order they ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bisected: Vec<f64>,
}
