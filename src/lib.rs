//! llmsweep: load-test and compare OpenAI-compatible LLM inference engines, live.
//!
//! # Layout
//! Data flows config → plan → driver → event bus → front end; results go to disk as they come.
//! - `cli`      — clap definitions: `run`, `demo`, `check`, `sim`, `report`; flags are the top config layer.
//! - `app`      — wiring: load config, start the driver and a front end, signals, exit codes.
//! - `config`   — serde structs (`sweep`: levels, auto, order; `host`: `[host]`); `load` (the
//!   `config` crate's layers → `ConfigError`), `validate`.
//! - `plan`     — engines × levels × workload, request bodies serialised once.
//! - `workload` — prompt sources (`pool`, JSONL `file`, `sharegpt`, `synthetic` with an optional
//!   shared prefix, a Mooncake `trace`) → prompts (and a trace's arrival times); `cache`
//!   (the busting prefix of `[prompts] cache = "bust"`).
//! - `client`   — `openai` (one request's stream, timings), `transport` (hyper-util's pool
//!   over connections of our own, counting the connections it opens), `arrivals` (each read's
//!   kernel receive stamp), `sse` (the one-pass SSE splitter: events as slices of the body's
//!   bytes), `chunk` (pure chunk parser), `framing` (a stream's repeated chunk head and tail,
//!   learned and skipped), `answer` (a conversation's answer text), `reasoning` (a stream's
//!   TTFR/TTFA, folded per chunk).
//! - `driver`   — the sweep: `sweep` (run order), `level` (warmup → measured phase → summary),
//!   `phase` (workers or rate mode's dispatcher, samples in, snapshots out), `pause` (the
//!   active clock's in-flight rule), `controls` (keys), `arrivals` (the seeded schedule),
//!   `repeats` (the warning when a prompt reaches an engine twice with the cache unset).
//! - `metrics`  — `sample` (one per request), `recorder` (a level's aggregates → snapshot,
//!   summary), `dist` (exact values, numpy-interpolated percentiles, hdrhistogram beside),
//!   `steady` (achieved concurrency, steady-state window), `checks` (level warnings),
//!   `window` (live rates), `slo` (goodput counts), `fairness` (unequal output lengths),
//!   `reasoning` (TTFA, TTFR, reasoning tokens), `prefix_cache` (cached prompt tokens).
//! - `events`   — the bus: `Event` (driver → front ends), `Control` (keys → driver), `Snapshot`.
//! - `results`  — `model` (Report, LevelSummary: serde, vLLM field names; `reasoning` and
//!   `prefix_cache` flattened into it), `writer`,
//!   `resume` (what `run --resume` keeps of a saved run), `fingerprint` (the settings a
//!   resume must share with the saved run), `schema` (results.json's JSON Schema, derived
//!   from these types: `docs/results.schema.json`).
//! - `tui`      — the live dashboard: pure `App::update`, `impl Widget for &App`, terminal guard.
//! - `report`   — exporters, pure fns of a Report: chart PNG/SVG, levels.csv, summary.md, merging runs.
//! - `server_metrics` — the engines' Prometheus `/metrics` and DCGM GPU telemetry: parse,
//!   normalise per engine, scrape per level (metrics.jsonl), summarise into `ServerStats`.
//! - `host`     — what the machine did during a level (Linux `/proc`): busy and steal cores,
//!   the busiest processes, every local engine's processes found by port; the warnings.
//! - `preflight` — `llmsweep check` and the run's per-engine checks: reachable, model listed,
//!   a streamed probe (usage, output length, role chunk), `/metrics`, API key; the table.
//! - `shard`    — shard mode (`run --shard i/N --start-at T`): the load share, the wall-clock
//!   timeline of level slots, the clock's NTP state, `.hlog` interval logs, `merge`.
//! - `headless` — the line printer on the same events.
//! - `live_metrics` — `--metrics-listen`: the client's own live metrics for Prometheus.
//! - `sim`      — the simulated engine: axum server, its wire format (`encoder`: vLLM's chunk
//!   framing), continuous-batching scheduler, faults,
//!   `--timing-log` (its own TTFT per request id, for measuring client overhead), reasoning
//!   replies (`--reasoning-tokens`), a prefix cache (`--prefix-cache`).
//! - `demo`     — two simulated engines in-process for `llmsweep demo`.
//! - `docs`     — shell completions and the man page, generated from `cli`.
//! - `color`    — engine colours: config names/hex, default palette.
//! - `secret`   — the redacting API-key newtype.

pub mod app;
pub mod cli;
pub mod client;
pub mod color;
pub mod config;
pub mod demo;
pub mod docs;
pub mod driver;
pub mod events;
pub mod headless;
pub mod host;
pub mod live_metrics;
pub mod metrics;
pub mod plan;
pub mod preflight;
pub mod report;
pub mod results;
pub mod secret;
pub mod server_metrics;
pub mod shard;
pub mod sim;
pub mod stats;
pub mod tui;
pub mod workload;
