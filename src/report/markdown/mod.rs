//! `summary.md`: the run at a glance, for a PR comment or a README.
//!
//! Run metadata, the engines, then one table per key metric with a row per level and a column
//! per engine. The best value of each row is **bold** with a ★ (highest throughput, lowest
//! latency; failed levels never win), and a last column gives how far ahead the best engine is
//! of each other one (`vLLM 1.32× SGLang`). The throughput tables say whether they show the
//! steady-state window's figures or the whole level's (a † marks whole-level cells among
//! steady-state ones); a table of achieved concurrency and steady-state windows follows.

use std::fmt::Write as _;

use super::{
    display_time, fmt_level, has_slo, is_rate, level_name, models, per_level_text, quality,
    slo_text, BasisMix, Quality,
};
use crate::results::model::{LevelSummary, Report, RunStatus, ThroughputBasis};

/// One table of the summary.
struct Metric {
    title: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    /// `None` where the level has no value (e.g. no success): shown as `—`.
    value: fn(&LevelSummary) -> Option<f64>,
    format: fn(f64) -> String,
    /// Whether "best vs others" ratios mean anything (not for error rates).
    ratios: bool,
    /// A throughput table: steady-state figures where the level's window allows, and it says so.
    throughput: bool,
}

const METRICS: [Metric; 8] = [
    Metric {
        title: "Request throughput",
        unit: "req/s",
        higher_is_better: true,
        value: |l| Some(l.plotted_request_throughput()),
        format: fmt_num,
        ratios: true,
        throughput: true,
    },
    Metric {
        title: "Output throughput",
        unit: "tok/s",
        higher_is_better: true,
        value: |l| Some(l.plotted_output_throughput()),
        format: fmt_num,
        ratios: true,
        throughput: true,
    },
    Metric {
        title: "Median TTFT",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.median_ttft_ms,
        format: fmt_num,
        ratios: true,
        throughput: false,
    },
    Metric {
        title: "P99 TTFT",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.p99_ttft_ms,
        format: fmt_num,
        ratios: true,
        throughput: false,
    },
    Metric {
        title: "Median E2E latency",
        unit: "s",
        higher_is_better: false,
        value: |l| l.median_e2el_ms.map(|ms| ms / 1000.0),
        format: fmt_num,
        ratios: true,
        throughput: false,
    },
    Metric {
        title: "P99 E2E latency",
        unit: "s",
        higher_is_better: false,
        value: |l| l.p99_e2el_ms.map(|ms| ms / 1000.0),
        format: fmt_num,
        ratios: true,
        throughput: false,
    },
    Metric {
        title: "Median TPOT",
        unit: "ms",
        higher_is_better: false,
        value: |l| l.median_tpot_ms,
        format: fmt_num,
        ratios: true,
        throughput: false,
    },
    Metric {
        title: "Error rate",
        unit: "%",
        higher_is_better: false,
        value: |l| Some(l.error_rate * 100.0),
        format: fmt_pct,
        ratios: false,
        throughput: false,
    },
];

/// With SLOs set: successful requests meeting every SLO, per second.
const GOODPUT: Metric = Metric {
    title: "Goodput",
    unit: "req/s",
    higher_is_better: true,
    value: |l| l.request_goodput,
    format: fmt_num,
    ratios: true,
    throughput: false,
};

/// Rate mode: E2E latency measured from each request's scheduled send time.
const SCHEDULED_E2E_P99: Metric = Metric {
    title: "E2E latency from schedule p99",
    unit: "ms",
    higher_is_better: false,
    value: |l| l.schedule.as_ref().and_then(|s| s.p99_scheduled_e2el_ms),
    format: fmt_num,
    ratios: true,
    throughput: false,
};

/// Rate mode: requests sent more than 10 ms after their scheduled time.
const LATE_STARTS: Metric = Metric {
    title: "Late starts",
    unit: "requests sent > 10 ms after schedule",
    higher_is_better: false,
    value: |l| l.schedule.as_ref().map(|s| s.late_starts as f64),
    format: fmt_count,
    ratios: false,
    throughput: false,
};

/// Renders `summary.md`. Deterministic: the same report always gives the same bytes.
pub fn summary_md(report: &Report) -> Vec<u8> {
    let mut md = String::new();
    header(&mut md, report);
    engines(&mut md, report);
    warnings(&mut md, report);
    let levels = all_levels(report);
    if report.engines.is_empty() || levels.is_empty() {
        md.push_str("No level has finished yet: there is nothing to compare.\n");
    } else {
        md.push_str(
            "★ marks the best value of each row (highest throughput, lowest latency); failed \
             levels and levels where more than half the requests failed never win. The last \
             column gives how many times better the best engine is than each other one. \
             *(skipped)*: the level was cut short, its numbers cover what ran; *(failed)*: most \
             requests failed, the numbers describe failures, not speed.\n\n",
        );
        for metric in &METRICS {
            table(&mut md, report, &levels, metric);
        }
        if has_slo(report) {
            table(&mut md, report, &levels, &GOODPUT);
            slo_lines(&mut md, report);
        }
        if is_rate(report) {
            table(&mut md, report, &levels, &SCHEDULED_E2E_P99);
            table(&mut md, report, &levels, &LATE_STARTS);
        }
        concurrency(&mut md, report);
    }
    errors(&mut md, report);
    md.into_bytes()
}

fn header(md: &mut String, report: &Report) {
    let models = models(report);
    let title = if models.is_empty() {
        "llmsweep results".to_string()
    } else {
        format!("llmsweep results — {}", inline(&models))
    };
    let _ = writeln!(md, "# {title}\n");
    if report.simulated {
        md.push_str(
            "> **⚠ SIMULATED ENGINES** — at least one engine is llmsweep's built-in simulator: \
             these numbers model no real hardware.\n\n",
        );
    }
    let status = match report.status {
        RunStatus::Running => "running (partial results)",
        RunStatus::Complete => "complete",
        RunStatus::Aborted => "aborted (the remaining levels were not run)",
        RunStatus::Interrupted => "interrupted by a signal (the remaining levels were not run)",
        RunStatus::Failed => "failed (llmsweep stopped on an internal error; see the warnings)",
    };
    let w = &report.workload;
    let levels = w
        .levels
        .iter()
        .map(|l| fmt_level(*l))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(md, "- **Run:** {} — {status}", code(&report.run_name));
    if !models.is_empty() {
        let _ = writeln!(md, "- **Model:** {}", inline(&models));
    }
    let finished = match &report.finished_at {
        Some(t) => display_time(t),
        None => "—".to_string(),
    };
    let _ = writeln!(
        md,
        "- **Started:** {} · **Finished:** {}",
        inline(&display_time(&report.started_at)),
        inline(&finished)
    );
    let _ = writeln!(md, "- **Seed:** {}", report.seed);
    let _ = writeln!(
        md,
        "- **Workload:** {} sweep over {}; {} (+{} warmup); max_tokens {}; prompts: {}",
        inline(&w.mode),
        if levels.is_empty() { "—" } else { &levels },
        per_level_text(report),
        w.warmup_requests,
        w.max_tokens,
        inline(&w.prompt_source)
    );
    if let Some(slo) = slo_text(report) {
        let _ = writeln!(md, "- **SLOs:** {}", inline(&slo));
    }
    let _ = writeln!(md, "- **Tool:** {}\n", inline(&report.tool));
}

fn engines(md: &mut String, report: &Report) {
    md.push_str("## Engines\n\n");
    if report.engines.is_empty() {
        md.push_str("No engines.\n\n");
        return;
    }
    md.push_str("| Engine | Model | API | URL | Notes |\n|---|---|---|---|---|\n");
    for e in &report.engines {
        let mut notes = Vec::new();
        if e.simulated {
            notes.push("simulated".to_string());
        }
        if e.levels.is_empty() {
            notes.push("no finished level".to_string());
        }
        if let Some(reason) = &e.skipped_reason {
            notes.push(format!("stopped early: {}", cell(reason)));
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            cell(&e.name),
            cell(&e.model),
            cell(&e.api),
            cell(&e.url),
            notes.join("; ")
        );
    }
    md.push('\n');
}

/// Every level any engine ran, ascending, without duplicates.
fn all_levels(report: &Report) -> Vec<f64> {
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

fn table(md: &mut String, report: &Report, levels: &[f64], m: &Metric) {
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
                    let mut value = (m.value)(l).map_or_else(|| "—".to_string(), m.format);
                    if m.throughput {
                        value.push_str(BasisMix::mark(mix, l));
                    }
                    let mut text = if is_best(i) {
                        format!("**{value}** ★")
                    } else {
                        value
                    };
                    match quality(l) {
                        Quality::Good => {}
                        Quality::Partial => text.push_str(" (skipped)"),
                        Quality::Failed => text.push_str(" (failed)"),
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
fn level_header(report: &Report) -> String {
    if is_rate(report) {
        "Rate (req/s)".to_string()
    } else {
        capitalise(level_name(report))
    }
}

/// A line per engine: the highest level that met the SLOs.
fn slo_lines(md: &mut String, report: &Report) {
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

/// `## Achieved concurrency and steady state`: per engine and level, the requests actually in
/// flight against the level's concurrency, the active time and the steady-state window. Left
/// out for results written before llmsweep measured them (no level has a peak or a window).
fn concurrency(md: &mut String, report: &Report) {
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
        for l in &e.levels {
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

/// `## Warnings`: what a reader must know to trust the comparison.
fn warnings(md: &mut String, report: &Report) {
    if report.warnings.is_empty() {
        return;
    }
    md.push_str("## Warnings\n\n");
    for w in &report.warnings {
        let _ = writeln!(md, "- ⚠ {}", inline(w));
    }
    md.push('\n');
}

fn errors(md: &mut String, report: &Report) {
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
                level_name(report),
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

/// A number with precision that suits its size; `n/a` when it is not a number.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    let decimals = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    format!("{v:.decimals$}")
}

/// A whole count; `n/a` when it is not a number.
fn fmt_count(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.0}")
    } else {
        "n/a".to_string()
    }
}

/// A percentage: one decimal, two below 0.1 %.
fn fmt_pct(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v != 0.0 && v.abs() < 0.1 {
        format!("{v:.2}%")
    } else {
        format!("{v:.1}%")
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Text safe inside a table cell: no pipes or line breaks.
fn cell(s: &str) -> String {
    inline(s).replace('|', "\\|")
}

/// Text safe on one Markdown line.
fn inline(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Inline code, safe whatever backticks or pipes the text holds.
fn code(s: &str) -> String {
    let s = inline(s).replace('|', "¦");
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(fmt_num(1234.56), "1235");
        assert_eq!(fmt_num(123.456), "123.5");
        assert_eq!(fmt_num(12.3456), "12.35");
        assert_eq!(fmt_num(0.12345), "0.123");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(f64::NAN), "n/a");
        assert_eq!(fmt_pct(0.0), "0.0%");
        assert_eq!(fmt_pct(0.05), "0.05%");
        assert_eq!(fmt_pct(12.345), "12.3%");
    }

    #[test]
    fn escaping() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(code("x`y"), "`` x`y ``");
        assert_eq!(capitalise("concurrency"), "Concurrency");
    }
}
