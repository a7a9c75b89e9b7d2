//! `[prompts] cache`: busting prefixes (the same for request k of a level on every engine,
//! different across requests, the body otherwise byte-for-byte the plan's), bodies left as
//! they are with `warm` or unset, and the warning when a prompt reaches an engine twice.

use crate::common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::{config, http_response, plan, raw_server, repeat_warnings, RawServer, Run};
use llmsweep::driver::REPEAT_WARNING;
use llmsweep::events::Event;
use llmsweep::plan::Plan;
use serde_json::Value;

const CHAT_SSE: &str = concat!(
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n",
    "data: [DONE]\n\n",
);
const COMPLETIONS_SSE: &str = concat!(
    "data: {\"choices\":[{\"index\":0,\"text\":\"ok\",\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n",
    "data: [DONE]\n\n",
);

/// Answers chat and completions requests with one token each, keeping every body.
async fn capture() -> RawServer {
    raw_server(|head| {
        let sse = if head.starts_with("POST /v1/completions") {
            COMPLETIONS_SSE
        } else {
            CHAT_SSE
        };
        http_response("200 OK", "text/event-stream", sse)
    })
    .await
}

/// Engine A on the chat API, B on completions; two levels, two trials, a warmup request each.
fn cache_toml(a: &str, b: &str, cache: Option<&str>, requests: u64) -> String {
    let b = b.replace("/chat/completions", "/completions");
    let cache = cache.map_or(String::new(), |c| format!("cache = {c:?}\n"));
    format!(
        "[[engines]]\nname = \"A\"\nurl = {a:?}\nmodel = \"m\"\nmetrics = false\n\n\
         [[engines]]\nname = \"B\"\nurl = {b:?}\nmodel = \"m\"\napi = \"completions\"\nmetrics = false\n\n\
         [host]\nsample = false\n\n\
         [sweep]\nlevels = [1, 2]\nrequests_per_level = {requests}\nwarmup_requests = 1\ntrials = 2\n\n\
         [request]\nmax_tokens = 2\nseed = 42\n\n\
         [prompts]\npool = [\"alpha beta\", \"say \\\"hi\\\" — ünïcode\\n\"]\n{cache}"
    )
}

/// One captured request: the engine (0 = A), the rest of its request id (`l1-t2-3`,
/// `l0-warmup-0`) and its body.
struct Sent {
    engine: usize,
    key: String,
    id: String,
    body: Vec<u8>,
}

struct Captured {
    plan: Plan,
    sent: Vec<Sent>,
    /// request id → prompt index (measured requests).
    prompts: HashMap<String, usize>,
    warnings: Vec<String>,
    report_warnings: Vec<String>,
    cache: Option<String>,
}

async fn run_captured(cache: Option<&str>, requests: u64) -> Captured {
    let (a, b) = (capture().await, capture().await);
    let plan = plan(config(&cache_toml(&a.url, &b.url, cache, requests)));
    let mut run = Run::start_no_check(plan.clone());
    let (events, outcome) = run.finish().await;
    for engine in &outcome.report.engines {
        for level in &engine.levels {
            assert_eq!(level.failed, 0, "{}: {:?}", engine.name, level.errors);
        }
    }
    let mut sent = Vec::new();
    for (engine, server) in [&a, &b].into_iter().enumerate() {
        let heads = server.heads.lock().unwrap().clone();
        let bodies = server.bodies.lock().unwrap().clone();
        for (head, body) in heads.into_iter().zip(bodies) {
            let id = head
                .lines()
                .find_map(|l| l.strip_prefix("x-request-id: "))
                .unwrap_or_else(|| panic!("a request id in {head}"))
                .trim()
                .to_string();
            let key = id
                .strip_prefix(&format!("test-run-e{engine}-"))
                .expect("the engine's id")
                .to_string();
            sent.push(Sent {
                engine,
                key,
                id,
                body,
            });
        }
    }
    let prompts = run
        .requests()
        .iter()
        .map(|r| {
            (
                r["request_id"].as_str().unwrap().to_string(),
                r["prompt_index"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let warnings = events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    Captured {
        plan,
        sent,
        prompts,
        warnings,
        report_warnings: outcome.report.warnings.clone(),
        cache: outcome.report.workload.cache.clone(),
    }
}

/// The prompt text of a body: the first message's content (chat) or the prompt.
fn prompt_text(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body).expect("a JSON body");
    let text = match value.get("messages") {
        Some(messages) => &messages[0]["content"],
        None => &value["prompt"],
    };
    text.as_str().expect("a string").to_string()
}

/// `[xxxxxxxx] ` with 8 base-36 characters, if `text` starts with one.
fn busting_prefix(text: &str) -> Option<&str> {
    let p = text.get(..11)?;
    let inner = p.strip_prefix('[')?.strip_suffix("] ")?;
    (inner.len() == 8
        && inner
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()))
    .then_some(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bust_prefixes_match_across_engines_and_differ_across_requests() {
    let run = run_captured(Some("bust"), 6).await;
    assert_eq!(run.cache.as_deref(), Some("bust"), "results.json says so");
    // 2 levels × 2 trials × (6 + 1 warmup) per engine.
    assert_eq!(run.sent.len(), 2 * 2 * 2 * 7);
    let mut by_engine: [BTreeMap<String, String>; 2] = Default::default();
    for s in &run.sent {
        let text = prompt_text(&s.body);
        let prefix = busting_prefix(&text)
            .unwrap_or_else(|| panic!("{}: no prefix in {text:?}", s.id))
            .to_string();
        // Without the prefix the body is the plan's, byte for byte.
        let at = s
            .body
            .windows(11)
            .position(|w| w == prefix.as_bytes())
            .unwrap();
        let mut stripped = s.body.clone();
        stripped.drain(at..at + 11);
        let bodies = &run.plan.engines[s.engine].bodies;
        match run.prompts.get(&s.id) {
            Some(&prompt) => assert_eq!(
                String::from_utf8_lossy(&stripped),
                String::from_utf8_lossy(&bodies[prompt]),
                "{}",
                s.id
            ),
            None => assert!(s.key.contains("warmup"), "{}", s.id),
        }
        assert!(
            bodies.iter().any(|b| b[..] == stripped[..]),
            "{}: {}",
            s.id,
            String::from_utf8_lossy(&stripped)
        );
        assert!(
            by_engine[s.engine].insert(s.key.clone(), prefix).is_none(),
            "{} sent twice",
            s.id
        );
    }
    // Request k of a level (and trial, and warmup) gets the same prefix on both engines...
    assert_eq!(by_engine[0], by_engine[1]);
    // ... and no two requests share one.
    let distinct: HashSet<&String> = by_engine[0].values().collect();
    assert_eq!(distinct.len(), by_engine[0].len(), "{:?}", by_engine[0]);
    assert!(run.warnings.iter().all(|w| !w.contains("cache is unset")));
    assert!(run
        .report_warnings
        .iter()
        .all(|w| !w.contains("cache is unset")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_and_unset_bodies_are_the_plans_byte_for_byte() {
    for cache in [Some("warm"), None] {
        let run = run_captured(cache, 3).await;
        assert_eq!(run.cache.as_deref(), cache);
        assert_eq!(run.sent.len(), 2 * 2 * 2 * 4);
        for s in &run.sent {
            let bodies = &run.plan.engines[s.engine].bodies;
            match run.prompts.get(&s.id) {
                Some(&prompt) => assert_eq!(s.body[..], bodies[prompt][..], "{cache:?} {}", s.id),
                None => assert!(bodies.iter().any(|b| b[..] == s.body[..]), "{}", s.id),
            }
            assert!(busting_prefix(&prompt_text(&s.body)).is_none());
        }
    }
}

fn load_error(toml: &str) -> String {
    llmsweep::config::Config::load(&llmsweep::config::Sources {
        text: Some(("bench.toml".into(), toml.to_string())),
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap_err()
    .to_string()
}

#[test]
fn a_bad_cache_value_is_one_line_naming_the_key() {
    let e = load_error("[prompts]\ncache = \"cold\"\n");
    assert!(e.starts_with("bench.toml: unknown cache \"cold\""), "{e}");
    assert!(e.contains("\"bust\" or \"warm\""), "{e}");
    assert!(e.contains("prompts.cache"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn the_fingerprint_records_the_cache_only_when_set() {
    let engine = "[[engines]]\nname = \"A\"\nurl = \"http://127.0.0.1:9/v1/chat/completions\"\nmodel = \"m\"\n";
    let unset = plan(config(engine));
    assert!(!unset.workload.fingerprint.contains_key("prompts.cache"));
    assert_eq!(unset.workload.cache, None);
    for mode in ["bust", "warm"] {
        let set = plan(config(&format!("{engine}[prompts]\ncache = {mode:?}\n")));
        assert_eq!(set.workload.fingerprint["prompts.cache"], mode);
        assert_eq!(set.workload.cache.as_deref(), Some(mode));
        // Nothing else moves: a saved run without the key differs in that key alone.
        let mut rest = set.workload.fingerprint.clone();
        rest.remove("prompts.cache");
        assert_eq!(rest, unset.workload.fingerprint);
    }
}

// ---- the repeated-prompt warning ---------------------------------------------------------------

/// One chat engine on a capture server, one level of `sweep` (a `[sweep]` body), `pool`
/// prompts named `p0`, `p1`, ..., and `cache`.
async fn warning_run(sweep: &str, pool: usize, cache: Option<&str>) -> (Vec<Event>, Vec<String>) {
    let server = capture().await;
    let pool: Vec<String> = (0..pool).map(|i| format!("\"p{i}\"")).collect();
    let cache = cache.map_or(String::new(), |c| format!("cache = {c:?}\n"));
    let toml = format!(
        "[[engines]]\nname = \"A\"\nurl = {:?}\nmodel = \"m\"\nmetrics = false\n\n\
         [host]\nsample = false\n\n[sweep]\n{sweep}\n\n[request]\nmax_tokens = 2\nseed = 42\n\n\
         [prompts]\npool = [{}]\n{cache}",
        server.url,
        pool.join(", ")
    );
    let mut run = Run::start_no_check(plan(config(&toml)));
    let (events, outcome) = run.finish().await;
    (events, outcome.report.warnings.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_requests_over_two_prompts_warn_at_the_start_unless_the_cache_is_set() {
    let sweep = "levels = [1]\nrequests_per_level = 10";
    let (events, warnings) = warning_run(sweep, 2, None).await;
    assert_eq!(repeat_warnings(&events), [true], "once, before the level");
    assert_eq!(
        warnings.iter().filter(|w| *w == REPEAT_WARNING).count(),
        1,
        "{warnings:?}"
    );
    for cache in ["bust", "warm"] {
        let (events, warnings) = warning_run(sweep, 2, Some(cache)).await;
        assert!(repeat_warnings(&events).is_empty(), "{cache}");
        assert!(!warnings.iter().any(|w| w == REPEAT_WARNING), "{cache}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_draws_do_not_warn_and_a_second_trial_does() {
    // Seed 42 draws 3 distinct prompts of 64 at level 0 (checked here, so the case stays
    // what it claims).
    let sweep = "levels = [1]\nrequests_per_level = 3";
    let probe = plan(config(&format!(
        "[[engines]]\nname = \"A\"\nurl = \"http://127.0.0.1:9/v1/chat/completions\"\nmodel = \"m\"\n[sweep]\n{sweep}\n[request]\nseed = 42\n[prompts]\npool = [{}]\n",
        (0..64).map(|i| format!("\"p{i}\"")).collect::<Vec<_>>().join(", ")
    )));
    let drawn: HashSet<usize> = (0..3).map(|k| probe.prompt_index(0, k)).collect();
    assert_eq!(drawn.len(), 3);
    let (events, warnings) = warning_run(sweep, 64, None).await;
    assert!(repeat_warnings(&events).is_empty(), "{warnings:?}");
    // Two trials of it send each prompt twice.
    let (events, _) = warning_run(&format!("{sweep}\ntrials = 2"), 64, None).await;
    assert_eq!(repeat_warnings(&events), [true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_bound_level_warns_when_the_first_repeat_is_sent() {
    // How many requests 0.4 s holds is not known before: the watch says it at the repeat.
    let sweep = "levels = [2]\nduration_s = 0.4";
    let (events, warnings) = warning_run(sweep, 2, None).await;
    assert_eq!(repeat_warnings(&events), [false], "once, during the level");
    assert_eq!(warnings.iter().filter(|w| *w == REPEAT_WARNING).count(), 1);
    let (events, _) = warning_run(sweep, 2, Some("warm")).await;
    assert!(repeat_warnings(&events).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_with_the_same_seed_busts_with_new_prefixes() {
    // Otherwise the second run would find the first run's prefixes in the engine's cache.
    let server = capture().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[run]\nout_dir = {:?}\n\n[[engines]]\nname = \"A\"\nurl = {:?}\nmodel = \"m\"\nmetrics = false\n\n\
             [host]\nsample = false\n\n[sweep]\nlevels = [1]\nrequests_per_level = 3\n\n\
             [request]\nmax_tokens = 2\nseed = 42\n\n[prompts]\ncache = \"bust\"\n",
            tmp.path().join("out").display().to_string(),
            server.url
        ),
    )
    .unwrap();
    let mut runs: Vec<HashSet<String>> = Vec::new();
    for _ in 0..2 {
        let before = server.bodies.lock().unwrap().len();
        let status = std::process::Command::new(common::binary::BIN)
            .args(["run", "--headless", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let bodies = server.bodies.lock().unwrap().clone();
        runs.push(
            bodies[before..]
                .iter()
                // The preflight's GETs have no body.
                .filter(|b| !b.is_empty())
                .filter_map(|b| busting_prefix(&prompt_text(b)).map(str::to_string))
                .collect(),
        );
    }
    assert_eq!(runs[0].len(), 3, "{:?}", runs[0]);
    assert_eq!(runs[1].len(), 3, "{:?}", runs[1]);
    assert!(runs[0].is_disjoint(&runs[1]), "{runs:?}");
}
