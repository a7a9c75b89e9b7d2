//! One panel drawn: caption, axes and tick labels, then the bands, the knee ticks, the lines,
//! the error bars, the markers and the knee labels.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{XAxis, YAxis};
use super::knee::{self, Knee, Placed};
use super::panels::Panel;
use super::points::{segments, series, y_range};
use super::text::{fit, font, Label, Pen};
use super::{draw_err, BADGE, FAIL, GRID, INK, MUTED};
use crate::report::{is_rate, BasisMix, Quality, ReportError, Swept, WHOLE_LEVEL_MARK};
use crate::results::model::Report;

/// Hollow marker of a skipped (partial) level, or one whose host was busy.
pub(super) fn draw_partial<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    color: &RGBColor,
) -> Result<(), ReportError> {
    area.draw(&Circle::new(at, 6, WHITE.filled()))
        .map_err(draw_err)?;
    area.draw(&Circle::new(at, 6, color.stroke_width(2)))
        .map_err(draw_err)
}

/// Red ✕ in an engine-coloured ring: a failed level.
pub(super) fn draw_failed<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    color: &RGBColor,
) -> Result<(), ReportError> {
    area.draw(&Circle::new(at, 10, WHITE.filled()))
        .map_err(draw_err)?;
    area.draw(&Circle::new(at, 10, color.stroke_width(2)))
        .map_err(draw_err)?;
    area.draw(&Cross::new(at, 5, FAIL.stroke_width(3)))
        .map_err(draw_err)
}

/// Height of a panel's caption block (title and "higher/lower is better").
const CAPTION_H: i32 = 62;

/// Half the width of an error bar's caps, px.
const CAP: i32 = 6;

/// A vertical error bar from `low` to `high` (pixel rows, `low` below), caps at both ends; a
/// bottom cut at the axis (`low_cut`) has no cap there.
fn draw_error_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x: i32,
    (low, high): (i32, i32),
    low_cut: bool,
    color: &RGBColor,
) -> Result<(), ReportError> {
    let style = color.stroke_width(2);
    area.draw(&PathElement::new(vec![(x, low), (x, high)], style))
        .map_err(draw_err)?;
    let mut caps = vec![high];
    if !low_cut {
        caps.push(low);
    }
    for y in caps {
        area.draw(&PathElement::new(vec![(x - CAP, y), (x + CAP, y)], style))
            .map_err(draw_err)?;
    }
    Ok(())
}

pub(super) fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pen: Pen,
    report: &Report,
    axis: &XAxis,
    panel: &Panel,
) -> Result<(), ReportError>
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let caption = format!("{} ({})", panel.title, panel.unit);
    pen.draw(area, Label::new(&caption, (76, 8), 21.0).bold())?;
    let mut hint = if panel.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    }
    .to_string();
    if panel.throughput {
        match BasisMix::of_report(report) {
            Some(BasisMix::Steady) => hint.push_str(" · steady state"),
            Some(BasisMix::WholeLevel) => hint.push_str(" · whole level"),
            Some(BasisMix::Mixed) => {
                hint.push_str(&format!(
                    " · steady state, {WHOLE_LEVEL_MARK} = whole level"
                ));
            }
            None => {}
        }
    }
    let hint = fit(&hint, 15.0, false, w as i32 - 76 - 8)?;
    pen.draw(area, Label::new(&hint, (76, 36), 15.0).color(&MUTED))?;

    let series = series(report, axis, panel);
    let plot = area
        .clone()
        .shrink((0, CAPTION_H), (w, (h as i32 - CAPTION_H).max(1) as u32));
    let mut builder = ChartBuilder::on(&plot);
    builder
        .margin_left(8)
        .margin_right(22)
        .margin_top(6)
        .margin_bottom(4)
        .x_label_area_size(54)
        .y_label_area_size(64);
    let knees = knee::knees(report, axis);
    let (mut y_lo, mut y_hi) = y_range(&series, panel, 0.0);
    let mut labels: Vec<Placed> = Vec::new();
    if !knees.is_empty() {
        // The plotting area's pixels do not depend on the y range: a first build places the
        // knee labels, and the y range then keeps their rows free above the data.
        let probe = builder
            .build_cartesian_2d(axis.clone(), YAxis::new(y_lo, y_hi))
            .map_err(draw_err)?;
        let plotting = probe.plotting_area();
        let base = plot.get_base_pixel();
        let (pw, ph) = plotting.dim_in_pixel();
        let columns: Vec<i32> = knees
            .iter()
            .map(|k| plotting.map_coordinate(&(k.x, y_lo)).0 - base.0)
            .collect();
        let area = columns_of(plotting.get_base_pixel().0, base.0, pw);
        labels = knee::place(&knees, &columns, area)?;
        let reserve = f64::from(knee::rows_height(&labels)) / f64::from(ph.max(1));
        (y_lo, y_hi) = y_range(&series, panel, reserve);
    }
    let y_axis = YAxis::new(y_lo, y_hi);
    let mut chart = builder
        .build_cartesian_2d(axis.clone(), y_axis.clone())
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .label_style(font(14.0, false).color(&INK))
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .axis_style(MUTED)
        .draw()
        .map_err(draw_err)?;

    // Pixel geometry of the plotting rectangle, relative to `plot`.
    let plotting = chart.plotting_area();
    let base = plot.get_base_pixel();
    let to_plot = |at: (i32, i32)| (at.0 - base.0, at.1 - base.1);
    let (px0, py0) = to_plot(plotting.get_base_pixel());
    let (pw, ph) = plotting.dim_in_pixel();
    let centre = (px0 + pw as i32 / 2, py0 + ph as i32 / 2);

    let bottom = py0 + ph as i32;
    for &tick in &axis.ticks {
        let (x, _) = to_plot(plotting.map_coordinate(&(tick, y_lo)));
        pen.draw(
            &plot,
            Label::new(&axis.label(tick), (x, bottom + 8), 14.0).anchor(HPos::Center, VPos::Top),
        )?;
    }
    for &tick in &y_axis.ticks {
        let (_, y) = to_plot(plotting.map_coordinate(&(axis.lo, tick)));
        pen.draw(
            &plot,
            Label::new(&y_axis.label(tick), (px0 - 9, y), 14.0).anchor(HPos::Right, VPos::Center),
        )?;
    }

    let x_desc = if axis.log2 && is_rate(report) && report.workload.trace.is_none() {
        "request rate (req/s, log2 scale)".to_string()
    } else if axis.log2 {
        format!("{} (log2 scale)", Swept::of(report).name())
    } else {
        Swept::of(report).name().to_string()
    };
    pen.draw(
        &plot,
        Label::new(&x_desc, (centre.0, bottom + 30), 15.0)
            .color(&MUTED)
            .anchor(HPos::Center, VPos::Top),
    )?;
    if report.simulated {
        pen.draw(
            &plot,
            Label::new("SIMULATED", centre, 56.0)
                .bold()
                .color(&BADGE.mix(0.08))
                .anchor(HPos::Center, VPos::Center),
        )?;
    }

    let clamp = |v: f64| {
        if v.is_finite() {
            v.clamp(y_lo, y_hi)
        } else {
            y_lo
        }
    };

    // Bands first, under every line.
    for s in series.iter().filter(|_| panel.band_top.is_some()) {
        for seg in segments(&s.points) {
            if seg.len() == 1 {
                let p = seg[0];
                let top = clamp(p.band_top);
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(p.x, clamp(p.y)), (p.x, top)],
                        s.color.mix(0.35).stroke_width(8),
                    )))
                    .map_err(draw_err)?;
            } else {
                let mut outline: Vec<(f64, f64)> =
                    seg.iter().map(|p| (p.x, clamp(p.band_top))).collect();
                outline.extend(seg.iter().rev().map(|p| (p.x, clamp(p.y))));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        outline,
                        s.color.mix(0.16).filled(),
                    )))
                    .map_err(draw_err)?;
            }
        }
    }
    // Knee ticks, under the lines: dashed, from the x axis up to the label's row.
    for (k, at) in knees.iter().zip(&labels) {
        plot.draw(&DashedPathElement::new(
            vec![(at.x, bottom), (at.x, at.top(py0))],
            6,
            4,
            k.color.mix(KNEE_OPACITY).stroke_width(2),
        ))
        .map_err(draw_err)?;
    }
    // Lines.
    for s in &series {
        for seg in segments(&s.points) {
            if seg.len() > 1 {
                let line: Vec<(f64, f64)> = seg.iter().map(|p| (p.x, clamp(p.y))).collect();
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        line,
                        s.color.stroke_width(3),
                    )))
                    .map_err(draw_err)?;
            }
        }
    }
    // Error bars under the markers: the bottom is cut at the axis when it reaches below.
    let plotting = chart.plotting_area();
    for s in &series {
        for p in s.points.iter().filter(|p| p.has_marker()) {
            let Some((low, high)) = p.bar else { continue };
            let (x, low_px) = to_plot(plotting.map_coordinate(&(p.x, clamp(low))));
            let (_, high_px) = to_plot(plotting.map_coordinate(&(p.x, clamp(high))));
            draw_error_bar(&plot, x, (low_px, high_px), low < y_lo, &s.color)?;
        }
    }
    // Markers on top: failed levels at their value clamped into the axis, never on the line.
    let mut drawn = 0;
    for s in &series {
        for p in s.points.iter().filter(|p| p.has_marker()) {
            let y = if p.quality == Quality::Failed {
                clamp(p.y)
            } else {
                p.y
            };
            let at = to_plot(plotting.map_coordinate(&(p.x, y)));
            drawn += 1;
            match p.quality {
                Quality::Good => plot
                    .draw(&Circle::new(at, 5, s.color.filled()))
                    .map_err(draw_err)?,
                Quality::Partial => draw_partial(&plot, at, &s.color)?,
                Quality::Failed => draw_failed(&plot, at, &s.color)?,
            }
            if p.marked {
                pen.draw(
                    &plot,
                    Label::new(WHOLE_LEVEL_MARK, (at.0 + 7, at.1 - 5), 17.0)
                        .bold()
                        .anchor(HPos::Left, VPos::Bottom),
                )?;
            }
        }
    }
    draw_knee_labels(&plot, pen, &knees, &labels, py0)?;
    if drawn == 0 {
        pen.draw(
            &plot,
            Label::new("no data", centre, 18.0)
                .color(&MUTED)
                .anchor(HPos::Center, VPos::Center),
        )?;
    }
    Ok(())
}

/// The plotting area's columns `left..right` relative to the panel's origin, from the area's
/// and the panel's left edges on the canvas and the area's width.
fn columns_of(plotting_x: i32, panel_x: i32, width: u32) -> (i32, i32) {
    let left = plotting_x - panel_x;
    (left, left + width as i32)
}

/// Opacity of a knee's tick: lighter than the data it crosses.
const KNEE_OPACITY: f64 = 0.7;

/// The knee labels, on top of everything, each in its row beside its tick.
fn draw_knee_labels<DB: DrawingBackend>(
    plot: &DrawingArea<DB, Shift>,
    pen: Pen,
    knees: &[Knee],
    labels: &[Placed],
    py0: i32,
) -> Result<(), ReportError> {
    for (k, at) in knees.iter().zip(labels) {
        let (anchor, x) = if at.left >= at.x {
            (HPos::Left, at.left)
        } else {
            (HPos::Right, at.left + at.width)
        };
        pen.draw(
            plot,
            Label::new(&k.label, (x, at.top(py0)), knee::LABEL_SIZE)
                .bold()
                .color(&k.color)
                .anchor(anchor, VPos::Top),
        )?;
    }
    Ok(())
}
