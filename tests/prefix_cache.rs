//! Prefix caching, measured: the simulator's prefix cache reports the cached part of a
//! repeated prompt in `usage.prompt_tokens_details.cached_tokens` and skips it in prefill;
//! the client records it per request (`cached_tokens`) and per level (`total_cached_tokens`,
//! `cached_fraction`). On tokio's paused clock with `fixed`'s 50 ms prefill and 10 ms steps,
//! plus 1 ms per uncached prompt token, so every number is exact.

use crate::common;

use common::*;
use llmsweep::sim::{Faults, Profile, FIXED};

/// 40 words: ceil(40 × 1.3) = 52 prompt tokens, two full blocks of 16 words.
fn prompt(salt: &str) -> String {
    (0..40)
        .map(|i| format!("{salt}{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn cached_profile(prefix_cache: bool) -> Profile {
    Profile {
        prefill_us_per_token: 1_000,
        prefix_cache,
        ..FIXED
    }
}

/// One engine at `url`, one level at concurrency 1, prompts from `pool`.
fn level_plan(url: String, requests: u64, pool: &[String]) -> llmsweep::plan::Plan {
    let mut toml = toml_for(&[EngineDef::chat("cache", url)], &[1], requests, 4, 30.0);
    toml.push_str(&format!("\n[prompts]\npool = {pool:?}\n"));
    plan(config(&toml))
}

// No preflight probe in these runs (`start_no_check`): it would warm the cache before the
// first measured request.

#[tokio::test(start_paused = true)]
async fn a_repeated_prompt_is_served_from_the_cache_and_its_ttft_falls() {
    let sim = sim(cached_profile(true), Faults::default()).await;
    let (l, requests, json) = first_level(Run::start_no_check(level_plan(
        sim.chat_url(),
        4,
        &[prompt("w")],
    )))
    .await;
    assert_eq!(l.completed, 4);
    let cached: Vec<u64> = requests
        .iter()
        .map(|r| r["cached_tokens"].as_u64().expect("cached_tokens"))
        .collect();
    // First sight misses; then its two full blocks (32 of 40 words): 52 × 32 / 40 → 41.
    assert_eq!(cached, [0, 41, 41, 41]);
    assert!(requests.iter().all(|r| r["input_tokens"] == 52));
    // Prefill 50 ms + 1 ms per uncached token, then one 10 ms step.
    let ttft: Vec<f64> = requests
        .iter()
        .map(|r| r["ttft_ms"].as_f64().expect("ttft_ms"))
        .collect();
    assert!((ttft[0] - 112.0).abs() < 0.5, "cold: {ttft:?}");
    for warm in &ttft[1..] {
        assert!((warm - 71.0).abs() < 0.5, "warm: {ttft:?}");
    }
    let c = &l.prefix_cache;
    assert_eq!(c.total_cached_tokens, Some(123));
    let fraction = 123.0 / 208.0;
    assert!(
        (c.cached_fraction.unwrap() - fraction).abs() < 1e-12,
        "{c:?}"
    );
    // results.json says it in vLLM-style names.
    assert_eq!(json["total_cached_tokens"], 123);
    assert!((json["cached_fraction"].as_f64().unwrap() - fraction).abs() < 1e-12);
}

#[tokio::test(start_paused = true)]
async fn different_prompts_miss_and_the_cached_fraction_shows_the_mix() {
    let sim = sim(cached_profile(true), Faults::default()).await;
    // Two prompts sharing their first block: each first sight hits that block only once it
    // was sent, the repeats hit both blocks.
    let mut shared = prompt("w");
    shared.truncate(prompt("w").find("w16").expect("word 16"));
    shared.push_str(&prompt("v")[prompt("v").find("v16").expect("word 16")..]);
    let (l, requests, _) = first_level(Run::start_no_check(level_plan(
        sim.chat_url(),
        6,
        &[prompt("w"), shared],
    )))
    .await;
    let cached: u64 = requests
        .iter()
        .map(|r| r["cached_tokens"].as_u64().expect("cached_tokens"))
        .sum();
    assert_eq!(l.prefix_cache.total_cached_tokens, Some(cached));
    // Both prompts were sent, repeated: some but not all tokens came from the cache, and
    // every reply said how many.
    assert_eq!(requests.len(), 6);
    let fraction = l.prefix_cache.cached_fraction.expect("reported");
    assert!(fraction > 0.0 && fraction < 41.0 / 52.0, "{fraction}");
}

#[tokio::test(start_paused = true)]
async fn without_a_prefix_cache_nothing_is_reported() {
    let sim = sim(cached_profile(false), Faults::default()).await;
    let (l, requests, json) = first_level(Run::start_no_check(level_plan(
        sim.chat_url(),
        3,
        &[prompt("w")],
    )))
    .await;
    assert_eq!(l.completed, 3);
    assert_eq!(l.prefix_cache.total_cached_tokens, None);
    assert!(json.get("cached_fraction").is_none() && json.get("total_cached_tokens").is_none());
    assert!(requests.iter().all(|r| r.get("cached_tokens").is_none()));
    // Every request paid the whole prefill.
    assert!(requests
        .iter()
        .all(|r| (r["ttft_ms"].as_f64().unwrap() - 112.0).abs() < 0.5));
}

#[tokio::test(start_paused = true)]
async fn engines_whose_caches_served_different_shares_are_warned_about() {
    let cached = sim(cached_profile(true), Faults::default()).await;
    // An engine that says its cache served nothing.
    let cold = raw_server(|_| {
        let chunk = |delta: &str| {
            format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":null}}]}}\n\n")
        };
        let body = format!(
            "{}{}{}data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":52,\"completion_tokens\":2,\"prompt_tokens_details\":{{\"cached_tokens\":0}}}}}}\n\ndata: [DONE]\n\n",
            chunk(r#"{"role":"assistant","content":""}"#),
            chunk(r#"{"content":"a"}"#),
            chunk(r#"{"content":"b"}"#),
        );
        http_response("200 OK", "text/event-stream", &body)
    })
    .await;
    let mut toml = toml_for(
        &[
            EngineDef::chat("warm", cached.chat_url()),
            EngineDef::chat("cold", cold.url.clone()),
        ],
        &[1],
        4,
        4,
        30.0,
    );
    toml.push_str(&format!(
        "\n[prompts]\npool = {:?}\ncache = \"warm\"\n",
        [prompt("w")]
    ));
    let mut run = Run::start_no_check(plan(config(&toml)));
    let (_, outcome) = run.finish().await;
    let report = &outcome.report;
    let warm = report.engines[0].levels[0]
        .prefix_cache
        .cached_fraction
        .unwrap();
    assert_eq!(
        report.engines[1].levels[0].prefix_cache.cached_fraction,
        Some(0.0)
    );
    assert!(warm > 0.5, "{warm}");
    let expected = format!(
        "level 1: the prefix cache served {:.0}% of \"warm\"'s input tokens and 0% of \"cold\"'s: the comparison measures caches, not engines; set [prompts] cache = \"bust\" to give every request a new prompt",
        warm * 100.0
    );
    assert!(report.warnings.contains(&expected), "{:?}", report.warnings);
}
