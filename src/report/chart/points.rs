//! The data behind the lines: each engine's levels as points of a panel (sorted by level: an
//! auto sweep's levels are stored in the order they ran), their error bars, the markers the
//! chart draws (public, for tests), where a line breaks and a panel's y range.

use plotters::prelude::*;

use super::axis::XAxis;
use super::panels::{panels, Panel};
use super::ChartKind;
use crate::color::Rgb;
use crate::report::{quality, BasisMix, Quality};
use crate::results::confidence::IntervalMethod;
use crate::results::host::ClientState;
use crate::results::model::{LevelSummary, Report};

/// One level of one engine, ready to plot.
pub(super) struct Point {
    pub(super) x: f64,
    pub(super) level: f64,
    pub(super) y: f64,
    pub(super) band_top: f64,
    pub(super) quality: Quality,
    /// A throughput panel's whole-level figure among steady-state ones: drawn with a †.
    pub(super) marked: bool,
    /// The 95 % interval over trials of what the panel plots, (low, high): an error bar.
    pub(super) bar: Option<(f64, f64)>,
}

impl Point {
    /// Whether the point gets a marker: failed levels always (clamped into the axis), others
    /// when their value is a number.
    pub(super) fn has_marker(&self) -> bool {
        self.quality == Quality::Failed || self.y.is_finite()
    }
}

pub(super) struct Series {
    pub(super) color: RGBColor,
    pub(super) points: Vec<Point>,
}

pub(super) fn series(report: &Report, axis: &XAxis, panel: &Panel) -> Vec<Series> {
    let mix = BasisMix::of_report(report);
    report
        .engines
        .iter()
        .enumerate()
        .map(|(i, engine)| {
            let mut points: Vec<Point> = engine
                .levels
                .iter()
                .filter_map(|l| {
                    let x = axis.pos(l.level)?;
                    let y = (panel.value)(l)?;
                    let band_top = panel.band_top.and_then(|top| top(l)).unwrap_or(y);
                    Some(Point {
                        x,
                        level: l.level,
                        y,
                        band_top,
                        quality: drawn_quality(l),
                        marked: panel.throughput && !BasisMix::mark(mix, l).is_empty(),
                        bar: error_bar(l, y, panel),
                    })
                })
                .collect();
            // Left to right whatever order the levels ran in (an auto sweep bisects back).
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Series {
                color: engine_color(&engine.color, i),
                points,
            }
        })
        .collect()
}

/// How a level is drawn: as [`quality`] ranks it, except that a level whose client was
/// starved by a busy host (its numbers were set by the box) is hollow like a skipped one.
fn drawn_quality(level: &LevelSummary) -> Quality {
    match quality(level) {
        Quality::Good if level.client_state == ClientState::Starved => Quality::Partial,
        q => q,
    }
}

/// The error bar of a level plotted at `y`: the panel's interval when the level's intervals
/// are over trials. Batch means are within-run only and get none, and neither do failed
/// levels (their marker is not a good value) or points without a value.
fn error_bar(level: &LevelSummary, y: f64, panel: &Panel) -> Option<(f64, f64)> {
    let intervals = level.intervals.as_ref()?;
    if intervals.method != IntervalMethod::Trials || !y.is_finite() {
        return None;
    }
    if quality(level) == Quality::Failed && !panel.failed_is_data {
        return None;
    }
    let (low, high) = (panel.interval?)(intervals)?;
    (low.is_finite() && high.is_finite() && low <= high).then_some((low, high))
}

/// Whether a chart of `kind` draws any error bar.
pub(super) fn has_error_bars(report: &Report, kind: ChartKind) -> bool {
    let axis = XAxis::new(report);
    panels(kind).iter().any(|panel| {
        series(report, &axis, panel)
            .iter()
            .flat_map(|s| &s.points)
            .any(|p| p.bar.is_some())
    })
}

/// How a level's marker is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A filled dot: the level ran to its end.
    Filled,
    /// A hollow ring: the level was skipped (partial), or the host was busy (its client was
    /// starved: the box set its numbers).
    Hollow,
    /// A red ✕ in a ring: the level failed (or had > 50 % errors); it breaks the line.
    Failed,
}

/// One marker the chart draws in a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct PlottedPoint {
    /// The engine's index in `report.engines`.
    pub engine: usize,
    /// The level: concurrency, or req/s in rate mode.
    pub level: f64,
    /// The value plotted (a failed level's is clamped into the axis when drawn).
    pub value: f64,
    /// How the marker looks.
    pub marker: Marker,
    /// A whole-level throughput among steady-state ones: drawn with a † beside it.
    pub whole_level_mark: bool,
}

/// The markers of the three panels of `kind`, left to right, engines in report order: what the
/// chart draws, as data. A level without a value in a panel (no successful request, so no
/// latency) has no marker there; failed and skipped levels with a value keep theirs.
pub fn chart_points(report: &Report, kind: ChartKind) -> [Vec<PlottedPoint>; 3] {
    let axis = XAxis::new(report);
    panels(kind).each_ref().map(|panel| {
        series(report, &axis, panel)
            .iter()
            .enumerate()
            .flat_map(|(engine, s)| {
                s.points
                    .iter()
                    .filter(|p| p.has_marker())
                    .map(move |p| PlottedPoint {
                        engine,
                        level: p.level,
                        value: p.y,
                        marker: match p.quality {
                            Quality::Good => Marker::Filled,
                            Quality::Partial => Marker::Hollow,
                            Quality::Failed => Marker::Failed,
                        },
                        whole_level_mark: p.marked,
                    })
            })
            .collect()
    })
}

pub(super) fn engine_color(hex: &str, position: usize) -> RGBColor {
    let Rgb(r, g, b) = Rgb::parse(hex).unwrap_or_else(|| Rgb::default_for(position));
    RGBColor(r, g, b)
}

/// The runs of consecutive drawable good/partial points: failed or non-numeric points break
/// the line.
pub(super) fn segments(points: &[Point]) -> Vec<Vec<&Point>> {
    let mut out: Vec<Vec<&Point>> = vec![Vec::new()];
    for p in points {
        if p.quality == Quality::Failed || !p.y.is_finite() {
            if out.last().is_some_and(|s| !s.is_empty()) {
                out.push(Vec::new());
            }
        } else if let Some(current) = out.last_mut() {
            current.push(p);
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// The y range of a panel: from 0 (or below, for negative values) to 10 % above the top, the
/// tops of error bars included (their bottoms are cut at the axis). `reserve` is the share of
/// the plot's height to keep free above the data (for the knee labels); 0 for none.
pub(super) fn y_range(series: &[Series], panel: &Panel, reserve: f64) -> (f64, f64) {
    let mut lo = 0.0f64;
    let mut hi = f64::NEG_INFINITY;
    for p in series.iter().flat_map(|s| &s.points) {
        if p.quality == Quality::Failed && !panel.failed_is_data {
            continue;
        }
        let bar_top = p.bar.map_or(f64::NAN, |(_, high)| high);
        for v in [p.y, p.band_top, bar_top] {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if !(hi.is_finite() && hi > lo) {
        hi = lo + 1.0;
    }
    if panel.failed_is_data && hi - lo < 1.0 {
        hi = lo + 1.0; // error rate: a 0–1 % axis at least
    }
    let span = hi - lo;
    let lo = if lo < 0.0 { lo - span * 0.1 } else { lo };
    let mut pad = span * 0.1;
    if reserve > 0.0 {
        // `pad / (hi + pad - lo)` of the height is free above the data.
        let reserve = reserve.min(0.6);
        pad = pad.max(reserve * (hi - lo) / (1.0 - reserve));
    }
    (lo, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(y: f64, quality: Quality) -> Point {
        Point {
            x: 1.0,
            level: 1.0,
            y,
            band_top: f64::NAN,
            quality,
            marked: false,
            bar: None,
        }
    }

    #[test]
    fn a_marker_for_every_number_and_every_failed_level_but_none_for_a_missing_value() {
        assert!(point(3.0, Quality::Good).has_marker());
        assert!(point(f64::NAN, Quality::Failed).has_marker(), "clamped in");
        assert!(!point(f64::NAN, Quality::Good).has_marker());
        assert!(!point(f64::NAN, Quality::Partial).has_marker());
    }

    #[test]
    fn the_y_range_starts_at_zero_and_pads_below_negative_data() {
        let panel = &panels(ChartKind::Standard)[0];
        let series = |ys: &[f64]| {
            vec![Series {
                color: RGBColor(0, 0, 0),
                points: ys.iter().map(|&y| point(y, Quality::Good)).collect(),
            }]
        };
        // Positive data: from 0, 10 % of the span above.
        assert_eq!(y_range(&series(&[2.0, 10.0]), panel, 0.0), (0.0, 11.0));
        // Data below 0: 10 % of the span below as well.
        let (lo, hi) = y_range(&series(&[-10.0, 10.0]), panel, 0.0);
        assert!(
            (lo + 12.0).abs() < 1e-9 && (hi - 12.0).abs() < 1e-9,
            "{lo} {hi}"
        );
    }
}
