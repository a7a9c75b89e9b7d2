//! One (engine, level, trial) of a merge: the shards' request lines on one timeline through
//! the recorder a single run uses (exact percentiles, throughput over the union's window),
//! ITL from the merged `.hlog` histograms; or, without request lines, everything from the
//! histograms and the shards' summaries.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::{file_error, Line, MergeError, Part, Record};
use crate::client::{ErrorClass, RequestError, Timings};
use crate::config::SloConfig;
use crate::metrics::dist::Dist;
use crate::metrics::recorder::{LevelRecorder, LevelRun, RecorderOptions};
use crate::metrics::sample::{round3, Sample};
use crate::results::model::{error_rate, LevelStatus, LevelSummary};
use crate::shard::hlog;
use crate::shard::timeline::from_unix_ms;

pub(super) struct MergeLevel<'a, 'b> {
    pub(super) level: f64,
    pub(super) engine: (usize, &'a str),
    pub(super) level_index: usize,
    pub(super) trial: Option<u32>,
    pub(super) parts: &'a [Part<'a>],
    pub(super) open_loop: bool,
    pub(super) slo: Option<SloConfig>,
    pub(super) from_records: bool,
    pub(super) lines: &'b mut Vec<serde_json::Value>,
    pub(super) hlogs: &'b mut Vec<(String, Vec<u8>)>,
}

/// One (engine, level, trial) over every shard.
pub(super) fn merge_level(m: MergeLevel) -> Result<LevelSummary, MergeError> {
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
        turn: None,
    }
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
    out.error_rate = error_rate(out.completed, out.failed);
    out.status = LevelStatus::of(out.completed, out.failed, false);
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
