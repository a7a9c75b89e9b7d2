//! What results.json says of shard mode: a shard's own run (`shard`), and a run merged from
//! shards (`merged`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::shard::clock::ClockInfo;

/// A shard's run (`run --shard i/N`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ShardInfo {
    /// 0-based.
    pub index: u32,
    /// Shards in the sweep.
    pub count: u32,
    /// `--start-at`, RFC 3339 UTC: the first level's slot begins here.
    pub start_at: String,
    /// Each level's slot: `warmup_s + duration_s + settle_s`, s.
    pub slot_s: f64,
    /// This machine's clock when the shard started: its offset from the other shards' is
    /// bounded by the machines' NTP accuracy.
    pub clock: ClockInfo,
    /// Every step of the run order this shard reached, in order.
    pub slots: Vec<ShardSlot>,
}

/// One (engine, level, trial) of a shard.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ShardSlot {
    pub engine: String,
    pub level_index: usize,
    /// `[sweep] trials` > 1: the trial, 1-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<u32>,
    /// This shard's part of the level: requests in flight (closed loop), or req/s.
    pub share: f64,
    /// The measured window's scheduled start, ms since the Unix epoch.
    pub window_start_unix_ms: f64,
    /// The measured window's end (no request starts after it), ms since the Unix epoch.
    pub window_end_unix_ms: f64,
    /// When this shard's measured phase began, ms since the Unix epoch: the zero of its
    /// requests' `sent_at_ms`. `None` when the level was missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_unix_ms: Option<f64>,
    /// How far after the window's start the shard began measuring, ms (a late start, or
    /// warmup requests still finishing).
    pub late_ms: f64,
    /// The shard reached the slot after its window had ended: it sent nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missed: bool,
}

/// A run merged from shard folders (`llmsweep merge`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MergeInfo {
    /// Shards in the sweep.
    pub shards: u32,
    /// The shard folders merged, by index.
    pub from: Vec<String>,
    /// Indexes of shards that were not there (`merge --partial`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
    /// Where the latency statistics came from: `records` (every request's line in the
    /// shards' requests.jsonl, exact) or `histograms` (the shards' `.hlog` files, 3
    /// significant digits). ITL is always from histograms: the records hold each request's
    /// mean ITL, not its gaps.
    pub latencies_from: String,
    /// Each shard's clock when it started, by index.
    pub clocks: Vec<ClockInfo>,
}
