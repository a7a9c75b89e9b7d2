//! The axes: the x axis of levels (log2 when it can be) shared by the three panels, and a
//! y axis with "nice" ticks; plotters maps through them but draws no labels of its own.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::*;

use crate::report::fmt_level;
use crate::results::model::Report;

/// Both axes map linearly over `lo..hi` (the x axis over log2 of the levels) with ticks
/// exactly where they were placed; tick labels are drawn by [`Pen`], not by plotters.
///
/// [`Pen`]: super::text::Pen
macro_rules! tick_axis {
    ($axis:ty) => {
        impl Ranged for $axis {
            type FormatOption = NoDefaultFormatting;
            type ValueType = f64;

            fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
                map_linear(*value, self.lo, self.hi, limit)
            }

            fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
                if hint.weight().allow_light_points() {
                    Vec::new()
                } else {
                    self.ticks.clone()
                }
            }

            fn range(&self) -> std::ops::Range<f64> {
                self.lo..self.hi
            }
        }

        impl ValueFormatter<f64> for $axis {
            fn format_ext(&self, _value: &f64) -> String {
                String::new()
            }
        }
    };
}

/// The x axis shared by the three panels: log2 of the level when every level is positive,
/// the level itself otherwise.
#[derive(Clone)]
pub(super) struct XAxis {
    pub(super) log2: bool,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
}

impl XAxis {
    pub(super) fn new(report: &Report) -> XAxis {
        let levels: Vec<f64> = report
            .engines
            .iter()
            .flat_map(|e| e.levels.iter().map(|l| l.level))
            .chain(report.workload.levels.iter().copied())
            .filter(|l| l.is_finite())
            .collect();
        let log2 = levels.iter().all(|l| *l > 0.0);
        let mut positions: Vec<f64> = levels
            .iter()
            .map(|l| if log2 { l.log2() } else { *l })
            .filter(|p| p.is_finite())
            .collect();
        positions.sort_by(f64::total_cmp);
        positions.dedup();
        let (lo, hi) = match (positions.first(), positions.last()) {
            (Some(&lo), Some(&hi)) if hi > lo => {
                let pad = (hi - lo) * 0.05;
                (lo - pad, hi + pad)
            }
            (Some(&only), _) => (only - 0.5, only + 0.5),
            _ => (0.0, 1.0),
        };
        // Keep ticks at least 1/14 of the axis apart so labels never overlap.
        let min_gap = (hi - lo) / 14.0;
        let mut ticks: Vec<f64> = Vec::new();
        for p in positions {
            match ticks.last() {
                Some(last) if p - last < min_gap => {}
                _ => ticks.push(p),
            }
        }
        XAxis {
            log2,
            lo,
            hi,
            ticks,
        }
    }

    pub(super) fn pos(&self, level: f64) -> Option<f64> {
        let p = if self.log2 { level.log2() } else { level };
        p.is_finite().then_some(p)
    }

    pub(super) fn label(&self, pos: f64) -> String {
        fmt_level(if self.log2 { pos.exp2() } else { pos })
    }
}

tick_axis!(XAxis);

/// A linear y axis from `lo` to `hi` with "nice" ticks (1, 2, 2.5 or 5 × 10ⁿ apart).
#[derive(Clone)]
pub(super) struct YAxis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
    pub(super) decimals: usize,
}

impl YAxis {
    pub(super) fn new(lo: f64, hi: f64) -> YAxis {
        let span = hi - lo;
        let raw = span / 6.0;
        if !(raw.is_finite() && raw > 0.0) {
            return YAxis {
                lo,
                hi,
                ticks: Vec::new(),
                decimals: 0,
            };
        }
        let magnitude = 10f64.powf(raw.log10().floor());
        let norm = raw / magnitude;
        let (mult, extra) = match norm {
            n if n <= 1.0 => (1.0, 0),
            n if n <= 2.0 => (2.0, 0),
            n if n <= 2.5 => (2.5, 1),
            n if n <= 5.0 => (5.0, 0),
            _ => (10.0, 0),
        };
        let step = mult * magnitude;
        let decimals = (-(step.log10().floor()) as i32 + extra).clamp(0, 6) as usize;
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        let ticks = (first..=last.min(first + 50))
            .map(|i| i as f64 * step)
            .collect();
        YAxis {
            lo,
            hi,
            ticks,
            decimals,
        }
    }

    pub(super) fn label(&self, value: f64) -> String {
        let text = format!("{value:.*}", self.decimals);
        if text.starts_with('-') && text.trim_start_matches(['-', '0', '.']).is_empty() {
            text[1..].to_string()
        } else {
            text
        }
    }
}

tick_axis!(YAxis);

/// `value` in `lo..hi` mapped linearly onto the pixels `limit`.
fn map_linear(value: f64, lo: f64, hi: f64, limit: (i32, i32)) -> i32 {
    let fraction = (value - lo) / (hi - lo);
    if !fraction.is_finite() {
        return limit.0;
    }
    limit.0 + ((limit.1 - limit.0) as f64 * fraction + 1e-3).floor() as i32
}
