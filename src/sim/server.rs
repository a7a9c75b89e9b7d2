//! The HTTP face of the simulator: axum routes, request parsing, and the SSE encoding of
//! what the scheduler produces, in vLLM's chunk shapes, with faults applied on the way out.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::BytesMut;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::conn::Conn;
use super::encoder::{word, Api, Encoder, DONE, IN_STREAM_ERROR, MALFORMED};
use super::exposition;
use super::faults::{FaultPlan, Faults};
use super::metrics::Metrics;
use super::prefix_cache::{PrefixCache, PromptBlocks};
use super::reply::Reply;
use super::scheduler::{SchedulerHandle, Step};
use super::timing::{FirstToken, TimingLog};

/// Output length when the request gives neither `max_completion_tokens` nor `max_tokens`.
const DEFAULT_MAX_TOKENS: u32 = 128;
/// Largest output a request may ask for: the simulated context length. Larger requests
/// get a 400, as a real engine rejects `max_tokens` beyond its context.
const MAX_OUTPUT_TOKENS: u64 = 1_000_000;
/// The only model `/v1/models` lists. Requests may name any model; it is echoed back.
const MODEL_ID: &str = "sim";

/// State shared by all handlers.
pub(crate) struct AppState {
    pub(crate) scheduler: SchedulerHandle,
    /// What `/metrics` reports; the scheduler and the response streams write it.
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) faults: Faults,
    pub(crate) seed: u64,
    /// `Profile::output_tokens`: overrides the request's `max_tokens` when set.
    pub(crate) output_tokens: Option<u32>,
    /// `Profile::reasoning_tokens`: chat replies open with this many reasoning chunks.
    pub(crate) reasoning_tokens: u32,
    /// `Profile::prefix_cache`: the prompt blocks earlier requests sent.
    pub(crate) prefix_cache: Option<PrefixCache>,
    /// Arrival index of the next parsed request; keys the fault draws and the response id.
    pub(crate) next_index: AtomicU64,
    /// Fired at shutdown so fault delays don't hold connections open.
    pub(crate) cancel: CancellationToken,
    /// `--timing-log`, when given.
    pub(crate) timing: Option<Arc<TimingLog>>,
}

/// The router: the two OpenAI endpoints, `/health`, `/v1/models` and `/metrics`.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/v1/models", get(models))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `GET /metrics`: the engine's statistics now, in vLLM's Prometheus exposition.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = exposition::render(&state.metrics.snapshot(), MODEL_ID);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, exposition::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

async fn chat(
    State(state): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &conn, &headers, Api::Chat, &body).await
}

async fn completions(
    State(state): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &conn, &headers, Api::Completions, &body).await
}

async fn models() -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "llmsweep-sim"}],
        }),
    )
}

/// What the simulator needs from a request body; every other field is accepted and ignored.
#[derive(Debug)]
struct ParsedRequest {
    /// The request's `model` (echoed back in every chunk).
    model: String,
    stream: bool,
    include_usage: bool,
    prompt_tokens: u32,
    /// `None` when the request gives no limit.
    max_tokens: Option<u32>,
    /// The prompt's blocks, when the prefix cache is on.
    blocks: Option<PromptBlocks>,
}

async fn handle(
    state: &AppState,
    conn: &Conn,
    headers: &HeaderMap,
    api: Api,
    body: &[u8],
) -> Response {
    let first_token = FirstToken::start(
        state.timing.as_ref(),
        headers.get("x-request-id").and_then(|v| v.to_str().ok()),
    );
    let req = match parse(api, body, state.prefix_cache.is_some()) {
        Ok(req) => req,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, &message),
    };
    let index = state.next_index.fetch_add(1, Ordering::Relaxed);
    let plan = state.faults.plan(state.seed, index);

    if !plan.first_byte_delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(plan.first_byte_delay) => {}
            () = state.cancel.cancelled() => return shutting_down(),
        }
    }
    if plan.reset_before_headers {
        // The response below is never written: the connection refuses it and closes.
        conn.kill();
        return shutting_down();
    }
    if let Some(status) = plan.error_status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error_response(status, "simulated error");
    }
    if plan.non_sse && req.stream {
        // A server that ignores `"stream": true`: one JSON object, no events.
        return json_response(
            StatusCode::OK,
            json!({
                "id": format!("sim-{index}"),
                "object": "chat.completion",
                "model": req.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": word(0)}, "finish_reason": "stop"}],
            }),
        );
    }

    let output_tokens = state
        .output_tokens
        .or(req.max_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS)
        .max(1);
    let cached_tokens = match (&state.prefix_cache, &req.blocks) {
        (Some(cache), Some(blocks)) => Some(cache.lookup(blocks, req.prompt_tokens)),
        _ => None,
    };
    let reply = Reply {
        prompt: req.prompt_tokens,
        total: output_tokens,
        reasoning: match api {
            Api::Chat => state.reasoning_tokens.min(output_tokens),
            Api::Completions => 0,
        },
        cached: cached_tokens,
    };
    let Some(rx) =
        state
            .scheduler
            .submit(req.prompt_tokens, cached_tokens.unwrap_or(0), output_tokens)
    else {
        return shutting_down();
    };
    let enc = Encoder::new(api, index, req.model);
    if req.stream {
        let stream = SseStream {
            rx,
            enc,
            plan,
            total: output_tokens,
            sent: 0,
            stalled: false,
            include_usage: req.include_usage,
            reply,
            phase: Phase::WaitAdmit,
            cancel: state.cancel.clone(),
            received: first_token.received(),
            first_token: Some(first_token),
            metrics: state.metrics.clone(),
        };
        let per_write = state.faults.events_per_write.max(1) as usize;
        let body = futures_util::stream::unfold(stream, move |mut s| async move {
            let item = s.next().await?;
            if per_write == 1 {
                return Some((item, s));
            }
            // Buffered: up to `per_write` events in one frame, fewer at the stream's end.
            let Ok(first) = item else {
                return Some((item, s));
            };
            let mut frame = BytesMut::from(&first[..]);
            for _ in 1..per_write {
                match s.next().await {
                    Some(Ok(more)) => frame.extend_from_slice(&more),
                    Some(Err(e)) => return Some((Err(e), s)),
                    None => break,
                }
            }
            Some((Ok(frame.freeze()), s))
        });
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from_stream(body))
            .unwrap_or_else(|_| error_response(StatusCode::INTERNAL_SERVER_ERROR, "response"))
    } else {
        let received = first_token.received();
        whole(rx, &enc, reply, &state.metrics, received).await
    }
}

/// Non-streaming: wait for the whole generation, then answer with one JSON object. Only the
/// `error_rate` and `first_byte_delay_ms` faults apply here. Its TTFT and E2E (from
/// `received`) go into `metrics` when its first and last tokens are generated.
async fn whole(
    mut rx: mpsc::Receiver<Step>,
    enc: &Encoder,
    reply: Reply,
    metrics: &Metrics,
    received: Instant,
) -> Response {
    let total = reply.total;
    let mut tokens = 0u32;
    while let Some(step) = rx.recv().await {
        if step == Step::Token {
            if tokens == 0 {
                metrics.observe_ttft(received.elapsed());
            }
            tokens += 1;
        }
    }
    if tokens < total {
        return shutting_down();
    }
    metrics.observe_e2e(received.elapsed());
    let text: String = (reply.reasoning..total).map(word).collect();
    let usage: Value = serde_json::from_str(&reply.usage_json()).unwrap_or(Value::Null);
    let message = if reply.reasoning > 0 {
        let reasoning: String = (0..reply.reasoning).map(word).collect();
        let content = (reply.reasoning < total).then_some(text.as_str());
        json!({"role": "assistant", "reasoning_content": reasoning, "content": content})
    } else {
        json!({"role": "assistant", "content": text})
    };
    let choice = match enc.api {
        Api::Chat => json!({
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": "length",
        }),
        Api::Completions => json!({
            "index": 0, "text": text, "logprobs": null, "finish_reason": "length",
        }),
    };
    let object = match enc.api {
        Api::Chat => "chat.completion",
        Api::Completions => "text_completion",
    };
    json_response(
        StatusCode::OK,
        json!({
            "id": enc.id,
            "object": object,
            "created": enc.created,
            "model": enc.model,
            "choices": [choice],
            "usage": usage,
        }),
    )
}

/// Pulls what the simulator needs out of a body, leniently: unknown fields are ignored,
/// only what it must interpret is checked.
fn parse(api: Api, body: &[u8], blocks: bool) -> Result<ParsedRequest, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| "request body must be a JSON object".to_string())?;
    let model = obj
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(MODEL_ID)
        .to_string();
    let stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = obj
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (words, token_ids) = match api {
        Api::Chat => (chat_words(obj.get("messages"))?, 0),
        Api::Completions => prompt_words(obj.get("prompt"))?,
    };
    // ≈ 1.3 tokens per word, rounded up; token ids count as themselves.
    let prompt_tokens = words
        .saturating_mul(13)
        .div_ceil(10)
        .saturating_add(token_ids);
    let prompt_tokens = u32::try_from(prompt_tokens).unwrap_or(u32::MAX);
    let max_tokens = match ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| obj.get(*k).filter(|v| !v.is_null()).map(|v| (*k, v)))
    {
        None => None,
        Some((key, v)) => match v.as_u64() {
            Some(n) if (1..=MAX_OUTPUT_TOKENS).contains(&n) => Some(n as u32),
            _ => {
                return Err(format!(
                    "{key} must be an integer between 1 and {MAX_OUTPUT_TOKENS}, got {v}"
                ))
            }
        },
    };
    let blocks = blocks.then(|| match api {
        Api::Chat => PromptBlocks::of_messages(obj.get("messages")),
        Api::Completions => PromptBlocks::of_prompt(obj.get("prompt")),
    });
    Ok(ParsedRequest {
        model,
        stream,
        include_usage,
        prompt_tokens,
        max_tokens,
        blocks,
    })
}

fn count_words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// Words in chat `messages`: string contents, or the `text` of content parts.
fn chat_words(messages: Option<&Value>) -> Result<u64, String> {
    let messages = messages
        .and_then(Value::as_array)
        .ok_or_else(|| "`messages` must be a list of messages".to_string())?;
    let mut words = 0;
    for m in messages {
        match m.get("content") {
            Some(Value::String(s)) => words += count_words(s),
            Some(Value::Array(parts)) => {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        words += count_words(t);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(words)
}

/// `(words, token ids)` in a completions `prompt`: a string, a list of strings, or token
/// ids (a list of integers, or a list of such lists). A list is treated as one prompt.
fn prompt_words(prompt: Option<&Value>) -> Result<(u64, u64), String> {
    let bad = || "`prompt` must be a string, a list of strings, or token ids".to_string();
    match prompt.ok_or_else(bad)? {
        Value::String(s) => Ok((count_words(s), 0)),
        Value::Array(items) => {
            let mut words = 0u64;
            let mut ids = 0u64;
            for item in items {
                match item {
                    Value::String(s) => words += count_words(s),
                    Value::Number(_) => ids += 1,
                    Value::Array(inner) => ids += inner.len() as u64,
                    _ => return Err(bad()),
                }
            }
            Ok((words, ids))
        }
        _ => Err(bad()),
    }
}

fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        404 => "NotFoundError",
        429 => "RateLimitError",
        503 => "ServiceUnavailableError",
        s if s >= 500 => "InternalServerError",
        _ => "SimulatedError",
    }
}

/// `{"error":{"message","type","code"}}` with `status`, as vLLM sends errors.
fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": error_type(status), "code": status.as_u16()}}),
    )
}

fn shutting_down() -> Response {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "simulated engine is shutting down",
    )
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// Where a streaming response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Queued; waiting for the batch to admit it.
    WaitAdmit,
    /// Admitted with an in-stream error planned: send the error, then `[DONE]`.
    InStreamError,
    /// Streaming content chunks.
    Tokens,
    Finish,
    Usage,
    Done,
    /// Nothing more to send.
    End,
}

/// One streaming response: turns scheduler steps into SSE events and applies the faults.
struct SseStream {
    rx: mpsc::Receiver<Step>,
    enc: Encoder,
    plan: FaultPlan,
    /// Output tokens this request will get.
    total: u32,
    /// Content chunks sent so far (a malformed one counts).
    sent: u32,
    /// Whether the planned stall already happened.
    stalled: bool,
    include_usage: bool,
    /// Its token counts: prompt, output, reasoning, cached.
    reply: Reply,
    phase: Phase,
    cancel: CancellationToken,
    /// When the request arrived (the start of its TTFT and E2E).
    received: Instant,
    /// Stamped when the first content chunk is handed to hyper (`--timing-log` and the
    /// TTFT histogram); `None` once stamped.
    first_token: Option<FirstToken>,
    /// Where its TTFT and E2E are recorded.
    metrics: Arc<Metrics>,
}

impl SseStream {
    /// The next body frame; `Err` aborts the connection mid-body (the client sees the
    /// response cut short, with no terminating chunk); `None` ends it cleanly.
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            match self.phase {
                Phase::End => return None,
                Phase::WaitAdmit => match self.rx.recv().await {
                    Some(Step::Admitted) => {
                        self.phase = if self.plan.in_stream_error {
                            Phase::InStreamError
                        } else {
                            Phase::Tokens
                        };
                        if self.enc.api == Api::Chat {
                            if let Some(first) = &mut self.first_token {
                                first.chunk_before();
                            }
                            return Some(Ok(self.enc.role()));
                        }
                    }
                    _ => return self.abort("simulated engine stopped"),
                },
                Phase::InStreamError => {
                    self.phase = Phase::Done;
                    return Some(Ok(Bytes::from_static(IN_STREAM_ERROR)));
                }
                Phase::Tokens => {
                    if let Some((after, pause)) = self.plan.stall {
                        if !self.stalled && self.sent >= after.min(self.total) {
                            self.stalled = true;
                            if !self.sleep(pause).await {
                                return self.abort("simulated engine stopped");
                            }
                        }
                    }
                    if let Some(after) = self.plan.drop_after {
                        if self.sent >= after.min(self.total) {
                            // Return `Pending` once so hyper flushes the chunks it has
                            // buffered: an error discards them, and the client must see
                            // exactly `after` content chunks before the cut.
                            tokio::task::yield_now().await;
                            return self.abort("simulated disconnect");
                        }
                    }
                    if self.sent >= self.total {
                        self.phase = Phase::Finish;
                        continue;
                    }
                    match self.rx.recv().await {
                        Some(Step::Token) => {
                            let i = self.sent;
                            self.sent += 1;
                            if self.plan.malformed && i == self.total / 2 {
                                return Some(Ok(Bytes::from_static(MALFORMED)));
                            }
                            if let (Some(size), 0) = (self.plan.huge_event, i) {
                                return Some(Ok(self.enc.padded_content(i, size)));
                            }
                            if let Some(first) = self.first_token.take() {
                                self.metrics.observe_ttft(first.stamp());
                            }
                            if i < self.reply.reasoning {
                                return Some(Ok(self.enc.reasoning(i)));
                            }
                            return Some(Ok(self.enc.content(i)));
                        }
                        _ => return self.abort("simulated engine stopped"),
                    }
                }
                Phase::Finish => {
                    // The last content chunk went out: the request is finished.
                    self.metrics.observe_e2e(self.received.elapsed());
                    self.phase = if self.include_usage && self.plan.usage {
                        Phase::Usage
                    } else {
                        Phase::Done
                    };
                    return Some(Ok(self.enc.finish()));
                }
                Phase::Usage => {
                    self.phase = Phase::Done;
                    return Some(Ok(self.enc.usage(&self.reply)));
                }
                Phase::Done => {
                    self.phase = Phase::End;
                    return Some(Ok(Bytes::from_static(DONE)));
                }
            }
        }
    }

    fn abort(&mut self, why: &'static str) -> Option<io::Result<Bytes>> {
        self.phase = Phase::End;
        Some(Err(io::Error::other(why)))
    }

    /// Sleeps unless the server shuts down first; `false` if it did.
    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = self.cancel.cancelled() => false,
        }
    }
}
