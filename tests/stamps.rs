//! Which chunk each per-request time is stamped at, with every chunk in its own write and
//! a gap between writes, so each rule can only pass for the reason it states:
//! TTFT at the first output chunk (not the role chunk), E2E at the last output chunk (not
//! the finish, usage or `[DONE]` chunks that trail it), ITL between output chunks only.
//!
//! The server is hand-written, on 127.0.0.1:0, and sleeps on tokio's paused clock; the client
//! stamps from the same clock. Loopback writes land in the client's socket before the runtime
//! idles, so the clock only auto-advances to the server's next sleep and every stamp is exact.

use crate::common;

use common::*;
use llmsweep::client::Timings;
use std::time::Duration;

/// One step of the stream: sleep `after_ms` (from the previous write), then write `data`
/// as one SSE event in one write.
struct Step {
    after_ms: u64,
    data: &'static str,
}

const ROLE: &str =
    r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
const TOKEN: &str = r#"{"choices":[{"index":0,"delta":{"content":" x"},"finish_reason":null}]}"#;
const FINISH: &str = r#"{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"length"}]}"#;
const USAGE: &str = r#"{"choices":[],"usage":{"prompt_tokens":13,"completion_tokens":3}}"#;

/// [`common::stepped_server`] for `steps`.
async fn stepped_server(steps: Vec<Step>) -> String {
    common::stepped_server(steps.into_iter().map(|s| (s.after_ms, s.data)).collect()).await
}

async fn send_one(url: &str) -> Timings {
    tokio::time::timeout(GUARD, client(url).send(body("chat", 3, true), "t-1"))
        .await
        .expect("request hung")
        .unwrap_or_else(|e| panic!("request failed: {e:?}"))
}

/// Role chunk at 10 ms, content at 30, 40 and 60 ms, then the finish chunk 50 ms after the
/// last content (110 ms), the usage chunk 50 ms after that (160 ms), `[DONE]` with it.
fn trailing_finish_and_usage() -> Vec<Step> {
    vec![
        Step {
            after_ms: 10,
            data: ROLE,
        },
        Step {
            after_ms: 20,
            data: TOKEN,
        },
        Step {
            after_ms: 10,
            data: TOKEN,
        },
        Step {
            after_ms: 20,
            data: TOKEN,
        },
        Step {
            after_ms: 50,
            data: FINISH,
        },
        Step {
            after_ms: 50,
            data: USAGE,
        },
        Step {
            after_ms: 0,
            data: "[DONE]",
        },
    ]
}

#[tokio::test(start_paused = true)]
async fn e2e_is_the_last_output_chunk_not_the_trailing_finish_or_usage() {
    let url = stepped_server(trailing_finish_and_usage()).await;
    let t = send_one(&url).await;
    assert_eq!(
        t.e2e_us, 60_000,
        "E2E must be the last content chunk's arrival (60 ms), not the finish chunk's \
         (110 ms) or the usage chunk's (160 ms): {t:?}"
    );
    assert_eq!(
        t.ttft_us, 30_000,
        "TTFT must be the first content chunk's arrival (30 ms), not the role chunk's \
         (10 ms): {t:?}"
    );
    assert_eq!(
        t.itl_us,
        vec![10_000, 20_000],
        "ITL: gaps between content chunks only: {t:?}"
    );
    // The usage chunk still counts, though it is not output.
    assert_eq!(t.output_tokens, 3, "{t:?}");
    assert!(!t.output_tokens_estimated, "{t:?}");
    assert_eq!(t.input_tokens, Some(13), "{t:?}");
    // TPOT follows from E2E and TTFT: (60 − 30) / (3 − 1) ms.
    assert_eq!(t.tpot_us(), Some(15_000.0), "{t:?}");
}

#[tokio::test(start_paused = true)]
async fn e2e_ignores_a_late_done_after_a_finish_without_usage() {
    // No usage: the finish chunk, then `[DONE]` 80 ms later. E2E stays at the last token and
    // the token count comes from the output chunks.
    let url = stepped_server(vec![
        Step {
            after_ms: 5,
            data: TOKEN,
        },
        Step {
            after_ms: 15,
            data: TOKEN,
        },
        Step {
            after_ms: 40,
            data: FINISH,
        },
        Step {
            after_ms: 80,
            data: "[DONE]",
        },
    ])
    .await;
    let t = send_one(&url).await;
    assert_eq!((t.ttft_us, t.e2e_us), (5_000, 20_000), "{t:?}");
    assert_eq!(t.itl_us, vec![15_000], "{t:?}");
    assert_eq!(t.output_tokens, 2, "{t:?}");
    assert!(t.output_tokens_estimated, "{t:?}");
}

#[tokio::test(start_paused = true)]
async fn a_last_token_carrying_the_finish_reason_is_output() {
    // vLLM-style: the last content chunk has the finish reason itself; it is the E2E stamp.
    const LAST: &str =
        r#"{"choices":[{"index":0,"delta":{"content":" y"},"finish_reason":"stop"}]}"#;
    let url = stepped_server(vec![
        Step {
            after_ms: 10,
            data: TOKEN,
        },
        Step {
            after_ms: 25,
            data: LAST,
        },
        Step {
            after_ms: 50,
            data: USAGE,
        },
        Step {
            after_ms: 0,
            data: "[DONE]",
        },
    ])
    .await;
    let t = send_one(&url).await;
    assert_eq!((t.ttft_us, t.e2e_us), (10_000, 35_000), "{t:?}");
    assert_eq!(t.itl_us, vec![25_000], "{t:?}");
}

/// [`stepped_server`] on a thread and runtime of its own, on the real clock, so it writes on
/// time while the client's only thread is busy.
fn stepped_server_elsewhere(steps: Vec<Step>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            tx.send(stepped_server(steps).await).expect("send the url");
            std::future::pending::<()>().await
        })
    });
    rx.recv().expect("the server's url")
}

/// A client busy when the first token arrives still stamps when it arrived (the kernel's
/// receive stamp), not when it got round to reading it: the token lands at 30 ms while the
/// client's only thread is blocked from 10 to 310 ms. Stamped on reading, TTFT would be
/// over 310 ms.
#[tokio::test]
async fn a_token_that_waits_in_the_socket_is_stamped_when_it_arrived() {
    let url = stepped_server_elsewhere(vec![
        Step {
            after_ms: 0,
            data: ROLE,
        },
        Step {
            after_ms: 30,
            data: TOKEN,
        },
        Step {
            after_ms: 470,
            data: TOKEN,
        },
        Step {
            after_ms: 0,
            data: FINISH,
        },
        Step {
            after_ms: 0,
            data: "[DONE]",
        },
    ]);
    let client = client(&url);
    let blocker = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        std::thread::sleep(Duration::from_millis(300));
    });
    let t = tokio::time::timeout(GUARD, client.send(body("chat", 2, true), "t-1"))
        .await
        .expect("request hung")
        .unwrap_or_else(|e| panic!("request failed: {e:?}"));
    blocker.await.expect("the blocker");
    assert!(
        (30_000..200_000).contains(&t.ttft_us),
        "TTFT {} µs: stamped when read, not when it arrived: {t:?}",
        t.ttft_us
    );
    // The second token came after the client was free again: its gap is the server's.
    assert_eq!(t.itl_us.len(), 1, "{t:?}");
    assert!(t.itl_us[0] > 300_000, "{t:?}");
}
