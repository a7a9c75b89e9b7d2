//! The metrics the summary tabulates: the eight every run gets, and those for SLOs and rate mode.

use super::text::{fmt_count, fmt_num, fmt_pct};
use crate::results::confidence::{Interval, LevelIntervals};
use crate::results::model::LevelSummary;

/// Where a table's metric has a 95 % interval in [`LevelIntervals`].
pub(super) struct IntervalOf {
    /// The field's name in `LevelIntervals`, as `noisy` lists it.
    pub(super) name: &'static str,
    pub(super) get: fn(&LevelIntervals) -> Option<&Interval>,
    /// Multiplies the interval into the table's unit (ms → s: 0.001).
    pub(super) scale: f64,
}

/// One table of the summary.
pub(super) struct Metric {
    pub(super) title: &'static str,
    pub(super) unit: &'static str,
    pub(super) higher_is_better: bool,
    /// `None` where the level has no value (e.g. no success): shown as `—`.
    pub(super) value: fn(&LevelSummary) -> Option<f64>,
    pub(super) format: fn(f64) -> String,
    /// Whether "best vs others" ratios mean anything (not for error rates).
    pub(super) ratios: bool,
    /// A throughput table: steady-state figures where the level's window allows, and it says so.
    pub(super) throughput: bool,
    /// The metric's interval, when levels can have one: cells then read `mean ± half-width`.
    pub(super) interval: Option<IntervalOf>,
}

pub(super) const METRICS: [Metric; 8] = [
    Metric {
        title: "Request throughput",
        unit: "req/s",
        higher_is_better: true,
        value: |l| Some(l.plotted_request_throughput()),
        format: fmt_num,
        ratios: true,
        throughput: true,
        interval: Some(IntervalOf {
            name: "request_throughput",
            get: |i| i.request_throughput.as_ref(),
            scale: 1.0,
        }),
    },
    Metric {
        title: "Output throughput",
        unit: "tok/s",
        higher_is_better: true,
        value: |l| Some(l.plotted_output_throughput()),
        format: fmt_num,
        ratios: true,
        throughput: true,
        interval: Some(IntervalOf {
            name: "output_throughput",
            get: |i| i.output_throughput.as_ref(),
            scale: 1.0,
        }),
    },
    Metric {
        title: "Median TTFT",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.median_ttft_ms,
        format: fmt_num,
        ratios: true,
        throughput: false,
        interval: Some(IntervalOf {
            name: "median_ttft_ms",
            get: |i| i.median_ttft_ms.as_ref(),
            scale: 1.0,
        }),
    },
    Metric {
        title: "P99 TTFT",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.p99_ttft_ms,
        format: fmt_num,
        ratios: true,
        throughput: false,
        interval: Some(IntervalOf {
            name: "p99_ttft_ms",
            get: |i| i.p99_ttft_ms.as_ref(),
            scale: 1.0,
        }),
    },
    Metric {
        title: "Median E2E latency",
        unit: "s",
        higher_is_better: false,
        value: |l| l.median_e2el_ms.map(|ms| ms / 1000.0),
        format: fmt_num,
        ratios: true,
        throughput: false,
        interval: Some(IntervalOf {
            name: "median_e2el_ms",
            get: |i| i.median_e2el_ms.as_ref(),
            scale: 0.001,
        }),
    },
    Metric {
        title: "P99 E2E latency",
        unit: "s",
        higher_is_better: false,
        value: |l| l.p99_e2el_ms.map(|ms| ms / 1000.0),
        format: fmt_num,
        ratios: true,
        throughput: false,
        interval: None,
    },
    Metric {
        title: "Median TPOT",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.median_tpot_ms,
        format: fmt_num,
        ratios: true,
        throughput: false,
        interval: None,
    },
    Metric {
        title: "Error rate",
        unit: "%",
        higher_is_better: false,
        value: |l| Some(l.error_rate * 100.0),
        format: fmt_pct,
        ratios: false,
        throughput: false,
        interval: None,
    },
];

/// With SLOs set: successful requests meeting every SLO, per second.
pub(super) const GOODPUT: Metric = Metric {
    title: "Goodput",
    unit: "req/s",
    higher_is_better: true,
    value: |l| l.request_goodput,
    format: fmt_num,
    ratios: true,
    throughput: false,
    interval: None,
};

/// Rate mode: E2E latency measured from each request's scheduled send time.
pub(super) const SCHEDULED_E2E_P99: Metric = Metric {
    title: "E2E latency from schedule p99",
    unit: "ms",
    higher_is_better: false,
    value: |l| l.schedule.as_ref().and_then(|s| s.p99_scheduled_e2el_ms),
    format: fmt_num,
    ratios: true,
    throughput: false,
    interval: None,
};

/// Rate mode: requests sent more than 10 ms after their scheduled time.
pub(super) const LATE_STARTS: Metric = Metric {
    title: "Late starts",
    unit: "requests sent > 10 ms after schedule",
    higher_is_better: false,
    value: |l| l.schedule.as_ref().map(|s| s.late_starts as f64),
    format: fmt_count,
    ratios: false,
    throughput: false,
    interval: None,
};
