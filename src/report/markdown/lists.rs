//! The bullet lists: each engine's highest level meeting the SLOs, the run's warnings and the
//! errors of every level.

use std::fmt::Write as _;

use super::text::{code, inline};
use crate::report::{fmt_level, is_rate, Swept};
use crate::results::model::Report;

/// A line per engine: the highest level that met the SLOs.
pub(super) fn slo_lines(md: &mut String, report: &Report) {
    let what = if is_rate(report) {
        "max rate (req/s)"
    } else {
        "max concurrency"
    };
    for e in &report.engines {
        let best = e
            .max_level_meeting_slo
            .map_or_else(|| "none".to_string(), fmt_level);
        let _ = writeln!(
            md,
            "- **{}**: {what} meeting the SLOs: {best}",
            inline(&e.name)
        );
    }
    md.push('\n');
}

/// `## Warnings`: what a reader must know to trust the comparison.
pub(super) fn warnings(md: &mut String, report: &Report) {
    if report.warnings.is_empty() {
        return;
    }
    md.push_str("## Warnings\n\n");
    for w in &report.warnings {
        let _ = writeln!(md, "- ⚠ {}", inline(w));
    }
    md.push('\n');
}

pub(super) fn errors(md: &mut String, report: &Report) {
    let mut lines = Vec::new();
    for e in &report.engines {
        for l in &e.levels {
            if l.errors.is_empty() {
                continue;
            }
            let classes = l
                .errors
                .iter()
                .map(|(class, count)| match l.error_examples.get(class) {
                    Some(example) => {
                        format!("{} × {count} (e.g. {})", code(class), code(example))
                    }
                    None => format!("{} × {count}", code(class)),
                })
                .collect::<Vec<_>>()
                .join(", ");
            lines.push(format!(
                "- **{}** at {} {}: {classes}",
                inline(&e.name),
                Swept::of(report).name(),
                fmt_level(l.level)
            ));
        }
    }
    if !lines.is_empty() {
        md.push_str("## Errors\n\n");
        for line in lines {
            md.push_str(&line);
            md.push('\n');
        }
        md.push('\n');
    }
}
