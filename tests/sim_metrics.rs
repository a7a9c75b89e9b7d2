//! `GET /metrics` on the simulator: vLLM's Prometheus exposition, with values that follow
//! what the scheduler did and what the clients saw. On tokio's paused clock, so the
//! simulator's timings (and the batch's shape at any instant) don't depend on this machine.
//!
//! The exposition is read with plain string matching (`name{labels} value` lines).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use llmsweep::sim::{self, Faults, Profile, SimConfig, SimServer, FIXED};
use serde_json::{json, Value};
use tokio::time::Instant;

/// The labels every simulator sample carries.
const LABELS: &str = "engine=\"0\",model_name=\"sim\"";

fn client() -> reqwest::Client {
    // reqwest with `rustls-no-provider` panics at build time without a process default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn start(profile: Profile, timing_log: Option<PathBuf>) -> SimServer {
    sim::spawn(SimConfig {
        profile,
        faults: Faults::default(),
        seed: 1,
        timing_log,
    })
    .await
    .expect("spawn sim")
}

/// A streamed chat request with a `words`-word prompt (⌈1.3 × words⌉ prompt tokens).
fn body(words: usize, max_tokens: u32, stream: bool) -> Value {
    json!({
        "model": "whatever",
        "messages": [{"role": "user", "content": "word ".repeat(words)}],
        "max_tokens": max_tokens,
        "stream": stream,
        "stream_options": {"include_usage": true},
    })
}

/// What one client saw of a streamed response.
#[derive(Debug)]
struct Seen {
    /// From sending the request to the first non-empty content chunk.
    ttft: Duration,
    /// Non-empty content chunks.
    tokens: u64,
    /// Role-only chunks.
    roles: u64,
    /// The usage chunk's `prompt_tokens`.
    prompt_tokens: u64,
}

async fn stream(c: &reqwest::Client, url: &str, id: &str, body: Value) -> Seen {
    let t0 = Instant::now();
    let resp = c
        .post(url)
        .header("x-request-id", id)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let mut bytes = resp.bytes_stream();
    let (mut buf, mut ttft) = (Vec::new(), None);
    let (mut tokens, mut roles, mut prompt_tokens) = (0, 0, 0);
    while let Some(chunk) = bytes.next().await {
        buf.extend_from_slice(&chunk.expect("body"));
        while let Some(pos) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..pos + 2).collect();
            let text = String::from_utf8(event).expect("utf8");
            let data = text.trim_end().strip_prefix("data: ").expect("data:");
            if data == "[DONE]" {
                continue;
            }
            let v: Value = serde_json::from_str(data).expect("json");
            if let Some(p) = v["usage"]["prompt_tokens"].as_u64() {
                prompt_tokens = p;
            }
            let delta = &v["choices"][0]["delta"];
            if delta["role"].is_string() {
                roles += 1;
            } else if delta["content"].as_str().is_some_and(|s| !s.is_empty()) {
                tokens += 1;
                ttft.get_or_insert(t0.elapsed());
            }
        }
    }
    Seen {
        ttft: ttft.expect("a content token"),
        tokens,
        roles,
        prompt_tokens,
    }
}

async fn scrape(c: &reqwest::Client, sim: &SimServer) -> String {
    let resp = c
        .get(format!("{}/metrics", sim.base_url()))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    resp.text().await.expect("exposition")
}

/// The value of the sample line `series value`; panics (showing the text) if absent.
fn value(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[prefix.len()..]
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// `name{engine="0",model_name="sim"}`'s value.
fn sample(text: &str, name: &str) -> f64 {
    value(text, &format!("{name}{{{LABELS}}}"))
}

/// A histogram's cumulative bucket `le`.
fn bucket(text: &str, name: &str, le: &str) -> f64 {
    value(
        text,
        &format!("{name}_bucket{{engine=\"0\",le=\"{le}\",model_name=\"sim\"}}"),
    )
}

const TTFT: &str = "vllm:time_to_first_token_seconds";
const E2E: &str = "vllm:e2e_request_latency_seconds";

/// Six streamed requests on `fixed` (three at once, then three one by one): the token
/// counters equal what the clients received, the TTFT histogram holds one observation per
/// request, each the simulator's own `--timing-log` stamp, never later than the client's
/// TTFT and never under the profile's 60 ms.
#[tokio::test(start_paused = true)]
async fn counters_and_ttft_match_what_the_clients_saw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("timing.jsonl");
    let sim = start(FIXED, Some(log.clone())).await;
    let c = client();
    let url = sim.chat_url();
    let empty = scrape(&c, &sim).await;
    assert_eq!(sample(&empty, "vllm:generation_tokens_total"), 0.0);
    assert_eq!(sample(&empty, &format!("{TTFT}_count")), 0.0);

    let (a, b, cc) = tokio::join!(
        stream(&c, &url, "r0", body(10, 4, true)),
        stream(&c, &url, "r1", body(3, 7, true)),
        stream(&c, &url, "r2", body(20, 1, true)),
    );
    let mut seen = vec![a, b, cc];
    for (i, (words, max_tokens)) in [(1, 2), (7, 9), (30, 5)].into_iter().enumerate() {
        let id = format!("r{}", i + 3);
        seen.push(stream(&c, &url, &id, body(words, max_tokens, true)).await);
    }
    let text = scrape(&c, &sim).await;

    let tokens: u64 = seen.iter().map(|s| s.tokens).sum();
    assert_eq!(tokens, 4 + 7 + 1 + 2 + 9 + 5);
    assert_eq!(sample(&text, "vllm:generation_tokens_total"), tokens as f64);
    let prompt: u64 = seen.iter().map(|s| s.prompt_tokens).sum();
    assert_eq!(prompt, 13 + 4 + 26 + 2 + 10 + 39);
    assert_eq!(sample(&text, "vllm:prompt_tokens_total"), prompt as f64);
    assert_eq!(
        sample(&text, "vllm:prefix_cache_queries_total"),
        prompt as f64
    );
    assert_eq!(sample(&text, "vllm:prefix_cache_hits_total"), 0.0);
    assert_eq!(sample(&text, "vllm:num_preemptions_total"), 0.0);

    // One TTFT per request, in the buckets and the count.
    let n = seen.len() as f64;
    assert_eq!(sample(&text, &format!("{TTFT}_count")), n);
    assert_eq!(bucket(&text, TTFT, "+Inf"), n);
    assert_eq!(bucket(&text, TTFT, "0.04"), 0.0, "none under 60 ms");
    assert_eq!(sample(&text, &format!("{E2E}_count")), n);
    // The same stamp as the timing log: each at most the client's TTFT, and the sum is
    // theirs, to the microsecond.
    let logged: BTreeMap<String, u64> = std::fs::read_to_string(&log)
        .expect("timing log")
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("timing line");
            let id = v["request_id"].as_str().expect("id").to_string();
            (id, v["server_ttft_us"].as_u64().expect("us"))
        })
        .collect();
    assert_eq!(logged.len(), seen.len());
    for (i, s) in seen.iter().enumerate() {
        let server_us = logged[&format!("r{i}")];
        assert!(server_us >= 60_000, "r{i}: {server_us} µs");
        assert!(
            u128::from(server_us) <= s.ttft.as_micros(),
            "r{i}: server {server_us} µs, client {:?}",
            s.ttft
        );
    }
    let sum = sample(&text, &format!("{TTFT}_sum"));
    let logged_sum = logged.values().sum::<u64>() as f64 / 1e6;
    assert!((sum - logged_sum).abs() < 1e-9, "{sum} vs log {logged_sum}");
    let client_sum: f64 = seen.iter().map(|s| s.ttft.as_secs_f64()).sum();
    assert!(sum >= 0.060 * n && sum <= client_sum, "{sum} {client_sum}");

    // Idle again.
    assert_eq!(sample(&text, "vllm:num_requests_running"), 0.0);
    assert_eq!(sample(&text, "vllm:num_requests_waiting"), 0.0);
    assert_eq!(sample(&text, "vllm:kv_cache_usage_perc"), 0.0);
}

/// Five long requests into a batch of two: while they run, 2 are running and 3 waiting,
/// and the cache holds their KV; once done, everything is back to 0 and every token and
/// TTFT is counted.
#[tokio::test(start_paused = true)]
async fn a_full_batch_runs_max_batch_queues_the_rest_then_idles_at_zero() {
    let profile = Profile {
        max_batch: 2,
        ..FIXED
    };
    let kv_tokens = profile.kv_tokens() as f64;
    let sim = start(profile, None).await;
    let c = client();
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let (c, url) = (c.clone(), sim.chat_url());
            // 10 words = 13 prompt tokens; 200 tokens take 2 s each.
            tokio::spawn(
                async move { stream(&c, &url, &format!("r{i}"), body(10, 200, true)).await },
            )
        })
        .collect();
    let mut text = String::new();
    for _ in 0..1_000 {
        text = scrape(&c, &sim).await;
        if sample(&text, "vllm:num_requests_waiting") == 3.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(sample(&text, "vllm:num_requests_waiting"), 3.0, "{text}");
    assert_eq!(sample(&text, "vllm:num_requests_running"), 2.0, "{text}");
    // Two sequences of 13 prompt tokens and at most 200 generated each.
    let kv = sample(&text, "vllm:kv_cache_usage_perc") * kv_tokens;
    assert!((26.0..=426.0).contains(&kv.round()), "{kv} KV tokens");
    assert!(sample(&text, "vllm:generation_tokens_total") < 400.0);

    let mut tokens = 0;
    for task in tasks {
        let seen = task.await.expect("stream task");
        assert_eq!((seen.tokens, seen.roles), (200, 1));
        tokens += seen.tokens;
    }
    let text = scrape(&c, &sim).await;
    assert_eq!(sample(&text, "vllm:num_requests_running"), 0.0);
    assert_eq!(sample(&text, "vllm:num_requests_waiting"), 0.0);
    assert_eq!(sample(&text, "vllm:kv_cache_usage_perc"), 0.0);
    assert_eq!(sample(&text, "vllm:generation_tokens_total"), tokens as f64);
    assert_eq!(sample(&text, &format!("{TTFT}_count")), 5.0);
    // The queued ones waited whole requests (≥ 2 s) for a slot.
    assert_eq!(bucket(&text, TTFT, "1.0"), 2.0, "{text}");
}

/// `fast-prefill`'s cache holds 8 × 72 = 576 tokens; eight 13 + 100 token requests need 904
/// at the end, so some are preempted, counted, and recompute their prompt and output so
/// far; every stream still gets all its tokens and a single role chunk, and the usage
/// gauge never shows more than a full cache.
#[tokio::test(start_paused = true)]
async fn a_full_kv_cache_preempts_counts_it_and_every_stream_completes() {
    let profile = Profile::by_name("fast-prefill").expect("fast-prefill");
    assert_eq!(profile.kv_tokens(), 576);
    let sim = start(profile, None).await;
    let c = client();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (c, url) = (c.clone(), sim.chat_url());
            tokio::spawn(
                async move { stream(&c, &url, &format!("r{i}"), body(10, 100, true)).await },
            )
        })
        .collect();
    let mut peak = 0.0f64;
    while !tasks.iter().all(|t| t.is_finished()) {
        let text = scrape(&c, &sim).await;
        let usage = sample(&text, "vllm:kv_cache_usage_perc");
        assert!(usage <= 1.0, "{usage}");
        assert!(sample(&text, "vllm:num_requests_running") <= 8.0);
        peak = peak.max(usage);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(peak > 0.9, "the cache filled up: peak {peak}");
    for task in tasks {
        let seen = task.await.expect("stream task");
        assert_eq!((seen.tokens, seen.roles, seen.prompt_tokens), (100, 1, 13));
    }
    let text = scrape(&c, &sim).await;
    assert!(sample(&text, "vllm:num_preemptions_total") >= 1.0, "{text}");
    assert_eq!(sample(&text, "vllm:generation_tokens_total"), 800.0);
    assert_eq!(sample(&text, "vllm:prompt_tokens_total"), 8.0 * 13.0);
    assert!(sample(&text, "vllm:prefix_cache_queries_total") > 8.0 * 13.0);
    assert_eq!(sample(&text, "vllm:kv_cache_usage_perc"), 0.0);
    assert_eq!(sample(&text, "vllm:num_requests_waiting"), 0.0);
}

/// Non-streaming requests count too: TTFT at their first generated token, E2E at the last.
#[tokio::test(start_paused = true)]
async fn non_streaming_requests_are_timed_too() {
    let sim = start(FIXED, None).await;
    let c = client();
    let mut elapsed = Duration::ZERO;
    for _ in 0..2 {
        let t0 = Instant::now();
        let resp = c
            .post(sim.chat_url())
            .json(&body(10, 5, false))
            .send()
            .await
            .expect("send");
        let v: Value = resp.json().await.expect("json");
        elapsed += t0.elapsed();
        assert_eq!(v["usage"]["completion_tokens"], 5);
    }
    let text = scrape(&c, &sim).await;
    assert_eq!(sample(&text, "vllm:generation_tokens_total"), 10.0);
    assert_eq!(sample(&text, &format!("{TTFT}_count")), 2.0);
    // 60 ms each (50 ms prefill + one 10 ms decode), both well under 70 ms.
    let ttft = sample(&text, &format!("{TTFT}_sum"));
    assert!((0.120..0.140).contains(&ttft), "{ttft}");
    // 50 ms prefill + 5 × 10 ms decode each, within what the client waited.
    assert_eq!(sample(&text, &format!("{E2E}_count")), 2.0);
    let e2e = sample(&text, &format!("{E2E}_sum"));
    assert!(e2e >= 2.0 * 0.100 && e2e <= elapsed.as_secs_f64(), "{e2e}");
    assert_eq!(bucket(&text, E2E, "0.3"), 2.0);
}
