//! llmsweep: load-test and compare OpenAI-compatible LLM inference engines.
//!
//! # Layout
//! - `color`    — engine colours: config names/hex, default palette.
//! - `events`   — the bus: `Event` (driver → front ends), `Control` (keys → driver), `Snapshot`.
//! - `results`  — `model` (Report, LevelSummary: serde, vLLM field names), writer.
//! - `tui`      — the live dashboard (`run`, `App`, `summary_table`), terminal guard.

pub mod color;
pub mod events;
pub mod results;
pub mod tui;
