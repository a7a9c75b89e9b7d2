//! The dashboard's state types: the messages it consumes, its views, the run status it shows,
//! each engine's live state, the running level and the finished-levels rows.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::events::{EngineIdx, Event, ServerSnapshot, Snapshot};
use crate::results::model::LevelSummary;

use super::history::EngineHistory;
use super::keys::KeyInput;

/// What [`App::update`](super::app::App::update) consumes.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Something from the driver.
    Event(Event),
    /// A key press.
    Key(KeyInput),
    /// Time passed; `now_ms` is monotonic milliseconds from any fixed origin.
    Tick { now_ms: u64 },
    /// The terminal changed size: redraw.
    Resize,
}

/// What the body of the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// One panel of sparklines per engine, plus the finished-levels table.
    Sparklines,
    /// The final chart's panels, live: each metric against the level, a line per engine.
    Compare,
    /// Per finished level: ITL/TPOT percentiles and the error breakdown.
    Detail,
}

impl View {
    /// The view `Tab` switches to: dashboard → compare → detail → dashboard.
    pub fn next(self) -> View {
        match self {
            View::Sparklines => View::Compare,
            View::Compare => View::Detail,
            View::Detail => View::Sparklines,
        }
    }
}

/// The run state the header shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing received yet.
    Starting,
    Running,
    Paused,
    Skipping,
    Stopping,
    /// The driver finished (results may still be being written until `RunFinished`).
    Done,
}

impl Status {
    /// Upper-case label for the header.
    pub fn label(self) -> &'static str {
        match self {
            Status::Starting => "STARTING",
            Status::Running => "RUNNING",
            Status::Paused => "PAUSED",
            Status::Skipping => "SKIPPING",
            Status::Stopping => "STOPPING",
            Status::Done => "DONE",
        }
    }
}

/// Where an engine is in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnginePhase {
    /// No level started yet.
    Waiting,
    /// Its level is the one running.
    Active,
    /// It ran and another engine took over (or the run ended).
    Finished,
}

/// Per-engine live state.
#[derive(Debug, Clone)]
pub struct EngineState {
    /// Snapshot values over the whole run.
    pub history: EngineHistory,
    /// The engine's latest snapshot.
    pub last: Option<Snapshot>,
    pub phase: EnginePhase,
    /// The engine's own metrics at the level's latest scrape; `None` before the level's first
    /// (or when it is not scraped).
    pub server: Option<ServerSnapshot>,
    /// KV cache usage (0–1) at every scrape of the run, newest last, at most `KV_HISTORY`.
    pub kv_history: VecDeque<f64>,
}

/// KV usage points kept per engine for its small sparkline.
pub const KV_HISTORY: usize = 64;

impl EngineState {
    pub(super) fn new() -> EngineState {
        EngineState {
            history: EngineHistory::default(),
            last: None,
            phase: EnginePhase::Waiting,
            server: None,
            kv_history: VecDeque::new(),
        }
    }

    /// Client-added TTFT live: the client's mean TTFT over the level so far minus the
    /// server's, ms; `None` until both have one.
    pub fn client_added_ttft_ms(&self) -> Option<f64> {
        let client = self.last.as_ref()?.ttft_mean_ms?;
        let server = self.server.as_ref()?.server_ttft_mean_ms?;
        Some(client - server)
    }
}

/// The level being measured.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentLevel {
    pub engine: EngineIdx,
    /// Position in the run's `workload.levels`; with `levels = "auto"` it may lie past the
    /// list `RunStarted` carried (the list grows as the search runs): never index with it.
    pub level_index: usize,
    /// Concurrency, or req/s in rate mode.
    pub level: f64,
    pub planned: u64,
    /// This measurement's trial, 1-based, of `trials` (1 of 1 without `[sweep] trials`).
    pub trial: u32,
    pub trials: u32,
    /// `levels = "auto"`: the engine's search state, e.g. `doubling: 64 → 128`.
    pub search: Option<String>,
    /// The level's latest snapshot, if one came.
    pub snapshot: Option<Snapshot>,
    /// True once its `LevelFinished` came (the next level is warming up).
    pub finished: bool,
}

/// A row of the finished-levels table: one per (engine, level), whatever the trials.
#[derive(Debug, Clone)]
pub struct FinishedLevel {
    pub engine: EngineIdx,
    pub summary: Arc<LevelSummary>,
}

impl FinishedLevel {
    /// True when both rows are the same engine's same level (a later trial replaces a row).
    pub(super) fn same_level(&self, engine: EngineIdx, level: f64) -> bool {
        self.engine == engine && self.summary.level == level
    }
}

/// The latest warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub engine: Option<EngineIdx>,
    pub text: String,
}
