//! What each panel of a [`ChartKind`] plots: the metric, its unit, which way is better and
//! which 95 % interval its error bars show.

use super::ChartKind;
use crate::results::confidence::{Interval, LevelIntervals};
use crate::results::model::LevelSummary;

/// A panel's error bar, (low, high) in its unit, from a level's intervals.
type BarOf = fn(&LevelIntervals) -> Option<(f64, f64)>;

/// An error bar: `interval`'s low and high divided by `per` (into the panel's unit).
fn bar(interval: &Option<Interval>, per: f64) -> Option<(f64, f64)> {
    interval.as_ref().map(|i| (i.low / per, i.high / per))
}

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
    /// The error bar (low, high) in the panel's unit, from the level's intervals: the interval
    /// of what the panel plots; `None` for panels no interval matches. Drawn only for
    /// intervals over trials (see `points::series`).
    pub(super) interval: Option<BarOf>,
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
        interval: Some(|iv| bar(&iv.request_throughput, 1.0)),
    },
    Panel {
        title: "E2E latency",
        unit: "s",
        higher_is_better: false,
        value: |l| l.median_e2el_ms.map(|ms| ms / 1000.0),
        band_top: Some(|l| l.p99_e2el_ms.map(|ms| ms / 1000.0)),
        failed_is_data: false,
        throughput: false,
        interval: Some(|iv| bar(&iv.median_e2el_ms, 1000.0)),
    },
    Panel {
        title: "Time to first token",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.median_ttft_ms,
        band_top: Some(|l| l.p99_ttft_ms),
        failed_is_data: false,
        throughput: false,
        interval: Some(|iv| bar(&iv.median_ttft_ms, 1.0)),
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
        interval: Some(|iv| bar(&iv.output_throughput, 1.0)),
    },
    Panel {
        title: "Time per output token",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.median_tpot_ms,
        band_top: Some(|l| l.p99_tpot_ms),
        failed_is_data: false,
        throughput: false,
        // No interval of the median TPOT is kept: the mean's stands in for it.
        interval: Some(|iv| bar(&iv.mean_tpot_ms, 1.0)),
    },
    Panel {
        title: "Error rate",
        unit: "%",
        higher_is_better: false,
        value: |l| Some(l.error_rate * 100.0),
        band_top: None,
        failed_is_data: true,
        throughput: false,
        interval: None,
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
        interval: None,
    },
    Panel {
        title: "Waiting requests",
        unit: "requests",
        higher_is_better: false,
        value: |l| l.server.as_ref()?.mean_waiting,
        band_top: Some(|l| l.server.as_ref()?.max_waiting),
        failed_is_data: false,
        throughput: false,
        interval: None,
    },
    Panel {
        title: "Client-added TTFT",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.server.as_ref()?.client_added_ttft_ms,
        band_top: None,
        failed_is_data: false,
        throughput: false,
        interval: None,
    },
];

pub(super) fn panels(kind: ChartKind) -> &'static [Panel; 3] {
    match kind {
        ChartKind::Standard => &STANDARD,
        ChartKind::Extended => &EXTENDED,
        ChartKind::Server => &SERVER,
    }
}
