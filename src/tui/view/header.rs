//! The header's two lines: the status badge, run name and elapsed time, then what is running
//! now (or what the run did, or is about to do).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::{engine_color, engine_name, level_label, levels_word};
use crate::tui::app::{App, Status};
use crate::tui::format;

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

pub(super) fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
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
