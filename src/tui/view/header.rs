//! The header's two lines: the status badge, run name and elapsed time, then what is running
//! now (or what the run did, or is about to do).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::{engine_color, engine_name, level_label, levels_word};
use crate::tui::app::{App, CurrentLevel, Status};
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
                "  {}  {}",
                level_position(app, cur),
                level_label(report, cur.level)
            )),
        ];
        if cur.trials > 1 {
            spans.push(Span::raw(format!("  trial {}/{}", cur.trial, cur.trials)));
        }
        if let Some(search) = &cur.search {
            spans.push(Span::styled(
                format!("  {search}"),
                Style::new().fg(Color::Cyan),
            ));
        }
        if let Some(snap) = cur.snapshot {
            let elapsed = format!("  elapsed {}", format::duration_ms(snap.elapsed_ms));
            // With a trial and a search state too it may not fit: the gauge shows time anyway.
            let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
            if cur.search.is_none() || used + elapsed.chars().count() <= usize::from(area.width) {
                spans.push(Span::raw(elapsed));
            }
        }
        if cur.finished {
            let next = if cur.trial < cur.trials {
                "trial"
            } else {
                "level"
            };
            spans.push(Span::styled(
                format!("  (finished; next {next} warming up)"),
                dim,
            ));
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
        let list = match &report.workload.auto {
            Some(auto) => auto_levels(auto),
            None => report
                .workload
                .levels
                .iter()
                .map(|l| format::level(*l))
                .collect::<Vec<_>>()
                .join(" "),
        };
        let what = crate::report::Swept::of(report).column();
        let each = match crate::report::duration_s(report) {
            Some(d) if report.workload.requests_per_level == 0 => {
                format!("{} s each", format::level(d))
            }
            _ if report.workload.requests_per_level == 0 => "duration-bound".to_string(),
            _ => format!("{} requests each", report.workload.requests_per_level),
        };
        vec![Span::raw(format!(
            " waiting for the first level: {engines} engines, {what} = {list}, {each}",
        ))]
    } else {
        vec![Span::styled(" waiting for the run to start", dim)]
    };
    buf.set_line(area.x, area.y, &Line::from(first), area.width);
    if area.height > 1 {
        buf.set_line(area.x, area.y + 1, &Line::from(second), area.width);
    }
}

/// `level 2/3`; with `levels = "auto"`, where the number of levels is not known up front,
/// `level 5 (auto)`: the engine's 5th level. Never indexes the levels list.
fn level_position(app: &App, cur: &CurrentLevel) -> String {
    if app.is_auto() {
        let before = app
            .levels()
            .iter()
            .filter(|l| l.engine == cur.engine && l.summary.level != cur.level)
            .count();
        return format!("level {} (auto)", before + 1);
    }
    let levels = app.report().map_or(0, |r| r.workload.levels.len());
    if cur.level_index < levels {
        format!("level {}/{levels}", cur.level_index + 1)
    } else {
        format!("level {}", cur.level_index + 1)
    }
}

/// `auto from 1 to 1024`, from the `[sweep.auto]` settings results carry (`auto` when they
/// lack the bounds).
fn auto_levels(auto: &serde_json::Value) -> String {
    let bound = |key: &str| auto.get(key).and_then(serde_json::Value::as_f64);
    match (bound("start"), bound("max")) {
        (Some(start), Some(max)) => format!(
            "auto from {} to {}",
            format::level(start),
            format::level(max)
        ),
        _ => "auto".to_string(),
    }
}
