//! Server metrics and GPU telemetry: what the engine itself (and the GPU) said while a
//! level ran.
//!
//! - `exposition` — the Prometheus text format, parsed (`openmetrics-parser`).
//! - `histogram`  — cumulative buckets: deltas between scrapes, mean, interpolated quantiles.
//! - `schema`     — which engine wrote it (vLLM, SGLang, TGI, llama.cpp) and its fields in
//!   one schema.
//! - `gpu`        — NVIDIA DCGM exporter fields, throttle reasons.
//! - `level`      — a level's scrapes → `results::server::ServerStats`.
//! - `scraper`    — the per-level task: timer, short timeout, metrics.jsonl, live snapshots.
//! - `log`        — metrics.jsonl.

pub mod exposition;
pub mod gpu;
pub mod histogram;
pub mod level;
pub mod log;
pub mod schema;
pub mod scraper;
