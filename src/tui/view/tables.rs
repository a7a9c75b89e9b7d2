//! The finished-levels table, and the pieces it shares with the detail table: the title
//! block, the header row, right-aligned cells, row styles and the newest rows that fit.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, Widget};

use super::interval_table::{interval_title, render_interval_table};
use super::{column_labels, engine_color, engine_name};
use crate::report::markdown::{client_mark, client_mark_short};
use crate::report::{BasisMix, WHOLE_LEVEL_MARK};
use crate::results::model::{LevelStatus, LevelSummary, Report};
use crate::tui::app::{App, FinishedLevel};
use crate::tui::format;

/// Narrowest finished-levels table that gets the goodput column (SLOs set).
const GOODPUT_MIN_WIDTH: u16 = 88;

/// Width of the Errors column: `200 100% FAIL` fits (80 columns in all); the client marks
/// (`host busy`, or `busy` when that does not fit) only where there is room.
pub(super) const ERRORS_WIDTH: u16 = 13;

/// True in rate mode (levels are req/s).
fn is_rate(report: Option<&Report>) -> bool {
    report.is_some_and(|r| r.workload.mode == "rate")
}

/// The rows `row_height` lines high that fit below a title line and a header row: the last
/// ones, or, when the newest row sits higher up (an auto sweep bisecting below its last level),
/// the ones around it.
pub(super) fn visible_rows(app: &App, area: Rect, row_height: u16) -> &[FinishedLevel] {
    let levels = app.levels();
    let fit = (usize::from(area.height.saturating_sub(2) / row_height.max(1))).min(levels.len());
    let last_start = levels.len() - fit;
    let start = match app.newest_level() {
        Some(newest) if fit > 0 => newest.saturating_sub((fit - 1) / 2).min(last_start),
        _ => last_start,
    };
    &levels[start..start + fit]
}

/// `newest 8 of 12` when the shown rows are the last ones, `8 of 12 around the newest` when
/// not, `12` when all fit.
pub(super) fn rows_shown(shown: &[FinishedLevel], all: &[FinishedLevel]) -> String {
    if shown.len() >= all.len() {
        return all.len().to_string();
    }
    let last = match (shown.last(), all.last()) {
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        _ => true,
    };
    if last {
        format!("newest {} of {}", shown.len(), all.len())
    } else {
        format!("{} of {} around the newest", shown.len(), all.len())
    }
}

pub(super) fn right(text: impl Into<String>) -> Cell<'static> {
    Cell::from(Line::from(text.into()).alignment(Alignment::Right))
}

/// Engine `engine`'s cell: its label among `labels` (from [`super::column_labels`]) in its
/// colour.
pub(super) fn engine_cell(app: &App, labels: &[String], engine: usize) -> Cell<'static> {
    let label = labels
        .get(engine)
        .cloned()
        .unwrap_or_else(|| engine_name(app, engine));
    Cell::from(Span::styled(
        label,
        Style::new().fg(engine_color(app, engine)),
    ))
}

pub(super) fn engine_col_width(app: &App, area: Rect) -> u16 {
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

pub(super) fn row_style(summary: &LevelSummary) -> Style {
    match summary.status {
        LevelStatus::Complete => Style::new(),
        LevelStatus::Skipped => Style::new().fg(Color::DarkGray),
        LevelStatus::Failed => Style::new().fg(Color::Red),
    }
}

/// The Errors cell: failures and their share, ` skip` or ` FAIL`, then the client's mark
/// (` host busy`, or ` busy` when not `long`) when it fits in `room` characters.
pub(super) fn errors_text(summary: &LevelSummary, long: bool, room: usize) -> String {
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
    let mark = if long {
        client_mark(summary.client_state)
    } else {
        client_mark_short(summary.client_state)
    };
    if let Some(mark) = mark {
        if text.chars().count() + 1 + mark.chars().count() <= room {
            text.push(' ');
            text.push_str(mark);
        }
    }
    text
}

/// Whether the Errors cells of `levels` take the long marks: every one fits in `room`
/// characters with its mark (otherwise all take the short ones, so a table says one thing).
pub(super) fn long_marks<'a>(
    levels: impl IntoIterator<Item = &'a LevelSummary>,
    room: usize,
) -> bool {
    levels
        .into_iter()
        .all(|s| errors_text(s, true, usize::MAX).chars().count() <= room)
}

pub(super) fn table_block(title: String) -> Block<'static> {
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
pub(super) fn render_empty_table(block: Block<'static>, text: &str, area: Rect, buf: &mut Buffer) {
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
pub(super) fn header_row(names: &[&'static str], left: usize, left_again: usize) -> Row<'static> {
    Row::new(names.iter().enumerate().map(|(i, name)| {
        if i < left || i >= left_again {
            Cell::from(*name)
        } else {
            right(*name)
        }
    }))
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

pub(super) fn render_levels_table(app: &App, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let all = app.levels();
    let shown = visible_rows(app, area, 1);
    let mut title = format!("Finished levels ({})", rows_shown(shown, all));
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
    // The block draws the title with a space each side, after one column of border.
    let room = usize::from(area.width).saturating_sub(title.chars().count() + 3 + 3);
    let trials = app.report().and_then(|r| r.workload.trials);
    if let Some(what) = interval_title(all, trials, room) {
        title.push_str(" · ");
        title.push_str(&what);
    }
    let block = table_block(title);
    if all.is_empty() {
        render_empty_table(block, "none yet", area, buf);
        return;
    }
    if all.iter().any(|l| l.summary.intervals.is_some()) {
        render_interval_table(app, shown, mix, block, area, buf);
        return;
    }
    let report = app.report();
    // With SLOs set, a goodput column after req/s when the table has room for it.
    let goodput = app
        .levels()
        .iter()
        .any(|l| l.summary.request_goodput.is_some())
        && area.width >= GOODPUT_MIN_WIDTH;
    let engine_width = engine_col_width(app, area);
    let labels = column_labels(app, engine_width);
    let long = long_marks(all.iter().map(|l| &*l.summary), ERRORS_WIDTH.into());
    let rows = shown.iter().map(|row| {
        let s = &row.summary;
        let mut cells = vec![
            engine_cell(app, &labels, row.engine),
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
            right(errors_text(s, long, ERRORS_WIDTH.into())),
        ]);
        Row::new(cells).style(row_style(s))
    });
    let c_header = level_header(report);
    let mut widths = vec![
        Constraint::Length(engine_width),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(ERRORS_WIDTH),
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
pub(super) fn level_header(report: Option<&Report>) -> &'static str {
    if is_rate(report) {
        "rate"
    } else {
        "C"
    }
}
