//! The compare view (Tab): the final chart's three panels drawn live — request throughput,
//! E2E latency p50 and TTFT p50 against the level, one line per engine in its colour with a
//! marker of its own, the running level's value as a live point that firms up when the level
//! finishes. As on the PNG, levels with a 95 % interval (trials, or batch means) get an error
//! bar, and an auto sweep's knees a dotted line once the run has found them.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Widget};

use super::tables::table_block;
use super::{engine_color, engine_name, row_span};
use crate::events::Snapshot;
use crate::results::confidence::{Interval, LevelIntervals};
use crate::results::model::LevelSummary;
use crate::tui::app::App;
use crate::tui::format;

/// One panel: what it plots and which way is better.
#[derive(Debug, Clone, Copy)]
struct Panel {
    title: &'static str,
    better: &'static str,
    finished: fn(&LevelSummary) -> Option<f64>,
    /// The 95 % interval of the plotted value, with trials (or batch means), as on the PNG.
    interval: fn(&LevelIntervals) -> Option<&Interval>,
    live: fn(&Snapshot) -> Option<f64>,
    latency: bool,
}

const PANELS: [Panel; 3] = [
    Panel {
        title: "Throughput (req/s)",
        better: "higher is better",
        finished: |s| Some(s.plotted_request_throughput()),
        interval: |i| i.request_throughput.as_ref(),
        live: |s| (s.completed > 0).then_some(s.request_throughput),
        latency: false,
    },
    Panel {
        title: "Latency p50",
        better: "lower is better",
        finished: |s| s.median_e2el_ms,
        interval: |i| i.median_e2el_ms.as_ref(),
        live: |s| s.e2el_p50_ms,
        latency: true,
    },
    Panel {
        title: "TTFT p50",
        better: "lower is better",
        finished: |s| s.median_ttft_ms,
        interval: |i| i.median_ttft_ms.as_ref(),
        live: |s| s.ttft_p50_ms,
        latency: true,
    },
];

/// Each engine's marker, so the lines read without colour too.
const MARKERS: [(Marker, &str); 4] = [
    (Marker::Block, "█"),
    (Marker::Dot, "•"),
    (Marker::Bar, "▄"),
    (Marker::HalfBlock, "▀"),
];

/// Engine `i`'s marker and its legend symbol.
fn marker(i: usize) -> (Marker, &'static str) {
    MARKERS[i % MARKERS.len()]
}

pub(super) fn render_compare(app: &App, area: Rect, buf: &mut Buffer) {
    if area.height < 4 {
        return;
    }
    let levels = run_levels(app);
    let block = table_block("Compare: each engine against the level (Tab: detail)".into());
    let inner = block.inner(area);
    block.render(area, buf);
    // The legend: name, marker; a fine braille dot is the running level's live value, which
    // becomes the engine's marker when the level finishes.
    let mut legend = vec![Span::raw(" ")];
    for engine in 0..app.engines().len() {
        let (_, symbol) = marker(engine);
        let color = engine_color(app, engine);
        legend.push(Span::styled(format!("{symbol} "), Style::new().fg(color)));
        legend.push(Span::styled(
            engine_name(app, engine),
            Style::new().fg(color),
        ));
        legend.push(Span::raw("   "));
    }
    let dim = Style::new().fg(Color::DarkGray);
    if app.levels().iter().any(|l| l.summary.intervals.is_some()) {
        legend.push(Span::styled("│ 95 % interval   ", dim));
    }
    let knees = app.report().is_some_and(|r| {
        r.engines
            .iter()
            .any(|e| e.search.as_ref().is_some_and(|s| s.knee.is_some()))
    });
    if knees {
        legend.push(Span::styled("• • dotted: knee   ", dim));
    }
    if app.current().is_some_and(|c| !c.finished) && !app.is_finished() {
        legend.push(Span::styled("⠂ running level (live)", dim));
    }
    buf.set_line(inner.x, inner.y, &Line::from(legend), inner.width);
    let charts = row_span(inner, 1, inner.height.saturating_sub(1));
    if levels.is_empty() {
        buf.set_line(
            charts.x + 1,
            charts.y,
            &Line::styled(
                "no level has finished yet",
                Style::new().fg(Color::DarkGray),
            ),
            charts.width.saturating_sub(1),
        );
        return;
    }
    let width = charts.width / PANELS.len() as u16;
    for (i, panel) in PANELS.iter().enumerate() {
        let i = i as u16;
        let w = if i == PANELS.len() as u16 - 1 {
            charts.width - width * i
        } else {
            width
        };
        let rect = Rect {
            x: charts.x + width * i,
            y: charts.y,
            width: w,
            height: charts.height,
        };
        render_panel(app, panel, &levels, rect, buf);
    }
}

/// The levels any engine has run or is running, ascending: the x axis, one slot each (the
/// default levels double, so equal slots are a log2 axis).
fn run_levels(app: &App) -> Vec<f64> {
    let mut levels: Vec<f64> = app.levels().iter().map(|l| l.summary.level).collect();
    if let Some(current) = app.current() {
        levels.push(current.level);
    }
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    levels
}

/// Where `level` sits on the x axis.
fn slot(levels: &[f64], level: f64) -> f64 {
    levels.iter().position(|&l| l == level).unwrap_or(0) as f64
}

fn render_panel(app: &App, panel: &Panel, levels: &[f64], area: Rect, buf: &mut Buffer) {
    if area.width < 8 || area.height < 4 {
        return;
    }
    let dim = Style::new().fg(Color::DarkGray);
    buf.set_line(
        area.x + 1,
        area.y,
        &Line::styled(panel.title, Style::new().add_modifier(Modifier::BOLD)),
        area.width.saturating_sub(1),
    );
    buf.set_line(
        area.x + 1,
        area.y + 1,
        &Line::styled(panel.better, dim),
        area.width.saturating_sub(1),
    );
    // Per engine: its finished levels, and the running level's live value.
    let mut lines: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
    // Error bars: a vertical segment from the interval's low to its high per level.
    let mut bars: Vec<(usize, [(f64, f64); 2])> = Vec::new();
    let mut live: Vec<(usize, [(f64, f64); 1])> = Vec::new();
    for engine in 0..app.engines().len() {
        let mut points: Vec<(f64, f64)> = app
            .levels()
            .iter()
            .filter(|l| l.engine == engine)
            .filter_map(|l| Some((slot(levels, l.summary.level), (panel.finished)(&l.summary)?)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        lines.push((engine, points));
        for level in app.levels().iter().filter(|l| l.engine == engine) {
            let interval = level.summary.intervals.as_ref().and_then(panel.interval);
            if let Some(i) = interval {
                let x = slot(levels, level.summary.level);
                bars.push((engine, [(x, i.low.max(0.0)), (x, i.high)]));
            }
        }
        if let Some(current) = app.current().filter(|c| c.engine == engine && !c.finished) {
            if let Some(value) = current.snapshot.as_ref().and_then(panel.live) {
                live.push((engine, [(slot(levels, current.level), value)]));
            }
        }
    }
    let max = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .chain(live.iter().map(|&(_, [(_, y)])| y))
        .chain(bars.iter().map(|&(_, [_, (_, high)])| high))
        .fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    // An auto sweep's knees (known when the run has ended): a dotted line up the panel.
    let knees: Vec<(usize, [(f64, f64); 2])> = app
        .report()
        .map(|r| {
            r.engines
                .iter()
                .enumerate()
                .filter_map(|(engine, e)| {
                    let knee = e.search.as_ref()?.knee?;
                    let x = slot(levels, knee);
                    Some((engine, [(x, 0.0), (x, top)]))
                })
                .collect()
        })
        .unwrap_or_default();
    // Drawn in this order, each over the ones before: error bars and knees under the lines,
    // the markers over the lines, the live points on top.
    let mut datasets = Vec::new();
    for (engine, bar) in &bars {
        let color = Style::new().fg(engine_color(app, *engine));
        datasets.push(series(bar, Marker::Braille, GraphType::Line, color));
    }
    for (engine, knee) in &knees {
        let color = Style::new()
            .fg(engine_color(app, *engine))
            .add_modifier(Modifier::DIM);
        datasets.push(series(knee, Marker::Dot, GraphType::Line, color));
    }
    for (engine, points) in &lines {
        let color = Style::new().fg(engine_color(app, *engine));
        datasets.push(series(points, Marker::Braille, GraphType::Line, color));
    }
    for (engine, points) in &lines {
        let color = Style::new().fg(engine_color(app, *engine));
        datasets.push(series(points, marker(*engine).0, GraphType::Scatter, color));
    }
    for (engine, point) in &live {
        let color = Style::new().fg(engine_color(app, *engine));
        datasets.push(series(point, Marker::Braille, GraphType::Scatter, color));
    }
    let value = |v: f64| {
        if panel.latency {
            format::ms(Some(v))
        } else {
            format::si(v)
        }
    };
    let x_labels: Vec<Span> = x_labels(levels, area.width)
        .into_iter()
        .map(|l| Span::styled(l, dim))
        .collect();
    let chart = Chart::new(datasets)
        .block(Block::new().borders(Borders::NONE))
        .x_axis(
            Axis::default()
                // Slot i at i: the evenly spread labels sit under their levels.
                .bounds([0.0, (levels.len().max(2) - 1) as f64])
                .labels(x_labels)
                .style(dim),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels([Span::styled("0", dim), Span::styled(value(top), dim)])
                .style(dim),
        );
    chart.render(row_span(area, 2, area.height - 2), buf);
}

/// One set of points drawn one way.
fn series(data: &[(f64, f64)], marker: Marker, kind: GraphType, style: Style) -> Dataset<'_> {
    Dataset::default()
        .marker(marker)
        .graph_type(kind)
        .style(style)
        .data(data)
}

/// Labels along the x axis: every level when they fit, else the first, middle and last.
fn x_labels(levels: &[f64], width: u16) -> Vec<String> {
    let all: Vec<String> = levels.iter().map(|&l| format::level(l)).collect();
    let need: usize = all.iter().map(|l| l.chars().count() + 1).sum();
    if need <= usize::from(width / 2) || all.len() <= 2 {
        all
    } else {
        vec![
            all[0].clone(),
            all[all.len() / 2].clone(),
            all[all.len() - 1].clone(),
        ]
    }
}
