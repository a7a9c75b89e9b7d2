//! llmsweep: load-test and compare OpenAI-compatible LLM inference engines.
//!
//! # Layout
//! - `color`    — engine colours: config names/hex, default palette.
//! - `events`   — the bus: `Event` (driver → front ends), `Control` (keys → driver), `Snapshot`.
//! - `results`  — `model` (Report, LevelSummary: serde, vLLM field names), writer.

pub mod client;
pub mod color;
pub mod config;
pub mod driver;
pub mod events;
pub mod metrics;
pub mod plan;
pub mod results;
pub mod secret;
