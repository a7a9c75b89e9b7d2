//! `## Knee (levels = auto)`: per engine, why its adaptive search stopped, the knee it found
//! and the levels it bisected.

use std::fmt::Write as _;

use super::text::{cell, fmt_num};
use super::verdict::level_label;
use crate::report::fmt_level;
use crate::results::model::{EngineReport, Report};
use crate::results::search::{SearchResult, StopReason};

/// Why the search stopped, in words: `output throughput stopped growing (plateau from C=32)`.
pub fn stop_reason_text(report: &Report, search: &SearchResult) -> String {
    match search.stop_reason {
        StopReason::Plateau => match search.plateau_from {
            Some(from) => format!(
                "output throughput stopped growing (plateau from {})",
                level_label(report, from)
            ),
            None => "output throughput stopped growing".to_string(),
        },
        StopReason::Slo => "a level missed the SLOs".to_string(),
        StopReason::Errors => "a level's error rate passed the limit".to_string(),
        StopReason::Skipped => "a level was skipped by key".to_string(),
        StopReason::Max => "the next doubling would pass [sweep.auto] max".to_string(),
        StopReason::Ended => "the search was ended (by key, or the run stopped)".to_string(),
    }
}

/// The knee: `C=48 (2346 tok/s)`, `C=48`, or `none (the first level failed)`.
pub fn knee_text(report: &Report, search: &SearchResult) -> String {
    match (search.knee, search.knee_output_throughput) {
        (Some(knee), Some(tok_s)) => {
            format!("{} ({} tok/s)", level_label(report, knee), fmt_num(tok_s))
        }
        (Some(knee), None) => level_label(report, knee),
        (None, _) => "none (the first level failed)".to_string(),
    }
}

/// The levels bisected, in the order they ran: `40, 44`; `—` when none.
pub fn bisected_text(search: &SearchResult) -> String {
    if search.bisected.is_empty() {
        return "—".to_string();
    }
    search
        .bisected
        .iter()
        .map(|l| fmt_level(*l))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The highest level meeting the SLOs, when the search found one against them:
/// `max concurrency meeting the SLOs: 48`.
pub fn slo_knee_text(search: &SearchResult) -> Option<String> {
    match (
        search.max_concurrency_meeting_slo,
        search.max_rate_meeting_slo,
    ) {
        (Some(c), _) => Some(format!(
            "max concurrency meeting the SLOs: {}",
            fmt_level(c)
        )),
        (None, Some(r)) => Some(format!("max rate meeting the SLOs: {} req/s", fmt_level(r))),
        (None, None) => None,
    }
}

/// One line for a screen: `sim-fast: knee C=48 (2346 tok/s); stopped: …; bisected 40, 44`.
pub fn knee_line(report: &Report, engine: &EngineReport) -> Option<String> {
    let search = engine.search.as_ref()?;
    let mut line = format!(
        "{}: knee {}; stopped: {}",
        engine.name,
        knee_text(report, search),
        stop_reason_text(report, search)
    );
    if let Some(slo) = slo_knee_text(search) {
        let _ = write!(line, "; {slo}");
    }
    if !search.bisected.is_empty() {
        let _ = write!(line, "; bisected {}", bisected_text(search));
    }
    Some(line)
}

/// `## Knee (levels = auto)`, when any engine has a search result: a row per such engine.
pub(super) fn knees(md: &mut String, report: &Report) {
    let searched: Vec<(&EngineReport, &SearchResult)> = report
        .engines
        .iter()
        .filter_map(|e| e.search.as_ref().map(|s| (e, s)))
        .collect();
    if searched.is_empty() {
        return;
    }
    md.push_str("## Knee (levels = auto)\n\n");
    md.push_str(
        "The knee is the highest level that met every stop condition in force (the SLOs, the \
         error limit), bisected between it and the first level that did not; with only the \
         plateau in force, the level where output throughput stopped growing.\n\n",
    );
    md.push_str("| Engine | Knee | Stopped because | Bisected levels |\n|---|---|---|---|\n");
    for (engine, search) in searched {
        let mut knee = knee_text(report, search);
        if let Some(slo) = slo_knee_text(search) {
            let _ = write!(knee, "; {slo}");
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&engine.name),
            cell(&knee),
            cell(&stop_reason_text(report, search)),
            bisected_text(search)
        );
    }
    md.push('\n');
}
