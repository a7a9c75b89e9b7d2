//! The integration tests, one test binary: each file here is a module (`cargo test --test
//! suite driver::` runs tests/driver.rs). Every test binary links the whole dependency tree
//! (~110 MB each with line tables); forty of them took 4.4 GB of target/ and a link each, which
//! filled a CI machine's disk. One binary is one link.
//!
//! Tests share one process: none may set environment variables, change the working
//! directory or signal its own process (the signal tests signal a child `llmsweep`).

mod common;

mod auto;
mod cache;
mod chart_ci;
mod chunk_props;
mod client;
mod client_health;
mod config;
mod conversations;
mod demo;
mod deploy;
mod driver;
mod e2e_tui;
mod faults;
mod host;
mod kill;
mod live_metrics;
mod measure;
mod prefix_cache;
mod preflight;
mod rate;
mod reasoning;
mod report;
mod results_folder;
mod resume;
mod resume_pending;
mod schema;
mod secrets;
mod server_metrics;
mod server_scrape;
mod shard;
mod signals;
mod sim;
mod sim_metrics;
mod stamps;
mod tls;
mod trace;
mod trials;
mod tui;
mod verdict_report;
mod vllm_export;
mod workload;
