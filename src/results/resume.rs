//! `run --resume DIR`: whether a saved run can be continued with this config (the same
//! fingerprint), which of its levels are kept, and which of its `requests.jsonl` lines stay.
//! Pure functions of the saved `Report`; the driver and the writer act on the answers.
//!
//! Complete and failed levels are kept as they are. A `skipped` level (cut by a key, a quit
//! or a signal) runs again, but its partial results stay — in the report and in
//! `requests.jsonl` — until the re-run has finished, so quitting a resumed run early loses
//! nothing: [`Continuation::pending`] lists them, and the writer drops their old lines with
//! `ResultsWriter::drop_level_lines` once their re-run has finished.

use super::fingerprint;
use super::model::{LevelStatus, LevelSummary, Report, Workload};

/// Why the saved run cannot be continued with a plan of `workload`: its first fingerprint
/// key that differs, as `<key> differs (saved …, config …)`; `None` when it can. A saved run
/// without a fingerprint (an older llmsweep) cannot be checked, so it is refused.
pub fn incompatibility(saved: &Report, workload: &Workload) -> Option<String> {
    if saved.workload.auto.is_some() || workload.auto.is_some() {
        return Some(
            "`run --resume` does not continue a levels = \"auto\" run (its search would start over); start a new run"
                .into(),
        );
    }
    if saved.workload.fingerprint.is_empty() {
        return Some(
            "results.json has no config fingerprint (written by an older llmsweep), so the config cannot be checked against it; start a new run"
                .into(),
        );
    }
    fingerprint::difference(&saved.workload.fingerprint, &workload.fingerprint)
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

/// What a resumed run keeps of the saved one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Continuation {
    /// Per engine, the level index of each entry of the report's `levels`, in order: every
    /// saved level kept, pending ones included.
    pub levels: Vec<Vec<usize>>,
    /// Per engine, the kept levels that run again (saved `skipped`), in order. Each stays in
    /// the report, and its lines in `requests.jsonl`, until its re-run replaces it.
    pub pending: Vec<Vec<usize>>,
}

impl Continuation {
    /// True when `(engine, level_index)` is kept as saved and does not run again.
    pub fn is_done(&self, engine: usize, level_index: usize) -> bool {
        let has =
            |lists: &[Vec<usize>]| lists.get(engine).is_some_and(|l| l.contains(&level_index));
        has(&self.levels) && !has(&self.pending)
    }

    /// Whether a line of the saved `requests.jsonl` stays: it belongs to a kept level, pending
    /// ones included. `engines` are the engine names and `levels` the sweep's levels.
    pub fn keeps_line(&self, line: &str, engines: &[&str], levels: &[f64]) -> bool {
        keep_line(line, engines, levels, &self.levels)
    }
}

/// Makes `report`, freshly built for this run, the continuation of `saved`: its run name,
/// start time, warnings and kept levels (complete, failed, and skipped ones pending a
/// re-run), plus `now` in `resumed_at`. An engine keeps its `skipped_reason` only when none
/// of its levels runs again.
pub fn continue_run(report: &mut Report, saved: Report, now: String) -> Continuation {
    let indexed = indexed_levels(&saved, &report.workload.levels);
    let planned = report.workload.levels.len();
    report.run_name = saved.run_name;
    report.started_at = saved.started_at;
    report.resumed_at = saved.resumed_at;
    report.resumed_at.push(now);
    report.warnings = saved.warnings;
    let mut continuation = Continuation::default();
    for ((engine, saved), kept) in report.engines.iter_mut().zip(saved.engines).zip(indexed) {
        // With trials, a level short of its trials runs again in full, like a cut one.
        let trials = report.workload.trials.unwrap_or(1) as usize;
        let pending: Vec<usize> = kept
            .iter()
            .filter(|(_, s)| {
                s.status == LevelStatus::Skipped || (trials > 1 && s.trials.len() < trials)
            })
            .map(|&(i, _)| i)
            .collect();
        if kept.len() == planned && pending.is_empty() {
            engine.skipped_reason = saved.skipped_reason;
        }
        continuation
            .levels
            .push(kept.iter().map(|&(i, _)| i).collect());
        continuation.pending.push(pending);
        engine.levels = kept.into_iter().map(|(_, s)| s).collect();
        engine.max_level_meeting_slo = engine
            .levels
            .iter()
            .filter(|l| l.meets_slo == Some(true) && l.status == LevelStatus::Complete)
            .map(|l| l.level)
            .reduce(f64::max);
    }
    continuation
}

/// The engine name and level index of a `requests.jsonl` line. Lines written before
/// `level_index` existed are matched by level value when the value names a single level.
pub fn line_level(line: &str, levels: &[f64]) -> Option<(String, usize)> {
    let value = serde_json::from_str::<serde_json::Value>(line).ok()?;
    let engine = value.get("engine")?.as_str()?.to_string();
    let level_index = match value.get("level_index").and_then(|i| i.as_u64()) {
        Some(i) => i as usize,
        None => {
            let level = value.get("level")?.as_f64()?;
            let mut same = levels.iter().enumerate().filter(|&(_, &l)| l == level);
            match (same.next(), same.next()) {
                (Some((i, _)), None) => i,
                _ => return None,
            }
        }
    };
    Some((engine, level_index))
}

/// Whether a line of the saved `requests.jsonl` belongs to one of the `kept` levels (per
/// engine, level indexes).
pub fn keep_line(line: &str, engines: &[&str], levels: &[f64], kept: &[Vec<usize>]) -> bool {
    let Some((engine, level_index)) = line_level(line, levels) else {
        return false;
    };
    engines
        .iter()
        .position(|&n| n == engine)
        .and_then(|e| kept.get(e))
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

    /// The new run's report for resuming `saved`: its workload, engine "a", no levels yet.
    fn fresh(saved: &Report) -> Report {
        Report {
            workload: saved.workload.clone(),
            engines: vec![EngineReport {
                name: "a".into(),
                ..Default::default()
            }],
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
    fn a_level_short_of_its_trials_runs_again_and_auto_runs_are_refused() {
        let with_trials = |n: u32| LevelSummary {
            trials: (1..=n)
                .map(|t| LevelSummary {
                    trial: Some(t),
                    ..level(1.0, LevelStatus::Complete)
                })
                .collect(),
            ..level(1.0, LevelStatus::Complete)
        };
        let mut saved = saved(vec![with_trials(3), with_trials(2)]);
        saved.workload.trials = Some(3);
        let mut report = fresh(&saved);
        let continuation = continue_run(&mut report, saved.clone(), "now".into());
        assert_eq!(continuation.levels, [vec![0, 1]]);
        assert_eq!(continuation.pending, [vec![1]], "2 of 3 trials: runs again");
        assert!(continuation.is_done(0, 0));
        // levels = "auto": refused, whichever side has it.
        let mut auto = saved.workload.clone();
        auto.auto = Some(serde_json::json!({}));
        let refusal = incompatibility(&saved, &auto).unwrap();
        assert!(refusal.contains("levels = \"auto\""), "{refusal}");
        saved.workload.auto = Some(serde_json::json!({}));
        assert!(incompatibility(&saved, &saved.workload.clone()).is_some());
    }

    #[test]
    fn saved_levels_with_gaps_keep_their_positions_in_the_sweep() {
        // Levels 1, 2, 4, 8; the saved run measured 1, 4 and 8 (2 was never run).
        let mut saved = saved(vec![
            level(1.0, LevelStatus::Complete),
            level(4.0, LevelStatus::Complete),
            level(8.0, LevelStatus::Skipped),
        ]);
        saved.workload.levels = vec![1.0, 2.0, 4.0, 8.0];
        let mut report = fresh(&saved);
        let continuation = continue_run(&mut report, saved, "now".into());
        assert_eq!(continuation.levels, [vec![0, 2, 3]]);
        assert_eq!(continuation.pending, [vec![3]]);
        assert!(!continuation.is_done(0, 1), "level 2 still has to run");
    }

    #[test]
    fn keeps_every_saved_level_with_skipped_ones_pending_a_rerun() {
        let saved = saved(vec![
            level(1.0, LevelStatus::Complete),
            level(1.0, LevelStatus::Failed),
            level(2.0, LevelStatus::Skipped),
        ]);
        let mut report = fresh(&saved);
        let continuation = continue_run(&mut report, saved.clone(), "now".into());
        assert_eq!(continuation.levels, [vec![0, 1, 2]]);
        assert_eq!(continuation.pending, [vec![2]]);
        assert_eq!(report.engines[0].levels, saved.engines[0].levels);
        assert_eq!(report.resumed_at, ["now"]);
        assert!(continuation.is_done(0, 0) && continuation.is_done(0, 1));
        assert!(!continuation.is_done(0, 2), "a skipped level runs again");
        assert!(!continuation.is_done(1, 0), "no such engine");
        let line = |i: usize| format!(r#"{{"engine":"a","level":2,"level_index":{i}}}"#);
        let levels = &saved.workload.levels;
        assert!(
            continuation.keeps_line(&line(2), &["a"], levels),
            "the skipped level's requests stay until its re-run"
        );
    }

    #[test]
    fn lines_are_matched_to_levels_by_index_or_an_unambiguous_value() {
        let engines = ["a"];
        let levels = [1.0, 1.0, 2.0];
        let kept = [vec![0, 1]];
        let line = |l: f64, i: usize| format!(r#"{{"engine":"a","level":{l},"level_index":{i}}}"#);
        assert!(keep_line(&line(1.0, 1), &engines, &levels, &kept));
        assert!(!keep_line(&line(2.0, 2), &engines, &levels, &kept));
        assert!(!keep_line(
            r#"{"engine":"b","level_index":0}"#,
            &engines,
            &levels,
            &kept
        ));
        // Old lines without level_index: only an unambiguous value matches.
        assert_eq!(
            line_level(r#"{"engine":"a","level":2}"#, &levels),
            Some(("a".into(), 2))
        );
        assert_eq!(line_level(r#"{"engine":"a","level":1}"#, &levels), None);
        assert_eq!(line_level("not json", &levels), None);
    }

    #[test]
    fn refuses_a_saved_run_without_a_fingerprint_and_names_the_first_difference() {
        let mut report = saved(Vec::new());
        let workload = Workload {
            fingerprint: [("a.x", "1"), ("b.y", "2")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            ..report.workload.clone()
        };
        assert_eq!(
            incompatibility(&report, &workload).as_deref(),
            Some("results.json has no config fingerprint (written by an older llmsweep), so the config cannot be checked against it; start a new run")
        );
        report.workload.fingerprint = workload.fingerprint.clone();
        assert_eq!(incompatibility(&report, &workload), None);
        report.workload.fingerprint.insert("b.y".into(), "3".into());
        assert_eq!(
            incompatibility(&report, &workload).as_deref(),
            Some("b.y differs (saved 3, config 2)")
        );
        report.workload.fingerprint.remove("a.x");
        assert_eq!(
            incompatibility(&report, &workload).as_deref(),
            Some("a.x differs (saved: not recorded, config 1)")
        );
    }
}
