//! The legend: one entry per engine, then the key to the band and the markers, wrapped into
//! rows that fit the width.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::layout::{ChartLayout, LEGEND_ROW_H, SIDE, WIDTH};
use super::plot::{draw_failed, draw_partial};
use super::points::engine_color;
use super::text::{fit, Label, Pen};
use super::{draw_err, INK, MUTED};
use crate::report::{font, ReportError};
use crate::results::model::Report;

/// An entry of the legend.
pub(super) enum LegendItem {
    Engine { label: String, color: RGBColor },
    Band,
    Partial,
    Failed,
}

const LEGEND_FONT: f64 = 16.0;
const SWATCH_W: i32 = 36;

impl LegendItem {
    fn label(&self) -> &str {
        match self {
            LegendItem::Engine { label, .. } => label,
            LegendItem::Band => "line: median, shaded: p50–p99",
            LegendItem::Partial => "skipped (partial) or host-busy level",
            LegendItem::Failed => "failed level (or > 50 % errors)",
        }
    }
}

/// The legend's items, wrapped into rows that fit the width; each item with its x offset.
pub(super) fn legend_rows(report: &Report) -> Result<Vec<Vec<(i32, LegendItem)>>, ReportError> {
    let mut items: Vec<LegendItem> = report
        .engines
        .iter()
        .enumerate()
        .map(|(i, e)| LegendItem::Engine {
            label: if e.levels.is_empty() {
                format!("{} (no data)", e.name)
            } else {
                e.name.clone()
            },
            color: engine_color(&e.color, i),
        })
        .collect();
    items.extend([LegendItem::Band, LegendItem::Partial, LegendItem::Failed]);
    let max_w = WIDTH as i32 - 2 * SIDE;
    let mut rows: Vec<Vec<(i32, LegendItem)>> = vec![Vec::new()];
    let mut x = 0;
    let engines = report.engines.len();
    for (i, item) in items.into_iter().enumerate() {
        let item = match item {
            LegendItem::Engine { label, color } => LegendItem::Engine {
                label: fit(&label, LEGEND_FONT, false, max_w / 2)?,
                color,
            },
            other => other,
        };
        let w = SWATCH_W + 8 + font::width(item.label(), LEGEND_FONT, false)?;
        // A wider gap between the engines and the marker key.
        let gap = if i == engines && engines > 0 { 60 } else { 28 };
        let start = if x == 0 { 0 } else { x + gap };
        if start + w > max_w && x > 0 {
            rows.push(vec![(0, item)]);
            x = w;
        } else if let Some(row) = rows.last_mut() {
            row.push((start, item));
            x = start + w;
        }
    }
    Ok(rows)
}

pub(super) fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    pen: Pen,
    rows: &[Vec<(i32, LegendItem)>],
    layout: &ChartLayout,
) -> Result<(), ReportError> {
    for (r, row) in rows.iter().enumerate() {
        let y = layout.legend.y + r as i32 * LEGEND_ROW_H + LEGEND_ROW_H / 2;
        for (offset, item) in row {
            let x = layout.legend.x + offset;
            let mid = (x + SWATCH_W / 2, y);
            let line =
                |c: &RGBColor| PathElement::new(vec![(x, y), (x + SWATCH_W, y)], c.stroke_width(3));
            let text_color = match item {
                LegendItem::Engine { color, .. } => {
                    root.draw(&line(color)).map_err(draw_err)?;
                    root.draw(&Circle::new(mid, 5, color.filled()))
                        .map_err(draw_err)?;
                    INK
                }
                LegendItem::Band => {
                    root.draw(&Rectangle::new(
                        [(x, y - 8), (x + SWATCH_W, y + 8)],
                        MUTED.mix(0.25).filled(),
                    ))
                    .map_err(draw_err)?;
                    root.draw(&line(&MUTED)).map_err(draw_err)?;
                    MUTED
                }
                LegendItem::Partial => {
                    draw_partial(root, mid, &MUTED)?;
                    MUTED
                }
                LegendItem::Failed => {
                    draw_failed(root, mid, &MUTED)?;
                    MUTED
                }
            };
            pen.draw(
                root,
                Label::new(item.label(), (x + SWATCH_W + 8, y), LEGEND_FONT)
                    .color(&text_color)
                    .anchor(HPos::Left, VPos::Center),
            )?;
        }
    }
    Ok(())
}
