//! The DONE screen's conclusions: each engine's knee (`levels = "auto"`) and the A/B
//! verdicts, one line per level per metric, above the finished-levels table.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::tables::{render_levels_table, table_block};
use super::{engine_color, level_label, row_span};
use crate::results::model::Report;
use crate::results::verdict::{Verdict, VerdictMetric, VerdictOutcome};
use crate::tui::app::App;

/// Rows the finished-levels table keeps at least below the verdicts (title, header, 3 rows).
const TABLE_MIN: u16 = 5;

/// True when the finished run has something to conclude: verdicts or a knee.
pub(super) fn has_conclusions(app: &App) -> bool {
    app.is_finished()
        && app
            .report()
            .is_some_and(|r| !r.verdicts.is_empty() || r.engines.iter().any(|e| e.search.is_some()))
}

/// The body once the run is done with verdicts or knees: they on top, the table below (it
/// asks for a row per level, up to half the body; the verdicts take the rest they need).
pub(super) fn render_done_body(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(report) = app.report() else {
        return;
    };
    let knees = knee_lines(app, report);
    let verdicts = verdict_lines(report);
    let want = (1 + knees.len() + verdicts.len()).min(usize::from(u16::MAX)) as u16;
    let table_want = (app.levels().len().min(usize::from(u16::MAX / 2)) as u16 + 2)
        .max(TABLE_MIN)
        .min(area.height);
    let height = want.min(area.height.saturating_sub(table_want).max(area.height / 2));
    let top = row_span(area, 0, height);
    render_conclusions(knees, verdicts, top, buf);
    render_levels_table(app, row_span(area, height, area.height - height), buf);
}

/// `vLLM: knee C=24 (slo), 1830 tok/s`, per engine whose search ran.
fn knee_lines(app: &App, report: &Report) -> Vec<Line<'static>> {
    report
        .engines
        .iter()
        .enumerate()
        .filter_map(|(engine, e)| {
            let search = e.search.as_ref()?;
            let reason = search.stop_reason.as_str();
            let text = match search.knee {
                Some(knee) => {
                    let mut text = format!(": knee {} ({reason})", level_label(Some(report), knee));
                    if let Some(tok) = search.knee_output_throughput {
                        text.push_str(&format!(", {tok:.0} tok/s"));
                    }
                    text
                }
                None => format!(": no knee, the first level failed ({reason})"),
            };
            Some(Line::from(vec![
                Span::raw(" "),
                Span::styled(e.name.clone(), Style::new().fg(engine_color(app, engine))),
                Span::raw(text),
            ]))
        })
        .collect()
}

/// The verdicts by level, then metric (throughput, TTFT, E2E), each pair's best engine first.
fn verdict_lines(report: &Report) -> Vec<Line<'static>> {
    let metric_order = |m: VerdictMetric| VerdictMetric::ALL.iter().position(|x| *x == m);
    let mut verdicts: Vec<&Verdict> = report.verdicts.iter().collect();
    verdicts.sort_by(|a, b| {
        a.level
            .total_cmp(&b.level)
            .then(metric_order(a.metric).cmp(&metric_order(b.metric)))
    });
    verdicts
        .into_iter()
        .map(|v| {
            let style = match v.outcome {
                VerdictOutcome::Faster => Style::new(),
                VerdictOutcome::NoSignificantDifference | VerdictOutcome::NotTested => {
                    Style::new().fg(Color::DarkGray)
                }
            };
            Line::styled(
                format!(" {}", v.line(&level_label(Some(report), v.level))),
                style,
            )
        })
        .collect()
}

/// The knees, then as many verdicts as fit; when some do not, the last line says how many
/// more `summary.md` holds.
fn render_conclusions(
    knees: Vec<Line<'static>>,
    verdicts: Vec<Line<'static>>,
    area: Rect,
    buf: &mut Buffer,
) {
    let title = match (knees.is_empty(), verdicts.is_empty()) {
        (true, _) => "Verdicts",
        (false, true) => "Knees",
        (false, false) => "Knees and verdicts",
    };
    let block = table_block(title.to_string());
    let inner = block.inner(area);
    block.render(area, buf);
    let room = usize::from(inner.height);
    let mut lines = knees;
    let left = room.saturating_sub(lines.len());
    if verdicts.len() > left {
        let shown = left.saturating_sub(1);
        let more = verdicts.len() - shown;
        lines.extend(verdicts.into_iter().take(shown));
        lines.push(Line::styled(
            format!(" +{more} more in summary.md"),
            Style::new().fg(Color::DarkGray),
        ));
    } else {
        lines.extend(verdicts);
    }
    for (y, line) in lines.iter().take(room).enumerate() {
        buf.set_line(inner.x, inner.y + y as u16, line, inner.width);
    }
}
