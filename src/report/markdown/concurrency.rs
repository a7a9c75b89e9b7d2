//! `## Achieved concurrency and steady state`: the requests in flight and the steady-state
//! window of every engine and level.

use std::fmt::Write as _;

use super::table::level_header;
use super::text::cell;
use crate::report::{fmt_level, is_rate, quality, Quality};
use crate::results::model::{Report, ThroughputBasis};

/// `## Achieved concurrency and steady state`: per engine and level, the requests actually in
/// flight against the level's concurrency, the active time and the steady-state window. Left
/// out for results written before llmsweep measured them (no level has a peak or a window).
pub(super) fn concurrency(md: &mut String, report: &Report) {
    let measured = report
        .engines
        .iter()
        .flat_map(|e| &e.levels)
        .any(|l| l.achieved_peak_concurrency > 0 || l.steady_window_s.is_some());
    if !measured {
        return;
    }
    let rate = is_rate(report);
    md.push_str("## Achieved concurrency and steady state\n\n");
    md.push_str(if rate {
        "Peak and time-weighted mean of the requests in flight (against the cap, when \
         `max_concurrency` is set), the active time (first send to last completion, paused \
         time with nothing in flight excluded) and the steady-state window: the middle 80 % of \
         the schedule. The throughput tables show the window's figures where it held at least \
         2 × the peak in flight in completions.\n\n"
    } else {
        "Peak and time-weighted mean of the requests in flight against the level's concurrency \
         C (⚠: C was never reached), the active time (first send to last completion, paused \
         time with nothing in flight excluded) and the steady-state window: from the moment C \
         requests were first in flight to the moment the first worker found no more work. The \
         throughput tables show the window's figures where it held at least 2 × C in \
         completions.\n\n"
    });
    let _ = writeln!(
        md,
        "| Engine | {} | Peak in flight | Mean in flight | Active time (s) | Steady window (s) | \
         Completed in window | Throughput shown |\n|---|---:|---:|---:|---:|---:|---:|---|",
        level_header(report)
    );
    for e in &report.engines {
        for l in e.levels_by_value() {
            let (peak, c) = (l.achieved_peak_concurrency, l.max_concurrency);
            let peak = if rate && c == 0 {
                peak.to_string()
            } else if !rate && peak < c {
                format!("{peak} of {c} ⚠")
            } else {
                format!("{peak} of {c}")
            };
            let window = l
                .steady_window_s
                .map_or_else(|| "—".to_string(), |s| format!("{s:.2}"));
            let shown = match l.throughput_basis() {
                ThroughputBasis::Steady => "steady state",
                ThroughputBasis::WholeLevel => "whole level",
            };
            let status = match quality(l) {
                Quality::Good => "",
                Quality::Partial => " (skipped)",
                Quality::Failed => " (failed)",
            };
            let _ = writeln!(
                md,
                "| {} | {}{status} | {peak} | {:.1} | {:.2} | {window} | {} | {shown} |",
                cell(&e.name),
                fmt_level(l.level),
                l.mean_concurrency,
                l.duration,
                l.steady_completed,
            );
        }
    }
    md.push('\n');
}
