//! Hot paths of the measurement loop, per call: parsing one SSE chunk, recording one sample,
//! building one snapshot. `cargo bench --bench hot_paths`; numbers go in BENCHMARKS.md.

use bytes::Bytes;
use divan::{black_box, Bencher};
use futures_util::{FutureExt, StreamExt};
use llmsweep::client::Timings;
use llmsweep::client::{chunk, framing, sse};
use llmsweep::metrics::recorder::{LevelRecorder, LevelRun};
use llmsweep::metrics::sample::Sample;

fn main() {
    divan::main();
}

/// A content chunk exactly as vLLM sends it.
const CONTENT: &str = r#"{"id":"chatcmpl-ac2f40a5cd6cc8f8","object":"chat.completion.chunk","created":1795838644,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" throughput"},"logprobs":null,"finish_reason":null,"token_ids":null}]}"#;
const ROLE: &str = r#"{"id":"chatcmpl-ac2f40a5cd6cc8f8","object":"chat.completion.chunk","created":1795838644,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"prompt_token_ids":null}"#;
const USAGE: &str = r#"{"id":"chatcmpl-ac2f40a5cd6cc8f8","object":"chat.completion.chunk","created":1795838644,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[],"usage":{"prompt_tokens":128,"total_tokens":256,"completion_tokens":128}}"#;
const ESCAPED: &str = r#"{"choices":[{"index":0,"delta":{"content":"line\nbreak \"quoted\" \u00e9"},"finish_reason":null}]}"#;

/// One `data:` payload; the argument names the chunk shape.
#[divan::bench(args = ["content", "role_only", "usage", "escaped_content"])]
fn parse_chunk(bencher: Bencher, shape: &str) {
    let data = match shape {
        "content" => CONTENT,
        "role_only" => ROLE,
        "usage" => USAGE,
        _ => ESCAPED,
    };
    bencher.bench_local(
        || matches!(chunk::parse(black_box(data)), Ok(chunk::Parsed::Chunk(info)) if info.output),
    );
}

/// A whole 512-token response, one SSE event per body frame as an engine sends it, through
/// the client's user-space pipeline: arrival stamp, the SSE splitter, chunk parse (through
/// the stream's [`framing::Framing`], as the client parses).
/// Divide by 512 for the per-token figure. The socket, hyper and the runtime are not in it.
#[divan::bench]
fn sse_pipeline_512_tokens(bencher: Bencher) {
    let mut frames: Vec<Bytes> = vec![Bytes::from(format!("data: {ROLE}\n\n"))];
    frames.extend((0..512).map(|_| Bytes::from(format!("data: {CONTENT}\n\n"))));
    frames.push(Bytes::from(format!("data: {USAGE}\n\n")));
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    bencher.bench_local(|| {
        let body = futures_util::stream::iter(
            frames
                .iter()
                .cloned()
                .map(Ok::<_, std::convert::Infallible>),
        );
        let mut stamps = 0u64;
        let mut framing = framing::Framing::default();
        let events = sse::events(body, || stamps += 1);
        let outputs = events
            .fold(0u32, |outputs, event| {
                let data = event.expect("event");
                let output =
                    matches!(framing.parse(&data), Ok(chunk::Parsed::Chunk(i)) if i.output);
                std::future::ready(outputs + u32::from(output))
            })
            .now_or_never()
            .expect("always ready");
        assert_eq!(outputs, 512);
        black_box(outputs)
    });
}

fn sample(tokens: u64) -> Sample {
    Sample {
        request_index: 7,
        request_id: String::new(),
        prompt_index: 3,
        sent_at_ms: 12.5,
        queue_us: 0,
        in_flight_us: 48_000 + 10_000 * (tokens - 1),
        finished_at: tokio::time::Instant::now(),
        result: Ok(Timings {
            ttft_us: 48_000,
            e2e_us: 48_000 + 10_000 * (tokens - 1),
            itl_us: (0..tokens - 1)
                .map(|i| 9_500 + (i % 7) as u32 * 150)
                .collect(),
            output_tokens: tokens,
            output_tokens_estimated: false,
            input_tokens: Some(128),
            coalesced_chunks: 0,
            role_only_first_chunk: false,
            ..Timings::default()
        }),
        turn: None,
    }
}

/// One request of 128 tokens into the level's histograms (127 ITL gaps included).
#[divan::bench]
fn record_sample_128_tokens(bencher: Bencher) {
    let s = sample(128);
    let mut recorder = LevelRecorder::default();
    let mut now_us = 0u64;
    bencher.bench_local(|| {
        now_us += 1_000;
        recorder.record(black_box(&s), now_us);
    });
}

/// One live snapshot (windowed rates and four percentiles) of a level with 10k samples.
#[divan::bench]
fn snapshot_of_10k_samples(bencher: Bencher) {
    let s = sample(128);
    let mut recorder = LevelRecorder::default();
    for ms in 0..10_000u64 {
        recorder.record(&s, ms * 1_000);
    }
    bencher.bench_local(|| black_box(recorder.snapshot(black_box(10_000))));
}

/// The level's full summary (sorting four metrics' exact values: 10k TTFT/E2E/TPOT and
/// 1.27M ITL gaps; the steady window over 10k intervals).
#[divan::bench]
fn summary_of_10k_samples(bencher: Bencher) {
    let s = sample(128);
    let mut recorder = LevelRecorder::default();
    for ms in 0..10_000u64 {
        recorder.record(&s, ms * 1_000);
    }
    let run = LevelRun {
        level: 8.0,
        max_concurrency: 8,
        duration_s: 10.0,
        ..LevelRun::default()
    };
    bencher.bench_local(|| black_box(recorder.summary(run)));
}

/// One host reading: `/proc/stat` and every process's `/proc/<pid>/stat` (taken at a
/// level's start and end, and every second between). Its cost over the one-second gap is
/// the sampler's share of a core.
#[divan::bench]
fn host_snapshot(bencher: Bencher) {
    let root = std::path::Path::new("/proc");
    bencher.bench_local(|| {
        llmsweep::host::snapshot::Snapshot::read(black_box(root)).map(|s| s.procs.len())
    });
}

/// Finding the process listening on a local engine's port (`/proc/net/tcp{,6}` and every
/// process's fds), once per engine per level.
#[divan::bench]
fn host_find_listener(bencher: Bencher) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let root = std::path::Path::new("/proc");
    bencher.bench_local(|| llmsweep::host::engines::listeners(black_box(root), port));
}
