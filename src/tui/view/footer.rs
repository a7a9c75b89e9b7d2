//! The three bottom lines: the level's progress gauge, the latest warning and the key bar.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Widget};

use super::{engine_color, engine_name, level_label};
use crate::tui::app::{App, Status};
use crate::tui::format;

pub(super) fn render_gauge(app: &App, area: Rect, buf: &mut Buffer) {
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

pub(super) fn render_warning(app: &App, area: Rect, buf: &mut Buffer) {
    if let Some(notice) = app.notice() {
        let line = Line::from(vec![
            Span::styled(
                " ✓ ",
                Style::new()
                    .fg(Color::Black)
                    .bg(Color::Green)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!(" {notice}"), Style::new().fg(Color::Green)),
        ]);
        buf.set_line(area.x, area.y, &line, area.width);
        return;
    }
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

pub(super) fn render_keys(app: &App, area: Rect, buf: &mut Buffer) {
    let key = Style::new().fg(Color::Black).bg(Color::Gray);
    let line = if app.is_finished() {
        Line::from(vec![
            Span::styled(" any key ", key.add_modifier(Modifier::BOLD)),
            Span::raw(" close the dashboard (the final table is printed)  "),
            Span::styled(" Tab ", key.add_modifier(Modifier::BOLD)),
            Span::raw(" view"),
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
        // With `levels = "auto"`, `n` ends the engine's search.
        let skip_engine = if app.is_auto() {
            " end search  "
        } else {
            " skip engine  "
        };
        let items = [
            ("space", pause),
            ("s", " skip level  "),
            ("n", skip_engine),
            ("q", " quit  "),
            ("?", " help  "),
            ("Tab", " view  "),
            ("e", " export"),
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
