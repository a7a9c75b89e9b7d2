//! `## Host`: what the machine llmsweep ran on did during each level — its busy cores, the
//! client's, the engine under test's, the rest and steal, the busiest other process, the
//! client's state — and the idle engines that used CPU while another engine was measured.
//! Also the readings of a [`HostReport`] the dashboard and `levels.csv` share.

use std::fmt::Write as _;

use super::table::level_header;
use super::text::{cell, code, inline};
use super::verdict::level_label;
use crate::report::fmt_level;
use crate::results::host::{HostProcess, HostReport};
use crate::results::model::Report;

/// The busiest process that is not the engine under test's (llmsweep is never among them).
fn top_other_process(host: &HostReport) -> Option<&HostProcess> {
    let tested = host.engine_under_test().map(|e| e.engine.as_str());
    host.top
        .iter()
        .find(|p| tested.is_none() || p.engine.as_deref() != tested)
}

/// Left out when no level has a host report. Rows per engine, levels by value; then a line per
/// idle engine that used more than [`IDLE_ENGINE_CORES`](crate::results::host::IDLE_ENGINE_CORES) cores during a level.
pub(super) fn host(md: &mut String, report: &Report) {
    let sampled = report
        .engines
        .iter()
        .flat_map(|e| &e.levels)
        .any(|l| l.host.is_some());
    if !sampled {
        return;
    }
    md.push_str("## Host\n\n");
    md.push_str(
        "What the machine llmsweep ran on did during each level, from `/proc` at the level's \
         start, its end and about every second between, in cores (1.00 = one core busy all \
         level): busy of all the machine has (every process and the kernel), the client's \
         (llmsweep), the engine under test's processes (when it listens on this host), the rest \
         and the hypervisor's steal; the busiest process that is not the engine under test's. \
         Client state: fine; busy (llmsweep may have been the limit); starved (its event loop \
         ran late while the machine was busy: the level is marked *host busy*); late (its loop \
         ran late for a reason it cannot see).\n\n",
    );
    let _ = writeln!(
        md,
        "| Engine | {} | Machine busy | Client | Engine under test | Other | Steal | Top other \
         process | Client state |\n|---|---:|---:|---:|---:|---:|---:|---|---|",
        level_header(report)
    );
    let mut idle_lines = Vec::new();
    for e in &report.engines {
        for l in e.levels_by_value() {
            let Some(h) = &l.host else { continue };
            let _ = writeln!(
                md,
                "| {} | {} | {} of {} | {} | {} | {} | {} | {} | {} |",
                cell(&e.name),
                fmt_level(l.level),
                cores(h.busy_cores),
                h.cores,
                cores(h.client_cores),
                engine_text(h),
                cores(h.other_cores),
                cores(h.steal_cores),
                top_text(h),
                l.client_state.as_str(),
            );
            for idle in h.busy_idle_engines() {
                idle_lines.push(format!(
                    "- {} (idle) used {} cores while {} {} ran.",
                    inline(&idle.engine),
                    cores(idle.cores.unwrap_or_default()),
                    inline(&e.name),
                    level_label(report, l.level),
                ));
            }
        }
    }
    md.push('\n');
    if !idle_lines.is_empty() {
        for line in idle_lines {
            md.push_str(&line);
            md.push('\n');
        }
        md.push('\n');
    }
}

/// The engine under test's cores, or where it was looked for (`remote: not sampled`).
fn engine_text(h: &HostReport) -> String {
    match (h.engine_under_test(), h.engine_under_test_cores()) {
        (_, Some(used)) => cores(used),
        (Some(e), None) => e.location.as_str().to_string(),
        (None, None) => "—".to_string(),
    }
}

/// `` `yes` (4242) 0.98 ``, `` `python3` (17, SGLang) 0.40 `` for an idle engine's; `—`.
fn top_text(h: &HostReport) -> String {
    let Some(p) = top_other_process(h) else {
        return "—".to_string();
    };
    let owner = p
        .engine
        .as_deref()
        .map_or_else(String::new, |e| format!(", {}", cell(e)));
    format!("{} ({}{owner}) {}", code(&p.command), p.pid, cores(p.cores))
}

/// Cores to two decimals (`1.70`); `n/a` when not a number.
fn cores(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "n/a".to_string()
    }
}
