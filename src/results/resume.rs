//! `run --resume DIR`: what a saved run must share with the config to be continued, and
//! which of its levels are kept (complete or failed) rather than run again.
//! Pure functions of the saved `Report`; the driver and the writer act on the answers.

use super::model::{LevelStatus, LevelSummary, Report, Workload};

/// Why the saved run cannot be continued with this config, as `<what> differs (saved …,
/// config …)`; `None` when it can. `engines` are the config's engine names, in order.
pub fn incompatibility(
    saved: &Report,
    engines: &[&str],
    workload: &Workload,
    seed: u64,
) -> Option<String> {
    let saved_engines: Vec<&str> = saved.engines.iter().map(|e| e.name.as_str()).collect();
    if saved_engines != engines {
        return Some(format!(
            "engines differ (saved {}, config {})",
            list(&saved_engines),
            list(engines)
        ));
    }
    if saved.workload.levels != workload.levels {
        let show = |levels: &[f64]| list(&levels.iter().map(|l| l.to_string()).collect::<Vec<_>>());
        return Some(format!(
            "levels differ (saved {}, config {})",
            show(&saved.workload.levels),
            show(&workload.levels)
        ));
    }
    if saved.seed != seed {
        return Some(format!(
            "seed differs (saved {}, config {seed})",
            saved.seed
        ));
    }
    if saved.workload.mode != workload.mode {
        return Some(format!(
            "mode differs (saved {}, config {})",
            saved.workload.mode, workload.mode
        ));
    }
    if saved.workload.requests_per_level != workload.requests_per_level {
        return Some(format!(
            "requests_per_level differs (saved {}, config {})",
            saved.workload.requests_per_level, workload.requests_per_level
        ));
    }
    None
}

fn list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", items.join(", "))
}

/// Per engine of `saved`, its saved levels with their position in `levels`.
///
/// `results.json` lists an engine's levels in the order they ran, which is the order of the
/// sweep's levels (both run orders keep it per engine), so each saved level is matched to
/// the next level index with its value.
pub fn indexed_levels(saved: &Report, levels: &[f64]) -> Vec<Vec<(usize, LevelSummary)>> {
    saved
        .engines
        .iter()
        .map(|engine| {
            let mut next = 0;
            let mut out = Vec::new();
            for summary in &engine.levels {
                let Some(offset) = levels[next.min(levels.len())..]
                    .iter()
                    .position(|&l| l == summary.level)
                else {
                    continue;
                };
                out.push((next + offset, summary.clone()));
                next += offset + 1;
            }
            out
        })
        .collect()
}

/// Per engine, the saved levels kept as they are (complete or failed), with their level
/// index, in level order. Missing and `skipped` levels are not kept: they run again in full.
pub fn kept_levels(saved: &Report, levels: &[f64]) -> Vec<Vec<(usize, LevelSummary)>> {
    indexed_levels(saved, levels)
        .into_iter()
        .map(|engine| {
            engine
                .into_iter()
                .filter(|(_, s)| matches!(s.status, LevelStatus::Complete | LevelStatus::Failed))
                .collect()
        })
        .collect()
}

/// Makes `report`, freshly built for this run, the continuation of `saved`: its run name,
/// start time, warnings and kept levels, plus `now` in `resumed_at`. An engine keeps its
/// `skipped_reason` only when none of its levels runs again. Returns, per engine, the level
/// indexes of its kept levels (the order of `report.engines[e].levels`).
pub fn continue_report(report: &mut Report, saved: Report, now: String) -> Vec<Vec<usize>> {
    let levels = report.workload.levels.clone();
    let kept = kept_levels(&saved, &levels);
    report.run_name = saved.run_name;
    report.started_at = saved.started_at;
    report.resumed_at = saved.resumed_at;
    report.resumed_at.push(now);
    report.warnings = saved.warnings;
    let mut indexes = Vec::new();
    for ((engine, saved), kept) in report.engines.iter_mut().zip(saved.engines).zip(kept) {
        if kept.len() == levels.len() {
            engine.skipped_reason = saved.skipped_reason;
        }
        indexes.push(kept.iter().map(|&(i, _)| i).collect());
        engine.levels = kept.into_iter().map(|(_, s)| s).collect();
        engine.max_level_meeting_slo = engine
            .levels
            .iter()
            .filter(|l| l.meets_slo == Some(true) && l.status == LevelStatus::Complete)
            .map(|l| l.level)
            .reduce(f64::max);
    }
    indexes
}

/// Whether a line of the saved `requests.jsonl` belongs to a kept level. Lines written before
/// `level_index` existed are matched by level value when the value names a single level.
pub fn keep_line(line: &str, engines: &[&str], levels: &[f64], kept: &[Vec<usize>]) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return false;
    };
    let Some(engine) = value
        .get("engine")
        .and_then(|e| e.as_str())
        .and_then(|name| engines.iter().position(|&n| n == name))
    else {
        return false;
    };
    let level_index = match value.get("level_index").and_then(|i| i.as_u64()) {
        Some(i) => i as usize,
        None => {
            let Some(level) = value.get("level").and_then(|l| l.as_f64()) else {
                return false;
            };
            let mut same = levels.iter().enumerate().filter(|&(_, &l)| l == level);
            match (same.next(), same.next()) {
                (Some((i, _)), None) => i,
                _ => return false,
            }
        }
    };
    kept.get(engine)
        .is_some_and(|levels| levels.contains(&level_index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::model::EngineReport;

    fn level(value: f64, status: LevelStatus) -> LevelSummary {
        LevelSummary {
            level: value,
            status,
            ..Default::default()
        }
    }

    fn saved(levels: Vec<LevelSummary>) -> Report {
        Report {
            seed: 42,
            workload: Workload {
                mode: "concurrency".into(),
                levels: vec![1.0, 1.0, 2.0],
                requests_per_level: 10,
                ..Default::default()
            },
            engines: vec![EngineReport {
                name: "a".into(),
                levels,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn keeps_complete_and_failed_levels_and_matches_repeated_values_in_order() {
        let report = saved(vec![
            level(1.0, LevelStatus::Complete),
            level(1.0, LevelStatus::Failed),
            level(2.0, LevelStatus::Skipped),
        ]);
        let kept: Vec<Vec<usize>> = kept_levels(&report, &report.workload.levels)
            .into_iter()
            .map(|e| e.into_iter().map(|(i, _)| i).collect())
            .collect();
        assert_eq!(kept, [vec![0, 1]]);
        let engines = ["a"];
        let levels = &report.workload.levels;
        let line = |l: f64, i: usize| format!(r#"{{"engine":"a","level":{l},"level_index":{i}}}"#);
        assert!(keep_line(&line(1.0, 1), &engines, levels, &kept));
        assert!(!keep_line(&line(2.0, 2), &engines, levels, &kept));
        assert!(!keep_line(
            r#"{"engine":"b","level_index":0}"#,
            &engines,
            levels,
            &kept
        ));
        // Old lines without level_index: only an unambiguous value matches.
        assert!(!keep_line(
            r#"{"engine":"a","level":1}"#,
            &engines,
            levels,
            &kept
        ));
        assert!(!keep_line("not json", &engines, levels, &kept));
    }

    #[test]
    fn names_the_first_difference() {
        let report = saved(Vec::new());
        let workload = report.workload.clone();
        assert_eq!(incompatibility(&report, &["a"], &workload, 42), None);
        assert_eq!(
            incompatibility(&report, &["a"], &workload, 7).as_deref(),
            Some("seed differs (saved 42, config 7)")
        );
        assert_eq!(
            incompatibility(&report, &["a", "b"], &workload, 42).as_deref(),
            Some("engines differ (saved [a], config [a, b])")
        );
        let other = Workload {
            levels: vec![1.0, 2.0],
            ..workload.clone()
        };
        assert_eq!(
            incompatibility(&report, &["a"], &other, 42).as_deref(),
            Some("levels differ (saved [1, 1, 2], config [1, 2])")
        );
        let other = Workload {
            requests_per_level: 5,
            ..workload
        };
        assert_eq!(
            incompatibility(&report, &["a"], &other, 42).as_deref(),
            Some("requests_per_level differs (saved 10, config 5)")
        );
    }
}
