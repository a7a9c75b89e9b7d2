//! `summary.md`: the run at a glance, for a PR comment or a README.
//!
//! Run metadata, the verdict (with trials or batch intervals), the knees (`levels = "auto"`),
//! the engines, then one table per key metric with a row per level and a column
//! per engine. The best value of each row is **bold** with a ★ (highest throughput, lowest
//! latency; failed levels never win), and a last column gives how far ahead the best engine is
//! of each other one (`vLLM 1.32× SGLang`). The throughput tables say whether they show the
//! steady-state window's figures or the whole level's (a † marks whole-level cells among
//! steady-state ones); a table of achieved concurrency and steady-state windows follows.
//! Where a level has 95 % intervals, its cells read `mean ± half-width` and a metric that
//! moved more than 10 % across trials is flagged ⚠. A level whose client was starved by a busy
//! machine is marked *(host busy)* (*(client busy)*, *(client late)* likewise), and a `## Host`
//! table follows the server metrics when the machine was sampled.
//!
//! - `metrics`     — the metrics tabulated, one `Metric` a table.
//! - `run`         — the title, the run's facts and the engines table.
//! - `verdict`     — `## Verdict`: which engine is faster per level and metric, and if surely.
//! - `knee`        — `## Knee (levels = auto)`: each engine's search result.
//! - `table`       — one metric's table, its best values and the "best vs others" column.
//! - `intervals`   — the tables' `± half-width`, the noisy marker and the note on both.
//! - `reasoning`   — `## Reasoning` (TTFA beside TTFT) and `## Prefix cache`, each only when
//!   some level has something for it.
//! - `conversations` — `## Conversations`: per level, conversations completed, failed and
//!   cut, and each turn's TTFT and cache hits; only for runs with conversations.
//! - `concurrency` — the achieved concurrency and steady-state windows.
//! - `server`      — the engines' own metrics per level (and the GPUs').
//! - `host`        — `## Host`: the machine's CPU per level, and the readings of a host report
//!   the dashboard and `levels.csv` share.
//! - `client_marks` — the marks of levels whose client was busy, starved or late.
//! - `lists`       — the SLO lines, the warnings and the errors.
//! - `text`        — number formats and Markdown escaping.
//! - this file     — [`summary_md`], putting the sections in order.

mod client_marks;
mod concurrency;
mod conversations;
mod host;
mod intervals;
mod knee;
mod lists;
mod metrics;
mod reasoning;
mod run;
mod server;
mod table;
mod text;
mod verdict;

use super::{has_slo, is_rate};
use crate::results::model::Report;
use client_marks::client_mark_note;
use concurrency::concurrency;
use conversations::conversations;
use host::host;
use intervals::interval_note;
use knee::knees;
use lists::{errors, slo_lines, warnings};
use metrics::{GOODPUT, LATE_STARTS, METRICS, SCHEDULED_E2E_P99};
use reasoning::{prefix_cache, reasoning};
use run::{engines, header};
use server::server;
use table::{all_levels, table};
use verdict::verdicts;

pub use client_marks::{client_mark, client_mark_short};
pub use knee::{bisected_text, knee_line, knee_text, stop_reason_text};
pub use verdict::{level_label, method_notes, ordered_verdicts, verdict_line, verdict_rest};

/// Renders `summary.md`. Deterministic: the same report always gives the same bytes.
pub fn summary_md(report: &Report) -> Vec<u8> {
    let mut md = String::new();
    header(&mut md, report);
    verdicts(&mut md, report);
    knees(&mut md, report);
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
             requests failed, the numbers describe failures, not speed.",
        );
        md.push_str(&client_mark_note(report));
        md.push_str("\n\n");
        interval_note(&mut md, report);
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
        reasoning(&mut md, report);
        prefix_cache(&mut md, report);
        conversations(&mut md, report);
        concurrency(&mut md, report);
        server(&mut md, report);
        host(&mut md, report);
    }
    errors(&mut md, report);
    md.into_bytes()
}
