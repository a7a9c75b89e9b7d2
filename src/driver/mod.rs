//! The sweep driver: engines × levels, workers holding C requests in flight, the control
//! channel (pause, skip, abort), the recorder and the results writer.
//!
//! - `sweep`     — run order, results writer, the end of the run.
//! - `preflight` — each engine's checks before its first level (skips it on a hard failure).
//! - `level`     — one level: warmup, measured phase, summary and checks, results written.
//! - `phase`     — one phase: workers or dispatcher, samples in, snapshots out, the drain.
//! - `pause`     — pause accounting: the active clock's in-flight rule, rate mode's ledger.
//! - `controls`  — keys reaching the driver.
//! - `worker`    — one closed-loop slot; `open_loop` — rate mode's dispatcher;
//!   `arrivals` — its seeded schedule.
//! - `slots`     — shard mode: each step waits for its slot of the common timeline.
//! - `repeats`   — the warning when a prompt reaches an engine twice with the cache unset.

pub mod arrivals;
mod auto;
mod controls;
mod conversation;
mod level;
mod open_loop;
mod pause;
mod phase;
mod preflight;
mod repeats;
mod search;
mod slots;
mod sweep;
mod worker;

pub use level::SKIPPED_DURING_WARMUP;
pub use repeats::REPEAT_WARNING;
pub use sweep::{is_engine_failure, run, RunOptions, RunOutcome};
