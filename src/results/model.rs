//! The results model: what `results.json` holds and every exporter renders.
//!
//! Field names follow `vllm bench serve` where it has one (`mean_ttft_ms`, `p99_itl_ms`,
//! `request_throughput`, ...), so numbers line up with what users already know.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::results::conversations::{ConversationStats, ConversationsWorkload};
use crate::results::prefix_cache::PrefixCacheStats;
use crate::results::reasoning::ReasoningStats;

/// The current UTC time in RFC 3339, as the report's times are written.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The version of the results format (`schema_version` in results.json, and
/// `docs/results.schema.json`'s `x-llmsweep-schema-version`).
///
/// The rule: bump it when a field is removed, renamed, changes type or changes meaning (its
/// unit, what it counts), i.e. when a reader of the old format could misread a new file.
/// Adding a field does not bump it, as long as the field is optional (`#[serde(default)]`,
/// or an `Option`): old readers ignore it and files written before it still load. So a
/// schema 1 file may lack any field added since. `llmsweep report` refuses a file of a
/// higher version than this one, naming both.
pub const SCHEMA_VERSION: u32 = 1;

/// Why a results.json could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Its `schema_version` is above [`SCHEMA_VERSION`]: a field may have been renamed or
    /// changed meaning, so reading it could misread it.
    #[error("written by a newer llmsweep (schema {found}, this one reads up to {SCHEMA_VERSION})")]
    Newer { found: u64 },
    /// Not JSON, or not a results file (a required field is missing or has the wrong type).
    #[error("not a results file: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// A whole run: metadata, the workload, and per engine per level every aggregate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// The results format's version (`SCHEMA_VERSION` of the writer): it rises when a field
    /// is removed, renamed or changes meaning, not when an optional field is added.
    #[schemars(range(min = 1, max = SCHEMA_VERSION))]
    pub schema_version: u32,
    /// `llmsweep <version>` of the writer.
    pub tool: String,
    /// Run name: `<name>-<UTC time>`, with `-2`, `-3`, … when another run started under that
    /// name in the same second; always the results folder's name.
    pub run_name: String,
    /// RFC 3339 UTC time the run started.
    pub started_at: String,
    /// RFC 3339 UTC times the run was continued with `run --resume`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_at: Vec<String>,
    /// RFC 3339 UTC time the run ended; `None` while it is still going.
    pub finished_at: Option<String>,
    /// How the run ended so far.
    pub status: RunStatus,
    /// True when any engine is the built-in simulator: the numbers model no real hardware.
    pub simulated: bool,
    /// `[request] seed`: orders the prompts (which prompt each request gets); not sent to
    /// engines (`sampling_seed`, in `config`, is).
    pub seed: u64,
    /// What every engine was sent.
    pub workload: Workload,
    /// One entry per engine, in config order.
    pub engines: Vec<EngineReport>,
    /// The effective configuration (after all layers), secrets excluded.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub config: serde_json::Value,
    /// Things a reader must know to trust the comparison (e.g. unequal output lengths).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Every pair of engines at every level they share, on each headline metric: which is
    /// faster and whether the difference is significant (best engine first). Recomputed
    /// after every level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<crate::results::verdict::Verdict>,
    /// `run --shard i/N`: this run is one shard of a sweep (merge the shards' folders with
    /// `llmsweep merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::results::shard::ShardInfo>,
    /// Written by `llmsweep merge`: the run combines these shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<crate::results::shard::MergeInfo>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running (a results.json written after a level).
    #[default]
    Running,
    /// Every level ran (some may have been skipped by key).
    Complete,
    /// The user quit; the levels left were not run.
    Aborted,
    /// A signal ended the run (SIGINT, SIGTERM or SIGHUP).
    Interrupted,
    /// llmsweep itself failed mid-run (see `warnings`); levels saved before it are intact.
    Failed,
}

/// The workload every engine received.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Workload {
    /// `concurrency` (closed loop) or `rate` (open loop, req/s).
    pub mode: String,
    /// The sweep's levels, in order (concurrency, or req/s in rate mode).
    pub levels: Vec<f64>,
    /// Measured requests per level (warmup excluded); 0 = as many as `duration_s` allows.
    /// With `requests_scale_with_concurrency`, the floor of the per-level count.
    pub requests_per_level: u64,
    /// True when the count was not set: each level ran `max(requests_per_level, 4 × C)`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requests_scale_with_concurrency: bool,
    /// Unmeasured requests sent before each level.
    pub warmup_requests: u64,
    /// Seconds of unmeasured load before each level, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    /// `max_tokens` asked of the engine.
    pub max_tokens: u32,
    /// Human description of the prompt source, e.g. `inline pool (4 prompts)`.
    pub prompt_source: String,
    /// `[sweep] trials` when above 1: times each (engine, level) was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<u32>,
    /// `levels = "auto"`: the adaptive search's settings (`levels` then lists the levels as
    /// they ran, doubling grid and bisection points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<serde_json::Value>,
    /// Measured seconds per level, when the level is time-bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// `interleaved` when levels alternate between engines; absent = sequential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// Rate mode: gamma shape of the inter-arrival times (1.0 = Poisson).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burstiness: Option<f64>,
    /// Rate mode: cap on requests in flight, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// `[prompts] trace`: the trace replayed. `levels` are then speed factors (1 = the
    /// trace's own arrival times, 2 = twice as fast), in rate mode's open loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// `[prompts] cache` when set: `bust` (each request's prompt began with a unique prefix)
    /// or `warm` (prompts as they are, repeats accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// `[prompts] conversations`: multi-turn chats, a level's concurrency is conversations
    /// in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<ConversationsWorkload>,
    /// Every setting that changes the numbers, `key → value` (e.g. `request.max_tokens →
    /// 128`; the prompts' contents and header values as `fnv1a:` hashes, never a secret):
    /// `run --resume` continues a run only with a config of the same fingerprint. Empty in
    /// results written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fingerprint: BTreeMap<String, String>,
}

/// One engine's results.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct EngineReport {
    /// Display name, unique in a run.
    pub name: String,
    /// Endpoint URL.
    pub url: String,
    /// Model name sent in requests.
    pub model: String,
    /// `chat` or `completions`.
    pub api: String,
    /// `#rrggbb`, from config or the default palette.
    pub color: String,
    /// True when this engine is the built-in simulator.
    pub simulated: bool,
    /// Finished (or cut short) levels, in the order they ran.
    pub levels: Vec<LevelSummary>,
    /// Why the engine's remaining levels were not run, if they were not.
    pub skipped_reason: Option<String>,
    /// With `[slo]` set: the highest level (concurrency or req/s) that met the SLOs — at least
    /// `[slo] attainment` of its attempted requests met every objective, and it ran complete.
    /// `None` when no level did (or no SLO is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_level_meeting_slo: Option<f64>,
    /// Whose metric names the engine's `/metrics` uses (`vllm`, `sglang`, `tgi`,
    /// `llama_cpp`); absent when it was not scraped, not found, or not recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_metrics_schema: Option<String>,
    /// `levels = "auto"`: how the engine's search for its knee ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::results::search::SearchResult>,
    /// `short_name` from config: the label narrow tables use when the name does not fit
    /// (otherwise they cut the name where it becomes unique among the run's engines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
}

impl Report {
    /// Parses a results.json. Its `schema_version` is read first, so a file of a newer
    /// format is refused as such rather than for a field this version does not know.
    pub fn from_json(text: &str) -> Result<Report, ReadError> {
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<u64>,
        }
        if let Ok(Version {
            schema_version: Some(found),
        }) = serde_json::from_str(text)
        {
            if found > u64::from(SCHEMA_VERSION) {
                return Err(ReadError::Newer { found });
            }
        }
        Ok(serde_json::from_str(text)?)
    }
}

impl EngineReport {
    /// The engine's levels by level value: an auto sweep runs them out of order (…, 64,
    /// then the bisected 24, 20), and tables and curves go by level.
    pub fn levels_by_value(&self) -> Vec<&LevelSummary> {
        let mut levels: Vec<&LevelSummary> = self.levels.iter().collect();
        levels.sort_by(|a, b| a.level.total_cmp(&b.level));
        levels
    }
}

/// How a level ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LevelStatus {
    /// Every planned request ran.
    #[default]
    Complete,
    /// Cut short by a key (skip), quit or a signal; the numbers cover what ran.
    Skipped,
    /// Most requests failed: the numbers describe failures, not engine speed.
    Failed,
}

impl LevelStatus {
    /// A level's status from its counts: failed when most requests failed, else skipped when
    /// it was cut short, else complete.
    pub fn of(completed: u64, failed: u64, cut_short: bool) -> LevelStatus {
        if failed > completed {
            LevelStatus::Failed
        } else if cut_short {
            LevelStatus::Skipped
        } else {
            LevelStatus::Complete
        }
    }
}

/// Failed requests as a fraction of attempted ones (completed + failed; cancelled ones are
/// neither), 0 when none was attempted.
pub fn error_rate(completed: u64, failed: u64) -> f64 {
    let attempted = completed + failed;
    if attempted == 0 {
        0.0
    } else {
        failed as f64 / attempted as f64
    }
}

/// Aggregates of one (engine, level), over successful requests unless a field says otherwise.
/// Latency statistics are `None` (JSON `null`) when no request succeeded (TPOT also when
/// every reply had one token, ITL when none had two output chunks): never a made-up 0 ms.
/// Percentiles are numpy's linear interpolation over the exact per-request values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct LevelSummary {
    /// The level's value as configured: concurrency, or req/s in rate mode.
    pub level: f64,
    /// Requests kept in flight (closed loop) or the cap (rate mode; 0 = none).
    pub max_concurrency: u32,
    /// How the level ended.
    pub status: LevelStatus,
    /// The level's active time, s: first send to last completion, warmup excluded, minus the
    /// intervals in which the run was paused *and nothing was in flight*. Whole-level
    /// throughputs divide by it (`vllm bench serve`'s definition).
    pub duration: f64,
    /// Requests that completed successfully.
    pub completed: u64,
    /// Requests that failed (any class but cancelled).
    pub failed: u64,
    /// Requests cancelled by a skip or quit (not errors).
    pub cancelled: u64,
    /// failed / (completed + failed); 0 when nothing finished.
    pub error_rate: f64,
    /// Σ prompt tokens over successful requests (from usage).
    pub total_input_tokens: u64,
    /// Σ output tokens over successful requests.
    pub total_output_tokens: u64,
    /// True when some output counts came from counting chunks (the engine sent no usage).
    pub output_tokens_estimated: bool,
    /// Successful requests per second.
    pub request_throughput: f64,
    /// Output tokens per second.
    pub output_throughput: f64,
    /// Input + output tokens per second.
    pub total_token_throughput: f64,
    /// Mean output tokens per successful request.
    pub mean_output_tokens: f64,
    /// Time to first token, ms: mean.
    pub mean_ttft_ms: Option<f64>,
    /// Time to first token, ms: p50.
    pub median_ttft_ms: Option<f64>,
    /// Time to first token, ms: p90.
    pub p90_ttft_ms: Option<f64>,
    /// Time to first token, ms: p95.
    pub p95_ttft_ms: Option<f64>,
    /// Time to first token, ms: p99.
    pub p99_ttft_ms: Option<f64>,
    /// Time to first token, ms: max.
    pub max_ttft_ms: Option<f64>,
    /// Time per output token after the first, ms: mean.
    pub mean_tpot_ms: Option<f64>,
    /// Time per output token after the first, ms: p50.
    pub median_tpot_ms: Option<f64>,
    /// Time per output token after the first, ms: p90.
    pub p90_tpot_ms: Option<f64>,
    /// Time per output token after the first, ms: p95.
    pub p95_tpot_ms: Option<f64>,
    /// Time per output token after the first, ms: p99.
    pub p99_tpot_ms: Option<f64>,
    /// Time per output token after the first, ms: max.
    pub max_tpot_ms: Option<f64>,
    /// Inter-token latency (gap between output chunks), ms: mean.
    pub mean_itl_ms: Option<f64>,
    /// Inter-token latency, ms: p50.
    pub median_itl_ms: Option<f64>,
    /// Inter-token latency, ms: p90.
    pub p90_itl_ms: Option<f64>,
    /// Inter-token latency, ms: p95.
    pub p95_itl_ms: Option<f64>,
    /// Inter-token latency, ms: p99.
    pub p99_itl_ms: Option<f64>,
    /// Inter-token latency, ms: max.
    pub max_itl_ms: Option<f64>,
    /// End-to-end request latency, ms: mean.
    pub mean_e2el_ms: Option<f64>,
    /// End-to-end request latency, ms: p50.
    pub median_e2el_ms: Option<f64>,
    /// End-to-end request latency, ms: p90.
    pub p90_e2el_ms: Option<f64>,
    /// End-to-end request latency, ms: p95.
    pub p95_e2el_ms: Option<f64>,
    /// End-to-end request latency, ms: p99.
    pub p99_e2el_ms: Option<f64>,
    /// End-to-end request latency, ms: max.
    pub max_e2el_ms: Option<f64>,
    /// Reasoning models: time to first answer and to first reasoning token, reasoning
    /// tokens (`mean_ttfa_ms`, `p99_ttfr_ms`, `reasoning_share`, ...; see
    /// [`ReasoningStats`]). Absent for a level without reasoning: its TTFA is its TTFT.
    #[serde(flatten)]
    pub reasoning: ReasoningStats,
    /// `total_cached_tokens` and `cached_fraction` (see [`PrefixCacheStats`]); absent when
    /// no request reported cached tokens.
    #[serde(flatten)]
    pub prefix_cache: PrefixCacheStats,
    /// `[prompts] conversations`: per-conversation totals and each turn's TTFT and cache
    /// hits (see [`ConversationStats`]); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<ConversationStats>,
    /// True when the level had more values than are kept exactly (2 million per metric):
    /// its percentiles then come from hdrhistogram (3 significant digits).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub percentiles_from_histogram: bool,
    /// Most requests in flight at once during the level.
    #[serde(default)]
    pub achieved_peak_concurrency: u32,
    /// Time-weighted mean of requests in flight over the level's active time.
    #[serde(default)]
    pub mean_concurrency: f64,
    /// Length of the steady-state window, s: closed loop, from the moment `max_concurrency`
    /// requests were first in flight to the moment the first worker found no more work;
    /// rate mode, the middle 80 % of the schedule. `None` when the level never reached its
    /// concurrency (or the window is empty).
    #[serde(default)]
    pub steady_window_s: Option<f64>,
    /// Successful requests that completed inside the steady-state window.
    #[serde(default)]
    pub steady_completed: u64,
    /// Successful requests per second inside the steady-state window, each counted by the
    /// share of its time in flight that falls inside it (completions alone are biased when
    /// they bunch up, as equal-length requests in a closed loop do).
    #[serde(default)]
    pub steady_request_throughput: Option<f64>,
    /// Output tokens per second generated inside the steady-state window (each request's
    /// tokens spread over its first-to-last-token span).
    #[serde(default)]
    pub steady_output_throughput: Option<f64>,
    /// Output chunks that arrived in the same read as the previous output chunk of their
    /// request (their inter-token gap is 0 by construction).
    #[serde(default)]
    pub coalesced_chunks: u64,
    /// `coalesced_chunks` over all inter-token gaps, 0..1. Above 0.05 the ITL percentiles
    /// are read-granular.
    #[serde(default)]
    pub coalesced_fraction: f64,
    /// TCP connections the client opened during the measured level (warmup excluded); with
    /// keep-alive working, at most the level's concurrency.
    #[serde(default)]
    pub connections_opened: u64,
    /// Why the level was cut short or not measured, when it was (e.g. `skipped during warmup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_reason: Option<String>,
    /// What the engine's `/metrics` (and the GPUs') said during the level; absent when
    /// nothing was scraped. Inside, a field the engine does not export is `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::results::server::ServerStats>,
    /// Mean time a request waited in the client between its scheduled and its actual send,
    /// ms (rate mode; mostly the wait for a free slot under `max_concurrency`).
    pub mean_client_queue_ms: f64,
    /// Rate mode: latencies measured from each request's *scheduled* send time (free of
    /// coordinated omission), and late starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleStats>,
    /// With `[slo]` set: successful requests meeting every set SLO, per second (vLLM's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_goodput: Option<f64>,
    /// Share of attempted requests (completed + failed) meeting every set SLO, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_met: Option<f64>,
    /// Share of attempted requests meeting `[slo] ttft_ms`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_ttft_met: Option<f64>,
    /// Share of attempted requests meeting `[slo] tpot_ms`, when set (one-token replies meet it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_tpot_met: Option<f64>,
    /// Share of attempted requests meeting `[slo] e2e_ms`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_e2e_met: Option<f64>,
    /// `[sweep] trials` > 1: this summary's trial, 1-based (in `trials` entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<u32>,
    /// `[sweep] trials` > 1: every trial's own summary, in the order they ran. The level's
    /// fields are then over all trials: counts and tokens summed, rates and latency
    /// statistics the mean of the trials' values, status the worst.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trials: Vec<LevelSummary>,
    /// 95 % confidence intervals of the headline metrics: over trials, or with one trial
    /// over batch means of the steady-state window (within-run only); absent when neither
    /// has two values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<crate::results::confidence::LevelIntervals>,
    /// `slo_met ≥ [slo] attainment`: the level meets the SLOs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meets_slo: Option<bool>,
    /// Failed requests by error class (`connect`, `http_status`, `malformed_stream`, ...).
    pub errors: BTreeMap<String, u64>,
    /// One short example message per error class, secrets redacted.
    pub error_examples: BTreeMap<String, String>,
    /// CPU the llmsweep process used during the level, in cores (1.0 = one core busy). With
    /// `demo` the simulated engines run in the same process and are included.
    #[serde(default)]
    pub client_cpu_cores: f64,
    /// The client's event-loop lag during the level, p99, ms: how late a 10 ms timer fired.
    #[serde(default)]
    pub client_loop_lag_p99_ms: f64,
    /// True when the client's timings may be off at this level (`client_state` is not
    /// `fine`: it was busy, starved or its loop ran late): the engine's numbers are then
    /// understated.
    #[serde(default)]
    pub client_limited: bool,
    /// Why, when `client_limited`: `busy` (the client used ~a core per runtime thread),
    /// `starved` (its loop ran late while the box was busy with other processes), `late`
    /// (its loop ran late for a reason it cannot see); `fine` otherwise.
    #[serde(default)]
    pub client_state: crate::results::host::ClientState,
    /// What the machine did during the level: its busy cores, the busiest processes, each
    /// configured engine's processes' cores. Absent off Linux or without `/proc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<crate::results::host::HostReport>,
}

/// Which throughput a chart or table shows for a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThroughputBasis {
    /// The steady-state window's: it held at least 2 × the peak in flight completions.
    Steady,
    /// The whole level's (ramp-up and drain included).
    WholeLevel,
}

impl LevelSummary {
    /// Steady-state figures where the window holds ≥ 2 × the peak concurrency completions,
    /// else the whole level's.
    pub fn throughput_basis(&self) -> ThroughputBasis {
        let enough = self.steady_completed >= 2 * u64::from(self.achieved_peak_concurrency.max(1));
        match (self.steady_output_throughput, enough) {
            (Some(_), true) => ThroughputBasis::Steady,
            _ => ThroughputBasis::WholeLevel,
        }
    }

    /// Output tokens per second as plotted: see [`LevelSummary::throughput_basis`].
    pub fn plotted_output_throughput(&self) -> f64 {
        match (self.throughput_basis(), self.steady_output_throughput) {
            (ThroughputBasis::Steady, Some(v)) => v,
            _ => self.output_throughput,
        }
    }

    /// Requests per second as plotted: see [`LevelSummary::throughput_basis`].
    pub fn plotted_request_throughput(&self) -> f64 {
        match (self.throughput_basis(), self.steady_request_throughput) {
            (ThroughputBasis::Steady, Some(v)) => v,
            _ => self.request_throughput,
        }
    }
}

/// Rate mode: what the schedule saw. Scheduled latencies add the client queue time (schedule
/// → actual send) to the engine-side ones, so a saturated engine cannot hide its backlog.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleStats {
    /// Scheduled send → first token, ms: mean.
    pub mean_scheduled_ttft_ms: Option<f64>,
    /// Scheduled send → first token, ms: p50.
    pub median_scheduled_ttft_ms: Option<f64>,
    /// Scheduled send → first token, ms: p99.
    pub p99_scheduled_ttft_ms: Option<f64>,
    /// Scheduled send → last token, ms: mean.
    pub mean_scheduled_e2el_ms: Option<f64>,
    /// Scheduled send → last token, ms: p50.
    pub median_scheduled_e2el_ms: Option<f64>,
    /// Scheduled send → last token, ms: p99.
    pub p99_scheduled_e2el_ms: Option<f64>,
    /// Requests (any outcome) sent more than 10 ms (`LATE_START_MS`) after their scheduled
    /// time.
    pub late_starts: u64,
}

/// A request sent later than this after its scheduled time is a late start.
pub const LATE_START_MS: f64 = 10.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steady_window_is_plotted_when_it_held_twice_the_peak_in_completions() {
        let mut l = LevelSummary {
            achieved_peak_concurrency: 4,
            steady_completed: 8,
            request_throughput: 10.0,
            output_throughput: 1000.0,
            steady_request_throughput: Some(12.0),
            steady_output_throughput: Some(1300.0),
            ..LevelSummary::default()
        };
        assert_eq!(l.throughput_basis(), ThroughputBasis::Steady);
        assert_eq!(
            (
                l.plotted_request_throughput(),
                l.plotted_output_throughput()
            ),
            (12.0, 1300.0)
        );
        l.steady_completed = 7;
        assert_eq!(l.throughput_basis(), ThroughputBasis::WholeLevel);
        assert_eq!(
            (
                l.plotted_request_throughput(),
                l.plotted_output_throughput()
            ),
            (10.0, 1000.0)
        );
    }

    #[test]
    fn reasoning_and_cache_fields_are_flat_and_absent_without_either() {
        let plain = serde_json::to_value(LevelSummary::default()).expect("serialise");
        for key in [
            "mean_ttfa_ms",
            "mean_ttfr_ms",
            "reasoning_requests",
            "total_reasoning_tokens",
            "reasoning_share",
            "reasoning_tokens_estimated",
            "total_cached_tokens",
            "cached_fraction",
            "reasoning",
            "prefix_cache",
        ] {
            assert!(plain.get(key).is_none(), "{key}");
        }
        let thinking = LevelSummary {
            reasoning: ReasoningStats {
                mean_ttfa_ms: Some(81.5),
                p99_ttfa_ms: Some(90.0),
                reasoning_requests: 3,
                total_reasoning_tokens: Some(12),
                reasoning_share: Some(0.25),
                ..ReasoningStats::default()
            },
            prefix_cache: PrefixCacheStats {
                total_cached_tokens: Some(64),
                cached_fraction: Some(0.5),
            },
            ..LevelSummary::default()
        };
        let json = serde_json::to_value(&thinking).expect("serialise");
        assert_eq!(json["mean_ttfa_ms"], 81.5);
        assert_eq!(json["total_reasoning_tokens"], 12);
        assert_eq!(json["cached_fraction"], 0.5);
        let back: LevelSummary = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, thinking);
    }

    #[test]
    fn a_newer_schema_is_refused_by_its_version_before_its_fields_are_read() {
        // Schema 2 may have renamed fields: the version is the error, not a missing field.
        let newer = format!(
            "{{\"schema_version\": {}, \"renamed\": 1}}",
            SCHEMA_VERSION + 1
        );
        let err = Report::from_json(&newer).unwrap_err();
        assert!(matches!(err, ReadError::Newer { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "written by a newer llmsweep (schema {}, this one reads up to {SCHEMA_VERSION})",
                SCHEMA_VERSION + 1
            )
        );
        let current = serde_json::to_string(&Report {
            schema_version: SCHEMA_VERSION,
            ..Report::default()
        })
        .unwrap();
        assert_eq!(
            Report::from_json(&current).unwrap().schema_version,
            SCHEMA_VERSION
        );
        let broken = Report::from_json("{\"schema_version\": 1, ").unwrap_err();
        assert!(
            broken.to_string().starts_with("not a results file: "),
            "{broken}"
        );
    }

    #[test]
    fn the_error_rate_is_failed_of_attempted_and_zero_when_nothing_was_attempted() {
        assert_eq!(error_rate(3, 1), 0.25);
        assert_eq!(error_rate(0, 2), 1.0);
        // A level cut short before its first request ended has no failures to report: an
        // auto search must not read it as all-errors.
        assert_eq!(error_rate(0, 0), 0.0);
    }

    #[test]
    fn a_level_fails_when_most_requests_failed_and_else_is_skipped_if_cut_short() {
        assert_eq!(LevelStatus::of(3, 4, false), LevelStatus::Failed);
        assert_eq!(LevelStatus::of(3, 4, true), LevelStatus::Failed);
        assert_eq!(LevelStatus::of(4, 4, false), LevelStatus::Complete);
        assert_eq!(LevelStatus::of(4, 4, true), LevelStatus::Skipped);
        assert_eq!(LevelStatus::of(0, 0, false), LevelStatus::Complete);
    }

    #[test]
    fn now_is_an_rfc3339_utc_time() {
        let text = now_rfc3339();
        let now = time::OffsetDateTime::now_utc();
        let bytes = text.as_bytes();
        assert!(text.len() >= 20 && text.ends_with('Z'), "{text}");
        assert_eq!(
            (bytes[4], bytes[7], bytes[10], bytes[13], bytes[16]),
            (b'-', b'-', b'T', b':', b':'),
            "{text}"
        );
        assert_eq!(text[..4].parse::<i32>().ok(), Some(now.year()), "{text}");
    }
}
