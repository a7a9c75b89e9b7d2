//! The simulated engine: a real HTTP server on 127.0.0.1 that speaks the OpenAI streaming
//! API (`/v1/chat/completions`, `/v1/completions`) in vLLM's chunk shapes, serves vLLM's
//! `/metrics`, and models *continuous batching*, so the whole product can be run and tested
//! without a GPU.
//!
//! # The model
//! One scheduler task owns the batch ([`scheduler`](self) module) and loops:
//! 1. **Admit** waiting requests, oldest first, until `max_batch` are running or the next
//!    one's KV does not fit (see below). If at least one was admitted, charge one prefill
//!    step: `prefill_base_us + prefill_us_per_token × Σ prompt tokens admitted` (a
//!    preempted request's output so far counts as prompt).
//!    A chat stream sends its role-only chunk at admission, before the prefill completes.
//! 2. **Decode**: if the batch is non-empty, preempt while it would overflow the KV cache,
//!    charge `decode_base_us + decode_per_seq_us × batch size`, then every running sequence
//!    emits one token. Sequences that reached their length leave the batch.
//! 3. If nothing is running or waiting, sleep until a request arrives.
//!
//! Costs advance an absolute deadline (`sleep_until`), so timings don't drift; with zero
//! costs the loop yields between steps. Time is `tokio::time`, so it also runs under
//! `tokio::time::pause()`. Per-request speed therefore falls and total throughput rises
//! with concurrency until `max_batch` is full; beyond that requests queue and TTFT climbs.
//! Every admission stalls the running sequences for one prefill step (no chunked prefill).
//!
//! With the [`FIXED`] profile, a lone request's first content token arrives
//! 50 ms (prefill) + 10 ms (one decode step) = **60 ms** after admission, each next token
//! **10 ms** later, so a request for N tokens ends `50 + 10 × N` ms after admission.
//!
//! Prompt tokens ≈ `ceil(words × 1.3)` over the chat messages' content or the completions
//! `prompt`. Output tokens = the profile's `output_tokens`, else `max_completion_tokens` /
//! `max_tokens`, else 128. Other fields (`temperature`, `ignore_eos`, ...) are ignored.
//!
//! # Reasoning and prefix caching
//! With [`Profile::reasoning_tokens`] = N a chat reply's first N output tokens are reasoning
//! chunks (`delta.reasoning_content`), decode steps like any token, and usage reports
//! `completion_tokens_details.reasoning_tokens`; with `fixed`, TTFA = 60 + 10 × N ms. With
//! [`Profile::prefix_cache`] the server remembers the blocks of 16 words (or token ids) each
//! prompt sent (`prefix_cache`, bounded by the KV cache's size), reports the cached prefix
//! of a prompt seen before in `prompt_tokens_details.cached_tokens`, and its prefill skips
//! those tokens, so TTFT falls with cache hits when `prefill_us_per_token` > 0.
//!
//! # KV cache and preemption
//! Each profile has a KV cache of [`Profile::kv_tokens`] tokens; a running sequence holds
//! its prompt plus the tokens generated so far. A request is admitted only if the batch then
//! still has room for one more token per sequence, and before a decode step that would
//! overflow the cache the newest sequence is preempted back to the front of the queue; when
//! readmitted it prefills its prompt and output so far again (vLLM's recompute preemption)
//! and its stream continues after a pause. A lone sequence always runs. The default budgets
//! are large enough that `fixed`, `fast` and `steady` never preempt in practice, while the
//! demo's engines (`fast-prefill`, `big-batch`) fill their cache to ≈ 94 % with a full batch
//! of the demo's requests.
//!
//! # `GET /metrics`
//! The engine's live statistics in vLLM 0.32's Prometheus text exposition
//! (`text/plain; version=0.0.4; charset=utf-8`), every sample labelled
//! `{engine="0",model_name="sim"}`, read from atomics the scheduler and the response
//! streams update (scraping takes no lock and never stalls the batch):
//! - `vllm:num_requests_running` (gauge): sequences in the batch, prefilling ones included.
//! - `vllm:num_requests_waiting` (gauge): requests parsed and queued but not in the batch,
//!   preempted ones included.
//! - `vllm:kv_cache_usage_perc` (gauge, 0–1): Σ (prompt + generated) over the running
//!   sequences / [`Profile::kv_tokens`], at most 1.
//! - `vllm:num_preemptions_total` (counter): sequences preempted.
//! - `vllm:prompt_tokens_total` (counter): prompt tokens prefilled, once per request.
//! - `vllm:generation_tokens_total` (counter): output tokens generated.
//! - `vllm:prefix_cache_queries_total` (counter): tokens prefilled, recomputations
//!   included; `vllm:prefix_cache_hits_total`: of those, the cached ones (always 0 without
//!   `Profile::prefix_cache`).
//! - `vllm:time_to_first_token_seconds` (histogram, vLLM's buckets): from the handler
//!   receiving the request to its first content chunk being handed to the HTTP layer,
//!   the same stamp as `--timing-log` (for a non-streamed request, its first token).
//! - `vllm:e2e_request_latency_seconds` (histogram, vLLM's buckets): from the request's
//!   arrival to its last token, finished requests only.
//!
//! vLLM's other families (`_created` gauges, per-request token histograms, ...) are not
//! served.
//!
//! # Faults
//! [`Faults`] injects errors, disconnects, malformed chunks, stalls, slow first bytes,
//! missing usage, in-stream errors, connections closed before any response, non-SSE
//! bodies and oversized events. Which requests are hit is a pure function of the
//! seed and the request's arrival index ([`Faults::plan`]), so runs are reproducible.
//!
//! # Layout
//! `profiles` (timing constants, KV budgets), `faults` (what goes wrong, for whom),
//! `scheduler` (the batch loop), `server` (routes, parsing, SSE encoding), `reply` (a reply's
//! token counts and its `usage`), `prefix_cache` (the blocks prompts sent), `conn` (the
//! listener, whose connections a handler can kill), `timing` (the `--timing-log` of
//! server-side TTFT), `metrics` (the live statistics), `exposition` (their `/metrics` text).

mod conn;
mod encoder;
mod exposition;
mod faults;
mod metrics;
mod prefix_cache;
mod profiles;
mod reply;
mod scheduler;
mod server;
mod timing;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use faults::{FaultPlan, Faults};
pub use profiles::{Profile, FIXED};

/// Everything that defines one simulated engine.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Timing model of the engine.
    pub profile: Profile,
    /// Faults to inject (none by default).
    pub faults: Faults,
    /// Seed of the per-request fault draws: same seed, same faulted request indices.
    pub seed: u64,
    /// Where to write each streamed request's server-side time to first token (see
    /// `timing`); `None` writes nothing.
    pub timing_log: Option<std::path::PathBuf>,
}

/// Serves the simulator on `listener` until `shutdown` completes.
///
/// At shutdown the listener closes, the scheduler stops, and in-flight streams are cut
/// short (the connection is aborted), so this returns promptly even mid-stream.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: SimConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timing = match &config.timing_log {
        Some(path) => Some(Arc::new(timing::TimingLog::create(path)?)),
        None => None,
    };
    let cancel = CancellationToken::new();
    let metrics = Arc::new(metrics::Metrics::new(config.profile.kv_tokens()));
    let (scheduler, scheduler_task) =
        scheduler::spawn(config.profile.clone(), metrics.clone(), cancel.clone());
    let state = Arc::new(server::AppState {
        scheduler,
        metrics,
        faults: config.faults,
        seed: config.seed,
        output_tokens: config.profile.output_tokens,
        reasoning_tokens: config.profile.reasoning_tokens,
        // As many blocks as the KV cache has room for, at ~16 tokens a block.
        prefix_cache: config
            .profile
            .prefix_cache
            .then(|| prefix_cache::PrefixCache::new((config.profile.kv_tokens() / 16) as usize)),
        next_index: AtomicU64::new(0),
        cancel: cancel.clone(),
        timing: timing.clone(),
    });
    let listener = conn::SimListener::new(listener);
    let signal = {
        let cancel = cancel.clone();
        async move {
            tokio::select! {
                () = shutdown => {}
                () = cancel.cancelled() => {}
            }
            // Stop the scheduler too, so open streams end and graceful shutdown can finish.
            cancel.cancel();
        }
    };
    let app = server::router(state).into_make_service_with_connect_info::<conn::Conn>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await;
    cancel.cancel();
    let _ = scheduler_task.await;
    if let Some(timing) = timing {
        timing.flush()?;
    }
    result
}

/// Binds `127.0.0.1:0` and serves `config` in a spawned task.
///
/// Dropping the returned [`SimServer`] (or calling [`SimServer::shutdown`]) stops it.
pub async fn spawn(config: SimConfig) -> std::io::Result<SimServer> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, config, async move {
        // Resolves on send *or* on drop of the sender: dropping the handle stops the server.
        let _ = stopped.await;
    }));
    Ok(SimServer { addr, stop, task })
}

/// A running simulator started by [`spawn`].
#[derive(Debug)]
pub struct SimServer {
    /// Where it listens (127.0.0.1 and an ephemeral port).
    addr: SocketAddr,
    /// Sending or dropping this stops the server.
    stop: oneshot::Sender<()>,
    /// The serving task, awaited by [`SimServer::shutdown`].
    task: JoinHandle<std::io::Result<()>>,
}

impl SimServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` with no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1/chat/completions`.
    pub fn chat_url(&self) -> String {
        format!("http://{}/v1/chat/completions", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1/completions`.
    pub fn completions_url(&self) -> String {
        format!("http://{}/v1/completions", self.addr)
    }

    /// Stops the server and waits until it has stopped (in-flight streams are cut short).
    pub async fn shutdown(self) {
        let SimServer { stop, task, .. } = self;
        let _ = stop.send(());
        let _ = task.await;
    }
}
