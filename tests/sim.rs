//! The simulated engine over real HTTP on 127.0.0.1: wire shapes, timing model, continuous
//! batching, faults and their determinism, disconnects and shutdown.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use llmsweep::sim::{self, Faults, Profile, SimConfig, SimServer, FIXED};
use serde_json::{json, Value};
use tokio::time::Instant;

fn client() -> reqwest::Client {
    client_with_pool(64)
}

fn client_with_pool(idle_per_host: usize) -> reqwest::Client {
    // reqwest with `rustls-no-provider` panics at build time without a process default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(idle_per_host)
        .build()
        .expect("client")
}

fn fast() -> Profile {
    Profile::by_name("fast").expect("fast profile")
}

async fn start(profile: Profile, faults: Faults, seed: u64) -> SimServer {
    sim::spawn(SimConfig {
        profile,
        faults,
        seed,
        timing_log: None,
    })
    .await
    .expect("spawn sim")
}

fn chat_body(max_tokens: u32, usage: bool) -> Value {
    json!({
        "model": "m\"odel",
        "messages": [{"role": "user", "content": "one two three four five six seven eight nine ten"}],
        "max_tokens": max_tokens,
        "stream": true,
        "stream_options": {"include_usage": usage},
        "ignore_eos": true, "min_tokens": 1, "temperature": 0.0, "top_p": 1.0, "seed": 3,
        "some_unknown_field": {"x": 1},
    })
}

fn completions_body(max_tokens: u32, usage: bool) -> Value {
    json!({
        "model": "m",
        "prompt": "one two three four five six seven eight nine ten",
        "max_tokens": max_tokens,
        "stream": true,
        "stream_options": {"include_usage": usage},
    })
}

/// One SSE event as received: when (since the request was sent) and its `data:` payload.
#[derive(Debug)]
struct Event {
    at: Duration,
    data: String,
}

/// A streamed response: status, events, and the body error if the stream was cut.
#[derive(Debug)]
struct Streamed {
    /// When the request was sent.
    t0: Instant,
    status: u16,
    headers_at: Duration,
    events: Vec<Event>,
    error: Option<String>,
}

impl Streamed {
    fn json(&self) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e.data != "[DONE]")
            .map(|e| serde_json::from_str(&e.data).expect("chunk is JSON"))
            .collect()
    }

    /// Events carrying generated output (non-empty content/text).
    fn outputs(&self) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| {
                let Ok(v) = serde_json::from_str::<Value>(&e.data) else {
                    return false;
                };
                let c = &v["choices"][0];
                let s = c["delta"]["content"].as_str().or(c["text"].as_str());
                s.is_some_and(|s| !s.is_empty())
            })
            .collect()
    }
}

async fn stream(client: &reqwest::Client, url: &str, body: &Value) -> Streamed {
    let t0 = Instant::now();
    let resp = client.post(url).json(body).send().await.expect("send");
    let headers_at = t0.elapsed();
    let status = resp.status().as_u16();
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut error = None;
    while let Some(item) = body.next().await {
        match item {
            Ok(bytes) => {
                buf.extend_from_slice(&bytes);
                while let Some(pos) = buf.windows(2).position(|w| w == b"\n\n") {
                    let raw: Vec<u8> = buf.drain(..pos + 2).collect();
                    let text = String::from_utf8(raw).expect("utf8");
                    let data = text
                        .trim_end()
                        .strip_prefix("data: ")
                        .unwrap_or(text.trim_end())
                        .to_string();
                    events.push(Event {
                        at: t0.elapsed(),
                        data,
                    });
                }
            }
            Err(e) => {
                error = Some(format!("{e:?}"));
                break;
            }
        }
    }
    if error.is_none() && !buf.is_empty() {
        error = Some(format!(
            "trailing bytes {:?}",
            String::from_utf8_lossy(&buf)
        ));
    }
    Streamed {
        t0,
        status,
        headers_at,
        events,
        error,
    }
}

/// `got` is exactly `want_ms` (to the microsecond): these tests run on tokio's paused clock,
/// which the simulator's scheduler and the stream reader share.
fn assert_ms(what: &str, got: Duration, want_ms: f64) {
    assert_eq!(
        got.as_micros(),
        (want_ms * 1e3).round() as u128,
        "{what}: {:.3} ms, expected {want_ms} ms",
        got.as_secs_f64() * 1e3
    );
}

// ---------------------------------------------------------------- wire shapes

#[tokio::test]
async fn chat_stream_has_vllm_shapes() {
    let sim = start(fast(), Faults::default(), 1).await;
    let c = client();
    let s = stream(&c, &sim.chat_url(), &chat_body(5, true)).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.error, None);
    let chunks = s.json();
    assert_eq!(s.events.len(), 1 + 5 + 1 + 1 + 1, "{:#?}", s.events);
    assert_eq!(s.events.last().map(|e| e.data.as_str()), Some("[DONE]"));

    let id = chunks[0]["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("chatcmpl-sim-"), "{id}");
    for c in &chunks {
        assert_eq!(c["id"], id.as_str());
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "m\"odel");
        assert!(c["created"].as_u64().is_some());
    }
    assert_eq!(
        chunks[0]["choices"],
        json!([{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}])
    );
    for c in &chunks[1..6] {
        let ch = &c["choices"][0];
        assert_eq!(ch["index"], 0);
        assert!(!ch["delta"]["content"].as_str().expect("content").is_empty());
        assert_eq!(ch["delta"].as_object().map(|o| o.len()), Some(1));
        assert_eq!(ch["finish_reason"], Value::Null);
        assert_eq!(ch["logprobs"], Value::Null);
    }
    assert_eq!(
        chunks[6]["choices"],
        json!([{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length"}])
    );
    assert_eq!(chunks[7]["choices"], json!([]));
    // 10 words × 1.3 = 13 prompt tokens.
    assert_eq!(
        chunks[7]["usage"],
        json!({"prompt_tokens":13,"total_tokens":18,"completion_tokens":5})
    );
    assert_eq!(s.outputs().len(), 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn usage_chunk_only_when_asked() {
    let sim = start(fast(), Faults::default(), 1).await;
    let c = client();
    for url in [sim.chat_url(), sim.completions_url()] {
        let body = if url.ends_with("chat/completions") {
            chat_body(4, false)
        } else {
            completions_body(4, false)
        };
        let s = stream(&c, &url, &body).await;
        assert_eq!(s.error, None);
        assert!(s.json().iter().all(|c| c.get("usage").is_none()), "{url}");
        assert_eq!(s.outputs().len(), 4);
        assert_eq!(s.events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    }
}

#[tokio::test]
async fn completions_stream_has_vllm_shapes() {
    let sim = start(fast(), Faults::default(), 1).await;
    let c = client();
    let resp = c
        .post(sim.completions_url())
        .json(&completions_body(7, true))
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    drop(resp);
    let s = stream(&c, &sim.completions_url(), &completions_body(7, true)).await;
    assert_eq!(s.error, None);
    let chunks = s.json();
    // No role chunk: 7 content, finish, usage, then [DONE].
    assert_eq!(s.events.len(), 7 + 1 + 1 + 1);
    for c in &chunks {
        assert_eq!(c["object"], "text_completion");
        assert!(c["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("cmpl-sim-")));
    }
    for c in &chunks[..7] {
        let ch = &c["choices"][0];
        assert!(!ch["text"].as_str().expect("text").is_empty());
        assert_eq!(ch["finish_reason"], Value::Null);
        assert_eq!(ch["logprobs"], Value::Null);
    }
    assert_eq!(
        chunks[7]["choices"],
        json!([{"index":0,"text":"","logprobs":null,"finish_reason":"length"}])
    );
    assert_eq!(
        chunks[8]["usage"],
        json!({"prompt_tokens":13,"total_tokens":20,"completion_tokens":7})
    );
}

#[tokio::test]
async fn output_length_rules() {
    let c = client();
    let sim = start(fast(), Faults::default(), 1).await;
    // max_completion_tokens wins over max_tokens; default is 128.
    let mut body = chat_body(5, true);
    body["max_completion_tokens"] = json!(9);
    assert_eq!(stream(&c, &sim.chat_url(), &body).await.outputs().len(), 9);
    let mut body = completions_body(5, true);
    body.as_object_mut().map(|o| o.remove("max_tokens"));
    assert_eq!(
        stream(&c, &sim.completions_url(), &body)
            .await
            .outputs()
            .len(),
        128
    );
    // A profile's output_tokens overrides the request.
    let fixed_len = Profile {
        output_tokens: Some(3),
        ..fast()
    };
    let sim2 = start(fixed_len, Faults::default(), 1).await;
    let s = stream(&c, &sim2.chat_url(), &chat_body(50, true)).await;
    assert_eq!(s.outputs().len(), 3);
    assert_eq!(
        s.json().last().expect("usage")["usage"]["completion_tokens"],
        3
    );
}

/// `--events-per-write N`: the stream comes in writes of N events (the last one shorter),
/// every event whole and in order.
#[tokio::test]
async fn buffered_writes_carry_n_events_each() {
    let faults = Faults {
        events_per_write: 50,
        ..Faults::default()
    };
    let sim = start(fast(), faults, 1).await;
    let response = client()
        .post(sim.chat_url())
        .json(&chat_body(120, true))
        .send()
        .await
        .expect("send");
    let mut frames = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(frame) = body.next().await {
        frames.push(frame.expect("frame"));
    }
    let events: Vec<usize> = frames
        .iter()
        .map(|f| f.windows(2).filter(|w| w == b"\n\n").count())
        .collect();
    // Role, 120 tokens, finish, usage, [DONE]: 124 events in three writes of at most 50
    // (a read may cut a write in two: the socket's, not the simulator's doing).
    assert_eq!(events.iter().sum::<usize>(), 124);
    assert!(frames.len() <= 6, "{} reads: {events:?}", frames.len());
    let text: Vec<u8> = frames.concat();
    assert!(text.ends_with(b"data: [DONE]\n\n"));
    assert_eq!(text.windows(8).filter(|w| w == b"content\"").count(), 122);
}

/// vLLM's Rust `vllm-bench` probes `/tokenize` first and skips it on a 4xx: the simulator
/// has no tokenizer, so it answers as a server without the endpoint does.
#[tokio::test]
async fn tokenize_is_not_found_like_a_server_without_it() {
    let sim = start(fast(), Faults::default(), 1).await;
    for path in ["/tokenize", "/detokenize"] {
        let response = client()
            .post(format!("{}{path}", sim.base_url()))
            .json(&json!({"model": "sim", "prompt": "hello"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn non_streaming_health_models_and_bad_requests() {
    let sim = start(fast(), Faults::default(), 1).await;
    let c = client();

    let mut body = chat_body(4, false);
    body["stream"] = json!(false);
    let v: Value = c
        .post(sim.chat_url())
        .json(&body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .is_empty());
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens":13,"total_tokens":17,"completion_tokens":4})
    );

    let v: Value = c
        .post(sim.completions_url())
        .json(&json!({"prompt": ["a b", "c"], "max_tokens": 2}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["usage"]["completion_tokens"], 2);
    assert_eq!(v["usage"]["prompt_tokens"], 4); // ceil(3 × 1.3)
    let v: Value = c
        .post(sim.completions_url())
        .json(&json!({"prompt": [5, 6, 7], "max_tokens": 1}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(v["usage"]["prompt_tokens"], 3); // token ids count as themselves

    let r = c
        .get(format!("{}/health", sim.base_url()))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 200);
    let v: Value = c
        .get(format!("{}/v1/models", sim.base_url()))
        .send()
        .await
        .expect("models")
        .json()
        .await
        .expect("json");
    assert_eq!(v["data"][0]["id"], "sim");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1));

    for bad in [
        &b"{not json"[..],
        b"[1,2]",
        br#"{"messages": "hi"}"#,
        br#"{"messages": [], "max_tokens": -1}"#,
        br#"{"messages": [], "max_tokens": 0}"#,
    ] {
        let r = c
            .post(sim.chat_url())
            .header("content-type", "application/json")
            .body(bad.to_vec())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.expect("json error");
        assert_eq!(v["error"]["type"], "BadRequestError");
        assert_eq!(v["error"]["code"], 400);
        assert!(v["error"]["message"].as_str().is_some());
    }
}

#[test]
fn profiles_are_named_and_documented() {
    let names: Vec<&str> = Profile::all().iter().map(|p| p.name).collect();
    for want in ["fixed", "fast-prefill", "big-batch", "fast", "steady"] {
        assert!(names.contains(&want), "{want}");
        let p = Profile::by_name(want).expect("by_name");
        assert!(!p.about.is_empty());
        assert!(p.max_batch >= 1);
    }
    assert_eq!(Profile::by_name("nope"), None);
    assert_eq!(Profile::by_name("fixed"), Some(FIXED));
    assert_eq!(
        (
            FIXED.prefill_base_us,
            FIXED.decode_base_us,
            FIXED.decode_per_seq_us
        ),
        (50_000, 10_000, 0)
    );
}

// ---------------------------------------------------------------- timing model

#[tokio::test(start_paused = true)]
async fn fixed_profile_timing_is_exact() {
    let sim = start(FIXED, Faults::default(), 1).await;
    let c = client();
    // Warm the connection so the measured request doesn't pay the TCP connect.
    let _ = stream(&c, &sim.chat_url(), &chat_body(1, false)).await;
    let s = stream(&c, &sim.chat_url(), &chat_body(11, true)).await;
    let out = s.outputs();
    assert_eq!(out.len(), 11);
    assert_ms("TTFT", out[0].at, 60.0);
    let tpot = (out[10].at - out[0].at) / 10;
    assert_ms("TPOT", tpot, 10.0);
}

/// With `decode_per_seq_us > 0` a batch of two runs each sequence slower than one alone.
#[tokio::test(start_paused = true)]
async fn batching_slows_each_sequence_but_raises_throughput() {
    let profile = Profile {
        name: "test",
        about: "test",
        max_batch: 8,
        prefill_base_us: 0,
        prefill_us_per_token: 0,
        decode_base_us: 4_000,
        decode_per_seq_us: 4_000,
        output_tokens: None,
        reasoning_tokens: 0,
        prefix_cache: false,
    };
    let sim = start(profile, Faults::default(), 1).await;
    let c = client();
    let _ = stream(&c, &sim.chat_url(), &chat_body(1, false)).await;
    let alone = stream(&c, &sim.chat_url(), &chat_body(16, true)).await;
    let (url, body) = (sim.chat_url(), chat_body(16, true));
    let (a, b) = tokio::join!(stream(&c, &url, &body), stream(&c, &url, &body));
    let gaps_ms = |s: &Streamed| -> Vec<u128> {
        let o = s.outputs();
        o.windows(2)
            .map(|w| (w[1].at - w[0].at).as_millis())
            .collect()
    };
    // A step costs 4 + 4 × batch ms: 8 ms alone, 12 ms in a batch of two. So each sequence is
    // slower in the pair, yet two tokens per 12 ms beat one per 8 ms.
    assert_eq!(gaps_ms(&alone), vec![8; 15]);
    // The second may join one step late (then the first's opening step and the second's
    // closing one run alone): every step with both in the batch takes 12 ms.
    let (mut first, mut second) = (gaps_ms(&a), gaps_ms(&b));
    if first.last() == Some(&8) {
        std::mem::swap(&mut first, &mut second);
    }
    assert_eq!(first, vec![12; 15], "{first:?} {second:?}");
    let joined_late = second.last() == Some(&8);
    let mut want = vec![12; 15];
    if joined_late {
        want[14] = 8;
    }
    assert_eq!(second, want, "{first:?} {second:?}");
}

/// With `max_batch = 1` the second request waits for the first to finish.
#[tokio::test(start_paused = true)]
async fn full_batch_queues_the_next_request() {
    let profile = Profile {
        max_batch: 1,
        ..FIXED
    };
    let sim = start(profile, Faults::default(), 1).await;
    let c = client();
    let (url, body) = (sim.chat_url(), chat_body(5, true));
    let first = stream(&c, &url, &body);
    let second = async {
        // Arrive while the first is in its 50 ms prefill (and surely after it).
        tokio::time::sleep(Duration::from_millis(25)).await;
        stream(&c, &sim.chat_url(), &chat_body(5, true)).await
    };
    let (first, second) = tokio::join!(first, second);
    // Timed from admission (the role chunk), so connection setup doesn't count.
    let first_admitted = first.t0 + first.events[0].at;
    let first_end = first.t0 + first.outputs()[4].at;
    assert_ms("first: 50 + 5 × 10 ms", first_end - first_admitted, 100.0);
    // The second is admitted only once the first has finished (same scheduler step, so
    // allow for the two connections' writes landing in either order) ...
    let second_admitted = second.t0 + second.events[0].at;
    assert!(
        second_admitted + Duration::from_millis(5) >= first_end,
        "admitted before the slot was free"
    );
    // ... and gets its first token one prefill + one decode (60 ms) after that.
    let second_first = second.t0 + second.outputs()[0].at;
    assert_ms(
        "second TTFT after admission",
        second_first - first_end,
        60.0,
    );
    assert!(second.outputs()[0].at > Duration::from_millis(100));
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn error_fault_answers_status_and_json() {
    let c = client();
    for (status, want) in [(0u16, 500u16), (429, 429)] {
        let faults = Faults {
            error_rate: 1.0,
            error_status: status,
            ..Faults::default()
        };
        let sim = start(fast(), faults, 1).await;
        let r = c
            .post(sim.chat_url())
            .json(&chat_body(3, true))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), want);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"]["message"], "simulated error");
        assert_eq!(v["error"]["code"], want);
        assert!(v["error"]["type"].as_str().is_some());
    }
}

#[tokio::test]
async fn drop_fault_cuts_the_stream() {
    let faults = Faults {
        drop_after_tokens: Some(3),
        drop_rate: 1.0,
        ..Faults::default()
    };
    let sim = start(fast(), faults, 1).await;
    let c = client();
    let s = stream(&c, &sim.chat_url(), &chat_body(10, true)).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.outputs().len(), 3);
    assert_eq!(s.events.len(), 4, "role + 3 content, nothing after");
    assert!(s.error.is_some(), "the body must end in an error");

    // drop_rate 0: nobody is dropped.
    let sim = start(
        fast(),
        Faults {
            drop_after_tokens: Some(3),
            ..Faults::default()
        },
        1,
    )
    .await;
    let s = stream(&c, &sim.chat_url(), &chat_body(10, true)).await;
    assert_eq!((s.outputs().len(), s.error), (10, None));
}

#[tokio::test]
async fn malformed_fault_replaces_one_chunk() {
    let faults = Faults {
        malformed_rate: 1.0,
        ..Faults::default()
    };
    let sim = start(fast(), faults, 1).await;
    let c = client();
    let s = stream(&c, &sim.completions_url(), &completions_body(6, true)).await;
    assert_eq!(s.error, None);
    let bad: Vec<usize> = s
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.data == "{not json")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(bad, vec![3], "content chunk N/2 = 3");
    assert_eq!(s.outputs().len(), 5);
    assert_eq!(s.events.last().map(|e| e.data.as_str()), Some("[DONE]"));
}

#[tokio::test(start_paused = true)]
async fn stall_fault_pauses_then_continues() {
    let faults = Faults {
        stall_after_tokens: Some(2),
        stall_ms: 300,
        ..Faults::default()
    };
    let sim = start(FIXED, faults, 1).await;
    let c = client();
    let s = stream(&c, &sim.chat_url(), &chat_body(5, true)).await;
    let out = s.outputs();
    assert_eq!(out.len(), 5);
    assert_eq!(s.error, None);
    // Tokens 1, 2 at 60, 70 ms; then nothing for 300 ms; token 3 (ready at 80 ms) at 370.
    assert_ms("before the stall", out[1].at, 70.0);
    assert_ms("stall", out[2].at - out[1].at, 300.0);
    assert_ms("after the stall", out[2].at, 370.0);
}

#[tokio::test(start_paused = true)]
async fn first_byte_delay_holds_the_headers() {
    let faults = Faults {
        first_byte_delay_ms: 250,
        ..Faults::default()
    };
    let sim = start(FIXED, faults, 1).await;
    let c = client();
    let s = stream(&c, &sim.chat_url(), &chat_body(2, true)).await;
    assert_ms("headers", s.headers_at, 250.0);
    assert!(s.headers_at >= Duration::from_millis(250));
    assert_ms("TTFT", s.outputs()[0].at, 310.0);
}

#[tokio::test]
async fn no_usage_fault_suppresses_usage() {
    let faults = Faults {
        no_usage: true,
        ..Faults::default()
    };
    let sim = start(fast(), faults, 1).await;
    let c = client();
    let s = stream(&c, &sim.chat_url(), &chat_body(3, true)).await;
    assert!(s.json().iter().all(|c| c.get("usage").is_none()));
    assert_eq!(s.outputs().len(), 3);
    assert_eq!(s.events.last().map(|e| e.data.as_str()), Some("[DONE]"));
}

#[tokio::test]
async fn in_stream_error_fault_sends_error_event() {
    let faults = Faults {
        in_stream_error_rate: 1.0,
        ..Faults::default()
    };
    let sim = start(fast(), faults, 1).await;
    let c = client();
    let s = stream(&c, &sim.chat_url(), &chat_body(3, true)).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.error, None);
    let data: Vec<&str> = s.events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data.len(), 3, "{data:?}");
    let role: Value = serde_json::from_str(data[0]).expect("json");
    assert_eq!(role["choices"][0]["delta"]["role"], "assistant");
    let err: Value = serde_json::from_str(data[1]).expect("json");
    assert_eq!(err["error"]["type"], "InternalServerError");
    assert_eq!(err["error"]["code"], 500);
    assert_eq!(data[2], "[DONE]");
}

async fn failed_indices(c: &reqwest::Client, faults: &Faults, seed: u64) -> BTreeSet<u64> {
    let sim = start(fast(), faults.clone(), seed).await;
    let mut set = BTreeSet::new();
    for i in 0..24 {
        let r = c
            .post(sim.chat_url())
            .json(&chat_body(1, false))
            .send()
            .await
            .expect("send");
        if r.status() == 503 {
            set.insert(i);
        }
    }
    set
}

/// The same seed faults the same arrival indices, as `Faults::plan` predicts.
#[tokio::test]
async fn faults_are_deterministic_per_seed() {
    let faults = Faults {
        error_rate: 0.4,
        error_status: 503,
        ..Faults::default()
    };
    let c = client();
    let a = failed_indices(&c, &faults, 42).await;
    let b = failed_indices(&c, &faults, 42).await;
    let other = failed_indices(&c, &faults, 43).await;
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert!(!a.is_empty() && a.len() < 24, "{a:?}");
    let predicted: BTreeSet<u64> = (0..24)
        .filter(|&i| faults.plan(42, i).error_status.is_some())
        .collect();
    assert_eq!(a, predicted);
}

// ---------------------------------------------------------------- lifecycle

/// A client that goes away frees its batch slot at once.
#[tokio::test]
async fn client_disconnect_frees_the_slot() {
    let profile = Profile {
        max_batch: 1,
        ..FIXED
    };
    let sim = start(profile, Faults::default(), 1).await;
    let c = client();
    // A 10-second request: read its first content token, then hang up.
    let resp = c
        .post(sim.chat_url())
        .json(&chat_body(1000, true))
        .send()
        .await
        .expect("send");
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"content\":\" ") {
        let chunk = body.next().await.expect("more").expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(body);
    let s = stream(&c, &sim.chat_url(), &chat_body(2, true)).await;
    let ttft = s.outputs()[0].at;
    assert!(
        ttft < Duration::from_millis(250),
        "second request waited {ttft:?}: slot not freed"
    );
}

#[tokio::test]
async fn shutdown_cuts_streams_and_drop_stops_the_server() {
    let sim = start(FIXED, Faults::default(), 1).await;
    let c = client();
    let url = sim.chat_url();
    let reader = tokio::spawn({
        let c = c.clone();
        async move { stream(&c, &url, &chat_body(1000, true)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = std::time::Instant::now();
    sim.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let s = reader.await.expect("join");
    assert!(s.error.is_some(), "a cut stream must not look complete");
    assert!(s.outputs().len() < 1000);

    let sim = start(fast(), Faults::default(), 1).await;
    let addr = sim.addr();
    drop(sim);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still accepting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The zero-cost profile serves many concurrent streams without falling over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_profile_serves_many_concurrent_streams() {
    let sim = start(fast(), Faults::default(), 1).await;
    let c = client();
    let n = 200;
    let tokens = 50;
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let c = c.clone();
            let url = sim.chat_url();
            tokio::spawn(async move { stream(&c, &url, &chat_body(tokens, true)).await })
        })
        .collect();
    for task in tasks {
        // A guard against a hang, not a speed check (benchmarks: scripts/bench).
        let s = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("a stream hung")
            .expect("join");
        assert_eq!(s.error, None);
        assert_eq!(s.outputs().len(), tokens as usize);
        assert_eq!(s.events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    }
}
