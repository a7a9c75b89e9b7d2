//! Rendering: `impl Widget for &App`, a pure function of the dashboard state.
//!
//! Layout (from 80×24 up): a two-line header, one panel of sparklines per engine, the
//! finished-levels table (or the detail table), the level's progress gauge, the latest warning
//! and the key bar; the help overlay on top. Smaller terminals get a centred notice instead.
//! Every rectangle is clamped to the area, so no size panics.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Sparkline, Table, Widget, Wrap,
};

use crate::report::{BasisMix, WHOLE_LEVEL_MARK};
use crate::results::model::{LevelStatus, LevelSummary, Report};

use super::ansi::ansi16_hex;
use super::app::{App, EnginePhase, EngineState, FinishedLevel, Status, View};
use super::format;
use super::history::{to_bars, Metric};

/// Smallest terminal the dashboard lays out in.
pub const MIN_WIDTH: u16 = 80;
/// Smallest terminal the dashboard lays out in.
pub const MIN_HEIGHT: u16 = 24;

/// Rows of the body the finished-levels table keeps at least (title, header, 3 rows).
const TABLE_MIN: u16 = 5;
/// Tallest engine panel (title, values, 8 sparkline rows).
const PANEL_MAX: u16 = 10;
/// Shortest engine panel (title, values; no sparkline).
const PANEL_MIN: u16 = 2;
/// Narrowest finished-levels table that gets the goodput column (SLOs set).
const GOODPUT_MIN_WIDTH: u16 = 88;

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            render_too_small(area, buf);
            return;
        }
        let header = row_span(area, 0, 2);
        let body = row_span(area, 2, area.height - 5);
        let gauge = row_span(area, area.height - 3, 1);
        let warning = row_span(area, area.height - 2, 1);
        let keys = row_span(area, area.height - 1, 1);

        render_header(self, header, buf);
        match self.view() {
            View::Sparklines => render_sparkline_body(self, body, buf),
            View::Detail => render_detail(self, body, buf),
        }
        render_gauge(self, gauge, buf);
        render_warning(self, warning, buf);
        render_keys(self, keys, buf);
        if self.help_visible() {
            render_help(area, buf);
        }
    }
}

/// `height` rows of `area` starting `top` rows down, clamped to it.
fn row_span(area: Rect, top: u16, height: u16) -> Rect {
    let top = top.min(area.height);
    Rect {
        x: area.x,
        y: area.y + top,
        width: area.width,
        height: height.min(area.height - top),
    }
}

fn render_too_small(area: Rect, buf: &mut Buffer) {
    let text = format!(
        "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{})",
        area.width, area.height
    );
    let chars = text.chars().count() as u16;
    let lines = chars.div_ceil(area.width.max(1));
    let top = area.height.saturating_sub(lines) / 2;
    let rect = row_span(area, top, lines);
    Paragraph::new(text)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .style(Style::new().fg(Color::Yellow))
        .render(rect, buf);
}

fn engine_name(app: &App, engine: usize) -> String {
    app.report()
        .and_then(|r| r.engines.get(engine))
        .map_or_else(|| format!("engine {engine}"), |e| e.name.clone())
}

fn engine_color(app: &App, engine: usize) -> Color {
    app.report()
        .and_then(|r| r.engines.get(engine))
        .map_or(Color::White, |e| ansi16_hex(&e.color))
}

/// True in rate mode (levels are req/s).
fn is_rate(report: Option<&Report>) -> bool {
    report.is_some_and(|r| r.workload.mode == "rate")
}

/// `C=16` in concurrency mode, `r=2.5/s` in rate mode.
fn level_label(report: Option<&Report>, level: f64) -> String {
    match report {
        Some(r) if r.workload.mode == "rate" => format!("r={}/s", format::level(level)),
        _ => format!("C={}", format::level(level)),
    }
}

fn status_color(status: Status) -> Color {
    match status {
        Status::Starting => Color::Gray,
        Status::Running => Color::Green,
        Status::Paused => Color::Yellow,
        Status::Skipping => Color::Magenta,
        Status::Stopping => Color::Red,
        Status::Done => Color::Cyan,
    }
}

fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    let status = app.status();
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let dim = Style::new().fg(Color::DarkGray);
    let mut first = vec![
        Span::styled(
            format!(" {} ", status.label()),
            Style::new()
                .fg(Color::Black)
                .bg(status_color(status))
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(" llmsweep "),
    ];
    if let Some(report) = app.report() {
        first.push(Span::styled(report.run_name.clone(), bold));
        if report.simulated {
            first.push(Span::raw("  "));
            first.push(Span::styled(
                " SIMULATED ",
                Style::new()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ));
        }
    }
    if let Some(ms) = app.elapsed_ms() {
        first.push(Span::styled(
            format!("  run {}", format::duration_ms(ms)),
            dim,
        ));
    }

    let report = app.report();
    let engines = report.map_or(0, |r| r.engines.len());
    let levels = report.map_or(0, |r| r.workload.levels.len());
    let second: Vec<Span> = if let Some(cur) = app.current().filter(|_| !app.is_finished()) {
        let mut spans = vec![
            Span::raw(" engine "),
            Span::styled(
                engine_name(app, cur.engine),
                Style::new()
                    .fg(engine_color(app, cur.engine))
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!(" ({}/{engines})", cur.engine + 1), dim),
            Span::raw(format!(
                "  level {}/{levels}  {}",
                cur.level_index + 1,
                level_label(report, cur.level)
            )),
        ];
        if let Some(snap) = cur.snapshot {
            spans.push(Span::raw(format!(
                "  elapsed {}",
                format::duration_ms(snap.elapsed_ms)
            )));
        }
        if cur.finished {
            spans.push(Span::styled("  (finished; next level warming up)", dim));
        }
        spans
    } else if app.is_finished() {
        let ran = app
            .report()
            .map(|r| r.engines.iter().filter(|e| !e.levels.is_empty()).count())
            .unwrap_or(0);
        vec![Span::raw(format!(
            " run finished: {ran} of {engines} engines run, {} measured",
            levels_word(app.levels().len())
        ))]
    } else if let Some(report) = report {
        let list: Vec<String> = report
            .workload
            .levels
            .iter()
            .map(|l| format::level(*l))
            .collect();
        let what = if report.workload.mode == "rate" {
            "rate"
        } else {
            "C"
        };
        let each = match crate::report::duration_s(report) {
            Some(d) if report.workload.requests_per_level == 0 => {
                format!("{} s each", format::level(d))
            }
            _ if report.workload.requests_per_level == 0 => "duration-bound".to_string(),
            _ => format!("{} requests each", report.workload.requests_per_level),
        };
        vec![Span::raw(format!(
            " waiting for the first level: {engines} engines, {what} = {}, {each}",
            list.join(" "),
        ))]
    } else {
        vec![Span::styled(" waiting for the run to start", dim)]
    };
    buf.set_line(area.x, area.y, &Line::from(first), area.width);
    if area.height > 1 {
        buf.set_line(area.x, area.y + 1, &Line::from(second), area.width);
    }
}

fn render_sparkline_body(app: &App, area: Rect, buf: &mut Buffer) {
    let n = app.engines().len() as u16;
    if n == 0 {
        render_levels_table(app, area, buf);
        return;
    }
    let body = area.height;
    // The table asks for a row per planned level (up to half the body); engines get the rest,
    // shrinking to title + values, then scrolling.
    let planned_rows = app.report().map_or(0, |r| {
        (r.engines.len() * r.workload.levels.len()).min(usize::from(u16::MAX / 2)) as u16
    });
    let table_want = (planned_rows + 2).clamp(TABLE_MIN, (body / 2).max(TABLE_MIN));
    let engines_room = body.saturating_sub(table_want);
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
        render_engine_panel(app, engine, &more, rect, buf);
    }
    let used = visible * per;
    render_levels_table(app, row_span(area, used, body - used.min(body)), buf);
}

fn render_engine_panel(app: &App, engine: usize, more: &str, area: Rect, buf: &mut Buffer) {
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
        let text = if state.phase == EnginePhase::Waiting && !app.is_finished() {
            "waiting"
        } else {
            "no data"
        };
        buf.set_line(
            inner.x + 1,
            inner.y,
            &Line::styled(text, dim),
            inner.width.saturating_sub(1),
        );
        return;
    }
    let cols = Metric::ALL.len() as u16;
    let col_width = inner.width / cols;
    for (i, metric) in Metric::ALL.iter().enumerate() {
        let i = i as u16;
        let width = if i == cols - 1 {
            inner.width - col_width * (cols - 1)
        } else {
            col_width
        };
        // One blank column between sparklines.
        let col = Rect {
            x: inner.x + col_width * i,
            y: inner.y,
            width: width.saturating_sub(1),
            height: inner.height,
        };
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
        let label = Line::from(vec![
            Span::styled(format!("{} ", metric.label()), dim),
            Span::styled(value_text, Style::new().add_modifier(Modifier::BOLD)),
        ]);
        buf.set_line(col.x, col.y, &label, col.width);
        if col.height > 1 {
            let spark = row_span(col, 1, col.height - 1);
            let bars = to_bars(series.newest(spark.width as usize));
            Sparkline::default()
                .data(bars)
                .max(1000)
                .style(Style::new().fg(color))
                .render(spark, buf);
        }
    }
}

fn engine_status(app: &App, engine: usize, state: &EngineState) -> String {
    let done = app.levels().iter().filter(|l| l.engine == engine).count();
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
        EnginePhase::Waiting => "waiting".to_string(),
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

/// `1 level`, `3 levels`.
fn levels_word(count: usize) -> String {
    if count == 1 {
        "1 level".to_string()
    } else {
        format!("{count} levels")
    }
}

/// Rows that fit below a title line and a header row, newest last.
fn newest_rows(levels: &[FinishedLevel], area: Rect) -> &[FinishedLevel] {
    let fit = area.height.saturating_sub(2) as usize;
    &levels[levels.len().saturating_sub(fit)..]
}

fn right(text: impl Into<String>) -> Cell<'static> {
    Cell::from(Line::from(text.into()).alignment(Alignment::Right))
}

fn engine_col_width(app: &App, area: Rect) -> u16 {
    let longest = app.report().map_or(6, |r| {
        r.engines
            .iter()
            .map(|e| e.name.chars().count())
            .max()
            .unwrap_or(6)
    }) as u16;
    let cap = if area.width >= 100 { 16 } else { 8 };
    longest.clamp(6, cap)
}

fn row_style(summary: &LevelSummary) -> Style {
    match summary.status {
        LevelStatus::Complete => Style::new(),
        LevelStatus::Skipped => Style::new().fg(Color::DarkGray),
        LevelStatus::Failed => Style::new().fg(Color::Red),
    }
}

fn errors_text(summary: &LevelSummary) -> String {
    let mut text = if summary.failed == 0 {
        "0".to_string()
    } else {
        format!("{} {}", summary.failed, format::percent(summary.error_rate))
    };
    match summary.status {
        LevelStatus::Complete => {}
        LevelStatus::Skipped => text.push_str(" skip"),
        LevelStatus::Failed => text.push_str(" FAIL"),
    }
    text
}

fn table_block(title: String) -> Block<'static> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(Style::new().fg(Color::DarkGray))
        .title(Line::from(vec![
            Span::raw(" "),
            Span::styled(title, Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" "),
        ]))
}

/// A table block with a dim placeholder line instead of rows.
fn render_empty_table(block: Block<'static>, text: &str, area: Rect, buf: &mut Buffer) {
    let inner = block.inner(area);
    block.render(area, buf);
    buf.set_line(
        inner.x + 1,
        inner.y,
        &Line::styled(text, Style::new().fg(Color::DarkGray)),
        inner.width.saturating_sub(1),
    );
}

/// A bold header row: the first `left` columns and those from `left_again` on left-aligned, the
/// numeric ones between right-aligned.
fn header_row(names: &[&'static str], left: usize, left_again: usize) -> Row<'static> {
    Row::new(names.iter().enumerate().map(|(i, name)| {
        if i < left || i >= left_again {
            Cell::from(*name)
        } else {
            right(*name)
        }
    }))
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

fn render_levels_table(app: &App, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let all = app.levels();
    let shown = newest_rows(all, area);
    let mut title = if shown.len() < all.len() {
        format!("Finished levels (newest {} of {})", shown.len(), all.len())
    } else {
        format!("Finished levels ({})", all.len())
    };
    // Which throughput the req/s and tok/s columns hold.
    let mix = BasisMix::of(all.iter().map(|l| &*l.summary));
    match mix {
        Some(BasisMix::Steady) => title.push_str(" · req/s tok/s: steady state"),
        Some(BasisMix::WholeLevel) => title.push_str(" · req/s tok/s: whole level"),
        Some(BasisMix::Mixed) => {
            title.push_str(&format!(
                " · req/s tok/s: steady, {WHOLE_LEVEL_MARK} whole level"
            ));
        }
        None => {}
    }
    let block = table_block(title);
    if all.is_empty() {
        render_empty_table(block, "none yet", area, buf);
        return;
    }
    let report = app.report();
    // With SLOs set, a goodput column after req/s when the table has room for it.
    let goodput = app
        .levels()
        .iter()
        .any(|l| l.summary.request_goodput.is_some())
        && area.width >= GOODPUT_MIN_WIDTH;
    let rows = shown.iter().map(|row| {
        let s = &row.summary;
        let mut cells = vec![
            Cell::from(Span::styled(
                engine_name(app, row.engine),
                Style::new().fg(engine_color(app, row.engine)),
            )),
            right(format::level(s.level)),
            right(format!(
                "{}{}",
                format::si(s.plotted_request_throughput()),
                BasisMix::mark(mix, s)
            )),
        ];
        if goodput {
            cells.push(right(s.request_goodput.map_or("-".to_string(), format::si)));
        }
        cells.extend([
            right(format!(
                "{}{}",
                format::si(s.plotted_output_throughput()),
                BasisMix::mark(mix, s)
            )),
            right(format::ms(s.median_ttft_ms)),
            right(format::ms(s.p99_ttft_ms)),
            right(format::ms(s.median_e2el_ms)),
            right(format::ms(s.p99_e2el_ms)),
            right(errors_text(s)),
        ]);
        Row::new(cells).style(row_style(s))
    });
    let c_header = level_header(report);
    let mut widths = vec![
        Constraint::Length(engine_col_width(app, area)),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        // `200 100% FAIL` fits (80 columns in all).
        Constraint::Length(13),
    ];
    let mut header = vec![
        "Engine", c_header, "req/s", "tok/s", "TTFT p50", "TTFT p99", "Lat p50", "Lat p99",
        "Errors",
    ];
    if goodput {
        widths.insert(3, Constraint::Length(7));
        header.insert(3, "good/s");
    }
    Table::new(rows, widths)
        .header(header_row(&header, 1, header.len()))
        .column_spacing(1)
        .block(block)
        .render(area, buf);
}

/// The level column's header: `C`, or `rate` in rate mode.
fn level_header(report: Option<&Report>) -> &'static str {
    if is_rate(report) {
        "rate"
    } else {
        "C"
    }
}

fn render_detail(app: &App, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let all = app.levels();
    let shown = newest_rows(all, area);
    let title = if shown.len() < all.len() {
        format!(
            "Detail: ITL, TPOT, errors (newest {} of {}; Tab: sparklines)",
            shown.len(),
            all.len()
        )
    } else {
        "Detail: ITL, TPOT, errors (Tab: sparklines)".to_string()
    };
    let block = table_block(title);
    if all.is_empty() {
        render_empty_table(block, "no finished levels yet", area, buf);
        return;
    }
    let rows = shown.iter().map(|row| {
        let s = &row.summary;
        let breakdown = if s.errors.is_empty() {
            match s.status {
                LevelStatus::Complete => "-".to_string(),
                LevelStatus::Skipped => "skipped".to_string(),
                LevelStatus::Failed => "failed".to_string(),
            }
        } else {
            s.errors
                .iter()
                .map(|(class, count)| format!("{class} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Row::new(vec![
            Cell::from(Span::styled(
                engine_name(app, row.engine),
                Style::new().fg(engine_color(app, row.engine)),
            )),
            right(format::level(s.level)),
            right(format::ms(s.median_itl_ms)),
            right(format::ms(s.p99_itl_ms)),
            right(format::ms(s.median_tpot_ms)),
            right(format::ms(s.p99_tpot_ms)),
            right(s.completed.to_string()),
            right(s.failed.to_string()),
            Cell::from(breakdown),
        ])
        .style(row_style(s))
    });
    let widths = [
        Constraint::Length(engine_col_width(app, area)),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Fill(1),
    ];
    let header = [
        "Engine",
        level_header(app.report()),
        "ITL p50",
        "ITL p99",
        "TPOT p50",
        "TPOT p99",
        "ok",
        "fail",
        "Errors",
    ];
    Table::new(rows, widths)
        .header(header_row(&header, 1, header.len() - 1))
        .column_spacing(1)
        .block(block)
        .render(area, buf);
}

fn render_gauge(app: &App, area: Rect, buf: &mut Buffer) {
    let dim = Style::new().fg(Color::DarkGray);
    let cur = match app.current() {
        Some(cur) if !app.is_finished() => cur,
        _ => {
            let line = match app.out_dir() {
                Some(dir) if app.is_finished() => Line::from(vec![
                    Span::raw(" results in "),
                    Span::styled(
                        dir.display().to_string(),
                        Style::new().add_modifier(Modifier::BOLD),
                    ),
                ]),
                _ if app.is_finished() => Line::styled(" run finished", dim),
                _ => Line::styled(" no level running yet", dim),
            };
            buf.set_line(area.x, area.y, &line, area.width);
            return;
        }
    };
    let (done, failed, in_flight, planned, elapsed_ms) = match cur.snapshot {
        Some(s) => (
            s.completed,
            s.failed,
            s.in_flight,
            s.planned.max(cur.planned),
            s.elapsed_ms,
        ),
        None => (0, 0, 0, cur.planned, 0),
    };
    let mut label = format!(
        "{} {}  ",
        engine_name(app, cur.engine),
        level_label(app.report(), cur.level),
    );
    // A duration-bound level (nothing planned) shows time, not done/planned.
    let duration_ms = app
        .report()
        .and_then(crate::report::duration_s)
        .map(|d| (d * 1000.0) as u64);
    if planned > 0 {
        label.push_str(&format!("{}/{planned}", done + failed));
    } else {
        label.push_str(&format!("{} done", done + failed));
    }
    if failed > 0 {
        label.push_str(&format!(" ({failed} failed)"));
    }
    let ratio = if planned > 0 {
        ((done + failed) as f64 / planned as f64).clamp(0.0, 1.0)
    } else {
        match duration_ms.filter(|d| *d > 0) {
            Some(d) => {
                label.push_str(&format!(
                    "  {}/{}",
                    format::duration_ms(elapsed_ms),
                    format::duration_ms(d)
                ));
                (elapsed_ms as f64 / d as f64).clamp(0.0, 1.0)
            }
            None => {
                label.push_str(&format!("  {}", format::duration_ms(elapsed_ms)));
                0.0
            }
        }
    };
    label.push_str(&format!("  in flight {in_flight}  {:.0}%", ratio * 100.0));
    Gauge::default()
        .ratio(ratio)
        .label(Span::styled(
            label,
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .gauge_style(Style::new().fg(engine_color(app, cur.engine)))
        .render(area, buf);
}

fn render_warning(app: &App, area: Rect, buf: &mut Buffer) {
    let line = match app.warning() {
        Some(w) => {
            let mut spans = vec![Span::styled(
                " ! ",
                Style::new()
                    .fg(Color::Black)
                    .bg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            )];
            if let Some(engine) = w.engine {
                spans.push(Span::styled(
                    format!(" {}:", engine_name(app, engine)),
                    Style::new().fg(engine_color(app, engine)),
                ));
            }
            let text = w.text.replace(['\n', '\r', '\t'], " ");
            spans.push(Span::styled(
                format!(" {text}"),
                Style::new().fg(Color::Yellow),
            ));
            Line::from(spans)
        }
        None => Line::styled(" no warnings", Style::new().fg(Color::DarkGray)),
    };
    buf.set_line(area.x, area.y, &line, area.width);
}

fn render_keys(app: &App, area: Rect, buf: &mut Buffer) {
    let key = Style::new().fg(Color::Black).bg(Color::Gray);
    let line = if app.is_finished() {
        Line::from(vec![
            Span::styled(" any key ", key.add_modifier(Modifier::BOLD)),
            Span::raw(" close the dashboard (the final table is printed)"),
        ])
    } else if app.confirming_quit() {
        Line::from(vec![
            Span::styled(
                " Quit? y/n ",
                Style::new()
                    .fg(Color::Black)
                    .bg(Color::Red)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::raw("  y: stop now and write results for what ran   n/Esc: keep going"),
        ])
    } else {
        let pause = if app.status() == Status::Paused {
            " resume  "
        } else {
            " pause  "
        };
        let items = [
            ("space", pause),
            ("s", " skip level  "),
            ("n", " skip engine  "),
            ("q", " quit  "),
            ("?", " help  "),
            ("Tab", " view"),
        ];
        let mut spans = Vec::new();
        for (k, what) in items {
            spans.push(Span::styled(k, key.add_modifier(Modifier::BOLD)));
            spans.push(Span::raw(what));
        }
        Line::from(spans)
    };
    buf.set_line(area.x, area.y, &line, area.width);
}

const HELP: [&str; 13] = [
    "space / p  pause or resume: no new requests start,",
    "           in-flight ones finish",
    "s          skip the current level (kept, marked skip)",
    "n          skip the rest of this engine's levels",
    "q          quit: asks y/n, then writes results so far",
    "Ctrl-C     quit at once, as SIGINT: exit code 130",
    "Tab        sparklines / detail (ITL, TPOT, errors)",
    "? / Esc    close this help",
    "",
    "Sparklines cover the whole run, the values beside",
    "them are the latest. Errors: failed count and rate;",
    "skip = cut short, FAIL = most requests failed.",
    "After the run, any key closes the dashboard.",
];

fn render_help(area: Rect, buf: &mut Buffer) {
    let width =
        (HELP.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 4).min(area.width);
    let height = (HELP.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    Clear.render(rect, buf);
    let block = Block::bordered()
        .title(Line::from(" Help ").alignment(Alignment::Center))
        .border_style(Style::new().fg(Color::Cyan));
    let lines: Vec<Line> = HELP.iter().map(|l| Line::from(format!(" {l}"))).collect();
    Paragraph::new(lines).block(block).render(rect, buf);
}
