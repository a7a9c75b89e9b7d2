//! The fingerprint of a run: every setting that changes its numbers, as `key → value`, stored
//! in `results.json` (`workload.fingerprint`) so `run --resume` can refuse a config that
//! would measure something else, naming the first key that differs.
//!
//! Values are readable (`128`, `unset`, `[1, 2, 4]`, compact JSON) except two short FNV-1a
//! hashes: the prompts' contents (too long to store) and the headers' values (they may carry
//! secrets: only their names are shown). Timeouts, the run order, names of folders and charts
//! are left out: they change what is kept, not what a request measures.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::time::Duration;

use crate::config::{Config, EngineConfig};
use crate::workload::{Prompt, PromptContent};

/// The fingerprint of `config` with `prompts` loaded from `source` (its description), and a
/// trace's arrival times when one is replayed.
pub fn of(
    config: &Config,
    prompts: &[Prompt],
    source: &str,
    schedule: Option<&[Duration]>,
) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    let mut put = |key: String, value: String| {
        keys.insert(key, value);
    };
    let names: Vec<&str> = config.engines.iter().map(|e| e.name.as_str()).collect();
    put("engines".into(), list(&names));
    for (i, engine) in config.engines.iter().enumerate() {
        for (key, value) in engine_keys(engine) {
            put(format!("engines[{i}].{key}"), value);
        }
    }
    let sweep = &config.sweep;
    put("sweep.mode".into(), sweep.mode.as_str().into());
    if sweep.levels.is_auto() {
        put("sweep.levels".into(), "auto".into());
        let auto = serde_json::to_string(&sweep.auto).unwrap_or_default();
        put("sweep.auto".into(), auto);
    } else {
        put("sweep.levels".into(), list(&sweep.levels));
    }
    // Only when set: runs saved before trials existed keep their fingerprint.
    if sweep.trials != 1 {
        put("sweep.trials".into(), sweep.trials.to_string());
    }
    put(
        "sweep.requests_per_level".into(),
        optional(sweep.requests_per_level),
    );
    put("sweep.duration_s".into(), optional(sweep.duration_s));
    put(
        "sweep.warmup_requests".into(),
        sweep.warmup_requests.to_string(),
    );
    // Only when set: runs saved before it existed keep their fingerprint.
    if let Some(warmup_s) = sweep.warmup_s {
        put("sweep.warmup_s".into(), warmup_s.to_string());
    }
    put("sweep.burstiness".into(), sweep.burstiness.to_string());
    put(
        "sweep.max_concurrency".into(),
        sweep.max_concurrency.to_string(),
    );
    let request = &config.request;
    put("request.max_tokens".into(), request.max_tokens.to_string());
    put("request.temperature".into(), optional(request.temperature));
    put("request.top_p".into(), optional(request.top_p));
    put("request.seed".into(), request.seed.to_string());
    put(
        "request.sampling_seed".into(),
        optional(request.sampling_seed),
    );
    put("prompts.source".into(), source.into());
    put("prompts.hash".into(), hex(prompts_hash(prompts)));
    if let Some(schedule) = schedule {
        let mut hash = Fnv::new();
        for at in schedule {
            hash.field(&(at.as_nanos() as u64).to_le_bytes());
        }
        put("prompts.schedule".into(), hex(hash.0));
    }
    // Only when set: runs saved before it existed keep their fingerprint.
    if let Some(cache) = config.prompts.cache {
        put("prompts.cache".into(), cache.as_str().into());
    }
    if let Some(chats) = config.prompts.conversations {
        put(
            "prompts.conversations".into(),
            format!(
                "turns {}, turn_delay_ms {}",
                optional(chats.turns),
                chats.turn_delay_ms
            ),
        );
    }
    let slo = &config.slo;
    put("slo.ttft_ms".into(), optional(slo.ttft_ms));
    put("slo.tpot_ms".into(), optional(slo.tpot_ms));
    put("slo.e2e_ms".into(), optional(slo.e2e_ms));
    put("slo.attainment".into(), slo.attainment.to_string());
    keys
}

/// Why a run fingerprinted `saved` cannot be continued with a config fingerprinted `config`:
/// the first key (in key order) whose value differs, as `<key> differs (saved …, config …)`.
/// A key the saved run did not record differs too. `None` when every key matches.
pub fn difference(
    saved: &BTreeMap<String, String>,
    config: &BTreeMap<String, String>,
) -> Option<String> {
    config.iter().find_map(|(key, value)| match saved.get(key) {
        Some(old) if old == value => None,
        Some(old) => Some(format!("{key} differs (saved {old}, config {value})")),
        None => Some(format!(
            "{key} differs (saved: not recorded, config {value})"
        )),
    })
}

/// An engine's keys, without the `engines[i].` prefix.
fn engine_keys(engine: &EngineConfig) -> [(&'static str, String); 6] {
    let extra_body = serde_json::to_string(&engine.extra_body).unwrap_or_default();
    let headers = if engine.headers.is_empty() {
        "none".to_string()
    } else {
        let mut hash = Fnv::new();
        for (name, value) in &engine.headers {
            hash.field(name.as_bytes());
            hash.field(value.as_bytes());
        }
        let names: Vec<&str> = engine.headers.keys().map(String::as_str).collect();
        format!("{} (values {})", names.join(", "), hex(hash.0))
    };
    [
        ("url", engine.url.clone()),
        ("model", engine.model.clone()),
        ("api", engine.api.as_str().into()),
        ("extra_body", extra_body),
        ("headers", headers),
        ("stream_usage", engine.stream_usage.to_string()),
    ]
}

/// A hash of every prompt's content (text, or each message's role and content) and its own
/// `max_tokens`, in order.
fn prompts_hash(prompts: &[Prompt]) -> u64 {
    let mut hash = Fnv::new();
    for prompt in prompts {
        match &prompt.content {
            PromptContent::Text(text) => {
                hash.field(b"text");
                hash.field(text.as_bytes());
            }
            PromptContent::Messages(messages) => {
                hash.field(b"messages");
                hash.field(&(messages.len() as u64).to_le_bytes());
                for message in messages {
                    hash.field(message.role.as_bytes());
                    hash.field(message.content.as_bytes());
                }
            }
        }
        match prompt.max_tokens {
            Some(n) => hash.field(&n.to_le_bytes()),
            None => hash.field(b"-"),
        }
    }
    hash.0
}

/// FNV-1a, 64 bit: a fixed algorithm, so fingerprints compare across builds and Rust
/// versions (std's hasher promises neither).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// One field, length first, so `("ab", "c")` and `("a", "bc")` differ.
    fn field(&mut self, bytes: &[u8]) {
        self.bytes(&(bytes.len() as u64).to_le_bytes());
        self.bytes(bytes);
    }
}

fn hex(hash: u64) -> String {
    format!("fnv1a:{hash:016x}")
}

fn optional<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "unset".into(), |v| v.to_string())
}

fn list<T: Display>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(T::to_string).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        let mut hash = Fnv::new();
        hash.bytes(b"");
        assert_eq!(hash.0, 0xcbf2_9ce4_8422_2325);
        hash.bytes(b"a");
        assert_eq!(hash.0, 0xaf63_dc4c_8601_ec8c);
        let mut hash = Fnv::new();
        hash.bytes(b"foobar");
        assert_eq!(hash.0, 0x8594_4171_f739_67e8);
    }

    #[test]
    fn prompts_hash_sees_content_shape_and_lengths() {
        let text = Prompt::text("hello world");
        let base = prompts_hash(std::slice::from_ref(&text));
        assert_eq!(base, prompts_hash(&[Prompt::text("hello world")]));
        assert_ne!(base, prompts_hash(&[Prompt::text("hello  world")]));
        let longer = Prompt {
            max_tokens: Some(8),
            ..text.clone()
        };
        assert_ne!(base, prompts_hash(&[longer]));
        assert_ne!(
            prompts_hash(&[Prompt::text("ab"), Prompt::text("c")]),
            prompts_hash(&[Prompt::text("a"), Prompt::text("bc")])
        );
    }
}
