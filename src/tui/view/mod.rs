//! Rendering: `impl Widget for &App`, a pure function of the dashboard state.
//!
//! Layout (from 80×24 up): a two-line header, one panel of sparklines per engine, the
//! finished-levels table (or the detail table), the level's progress gauge, the latest warning
//! and the key bar; the help overlay on top. Smaller terminals get a centred notice instead.
//! Every rectangle is clamped to the area, so no size panics.
//!
//! - `header`  — the two header lines.
//! - `panels`  — the sparkline body: a panel per engine above the finished-levels table.
//! - `tables`  — the finished-levels table and the pieces the detail table shares.
//! - `interval_table` — the finished-levels table's `mean±half-width` layout (trials, CIs).
//! - `compare` — the compare view: the final chart's three panels, live (ratatui `Chart`).
//! - `detail`  — the detail view: ITL, TPOT, errors, and a host line per level.
//! - `host_line` — that line: the machine's busy cores, the engine's, other processes'.
//! - `footer`  — the gauge, the warning line and the key bar.
//! - `verdicts` — the DONE screen's knees and A/B verdicts above the table.
//! - `help`    — the help overlay.
//! - this file — the layout, the too-small notice and helpers every part uses.

mod compare;
mod detail;
mod footer;
mod header;
mod help;
mod host_line;
mod interval_table;
mod panels;
mod tables;
mod verdicts;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::results::model::Report;

use super::ansi::ansi16_hex;
use super::app::{App, View};
use super::labels::engine_labels;
use compare::render_compare;
use detail::render_detail;
use footer::{render_gauge, render_keys, render_warning};
use header::render_header;
use help::render_help;
use panels::render_sparkline_body;
use verdicts::{has_conclusions, render_done_body};

/// Smallest terminal the dashboard lays out in.
pub const MIN_WIDTH: u16 = 80;
/// Smallest terminal the dashboard lays out in.
pub const MIN_HEIGHT: u16 = 24;

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
            View::Sparklines if has_conclusions(self) => render_done_body(self, body, buf),
            View::Sparklines => render_sparkline_body(self, body, buf),
            View::Compare => render_compare(self, body, buf),
            View::Detail => render_detail(self, body, buf),
        }
        render_gauge(self, gauge, buf);
        render_warning(self, warning, buf);
        render_keys(self, keys, buf);
        if self.help_visible() {
            render_help(self.is_auto(), area, buf);
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

/// Every engine's label in a table column `width` characters wide (see [`engine_labels`]).
fn column_labels(app: &App, width: u16) -> Vec<String> {
    let Some(report) = app.report() else {
        return Vec::new();
    };
    let names: Vec<&str> = report.engines.iter().map(|e| e.name.as_str()).collect();
    let short: Vec<Option<&str>> = report
        .engines
        .iter()
        .map(|e| e.short_name.as_deref())
        .collect();
    engine_labels(&names, &short, usize::from(width))
}

fn engine_color(app: &App, engine: usize) -> Color {
    app.report()
        .and_then(|r| r.engines.get(engine))
        .map_or(Color::White, |e| ansi16_hex(&e.color))
}

/// `C=16` in concurrency mode, `r=2.5/s` in rate mode, `2×` replaying a trace.
fn level_label(report: Option<&Report>, level: f64) -> String {
    report
        .map_or(crate::report::Swept::Concurrency, crate::report::Swept::of)
        .label(level)
}

/// `1 level`, `3 levels`.
fn levels_word(count: usize) -> String {
    if count == 1 {
        "1 level".to_string()
    } else {
        format!("{count} levels")
    }
}
