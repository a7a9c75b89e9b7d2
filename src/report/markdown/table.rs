//! One metric's table: a row per level, a column per engine, the best value starred and a last
//! column with how far ahead the best engine is.

use std::fmt::Write as _;

use super::client_marks::client_mark;
use super::intervals::{from_batch_means, half_width, methods, noisy, NOISY_MARK};
use super::metrics::Metric;
use super::text::{capitalise, cell, fmt_pm, inline};
use super::verdict::{level_label, BATCH_MEANS_MARK};
use crate::report::{fmt_level, is_rate, quality, BasisMix, Quality, Swept};
use crate::results::confidence::NOISY_CV;
use crate::results::model::{LevelSummary, Report};

/// Every level any engine ran, ascending, without duplicates.
pub(super) fn all_levels(report: &Report) -> Vec<f64> {
    let mut levels: Vec<f64> = report
        .engines
        .iter()
        .flat_map(|e| e.levels.iter().map(|l| l.level))
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup_by(|a, b| same_level(*a, *b));
    levels
}

fn same_level(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

pub(super) fn table(md: &mut String, report: &Report, levels: &[f64], m: &Metric) {
    let better = if m.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    let _ = writeln!(md, "## {} ({}) — {better}\n", m.title, m.unit);
    let mix = BasisMix::of_report(report);
    if let Some(mix) = mix.filter(|_| m.throughput) {
        let _ = writeln!(md, "*{}.*\n", capitalise(mix.explain()));
    }
    let mut head = format!("| {} |", level_header(report));
    let mut rule = String::from("|---:|");
    for e in &report.engines {
        let _ = write!(head, " {} |", cell(&e.name));
        rule.push_str("---:|");
    }
    head.push_str(if m.ratios {
        " Best vs others |"
    } else {
        " Best |"
    });
    rule.push_str("---|");
    let _ = writeln!(md, "{head}\n{rule}");
    // Batch-means cells are marked only among cells over trials.
    let mark_batches = methods(report) == (true, true);
    // `engine at C=8` for every cell flagged noisy, in table order.
    let mut noisy_cells: Vec<String> = Vec::new();

    for &level in levels {
        // (engine index, level summary) for the engines that ran this level.
        let found: Vec<(usize, &LevelSummary)> = report
            .engines
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                e.levels
                    .iter()
                    .find(|l| same_level(l.level, level))
                    .map(|l| (i, l))
            })
            .collect();
        let eligible: Vec<(usize, f64)> = found
            .iter()
            .filter(|(_, l)| eligible(l, m))
            .filter_map(|(i, l)| Some((*i, (m.value)(l)?)))
            .collect();
        let best_value = eligible.iter().map(|(_, v)| *v).reduce(|a, b| {
            if (m.higher_is_better && b > a) || (!m.higher_is_better && b < a) {
                b
            } else {
                a
            }
        });
        let is_best = |i: usize| {
            best_value.is_some_and(|best| eligible.iter().any(|(j, v)| *j == i && *v == best))
        };

        let mut line = format!("| {} |", fmt_level(level));
        for (i, _) in report.engines.iter().enumerate() {
            let text = match found.iter().find(|(j, _)| *j == i) {
                None => "—".to_string(),
                Some((_, l)) => {
                    let mut value = match ((m.value)(l), half_width(l, m)) {
                        (None, _) => "—".to_string(),
                        (Some(v), Some(hw)) => fmt_pm(v, hw),
                        (Some(v), None) => (m.format)(v),
                    };
                    if mark_batches && from_batch_means(l, m) {
                        value.push_str(BATCH_MEANS_MARK);
                    }
                    if m.throughput {
                        value.push_str(BasisMix::mark(mix, l));
                    }
                    let mut text = if is_best(i) {
                        format!("**{value}** ★")
                    } else {
                        value
                    };
                    if noisy(l, m) {
                        let _ = write!(text, " {NOISY_MARK}");
                        noisy_cells.push(format!(
                            "{} at {}",
                            inline(&report.engines[i].name),
                            level_label(report, level)
                        ));
                    }
                    match quality(l) {
                        Quality::Good => {}
                        Quality::Partial => text.push_str(" (skipped)"),
                        Quality::Failed => text.push_str(" (failed)"),
                    }
                    if let Some(mark) = client_mark(l.client_state) {
                        let _ = write!(text, " ({mark})");
                    }
                    text
                }
            };
            let _ = write!(line, " {text} |");
        }
        let _ = writeln!(line, " {} |", best_column(report, &eligible, best_value, m));
        md.push_str(&line);
    }
    md.push('\n');
    if !noisy_cells.is_empty() {
        let _ = writeln!(
            md,
            "{NOISY_MARK} CV > {:.0} % across trials: {}.\n",
            NOISY_CV * 100.0,
            noisy_cells.join(", ")
        );
    }
}

/// A level can win when it is not failed, its value is a number and something finished.
fn eligible(l: &LevelSummary, m: &Metric) -> bool {
    let finished = if m.ratios {
        l.completed > 0
    } else {
        l.completed + l.failed > 0
    };
    quality(l) != Quality::Failed && finished && (m.value)(l).is_some_and(f64::is_finite)
}

/// `vLLM 1.32× SGLang, 1.50× TGI`; `A = B (tie)`; `vLLM (only valid result)`; `—` when no
/// engine has a valid result.
fn best_column(
    report: &Report,
    eligible: &[(usize, f64)],
    best: Option<f64>,
    m: &Metric,
) -> String {
    let Some(best) = best else {
        return "—".to_string();
    };
    let winners: Vec<&str> = eligible
        .iter()
        .filter(|(_, v)| *v == best)
        .map(|(i, _)| report.engines[*i].name.as_str())
        .collect();
    let winners = winners
        .iter()
        .map(|n| cell(n))
        .collect::<Vec<_>>()
        .join(" = ");
    if !m.ratios {
        return winners;
    }
    let others: Vec<String> = eligible
        .iter()
        .filter(|(_, v)| *v != best)
        .filter_map(|(i, v)| {
            let ratio = if m.higher_is_better {
                best / v
            } else {
                v / best
            };
            (ratio.is_finite() && ratio > 0.0)
                .then(|| format!("{ratio:.2}× {}", cell(&report.engines[*i].name)))
        })
        .collect();
    if others.is_empty() {
        if eligible.len() > 1 {
            format!("{winners} (tie)")
        } else {
            format!("{winners} (only valid result)")
        }
    } else {
        format!("{winners} {}", others.join(", "))
    }
}

/// The level column's header: `Concurrency`, or `Rate (req/s)` in rate mode.
pub(super) fn level_header(report: &Report) -> String {
    if is_rate(report) {
        "Rate (req/s)".to_string()
    } else {
        capitalise(Swept::of(report).name())
    }
}
