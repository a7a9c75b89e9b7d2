//! Comparing saved runs: several reports merged into one, so every exporter can draw them
//! together (e.g. last week's vLLM against today's).

use crate::color::{Rgb, PALETTE};
use crate::results::model::{Report, RunStatus, Workload, SCHEMA_VERSION};

/// Merges `reports` into one report holding every engine of every run.
///
/// - One report: returned as is.
/// - Several: each engine is renamed `<engine> (<run_name>)` (with ` #2`, ` #3`... if that is
///   still not unique, e.g. the same run given twice); an engine whose colour is already taken
///   by an earlier one gets the first unused colour of [`PALETTE`]; metadata (run name, times,
///   status, seed, workload, config) is the first report's; `simulated` is true if any run was.
/// - None: an empty report (no engines).
pub fn merge_runs(reports: &[Report]) -> Report {
    let Some(first) = reports.first() else {
        return empty_report();
    };
    if reports.len() == 1 {
        return first.clone();
    }
    let mut merged = first.clone();
    merged.engines.clear();
    merged.simulated = reports.iter().any(|r| r.simulated);

    let mut used_colours: Vec<Rgb> = Vec::new();
    for report in reports {
        for engine in &report.engines {
            let mut engine = engine.clone();
            engine.name = unique_name(&merged, &format!("{} ({})", engine.name, report.run_name));
            let colour = Rgb::parse(&engine.color);
            let colour = match colour {
                Some(c) if !used_colours.contains(&c) => c,
                _ => {
                    let free = PALETTE.iter().find(|c| !used_colours.contains(c));
                    *free.unwrap_or(&PALETTE[merged.engines.len() % PALETTE.len()])
                }
            };
            used_colours.push(colour);
            engine.color = colour.to_hex();
            merged.engines.push(engine);
        }
    }
    merged
}

/// `name`, or `name #2`, `name #3`... whichever no engine of `report` has yet.
fn unique_name(report: &Report, name: &str) -> String {
    let taken = |candidate: &str| report.engines.iter().any(|e| e.name == candidate);
    if !taken(name) {
        return name.to_string();
    }
    (2..)
        .map(|n| format!("{name} #{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| name.to_string())
}

fn empty_report() -> Report {
    Report {
        shard: None,
        merged: None,
        schema_version: SCHEMA_VERSION,
        tool: String::new(),
        run_name: String::new(),
        started_at: String::new(),
        resumed_at: Vec::new(),
        finished_at: None,
        status: RunStatus::Complete,
        simulated: false,
        seed: 0,
        workload: Workload {
            mode: "concurrency".to_string(),
            ..Workload::default()
        },
        engines: Vec::new(),
        config: serde_json::Value::Null,
        verdicts: Vec::new(),
        warnings: Vec::new(),
    }
}
