//! The frame around the panels: the header (title, subtitle, SIMULATED ENGINES badge) and the
//! footer (which throughput is shown, what the error bars and the knees are, the workload, the
//! tool).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::XAxis;
use super::knee;
use super::layout::{ChartLayout, BADGE_W, SIDE};
use super::points::has_error_bars;
use super::text::{fit, Label, Pen};
use super::{draw_err, ChartKind, BADGE, MUTED};
use crate::report::{
    display_time, fmt_level, font, models, per_level_text, slo_text, BasisMix, ReportError, Swept,
};
use crate::results::confidence::IntervalMethod;
use crate::results::model::{Report, RunStatus};

/// "error bars: 95 % CI over 3 trials", when a chart of `kind` draws error bars. The count is
/// the intervals' own (`n`), which is `[sweep] trials` in a run of its own; "over 3–5 trials"
/// when they differ (runs merged by `llmsweep report a.json b.json` keep the first's workload).
fn error_bar_note(report: &Report, kind: ChartKind) -> Option<String> {
    if !has_error_bars(report, kind) {
        return None;
    }
    let intervals: Vec<_> = report
        .engines
        .iter()
        .flat_map(|e| &e.levels)
        .filter_map(|l| l.intervals.as_ref())
        .filter(|iv| iv.method == IntervalMethod::Trials)
        .collect();
    let fewest = intervals.iter().map(|iv| iv.n).min()?;
    let most = intervals.iter().map(|iv| iv.n).max()?;
    let trials = if fewest == most {
        fewest.to_string()
    } else {
        format!("{fewest}–{most}")
    };
    let confidence = intervals[0].confidence;
    Some(format!(
        "error bars: {} % CI over {trials} trials",
        fmt_level(confidence * 100.0)
    ))
}

/// The footer's line on error bars and knees for a chart of `kind`; `None` without either.
fn notes(report: &Report, kind: ChartKind) -> Option<String> {
    let knees = knee::knees(report, &XAxis::new(report));
    let parts: Vec<String> = error_bar_note(report, kind)
        .into_iter()
        .chain(knee::note(&knees).map(str::to_string))
        .collect();
    (!parts.is_empty()).then(|| parts.join("  ·  "))
}

/// How many lines the footer of `report`'s charts has: the throughput basis (when there are
/// levels), the error bars and knees (when a standard or extended chart has either: the server
/// chart, which has no error bars, keeps the line for the knees or leaves it blank, so that
/// every chart of a report has the same layout), the workload.
pub(super) fn footer_lines(report: &Report) -> i32 {
    let notes = [ChartKind::Standard, ChartKind::Extended]
        .iter()
        .any(|&kind| notes(report, kind).is_some());
    1 + i32::from(BasisMix::of_report(report).is_some()) + i32::from(notes)
}

pub(super) fn draw_header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    pen: Pen,
    report: &Report,
    kind: ChartKind,
    layout: &ChartLayout,
) -> Result<(), ReportError> {
    let badge = if report.simulated { BADGE_W + 20 } else { 0 };
    let max_w = layout.width as i32 - 2 * SIDE - badge;
    let models = models(report);
    let title = if models.is_empty() {
        "llmsweep".to_string()
    } else {
        models
    };
    let title = fit(&title, 30.0, true, max_w)?;
    pen.draw(root, Label::new(&title, (SIDE, 14), 30.0).bold())?;

    let mut sub = Vec::new();
    if !report.started_at.is_empty() {
        sub.push(display_time(&report.started_at));
    }
    if !report.run_name.is_empty() {
        sub.push(format!("run {}", report.run_name));
    }
    sub.push(format!("{} sweep", Swept::of(report).name()));
    match report.status {
        RunStatus::Complete => {}
        RunStatus::Running => sub.push("still running: partial results".to_string()),
        RunStatus::Aborted => sub.push("aborted: later levels not run".to_string()),
        RunStatus::Interrupted => sub.push("interrupted: later levels not run".to_string()),
        RunStatus::Failed => sub.push("failed: later levels not run".to_string()),
    }
    match kind {
        ChartKind::Standard => {}
        ChartKind::Extended => sub.push("extended metrics".to_string()),
        ChartKind::Server => sub.push("server metrics (the engines' /metrics)".to_string()),
    }
    let sub = fit(&sub.join("  ·  "), 18.0, false, max_w)?;
    pen.draw(root, Label::new(&sub, (SIDE, 56), 18.0).color(&MUTED))?;

    if report.simulated {
        let x1 = layout.width as i32 - SIDE;
        let x0 = x1 - BADGE_W;
        root.draw(&Rectangle::new([(x0, 14), (x1, 56)], BADGE.filled()))
            .map_err(draw_err)?;
        let mid = (x0 + x1) / 2;
        pen.draw(
            root,
            Label::new("SIMULATED ENGINES", (mid, 35), 22.0)
                .bold()
                .color(&WHITE)
                .anchor(HPos::Center, VPos::Center),
        )?;
        pen.draw(
            root,
            Label::new("numbers model no real hardware", (mid, 62), 15.0)
                .color(&BADGE)
                .anchor(HPos::Center, VPos::Top),
        )?;
    }
    Ok(())
}

pub(super) fn draw_footer<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    pen: Pen,
    report: &Report,
    kind: ChartKind,
    layout: &ChartLayout,
) -> Result<(), ReportError> {
    let w = &report.workload;
    let mut parts = vec![format!("max_tokens {}", w.max_tokens)];
    if !w.prompt_source.is_empty() {
        parts.push(format!("prompts: {}", w.prompt_source));
    }
    parts.push(format!(
        "{} ({})",
        per_level_text(report),
        crate::report::warmup_text(w)
    ));
    if let Some(shards) = crate::report::shards_text(report) {
        parts.push(shards);
    }
    if let Some(slo) = slo_text(report) {
        parts.push(format!("SLOs: {slo}"));
    }
    parts.push(format!("seed {}", report.seed));
    let mut left = parts.join("  ·  ");
    // The warnings go first so fitting the footer never cuts them off.
    match report.warnings.len() {
        0 => {}
        1 => left = format!("⚠ 1 warning — see summary.md  ·  {left}"),
        n => left = format!("⚠ {n} warnings — see summary.md  ·  {left}"),
    }
    let right = &report.tool;
    let right_w = font::width(right, 15.0, false)?;
    let left = fit(
        &left,
        15.0,
        false,
        layout.width as i32 - 2 * SIDE - right_w - 40,
    )?;
    // Above the workload, on lines of their own: which throughput the throughput panel shows,
    // then what the error bars and the knees are (blank on a chart without either, when the
    // report's other charts have them: see `footer_lines`).
    let lines = footer_lines(report);
    let line_y = |i: i32| layout.footer.y + layout.footer.h * (2 * i + 1) / (2 * lines);
    let mut above = Vec::new();
    if let Some(basis) = BasisMix::of_report(report) {
        above.push(basis.explain().to_string());
    }
    // Only a kind's own notes: the line stays blank for a chart without them (`footer_lines`
    // counts it when a standard or extended chart has notes, and any kind's notes are theirs).
    above.extend(notes(report, kind));
    for (i, text) in above.iter().enumerate() {
        let text = fit(text, 14.0, false, layout.width as i32 - 2 * SIDE)?;
        pen.draw(
            root,
            Label::new(&text, (SIDE, line_y(i as i32)), 14.0)
                .color(&MUTED)
                .anchor(HPos::Left, VPos::Center),
        )?;
    }
    let y = line_y(lines - 1);
    pen.draw(
        root,
        Label::new(&left, (SIDE, y), 15.0)
            .color(&MUTED)
            .anchor(HPos::Left, VPos::Center),
    )?;
    pen.draw(
        root,
        Label::new(right, (layout.width as i32 - SIDE, y), 15.0)
            .color(&MUTED)
            .anchor(HPos::Right, VPos::Center),
    )?;
    Ok(())
}
