//! Multi-turn conversations (`[prompts] conversations`): each slot holds one conversation and
//! sends its turns in order, each with the whole history and the model's own answers; a
//! level's concurrency is conversations in flight; per-turn TTFT and cache hits and
//! per-conversation totals reach results.json; a failed turn ends its conversation.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use llmsweep::results::conversations::ConversationStats;
use llmsweep::sim::{Faults, Profile, FIXED};
use serde_json::Value;

/// One engine at `url`, one level of `level` conversations, `requests` requests, three-turn
/// synthetic conversations of 20-word user turns.
fn chat_toml(url: &str, level: u32, requests: u64, extra: &str) -> String {
    let mut toml = toml_for(
        &[EngineDef::chat("chat", url.into())],
        &[level],
        requests,
        4,
        30.0,
    );
    toml.push_str(&format!(
        "\n[prompts]\nsynthetic = {{ input_tokens = 26, output_tokens = 4, count = 8 }}\n\
         conversations = {{ turns = 3 }}\n{extra}"
    ));
    toml
}

/// Answers every request with `answer` as one content chunk, keeping each body.
async fn answering(answer: &'static str) -> RawServer {
    raw_server(move |_| {
        let body = format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n\
             data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"reasoning_content\":\"thinking\"}},\"finish_reason\":null}}]}}\n\n\
             data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{answer}}},\"finish_reason\":\"stop\"}}]}}\n\n\
             data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":30,\"completion_tokens\":2}}}}\n\n\
             data: [DONE]\n\n"
        );
        http_response("200 OK", "text/event-stream", &body)
    })
    .await
}

/// (request id, body) of each request the server got, in arrival order.
fn sent(server: &RawServer) -> Vec<(String, Value)> {
    let heads = server.heads.lock().unwrap().clone();
    let bodies = server.bodies.lock().unwrap().clone();
    heads
        .iter()
        .zip(bodies)
        .filter(|(head, _)| head.starts_with("POST "))
        .map(|(head, body)| {
            let id = head
                .lines()
                .find_map(|l| l.strip_prefix("x-request-id: "))
                .expect("a request id")
                .trim()
                .to_string();
            (id, serde_json::from_slice(&body).expect("a JSON body"))
        })
        .collect()
}

fn messages(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_sends_the_history_with_the_models_own_answers() {
    // The answer has escapes; the reasoning before it is not sent back.
    let server = answering(r#""said \"ok\"\n""#).await;
    let plan = plan(config(&chat_toml(&server.url, 2, 6, "cache = \"bust\"\n")));
    let chats = plan.conversations.clone().expect("conversations");
    let mut run = Run::start_no_check(plan.clone());
    let (_, outcome) = run.finish().await;
    let level = &outcome.report.engines[0].levels[0];
    assert_eq!((level.completed, level.failed), (6, 0));
    // Six requests of three-turn conversations: two conversations, both whole.
    let sent = sent(&server);
    assert_eq!(sent.len(), 6);
    let by_id: BTreeMap<&str, &Value> = sent.iter().map(|(id, b)| (id.as_str(), b)).collect();
    let mut prefixes = Vec::new();
    for c in 0..2u64 {
        let first = by_id[format!("test-run-e0-l0-c{c}-t1").as_str()];
        let first = messages(first);
        assert_eq!(first.len(), 1, "turn 1 is the user's question alone");
        let (role, question) = &first[0];
        assert_eq!(role, "user");
        // `bust`: one prefix per conversation, kept by every turn of it.
        let (prefix, text) = question.split_at(11);
        assert!(
            prefix.starts_with('[') && prefix.ends_with("] "),
            "{question}"
        );
        prefixes.push(prefix.to_string());
        let chat = chats
            .iter()
            .find(|chat| chat.turns[0].text == text)
            .expect("turn 1 is some conversation's first turn");
        for turn in 2..=3usize {
            let body = by_id[format!("test-run-e0-l0-c{c}-t{turn}").as_str()];
            let mut want = vec![("user".to_string(), question.clone())];
            for asked in &chat.turns[1..turn] {
                want.push(("assistant".into(), "said \"ok\"\n".into()));
                want.push(("user".into(), asked.text.clone()));
            }
            assert_eq!(messages(body), want, "conversation {c}, turn {turn}");
            assert_eq!(body["max_tokens"], 4);
        }
    }
    assert_ne!(
        prefixes[0], prefixes[1],
        "conversations bust each other's cache"
    );
    // requests.jsonl: each line says its conversation and turn, and the history it sent.
    let mut turns: BTreeMap<u64, Vec<(u64, f64)>> = BTreeMap::new();
    for r in run.requests() {
        let words = r["prompt_words"].as_u64().unwrap();
        turns
            .entry(r["conversation"].as_u64().unwrap())
            .or_default()
            .push((
                r["turn"].as_u64().unwrap(),
                r["sent_at_ms"].as_f64().unwrap(),
            ));
        let turn = r["turn"].as_u64().unwrap();
        // 20 words a question, 2 words an answer (the busting prefix is not the prompt's).
        assert_eq!(words, 20 + (turn - 1) * 22, "{r}");
    }
    for sends in turns.values() {
        let order: Vec<u64> = sends.iter().map(|s| s.0).collect();
        assert_eq!(order, [1, 2, 3]);
        assert!(
            sends.windows(2).all(|w| w[0].1 <= w[1].1),
            "turns in order: {sends:?}"
        );
    }
    let stats = level.conversations.as_ref().expect("conversation stats");
    assert_eq!(
        (stats.started, stats.completed, stats.failed, stats.cut),
        (2, 2, 0, 0)
    );
    assert_eq!(stats.mean_turns, 3.0);
    assert_eq!(stats.mean_output_tokens, Some(6.0));
    let per_turn: Vec<(u32, u64)> = stats.turns.iter().map(|t| (t.turn, t.completed)).collect();
    assert_eq!(per_turn, [(1, 2), (2, 2), (3, 2)]);
    assert!(stats
        .turns
        .iter()
        .all(|t| t.mean_input_tokens == Some(30.0)));
}

fn cached_profile(prefix_cache: bool) -> Profile {
    Profile {
        prefill_us_per_token: 1_000,
        prefix_cache,
        ..FIXED
    }
}

async fn sim_stats(prefix_cache: bool) -> (ConversationStats, Vec<Value>) {
    let sim = sim(cached_profile(prefix_cache), Faults::default()).await;
    // `bust`: a conversation drawn twice does not find its first turn cached.
    let plan = plan(config(&chat_toml(
        &sim.chat_url(),
        2,
        12,
        "cache = \"bust\"\n",
    )));
    let mut run = Run::start_no_check(plan);
    let (_, outcome) = run.finish().await;
    let level = &outcome.report.engines[0].levels[0];
    assert_eq!((level.completed, level.failed), (12, 0));
    (level.conversations.clone().expect("stats"), run.requests())
}

#[tokio::test(start_paused = true)]
async fn later_turns_hit_the_cache_their_history_filled_and_answer_sooner_for_it() {
    let (warm, requests) = sim_stats(true).await;
    let (cold, _) = sim_stats(false).await;
    assert_eq!((warm.started, warm.completed), (4, 4));
    // Turn 1 has nothing cached; each later turn resends a history the cache holds.
    let fraction: Vec<f64> = warm
        .turns
        .iter()
        .map(|t| t.cached_fraction.unwrap())
        .collect();
    assert_eq!(fraction[0], 0.0, "{fraction:?}");
    assert!(
        fraction[1] > 0.2 && fraction[2] > fraction[1],
        "{fraction:?}"
    );
    assert!(cold.turns.iter().all(|t| t.cached_fraction.is_none()));
    // The history grows: the engine's prompt count does too.
    let input: Vec<f64> = warm
        .turns
        .iter()
        .map(|t| t.mean_input_tokens.unwrap())
        .collect();
    assert!(input[0] < input[1] && input[1] < input[2], "{input:?}");
    // Same prompts, the same first turn; later turns prefill only what is not cached.
    let ttft = |s: &ConversationStats, t: usize| s.turns[t].mean_ttft_ms.unwrap();
    assert!((ttft(&warm, 0) - ttft(&cold, 0)).abs() < 0.5);
    for t in 1..3 {
        assert!(
            ttft(&warm, t) + 10.0 < ttft(&cold, t),
            "turn {}: {warm:?} vs {cold:?}",
            t + 1
        );
    }
    // Without a cache each turn prefills its whole, longer history.
    assert!(ttft(&cold, 0) < ttft(&cold, 1) && ttft(&cold, 1) < ttft(&cold, 2));
    // A conversation lasts its three requests end to end.
    let conversation_ms: f64 = requests
        .iter()
        .filter(|r| r["conversation"] == 0)
        .map(|r| r["in_flight_ms"].as_f64().unwrap())
        .sum();
    let mean = warm.mean_duration_ms.unwrap();
    assert!(mean >= conversation_ms * 0.5, "{mean} vs {conversation_ms}");
}

#[tokio::test(start_paused = true)]
async fn a_turn_delay_holds_the_slot_and_lengthens_the_conversation() {
    let sim = sim(cached_profile(false), Faults::default()).await;
    let mut run = Run::start_no_check(plan(config(
        &chat_toml(&sim.chat_url(), 1, 3, "")
            .replace("turns = 3 }", "turns = 3, turn_delay_ms = 500 }"),
    )));
    let (_, outcome) = run.finish().await;
    let stats = outcome.report.engines[0].levels[0]
        .conversations
        .clone()
        .unwrap();
    let requests = run.requests();
    let sent: Vec<f64> = requests
        .iter()
        .map(|r| r["sent_at_ms"].as_f64().unwrap())
        .collect();
    let busy: Vec<f64> = requests
        .iter()
        .map(|r| r["in_flight_ms"].as_f64().unwrap())
        .collect();
    // Each next turn starts 500 ms after the previous answer ended.
    for k in 1..3 {
        let gap = sent[k] - (sent[k - 1] + busy[k - 1]);
        assert!((gap - 500.0).abs() < 2.0, "{sent:?} {busy:?}");
    }
    let total = sent[2] + busy[2] - sent[0];
    assert!(
        (stats.mean_duration_ms.unwrap() - total).abs() < 2.0,
        "{stats:?}"
    );
    assert_eq!(
        outcome.report.workload.conversations.unwrap().turn_delay_ms,
        500
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_ends_its_conversation() {
    // Turn 1 is answered; turn 2 (its request id ends `-t2`) gets a 500.
    let server = raw_server(|head| {
        if head.contains("-t2\r\n") {
            http_response("500 Internal Server Error", "application/json", "{\"error\":\"no\"}")
        } else {
            http_response(
                "200 OK",
                "text/event-stream",
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
            )
        }
    })
    .await;
    let mut run = Run::start_no_check(plan(config(&chat_toml(&server.url, 2, 9, ""))));
    let (_, outcome) = run.finish().await;
    let level = &outcome.report.engines[0].levels[0];
    let stats = level.conversations.as_ref().unwrap();
    // Nine requests' worth of three-turn conversations: three, each ended at turn 2.
    assert_eq!(
        (stats.started, stats.completed, stats.failed, stats.cut),
        (3, 0, 3, 0)
    );
    assert_eq!((level.completed, level.failed), (3, 3));
    let per_turn: Vec<(u32, u64, u64)> = stats
        .turns
        .iter()
        .map(|t| (t.turn, t.completed, t.failed))
        .collect();
    assert_eq!(per_turn, [(1, 3, 0), (2, 0, 3)]);
    assert_eq!(stats.mean_duration_ms, None);
    assert!(run.requests().iter().all(|r| r["turn"] != 3));
}

fn load_error(toml: &str) -> String {
    let engine = "[[engines]]\nname = \"A\"\nurl = \"http://127.0.0.1:9/v1/chat/completions\"\nmodel = \"m\"\n";
    llmsweep::config::Config::load(&llmsweep::config::Sources {
        text: Some(("bench.toml".into(), format!("{engine}{toml}"))),
        env: Some(Default::default()),
        ..Default::default()
    })
    .unwrap_err()
    .to_string()
}

#[test]
fn conversation_settings_that_cannot_run_are_one_line_errors_naming_the_key() {
    let synthetic = "synthetic = { input_tokens = 8, output_tokens = 4 }\n";
    for (toml, want) in [
        (
            "[prompts]\npool = [\"a\"]\nconversations = { turns = 2 }\n".to_string(),
            "`prompts.conversations` needs `synthetic` or `sharegpt` prompts",
        ),
        (
            format!("[prompts]\n{synthetic}conversations = {{}}\n"),
            "`prompts.conversations.turns` is needed with `synthetic` prompts",
        ),
        (
            format!("[prompts]\n{synthetic}conversations = {{ turns = 0 }}\n"),
            "`prompts.conversations.turns` must be at least 1",
        ),
        (
            format!("[sweep]\nmode = \"rate\"\nlevels = [1]\n[prompts]\n{synthetic}conversations = {{ turns = 2 }}\n"),
            "`prompts.conversations` runs in `sweep.mode = \"concurrency\"`",
        ),
        (
            format!("[prompts]\n{synthetic}conversations = {{ turns = 2, think_ms = 5 }}\n"),
            "think_ms",
        ),
    ] {
        let e = load_error(&toml);
        assert!(e.contains(want), "{e}\n{toml}");
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn the_fingerprint_covers_every_turn_and_the_conversation_settings() {
    let toml = |turns: u32, delay: u64| {
        chat_toml("http://127.0.0.1:9/v1/chat/completions", 1, 6, "").replace(
            "turns = 3 }",
            &format!("turns = {turns}, turn_delay_ms = {delay} }}"),
        )
    };
    let print = |t: &str| plan(config(t)).workload.fingerprint;
    let base = print(&toml(3, 0));
    assert_eq!(base["prompts.conversations"], "turns 3, turn_delay_ms 0");
    assert_ne!(
        base["prompts.hash"],
        print(&toml(2, 0))["prompts.hash"],
        "turns are hashed"
    );
    assert_ne!(
        base["prompts.conversations"],
        print(&toml(3, 100))["prompts.conversations"]
    );
}
