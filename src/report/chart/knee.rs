//! The knee marks of an auto sweep (`levels = "auto"`): in every panel, a dashed tick in the
//! engine's colour from the x axis up to a small label near the top ("knee C=24", "knee 6
//! req/s"). Labels whose boxes would overlap are stacked in rows, and the panel keeps that many
//! rows free above its data (see `points::y_range`).

use plotters::prelude::*;

use super::axis::XAxis;
use super::points::engine_color;
use crate::report::{fmt_level, font, is_rate, ReportError};
use crate::results::model::Report;

/// Size of a knee label.
pub(super) const LABEL_SIZE: f64 = 13.0;
/// Height of one row of knee labels, px.
pub(super) const ROW_H: i32 = 17;
/// From the top of the plotting area to the first row, px.
pub(super) const TOP: i32 = 4;
/// From a tick to its label, px.
const BESIDE: i32 = 5;
/// Least room between two labels of a row, px.
const GAP: i32 = 8;

/// One engine's knee, on the shared x axis.
pub(super) struct Knee {
    /// The engine's colour.
    pub(super) color: RGBColor,
    /// Position on the x axis (log2 of the level on a log2 axis).
    pub(super) x: f64,
    /// "knee C=24", "knee 6 req/s".
    pub(super) label: String,
    /// The knee was found against the SLOs (`max_concurrency_meeting_slo` or
    /// `max_rate_meeting_slo` is set); else it is where throughput stopped growing.
    pub(super) slo: bool,
}

/// The knees of the engines whose search found one, in report order; a knee off the axis (not
/// a level that ran, in a hand-edited file) is left out.
pub(super) fn knees(report: &Report, axis: &XAxis) -> Vec<Knee> {
    report
        .engines
        .iter()
        .enumerate()
        .filter_map(|(i, engine)| {
            let search = engine.search.as_ref()?;
            let level = search.knee?;
            let x = axis
                .pos(level)
                .filter(|x| (axis.lo..=axis.hi).contains(x))?;
            let label = if is_rate(report) {
                format!("knee {} req/s", fmt_level(level))
            } else {
                format!("knee C={}", fmt_level(level))
            };
            Some(Knee {
                color: engine_color(&engine.color, i),
                x,
                label,
                slo: search.max_concurrency_meeting_slo.is_some()
                    || search.max_rate_meeting_slo.is_some(),
            })
        })
        .collect()
}

/// What the knees are, for the footer: `None` without any.
pub(super) fn note(knees: &[Knee]) -> Option<&'static str> {
    let slo = knees.iter().any(|k| k.slo);
    let plateau = knees.iter().any(|k| !k.slo);
    match (slo, plateau) {
        (true, false) => Some("knee: highest level meeting the SLO"),
        (false, true) => Some("knee: where throughput stopped growing"),
        (true, true) => {
            Some("knee: highest level meeting the SLO, or where throughput stopped growing")
        }
        (false, false) => None,
    }
}

/// A knee label's place in a panel, in pixels.
pub(super) struct Placed {
    /// The tick's column.
    pub(super) x: i32,
    /// The label's left edge.
    pub(super) left: i32,
    /// The label's width.
    pub(super) width: i32,
    /// The row, 0 at the top.
    pub(super) row: i32,
}

impl Placed {
    /// The top of the label's row, `py0` being the top of the plotting area.
    pub(super) fn top(&self, py0: i32) -> i32 {
        py0 + TOP + self.row * ROW_H
    }
}

/// Places the labels of `knees` (ticks at the columns `columns`) in the plotting area's columns
/// `left..right`: beside the tick, on its right unless that runs out of the area, in the first
/// row where it overlaps no label already placed.
pub(super) fn place(
    knees: &[Knee],
    columns: &[i32],
    (left, right): (i32, i32),
) -> Result<Vec<Placed>, ReportError> {
    let mut placed: Vec<Placed> = Vec::new();
    for (knee, &x) in knees.iter().zip(columns) {
        let width = font::width(&knee.label, LABEL_SIZE, true)?;
        let mut start = x + BESIDE;
        if start + width > right {
            start = (x - BESIDE - width).max(left);
        }
        let clear = |row: i32| {
            placed
                .iter()
                .filter(|p| p.row == row)
                .all(|p| start + width + GAP <= p.left || p.left + p.width + GAP <= start)
        };
        let row = (0..).find(|&row| clear(row)).unwrap_or(0);
        placed.push(Placed {
            x,
            left: start,
            width,
            row,
        });
    }
    Ok(placed)
}

/// The pixels the rows of `placed` take at the top of the plotting area, margin below included.
pub(super) fn rows_height(placed: &[Placed]) -> i32 {
    match placed.iter().map(|p| p.row).max() {
        Some(last) => TOP + (last + 1) * ROW_H + 6,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: &str = "knee C=8";

    fn knees(n: usize) -> Vec<Knee> {
        (0..n)
            .map(|_| Knee {
                color: RGBColor(0, 0, 0),
                x: 3.0,
                label: LABEL.to_string(),
                slo: true,
            })
            .collect()
    }

    fn width() -> i32 {
        font::width(LABEL, LABEL_SIZE, true).unwrap()
    }

    fn rows(columns: &[i32]) -> Vec<i32> {
        place(&knees(columns.len()), columns, (0, 10_000))
            .unwrap()
            .iter()
            .map(|p| p.row)
            .collect()
    }

    #[test]
    fn a_label_sits_right_of_its_tick_unless_it_runs_out_of_the_area() {
        let w = width();
        // Ending exactly at the area's right edge: it stays on the right.
        let x = 1000 - BESIDE - w;
        let p = &place(&knees(1), &[x], (0, 1000)).unwrap()[0];
        assert_eq!((p.x, p.left, p.width, p.row), (x, x + BESIDE, w, 0));
        // A pixel further: it turns to the tick's left, as far from it.
        let p = &place(&knees(1), &[x + 1], (0, 1000)).unwrap()[0];
        assert_eq!(p.left + p.width, x + 1 - BESIDE);
        // Never out of the area's left edge.
        let p = &place(&knees(1), &[20], (10, 20 + w / 2)).unwrap()[0];
        assert_eq!(p.left, 10);
    }

    #[test]
    fn labels_closer_than_the_gap_go_to_the_next_row() {
        let w = width();
        let (a, b) = (100, 100 + w + GAP);
        assert_eq!(rows(&[a, b]), [0, 0]);
        assert_eq!(rows(&[a, b - 1]), [0, 1]);
        // The second placed on the first's left.
        assert_eq!(rows(&[b, a]), [0, 0]);
        assert_eq!(rows(&[b - 1, a]), [0, 1]);
        // Three at one place: three rows; a fourth clear of them all goes back to the top.
        assert_eq!(rows(&[a, a, a, a + 3 * w]), [0, 1, 2, 0]);
    }

    #[test]
    fn the_rows_height_covers_every_row() {
        assert_eq!(rows_height(&[]), 0);
        let mut placed = place(&knees(1), &[100], (0, 10_000)).unwrap();
        assert_eq!(rows_height(&placed), TOP + ROW_H + 6);
        placed[0].row = 2;
        assert_eq!(rows_height(&placed), TOP + 3 * ROW_H + 6);
        assert_eq!(placed[0].top(50), 50 + TOP + 2 * ROW_H);
    }
}
