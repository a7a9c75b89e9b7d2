//! Which engine wrote an exposition (recognised by its metric names), and its numbers in one
//! schema. A family an engine does not export stays `None` ("—"), never 0.

use serde::{Deserialize, Serialize};

use super::exposition::Exposition;
use super::histogram::Histogram;

/// The engines whose metric names are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schema {
    Vllm,
    Sglang,
    Tgi,
    LlamaCpp,
}

/// Where one engine keeps each normalised field. `None`: the engine has no such family.
struct Names {
    running: &'static str,
    waiting: &'static str,
    /// KV cache usage 0–1; the first name found is used (vLLM renamed it).
    kv_usage: &'static [&'static str],
    /// Counters of prefix-cache hit and queried tokens.
    prefix: Option<(&'static str, &'static str)>,
    /// A gauge of the prefix-cache hit rate 0–1 (SGLang), when no counters exist.
    prefix_rate: Option<&'static str>,
    preemptions: Option<&'static str>,
    ttft: Option<&'static str>,
    /// A counter of generated tokens, or a histogram whose `_sum` is that count (TGI).
    generation_tokens: &'static str,
}

impl Schema {
    pub const ALL: [Schema; 4] = [Schema::Vllm, Schema::Sglang, Schema::Tgi, Schema::LlamaCpp];

    pub fn as_str(self) -> &'static str {
        match self {
            Schema::Vllm => "vllm",
            Schema::Sglang => "sglang",
            Schema::Tgi => "tgi",
            Schema::LlamaCpp => "llama_cpp",
        }
    }

    fn names(self) -> Names {
        match self {
            Schema::Vllm => Names {
                running: "vllm:num_requests_running",
                waiting: "vllm:num_requests_waiting",
                kv_usage: &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
                prefix: Some((
                    "vllm:prefix_cache_hits_total",
                    "vllm:prefix_cache_queries_total",
                )),
                prefix_rate: None,
                preemptions: Some("vllm:num_preemptions_total"),
                ttft: Some("vllm:time_to_first_token_seconds"),
                generation_tokens: "vllm:generation_tokens_total",
            },
            Schema::Sglang => Names {
                running: "sglang:num_running_reqs",
                waiting: "sglang:num_queue_reqs",
                kv_usage: &["sglang:token_usage"],
                prefix: None,
                prefix_rate: Some("sglang:cache_hit_rate"),
                preemptions: None,
                ttft: Some("sglang:time_to_first_token_seconds"),
                generation_tokens: "sglang:generation_tokens_total",
            },
            Schema::Tgi => Names {
                running: "tgi_batch_current_size",
                waiting: "tgi_queue_size",
                kv_usage: &[],
                prefix: None,
                prefix_rate: None,
                preemptions: None,
                ttft: None,
                generation_tokens: "tgi_request_generated_tokens",
            },
            Schema::LlamaCpp => Names {
                running: "llamacpp:requests_processing",
                waiting: "llamacpp:requests_deferred",
                kv_usage: &["llamacpp:kv_cache_usage_ratio"],
                prefix: None,
                prefix_rate: None,
                preemptions: None,
                ttft: None,
                generation_tokens: "llamacpp:tokens_predicted_total",
            },
        }
    }

    /// The engine that wrote `exposition`: the first whose running-requests family is there.
    pub fn detect(exposition: &Exposition) -> Option<Schema> {
        Schema::ALL
            .into_iter()
            .find(|schema| exposition.has(schema.names().running))
    }

    /// The families this schema reads (their raw samples go to metrics.jsonl).
    pub fn families(self) -> Vec<&'static str> {
        let n = self.names();
        let mut out = vec![n.running, n.waiting, n.generation_tokens];
        out.extend(n.kv_usage);
        if let Some((hits, queries)) = n.prefix {
            out.extend([hits, queries]);
        }
        out.extend(n.prefix_rate);
        out.extend(n.preemptions);
        out.extend(n.ttft);
        out
    }

    /// The exposition's numbers in the common schema.
    pub fn read(self, exposition: &Exposition) -> EngineReading {
        let n = self.names();
        let generation_tokens = exposition.sum(n.generation_tokens).or_else(|| {
            exposition
                .histogram(n.generation_tokens)
                .map(|h| h.sum)
                .filter(|s| s.is_finite())
        });
        EngineReading {
            running: exposition.sum(n.running),
            waiting: exposition.sum(n.waiting),
            kv_usage: n.kv_usage.iter().find_map(|name| exposition.mean(name)),
            prefix_hits: n.prefix.and_then(|(hits, _)| exposition.sum(hits)),
            prefix_queries: n.prefix.and_then(|(_, queries)| exposition.sum(queries)),
            prefix_hit_rate: n.prefix_rate.and_then(|name| exposition.mean(name)),
            preemptions: n.preemptions.and_then(|name| exposition.sum(name)),
            generation_tokens,
            ttft: n.ttft.and_then(|name| exposition.histogram(name)),
        }
    }
}

/// One scrape of an engine, normalised. Gauges are as scraped; counters are cumulative
/// since the server started (levels use their deltas).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineReading {
    /// Requests in the running batch.
    pub running: Option<f64>,
    /// Requests queued, not yet scheduled.
    pub waiting: Option<f64>,
    /// KV cache in use, 0–1.
    pub kv_usage: Option<f64>,
    /// Prefix-cache hit tokens (counter).
    pub prefix_hits: Option<f64>,
    /// Prefix-cache queried tokens (counter).
    pub prefix_queries: Option<f64>,
    /// The engine's own prefix-cache hit rate 0–1 (a gauge; SGLang).
    pub prefix_hit_rate: Option<f64>,
    /// Requests preempted (counter).
    pub preemptions: Option<f64>,
    /// Tokens generated (counter).
    pub generation_tokens: Option<f64>,
    /// The server's time-to-first-token histogram, seconds.
    pub ttft: Option<Histogram>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SGLANG: &str = "\
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name=\"m\",tp_rank=\"0\"} 3
sglang:num_running_reqs{model_name=\"m\",tp_rank=\"1\"} 2
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name=\"m\"} 4
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name=\"m\"} 0.52
# TYPE sglang:cache_hit_rate gauge
sglang:cache_hit_rate{model_name=\"m\"} 0.28
# TYPE sglang:generation_tokens_total counter
sglang:generation_tokens_total{model_name=\"m\"} 1200
";

    #[test]
    fn sglang_is_recognised_and_sums_its_ranks() {
        let e = Exposition::parse(SGLANG).unwrap();
        assert_eq!(Schema::detect(&e), Some(Schema::Sglang));
        let r = Schema::Sglang.read(&e);
        assert_eq!(r.running, Some(5.0));
        assert_eq!(r.waiting, Some(4.0));
        assert_eq!(r.kv_usage, Some(0.52));
        assert_eq!(r.prefix_hit_rate, Some(0.28));
        assert_eq!(r.generation_tokens, Some(1200.0));
        assert_eq!((r.preemptions, r.ttft), (None, None));
    }

    #[test]
    fn tgi_and_llama_cpp_are_recognised_with_their_own_names() {
        let tgi = Exposition::parse(
            "tgi_batch_current_size 7\ntgi_queue_size 2\n# TYPE tgi_request_generated_tokens histogram\ntgi_request_generated_tokens_bucket{le=\"+Inf\"} 3\ntgi_request_generated_tokens_sum 96\ntgi_request_generated_tokens_count 3\n",
        )
        .unwrap();
        assert_eq!(Schema::detect(&tgi), Some(Schema::Tgi));
        let r = Schema::Tgi.read(&tgi);
        assert_eq!((r.running, r.waiting), (Some(7.0), Some(2.0)));
        assert_eq!(r.generation_tokens, Some(96.0));
        assert_eq!(r.kv_usage, None);

        let llama = Exposition::parse(
            "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 1\nllamacpp:requests_deferred 0\nllamacpp:kv_cache_usage_ratio 0.25\nllamacpp:tokens_predicted_total 40\n",
        )
        .unwrap();
        assert_eq!(Schema::detect(&llama), Some(Schema::LlamaCpp));
        let r = Schema::LlamaCpp.read(&llama);
        assert_eq!(
            (r.running, r.waiting, r.kv_usage),
            (Some(1.0), Some(0.0), Some(0.25))
        );
        assert_eq!(r.generation_tokens, Some(40.0));
    }

    #[test]
    fn an_unknown_exporter_has_no_schema() {
        let e = Exposition::parse("process_cpu_seconds_total 12.5\n").unwrap();
        assert_eq!(Schema::detect(&e), None);
    }
}
