//! llmsweep: load-test and compare OpenAI-compatible LLM inference engines.
//!
//! # Layout
//! - `color`    — engine colours: config names/hex, default palette.
//! - `events`   — the bus: `Event` (driver → front ends), `Control` (keys → driver), `Snapshot`.
//! - `results`  — `model` (Report, LevelSummary: serde, vLLM field names), writer.
//! - `report`   — exporters: comparison chart (PNG/SVG), levels.csv, summary.md, merging runs.

pub mod color;
pub mod events;
pub mod report;
pub mod results;
