//! The plan: engines × levels × workload, expanded from the config once, before the run.
//! Request bodies are serialised here, one per (engine, prompt), so the hot path only clones
//! a `Bytes`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::color::Rgb;
use crate::config::{
    Api, CacheMode, Config, EngineConfig, SweepMode, SweepOrder, DEFAULT_REQUESTS_PER_LEVEL,
};
use crate::results::conversations::ConversationsWorkload;
use crate::results::fingerprint;
use crate::results::model::Workload;
use crate::secret::Secret;
use crate::workload::{self, cache, estimate_tokens, Conversation, Prompt, PromptContent};

/// One engine, ready to load.
#[derive(Debug, Clone)]
pub struct EnginePlan {
    pub name: String,
    pub url: String,
    pub model: String,
    pub api: Api,
    pub color: Rgb,
    /// The configured label for narrow tables.
    pub short_name: Option<String>,
    /// Built-in simulator: results and chart say so.
    pub simulated: bool,
    pub key: Option<Secret>,
    pub headers: Vec<(String, String)>,
    /// Request body per prompt index.
    pub bodies: Vec<Bytes>,
    /// `[prompts] cache = "bust"`: per prompt index, the byte of its body where a request's
    /// prefix goes. Empty otherwise.
    pub prefix_at: Vec<usize>,
}

/// What the request dump says about one prompt, so a run can be audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptInfo {
    /// Whitespace-separated words of the prompt (every message).
    pub words: usize,
    /// Estimated prompt tokens (words × 1.3).
    pub input_tokens_est: u64,
    /// `max_tokens` in this prompt's request body.
    pub max_tokens: u32,
}

/// Everything the driver needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub config: Config,
    pub engines: Vec<EnginePlan>,
    pub workload: Workload,
    pub seed: u64,
    /// Per prompt index (the same for every engine).
    pub prompts: Vec<PromptInfo>,
    /// `run --shard`: this process's shard and the common level schedule.
    pub shard: Option<crate::shard::ShardPlan>,
    /// `[prompts] cache = "bust"`: mixed into every prefix key so no two runs send the same
    /// prefixes ([`cache::run_nonce`]; set by the driver from the run's name, 0 before).
    pub bust_nonce: u64,
    /// `[prompts] trace`: per prompt (trace line), its arrival after the first line's at
    /// speed 1. Request k of a level sends prompt k at this time ÷ the level's speed.
    pub schedule: Option<Arc<[Duration]>>,
    /// `[prompts] conversations`: per prompt index, the conversation (the prompt is its first
    /// turn).
    pub conversations: Option<Arc<[Conversation]>>,
}

/// Where a request sits in the run: its level, trial and phase, and its position in the
/// level's one-process sequence (a shard's requests are mapped to it first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPos {
    pub level_index: usize,
    /// 1-based.
    pub trial: u32,
    pub warmup: bool,
    pub index: u64,
}

impl RequestPos {
    /// The position in the seeded sequence: warmup requests count down from `u64::MAX`, so
    /// they never shift the measured ones.
    pub fn sequence(self) -> u64 {
        if self.warmup {
            u64::MAX - self.index
        } else {
            self.index
        }
    }
}

impl Plan {
    /// Expands `config`; `key_lookup` reads key variables (the process environment in production).
    pub fn new(
        config: Config,
        key_lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Plan, String> {
        config.check_keys(key_lookup)?;
        let loaded = workload::load(&config.prompts, config.request.seed)?;
        let prompts = &loaded.prompts;
        let names: Vec<&str> = config.engines.iter().map(|e| e.name.as_str()).collect();
        let configured: Vec<Option<Rgb>> = config
            .engines
            .iter()
            .map(|e| e.color.as_deref().and_then(Rgb::parse))
            .collect();
        let colors = Rgb::for_engines(&names, &configured);
        let engines = config
            .engines
            .iter()
            .enumerate()
            .map(|(i, engine)| EnginePlan {
                name: engine.name.clone(),
                url: engine.url.clone(),
                model: engine.model.clone(),
                api: engine.api,
                color: colors[i],
                short_name: engine.short_name.clone(),
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
                prefix_at: match config.prompts.cache {
                    Some(CacheMode::Bust) => prompts
                        .iter()
                        .map(|p| prefix_point(&config, engine, p))
                        .collect(),
                    _ => Vec::new(),
                },
            })
            .collect();
        let sweep = &config.sweep;
        let rate = sweep.mode == SweepMode::Rate;
        let workload = Workload {
            mode: sweep.mode.as_str().into(),
            levels: sweep.levels.to_vec(),
            trials: (sweep.trials > 1).then_some(sweep.trials),
            auto: sweep
                .levels
                .is_auto()
                .then(|| serde_json::to_value(&sweep.auto).unwrap_or_default()),
            requests_per_level: match (&loaded.schedule, sweep.requests_per_level, sweep.duration_s)
            {
                (Some(trace), n, _) => n.map_or(trace.len() as u64, |n| n.min(trace.len() as u64)),
                (None, Some(n), _) => n,
                (None, None, Some(_)) => 0,
                (None, None, None) => DEFAULT_REQUESTS_PER_LEVEL,
            },
            requests_scale_with_concurrency: sweep.requests_scale_with_concurrency(),
            warmup_requests: sweep.warmup_requests,
            warmup_s: sweep.warmup_s,
            max_tokens: config.request.max_tokens,
            prompt_source: loaded.source.clone(),
            duration_s: sweep.duration_s,
            order: (sweep.order != SweepOrder::Sequential).then(|| sweep.order.as_str().into()),
            burstiness: rate.then_some(sweep.burstiness),
            max_concurrency: (rate && sweep.max_concurrency > 0).then_some(sweep.max_concurrency),
            cache: config.prompts.cache.map(|c| c.as_str().into()),
            trace: config
                .prompts
                .trace
                .as_ref()
                .map(|p| p.display().to_string()),
            conversations: config.prompts.conversations.map(|c| ConversationsWorkload {
                turns: c.turns,
                turn_delay_ms: c.turn_delay_ms,
            }),
            fingerprint: fingerprint::of(
                &config,
                &match &loaded.conversations {
                    // Every turn's text, not only the first ones.
                    Some(chats) => chats.iter().flat_map(conversation_texts).collect(),
                    None => prompts.clone(),
                },
                &loaded.source,
                loaded.schedule.as_deref(),
            ),
        };
        let prompts = prompts
            .iter()
            .map(|p| {
                let words = p.words();
                PromptInfo {
                    words,
                    input_tokens_est: estimate_tokens(words),
                    max_tokens: p.max_tokens.unwrap_or(config.request.max_tokens),
                }
            })
            .collect();
        Ok(Plan {
            seed: config.request.seed,
            config,
            engines,
            workload,
            prompts,
            shard: None,
            bust_nonce: 0,
            schedule: loaded.schedule.map(Arc::from),
            conversations: loaded.conversations.map(Arc::from),
        })
    }

    /// The largest number of requests that may be in flight at once: the largest level in
    /// concurrency mode; the cap, or a generous pool, in rate mode.
    pub fn max_in_flight(&self) -> usize {
        let sweep = &self.config.sweep;
        match sweep.mode {
            SweepMode::Concurrency if sweep.levels.is_auto() => sweep.auto.max as usize,
            SweepMode::Concurrency => sweep.levels.iter().fold(1.0f64, |a, &b| a.max(b)) as usize,
            SweepMode::Rate if sweep.max_concurrency > 0 => sweep.max_concurrency as usize,
            SweepMode::Rate => 256,
        }
    }

    /// (engine, level index, trial) in the order they run: every level of an engine before
    /// the next engine, each level's trials back to back (`sequential`); or each level's
    /// trial t on every engine before trial t + 1, and every trial before the next level
    /// (`interleaved`: A1 B1 A2 B2 …, so drift spreads over the engines). Trials count from 1.
    pub fn run_order(&self) -> Vec<(usize, usize, u32)> {
        let (engines, levels) = (self.engines.len(), self.config.sweep.levels.len());
        let trials = self.config.sweep.trials.max(1);
        match self.config.sweep.order {
            SweepOrder::Sequential => (0..engines)
                .flat_map(|e| (0..levels).flat_map(move |l| (1..=trials).map(move |t| (e, l, t))))
                .collect(),
            SweepOrder::Interleaved => (0..levels)
                .flat_map(|l| (1..=trials).flat_map(move |t| (0..engines).map(move |e| (e, l, t))))
                .collect(),
        }
    }

    /// The prompt of request `request` of level `level` (warmup requests count from
    /// `u64::MAX` down, so they never shift the measured sequence). The same for every engine.
    pub fn prompt_index(&self, level: usize, request: u64) -> usize {
        let n = self.prompts.len().max(1) as u64;
        (mix(self.seed ^ mix(level as u64 + 1) ^ mix(request.wrapping_add(0x9E37))) % n) as usize
    }

    /// Measured requests at level value `level`: `[sweep]`'s count, and with a trace at most
    /// its length (the whole trace when no count is set, duration-bound or not).
    pub fn request_limit(&self, level: f64) -> Option<u64> {
        let sweep = &self.config.sweep;
        match &self.schedule {
            Some(trace) => {
                let len = trace.len() as u64;
                Some(sweep.requests_per_level.map_or(len, |n| n.min(len)))
            }
            None => sweep.request_limit(level),
        }
    }

    /// The prompt a request sends: trace line k for request k of a trace (warmup too: a
    /// warmup replays the trace's start), else the seeded draw of [`Plan::prompt_index`].
    pub fn prompt_for(&self, pos: RequestPos) -> usize {
        match &self.schedule {
            Some(trace) => (pos.index % trace.len().max(1) as u64) as usize,
            None => self.prompt_index(pos.level_index, pos.sequence()),
        }
    }

    /// The body of a request for prompt `prompt` on `engine`: the plan's bytes, and with
    /// `[prompts] cache = "bust"` the request's prefix joined in (one allocation). The prefix
    /// is one per request, or with a trace one per (level, trial, phase): the trace's own
    /// block sharing stays, and no level reuses another's cache.
    pub fn body(&self, engine: usize, prompt: usize, pos: RequestPos) -> Bytes {
        let engine = &self.engines[engine];
        let body = &engine.bodies[prompt];
        match engine.prefix_at.get(prompt) {
            Some(&at) => {
                let sequence = match self.schedule {
                    Some(_) => u64::from(pos.warmup),
                    None => pos.sequence(),
                };
                cache::join(body, at, &self.bust_prefix(pos, sequence))
            }
            None => body.clone(),
        }
    }

    /// `[prompts] cache = "bust"`: the prefix of request `sequence` of `pos`'s level, trial
    /// and run.
    fn bust_prefix(&self, pos: RequestPos, sequence: u64) -> [u8; cache::PREFIX_LEN] {
        cache::prefix(cache::prefix_key(
            self.seed ^ self.bust_nonce,
            pos.level_index,
            pos.trial,
            sequence,
        ))
    }

    /// The body of turn `turn` (0-based) of the conversation at prompt index `prompt`, after
    /// the model's `answers` to the turns before it: the whole history, and with `cache =
    /// "bust"` the conversation's prefix (one per conversation, so its turns share their
    /// history's cache and no other conversation does). Turn 0 is [`Plan::body`]'s bytes.
    pub fn turn_body(
        &self,
        engine: usize,
        prompt: usize,
        pos: RequestPos,
        turn: usize,
        answers: &[String],
    ) -> Bytes {
        let Some(chat) = self.conversations.as_ref().and_then(|c| c.get(prompt)) else {
            return self.body(engine, prompt, pos);
        };
        if turn == 0 {
            return self.body(engine, prompt, pos);
        }
        let mut history = chat.prompt(turn, answers);
        if self.config.prompts.cache == Some(CacheMode::Bust) {
            let prefix = self.bust_prefix(pos, pos.sequence());
            history = cache::with_prefix(&history, std::str::from_utf8(&prefix).unwrap_or(""));
        }
        request_body(&self.config, &self.config.engines[engine], &history)
    }

    /// Conversations and their requests in a phase of `requests` requests: conversation k
    /// (of the level's seeded sequence) starts while the turns of those before it are fewer
    /// than `requests`, and then runs all its turns, so every engine runs the same
    /// conversations. `(u64::MAX, u64::MAX)` for a time-bound phase.
    pub fn conversation_budget(
        &self,
        level_index: usize,
        trial: u32,
        warmup: bool,
        requests: u64,
    ) -> (u64, u64) {
        let Some(chats) = &self.conversations else {
            return (requests, requests);
        };
        if requests == u64::MAX {
            return (u64::MAX, u64::MAX);
        }
        let (mut conversations, mut total) = (0u64, 0u64);
        while total < requests {
            let pos = RequestPos {
                level_index,
                trial,
                warmup,
                index: conversations,
            };
            let turns = chats.get(self.prompt_for(pos)).map_or(1, |c| c.turns.len());
            total += turns.max(1) as u64;
            conversations += 1;
        }
        (conversations, total)
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

/// A conversation's texts as prompts, for the fingerprint's hash: the system prompt, then
/// each user turn with its `max_tokens`.
fn conversation_texts(chat: &Conversation) -> Vec<Prompt> {
    let system = chat.system.iter().map(Prompt::text);
    let turns = chat.turns.iter().map(|t| Prompt {
        content: PromptContent::Text(t.text.clone()),
        max_tokens: t.max_tokens,
    });
    system.chain(turns).collect()
}

/// SplitMix64's finaliser: a cheap, well-spread hash of one u64.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Where a cache-busting prefix goes in `prompt`'s body: the first byte at which the bodies
/// of the prompt prefixed with `a` and with `b` differ.
fn prefix_point(config: &Config, engine: &EngineConfig, prompt: &Prompt) -> usize {
    let a = request_body(config, engine, &cache::with_prefix(prompt, "a"));
    let b = request_body(config, engine, &cache::with_prefix(prompt, "b"));
    cache::insertion_point(&a, &b)
}

/// The JSON body for one prompt: the shared generation parameters (the prompt's own
/// `max_tokens` over `[request]`'s), then `extra_body` on top. Messages-shaped prompts go
/// as they are on the chat API and as their joined contents on the completions API.
pub fn request_body(config: &Config, engine: &EngineConfig, prompt: &Prompt) -> Bytes {
    let request = &config.request;
    let mut body = Map::new();
    body.insert("model".into(), json!(engine.model));
    match (engine.api, &prompt.content) {
        (Api::Chat, PromptContent::Text(text)) => body.insert(
            "messages".into(),
            json!([{ "role": "user", "content": text }]),
        ),
        (Api::Chat, PromptContent::Messages(messages)) => {
            body.insert("messages".into(), json!(messages))
        }
        (Api::Completions, _) => body.insert("prompt".into(), json!(prompt.joined_text())),
    };
    body.insert(
        "max_tokens".into(),
        json!(prompt.max_tokens.unwrap_or(request.max_tokens)),
    );
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
    if let Some(seed) = request.sampling_seed {
        body.insert("seed".into(), json!(seed));
    }
    for (k, v) in &engine.extra_body {
        body.insert(k.clone(), v.clone());
    }
    Bytes::from(serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Sources;

    fn plan(toml: &str) -> Plan {
        let config = Config::load(&Sources {
            text: Some(("test.toml".into(), toml.to_string())),
            env: Some(HashMap::new()),
            ..Sources::default()
        })
        .unwrap_or_else(|e| panic!("config: {e}\n{toml}"));
        Plan::new(config, &|_| None).expect("plan")
    }

    const ENGINE: &str = "[[engines]]\nname = \"e\"\nurl = \"http://127.0.0.1:9/v1/chat/completions\"\nmodel = \"m\"\n";

    #[test]
    fn max_in_flight_is_the_largest_level_or_the_rate_cap() {
        // The client keeps this many idle connections per engine: fewer, and a level would
        // open new connections (their connect time landing in TTFT) as requests finish.
        let concurrency = plan(&format!("{ENGINE}[sweep]\nlevels = [1, 8, 4]\n"));
        assert_eq!(concurrency.max_in_flight(), 8);
        let one = plan(&format!("{ENGINE}[sweep]\nlevels = [1]\n"));
        assert_eq!(one.max_in_flight(), 1);
        let capped = plan(&format!(
            "{ENGINE}[sweep]\nmode = \"rate\"\nlevels = [2.0, 50.0]\nmax_concurrency = 5\n"
        ));
        assert_eq!(capped.max_in_flight(), 5, "the cap, not the rate");
        let uncapped = plan(&format!(
            "{ENGINE}[sweep]\nmode = \"rate\"\nlevels = [2.0, 4.0]\n"
        ));
        assert!(
            uncapped.max_in_flight() >= 64,
            "no cap: a generous pool, got {}",
            uncapped.max_in_flight()
        );
    }

    #[test]
    fn mix_is_splitmix64() {
        // SplitMix64's published output for state 0 (its n-th output is mix((n − 1) × γ)).
        // Arrival schedules and synthetic prompts are drawn from it too: a change would make
        // runs saved by earlier versions incomparable with new ones.
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let outputs: Vec<u64> = (0..5u64).map(|n| mix(n.wrapping_mul(GAMMA))).collect();
        assert_eq!(
            outputs,
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F,
                0xF88B_B8A8_724C_81EC,
                0x1B39_896A_51A8_749B,
            ]
        );
    }

    #[test]
    fn the_prompt_sequence_is_fixed_by_seed_level_and_request() {
        // Saved runs are compared and resumed across versions ("same seed, same prompts"):
        // the sequence a seed gives is part of the results' meaning, not an implementation
        // detail. These are the 6 built-in prompts' indices for seed 42.
        let p = plan(&format!(
            "{ENGINE}[sweep]\nlevels = [1, 2, 4]\n[request]\nseed = 42\n"
        ));
        assert_eq!(p.prompts.len(), 6);
        let sequence = |level: usize| -> Vec<usize> {
            (0..16)
                .map(|request| p.prompt_index(level, request))
                .collect()
        };
        assert_eq!(
            sequence(0),
            [0, 4, 0, 1, 3, 0, 4, 2, 0, 1, 2, 3, 5, 0, 2, 0]
        );
        assert_eq!(
            sequence(1),
            [4, 4, 2, 1, 1, 5, 2, 2, 4, 5, 2, 1, 5, 2, 1, 1]
        );
        assert_eq!(
            sequence(2),
            [0, 4, 2, 3, 5, 1, 3, 5, 5, 0, 1, 0, 4, 5, 3, 5]
        );
        // Warmup requests count down from u64::MAX.
        let warmup: Vec<usize> = (0..4).map(|k| p.prompt_index(0, u64::MAX - k)).collect();
        assert_eq!(warmup, [2, 4, 0, 3]);
        let seven = plan(&format!(
            "{ENGINE}[sweep]\nlevels = [1, 2]\n[request]\nseed = 7\n"
        ));
        let sequence: Vec<usize> = (0..16).map(|r| seven.prompt_index(1, r)).collect();
        assert_eq!(sequence, [0, 3, 5, 1, 1, 4, 1, 5, 2, 3, 3, 1, 3, 3, 0, 3]);
    }

    #[test]
    fn prompts_are_drawn_evenly_and_differ_by_seed_and_level() {
        let with_seed = |seed: u64| {
            plan(&format!(
                "{ENGINE}[sweep]\nlevels = [1, 2, 3, 4, 5, 6, 7, 8]\n[request]\nseed = {seed}\n"
            ))
        };
        let p = with_seed(42);
        let mut counts = [0u32; 6];
        for request in 0..6_000 {
            counts[p.prompt_index(3, request)] += 1;
        }
        // 1,000 expected each; ±15 % is over 5 standard deviations.
        assert!(
            counts.iter().all(|&c| (850..=1150).contains(&c)),
            "{counts:?}"
        );
        let sequence = |p: &Plan, level: usize| -> Vec<usize> {
            (0..48).map(|r| p.prompt_index(level, r)).collect()
        };
        let plans: Vec<Plan> = (1..=12).map(with_seed).collect();
        for level in 0..8 {
            let mut seen: Vec<Vec<usize>> = plans.iter().map(|p| sequence(p, level)).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(
                seen.len(),
                12,
                "two seeds gave the same sequence at level {level}"
            );
        }
        let levels: Vec<Vec<usize>> = (0..8).map(|l| sequence(&p, l)).collect();
        for (i, a) in levels.iter().enumerate() {
            for b in &levels[i + 1..] {
                assert_ne!(a, b, "two levels share one sequence");
            }
        }
    }
}
