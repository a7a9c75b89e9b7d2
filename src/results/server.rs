//! What the engine's own metrics (and the GPUs') said during a level. Every field is `null`
//! when its source did not export it, never 0.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One level's server-side view, from the scrapes between its start and its end.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ServerStats {
    /// Scrapes of the engine's endpoint that succeeded during the level (start and end
    /// included).
    pub scrapes: u32,
    /// Requests in the engine's running batch: mean and max over the scrapes.
    pub mean_running: Option<f64>,
    pub max_running: Option<f64>,
    /// Requests queued in the engine: mean and max over the scrapes.
    pub mean_waiting: Option<f64>,
    pub max_waiting: Option<f64>,
    /// True when the queue grew over the whole level (the level is past saturation).
    #[serde(default)]
    pub waiting_grew: bool,
    /// KV cache usage, 0–1: mean and max over the scrapes.
    pub mean_kv_usage: Option<f64>,
    pub max_kv_usage: Option<f64>,
    /// Requests the engine preempted during the level.
    pub preemptions: Option<f64>,
    /// Prefix-cache hit rate during the level, 0–1 (hit tokens / queried tokens).
    pub prefix_cache_hit_rate: Option<f64>,
    /// Tokens the engine counted as generated during the level.
    pub generation_tokens: Option<f64>,
    /// The engine's own time to first token over the level, ms: mean (histogram sum/count
    /// delta) and p50 (interpolated inside its bucket).
    pub server_mean_ttft_ms: Option<f64>,
    pub server_p50_ttft_ms: Option<f64>,
    /// The client's mean TTFT minus the server's, ms: the time outside the engine's own TTFT
    /// clock (its HTTP front end, the network, the client).
    pub client_added_ttft_ms: Option<f64>,
    /// GPU energy per output token the client received, J/token (DCGM energy counter delta).
    pub energy_j_per_token: Option<f64>,
    /// Seconds of the level the GPUs were power- or thermal-throttled (between scrapes).
    pub throttled_s: Option<f64>,
    /// Mean GPU utilisation, %; mean power of all GPUs, W; max memory used, MiB; mean SM
    /// clock, MHz.
    pub mean_gpu_util_pct: Option<f64>,
    pub mean_gpu_power_w: Option<f64>,
    pub max_gpu_memory_used_mib: Option<f64>,
    pub mean_sm_clock_mhz: Option<f64>,
}
