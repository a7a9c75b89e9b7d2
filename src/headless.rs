//! The headless front end: one line per finished level (and trial), then a final table with
//! the intervals, the verdicts and the knees. Consumes the same events as the dashboard and
//! measures nothing; what it prints comes from pure functions of the events' payloads.

use std::fmt::Write as _;
use std::io::Write;

use tokio::sync::mpsc;

use crate::events::Event;
use crate::report::markdown::{
    client_mark, knee_line, method_notes, ordered_verdicts, verdict_line,
};
use crate::report::{per_level_text, Swept};
use crate::results::confidence::{Interval, IntervalMethod};
use crate::results::host::ClientState;
use crate::results::model::{LevelStatus, LevelSummary, Report};
use crate::tui::{format, summary_table};

/// Prints events until the bus closes.
pub async fn run(mut events: mpsc::Receiver<Event>, mut out: impl Write) {
    let mut names: Vec<String> = Vec::new();
    let mut swept = Swept::Concurrency;
    let mut trials = 1;
    while let Some(event) = events.recv().await {
        let name = |engine: usize| names.get(engine).map(String::as_str).unwrap_or("?");
        let line = match event {
            Event::RunStarted { report } => {
                trials = report.workload.trials.unwrap_or(1);
                let line = started_line(&report);
                names = report.engines.iter().map(|e| e.name.clone()).collect();
                swept = Swept::of(&report);
                Some(line)
            }
            Event::LevelStarted {
                engine,
                level,
                search: Some(search),
                ..
            } => Some(search_line(name(engine), level, swept, &search)),
            Event::LevelFinished {
                engine, summary, ..
            } => Some(finished_lines(name(engine), &summary, swept, trials)),
            Event::Warning { engine, text } => Some(match engine.and_then(|e| names.get(e)) {
                Some(name) => format!("warning: {name}: {text}"),
                None => format!("warning: {text}"),
            }),
            Event::RunFinished { report, out_dir } => Some(format!(
                "\n{}\nresults: {}",
                final_text(&report),
                out_dir.display()
            )),
            Event::Exported { result } => Some(exported_text(&result)),
            Event::LevelStarted { search: None, .. }
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

/// The first line: run name, engines × levels, requests per level, trials, simulated.
/// `exported chart.png, levels.csv, summary.md to results/run-…` or why not: the line for a
/// `Control::Export`'s result (the dashboard's status line shows the same).
pub fn exported_text(result: &Result<Vec<std::path::PathBuf>, String>) -> String {
    match result {
        Ok(paths) => {
            let names: Vec<String> = paths
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            let dir = paths
                .first()
                .and_then(|p| p.parent())
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            format!("exported {} to {dir}", names.join(", "))
        }
        Err(e) => format!("export failed: {e}"),
    }
}

pub fn started_line(report: &Report) -> String {
    let trials = match report.workload.trials {
        Some(k) if k > 1 => format!(", {k} trials each"),
        _ => String::new(),
    };
    let shard = match &report.shard {
        Some(s) => format!(
            "\nshard {}/{}: first level's slot at {}, one every {:.1} s; {}",
            s.index,
            s.count,
            s.start_at,
            s.slot_s,
            s.clock.describe()
        ),
        None => String::new(),
    };
    format!(
        "llmsweep: run {} — {} engine(s) × {} {:?}, {}{trials}{}{shard}",
        report.run_name,
        report.engines.len(),
        match Swept::of(report) {
            Swept::TraceSpeed => "trace speeds (×)",
            Swept::Rate => "rates (req/s)",
            Swept::Concurrency => "levels",
        },
        report.workload.levels,
        per_level_text(report),
        if report.simulated {
            " (SIMULATED engines)"
        } else {
            ""
        }
    )
}

/// `levels = "auto"`: a level starting, with the engine's search state:
/// `vLLM                 C=128  search: doubling: 64 → 128`.
pub fn search_line(engine: &str, level: f64, swept: Swept, search: &str) -> String {
    format!("{engine:<20} {:<6} search: {search}", swept.label(level))
}

/// What a `LevelFinished` prints. With one trial a level, [`level_line`]. With `trials` = K
/// > 1 the line of the trial that just ended (the last in `summary.trials`) tagged `trial
/// t/K`; after the K-th, a second line with the means over the trials and their intervals.
pub fn finished_lines(engine: &str, summary: &LevelSummary, swept: Swept, trials: u32) -> String {
    if trials <= 1 {
        return level_line(engine, summary, swept);
    }
    let t = summary.trials.len().max(1);
    let trial = summary.trials.last().unwrap_or(summary);
    let mut text = line(engine, trial, swept, Some(format!("trial {t}/{trials}")));
    if t >= trials as usize {
        if let Some(means) = mean_line(engine, summary, swept) {
            text.push('\n');
            text.push_str(&means);
        }
    }
    text
}

/// The means over a level's trials with their 95 % half-widths:
/// `vLLM  C=8  mean of 3 trials: 1234 ± 56 tok/s | TTFT p50 41.2 ± 3.1 ms | E2E p50 … ms`,
/// then `⚠ CV > 10 %: …` when noisy. `None` when the level has no intervals.
pub fn mean_line(engine: &str, s: &LevelSummary, swept: Swept) -> Option<String> {
    let i = s.intervals.as_ref()?;
    let over = match i.method {
        IntervalMethod::Trials => format!("mean of {} trials", i.n),
        IntervalMethod::BatchMeans => format!("mean of {} batches", i.n),
    };
    let mut text = format!(
        "{engine:<20} {:<6} {over}: {} tok/s | TTFT p50 {} ms | E2E p50 {} ms",
        swept.label(s.level),
        pm(
            Some(s.plotted_output_throughput()),
            i.output_throughput.as_ref()
        ),
        pm(s.median_ttft_ms, i.median_ttft_ms.as_ref()),
        pm(s.median_e2el_ms, i.median_e2el_ms.as_ref()),
    );
    if !i.noisy.is_empty() {
        let _ = write!(text, "  ⚠ CV > 10 %: {}", i.noisy.join(", "));
    }
    Some(text)
}

/// `2 levels marked host busy: …`, when some level's client was starved by a busy machine.
fn host_busy_line(report: &Report) -> Option<String> {
    let starved = report
        .engines
        .iter()
        .flat_map(|e| &e.levels)
        .filter(|l| l.client_state == ClientState::Starved)
        .count();
    let what = match starved {
        0 => return None,
        1 => "1 level".to_string(),
        n => format!("{n} levels"),
    };
    Some(format!(
        "{what} marked host busy: the client ran late while other processes kept the machine \
         busy, so those numbers are partly the box's (summary.md, Host)"
    ))
}

/// What `RunFinished` prints before the results folder: the finished-levels table (and how
/// many levels were marked host busy); with
/// intervals, a table of `mean ± half-width`; the verdicts (as `summary.md` words them);
/// each engine's knee. Ends with a newline.
pub fn final_text(report: &Report) -> String {
    let mut out = summary_table(report);
    if let Some(line) = host_busy_line(report) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(table) = interval_table(report) {
        out.push('\n');
        out.push_str(&table);
    }
    let verdicts = ordered_verdicts(report);
    if !verdicts.is_empty() {
        out.push_str("\nverdicts (best engine first):\n");
        for note in method_notes(report) {
            let _ = writeln!(out, "  · {note}");
        }
        for v in verdicts {
            let _ = writeln!(out, "  {}", verdict_line(report, v));
        }
    }
    let knees: Vec<String> = report
        .engines
        .iter()
        .filter_map(|e| knee_line(report, e))
        .collect();
    if !knees.is_empty() {
        out.push_str("\nknee (levels = auto):\n");
        for knee in knees {
            let _ = writeln!(out, "  {knee}");
        }
    }
    out
}

/// Per engine and level with intervals, by level: tok/s, TTFT p50 and E2E p50 as `mean ±
/// half-width`, the interval's basis, ⚠ for noisy levels. `None` when no level has one.
pub fn interval_table(report: &Report) -> Option<String> {
    let rows: Vec<[String; 6]> = report
        .engines
        .iter()
        .flat_map(|e| {
            e.levels_by_value().into_iter().filter_map(move |l| {
                let i = l.intervals.as_ref()?;
                let basis = match i.method {
                    IntervalMethod::Trials => format!("{} trials", i.n),
                    IntervalMethod::BatchMeans => format!("{} batches", i.n),
                };
                let noisy = if i.noisy.is_empty() {
                    String::new()
                } else {
                    format!("  ⚠ CV > 10 %: {}", i.noisy.join(", "))
                };
                Some([
                    e.name.clone(),
                    format::level(l.level),
                    pm(
                        Some(l.plotted_output_throughput()),
                        i.output_throughput.as_ref(),
                    ),
                    pm(l.median_ttft_ms, i.median_ttft_ms.as_ref()),
                    pm(l.median_e2el_ms, i.median_e2el_ms.as_ref()),
                    format!("{basis}{noisy}"),
                ])
            })
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let level_header = Swept::of(report).column();
    let head = [
        "Engine".to_string(),
        level_header.to_string(),
        "tok/s".to_string(),
        "TTFT p50 ms".to_string(),
        "E2E p50 ms".to_string(),
        "over".to_string(),
    ];
    let width = |c: usize| {
        rows.iter()
            .chain(std::iter::once(&head))
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..5).map(width).collect();
    let mut out = String::from("mean ± half-width of the 95 % interval:\n");
    for r in std::iter::once(&head).chain(&rows) {
        let _ = writeln!(
            out,
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
        );
    }
    Some(out)
}

/// `1234.5 ± 56.2` (one decimal), the value alone without an interval, `—` without a value.
fn pm(value: Option<f64>, interval: Option<&Interval>) -> String {
    match (value, interval) {
        (None, _) => format::NO_VALUE.to_string(),
        (Some(v), Some(i)) => format!("{v:.1} ± {:.1}", i.half_width()),
        (Some(v), None) => format!("{v:.1}"),
    }
}

/// One line for a finished level: `C=4` (or `r=2.5/s` in rate mode), counts, throughput and
/// latencies; then `goodput X req/s` when SLOs are set and `late N` in rate mode; `[skipped]`
/// or `[FAILED]`; `[host busy]`, `[client busy]` or `[client late]` when the client's timings
/// are suspect.
pub fn level_line(engine: &str, s: &LevelSummary, swept: Swept) -> String {
    line(engine, s, swept, None)
}

/// [`level_line`], with `tag` (e.g. `trial 2/3`) after the level.
fn line(engine: &str, s: &LevelSummary, swept: Swept, tag: Option<String>) -> String {
    let status = match s.status {
        LevelStatus::Complete => "",
        LevelStatus::Skipped => "  [skipped]",
        LevelStatus::Failed => "  [FAILED]",
    };
    let client = client_mark(s.client_state).map_or_else(String::new, |m| format!("  [{m}]"));
    let mut level = swept.label(s.level);
    if let Some(tag) = tag {
        let _ = write!(level, " ({tag})");
    }
    let mut extra = String::new();
    if let Some(goodput) = s.request_goodput {
        extra.push_str(&format!(" | goodput {goodput:.2} req/s"));
    }
    if swept.open_loop() {
        let late = s.schedule.as_ref().map_or(0, |sc| sc.late_starts);
        extra.push_str(&format!(" | late {late}"));
    }
    if s.reasoning.any() {
        let r = &s.reasoning;
        extra.push_str(&format!(
            " | TTFA p50 {} p99 {} ms | reasoning {}",
            opt(r.median_ttfa_ms),
            opt(r.p99_ttfa_ms),
            r.reasoning_share
                .map_or_else(|| "—".to_string(), |v| format!("{:.0}%", v * 100.0)),
        ));
    }
    format!(
        "{engine:<20} {level:<6} {:>4} ok {:>3} err ({:>4.1}%) in {:>6.2} s | {:>7.2} req/s {:>8.1} tok/s | TTFT p50 {:>8} p99 {:>8} ms | E2E p50 {:>8} p99 {:>8} ms{extra}{status}{client}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::reasoning::ReasoningStats;

    #[test]
    fn a_level_with_reasoning_shows_its_ttfa_and_share() {
        let plain = LevelSummary {
            level: 1.0,
            median_ttft_ms: Some(60.0),
            ..LevelSummary::default()
        };
        assert!(!level_line("e", &plain, Swept::Concurrency).contains("TTFA"));
        let thinking = LevelSummary {
            reasoning: ReasoningStats {
                median_ttfa_ms: Some(110.0),
                p99_ttfa_ms: Some(131.0),
                reasoning_requests: 2,
                reasoning_share: Some(0.625),
                ..ReasoningStats::default()
            },
            ..plain
        };
        let line = level_line("e", &thinking, Swept::Concurrency);
        assert!(
            line.ends_with(" | TTFA p50 110.0 p99 131.0 ms | reasoning 62%"),
            "{line}"
        );
    }
}
