//! Acceptance of the streaming client over real HTTP on 127.0.0.1: timing accuracy against
//! the `fixed` simulator profile, token counting when usage is not asked for, the API key
//! and the request id. What a misbehaving engine does to a request (every error class) is in
//! tests/faults.rs.

use crate::common;

use std::time::Duration;

use common::*;
use llmsweep::client::{ErrorClass, Timeouts, Timings};
use llmsweep::sim::{Faults, FIXED};

/// Sends `n` requests one after the other and returns their timings.
async fn sequential(
    client: &llmsweep::client::EngineClient,
    body: bytes::Bytes,
    n: usize,
) -> Vec<Timings> {
    let mut all = Vec::new();
    for _ in 0..n {
        let t = tokio::time::timeout(GUARD, client.send(body.clone(), "t-1"))
            .await
            .expect("request hung")
            .unwrap_or_else(|e| panic!("request failed: {e:?}"));
        all.push(t);
    }
    all
}

/// TTFT, TPOT, ITL, E2E and the token count against the `fixed` profile's timings: 50 ms
/// prefill, then a token every 10 ms. On the paused clock they are exact to the microsecond.
fn check_fixed(all: &[Timings], max_tokens: u32) {
    let n = u64::from(max_tokens);
    for t in all {
        assert_eq!(t.output_tokens, n, "{t:?}");
        assert!(!t.output_tokens_estimated, "{t:?}");
        assert_eq!(t.ttft_us, 60_000, "TTFT: {t:?}");
        assert_eq!(
            t.itl_us,
            vec![10_000; max_tokens as usize - 1],
            "ITL: {t:?}"
        );
        assert_eq!(t.e2e_us, 50_000 + 10_000 * n, "E2E: {t:?}");
        assert_eq!(t.tpot_us(), Some(10_000.0), "TPOT: {t:?}");
    }
}

// Timing accuracy runs on tokio's paused (virtual) clock: the simulator and the client both
// use `tokio::time`, the HTTP is real, and the result does not depend on how loaded the
// machine is. Loopback writes land in the peer's socket before the runtime idles, so the
// clock only auto-advances to the simulator's next step.
#[tokio::test(start_paused = true)]
async fn fixed_profile_chat_measures_ttft_tpot_and_usage_tokens() {
    let sim = sim(FIXED, Faults::default()).await;
    let client = client(&sim.chat_url());
    let all = sequential(&client, body("chat", 20, true), 5).await;
    check_fixed(&all, 20);
    for t in &all {
        // "one two … ten" = 10 words ≈ 13 prompt tokens, from usage.
        assert_eq!(t.input_tokens, Some(13), "{t:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn fixed_profile_completions_measures_the_same() {
    let sim = sim(FIXED, Faults::default()).await;
    let client = client(&sim.completions_url());
    let all = sequential(&client, body("completions", 20, true), 5).await;
    check_fixed(&all, 20);
}

#[tokio::test(start_paused = true)]
async fn role_only_first_chunk_does_not_set_ttft() {
    // The chat stream's role chunk arrives at admission, ~60 ms before the first content
    // token; TTFT must be the content's time, not the role chunk's.
    let sim = sim(FIXED, Faults::default()).await;
    let client = client(&sim.chat_url());
    let t = sequential(&client, body("chat", 2, true), 1)
        .await
        .remove(0);
    // The role chunk came at 0 ms (admission): counting it would give 0.
    assert_eq!(t.ttft_us, 60_000, "the role-only chunk was counted: {t:?}");
    // And the first-token timeout is not satisfied by the role chunk either.
    let strict = client_with(
        &sim.chat_url(),
        Timeouts {
            first_token: Some(Duration::from_millis(30)),
            ..timeouts()
        },
        None,
    );
    let e = strict.send(body("chat", 2, true), "t-1").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TimeoutFirstToken, "{e:?}");
}

#[tokio::test]
async fn role_only_first_chunk_does_not_set_ttft_on_the_real_clock() {
    // On the real clock timings can only be late, never early: a TTFT near 0 would mean the
    // role chunk (sent at admission) was taken for the first token.
    let sim = sim(FIXED, Faults::default()).await;
    let t = sequential(&client(&sim.chat_url()), body("chat", 2, true), 1)
        .await
        .remove(0);
    assert!(t.ttft_us >= 59_000, "TTFT {} µs", t.ttft_us);
    // (The gap to the second token is not bounded below: the simulator keeps absolute
    // deadlines, so a late first token is followed by an early second one.)
    assert!(t.e2e_us >= 69_000, "{t:?}");
}

#[tokio::test]
async fn stream_usage_false_counts_chunks_and_flags_estimated() {
    let sim = sim(quick(), Faults::default()).await;
    let body = body("chat", 9, false);
    assert!(!String::from_utf8_lossy(&body).contains("include_usage"));
    for url in [sim.chat_url()] {
        let t = sequential(&client(&url), body.clone(), 1).await.remove(0);
        assert_eq!(t.output_tokens, 9, "{t:?}");
        assert!(t.output_tokens_estimated, "{t:?}");
    }
    let t = sequential(
        &client(&sim.completions_url()),
        common::body("completions", 9, false),
        1,
    )
    .await
    .remove(0);
    assert_eq!((t.output_tokens, t.output_tokens_estimated), (9, true));
}

#[tokio::test]
async fn api_key_is_sent_as_bearer_and_never_shown() {
    const KEY: &str = "sk-test-very-secret-0123456789";
    // The server echoes the Authorization header back in each kind of answer.
    let server = raw_server(|head| {
        let auth = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            .unwrap_or("")
            .to_string();
        if head.contains("/v1/chat/completions") && head.contains("x-mode: 401") {
            http_response(
                "401 Unauthorized",
                "application/json",
                &format!(r#"{{"error":{{"message":"bad key: {auth}"}}}}"#),
            )
        } else if head.contains("x-mode: json") {
            http_response(
                "200 OK",
                "application/json",
                &format!("{{\"echo\":\"{auth}\"}}"),
            )
        } else {
            http_response(
                "200 OK",
                "text/event-stream",
                &format!(
                    "data: {{\"error\":{{\"message\":\"rejected {auth}\"}}}}\n\ndata: [DONE]\n\n"
                ),
            )
        }
    })
    .await;

    for mode in ["401", "json", "sse"] {
        let client = llmsweep::client::EngineClient::new(llmsweep::client::openai::ClientSpec {
            url: &server.url,
            key: Some(llmsweep::secret::Secret::new(KEY.to_string())),
            headers: &[("x-mode".to_string(), mode.to_string())],
            timeouts: timeouts(),
            max_connections: 1,
            max_tokens: 4,
        })
        .expect("client");
        assert!(!format!("{client:?}").contains(KEY), "{client:?}");
        let e = client.send(body("chat", 4, true), "t-1").await.unwrap_err();
        let expected = match mode {
            "401" => ErrorClass::HttpStatus,
            "json" => ErrorClass::MalformedStream,
            _ => ErrorClass::EngineError,
        };
        assert_eq!(e.class, expected, "{mode}: {e:?}");
        assert!(
            e.message.contains("Bearer"),
            "{mode}: the echo should be visible, only the key hidden: {e:?}"
        );
        assert!(!e.message.contains(KEY), "{mode}: key leaked: {e:?}");
        assert!(!format!("{e:?}").contains(KEY), "{mode}: key leaked: {e:?}");
        assert!(!format!("{client:?}").contains(KEY));
    }

    let heads = server.heads.lock().expect("heads").clone();
    assert_eq!(heads.len(), 3);
    for head in &heads {
        let auth: Vec<&str> = head
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            .collect();
        assert_eq!(auth.len(), 1, "{head}");
        assert_eq!(
            auth[0].split_once(':').map(|(_, v)| v.trim()),
            Some(format!("Bearer {KEY}").as_str()),
            "{head}"
        );
    }
}

#[tokio::test]
async fn no_key_sends_no_authorization_header() {
    let server =
        raw_server(|_| http_response("500 Internal Server Error", "text/plain", "no")).await;
    let e = client(&server.url)
        .send(body("chat", 4, true), "t-1")
        .await
        .unwrap_err();
    assert_eq!((e.class, e.status), (ErrorClass::HttpStatus, Some(500)));
    let heads = server.heads.lock().expect("heads").clone();
    assert_eq!(heads.len(), 1);
    assert!(
        !heads[0].to_ascii_lowercase().contains("authorization:"),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn a_key_cut_by_the_snippet_limit_leaks_no_part_of_it() {
    const KEY: &str = "sk-straddle-ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    // Error texts are cut to 200 characters; put the echoed key across that cut.
    let pad = "x".repeat(190);
    let echo = format!("{pad}{KEY} and more text after it");
    let server = raw_server(move |head| {
        if head.contains("x-mode: status") {
            http_response("401 Unauthorized", "text/plain", &echo)
        } else if head.contains("x-mode: json") {
            http_response("200 OK", "application/json", &echo)
        } else if head.contains("x-mode: engine") {
            let event = format!("data: {{\"error\":{{\"message\":\"{echo}\"}}}}\n\n");
            http_response("200 OK", "text/event-stream", &event)
        } else {
            let event = format!("data: {{{echo}\n\n");
            http_response("200 OK", "text/event-stream", &event)
        }
    })
    .await;
    for (mode, class) in [
        ("status", ErrorClass::HttpStatus),
        ("json", ErrorClass::MalformedStream),
        ("engine", ErrorClass::EngineError),
        ("malformed", ErrorClass::MalformedStream),
    ] {
        let client = llmsweep::client::EngineClient::new(llmsweep::client::openai::ClientSpec {
            url: &server.url,
            key: Some(llmsweep::secret::Secret::new(KEY.to_string())),
            headers: &[("x-mode".to_string(), mode.to_string())],
            timeouts: timeouts(),
            max_connections: 1,
            max_tokens: 4,
        })
        .expect("client");
        let e = client.send(body("chat", 4, true), "t-1").await.unwrap_err();
        assert_eq!(e.class, class, "{mode}: {e:?}");
        // No 8-character piece of the key may show.
        for start in 0..=KEY.len() - 8 {
            let piece = &KEY[start..start + 8];
            assert!(
                !e.message.contains(piece),
                "{mode}: {piece:?} of the key leaked: {}",
                e.message
            );
        }
    }
}

#[tokio::test]
async fn the_request_id_goes_out_as_x_request_id_unless_the_config_sets_one() {
    let sse =
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\n\n\
               data: [DONE]\n\n";
    let server = raw_server(move |_| http_response("200 OK", "text/event-stream", sse)).await;
    let own = [("X-Request-Id".to_string(), "mine".to_string())];
    for headers in [&[][..], &own[..]] {
        let client = llmsweep::client::EngineClient::new(llmsweep::client::openai::ClientSpec {
            url: &server.url,
            key: None,
            headers,
            timeouts: timeouts(),
            max_connections: 1,
            max_tokens: 4,
        })
        .expect("client");
        client
            .send(body("chat", 1, false), "run-e0-l0-7")
            .await
            .expect("stream");
    }
    let heads = server.heads.lock().expect("heads").clone();
    let ids: Vec<Vec<&str>> = heads
        .iter()
        .map(|head| {
            head.lines()
                .filter_map(|l| l.split_once(':'))
                .filter(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
                .map(|(_, v)| v.trim())
                .collect()
        })
        .collect();
    assert_eq!(ids, vec![vec!["run-e0-l0-7"], vec!["mine"]]);
}

#[test]
fn the_debug_of_a_client_shows_its_url_but_never_the_key() {
    const URL: &str = "http://127.0.0.1:9/v1/chat/completions";
    let client = client_with(URL, timeouts(), Some("sk-debug-0123456789"));
    let shown = format!("{client:?}");
    assert!(shown.starts_with("EngineClient"), "{shown}");
    assert!(shown.contains(URL), "{shown}");
    assert!(!shown.contains("sk-debug-0123456789"), "{shown}");
}

#[tokio::test]
async fn connections_opened_counts_each_new_tcp_connection() {
    let server = counting_server(3, Duration::from_millis(20)).await;
    let client = client(&server.url);
    assert_eq!(client.connections_opened(), 0);
    let body = body("chat", 3, true);
    // Two requests in flight at once need a connection each.
    let (a, b) = tokio::time::timeout(
        GUARD,
        futures_util::future::join(client.send(body.clone(), "t-1"), client.send(body, "t-2")),
    )
    .await
    .expect("requests hung");
    a.expect("first request");
    b.expect("second request");
    let in_flight = server
        .in_flight_at_arrival
        .lock()
        .expect("arrivals")
        .clone();
    assert_eq!(in_flight.iter().max(), Some(&2), "{in_flight:?}");
    assert_eq!(client.connections_opened(), 2);
}

/// A keep-alive HTTP/1.1 server: every request on a connection gets a two-token SSE stream
/// ending in `[DONE]`, and the chunked body's terminator `terminator_after` later. Returns
/// the URL and the number of connections accepted.
async fn keep_alive_server(
    terminator_after: Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncWriteExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().expect("addr")
    );
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                while read_request(&mut tcp).await.is_some() {
                    let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                                    transfer-encoding: chunked\r\n\r\n"
                        .to_vec();
                    for event in [
                        r#"{"choices":[{"index":0,"delta":{"content":" a"},"finish_reason":null}]}"#,
                        r#"{"choices":[{"index":0,"delta":{"content":" b"},"finish_reason":"stop"}]}"#,
                        "[DONE]",
                    ] {
                        let event = format!("data: {event}\n\n");
                        out.extend_from_slice(
                            format!("{:x}\r\n{event}\r\n", event.len()).as_bytes(),
                        );
                    }
                    if tcp.write_all(&out).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(terminator_after).await;
                    if tcp.write_all(b"0\r\n\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn a_body_ended_a_moment_after_done_keeps_its_connection_for_the_next_request() {
    let (url, accepted) = keep_alive_server(Duration::from_millis(50)).await;
    let client = client(&url);
    let all = sequential(&client, body("chat", 2, false), 3).await;
    assert!(all.iter().all(|t| t.output_tokens == 2), "{all:?}");
    assert_eq!(client.connections_opened(), 1);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_itl_buffer_is_reserved_for_max_tokens_gaps_up_front() {
    // Built for max_tokens = 64: a gap per chunk is pushed on the hot path without growing.
    let server = counting_server(3, Duration::from_millis(1)).await;
    let t = client(&server.url)
        .send(body("chat", 3, true), "t-1")
        .await
        .expect("reply");
    assert_eq!(t.itl_us.len(), 2, "{t:?}");
    assert!(t.itl_us.capacity() >= 64, "{}", t.itl_us.capacity());
}
