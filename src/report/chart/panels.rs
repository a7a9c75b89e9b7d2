//! What each panel of a [`ChartKind`] plots: the metric, its unit and which way is better.

use super::ChartKind;
use crate::results::model::LevelSummary;

/// What one panel plots.
pub(super) struct Panel {
    pub(super) title: &'static str,
    pub(super) unit: &'static str,
    pub(super) higher_is_better: bool,
    /// The line: the median for latencies; `None` (no value, e.g. no success) omits the point.
    pub(super) value: fn(&LevelSummary) -> Option<f64>,
    /// The top of the shaded band (p99), if the panel has one.
    pub(super) band_top: Option<fn(&LevelSummary) -> Option<f64>>,
    /// Whether failed levels' values are meaningful here (error rate).
    pub(super) failed_is_data: bool,
    /// A throughput panel: steady-state figures where the level's window allows, and it says so.
    pub(super) throughput: bool,
}

const STANDARD: [Panel; 3] = [
    Panel {
        title: "Request throughput",
        unit: "req/s",
        higher_is_better: true,
        value: |l| Some(l.plotted_request_throughput()),
        band_top: None,
        failed_is_data: false,
        throughput: true,
    },
    Panel {
        title: "E2E latency",
        unit: "s",
        higher_is_better: false,
        value: |l| l.median_e2el_ms.map(|ms| ms / 1000.0),
        band_top: Some(|l| l.p99_e2el_ms.map(|ms| ms / 1000.0)),
        failed_is_data: false,
        throughput: false,
    },
    Panel {
        title: "Time to first token",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.median_ttft_ms,
        band_top: Some(|l| l.p99_ttft_ms),
        failed_is_data: false,
        throughput: false,
    },
];

const EXTENDED: [Panel; 3] = [
    Panel {
        title: "Output throughput",
        unit: "tok/s",
        higher_is_better: true,
        value: |l| Some(l.plotted_output_throughput()),
        band_top: None,
        failed_is_data: false,
        throughput: true,
    },
    Panel {
        title: "Time per output token",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.median_tpot_ms,
        band_top: Some(|l| l.p99_tpot_ms),
        failed_is_data: false,
        throughput: false,
    },
    Panel {
        title: "Error rate",
        unit: "%",
        higher_is_better: false,
        value: |l| Some(l.error_rate * 100.0),
        band_top: None,
        failed_is_data: true,
        throughput: false,
    },
];

/// The engines' own metrics (the extended set, when any level was scraped).
const SERVER: [Panel; 3] = [
    Panel {
        title: "KV cache usage",
        unit: "%",
        higher_is_better: false,
        value: |l| l.server.as_ref()?.mean_kv_usage.map(|v| v * 100.0),
        band_top: Some(|l| l.server.as_ref()?.max_kv_usage.map(|v| v * 100.0)),
        failed_is_data: false,
        throughput: false,
    },
    Panel {
        title: "Waiting requests",
        unit: "requests",
        higher_is_better: false,
        value: |l| l.server.as_ref()?.mean_waiting,
        band_top: Some(|l| l.server.as_ref()?.max_waiting),
        failed_is_data: false,
        throughput: false,
    },
    Panel {
        title: "Client-added TTFT",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.server.as_ref()?.client_added_ttft_ms,
        band_top: None,
        failed_is_data: false,
        throughput: false,
    },
];

pub(super) fn panels(kind: ChartKind) -> &'static [Panel; 3] {
    match kind {
        ChartKind::Standard => &STANDARD,
        ChartKind::Extended => &EXTENDED,
        ChartKind::Server => &SERVER,
    }
}
