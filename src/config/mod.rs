//! Configuration: the serde structs (this file), the `config` crate's layering (`load`), and
//! `validate()` (`validate`).
//!
//! Layers, lowest first: built-in defaults (serde `default`s) < the TOML file (`bench.toml` or
//! `--config FILE`) < `LLMSWEEP__SECTION__KEY` environment variables < command-line flags.
//! Unknown keys are errors. Every error is one line naming the file, key or engine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole configuration, after every layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub run: RunConfig,
    #[serde(default)]
    pub engines: Vec<EngineConfig>,
    #[serde(default)]
    pub sweep: SweepConfig,
    #[serde(default)]
    pub request: RequestConfig,
    #[serde(default)]
    pub prompts: PromptsConfig,
    #[serde(default)]
    pub slo: SloConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub host: HostConfig,
    /// `[[gpus]]`: DCGM exporters to scrape while any engine is under test.
    #[serde(default)]
    pub gpus: Vec<GpuConfig>,
}

/// `[metrics]`: scraping the engines' Prometheus endpoints (and the GPUs') during levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Time between scrapes of one endpoint, ms.
    pub interval_ms: u64,
    /// Limit on one scrape (connect to last byte), ms; a slow endpoint is skipped, never
    /// waited for.
    pub timeout_ms: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            interval_ms: 1000,
            timeout_ms: 800,
        }
    }
}

/// One `[[gpus]]` table: an NVIDIA DCGM exporter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuConfig {
    /// e.g. `http://localhost:9400/metrics`.
    pub metrics_url: String,
}

/// `[run]`: naming and placing the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Prefix of the results folder name (`<name>-<UTC time>`).
    pub name: String,
    /// Parent folder of the results folder.
    pub out_dir: PathBuf,
    /// `standard` (throughput, latency, TTFT) or `extended` (adds a second figure with output
    /// tok/s, TPOT and error rate).
    pub chart: ChartKindConfig,
    /// Also write the charts as SVG.
    pub svg: bool,
    /// Write each request's gaps between output chunks (`itl_ms`, ms) into requests.jsonl:
    /// about 6 bytes a token, for `--vllm-json`'s `itls` and an exact ITL deviation.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub request_itls: bool,
}

/// Which charts a run writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChartKindConfig {
    #[default]
    Standard,
    Extended,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            name: "llmsweep".into(),
            out_dir: PathBuf::from("results"),
            chart: ChartKindConfig::Standard,
            svg: false,
            request_itls: false,
        }
    }
}

/// Which OpenAI endpoint shape an engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `/v1/chat/completions` with `messages`.
    #[default]
    Chat,
    /// `/v1/completions` with `prompt`.
    Completions,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Chat => "chat",
            Api::Completions => "completions",
        }
    }
}

/// One `[[engines]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Display name; unique in a run.
    pub name: String,
    /// Full endpoint URL, e.g. `http://127.0.0.1:8000/v1/chat/completions`.
    pub url: String,
    /// Model name sent in every request.
    pub model: String,
    #[serde(default)]
    pub api: Api,
    /// Name of the environment variable holding the API key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Merged into every request body last (e.g. `ignore_eos = true`).
    #[serde(default)]
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    /// `#rrggbb` or a colour name; default from the palette by position.
    #[serde(default)]
    pub color: Option<String>,
    /// At most 8 characters, unique in the run: the label narrow tables (the dashboard at
    /// 80 columns) show when `name` does not fit. Without it they cut the name where it
    /// becomes unique among the engines' names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
    /// Send `stream_options.include_usage`; set false for servers that reject it.
    #[serde(default = "yes")]
    pub stream_usage: bool,
    /// The engine's Prometheus endpoint; default: the URL's scheme, host and port with path
    /// `/metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_url: Option<String>,
    /// Scrape the engine's metrics during its levels (`false` turns it off).
    #[serde(default = "yes")]
    pub metrics: bool,
}

impl EngineConfig {
    /// Where the engine's metrics are scraped, or `None` when turned off.
    pub fn metrics_endpoint(&self) -> Option<String> {
        if !self.metrics {
            return None;
        }
        if let Some(url) = &self.metrics_url {
            return Some(url.clone());
        }
        let mut url = reqwest::Url::parse(&self.url).ok()?;
        url.set_path("/metrics");
        url.set_query(None);
        url.set_fragment(None);
        Some(url.to_string())
    }
}

fn yes() -> bool {
    true
}

/// `[request]`: generation parameters, identical for every engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestConfig {
    pub max_tokens: u32,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Seed of the prompt sequence (which prompt each request gets). Not sent to engines.
    pub seed: u64,
    /// Sent as every request's sampling `seed` when set. Off by default, as in
    /// `vllm bench serve`: an engine may sample seeded requests differently (vLLM keeps a
    /// generator per seeded request), so a seed can change what is being measured.
    pub sampling_seed: Option<u64>,
}

impl Default for RequestConfig {
    fn default() -> Self {
        RequestConfig {
            max_tokens: 128,
            temperature: None,
            top_p: None,
            seed: 42,
            sampling_seed: None,
        }
    }
}

/// `[prompts]`: exactly one source (`pool`, `file`, `sharegpt`, `synthetic` or `trace`); none set =
/// the built-in pool. Paths are relative to the current directory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptsConfig {
    /// Prompts chosen from at random (seeded) for each request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Vec<String>>,
    /// JSONL: one `{"prompt": ...}` or `{"messages": [...]}` per line, optional `max_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// ShareGPT JSON: first human turn as the prompt, the first reply's length as `max_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sharegpt: Option<PathBuf>,
    /// Seeded synthetic prompts of given lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<SyntheticConfig>,
    /// A Mooncake-format JSONL trace to replay (`mode = "rate"`, levels are speed factors):
    /// each line's arrival time, lengths and shared 512-token blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<PathBuf>,
    /// Keep only the first N prompts of the source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// What the engines' prefix caches may reuse across requests: `bust` (a unique prefix
    /// in front of every request's first user message) or `warm` (prompts as they are, repeats
    /// accepted). Unset = as `warm`, with a warning when a prompt reaches an engine twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheMode>,
    /// Multi-turn chats: each in-flight slot holds one conversation and sends its turns one
    /// after another, each with the whole history (the model's own earlier answers included).
    /// With `synthetic` or `sharegpt`, in concurrency mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversations: Option<ConversationsConfig>,
}

/// `[prompts] conversations = { turns = 5, turn_delay_ms = 0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationsConfig {
    /// User turns per conversation: exactly this many with `synthetic` (required there), at
    /// most this many with `sharegpt` (unset = each conversation's own human turns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turns: Option<u32>,
    /// The user's pause between an answer and the next question, ms (the slot stays held).
    pub turn_delay_ms: u64,
}

/// `[prompts] cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// Every request's first user message starts with a short unique prefix (the same for
    /// request k of a level on every engine), so no request reuses another's cached prefix
    /// beyond what the workload itself shares (a shared system prompt, a trace's blocks).
    Bust,
    /// Prompts go as they are: an engine may answer a repeated prompt from its prefix cache.
    Warm,
}

impl CacheMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheMode::Bust => "bust",
            CacheMode::Warm => "warm",
        }
    }
}

impl PromptsConfig {
    /// The keys naming a source that are set, in a fixed order.
    pub fn sources_set(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        if self.pool.is_some() {
            set.push("pool");
        }
        if self.file.is_some() {
            set.push("file");
        }
        if self.sharegpt.is_some() {
            set.push("sharegpt");
        }
        if self.synthetic.is_some() {
            set.push("synthetic");
        }
        if self.trace.is_some() {
            set.push("trace");
        }
        set
    }

    /// The inline pool: the configured one or the built-in one.
    pub fn pool_or_default(&self) -> Vec<String> {
        match &self.pool {
            Some(pool) => pool.clone(),
            None => DEFAULT_POOL.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// `[prompts] synthetic = { ... }`: lengths in estimated tokens (words × 1.3), or exact
/// tokens of `tokenizer` (a Hugging Face `tokenizer.json`) when given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticConfig {
    /// Prompt length, tokens.
    pub input_tokens: u32,
    /// `max_tokens` asked per prompt.
    pub output_tokens: u32,
    /// Lengths drawn uniformly from `[n × (1 − r), n × (1 + r)]`; 0 = exact.
    pub range_ratio: f64,
    /// Prompts generated.
    pub count: usize,
    /// A `tokenizer.json` (the served model's): prompt lengths become exact token counts of
    /// the prompt text (the chat template's tokens come on top).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
    /// Shared-prefix workload ("many users, few system prompts"): every prompt starts with one
    /// of `prefixes` shared system prompts of this many tokens (exactly, no `range_ratio`),
    /// then its own `input_tokens` — a system message and a user message on the chat API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_tokens: Option<u32>,
    /// With `prefix_tokens`: how many distinct shared system prompts [default: 1]; prompt i
    /// gets number i mod `prefixes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefixes: Option<u32>,
}

impl SyntheticConfig {
    /// `(prefixes, prefix_tokens)` of a shared-prefix workload; `None` without one.
    pub fn shared_prefix(&self) -> Option<(u32, u32)> {
        self.prefix_tokens
            .map(|tokens| (self.prefixes.unwrap_or(1), tokens))
    }
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            input_tokens: 128,
            output_tokens: 128,
            range_ratio: 0.0,
            count: 512,
            tokenizer: None,
            prefix_tokens: None,
            prefixes: None,
        }
    }
}

/// `[slo]`: service-level objectives; each optional. A request meets them when it succeeded
/// and every set one holds; a level meets them when at least `attainment` of its attempted
/// requests (completed + failed) do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SloConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<f64>,
    /// Share of requests that must meet every SLO for the level to count as meeting them.
    pub attainment: f64,
}

impl Default for SloConfig {
    fn default() -> Self {
        SloConfig {
            ttft_ms: None,
            tpot_ms: None,
            e2e_ms: None,
            attainment: 0.9,
        }
    }
}

impl SloConfig {
    /// True when at least one objective is set.
    pub fn any(&self) -> bool {
        self.ttft_ms.is_some() || self.tpot_ms.is_some() || self.e2e_ms.is_some()
    }
}

pub const DEFAULT_POOL: [&str; 6] = [
    "Explain how continuous batching improves the throughput of an LLM inference server.",
    "Write a short story about a lighthouse keeper who discovers a message in a bottle.",
    "Summarise the causes and consequences of the 1929 stock market crash in a few paragraphs.",
    "Describe, step by step, how to make a sourdough starter from scratch.",
    "Compare the trade-offs of TCP and QUIC for serving interactive web applications.",
    "List ten creative uses for an old bicycle and explain each briefly.",
];

mod host;
mod load;
mod sweep;
mod validate;

pub use host::HostConfig;
pub use sweep::{
    AutoConfig, AutoStop, Levels, SweepConfig, SweepMode, SweepOrder, DEFAULT_REQUESTS_PER_LEVEL,
    DEFAULT_REQUESTS_PER_SLOT, DEFAULT_SETTLE_S,
};

pub use load::{ConfigError, Sources};
pub use validate::{MAX_DURATION_S, MAX_LATENCY_S};
