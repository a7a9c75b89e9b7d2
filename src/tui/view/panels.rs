//! The sparkline body: one panel per engine (title, current values, sparklines), scrolled to
//! the engine running, with the finished-levels table below.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Sparkline, Widget};

use super::tables::render_levels_table;
use super::{engine_color, engine_name, level_label, levels_word, row_span};
use crate::events::ServerSnapshot;
use crate::tui::app::{App, EnginePhase, EngineState};
use crate::tui::format;
use crate::tui::history::{newest_max, to_bars, Metric};

/// Rows of the body the finished-levels table keeps at least (title, header, 3 rows).
const TABLE_MIN: u16 = 5;
/// Tallest engine panel (title, values, 8 sparkline rows).
const PANEL_MAX: u16 = 10;
/// Shortest engine panel (title, values; no sparkline).
const PANEL_MIN: u16 = 2;

pub(super) fn render_sparkline_body(app: &App, area: Rect, buf: &mut Buffer) {
    let n = app.engines().len() as u16;
    if n == 0 {
        render_levels_table(app, area, buf);
        return;
    }
    let body = area.height;
    // The table asks for a row per planned level (up to half the body); engines get the rest,
    // shrinking to title + values, then scrolling.
    // With `levels = "auto"` the list grows as the search runs: the rows so far count too.
    let planned_rows = app.report().map_or(0, |r| {
        (r.engines.len() * r.workload.levels.len())
            .max(app.levels().len())
            .min(usize::from(u16::MAX / 2)) as u16
    });
    let table_want = (planned_rows + 2).clamp(TABLE_MIN, (body / 2).max(TABLE_MIN));
    let engines_room = body.saturating_sub(table_want);
    let maxima = shared_maxima(app, area.width);
    // An engine that has not started takes its title line only ("waiting: 6 levels"); the
    // others share the rest, when that leaves each of them its values line.
    let waiting: Vec<bool> = app
        .engines()
        .iter()
        .map(|e| e.history.is_empty() && e.phase == EnginePhase::Waiting && !app.is_finished())
        .collect();
    let n_waiting = waiting.iter().filter(|&&w| w).count() as u16;
    let n_full = n - n_waiting;
    if n_waiting > 0 && n_waiting + n_full * PANEL_MIN <= engines_room {
        let per = (engines_room - n_waiting)
            .checked_div(n_full)
            .map_or(0, |per| per.clamp(PANEL_MIN, PANEL_MAX));
        let mut y = 0;
        for (engine, &waits) in waiting.iter().enumerate() {
            let height = if waits { 1 } else { per };
            render_engine_panel(app, engine, "", &maxima, row_span(area, y, height), buf);
            y += height;
        }
        render_levels_table(app, row_span(area, y, body - y.min(body)), buf);
        return;
    }
    let per = (engines_room / n).clamp(PANEL_MIN, PANEL_MAX);
    let visible = (engines_room / per).clamp(1, n);
    let focus = app.current().map_or(0, |c| c.engine) as u16;
    let start = focus
        .saturating_sub(visible.saturating_sub(1) / 2)
        .min(n - visible);
    let hidden_before = start;
    let hidden_after = n - start - visible;

    for slot in 0..visible {
        let engine = (start + slot) as usize;
        let rect = row_span(area, slot * per, per);
        let mut more = String::new();
        if slot == 0 && hidden_before > 0 {
            more.push_str(&format!(" ↑{hidden_before} more"));
        }
        if slot == visible - 1 && hidden_after > 0 {
            more.push_str(&format!(" ↓{hidden_after} more"));
        }
        render_engine_panel(app, engine, &more, &maxima, rect, buf);
    }
    let used = visible * per;
    render_levels_table(app, row_span(area, used, body - used.min(body)), buf);
}

/// The four metrics' columns of a panel's inner area, a blank column after each.
fn metric_columns(inner: Rect) -> Vec<Rect> {
    let cols = Metric::ALL.len() as u16;
    let col_width = inner.width / cols;
    (0..cols)
        .map(|i| {
            let width = if i == cols - 1 {
                inner.width - col_width * (cols - 1)
            } else {
                col_width
            };
            Rect {
                x: inner.x + col_width * i,
                y: inner.y,
                width: width.saturating_sub(1),
                height: inner.height,
            }
        })
        .collect()
}

/// Per metric, the largest value any engine's sparkline shows in panels `width` wide: one
/// scale for all engines, so bar heights compare.
fn shared_maxima(app: &App, width: u16) -> Vec<f64> {
    let columns = metric_columns(Rect::new(0, 0, width, 1));
    Metric::ALL
        .iter()
        .zip(columns)
        .map(|(metric, col)| {
            app.engines()
                .iter()
                .map(|e| newest_max(e.history.series(*metric), usize::from(col.width)))
                .fold(0.0, f64::max)
        })
        .collect()
}

fn render_engine_panel(
    app: &App,
    engine: usize,
    more: &str,
    maxima: &[f64],
    area: Rect,
    buf: &mut Buffer,
) {
    let Some(state) = app.engines().get(engine) else {
        return;
    };
    let color = engine_color(app, engine);
    let dim = Style::new().fg(Color::DarkGray);
    let mut title = vec![
        Span::raw(" "),
        Span::styled(
            engine_name(app, engine),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(engine_status(app, engine, state), dim),
    ];
    if !more.is_empty() {
        title.push(Span::styled(more.to_string(), dim));
    }
    title.push(Span::raw(" "));
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(Style::new().fg(color))
        .title(Line::from(title));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.is_empty() {
        return;
    }
    // An engine whose level is running shows its numbers ("—" until the first completion),
    // even before the first point of its sparklines.
    if state.history.is_empty() && state.phase != EnginePhase::Active {
        // A waiting engine's title says so; one that ran without a point says it here.
        if state.phase != EnginePhase::Waiting || app.is_finished() {
            buf.set_line(
                inner.x + 1,
                inner.y,
                &Line::styled("no data", dim),
                inner.width.saturating_sub(1),
            );
        }
        return;
    }
    // The engine's own metrics take the panel's last row, when it has one to spare.
    let inner = match &state.server {
        Some(server) if inner.height >= 3 => {
            let last = row_span(inner, inner.height - 1, 1);
            render_server_line(state, server, last, buf);
            row_span(inner, 0, inner.height - 1)
        }
        _ => inner,
    };
    for ((metric, col), max) in Metric::ALL
        .iter()
        .zip(metric_columns(inner))
        .zip(maxima.iter().copied())
    {
        if col.is_empty() {
            continue;
        }
        let series = state.history.series(*metric);
        // The current level's number: "—" until its first completion, never the previous
        // level's value or a made-up 0.
        let value = state.last.as_ref().and_then(|snap| metric.current(snap));
        let value_text = match value {
            Some(v) if !metric.is_latency() => format::si(v),
            v => format::ms(v),
        };
        let mut label = vec![
            Span::styled(format!("{} ", metric.label()), dim),
            Span::styled(value_text, Style::new().add_modifier(Modifier::BOLD)),
        ];
        // The shared scale's top, when the column has room for it.
        if col.height > 1 && max > 0.0 {
            let top = if metric.is_latency() {
                format::ms(Some(max))
            } else {
                format::si(max)
            };
            let used: usize = label.iter().map(|s| s.content.chars().count()).sum();
            for text in [format!("  max {top}"), format!(" ▲{top}")] {
                if used + text.chars().count() <= usize::from(col.width) {
                    label.push(Span::styled(text, dim));
                    break;
                }
            }
        }
        buf.set_line(col.x, col.y, &Line::from(label), col.width);
        if col.height > 1 {
            let spark = row_span(col, 1, col.height - 1);
            let bars = to_bars(series.newest(spark.width as usize), max);
            Sparkline::default()
                .data(bars)
                .max(1000)
                .style(Style::new().fg(color))
                .render(spark, buf);
        }
    }
}

/// `server  run 8 · wait 3 · KV 43% ▂▃▅▇ · client +3.2 ms`: the engine's batch, queue and KV
/// cache at the latest scrape (— where it exports none), the KV usage over the run, and the
/// client's part of the mean TTFT.
fn render_server_line(state: &EngineState, server: &ServerSnapshot, area: Rect, buf: &mut Buffer) {
    let dim = Style::new().fg(Color::DarkGray);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let count =
        |v: Option<f64>| v.map_or_else(|| format::NO_VALUE.to_string(), |v| format!("{v:.0}"));
    let mut spans = vec![
        Span::styled("server ", dim),
        Span::styled("run ", dim),
        Span::styled(count(server.running), bold),
        Span::styled(" · wait ", dim),
        Span::styled(count(server.waiting), bold),
        Span::styled(" · KV ", dim),
        Span::styled(
            server
                .kv_usage
                .map_or_else(|| format::NO_VALUE.to_string(), format::percent),
            bold,
        ),
    ];
    if server.kv_usage.is_some() {
        let width = (area.width as usize / 6).clamp(4, 16);
        spans.push(Span::raw(" "));
        spans.push(Span::styled(kv_spark(&state.kv_history, width), dim));
    }
    if let Some(added) = state.client_added_ttft_ms() {
        spans.push(Span::styled(" · TTFT client ", dim));
        let sign = if added < 0.0 { "−" } else { "+" };
        spans.push(Span::styled(
            format!("{sign}{}", format::ms(Some(added.abs()))),
            bold,
        ));
    }
    buf.set_line(
        area.x + 1,
        area.y,
        &Line::from(spans),
        area.width.saturating_sub(1),
    );
}

/// The newest `width` KV usage points (0–1) as block characters, full scale = 100 %.
pub(super) fn kv_spark(history: &std::collections::VecDeque<f64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let skip = history.len().saturating_sub(width);
    history
        .iter()
        .skip(skip)
        .map(|&kv| BARS[((kv.clamp(0.0, 1.0) * 7.0).round()) as usize])
        .collect()
}

fn engine_status(app: &App, engine: usize, state: &EngineState) -> String {
    // A level still running more trials has a row already: it is not done yet.
    let running = app
        .current()
        .filter(|c| c.engine == engine && !c.finished)
        .map(|c| c.level);
    let done = app
        .levels()
        .iter()
        .filter(|l| l.engine == engine && Some(l.summary.level) != running)
        .count();
    let skipped = app
        .report()
        .and_then(|r| r.engines.get(engine))
        .and_then(|e| e.skipped_reason.clone());
    let mut text = match state.phase {
        // A resumed run's kept levels count as done before the engine runs again.
        EnginePhase::Waiting if done > 0 && app.is_finished() => {
            format!("done · {}", levels_word(done))
        }
        EnginePhase::Waiting if done > 0 => format!("waiting · {} done", levels_word(done)),
        EnginePhase::Waiting if app.is_finished() => "not run".to_string(),
        EnginePhase::Waiting => match app.report().map_or(0, |r| r.workload.levels.len()) {
            // `levels = "auto"`: how many is not known yet.
            0 => "waiting".to_string(),
            planned => format!("waiting: {}", levels_word(planned)),
        },
        EnginePhase::Active => {
            let level = app
                .current()
                .filter(|c| c.engine == engine)
                .map(|c| level_label(app.report(), c.level))
                .unwrap_or_default();
            format!("running {level} · {} done", levels_word(done))
        }
        EnginePhase::Finished => format!("done · {}", levels_word(done)),
    };
    if let Some(reason) = skipped {
        text.push_str(&format!(" · skipped: {reason}"));
    }
    text
}
