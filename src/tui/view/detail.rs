//! The detail view (Tab): per engine and level, ITL, TPOT and the error breakdown.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table, Widget};

use super::column_labels;
use super::tables::{
    engine_cell, engine_col_width, header_row, level_header, render_empty_table, right, row_style,
    rows_shown, table_block, visible_rows,
};
use crate::results::model::LevelStatus;
use crate::tui::app::App;
use crate::tui::format;

pub(super) fn render_detail(app: &App, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let all = app.levels();
    let shown = visible_rows(app, area, 1);
    let title = if shown.len() < all.len() {
        format!(
            "Detail: ITL, TPOT, errors ({}; Tab: sparklines)",
            rows_shown(shown, all)
        )
    } else {
        "Detail: ITL, TPOT, errors (Tab: sparklines)".to_string()
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
    Table::new(rows, widths)
        .header(header_row(&header, 1, header.len() - 1))
        .column_spacing(1)
        .block(block)
        .render(area, buf);
}
