//! `llmsweep merge`: the folders of a sharded run → one run, as if one process had sent every
//! shard's requests. Counts and tokens add up; latency percentiles are recomputed from the
//! union of the shards' per-request lines (exact, as for one run), ITL from their merged
//! `.hlog` histograms (the lines hold each request's mean ITL, not its gaps); throughput is
//! over the union's window: from the earliest shard's start of measuring to the last
//! completion. Without requests.jsonl, every latency comes from the histograms.
//!
//! - `mod`   — reading and checking the shard folders, the run-level merge, writing it.
//! - `level` — one (engine, level, trial) over every shard.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client::ErrorClass;
use crate::config::SloConfig;
use crate::report::ExportOptions;
use crate::results::model::{LevelStatus, LevelSummary, Report, RunStatus};
use crate::results::shard::{MergeInfo, ShardInfo, ShardSlot};
use crate::stats::trials::combine;
use crate::stats::verdict::verdicts;
use level::{merge_level, MergeLevel};

mod level;

/// Why shards cannot be merged, or the merged run cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The folders are not the shards of one run (the message says which and why).
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> MergeError {
    MergeError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// One shard's folder, read.
struct ShardRun {
    dir: PathBuf,
    report: Report,
    info: ShardInfo,
    /// Its requests.jsonl lines (`None`: the file is not there).
    lines: Option<Vec<Line>>,
}

/// The fields of a requests.jsonl line the merge needs, and the line itself.
#[derive(Debug, Clone, Deserialize)]
struct Record {
    engine: String,
    level_index: usize,
    #[serde(default)]
    trial: Option<u32>,
    request_index: u64,
    request_id: String,
    prompt_index: usize,
    sent_at_ms: f64,
    ok: bool,
    #[serde(default)]
    ttft_ms: Option<f64>,
    #[serde(default)]
    e2el_ms: Option<f64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    output_tokens_estimated: bool,
    #[serde(default)]
    input_tokens: Option<u64>,
    queue_ms: f64,
    #[serde(default)]
    in_flight_ms: Option<f64>,
    #[serde(default)]
    ttfr_ms: Option<f64>,
    #[serde(default)]
    ttfa_ms: Option<f64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens_estimated: bool,
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    error_class: Option<ErrorClass>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    error: Option<String>,
}

struct Line {
    record: Record,
    json: serde_json::Map<String, serde_json::Value>,
}

/// A merged run, ready to write.
pub struct Merged {
    pub report: Report,
    /// The union's requests.jsonl lines, each with its `shard`, `sent_at_ms` from the merged
    /// level's start.
    lines: Vec<serde_json::Value>,
    /// Per level: the merged histograms' `.hlog` (file name, bytes).
    hlogs: Vec<(String, Vec<u8>)>,
}

impl Merged {
    /// `merged 4 shards of <run>: 3 engines × 5 levels, 12,345 requests`.
    pub fn summary_line(&self) -> String {
        let requests: u64 = self
            .report
            .engines
            .iter()
            .flat_map(|e| &e.levels)
            .map(|l| l.completed + l.failed + l.cancelled)
            .sum();
        let info = self.report.merged.as_ref();
        let missing = match info.map(|m| m.missing.as_slice()) {
            Some(missing) if !missing.is_empty() => format!(" (MISSING shards {missing:?})"),
            _ => String::new(),
        };
        format!(
            "merged {} of {} shards of {}{missing}: {} requests; latencies from {}",
            info.map_or(0, |m| m.from.len()),
            info.map_or(0, |m| m.shards),
            self.report.run_name,
            requests,
            info.map_or("", |m| m.latencies_from.as_str())
        )
    }
}

fn read_shard(dir: &Path) -> Result<ShardRun, MergeError> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
    let report = Report::from_json(&text).map_err(|e| file_error(&path, e))?;
    let Some(info) = report.shard.clone() else {
        return Err(MergeError::Refused(format!(
            "{}: not a shard's results (no `shard` in results.json): merge takes the folders `run --shard` writes",
            dir.display()
        )));
    };
    let path = dir.join("requests.jsonl");
    let lines = match std::fs::read_to_string(&path) {
        Ok(text) => Some(parse_lines(&text, &path)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(file_error(&path, e)),
    };
    Ok(ShardRun {
        dir: dir.to_path_buf(),
        report,
        info,
        lines,
    })
}

fn parse_lines(text: &str, path: &Path) -> Result<Vec<Line>, MergeError> {
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |e: serde_json::Error| file_error(path, format!("line {}: {e}", n + 1));
        let json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(bad)?;
        let record: Record =
            serde_json::from_value(serde_json::Value::Object(json.clone())).map_err(bad)?;
        let whole = if record.ok {
            record.ttft_ms.is_some() && record.e2el_ms.is_some()
        } else {
            record.error_class.is_some()
        };
        if !whole {
            return Err(file_error(
                path,
                format!(
                    "line {}: a request line needs ttft_ms and e2el_ms (ok) or error_class (failed)",
                    n + 1
                ),
            ));
        }
        lines.push(Line { record, json });
    }
    Ok(lines)
}

/// The first setting two shards differ in, if any: they must be shards of one run.
fn difference(a: &ShardRun, b: &ShardRun) -> Option<String> {
    let (ra, rb) = (&a.report, &b.report);
    if ra.run_name != rb.run_name {
        return Some(format!("run {:?} vs {:?}", ra.run_name, rb.run_name));
    }
    if a.info.count != b.info.count {
        return Some(format!("{} shards vs {}", a.info.count, b.info.count));
    }
    if a.info.start_at != b.info.start_at {
        return Some(format!(
            "--start-at {} vs {}",
            a.info.start_at, b.info.start_at
        ));
    }
    let names = |r: &Report| r.engines.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    if names(ra) != names(rb) {
        return Some(format!("engines {:?} vs {:?}", names(ra), names(rb)));
    }
    let (fa, fb) = (&ra.workload.fingerprint, &rb.workload.fingerprint);
    let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    keys.into_iter().find_map(|k| {
        let (va, vb) = (fa.get(k), fb.get(k));
        (va != vb).then(|| {
            format!(
                "{k} = {} vs {}",
                va.map_or("(unset)", String::as_str),
                vb.map_or("(unset)", String::as_str)
            )
        })
    })
}

/// Reads and checks the shard folders, and merges them. `partial`: merge even when some
/// shards are missing (named in the result).
pub fn merge_dirs(dirs: &[PathBuf], partial: bool) -> Result<Merged, MergeError> {
    let mut shards = Vec::new();
    for dir in dirs {
        shards.push(read_shard(dir)?);
    }
    shards.sort_by_key(|s| s.info.index);
    let Some(first) = shards.first() else {
        return Err(MergeError::Refused("no shard folders given".into()));
    };
    for shard in &shards[1..] {
        if let Some(what) = difference(first, shard) {
            return Err(MergeError::Refused(format!(
                "{} and {} are not shards of one run: {what}",
                first.dir.display(),
                shard.dir.display()
            )));
        }
    }
    for pair in shards.windows(2) {
        if pair[0].info.index == pair[1].info.index {
            return Err(MergeError::Refused(format!(
                "{} and {} are both shard {}/{}",
                pair[0].dir.display(),
                pair[1].dir.display(),
                pair[0].info.index,
                pair[0].info.count
            )));
        }
    }
    let count = first.info.count;
    let missing: Vec<u32> = (0..count)
        .filter(|i| !shards.iter().any(|s| s.info.index == *i))
        .collect();
    if !missing.is_empty() && !partial {
        let have: Vec<u32> = shards.iter().map(|s| s.info.index).collect();
        return Err(MergeError::Refused(format!(
            "shard(s) {missing:?} of {count} missing (have {have:?}): pass every shard's folder, or --partial to merge without them"
        )));
    }
    merge(&shards, missing)
}

/// What each shard did at one (engine, level, trial).
struct Part<'a> {
    shard: &'a ShardRun,
    slot: &'a ShardSlot,
    summary: Option<&'a LevelSummary>,
}

fn merge(shards: &[ShardRun], missing: Vec<u32>) -> Result<Merged, MergeError> {
    let first = &shards[0];
    let mut report = first.report.clone();
    let trials = report.workload.trials.unwrap_or(1).max(1);
    let open_loop = report.workload.mode == "rate";
    let slo: Option<SloConfig> = serde_json::from_value(report.config["slo"].clone()).ok();
    let from_records = shards.iter().all(|s| s.lines.is_some());
    let mut lines_out = Vec::new();
    let mut hlogs = Vec::new();
    for (engine, engine_report) in report.engines.iter_mut().enumerate() {
        let name = engine_report.name.clone();
        let mut levels: Vec<LevelSummary> = Vec::new();
        for level_index in 0..report.workload.levels.len() {
            let mut trial_summaries = Vec::new();
            for trial in 1..=trials {
                let trial = (trials > 1).then_some(trial);
                let parts: Vec<Part> = shards
                    .iter()
                    .filter_map(|shard| {
                        let slot = shard.info.slots.iter().find(|s| {
                            s.engine == name && s.level_index == level_index && s.trial == trial
                        })?;
                        Some(Part {
                            shard,
                            slot,
                            summary: level_of(&shard.report, engine, &shard.info, slot),
                        })
                    })
                    .collect();
                if parts.is_empty() {
                    continue;
                }
                let level = report.workload.levels[level_index];
                let merged = merge_level(MergeLevel {
                    level,
                    engine: (engine, name.as_str()),
                    level_index,
                    trial,
                    parts: &parts,
                    open_loop,
                    slo: slo.clone(),
                    from_records,
                    lines: &mut lines_out,
                    hlogs: &mut hlogs,
                })?;
                trial_summaries.push(merged);
            }
            match trial_summaries.len() {
                0 => {}
                _ if trials == 1 => levels.push(trial_summaries.remove(0)),
                _ => levels.push(combine(&trial_summaries)),
            }
        }
        engine_report.levels = levels;
        engine_report.max_level_meeting_slo = engine_report
            .levels
            .iter()
            .filter(|l| l.meets_slo == Some(true) && l.status == LevelStatus::Complete)
            .map(|l| l.level)
            .reduce(f64::max);
        engine_report.skipped_reason = shards
            .iter()
            .find_map(|s| s.report.engines.get(engine)?.skipped_reason.clone());
        engine_report.server_metrics_schema = shards
            .iter()
            .find_map(|s| s.report.engines.get(engine)?.server_metrics_schema.clone());
    }
    report.shard = None;
    report.status = shards
        .iter()
        .map(|s| s.report.status)
        .max_by_key(|s| status_rank(*s))
        .unwrap_or(RunStatus::Complete);
    report.started_at = shards
        .iter()
        .map(|s| s.report.started_at.clone())
        .min()
        .unwrap_or_default();
    report.finished_at = shards
        .iter()
        .map(|s| s.report.finished_at.clone())
        .max()
        .flatten();
    let mut warnings = Vec::new();
    for shard in shards {
        for w in &shard.report.warnings {
            warnings.push(format!(
                "shard {}/{}: {w}",
                shard.info.index, shard.info.count
            ));
        }
    }
    if !missing.is_empty() {
        warnings.insert(
            0,
            format!(
                "merged without shard(s) {missing:?} of {}: their share of the load was not sent, so every level ran below its concurrency or rate",
                first.info.count
            ),
        );
    }
    if let Some(worst) = shards
        .iter()
        .filter(|s| !s.info.clock.synchronised)
        .map(|s| s.info.index)
        .next()
    {
        warnings.push(format!(
            "shard {worst}'s clock was not NTP-synchronised: the shards' level windows may not have lined up"
        ));
    }
    report.warnings = warnings;
    report.merged = Some(MergeInfo {
        shards: first.info.count,
        from: shards
            .iter()
            .map(|s| {
                s.dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect(),
        missing,
        latencies_from: if from_records {
            "records"
        } else {
            "histograms"
        }
        .into(),
        clocks: shards.iter().map(|s| s.info.clock.clone()).collect(),
    });
    report.verdicts = verdicts(&report);
    Ok(Merged {
        report,
        lines: lines_out,
        hlogs,
    })
}

fn status_rank(status: RunStatus) -> u8 {
    match status {
        RunStatus::Complete => 0,
        RunStatus::Running => 1,
        RunStatus::Aborted => 2,
        RunStatus::Interrupted => 3,
        RunStatus::Failed => 4,
    }
}

/// The shard's own summary of the slot's level (the entry for its trial).
fn level_of<'a>(
    report: &'a Report,
    engine: usize,
    info: &ShardInfo,
    slot: &ShardSlot,
) -> Option<&'a LevelSummary> {
    // A shard ran its slots in run order and kept one entry per level, so the entry of a
    // level is its position among the engine's slots (trials share an entry).
    let name = &report.engines.get(engine)?.name;
    let mut seen = Vec::new();
    for s in info.slots.iter().filter(|s| &s.engine == name) {
        if !seen.contains(&s.level_index) {
            seen.push(s.level_index);
        }
    }
    let at = seen.iter().position(|&i| i == slot.level_index)?;
    let entry = report.engines[engine].levels.get(at)?;
    match slot.trial {
        Some(t) => entry
            .trials
            .iter()
            .find(|l| l.trial == Some(t))
            .or(Some(entry)),
        None => Some(entry),
    }
}

/// Writes the merged run into `out` (created; one holding another run is refused):
/// results.json, requests.jsonl, `hlog/`, and the chart, CSV and Markdown.
pub fn write(merged: &Merged, out: &Path, options: &ExportOptions) -> anyhow::Result<Vec<PathBuf>> {
    for file in ["results.json", "requests.jsonl"] {
        if out.join(file).exists() {
            anyhow::bail!(
                "{} holds a run already ({file}): merge into a new folder",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out.join("hlog"))
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let mut text = String::new();
    for line in &merged.lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let requests = out.join("requests.jsonl");
    crate::results::writer::write_atomic(&requests, text.as_bytes())?;
    for (file, bytes) in &merged.hlogs {
        crate::results::writer::write_atomic(&out.join("hlog").join(file), bytes)?;
    }
    let mut json = serde_json::to_vec_pretty(&merged.report)?;
    json.push(b'\n');
    let results = out.join("results.json");
    crate::results::writer::write_atomic(&results, &json)?;
    let mut written = vec![results, requests];
    written.extend(crate::report::write_all(&merged.report, out, options)?);
    Ok(written)
}
