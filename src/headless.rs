//! The headless front end: one line per finished level, then a final table. Consumes the same
//! events as the dashboard and measures nothing.

use std::io::Write;

use tokio::sync::mpsc;

use crate::events::Event;
use crate::report::per_level_text;
use crate::results::model::{LevelStatus, LevelSummary};
use crate::tui::{format, summary_table};

/// Prints events until the bus closes.
pub async fn run(mut events: mpsc::Receiver<Event>, mut out: impl Write) {
    let mut names: Vec<String> = Vec::new();
    let mut rate = false;
    while let Some(event) = events.recv().await {
        let line = match event {
            Event::RunStarted { report } => {
                names = report.engines.iter().map(|e| e.name.clone()).collect();
                rate = report.workload.mode == "rate";
                Some(format!(
                    "llmsweep: run {} — {} engine(s) × {} {:?}, {}{}",
                    report.run_name,
                    names.len(),
                    if rate { "rates (req/s)" } else { "levels" },
                    report.workload.levels,
                    per_level_text(&report),
                    if report.simulated {
                        " (SIMULATED engines)"
                    } else {
                        ""
                    }
                ))
            }
            Event::LevelFinished {
                engine, summary, ..
            } => Some(level_line(
                names.get(engine).map(String::as_str).unwrap_or("?"),
                &summary,
                rate,
            )),
            Event::Warning { engine, text } => Some(match engine.and_then(|e| names.get(e)) {
                Some(name) => format!("warning: {name}: {text}"),
                None => format!("warning: {text}"),
            }),
            Event::RunFinished { report, out_dir } => Some(format!(
                "\n{}\nresults: {}",
                summary_table(&report),
                out_dir.display()
            )),
            Event::LevelStarted { .. }
            | Event::Snapshot(_)
            | Event::ServerSnapshot(_)
            | Event::State(_) => None,
        };
        if let Some(line) = line {
            // A closed stdout (e.g. a pipe to `head`) must not end the measurement.
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// One line for a finished level: `C=4` (or `r=2.5/s` in rate mode), counts, throughput and
/// latencies; then `goodput X req/s` when SLOs are set and `late N` in rate mode.
pub fn level_line(engine: &str, s: &LevelSummary, rate: bool) -> String {
    let status = match s.status {
        LevelStatus::Complete => "",
        LevelStatus::Skipped => "  [skipped]",
        LevelStatus::Failed => "  [FAILED]",
    };
    let level = if rate {
        format!("r={}/s", format::level(s.level))
    } else {
        format!("C={}", format::level(s.level))
    };
    let mut extra = String::new();
    if let Some(goodput) = s.request_goodput {
        extra.push_str(&format!(" | goodput {goodput:.2} req/s"));
    }
    if rate {
        let late = s.schedule.as_ref().map_or(0, |sc| sc.late_starts);
        extra.push_str(&format!(" | late {late}"));
    }
    format!(
        "{engine:<20} {level:<6} {:>4} ok {:>3} err ({:>4.1}%) in {:>6.2} s | {:>7.2} req/s {:>8.1} tok/s | TTFT p50 {:>8} p99 {:>8} ms | E2E p50 {:>8} p99 {:>8} ms{extra}{status}",
        s.completed,
        s.failed,
        s.error_rate * 100.0,
        s.duration,
        s.request_throughput,
        s.output_throughput,
        opt(s.median_ttft_ms),
        opt(s.p99_ttft_ms),
        opt(s.median_e2el_ms),
        opt(s.p99_e2el_ms),
    )
}

/// A latency to one decimal, or `—` when the level has none.
fn opt(ms: Option<f64>) -> String {
    ms.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"))
}
