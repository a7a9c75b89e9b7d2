//! The event bus between the sweep driver and its front ends (TUI, headless printer), and the
//! control channel back. Nothing else lives here.
//!
//! Lifecycle events are never dropped; [`Event::Snapshot`]s may be (sent with `try_send`), so
//! a lagging UI never slows the measurement.

use std::path::PathBuf;
use std::sync::Arc;

use crate::results::model::{LevelSummary, Report};

/// Index of an engine in the run's config order (`Report::engines`).
pub type EngineIdx = usize;

/// Driver → front ends.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run's skeleton: engines (names, colours), workload and planned levels; no levels run yet.
    RunStarted { report: Arc<Report> },
    /// A level's measured phase begins (after its warmup).
    LevelStarted {
        engine: EngineIdx,
        /// Position in `Report::workload.levels`.
        level_index: usize,
        /// Concurrency (or req/s in rate mode).
        level: f64,
        /// Requests planned for this level.
        planned: u64,
        /// This measurement's trial, 1-based, of `trials` (`[sweep] trials`; 1 of 1 without).
        trial: u32,
        trials: u32,
        /// `levels = "auto"`: the engine's search state, e.g. `doubling: 64 → 128` or
        /// `bisecting 96–128`.
        search: Option<String>,
    },
    /// A few times a second while a level runs.
    Snapshot(Snapshot),
    /// One scrape of the engine's own metrics while a level runs (droppable, like snapshots).
    ServerSnapshot(ServerSnapshot),
    /// A level's trial ended (completed, skipped or failed); `summary` is what results.json
    /// holds for the level now (with trials: over the trials so far, each in `trials`).
    LevelFinished {
        engine: EngineIdx,
        level_index: usize,
        summary: Arc<LevelSummary>,
    },
    /// The driver's state changed.
    State(RunState),
    /// Something the user should see: an engine failing, a config oddity, unequal outputs.
    Warning {
        engine: Option<EngineIdx>,
        text: String,
    },
    /// A `Control::Export` is done: the files written, or why none could be.
    Exported {
        result: Result<Vec<PathBuf>, String>,
    },
    /// Everything is written; the last event on the bus.
    RunFinished {
        report: Arc<Report>,
        /// The folder holding results.json and the exports.
        out_dir: PathBuf,
    },
}

/// What the engine's `/metrics` said at one scrape; `None` where it exports no such family.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ServerSnapshot {
    pub engine: EngineIdx,
    pub level_index: usize,
    /// Requests in the engine's running batch.
    pub running: Option<f64>,
    /// Requests queued in the engine.
    pub waiting: Option<f64>,
    /// KV cache usage, 0–1.
    pub kv_usage: Option<f64>,
    /// The server's mean TTFT over the level so far, ms (its histogram's sum/count delta
    /// since the level's first scrape); `None` before a first token or without a histogram.
    pub server_ttft_mean_ms: Option<f64>,
}

/// Pre-aggregated live numbers of the level in progress. The UI draws these, never samples.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Snapshot {
    pub engine: EngineIdx,
    pub level_index: usize,
    /// Measured time of the level so far, paused time excluded, in milliseconds.
    pub elapsed_ms: u64,
    /// Requests finished successfully so far.
    pub completed: u64,
    /// Requests failed so far.
    pub failed: u64,
    /// Requests in flight now.
    pub in_flight: u32,
    /// Requests planned for the level.
    pub planned: u64,
    /// Successful requests per second over the last couple of seconds.
    pub request_throughput: f64,
    /// Output tokens per second over the last couple of seconds.
    pub output_throughput: f64,
    /// Mean TTFT over the level so far, ms (exact); `None` before the level's first success.
    pub ttft_mean_ms: Option<f64>,
    /// TTFT p50 over the level so far, ms; `None` before the level's first success.
    pub ttft_p50_ms: Option<f64>,
    /// TTFT p99 over the level so far, ms.
    pub ttft_p99_ms: Option<f64>,
    /// End-to-end latency p50 over the level so far, ms.
    pub e2el_p50_ms: Option<f64>,
    /// End-to-end latency p99 over the level so far, ms.
    pub e2el_p99_ms: Option<f64>,
}

/// What the driver is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// No new requests start; in-flight ones finish.
    Paused,
    /// A skip is cancelling the level's in-flight requests.
    Skipping,
    /// Quit or signal: cancelling and writing results.
    Stopping,
    Finished,
}

/// Front ends → driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    TogglePause,
    /// End the current level now, keeping it as skipped.
    SkipLevel,
    /// End the current level and skip the engine's remaining levels.
    SkipEngine,
    /// Skip everything left, write every output for what was measured.
    Abort,
    /// Write chart.png, levels.csv and summary.md now, for what has been measured so far,
    /// without pausing the run (`e`).
    Export,
}
