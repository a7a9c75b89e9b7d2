//! The comparison chart: three panels side by side, one line per engine, drawn with plotters
//! into a PNG or an SVG.
//!
//! Layout (see [`chart_layout`]): a header with the title (models), a subtitle (date, run name,
//! sweep) and a "SIMULATED ENGINES" badge when the run is simulated, then one legend for the
//! whole figure; the three panels; a footer saying which throughput is shown (steady-state
//! window or whole level, see [`BasisMix`]) above the workload. In each panel x is the level on
//! a log2 axis with a tick at every level that ran, y starts at 0; each engine is a line through
//! its medians with a marker per level and, for latencies, a shaded p50–p99 band. Skipped
//! (partial) levels get a hollow marker; failed levels (or > 50 % errors) get a red ✕ in an
//! engine-coloured ring and break the line — they are never drawn as good values. A level
//! without a value in a panel (no successful request: no latency) has no marker there. When
//! some levels' throughput is steady-state and others' whole-level, the latter carry a †.
//!
//! Text uses DejaVu Sans embedded in the binary, so charts look the same with no system fonts.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    display_time, fmt_level, font, is_rate, level_name, models, per_level_text, quality, slo_text,
    BasisMix, Quality, ReportError, WHOLE_LEVEL_MARK,
};
use crate::color::Rgb;
use crate::results::model::{LevelSummary, Report, RunStatus};

/// Which metrics a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    /// Request throughput (req/s), E2E latency (s), TTFT (ms).
    Standard,
    /// Output throughput (tok/s), TPOT (ms), error rate (%).
    Extended,
}

/// A pixel rectangle of the chart: columns `x..x + w`, rows `y..y + h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: i32,
    /// Top row.
    pub y: i32,
    /// Width in pixels.
    pub w: i32,
    /// Height in pixels.
    pub h: i32,
}

impl Rect {
    /// Whether the pixel `(x, y)` lies inside.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }
}

/// Where everything goes in a chart of a given report (the legend may wrap, moving the panels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartLayout {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Title, subtitle and (when simulated) the SIMULATED ENGINES badge.
    pub title: Rect,
    /// The legend rows.
    pub legend: Rect,
    /// The three panels, left to right, each with its caption, axes and plot.
    pub panels: [Rect; 3],
    /// The workload line.
    pub footer: Rect,
}

/// Image width of every chart.
pub const WIDTH: u32 = 1800;
/// Image height of every chart.
pub const HEIGHT: u32 = 720;

const SIDE: i32 = 24;
const TITLE_H: i32 = 92;
const LEGEND_ROW_H: i32 = 30;
const FOOTER_H: i32 = 40;
const BADGE_W: i32 = 300;

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
    Ok(layout_for(rows))
}

fn layout_for(legend_rows: i32) -> ChartLayout {
    let (w, h) = (WIDTH as i32, HEIGHT as i32);
    let legend = Rect {
        x: SIDE,
        y: TITLE_H,
        w: w - 2 * SIDE,
        h: legend_rows * LEGEND_ROW_H + 6,
    };
    let top = legend.y + legend.h;
    let bottom = h - FOOTER_H;
    let panel_w = (w - 2 * (SIDE / 2)) / 3;
    let panel = |i: i32| Rect {
        x: SIDE / 2 + i * panel_w,
        y: top,
        w: panel_w,
        h: bottom - top,
    };
    ChartLayout {
        width: WIDTH,
        height: HEIGHT,
        title: Rect {
            x: 0,
            y: 0,
            w,
            h: TITLE_H,
        },
        legend,
        panels: [panel(0), panel(1), panel(2)],
        footer: Rect {
            x: 0,
            y: bottom,
            w,
            h: FOOTER_H,
        },
    }
}

// ---- text --------------------------------------------------------------------------------

fn font(size: f64, bold: bool) -> FontDesc<'static> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    FontDesc::new(FontFamily::SansSerif, size, style)
}

/// `text`, cut with `…` so it fits in `max_w` pixels.
fn fit(text: &str, size: f64, bold: bool, max_w: i32) -> Result<String, ReportError> {
    if font::width(text, size, bold)? <= max_w {
        return Ok(text.to_string());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if font::width(&candidate, size, bold)? <= max_w {
            return Ok(candidate);
        }
    }
    Ok(String::new())
}

/// How text is put on the backend: rasterised by us (PNG) or as `<text>` elements (SVG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pen {
    Raster,
    Native,
}

/// A line of text placed by its anchor: `h` as given, `v` top or centre of the line.
struct Label<'a> {
    text: &'a str,
    at: (i32, i32),
    size: f64,
    bold: bool,
    color: RGBAColor,
    h: HPos,
    v: VPos,
}

impl Label<'_> {
    fn new(text: &str, at: (i32, i32), size: f64) -> Label<'_> {
        Label {
            text,
            at,
            size,
            bold: false,
            color: INK.to_rgba(),
            h: HPos::Left,
            v: VPos::Top,
        }
    }
    fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
    fn color<C: Color>(mut self, color: &C) -> Self {
        self.color = color.to_rgba();
        self
    }
    fn anchor(mut self, h: HPos, v: VPos) -> Self {
        self.h = h;
        self.v = v;
        self
    }
}

impl Pen {
    fn draw<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, Shift>,
        label: Label<'_>,
    ) -> Result<(), ReportError> {
        if label.text.is_empty() {
            return Ok(());
        }
        if self == Pen::Native {
            let style = font(label.size, label.bold)
                .color(&label.color)
                .pos(Pos::new(label.h, label.v));
            return area
                .draw(&Text::new(label.text.to_string(), label.at, style))
                .map_err(draw_err);
        }
        let width = font::width(label.text, label.size, label.bold)?;
        let height = font::line_height(label.size, label.bold)?;
        let x = match label.h {
            HPos::Left => label.at.0,
            HPos::Center => label.at.0 - width / 2,
            HPos::Right => label.at.0 - width,
        };
        let y = match label.v {
            VPos::Top => label.at.1,
            VPos::Center => label.at.1 - height / 2,
            VPos::Bottom => label.at.1 - height,
        };
        let RGBAColor(r, g, b, alpha) = label.color;
        let mut result = Ok(());
        font::raster(
            label.text,
            (x, y),
            label.size,
            label.bold,
            |px, py, coverage| {
                let coverage = f64::from(coverage.clamp(0.0, 1.0)) * alpha;
                if coverage > 0.01 && result.is_ok() {
                    result = area
                        .draw_pixel((px, py), &RGBAColor(r, g, b, coverage))
                        .map_err(draw_err);
                }
            },
        )?;
        result
    }
}

// ---- drawing -------------------------------------------------------------------------------

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

/// What one panel plots.
struct Panel {
    title: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    /// The line: the median for latencies; `None` (no value, e.g. no success) omits the point.
    value: fn(&LevelSummary) -> Option<f64>,
    /// The top of the shaded band (p99), if the panel has one.
    band_top: Option<fn(&LevelSummary) -> Option<f64>>,
    /// Whether failed levels' values are meaningful here (error rate).
    failed_is_data: bool,
    /// A throughput panel: steady-state figures where the level's window allows, and it says so.
    throughput: bool,
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

/// Both axes map linearly over `lo..hi` (the x axis over log2 of the levels) with ticks
/// exactly where they were placed; tick labels are drawn by [`Pen`], not by plotters.
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
struct XAxis {
    log2: bool,
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl XAxis {
    fn new(report: &Report) -> XAxis {
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

    fn pos(&self, level: f64) -> Option<f64> {
        let p = if self.log2 { level.log2() } else { level };
        p.is_finite().then_some(p)
    }

    fn label(&self, pos: f64) -> String {
        fmt_level(if self.log2 { pos.exp2() } else { pos })
    }
}

tick_axis!(XAxis);

/// A linear y axis from `lo` to `hi` with "nice" ticks (1, 2, 2.5 or 5 × 10ⁿ apart).
#[derive(Clone)]
struct YAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    decimals: usize,
}

impl YAxis {
    fn new(lo: f64, hi: f64) -> YAxis {
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

    fn label(&self, value: f64) -> String {
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

/// One level of one engine, ready to plot.
struct Point {
    x: f64,
    level: f64,
    y: f64,
    band_top: f64,
    quality: Quality,
    /// A throughput panel's whole-level figure among steady-state ones: drawn with a †.
    marked: bool,
}

impl Point {
    /// Whether the point gets a marker: failed levels always (clamped into the axis), others
    /// when their value is a number.
    fn has_marker(&self) -> bool {
        self.quality == Quality::Failed || self.y.is_finite()
    }
}

struct Series {
    color: RGBColor,
    points: Vec<Point>,
}

fn series(report: &Report, axis: &XAxis, panel: &Panel) -> Vec<Series> {
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
                        quality: quality(l),
                        marked: panel.throughput && !BasisMix::mark(mix, l).is_empty(),
                    })
                })
                .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Series {
                color: engine_color(&engine.color, i),
                points,
            }
        })
        .collect()
}

/// How a level's marker is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A filled dot: the level ran to its end.
    Filled,
    /// A hollow ring: the level was skipped (partial).
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

fn panels(kind: ChartKind) -> &'static [Panel; 3] {
    match kind {
        ChartKind::Standard => &STANDARD,
        ChartKind::Extended => &EXTENDED,
    }
}

fn engine_color(hex: &str, position: usize) -> RGBColor {
    let Rgb(r, g, b) = Rgb::parse(hex).unwrap_or_else(|| Rgb::default_for(position));
    RGBColor(r, g, b)
}

/// The runs of consecutive drawable good/partial points: failed or non-numeric points break
/// the line.
fn segments(points: &[Point]) -> Vec<Vec<&Point>> {
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

/// The y range of a panel: from 0 (or below, for negative values) to 10 % above the top.
fn y_range(series: &[Series], panel: &Panel) -> (f64, f64) {
    let mut lo = 0.0f64;
    let mut hi = f64::NEG_INFINITY;
    for p in series.iter().flat_map(|s| &s.points) {
        if p.quality == Quality::Failed && !panel.failed_is_data {
            continue;
        }
        for v in [p.y, p.band_top] {
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
    (if lo < 0.0 { lo - span * 0.1 } else { lo }, hi + span * 0.1)
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
    let layout = layout_for(rows.len().max(1) as i32);
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
    draw_footer(root, pen, report, &layout)?;
    Ok(())
}

fn draw_header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    pen: Pen,
    report: &Report,
    kind: ChartKind,
    layout: &ChartLayout,
) -> Result<(), ReportError> {
    let badge = if report.simulated { BADGE_W + 20 } else { 0 };
    let max_w = layout.width as i32 - 2 * SIDE - badge;
    let models = models(report);
    let title = if models.is_empty() {
        "llmsweep".to_string()
    } else {
        models
    };
    let title = fit(&title, 30.0, true, max_w)?;
    pen.draw(root, Label::new(&title, (SIDE, 14), 30.0).bold())?;

    let mut sub = Vec::new();
    if !report.started_at.is_empty() {
        sub.push(display_time(&report.started_at));
    }
    if !report.run_name.is_empty() {
        sub.push(format!("run {}", report.run_name));
    }
    sub.push(format!("{} sweep", level_name(report)));
    match report.status {
        RunStatus::Complete => {}
        RunStatus::Running => sub.push("still running: partial results".to_string()),
        RunStatus::Aborted => sub.push("aborted: later levels not run".to_string()),
        RunStatus::Interrupted => sub.push("interrupted: later levels not run".to_string()),
        RunStatus::Failed => sub.push("failed: later levels not run".to_string()),
    }
    if kind == ChartKind::Extended {
        sub.push("extended metrics".to_string());
    }
    let sub = fit(&sub.join("  ·  "), 18.0, false, max_w)?;
    pen.draw(root, Label::new(&sub, (SIDE, 56), 18.0).color(&MUTED))?;

    if report.simulated {
        let x1 = layout.width as i32 - SIDE;
        let x0 = x1 - BADGE_W;
        root.draw(&Rectangle::new([(x0, 14), (x1, 56)], BADGE.filled()))
            .map_err(draw_err)?;
        let mid = (x0 + x1) / 2;
        pen.draw(
            root,
            Label::new("SIMULATED ENGINES", (mid, 35), 22.0)
                .bold()
                .color(&WHITE)
                .anchor(HPos::Center, VPos::Center),
        )?;
        pen.draw(
            root,
            Label::new("numbers model no real hardware", (mid, 62), 15.0)
                .color(&BADGE)
                .anchor(HPos::Center, VPos::Top),
        )?;
    }
    Ok(())
}

/// An entry of the legend.
enum LegendItem {
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
            LegendItem::Partial => "skipped level (partial)",
            LegendItem::Failed => "failed level (or > 50 % errors)",
        }
    }
}

/// The legend's items, wrapped into rows that fit the width; each item with its x offset.
fn legend_rows(report: &Report) -> Result<Vec<Vec<(i32, LegendItem)>>, ReportError> {
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

fn draw_legend<DB: DrawingBackend>(
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

/// Hollow marker of a skipped (partial) level.
fn draw_partial<DB: DrawingBackend>(
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
fn draw_failed<DB: DrawingBackend>(
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

fn draw_panel<DB: DrawingBackend>(
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
    let (y_lo, y_hi) = y_range(&series, panel);
    let y_axis = YAxis::new(y_lo, y_hi);
    let plot = area
        .clone()
        .shrink((0, CAPTION_H), (w, (h as i32 - CAPTION_H).max(1) as u32));
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(8)
        .margin_right(22)
        .margin_top(6)
        .margin_bottom(4)
        .x_label_area_size(54)
        .y_label_area_size(64)
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

    let x_desc = if axis.log2 && is_rate(report) {
        "request rate (req/s, log2 scale)".to_string()
    } else if axis.log2 {
        format!("{} (log2 scale)", level_name(report))
    } else {
        level_name(report).to_string()
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
    // Markers on top: failed levels at their value clamped into the axis, never on the line.
    let plotting = chart.plotting_area();
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

fn draw_footer<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    pen: Pen,
    report: &Report,
    layout: &ChartLayout,
) -> Result<(), ReportError> {
    let w = &report.workload;
    let mut parts = vec![format!("max_tokens {}", w.max_tokens)];
    if !w.prompt_source.is_empty() {
        parts.push(format!("prompts: {}", w.prompt_source));
    }
    parts.push(format!(
        "{} (+{} warmup)",
        per_level_text(report),
        w.warmup_requests
    ));
    if let Some(slo) = slo_text(report) {
        parts.push(format!("SLOs: {slo}"));
    }
    parts.push(format!("seed {}", report.seed));
    let mut left = parts.join("  ·  ");
    // The warnings go first so fitting the footer never cuts them off.
    match report.warnings.len() {
        0 => {}
        1 => left = format!("⚠ 1 warning — see summary.md  ·  {left}"),
        n => left = format!("⚠ {n} warnings — see summary.md  ·  {left}"),
    }
    let right = &report.tool;
    let right_w = font::width(right, 15.0, false)?;
    let left = fit(
        &left,
        15.0,
        false,
        layout.width as i32 - 2 * SIDE - right_w - 40,
    )?;
    // Which throughput the throughput panel shows, on a line of its own above the workload.
    let basis = BasisMix::of_report(report);
    let y = match basis {
        Some(_) => layout.footer.y + layout.footer.h * 3 / 4,
        None => layout.footer.y + layout.footer.h / 2,
    };
    if let Some(basis) = basis {
        let text = fit(basis.explain(), 14.0, false, layout.width as i32 - 2 * SIDE)?;
        pen.draw(
            root,
            Label::new(&text, (SIDE, layout.footer.y + layout.footer.h / 4), 14.0)
                .color(&MUTED)
                .anchor(HPos::Left, VPos::Center),
        )?;
    }
    pen.draw(
        root,
        Label::new(&left, (SIDE, y), 15.0)
            .color(&MUTED)
            .anchor(HPos::Left, VPos::Center),
    )?;
    pen.draw(
        root,
        Label::new(right, (layout.width as i32 - SIDE, y), 15.0)
            .color(&MUTED)
            .anchor(HPos::Right, VPos::Center),
    )?;
    Ok(())
}
