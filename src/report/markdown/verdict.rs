//! `## Verdict`: per level and headline metric, which engine is faster and whether the
//! difference is significant — one row per pair of engines, best engine first.

use std::fmt::Write as _;

use super::text::cell;
use crate::report::{fmt_level, is_rate};
use crate::results::confidence::IntervalMethod;
use crate::results::model::Report;
use crate::results::verdict::{Verdict, VerdictMetric, VerdictOutcome};

/// Marks a verdict whose interval comes from batch means, among verdicts over trials.
pub const BATCH_MEANS_MARK: &str = "‡";

/// A level as verdicts and knees name it: `C=8` (concurrency), `4 req/s` (rate mode).
pub fn level_label(report: &Report, level: f64) -> String {
    if is_rate(report) {
        format!("{} req/s", fmt_level(level))
    } else {
        format!("C={}", fmt_level(level))
    }
}

/// The report's verdicts in reading order: by level (ascending), then metric (output tok/s,
/// p50 TTFT, p50 E2E), pairs in the order the report lists them.
pub fn ordered_verdicts(report: &Report) -> Vec<&Verdict> {
    let rank = |m: VerdictMetric| VerdictMetric::ALL.iter().position(|x| *x == m);
    let mut verdicts: Vec<&Verdict> = report.verdicts.iter().collect();
    verdicts.sort_by(|a, b| {
        a.level
            .total_cmp(&b.level)
            .then(rank(a.metric).cmp(&rank(b.metric)))
    });
    verdicts
}

/// The sentences saying how the verdicts' intervals were computed, one per method present.
pub fn method_notes(report: &Report) -> Vec<String> {
    let has = |m: Option<IntervalMethod>| report.verdicts.iter().any(|v| v.method == m);
    let has_untested = report
        .verdicts
        .iter()
        .any(|v| v.outcome == VerdictOutcome::NotTested);
    let trials = has(Some(IntervalMethod::Trials));
    let mut notes = Vec::new();
    if trials {
        let k = report
            .workload
            .trials
            .map_or_else(|| "the".to_string(), |k| k.to_string());
        notes.push(format!(
            "95 % intervals of the ratio of geometric means (Welch t on log values) over {k} \
             trials."
        ));
    }
    if has(Some(IntervalMethod::BatchMeans)) {
        let mark = if trials {
            format!("{BATCH_MEANS_MARK} ")
        } else {
            String::new()
        };
        notes.push(format!(
            "{mark}Within one run: batch means of the steady-state window — no run-to-run noise \
             included."
        ));
    }
    if has_untested {
        notes.push(
            "Single run: not tested — a side had one trial and no batch interval; the ratio of \
             the two values is shown, untested."
                .to_string(),
        );
    }
    notes
}

/// A verdict's sentence after `"<level> <metric>: "`, as [`Verdict::line`] words it:
/// `sim-fast faster by 1.31× (1.22–1.40) than sim-slow`, `sim-fast vs sim-slow: no
/// significant difference (0.97–1.04)`, `sim-fast vs sim-slow: single run: not tested
/// (1.12×)`.
pub fn verdict_rest(v: &Verdict, label: &str) -> String {
    let line = v.line(label);
    let prefix = format!("{label} {}: ", v.metric.label());
    match line.strip_prefix(&prefix) {
        Some(rest) => rest.to_string(),
        None => line,
    }
}

/// One verdict on one line, for a screen: `C=8 output tok/s: sim-fast faster by 1.31×
/// (1.22–1.40) than sim-slow` (the words of `summary.md`'s table).
pub fn verdict_line(report: &Report, v: &Verdict) -> String {
    let label = level_label(report, v.level);
    format!("{label} {}: {}", v.metric.label(), verdict_rest(v, &label))
}

/// `## Verdict`, when the report has verdicts: the method notes, then a table grouped by
/// level and metric (each printed on its group's first row only).
pub(super) fn verdicts(md: &mut String, report: &Report) {
    if report.verdicts.is_empty() {
        return;
    }
    md.push_str("## Verdict\n\n");
    for note in method_notes(report) {
        let _ = writeln!(md, "*{note}*\n");
    }
    md.push_str(
        "*Faster*: the interval of the speed-up excludes 1 (best engine first); *no significant \
         difference*: it contains 1.\n\n",
    );
    let mark_batch = report
        .verdicts
        .iter()
        .any(|v| v.method == Some(IntervalMethod::Trials));
    md.push_str("| Level | Metric | Verdict |\n|---|---|---|\n");
    let mut previous: Option<(f64, VerdictMetric)> = None;
    for v in ordered_verdicts(report) {
        let label = level_label(report, v.level);
        let new_level = previous.is_none_or(|(level, _)| level.total_cmp(&v.level).is_ne());
        let new_metric = new_level || previous.is_some_and(|(_, m)| m != v.metric);
        previous = Some((v.level, v.metric));
        let mut text = cell(&verdict_rest(v, &label));
        if v.outcome == VerdictOutcome::Faster {
            text = format!("**{text}**");
        }
        if mark_batch && v.method == Some(IntervalMethod::BatchMeans) {
            text.push_str(BATCH_MEANS_MARK);
        }
        let _ = writeln!(
            md,
            "| {} | {} | {text} |",
            if new_level { label.as_str() } else { "" },
            if new_metric { v.metric.label() } else { "" },
        );
    }
    md.push('\n');
}
