//! The comparison chart: three panels side by side, one line per engine, drawn with plotters
//! into a PNG or an SVG.
//!
//! Layout (see [`chart_layout`]): a header with the title (models), a subtitle (date, run name,
//! sweep) and a "SIMULATED ENGINES" badge when the run is simulated, then one legend for the
//! whole figure; the three panels; a footer saying which throughput is shown (steady-state
//! window or whole level, see [`BasisMix`]), then (on a line of its own, which makes the footer
//! taller) what the error bars and the knee marks are, above the workload. In each panel x is
//! the level on a log2 axis with a tick at every level that ran, y starts at 0; each engine is a
//! line through its medians, left to right by level (an auto sweep's levels are stored in the
//! order they ran), with a marker per level and, for latencies, a shaded p50–p99 band. Skipped
//! (partial) levels and levels the box starved the client in (`client_state = starved`) get a
//! hollow marker; failed levels (or > 50 % errors) get a red ✕ in an
//! engine-coloured ring and break the line — they are never drawn as good values. A level
//! without a value in a panel (no successful request: no latency) has no marker there. When
//! some levels' throughput is steady-state and others' whole-level, the latter carry a †.
//!
//! With `[sweep] trials` > 1 a level's marker sits on a capped error bar in the engine's
//! colour: the 95 % interval over the trials of what the panel plots (see `panels`); batch-means
//! intervals (one trial, within-run only) are never drawn, nor are failed levels' bars. The y
//! axis reaches the bars' tops; a bar's bottom below the axis is cut there, without a cap. With
//! `levels = "auto"`, each engine whose search found a knee gets in every panel a dashed tick at
//! the knee from the x axis up to a label ("knee C=24", "knee 6 req/s") near the top; labels are
//! stacked in rows so they never overlap, and the y range keeps those rows above the data.
//!
//! Text uses DejaVu Sans embedded in the binary, so charts look the same with no system fonts.
//!
//! - `layout` — the image size and the rectangles of header, legend, panels and footer.
//! - `text`   — fonts, fitting a line into a width, the `Pen` that draws text (PNG or SVG).
//! - `panels` — what each panel of a [`ChartKind`] plots.
//! - `axis`   — the x axis of levels and the y axis with "nice" ticks.
//! - `points` — the data behind lines and markers; [`chart_points`].
//! - `frame`  — the header and the footer.
//! - `legend` — the legend's entries, wrapped into rows.
//! - `knee`   — the knee marks of an auto sweep and their stacked labels.
//! - `plot`   — one panel drawn: axes, bands, knee ticks, lines, error bars, markers.
//! - this file — [`chart_png`], [`chart_svg`], [`chart_layout`] and drawing the whole figure.
//!
//! [`BasisMix`]: super::BasisMix

mod axis;
mod frame;
mod knee;
mod layout;
mod legend;
mod panels;
mod plot;
mod points;
mod text;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{font, ReportError};
use crate::results::model::Report;
use axis::XAxis;
use frame::{draw_footer, draw_header, footer_lines};
use layout::layout_for;
use legend::{draw_legend, legend_rows};
use panels::panels;
use plot::draw_panel;
use text::Pen;

pub use layout::{ChartLayout, Rect, HEIGHT, WIDTH};
pub use points::{chart_points, Marker, PlottedPoint};

/// Which metrics a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    /// Request throughput (req/s), E2E latency (s), TTFT (ms).
    Standard,
    /// Output throughput (tok/s), TPOT (ms), error rate (%).
    Extended,
    /// The engines' own metrics: KV cache usage (%, mean with a band to the max), waiting
    /// requests (mean, band to max), client-added TTFT (ms).
    Server,
}

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
const FAIL: RGBColor = RGBColor(0xC0, 0x00, 0x00);
const BADGE: RGBColor = RGBColor(0xC6, 0x28, 0x28);

/// Renders the chart as a PNG (RGB, [`WIDTH`] × [`HEIGHT`]).
pub fn chart_png(report: &Report, kind: ChartKind) -> Result<Vec<u8>, ReportError> {
    font::ensure_loaded()?;
    let (w, h) = (WIDTH, HEIGHT);
    let mut pixels = vec![0u8; w as usize * h as usize * 3];
    guarded(|| {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        draw_chart(&root, Pen::Raster, report, kind)?;
        root.present().map_err(draw_err)
    })?;
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ReportError::Encode(e.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| ReportError::Encode(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| ReportError::Encode(e.to_string()))?;
    Ok(png_bytes)
}

/// Renders the chart as an SVG document ([`WIDTH`] × [`HEIGHT`]; text as `<text>` elements in
/// `sans-serif`).
pub fn chart_svg(report: &Report, kind: ChartKind) -> Result<String, ReportError> {
    font::ensure_loaded()?;
    let mut svg = String::new();
    guarded(|| {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_chart(&root, Pen::Native, report, kind)?;
        root.present().map_err(draw_err)
    })?;
    Ok(svg)
}

/// The layout [`chart_png`] uses for `report`: where the header, legend, panels and footer are.
pub fn chart_layout(report: &Report) -> Result<ChartLayout, ReportError> {
    font::ensure_loaded()?;
    let rows = legend_rows(report)?.len().max(1) as i32;
    Ok(layout_for(rows, footer_lines(report)))
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> ReportError {
    ReportError::Draw(e.to_string())
}

/// Runs a renderer, turning a panic inside plotters into an error: a chart is never worth a
/// crash of the run that produced the numbers.
fn guarded(render: impl FnOnce() -> Result<(), ReportError>) -> Result<(), ReportError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(render)) {
        Ok(result) => result,
        Err(_) => Err(ReportError::Draw("the renderer panicked".to_string())),
    }
}

fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    pen: Pen,
    report: &Report,
    kind: ChartKind,
) -> Result<(), ReportError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let rows = legend_rows(report)?;
    let layout = layout_for(rows.len().max(1) as i32, footer_lines(report));
    draw_header(root, pen, report, kind, &layout)?;
    draw_legend(root, pen, &rows, &layout)?;
    let panels = panels(kind);
    let axis = XAxis::new(report);
    for (panel, rect) in panels.iter().zip(layout.panels) {
        let area = root
            .clone()
            .shrink((rect.x, rect.y), (rect.w as u32, rect.h as u32));
        draw_panel(&area, pen, report, &axis, panel)?;
    }
    draw_footer(root, pen, report, kind, &layout)?;
    Ok(())
}
