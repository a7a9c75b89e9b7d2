//! The plain-text final table printed to the normal screen after the dashboard closes (and by
//! the headless mode): per engine per level, no ANSI codes.

use std::fmt::Write as _;

use crate::report::markdown::client_mark;
use crate::report::BasisMix;
use crate::results::model::{LevelStatus, Report};

use super::format;

/// One line per (engine, level), each engine's levels sorted by level: C, req/s, tok/s, TTFT
/// p50/p99 ms, E2E p50/p99 ms, errors (with `skipped`/`FAILED` and the client's mark: `host
/// busy`, `client busy`, `client late`);
/// then a line per engine that was cut short and one saying which throughput the table shows
/// (steady-state or whole-level, as the chart; † marks whole-level figures among steady-state
/// ones). Ends with a newline.
pub fn summary_table(report: &Report) -> String {
    let level_header = crate::report::Swept::of(report).column();
    let name_width = report
        .engines
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("Engine".len());
    let mut out = String::new();
    let _ = write!(out, "{}", report.run_name);
    if report.simulated {
        out.push_str("  (SIMULATED: the numbers model no real hardware)");
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<name_width$}  {:>6}  {:>8}  {:>8}  {:>9}  {:>9}  {:>9}  {:>9}  Errors",
        "Engine", level_header, "req/s", "tok/s", "TTFT p50", "TTFT p99", "E2E p50", "E2E p99",
    );
    let _ = writeln!(
        out,
        "{:<name_width$}  {:>6}  {:>8}  {:>8}  {:>9}  {:>9}  {:>9}  {:>9}",
        "", "", "", "", "ms", "ms", "ms", "ms",
    );
    let mix = BasisMix::of_report(report);
    for engine in &report.engines {
        if engine.levels.is_empty() {
            let _ = writeln!(out, "{:<name_width$}  (no levels run)", engine.name);
        }
        for level in engine.levels_by_value() {
            let mut errors = if level.failed == 0 {
                "0".to_string()
            } else {
                format!("{} ({})", level.failed, format::percent(level.error_rate))
            };
            match level.status {
                LevelStatus::Complete => {}
                LevelStatus::Skipped => errors.push_str(" skipped"),
                LevelStatus::Failed => errors.push_str(" FAILED"),
            }
            if let Some(mark) = client_mark(level.client_state) {
                errors.push(' ');
                errors.push_str(mark);
            }
            let mark = BasisMix::mark(mix, level);
            let _ = writeln!(
                out,
                "{:<name_width$}  {:>6}  {:>8}  {:>8}  {:>9}  {:>9}  {:>9}  {:>9}  {}",
                engine.name,
                format::level(level.level),
                format!("{:.2}{mark}", level.plotted_request_throughput()),
                format!("{:.1}{mark}", level.plotted_output_throughput()),
                format::ms_plain(level.median_ttft_ms),
                format::ms_plain(level.p99_ttft_ms),
                format::ms_plain(level.median_e2el_ms),
                format::ms_plain(level.p99_e2el_ms),
                errors,
            );
        }
    }
    for engine in &report.engines {
        if let Some(reason) = &engine.skipped_reason {
            let _ = writeln!(out, "{}: remaining levels skipped: {reason}", engine.name);
        }
    }
    if let Some(mix) = mix {
        let _ = writeln!(out, "{}", mix.explain());
    }
    out
}
