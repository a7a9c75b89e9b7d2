//! llmsweep: load-test and compare OpenAI-compatible LLM inference engines.
//!
//! # Layout
//! - `color`    — engine colours: config names/hex, default palette.
//! - `events`   — the bus: `Event` (driver → front ends), `Control` (keys → driver), `Snapshot`.
//! - `results`  — `model` (Report, LevelSummary: serde, vLLM field names), writer.

pub mod color;
pub mod events;
pub mod results;
