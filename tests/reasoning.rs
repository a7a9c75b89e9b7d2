//! Reasoning models: time to first answer (TTFA) beside TTFT, time to first reasoning token
//! (TTFR), reasoning tokens from usage or counted from chunks, per request and per level.
//!
//! First against a hand-written server on tokio's paused clock, every chunk in its own
//! write at a known time, so each stamp is exact; then against the simulator's `fixed`
//! profile with reasoning (50 ms prefill, 10 ms a token: TTFT 60 ms, TTFA 60 + 10 × N ms).

use crate::common;

use common::*;
use llmsweep::client::Timings;
use llmsweep::sim::{Faults, Profile, FIXED};

const ROLE: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning_content":null},"logprobs":null,"finish_reason":null}]}"#;
const THINK: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"reasoning_content":" hmm"},"logprobs":null,"finish_reason":null}]}"#;
/// Newer vLLM's name for the same delta.
const THINK_NEW: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"reasoning":" so"},"logprobs":null,"finish_reason":null}]}"#;
const ANSWER: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" yes"},"logprobs":null,"finish_reason":null}]}"#;
const FINISH: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop"}]}"#;
/// Usage with both details: 7 reasoning tokens (not the 2 chunks), 16 of 40 prompt tokens cached.
const USAGE_DETAILED: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":40,"total_tokens":49,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":16},"completion_tokens_details":{"reasoning_tokens":7}}}"#;
const USAGE_PLAIN: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":40,"total_tokens":44,"completion_tokens":4}}"#;

async fn send_one(url: &str, api: &str) -> Timings {
    tokio::time::timeout(GUARD, client(url).send(body(api, 9, true), "r-1"))
        .await
        .expect("request hung")
        .unwrap_or_else(|e| panic!("request failed: {e:?}"))
}

/// Role at 10 ms, reasoning at 30 and 40 ms, the answer at 60 and 70 ms, then the finish
/// chunk and `usage`.
fn reasoning_stream(usage: &'static str) -> Vec<(u64, &'static str)> {
    vec![
        (10, ROLE),
        (20, THINK),
        (10, THINK_NEW),
        (20, ANSWER),
        (10, ANSWER),
        (10, FINISH),
        (10, usage),
        (0, "[DONE]"),
    ]
}

#[tokio::test(start_paused = true)]
async fn ttfa_is_the_first_answer_chunk_after_the_reasoning_and_ttft_is_unchanged() {
    let url = stepped_server(reasoning_stream(USAGE_DETAILED)).await;
    let t = send_one(&url, "chat").await;
    assert_eq!(
        t.ttft_us, 30_000,
        "TTFT: the first output of either kind: {t:?}"
    );
    assert_eq!(
        t.ttfr_us,
        Some(30_000),
        "TTFR: the first reasoning chunk: {t:?}"
    );
    assert_eq!(
        t.ttfa_us,
        Some(60_000),
        "TTFA: the first content chunk, not the reasoning ones (30, 40 ms): {t:?}"
    );
    assert_eq!(t.e2e_us, 70_000, "{t:?}");
    assert_eq!(
        t.itl_us,
        vec![10_000, 20_000, 10_000],
        "every output chunk: {t:?}"
    );
    // The engine's counts win over the two reasoning chunks.
    assert_eq!(
        (t.reasoning_tokens, t.reasoning_tokens_estimated),
        (Some(7), false)
    );
    assert_eq!((t.output_tokens, t.input_tokens), (9, Some(40)));
    assert_eq!(t.cached_tokens, Some(16));
}

#[tokio::test(start_paused = true)]
async fn without_usage_details_reasoning_tokens_are_the_reasoning_chunks_flagged_estimated() {
    let url = stepped_server(reasoning_stream(USAGE_PLAIN)).await;
    let t = send_one(&url, "chat").await;
    assert_eq!(
        (t.ttfr_us, t.ttfa_us),
        (Some(30_000), Some(60_000)),
        "{t:?}"
    );
    assert_eq!(
        (t.reasoning_tokens, t.reasoning_tokens_estimated),
        (Some(2), true)
    );
    assert!(
        !t.output_tokens_estimated,
        "usage still gave the output count"
    );
    assert_eq!(t.cached_tokens, None, "not reported: absent, not 0");
}

#[tokio::test(start_paused = true)]
async fn a_reply_that_only_reasons_succeeds_without_a_ttfa() {
    let url = stepped_server(vec![
        (10, ROLE),
        (20, THINK),
        (10, THINK),
        (10, FINISH),
        (0, "[DONE]"),
    ])
    .await;
    let t = send_one(&url, "chat").await;
    assert_eq!(
        (t.ttft_us, t.ttfr_us, t.ttfa_us),
        (30_000, Some(30_000), None)
    );
    assert_eq!(t.e2e_us, 40_000);
}

#[tokio::test(start_paused = true)]
async fn a_reply_without_reasoning_has_ttfa_equal_to_ttft() {
    let url = stepped_server(vec![
        (10, ROLE),
        (20, ANSWER),
        (10, ANSWER),
        (10, FINISH),
        (10, USAGE_PLAIN),
        (0, "[DONE]"),
    ])
    .await;
    let t = send_one(&url, "chat").await;
    assert_eq!(
        (t.ttft_us, t.ttfr_us, t.ttfa_us),
        (30_000, None, Some(30_000))
    );
    assert_eq!(t.reasoning_tokens, None);
    // The completions API has no reasoning: its text is the answer.
    let text = r#"{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" yes","logprobs":null,"finish_reason":null}]}"#;
    let url = stepped_server(vec![(30, text), (10, text), (10, FINISH), (0, "[DONE]")]).await;
    let t = send_one(&url, "completions").await;
    assert_eq!(
        (t.ttft_us, t.ttfr_us, t.ttfa_us),
        (30_000, None, Some(30_000))
    );
}

// ---- the simulator, through the driver ---------------------------------------------------

/// `fixed` with `n` reasoning tokens.
fn thinking(n: u32) -> Profile {
    Profile {
        reasoning_tokens: n,
        ..FIXED
    }
}

/// One engine at `url` over one level of `requests` (`api`, with or without usage).
fn level_plan(
    url: String,
    api: &str,
    stream_usage: bool,
    c: u32,
    requests: u64,
    max_tokens: u32,
) -> llmsweep::plan::Plan {
    plan(config(&toml_for(
        &[EngineDef {
            name: "think",
            url,
            api,
            stream_usage,
        }],
        &[c],
        requests,
        max_tokens,
        30.0,
    )))
}

fn near(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() < 0.5)
}

/// 5 reasoning tokens of 12: the first answer token is 5 decode steps (50 ms) after the
/// first token, and 5 / 12 of the output is reasoning.
#[tokio::test(start_paused = true)]
async fn the_simulators_reasoning_delays_the_answer_by_its_decode_steps() {
    let sim = sim(thinking(5), Faults::default()).await;
    let (l, requests, json) = first_level(Run::start(level_plan(
        sim.chat_url(),
        "chat",
        true,
        1,
        4,
        12,
    )))
    .await;
    assert_eq!(l.completed, 4);
    assert!(
        near(l.mean_ttft_ms, 60.0),
        "TTFT as ever: {:?}",
        l.mean_ttft_ms
    );
    let r = &l.reasoning;
    for (name, v) in [
        ("mean", r.mean_ttfa_ms),
        ("median", r.median_ttfa_ms),
        ("p90", r.p90_ttfa_ms),
        ("p95", r.p95_ttfa_ms),
        ("p99", r.p99_ttfa_ms),
    ] {
        assert!(near(v, 60.0 + 5.0 * 10.0), "{name} TTFA: {v:?}");
    }
    assert!(
        near(r.mean_ttfr_ms, 60.0) && near(r.p99_ttfr_ms, 60.0),
        "{r:?}"
    );
    assert_eq!((r.reasoning_requests, r.unanswered_requests), (4, 0));
    assert_eq!(r.total_reasoning_tokens, Some(20));
    assert_eq!(l.total_output_tokens, 48);
    assert_eq!(r.reasoning_share, Some(5.0 / 12.0));
    assert!(
        !r.reasoning_tokens_estimated,
        "usage had completion_tokens_details"
    );
    // results.json: flat, vLLM-style names.
    assert!(near(json["mean_ttfa_ms"].as_f64(), 110.0), "{json}");
    assert_eq!(json["total_reasoning_tokens"], 20);
    assert!(
        json.get("reasoning_tokens_estimated").is_none(),
        "false is left out"
    );
    // requests.jsonl, per request.
    assert_eq!(requests.len(), 4);
    for line in &requests {
        assert!(near(line["ttfr_ms"].as_f64(), 60.0), "{line}");
        assert!(near(line["ttfa_ms"].as_f64(), 110.0), "{line}");
        assert_eq!(line["reasoning_tokens"], 5, "{line}");
        assert!(line.get("reasoning_tokens_estimated").is_none(), "{line}");
    }
}

#[tokio::test(start_paused = true)]
async fn without_usage_the_reasoning_chunks_are_counted_and_flagged() {
    let sim = sim(thinking(5), Faults::default()).await;
    let (l, requests, json) = first_level(Run::start(level_plan(
        sim.chat_url(),
        "chat",
        false,
        2,
        4,
        12,
    )))
    .await;
    let r = &l.reasoning;
    assert_eq!(r.total_reasoning_tokens, Some(20), "5 chunks × 4 replies");
    assert!(r.reasoning_tokens_estimated && l.output_tokens_estimated);
    assert_eq!(r.reasoning_share, Some(5.0 / 12.0));
    assert_eq!(json["reasoning_tokens_estimated"], true);
    assert!(requests
        .iter()
        .all(|line| line["reasoning_tokens"] == 5 && line["reasoning_tokens_estimated"] == true));
}

#[tokio::test(start_paused = true)]
async fn reasoning_that_fills_max_tokens_never_answers_and_has_no_ttfa() {
    let sim = sim(thinking(12), Faults::default()).await;
    let (l, requests, json) = first_level(Run::start(level_plan(
        sim.chat_url(),
        "chat",
        true,
        1,
        3,
        8,
    )))
    .await;
    assert_eq!(
        (l.completed, l.failed),
        (3, 0),
        "a reply of reasoning only is no error"
    );
    let r = &l.reasoning;
    assert_eq!((r.reasoning_requests, r.unanswered_requests), (3, 3));
    assert_eq!(r.mean_ttfa_ms, None, "never made up");
    assert!(near(r.mean_ttfr_ms, 60.0), "{r:?}");
    assert_eq!(r.reasoning_share, Some(1.0));
    assert!(json.get("mean_ttfa_ms").is_none(), "{json}");
    assert_eq!(json["unanswered_requests"], 3);
    for line in &requests {
        assert!(
            line.get("ttfr_ms").is_some() && line.get("ttfa_ms").is_none(),
            "{line}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn without_reasoning_no_reasoning_field_is_written() {
    // The completions API never reasons, even on a reasoning profile; nor does a profile
    // without reasoning.
    let sim_thinking = sim(thinking(5), Faults::default()).await;
    let sim_plain = sim(FIXED, Faults::default()).await;
    for plan in [
        level_plan(
            sim_thinking.completions_url(),
            "completions",
            true,
            1,
            2,
            12,
        ),
        level_plan(sim_plain.chat_url(), "chat", true, 1, 2, 12),
    ] {
        let (l, requests, json) = first_level(Run::start(plan)).await;
        assert_eq!(l.completed, 2);
        assert!(!l.reasoning.any(), "{:?}", l.reasoning);
        for key in [
            "mean_ttfa_ms",
            "mean_ttfr_ms",
            "reasoning_requests",
            "total_reasoning_tokens",
            "reasoning_share",
            "total_cached_tokens",
            "cached_fraction",
        ] {
            assert!(json.get(key).is_none(), "{key} in {json}");
        }
        for line in &requests {
            for key in ["ttfa_ms", "ttfr_ms", "reasoning_tokens", "cached_tokens"] {
                assert!(line.get(key).is_none(), "{key} in {line}");
            }
        }
    }
}
