//! `llmsweep merge`: the folders of a sharded run → one run, as if one process had sent every
//! shard's requests. Counts and tokens add up; latency percentiles are recomputed from the
//! union of the shards' per-request lines (exact, as for one run), ITL from their merged
//! `.hlog` histograms (the lines hold each request's mean ITL, not its gaps); throughput is
//! over the union's window: from the earliest shard's start of measuring to the last
//! completion. Without requests.jsonl, every latency comes from the histograms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::time::Instant;

use crate::client::{ErrorClass, RequestError, Timings};
use crate::config::SloConfig;
use crate::metrics::dist::Dist;
use crate::metrics::recorder::{LevelRecorder, LevelRun, RecorderOptions};
use crate::metrics::sample::Sample;
use crate::report::ExportOptions;
use crate::results::model::{LevelStatus, LevelSummary, Report, RunStatus};
use crate::results::shard::{MergeInfo, ShardInfo, ShardSlot};
use crate::shard::hlog;
use crate::shard::timeline::from_unix_ms;
use crate::stats::trials::combine;
use crate::stats::verdict::verdicts;

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

struct MergeLevel<'a, 'b> {
    level: f64,
    engine: (usize, &'a str),
    level_index: usize,
    trial: Option<u32>,
    parts: &'a [Part<'a>],
    open_loop: bool,
    slo: Option<SloConfig>,
    from_records: bool,
    lines: &'b mut Vec<serde_json::Value>,
    hlogs: &'b mut Vec<(String, Vec<u8>)>,
}

/// One (engine, level, trial) over every shard.
fn merge_level(m: MergeLevel) -> Result<LevelSummary, MergeError> {
    let (engine, name) = m.engine;
    let measuring: Vec<&Part> = m
        .parts
        .iter()
        .filter(|p| !p.slot.missed && p.slot.share > 0.0)
        .collect();
    // The merged level's zero: the earliest shard's start of measuring.
    let base_ms = measuring
        .iter()
        .filter_map(|p| p.slot.started_unix_ms)
        .reduce(f64::min);
    let file = hlog::file_name(engine, m.level_index, m.trial);
    let mut histograms: BTreeMap<&str, Histogram<u64>> = BTreeMap::new();
    for part in &measuring {
        let path = part.shard.dir.join("hlog").join(&file);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && m.from_records => continue,
            Err(e) => return Err(file_error(&path, e)),
        };
        let (_, intervals) = hlog::parse(&bytes).map_err(|e| file_error(&path, e))?;
        for interval in intervals {
            let Some(tag) = hlog::TAGS
                .iter()
                .find(|t| interval.tag.as_deref() == Some(**t))
            else {
                continue;
            };
            match histograms.get_mut(tag) {
                Some(h) => h
                    .add(&interval.histogram)
                    .map_err(|e| file_error(&path, format!("{e:?}")))?,
                None => {
                    histograms.insert(tag, interval.histogram);
                }
            }
        }
    }
    // ITL only ever comes from the histograms; its count is every gap the shards saw.
    let itl = histograms.remove("itl");
    let gaps = itl.as_ref().map_or(0, |h| h.len());
    let total_share: f64 = m.parts.iter().map(|p| p.slot.share).sum();
    let max_concurrency = if m.open_loop {
        m.parts
            .iter()
            .filter_map(|p| p.summary.map(|s| s.max_concurrency))
            .sum()
    } else {
        total_share.round() as u32
    };
    let cut_short = measuring
        .iter()
        .any(|p| p.summary.is_some_and(|s| s.status == LevelStatus::Skipped));
    let sum = |f: fn(&LevelSummary) -> u64| -> u64 {
        measuring.iter().filter_map(|p| p.summary.map(f)).sum()
    };
    let connections_opened = sum(|s| s.connections_opened);
    let mut summary = match (m.from_records, base_ms) {
        (true, Some(base_ms)) => {
            let mut recorder = LevelRecorder::new(RecorderOptions {
                open_loop: m.open_loop,
                slo: m.slo.clone(),
            });
            // (done µs from base, shard index, record) in completion order.
            let mut done: Vec<(u64, &Part, &Line)> = Vec::new();
            for part in &measuring {
                let Some(started) = part.slot.started_unix_ms else {
                    continue;
                };
                let offset_ms = started - base_ms;
                for line in part.shard.lines.iter().flatten() {
                    let r = &line.record;
                    if r.engine != name || r.level_index != m.level_index || r.trial != m.trial {
                        continue;
                    }
                    let in_flight = r.in_flight_ms.or(r.e2el_ms).unwrap_or(0.0);
                    let done_ms = offset_ms + r.sent_at_ms + in_flight;
                    done.push(((done_ms * 1e3).round().max(0.0) as u64, *part, line));
                }
            }
            done.sort_by_key(|(at, _, line)| (*at, line.record.request_index));
            let zero = Instant::now();
            for &(done_us, part, line) in &done {
                let offset_ms = part.slot.started_unix_ms.unwrap_or(base_ms) - base_ms;
                let sample = sample_of(&line.record, offset_ms, done_us, zero);
                recorder.record(&sample, done_us);
                let mut json = line.json.clone();
                json.insert("shard".into(), part.shard.info.index.into());
                json.insert(
                    "sent_at_ms".into(),
                    round3(offset_ms + line.record.sent_at_ms).into(),
                );
                m.lines.push(serde_json::Value::Object(json));
            }
            let last_done_us = done.last().map_or(0, |d| d.0);
            // Closed loop: the steady window ends when the first shard's window closed.
            let drain_from_us = (!m.open_loop)
                .then(|| {
                    measuring
                        .iter()
                        .map(|p| p.slot.window_end_unix_ms)
                        .reduce(f64::min)
                        .map(|end| ((end - base_ms) * 1e3).max(0.0) as u64)
                })
                .flatten();
            let mut summary = recorder.summary(LevelRun {
                level: m.level,
                max_concurrency,
                duration_s: last_done_us as f64 / 1e6,
                cut_short,
                connections_opened,
                drain_from_us,
            });
            // The recorder saw no gaps (the records hold each request's mean only).
            set_itl(&mut summary, itl.clone());
            let hists = recorder.histograms();
            let mut tagged: Vec<(&str, &Histogram<u64>)> =
                hists.iter().filter(|(t, _)| *t != "itl").copied().collect();
            if let Some(itl) = &itl {
                tagged.push(("itl", itl));
            }
            write_hlog(m.hlogs, &file, name, m.level, base_ms, &summary, &tagged)?;
            summary
        }
        _ => {
            let mut summary = from_histograms(&m, &measuring, &mut histograms, max_concurrency);
            set_itl(&mut summary, itl);
            summary.connections_opened = connections_opened;
            if cut_short {
                summary.status = LevelStatus::Skipped;
            }
            summary
        }
    };
    summary.trial = m.trial;
    // Each client box's own health: the fleet's is its worst box's.
    summary.client_cpu_cores = measuring
        .iter()
        .filter_map(|p| p.summary.map(|s| s.client_cpu_cores))
        .sum();
    summary.client_loop_lag_p99_ms = measuring
        .iter()
        .filter_map(|p| p.summary.map(|s| s.client_loop_lag_p99_ms))
        .fold(0.0, f64::max);
    summary.client_limited = measuring
        .iter()
        .any(|p| p.summary.is_some_and(|s| s.client_limited));
    summary.client_state = measuring
        .iter()
        .filter_map(|p| p.summary.map(|s| s.client_state))
        .max_by_key(|s| s.rank())
        .unwrap_or_default();
    summary.coalesced_chunks = sum(|s| s.coalesced_chunks);
    summary.coalesced_fraction = if gaps == 0 {
        0.0
    } else {
        summary.coalesced_chunks as f64 / gaps as f64
    };
    // Shard 0 scraped the engine's /metrics for everyone.
    summary.server = m
        .parts
        .iter()
        .find(|p| p.shard.info.index == 0)
        .and_then(|p| p.summary)
        .and_then(|s| s.server.clone());
    summary.host = None;
    if measuring.is_empty() {
        summary.status = LevelStatus::Skipped;
        summary.skipped_reason = Some("missed by every shard".into());
    } else if let Some(late) = measuring
        .iter()
        .filter(|p| p.slot.late_ms > 1_000.0)
        .map(|p| (p.shard.info.index, p.slot.late_ms))
        .next()
    {
        summary.skipped_reason = Some(format!(
            "shard {} began measuring {:.1} s into the window",
            late.0,
            late.1 / 1e3
        ));
    }
    Ok(summary)
}

/// A request line as the sample the recorder takes.
fn sample_of(r: &Record, offset_ms: f64, done_us: u64, zero: Instant) -> Sample {
    let us = |ms: f64| (ms * 1e3).round().max(0.0) as u64;
    // `parse_lines` checked that a line is one or the other.
    let result = match (r.error_class, r.ttft_ms, r.e2el_ms) {
        (None, Some(ttft), Some(e2e)) => Ok(Timings {
            ttft_us: us(ttft),
            e2e_us: us(e2e),
            itl_us: Vec::new(),
            output_tokens: r.output_tokens.unwrap_or(0),
            output_tokens_estimated: r.output_tokens_estimated,
            input_tokens: r.input_tokens,
            coalesced_chunks: 0,
            role_only_first_chunk: false,
            ttfr_us: r.ttfr_ms.map(us),
            // A line has `ttfa_ms` only when the reply reasoned; otherwise the answer came
            // with the first token.
            ttfa_us: match r.ttfr_ms {
                Some(_) => r.ttfa_ms.map(us),
                None => Some(us(ttft)),
            },
            reasoning_tokens: r.reasoning_tokens,
            reasoning_tokens_estimated: r.reasoning_tokens_estimated,
            cached_tokens: r.cached_tokens,
        }),
        (class, _, _) => Err(RequestError {
            class: class.unwrap_or(ErrorClass::MalformedStream),
            status: r.status,
            message: r.error.clone().unwrap_or_default(),
        }),
    };
    Sample {
        request_index: r.request_index,
        request_id: r.request_id.clone(),
        prompt_index: r.prompt_index,
        sent_at_ms: offset_ms + r.sent_at_ms,
        queue_us: us(r.queue_ms),
        in_flight_us: us(r.in_flight_ms.or(r.e2el_ms).unwrap_or(0.0)),
        finished_at: zero + std::time::Duration::from_micros(done_us),
        result,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// The merged ITL statistics from the shards' merged histogram.
fn set_itl(summary: &mut LevelSummary, itl: Option<Histogram<u64>>) {
    let stats = itl.and_then(|h| Dist::from_histogram(h).stats());
    summary.mean_itl_ms = stats.map(|s| s.mean_ms);
    summary.median_itl_ms = stats.map(|s| s.p50_ms);
    summary.p90_itl_ms = stats.map(|s| s.p90_ms);
    summary.p95_itl_ms = stats.map(|s| s.p95_ms);
    summary.p99_itl_ms = stats.map(|s| s.p99_ms);
    summary.max_itl_ms = stats.map(|s| s.max_ms);
}

/// Without requests.jsonl: counts and tokens added, latencies from the merged histograms,
/// throughput over the union of the shards' measuring times.
fn from_histograms(
    m: &MergeLevel,
    parts: &[&Part],
    histograms: &mut BTreeMap<&str, Histogram<u64>>,
    max_concurrency: u32,
) -> LevelSummary {
    let summaries: Vec<&LevelSummary> = parts.iter().filter_map(|p| p.summary).collect();
    let start = parts
        .iter()
        .filter_map(|p| p.slot.started_unix_ms)
        .reduce(f64::min);
    let end = parts
        .iter()
        .filter_map(|p| Some(p.slot.started_unix_ms? + p.summary?.duration * 1e3))
        .reduce(f64::max);
    let duration_s = match (start, end) {
        (Some(s), Some(e)) => ((e - s) / 1e3).max(0.0),
        _ => 0.0,
    };
    let mut out = LevelRecorder::new(RecorderOptions::default()).summary(LevelRun {
        level: m.level,
        max_concurrency,
        duration_s,
        ..LevelRun::default()
    });
    let sum = |f: fn(&LevelSummary) -> u64| summaries.iter().map(|s| f(s)).sum::<u64>();
    out.completed = sum(|s| s.completed);
    out.failed = sum(|s| s.failed);
    out.cancelled = sum(|s| s.cancelled);
    out.total_input_tokens = sum(|s| s.total_input_tokens);
    out.total_output_tokens = sum(|s| s.total_output_tokens);
    out.output_tokens_estimated = summaries.iter().any(|s| s.output_tokens_estimated);
    let attempted = out.completed + out.failed;
    out.error_rate = if attempted == 0 {
        0.0
    } else {
        out.failed as f64 / attempted as f64
    };
    if out.failed > out.completed {
        out.status = LevelStatus::Failed;
    }
    let per_s = |x: u64| {
        if duration_s > 0.0 {
            x as f64 / duration_s
        } else {
            0.0
        }
    };
    out.request_throughput = per_s(out.completed);
    out.output_throughput = per_s(out.total_output_tokens);
    out.total_token_throughput = per_s(out.total_input_tokens + out.total_output_tokens);
    out.mean_output_tokens = if out.completed == 0 {
        0.0
    } else {
        out.total_output_tokens as f64 / out.completed as f64
    };
    for s in &summaries {
        for (class, n) in &s.errors {
            *out.errors.entry(class.clone()).or_default() += n;
        }
        for (class, text) in &s.error_examples {
            out.error_examples
                .entry(class.clone())
                .or_insert_with(|| text.clone());
        }
    }
    let stats = |tag: &str, histograms: &mut BTreeMap<&str, Histogram<u64>>| {
        histograms
            .remove(tag)
            .and_then(|h| Dist::from_histogram(h).stats())
    };
    let ttft = stats("ttft", histograms);
    let e2el = stats("e2el", histograms);
    let tpot = stats("tpot", histograms);
    out.mean_ttft_ms = ttft.map(|s| s.mean_ms);
    out.median_ttft_ms = ttft.map(|s| s.p50_ms);
    out.p90_ttft_ms = ttft.map(|s| s.p90_ms);
    out.p95_ttft_ms = ttft.map(|s| s.p95_ms);
    out.p99_ttft_ms = ttft.map(|s| s.p99_ms);
    out.max_ttft_ms = ttft.map(|s| s.max_ms);
    out.mean_e2el_ms = e2el.map(|s| s.mean_ms);
    out.median_e2el_ms = e2el.map(|s| s.p50_ms);
    out.p90_e2el_ms = e2el.map(|s| s.p90_ms);
    out.p95_e2el_ms = e2el.map(|s| s.p95_ms);
    out.p99_e2el_ms = e2el.map(|s| s.p99_ms);
    out.max_e2el_ms = e2el.map(|s| s.max_ms);
    out.mean_tpot_ms = tpot.map(|s| s.mean_ms);
    out.median_tpot_ms = tpot.map(|s| s.p50_ms);
    out.p90_tpot_ms = tpot.map(|s| s.p90_ms);
    out.p95_tpot_ms = tpot.map(|s| s.p95_ms);
    out.p99_tpot_ms = tpot.map(|s| s.p99_ms);
    out.max_tpot_ms = tpot.map(|s| s.max_ms);
    out.percentiles_from_histogram = true;
    out.achieved_peak_concurrency = summaries.iter().map(|s| s.achieved_peak_concurrency).sum();
    out.mean_concurrency = summaries.iter().map(|s| s.mean_concurrency).sum();
    out
}

fn write_hlog(
    hlogs: &mut Vec<(String, Vec<u8>)>,
    file: &str,
    engine: &str,
    level: f64,
    base_ms: f64,
    summary: &LevelSummary,
    histograms: &[(&str, &Histogram<u64>)],
) -> Result<(), MergeError> {
    let comment = format!("llmsweep merge: engine {engine:?} level {level}, every shard");
    let bytes = hlog::serialize(
        &comment,
        from_unix_ms(base_ms),
        std::time::Duration::from_secs_f64(summary.duration.max(0.0)),
        histograms,
    )
    .map_err(MergeError::Refused)?;
    hlogs.push((file.to_string(), bytes));
    Ok(())
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
