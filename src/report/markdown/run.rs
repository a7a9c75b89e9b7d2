//! The run's metadata: the title, the list of run facts (status, model, times, workload,
//! SLOs, tool) and the engines table.

use std::fmt::Write as _;

use super::text::{cell, code, inline};
use crate::report::{
    display_time, fmt_level, models, per_level_text, shards_text, slo_text, warmup_text,
};
use crate::results::model::{Report, RunStatus};

pub(super) fn header(md: &mut String, report: &Report) {
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
    let shards = shards_text(report)
        .map(|t| format!(" — {t}"))
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "- **Run:** {} — {status}{shards}",
        code(&report.run_name)
    );
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
    let levels = match (&w.auto, levels.is_empty()) {
        (_, true) => "—".to_string(),
        (Some(_), false) => format!("levels = auto (as they ran: {levels})"),
        (None, false) => levels,
    };
    let trials = match w.trials {
        Some(k) if k > 1 => format!(", {k} trials each"),
        _ => String::new(),
    };
    let _ = writeln!(
        md,
        "- **Workload:** {} sweep over {levels}; {}{trials} ({}); max_tokens {}; \
         prompts: {}",
        inline(&w.mode),
        per_level_text(report),
        warmup_text(w),
        w.max_tokens,
        inline(&w.prompt_source)
    );
    if let Some(slo) = slo_text(report) {
        let _ = writeln!(md, "- **SLOs:** {}", inline(&slo));
    }
    let _ = writeln!(md, "- **Tool:** {}\n", inline(&report.tool));
}

pub(super) fn engines(md: &mut String, report: &Report) {
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
