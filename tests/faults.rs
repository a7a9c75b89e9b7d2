//! The fault matrix: every way an engine can misbehave, through `EngineClient::send` against
//! the simulator (or a raw TCP server on 127.0.0.1 where the simulator can't misbehave that
//! way), each ending in the right error class; and the driver giving up on an engine that is
//! down. Real time, short bounds: the whole file runs in a few seconds.

use crate::common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use llmsweep::client::openai::ClientSpec;
use llmsweep::client::{EngineClient, ErrorClass, RequestError, Timeouts, Timings};
use llmsweep::config::{Config, Sources};
use llmsweep::events::Event;
use llmsweep::results::model::LevelStatus;
use llmsweep::secret::Secret;
use llmsweep::sim::{self, Faults, Profile, SimConfig, SimServer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

const MAX_TOKENS: u32 = 8;

/// Generous limits: a test that expects a timeout sets its own.
fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_token: None,
        idle: None,
        total: Duration::from_secs(5),
    }
}

fn client(url: &str, timeouts: Timeouts, key: Option<&str>) -> EngineClient {
    EngineClient::new(ClientSpec {
        url,
        key: key.map(|k| Secret::new(k.into())),
        headers: &[],
        timeouts,
        max_connections: 4,
        max_tokens: MAX_TOKENS,
    })
    .expect("client")
}

fn body() -> Bytes {
    Bytes::from(
        serde_json::json!({
            "model": "m",
            "messages": [{"role": "user", "content": "one two three"}],
            "max_tokens": MAX_TOKENS,
            "stream": true,
            "stream_options": {"include_usage": true},
        })
        .to_string(),
    )
}

async fn start_sim(faults: Faults) -> SimServer {
    sim::spawn(SimConfig {
        profile: Profile::by_name("fast").expect("fast profile"),
        faults,
        seed: 1,
        timing_log: None,
    })
    .await
    .expect("spawn sim")
}

/// Sends one request to a simulator with `faults`; returns the result and how long it took.
async fn send_sim(faults: Faults, timeouts: Timeouts) -> (Result<Timings, RequestError>, Duration) {
    let server = start_sim(faults).await;
    let c = client(&server.chat_url(), timeouts, None);
    let t = Instant::now();
    let result = c.send(body(), "t-1").await;
    let took = t.elapsed();
    server.shutdown().await;
    (result, took)
}

fn expect_err(result: Result<Timings, RequestError>, class: ErrorClass) -> RequestError {
    match result {
        Err(e) if e.class == class => e,
        other => panic!("expected {class:?}, got {other:?}"),
    }
}

/// A raw HTTP/1.1 server on 127.0.0.1:0: each connection's request (head and
/// content-length body) is read, then `respond(head, stream)` writes whatever it likes.
async fn raw_server<F, Fut>(respond: F) -> String
where
    F: Fn(String, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let respond = respond.clone();
            tokio::spawn(async move {
                let Some(head) = common::read_request(&mut tcp).await else {
                    return;
                };
                respond(head, tcp).await;
            });
        }
    });
    format!("http://{addr}/v1/chat/completions")
}

const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

/// Writes `data` as one HTTP chunk.
async fn write_chunk(tcp: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    tcp.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    tcp.write_all(data).await?;
    tcp.write_all(b"\r\n").await
}

const ROLE: &str = r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;

fn content(word: &str) -> String {
    format!(
        r#"data: {{"choices":[{{"index":0,"delta":{{"content":"{word}"}},"finish_reason":null}}]}}"#
    )
}

// --- HTTP status ---------------------------------------------------------------------------

#[tokio::test]
async fn http_error_statuses_keep_status_and_body_snippet() {
    for status in [400u16, 401, 404, 429, 500, 503] {
        let faults = Faults {
            error_rate: 1.0,
            error_status: status,
            ..Faults::default()
        };
        let (result, _) = send_sim(faults, timeouts()).await;
        let e = expect_err(result, ErrorClass::HttpStatus);
        assert_eq!(e.status, Some(status));
        assert!(
            e.message.starts_with(&format!("HTTP {status}: "))
                && e.message.contains("simulated error"),
            "{e:?}"
        );
        assert!(!e.message.contains('\n'), "one line: {e:?}");
    }
}

#[tokio::test]
async fn api_key_echoed_in_a_401_body_is_redacted() {
    const KEY: &str = "sk-test-ECHOED-0123456789";
    let url = raw_server(|head, mut tcp| async move {
        let auth = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            .unwrap_or("none")
            .to_string();
        let body = format!(r#"{{"error":{{"message":"invalid key, you sent {auth}"}}}}"#);
        let response = format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = tcp.write_all(response.as_bytes()).await;
    })
    .await;
    let e = expect_err(
        client(&url, timeouts(), Some(KEY))
            .send(body(), "t-1")
            .await,
        ErrorClass::HttpStatus,
    );
    assert_eq!(e.status, Some(401));
    assert!(
        e.message.contains("Bearer ***"),
        "the echo must be there: {e:?}"
    );
    assert!(!e.message.contains(KEY), "{e:?}");
}

#[tokio::test]
async fn error_body_snippet_is_bounded() {
    let url = raw_server(|_, mut tcp| async move {
        // 8 MiB of body: only the first 4 KiB is read, and the message stays one short line.
        let body = "e\n".repeat(4 << 20);
        let head = format!(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let _ = tcp.write_all(head.as_bytes()).await;
        let _ = tcp.write_all(body.as_bytes()).await;
    })
    .await;
    let e = expect_err(
        client(&url, timeouts(), None).send(body(), "t-1").await,
        ErrorClass::HttpStatus,
    );
    assert_eq!(e.status, Some(500));
    assert!(e.message.len() < 300 && !e.message.contains('\n'), "{e:?}");
}

#[tokio::test]
async fn an_error_body_sent_in_pieces_is_read_whole() {
    let url = raw_server(|_, mut tcp| async move {
        let (first, second) = ("model overloaded, ", "retry later");
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\n\r\n{first}",
            first.len() + second.len()
        );
        let _ = tcp.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        let _ = tcp.write_all(second.as_bytes()).await;
    })
    .await;
    let e = expect_err(
        client(&url, timeouts(), None).send(body(), "t-1").await,
        ErrorClass::HttpStatus,
    );
    assert_eq!(e.message, "HTTP 503: model overloaded, retry later");
}

#[tokio::test]
async fn a_key_cut_by_the_4_kib_limit_is_not_shown_in_part() {
    // A 200-character key echoed 21 times: the 4 KiB cut falls inside the 21st echo, whose
    // first 96 characters would otherwise reach the message after 20 × "***".
    let key = format!("sk-{}", "k".repeat(197));
    let echoes = key.repeat(21);
    let url = raw_server(move |_, mut tcp| {
        let echoes = echoes.clone();
        async move {
            let head = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n{echoes}",
                echoes.len()
            );
            let _ = tcp.write_all(head.as_bytes()).await;
        }
    })
    .await;
    let e = expect_err(
        client(&url, timeouts(), Some(&key))
            .send(body(), "t-1")
            .await,
        ErrorClass::HttpStatus,
    );
    assert_eq!(e.message, format!("HTTP 500: {}", "***".repeat(21)));
    assert!(!e.message.contains("sk-kkkk"), "{}", e.message);
}

#[tokio::test]
async fn an_error_body_is_cut_to_its_first_4_kib() {
    // A 200-character key echoed 20 times fills 4000 bytes but redacts to 60 characters,
    // so the message would show what the body holds past its first 4 KiB if it were read.
    let key = format!("sk-{}", "k".repeat(197));
    let echoes = key.repeat(20);
    let rest = format!(
        "{}PAST-4-KIB{}",
        "x".repeat(4096 - echoes.len()),
        "y".repeat(500)
    );
    let url = raw_server(move |_, mut tcp| {
        let (echoes, rest) = (echoes.clone(), rest.clone());
        async move {
            let head = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n{echoes}",
                echoes.len() + rest.len()
            );
            let _ = tcp.write_all(head.as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(30)).await;
            let _ = tcp.write_all(rest.as_bytes()).await;
        }
    })
    .await;
    let e = expect_err(
        client(&url, timeouts(), Some(&key))
            .send(body(), "t-1")
            .await,
        ErrorClass::HttpStatus,
    );
    let expected = format!("HTTP 500: {}{}", "***".repeat(20), "x".repeat(96));
    assert_eq!(e.message, expected);
}

// Paused clock: the body never ends, and the 2 s pass at once once nothing else can happen.
#[tokio::test(start_paused = true)]
async fn an_error_body_that_never_ends_is_given_up_on_after_2_s() {
    let url = raw_server(|_, mut tcp| async move {
        let _ = tcp
            .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 100000\r\n\r\noops")
            .await;
        std::future::pending::<()>().await;
    })
    .await;
    let t = Instant::now();
    let e = expect_err(
        client(&url, timeouts(), None).send(body(), "t-1").await,
        ErrorClass::HttpStatus,
    );
    let took = t.elapsed();
    assert_eq!(e.message, "HTTP 500: oops");
    // The total (5 s) is further off: the 2 s of the error body apply.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

// --- Connection ----------------------------------------------------------------------------

#[tokio::test]
async fn connection_refused_is_connect() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let e = expect_err(
        client(&url, timeouts(), None).send(body(), "t-1").await,
        ErrorClass::Connect,
    );
    assert_eq!(e.status, None, "{e:?}");
}

#[tokio::test]
async fn a_connect_error_names_its_os_cause() {
    let url = format!(
        "http://127.0.0.1:{}/v1/chat/completions",
        common::closed_port()
    );
    let e = expect_err(
        client(&url, timeouts(), None).send(body(), "t-1").await,
        ErrorClass::Connect,
    );
    // The HTTP client's own top line ("client error (Connect)") says little; the cause is
    // its source.
    assert!(e.message.starts_with("client error (Connect)"), "{e:?}");
    assert!(
        e.message
            .to_ascii_lowercase()
            .contains("connection refused"),
        "{e:?}"
    );
}

#[tokio::test]
async fn reset_before_headers_is_connect() {
    let faults = Faults {
        reset_before_headers_rate: 1.0,
        ..Faults::default()
    };
    let (result, _) = send_sim(faults, timeouts()).await;
    expect_err(result, ErrorClass::Connect);
}

// --- Timeouts ------------------------------------------------------------------------------

#[tokio::test]
async fn slow_headers_count_toward_first_token() {
    let faults = Faults {
        first_byte_delay_ms: 3_000,
        ..Faults::default()
    };
    let limits = Timeouts {
        first_token: Some(Duration::from_millis(150)),
        ..timeouts()
    };
    let (result, took) = send_sim(faults, limits).await;
    expect_err(result, ErrorClass::TimeoutFirstToken);
    assert!(took >= Duration::from_millis(150), "{took:?}");
}

#[tokio::test]
async fn stall_after_the_role_chunk_is_a_first_token_timeout() {
    // The idle limit is shorter, but a role-only chunk is not output: first-token applies.
    let faults = Faults {
        stall_after_tokens: Some(0),
        stall_ms: 3_000,
        ..Faults::default()
    };
    let limits = Timeouts {
        first_token: Some(Duration::from_millis(250)),
        idle: Some(Duration::from_millis(100)),
        ..timeouts()
    };
    let (result, took) = send_sim(faults, limits).await;
    expect_err(result, ErrorClass::TimeoutFirstToken);
    assert!(took >= Duration::from_millis(250), "{took:?}");
}

#[tokio::test]
async fn stall_mid_stream_is_an_idle_timeout() {
    let faults = Faults {
        stall_after_tokens: Some(3),
        stall_ms: 3_000,
        ..Faults::default()
    };
    let limits = Timeouts {
        first_token: Some(Duration::from_secs(2)),
        idle: Some(Duration::from_millis(150)),
        ..timeouts()
    };
    let (result, took) = send_sim(faults, limits).await;
    expect_err(result, ErrorClass::TimeoutIdle);
    assert!(took >= Duration::from_millis(150), "{took:?}");
}

#[tokio::test]
async fn stall_without_phase_limits_ends_at_the_total() {
    let faults = Faults {
        stall_after_tokens: Some(3),
        stall_ms: 3_000,
        ..Faults::default()
    };
    let limits = Timeouts {
        total: Duration::from_millis(300),
        ..timeouts()
    };
    let (result, took) = send_sim(faults, limits).await;
    expect_err(result, ErrorClass::TimeoutTotal);
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[tokio::test]
async fn a_phase_limit_beyond_the_total_reports_the_total() {
    let faults = Faults {
        first_byte_delay_ms: 3_000,
        ..Faults::default()
    };
    let limits = Timeouts {
        first_token: Some(Duration::from_secs(60)),
        total: Duration::from_millis(200),
        ..timeouts()
    };
    let (result, _) = send_sim(faults.clone(), limits).await;
    expect_err(result, ErrorClass::TimeoutTotal);
    // No first-token limit at all: slow headers are a total timeout as well.
    let limits = Timeouts {
        total: Duration::from_millis(200),
        ..timeouts()
    };
    let (result, _) = send_sim(faults, limits).await;
    expect_err(result, ErrorClass::TimeoutTotal);
}

#[tokio::test]
async fn a_slow_error_body_cannot_outlive_the_total() {
    // Headers of a 500 at once, then the body trickles and never ends.
    let url = raw_server(|_, mut tcp| async move {
        let _ = tcp
            .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 100000\r\n\r\noops")
            .await;
        // The rest of the body never comes: waiting for it would end as a total timeout.
        std::future::pending::<()>().await;
    })
    .await;
    let limits = Timeouts {
        total: Duration::from_millis(300),
        ..timeouts()
    };
    let e = expect_err(
        client(&url, limits, None).send(body(), "t-1").await,
        ErrorClass::HttpStatus,
    );
    assert!(e.message.contains("oops"), "{e:?}");
}

// --- Stream shape --------------------------------------------------------------------------

/// Dropped before the first token (after the role chunk) or after some.
#[tokio::test]
async fn drop_mid_stream_is_ended_early() {
    for after in [0, 3] {
        let faults = Faults {
            drop_after_tokens: Some(after),
            drop_rate: 1.0,
            ..Faults::default()
        };
        let (result, _) = send_sim(faults, timeouts()).await;
        expect_err(result, ErrorClass::EndedEarly);
    }
}

#[tokio::test]
async fn clean_close_without_done_or_finish_is_ended_early() {
    let url = raw_server(|_, mut tcp| async move {
        let _ = tcp.write_all(SSE_HEAD).await;
        for event in [ROLE.to_string(), content(" a"), content(" b")] {
            let _ = write_chunk(&mut tcp, format!("{event}\n\n").as_bytes()).await;
        }
        let _ = tcp.write_all(b"0\r\n\r\n").await;
    })
    .await;
    expect_err(
        client(&url, timeouts(), None).send(body(), "t-1").await,
        ErrorClass::EndedEarly,
    );
}

#[tokio::test]
async fn a_finish_reason_ends_the_stream_well_without_done() {
    // The finish chunk comes before the usage chunk, and no `[DONE]` follows.
    let url = raw_server(|_, mut tcp| async move {
        let _ = tcp.write_all(SSE_HEAD).await;
        let finish =
            r#"data: {"choices":[{"index":0,"delta":{"content":" b"},"finish_reason":"stop"}]}"#;
        let usage = r#"data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        for event in [ROLE, &content(" a"), finish, usage] {
            let _ = write_chunk(&mut tcp, format!("{event}\n\n").as_bytes()).await;
        }
        let _ = tcp.write_all(b"0\r\n\r\n").await;
    })
    .await;
    let t = client(&url, timeouts(), None)
        .send(body(), "t-1")
        .await
        .expect("a finished stream");
    assert_eq!((t.output_tokens, t.input_tokens), (2, Some(3)));
    assert!(!t.output_tokens_estimated);
}

#[tokio::test]
async fn malformed_json_chunk_is_malformed_stream() {
    let faults = Faults {
        malformed_rate: 1.0,
        ..Faults::default()
    };
    let (result, _) = send_sim(faults, timeouts()).await;
    expect_err(result, ErrorClass::MalformedStream);
}

#[tokio::test]
async fn non_sse_body_is_malformed_stream() {
    let faults = Faults {
        non_sse_rate: 1.0,
        ..Faults::default()
    };
    let (result, _) = send_sim(faults, timeouts()).await;
    let e = expect_err(result, ErrorClass::MalformedStream);
    assert!(e.message.contains("application/json"), "{e:?}");
}

#[tokio::test]
async fn event_over_1_mib_is_cut_off() {
    let faults = Faults {
        huge_event_bytes: Some(3 << 20),
        ..Faults::default()
    };
    let (result, _) = send_sim(faults, timeouts()).await;
    let e = expect_err(result, ErrorClass::MalformedStream);
    assert!(e.message.contains("event larger than 1 MiB"), "{e:?}");
}

#[tokio::test]
async fn event_just_under_1_mib_is_fine() {
    let faults = Faults {
        huge_event_bytes: Some((1 << 20) - 64),
        ..Faults::default()
    };
    let (result, _) = send_sim(faults, timeouts()).await;
    let t = result.expect("a large but legal event");
    assert_eq!(t.output_tokens, u64::from(MAX_TOKENS));
}

#[tokio::test]
async fn endless_line_is_cut_off_without_buffering_it() {
    // No newline ever; the server stops when the client hangs up. Sends at most ~1 MiB plus
    // what the socket buffers hold before the client gives up.
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let url = raw_server(move |_, mut tcp| {
        let counter = counter.clone();
        async move {
            let _ = tcp.write_all(SSE_HEAD).await;
            let _ = write_chunk(&mut tcp, b"data: ").await;
            let block = vec![b'x'; 64 << 10];
            for _ in 0..1024 {
                if write_chunk(&mut tcp, &block).await.is_err() {
                    break;
                }
                counter.fetch_add(block.len(), std::sync::atomic::Ordering::Relaxed);
            }
        }
    })
    .await;
    let e = expect_err(
        client(&url, timeouts(), None).send(body(), "t-1").await,
        ErrorClass::MalformedStream,
    );
    assert!(e.message.contains("event larger than 1 MiB"), "{e:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 32 << 20, "the server kept sending: {sent} bytes");
}

#[tokio::test]
async fn invalid_utf8_in_a_chunk_is_malformed_at_once() {
    // The connection stays open after the bad bytes: the client must not wait for its end.
    let url = raw_server(|_, mut tcp| async move {
        let _ = tcp.write_all(SSE_HEAD).await;
        let _ = write_chunk(&mut tcp, format!("{ROLE}\n\n").as_bytes()).await;
        let _ = write_chunk(
            &mut tcp,
            b"data: {\"choices\":[{\"delta\":{\"content\":\"\xff\xfe\"}}]}\n\n",
        )
        .await;
        // Nothing more: a client that waited for the next chunk would time out instead.
        std::future::pending::<()>().await;
    })
    .await;
    let limits = Timeouts {
        total: Duration::from_secs(2),
        ..timeouts()
    };
    let e = expect_err(
        client(&url, limits, None).send(body(), "t-1").await,
        ErrorClass::MalformedStream,
    );
    // serde_json checks the string as it reads it.
    assert!(e.message.contains("invalid unicode code point"), "{e:?}");
}

#[tokio::test]
async fn duplicate_done_and_events_after_done_are_ignored() {
    let url = raw_server(|_, mut tcp| async move {
        let _ = tcp.write_all(SSE_HEAD).await;
        let mut events = vec![ROLE.to_string(), content(" a"), content(" b")];
        events.push("data: [DONE]".into());
        events.push("data: [DONE]".into());
        events.push(content(" late"));
        events.push("data: {not json".into());
        for event in events {
            // CRLF line endings, split mid-event.
            let bytes = format!("{event}\r\n\r\n").into_bytes();
            let (a, b) = bytes.split_at(bytes.len() / 2);
            let _ = write_chunk(&mut tcp, a).await;
            let _ = write_chunk(&mut tcp, b).await;
        }
        let _ = tcp.write_all(b"0\r\n\r\n").await;
    })
    .await;
    let t = client(&url, timeouts(), None)
        .send(body(), "t-1")
        .await
        .expect("ok");
    assert_eq!((t.output_tokens, t.output_tokens_estimated), (2, true));
    assert_eq!(t.itl_us.len(), 1);
}

#[tokio::test]
async fn in_stream_error_is_engine_error() {
    let faults = Faults {
        in_stream_error_rate: 1.0,
        ..Faults::default()
    };
    let (result, _) = send_sim(faults, timeouts()).await;
    let e = expect_err(result, ErrorClass::EngineError);
    assert!(e.message.contains("simulated in-stream error"), "{e:?}");
}

#[tokio::test]
async fn stream_without_usage_succeeds_with_estimated_tokens() {
    let faults = Faults {
        no_usage: true,
        ..Faults::default()
    };
    let (result, _) = send_sim(faults, timeouts()).await;
    let t = result.expect("ok");
    assert_eq!(t.output_tokens, u64::from(MAX_TOKENS));
    assert!(t.output_tokens_estimated);
    assert_eq!(t.input_tokens, None);
}

// --- Config --------------------------------------------------------------------------------

fn load(toml: &str) -> Result<Config, String> {
    Config::load(&Sources {
        text: Some(("test".into(), toml.into())),
        env: Some(Default::default()),
        ..Sources::default()
    })
    .map_err(|e| e.to_string())
}

#[test]
fn timeout_keys_are_read_and_validated() {
    let config = load("[sweep]\nfirst_token_timeout_s = 2.5\nidle_timeout_s = 1\n").expect("valid");
    assert_eq!(config.sweep.first_token_timeout_s, Some(2.5));
    assert_eq!(config.sweep.idle_timeout_s, Some(1.0));
    let config = load("").expect("valid");
    assert_eq!(
        (
            config.sweep.first_token_timeout_s,
            config.sweep.idle_timeout_s
        ),
        (None, None)
    );
    for (key, value) in [
        ("first_token_timeout_s", "0"),
        ("idle_timeout_s", "-1"),
        ("idle_timeout_s", "nan"),
        ("first_token_timeout_s", "inf"),
        ("timeout_s", "1e300"),
        ("connect_timeout_s", "0.0"),
    ] {
        let e = load(&format!("[sweep]\n{key} = {value}\n")).expect_err(key);
        assert!(
            e.starts_with(&format!(
                "test: `sweep.{key}` must be a positive number of seconds"
            )),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }
}

// --- Driver: an engine that is down ----------------------------------------------------------

#[tokio::test]
async fn unreachable_engine_is_skipped_after_5_connect_failures() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    let up = start_sim(Faults::default()).await;
    let toml = format!(
        r#"
[sweep]
levels = [2, 4, 8]
requests_per_level = 40
timeout_s = 5

[request]
max_tokens = 4

[[engines]]
name = "down"
url = "http://127.0.0.1:{closed}/v1/chat/completions"
model = "m"

[[engines]]
name = "up"
url = "{}"
model = "m"
"#,
        up.chat_url()
    );
    let config = load(&toml).expect("config");
    let plan = llmsweep::plan::Plan::new(config, &|_| None).expect("plan");
    // Without the preflight, which would skip the engine before any level (tests/preflight.rs):
    // this is the in-level rule that catches an engine going down mid-run.
    let mut run = common::Run::start_no_check(plan);
    let seen = run
        .until(
            |e| matches!(e, Event::Warning { text, .. } if text.starts_with("engine unreachable")),
        )
        .await;
    let Some(Event::Warning { engine, text }) = seen.last() else {
        unreachable!("until() ends on the warning")
    };
    let (engine, text) = (*engine, text.clone());
    let (_, outcome) = run.finish().await;
    up.shutdown().await;

    let down = &outcome.report.engines[0];
    let reason = down.skipped_reason.as_deref().expect("a skip reason");
    assert!(reason.starts_with("engine unreachable: "), "{reason}");
    assert_eq!(down.levels.len(), 1, "the partial level is kept, no more");
    let level = &down.levels[0];
    assert_eq!(level.status, LevelStatus::Failed);
    assert!(level.failed >= 5 && level.completed == 0, "{level:?}");
    assert!(level.failed < 40, "the level was cut: {level:?}");

    assert_eq!((engine, text.as_str()), (Some(0), reason));

    let up = &outcome.report.engines[1];
    assert_eq!(up.skipped_reason, None);
    assert_eq!(up.levels.len(), 3, "the run went on to the next engine");
    assert!(up.levels.iter().all(|l| l.status == LevelStatus::Complete));
}
