//! `llmsweep check`'s output: one table of every check, then one line per failing item with
//! its fix, then the verdict. Pure.

use std::fmt::Write;

use super::{EngineChecks, Status};

fn label(status: Status) -> &'static str {
    match status {
        Status::Pass => "ok",
        Status::Warn => "warn",
        Status::Fail => "FAIL",
        Status::Skip => "—",
    }
}

/// The whole report of `llmsweep check`.
pub fn render(engines: &[EngineChecks]) -> String {
    let mut out = String::new();
    let name_width = engines
        .iter()
        .map(|e| e.engine.chars().count())
        .chain(["engine".len()])
        .max()
        .unwrap_or(6);
    let check_width = engines
        .iter()
        .flat_map(|e| &e.checks)
        .map(|c| c.name.len())
        .chain(["check".len()])
        .max()
        .unwrap_or(5);
    let _ = writeln!(
        out,
        "{:<name_width$}  {:<check_width$}  {:<6}  detail",
        "engine", "check", "result"
    );
    for engine in engines {
        for (i, check) in engine.checks.iter().enumerate() {
            let name = if i == 0 { engine.engine.as_str() } else { "" };
            let _ = writeln!(
                out,
                "{name:<name_width$}  {:<check_width$}  {:<6}  {}",
                check.name,
                label(check.status),
                check.detail
            );
        }
    }
    let problems: Vec<String> = engines
        .iter()
        .flat_map(|e| {
            e.checks
                .iter()
                .filter(|c| matches!(c.status, Status::Warn | Status::Fail))
                .map(move |c| format!("{} {}: {}", label(c.status), e.engine, c.line()))
        })
        .collect();
    if !problems.is_empty() {
        out.push('\n');
        for line in &problems {
            let _ = writeln!(out, "{line}");
        }
    }
    let failing: Vec<&str> = engines
        .iter()
        .filter(|e| e.hard_failure().is_some())
        .map(|e| e.engine.as_str())
        .collect();
    let warnings = engines.iter().map(|e| e.warnings().len()).sum::<usize>();
    let _ = writeln!(
        out,
        "\n{} of {} engine(s) ready, {warnings} warning(s){}",
        engines.len() - failing.len(),
        engines.len(),
        if failing.is_empty() {
            String::new()
        } else {
            format!(
                "; not ready: {} (`llmsweep run` skips it unless --no-check)",
                failing.join(", ")
            )
        }
    );
    out
}
