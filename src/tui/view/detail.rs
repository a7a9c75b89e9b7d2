//! The detail view (Tab): per engine and level, ITL, TPOT and the error breakdown; when the
//! host was sampled, a second line per level says what the machine did (see `host_line`).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table, Widget};

use super::column_labels;
use super::host_line::host_line;
use super::tables::{
    engine_cell, engine_col_width, header_row, level_header, render_empty_table, right, row_style,
    rows_shown, table_block, visible_rows,
};
use crate::results::host::ClientState;
use crate::results::model::LevelStatus;
use crate::tui::app::App;
use crate::tui::format;

pub(super) fn render_detail(app: &App, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let all = app.levels();
    // Each level takes two lines when some level has a host report: its host line below.
    let host = all.iter().any(|l| l.summary.host.is_some());
    let row_height = if host { 2 } else { 1 };
    let shown = visible_rows(app, area, row_height);
    let what = if host {
        "ITL, TPOT, errors, host"
    } else {
        "ITL, TPOT, errors"
    };
    let title = if shown.len() < all.len() {
        format!(
            "Detail: {what} ({}; Tab: sparklines)",
            rows_shown(shown, all)
        )
    } else {
        format!("Detail: {what} (Tab: sparklines)")
    };
    let block = table_block(title);
    if all.is_empty() {
        render_empty_table(block, "no finished levels yet", area, buf);
        return;
    }
    let engine_width = engine_col_width(app, area);
    let labels = column_labels(app, engine_width);
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
            engine_cell(app, &labels, row.engine),
            right(format::level(s.level)),
            right(format::ms(s.median_itl_ms)),
            right(format::ms(s.p99_itl_ms)),
            right(format::ms(s.median_tpot_ms)),
            right(format::ms(s.p99_tpot_ms)),
            right(s.completed.to_string()),
            right(s.failed.to_string()),
            Cell::from(breakdown),
        ])
        .height(row_height)
        .style(row_style(s))
    });
    let widths = [
        Constraint::Length(engine_width),
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
    let inner = block.inner(area);
    Table::new(rows, widths)
        .header(header_row(&header, 1, header.len() - 1))
        .column_spacing(1)
        .block(block)
        .render(area, buf);
    if !host {
        return;
    }
    // Each row's second line, from the level column on: below the header, two lines a row.
    let label = |name: &str| {
        app.report()
            .and_then(|r| r.engines.iter().position(|e| e.name == name))
            .and_then(|i| labels.get(i).cloned())
            .unwrap_or_else(|| name.to_string())
    };
    let x = inner.x.saturating_add(engine_width + 1);
    let room = inner.right().saturating_sub(x);
    for (at, row) in shown.iter().enumerate() {
        let y = inner.y + 2 + 2 * at as u16;
        if y >= inner.bottom() {
            break;
        }
        let s = &row.summary;
        let style = match s.client_state {
            ClientState::Fine => Style::new().fg(Color::DarkGray),
            _ => Style::new().fg(Color::Yellow),
        };
        let text = host_line(s, label, usize::from(room));
        buf.set_line(x, y, &Line::styled(text, style), room);
    }
}
