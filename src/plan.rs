//! The plan: engines × levels × workload, expanded from the config once, before the run.
//! Request bodies are serialised here, one per (engine, prompt), so the hot path only clones
//! a `Bytes`.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::color::Rgb;
use crate::config::{Api, Config, EngineConfig};
use crate::results::model::Workload;
use crate::secret::Secret;

/// One engine, ready to load.
#[derive(Debug, Clone)]
pub struct EnginePlan {
    pub name: String,
    pub url: String,
    pub model: String,
    pub api: Api,
    pub color: Rgb,
    /// Built-in simulator: results and chart say so.
    pub simulated: bool,
    pub key: Option<Secret>,
    pub headers: Vec<(String, String)>,
    /// Request body per prompt index.
    pub bodies: Vec<Bytes>,
}

/// Everything the driver needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: Config,
    pub engines: Vec<EnginePlan>,
    pub workload: Workload,
    pub seed: u64,
}

impl Plan {
    /// Expands `config`; `key_lookup` reads key variables (the process environment in production).
    pub fn new(
        config: Config,
        key_lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Plan, String> {
        config.check_keys(key_lookup)?;
        let prompts = &config.prompts.pool;
        let engines = config
            .engines
            .iter()
            .enumerate()
            .map(|(i, engine)| EnginePlan {
                name: engine.name.clone(),
                url: engine.url.clone(),
                model: engine.model.clone(),
                api: engine.api,
                color: engine
                    .color
                    .as_deref()
                    .and_then(Rgb::parse)
                    .unwrap_or(Rgb::default_for(i)),
                simulated: false,
                key: engine
                    .api_key_env
                    .as_deref()
                    .and_then(key_lookup)
                    .map(Secret::new),
                headers: engine
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                bodies: prompts
                    .iter()
                    .map(|p| request_body(&config, engine, p))
                    .collect(),
            })
            .collect();
        let workload = Workload {
            mode: "concurrency".into(),
            levels: config.sweep.levels.iter().map(|&c| c as f64).collect(),
            requests_per_level: config.sweep.requests_per_level,
            warmup_requests: config.sweep.warmup_requests,
            max_tokens: config.request.max_tokens,
            prompt_source: format!("inline pool ({} prompts)", prompts.len()),
        };
        Ok(Plan {
            seed: config.request.seed,
            config,
            engines,
            workload,
        })
    }

    /// The prompt of request `request` of level `level` (warmup requests count from
    /// `u64::MAX` down, so they never shift the measured sequence). The same for every engine.
    pub fn prompt_index(&self, level: usize, request: u64) -> usize {
        let n = self.config.prompts.pool.len() as u64;
        (mix(self.seed ^ mix(level as u64 + 1) ^ mix(request.wrapping_add(0x9E37))) % n) as usize
    }

    /// The config as JSON for results: keys never sit in the config, header values are masked.
    pub fn config_json(&self) -> Value {
        let mut value = serde_json::to_value(&self.config).unwrap_or(Value::Null);
        if let Some(engines) = value.get_mut("engines").and_then(Value::as_array_mut) {
            for engine in engines {
                if let Some(headers) = engine.get_mut("headers").and_then(Value::as_object_mut) {
                    for v in headers.values_mut() {
                        *v = Value::String("***".into());
                    }
                }
            }
        }
        value
    }
}

/// SplitMix64's finaliser: a cheap, well-spread hash of one u64.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The JSON body for one prompt: the shared generation parameters, then `extra_body` on top.
pub fn request_body(config: &Config, engine: &EngineConfig, prompt: &str) -> Bytes {
    let request = &config.request;
    let mut body = Map::new();
    body.insert("model".into(), json!(engine.model));
    match engine.api {
        Api::Chat => body.insert(
            "messages".into(),
            json!([{ "role": "user", "content": prompt }]),
        ),
        Api::Completions => body.insert("prompt".into(), json!(prompt)),
    };
    body.insert("max_tokens".into(), json!(request.max_tokens));
    body.insert("stream".into(), json!(true));
    if engine.stream_usage {
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json!(p));
    }
    body.insert("seed".into(), json!(request.seed));
    for (k, v) in &engine.extra_body {
        body.insert(k.clone(), v.clone());
    }
    Bytes::from(serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
}
