//! OpenAI-compatible streaming over the engine transport (`transport`) and the one-pass SSE
//! splitter of [`super::sse`].
//!
//! Each chunk's arrival instant is the time its bytes reached the socket (the kernel's receive
//! stamp of the read that brought them, [`super::arrivals`]), taken before any parsing, so
//! neither parse cost nor a busy client shows up in TTFT or ITL. Times come from
//! `tokio::time::Instant` (the system clock normally; the virtual one in tests with paused
//! time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::answer;
use super::arrivals::Arrivals;
use super::chunk::{self, ChunkError, Parsed};
use super::framing;
use super::reasoning::Reasoning;
use super::sse::{self, BodyError};
use super::transport::{self, ConnectionCounter, HttpClient};
use super::{ErrorClass, RequestError, Timeouts, Timings};
use crate::secret::Secret;

/// The request id header; vLLM, SGLang and TGI read it.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client for one engine: a connection pool, the URL, headers with the key.
#[derive(Clone)]
pub struct EngineClient {
    http: HttpClient,
    uri: Uri,
    headers: HeaderMap,
    timeouts: Timeouts,
    /// To scrub the key from any error text the server echoes back.
    key: Option<Secret>,
    /// Capacity reserved for ITL gaps, so the hot path rarely reallocates.
    itl_capacity: usize,
    /// TCP connections this client's pool has opened.
    connections: ConnectionCounter,
}

impl std::fmt::Debug for EngineClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineClient")
            .field("url", &self.uri)
            .finish_non_exhaustive()
    }
}

/// What building a client needs.
pub struct ClientSpec<'a> {
    pub url: &'a str,
    pub key: Option<Secret>,
    pub headers: &'a [(String, String)],
    pub timeouts: Timeouts,
    /// Largest concurrency this client will see: idle connections kept per host.
    pub max_connections: usize,
    pub max_tokens: u32,
}

/// Installs ring as rustls's provider once; reqwest is built without a default one, and
/// every reqwest client (the scraper's, the preflight's) must be built after it.
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl EngineClient {
    pub fn new(spec: ClientSpec<'_>) -> Result<EngineClient, String> {
        install_crypto_provider();
        let url = reqwest::Url::parse(spec.url)
            .map_err(|e| format!("invalid url {:?}: {e}", spec.url))?;
        let uri = url
            .as_str()
            .parse::<Uri>()
            .map_err(|e| format!("invalid url {:?}: {e}", spec.url))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        for (name, value) in spec.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header {name}"))?;
            headers.insert(name, value);
        }
        if let Some(key) = &spec.key {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
                .map_err(|_| "the API key has characters not allowed in a header".to_string())?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let connections = ConnectionCounter::default();
        let http = transport::client(
            spec.timeouts.connect,
            spec.max_connections.max(1),
            connections.clone(),
        )?;
        Ok(EngineClient {
            http,
            uri,
            headers,
            timeouts: spec.timeouts,
            key: spec.key,
            itl_capacity: (spec.max_tokens as usize).min(16_384),
            connections,
        })
    }

    /// TCP connections opened so far (a level's count is the difference across it).
    pub fn connections_opened(&self) -> u64 {
        self.connections.get()
    }

    fn redact(&self, text: &str) -> String {
        match &self.key {
            Some(key) => key.redact(text),
            None => text.to_string(),
        }
    }

    /// Sends one pre-serialised request body and follows its stream to the end.
    /// `t0` is stamped here, as the request is handed to the HTTP client. `request_id` goes
    /// out as `X-Request-Id` (vLLM and others adopt it as their own request id, so engine
    /// logs join `requests.jsonl`), unless the engine's configured headers already set one.
    pub async fn send(&self, body: Bytes, request_id: &str) -> Result<Timings, RequestError> {
        self.stream(body, request_id, None).await
    }

    /// [`EngineClient::send`], keeping the answer text in `answer` (appended; reasoning left
    /// out) for a conversation's next turn. Text is decoded after each chunk is stamped.
    pub async fn send_keeping_answer(
        &self,
        body: Bytes,
        request_id: &str,
        answer: &mut String,
    ) -> Result<Timings, RequestError> {
        self.stream(body, request_id, Some(answer)).await
    }

    async fn stream(
        &self,
        body: Bytes,
        request_id: &str,
        mut answer: Option<&mut String>,
    ) -> Result<Timings, RequestError> {
        let t0 = Instant::now();
        let total_deadline = t0 + self.timeouts.total;
        let first_deadline = match self.timeouts.first_token {
            Some(limit) => (t0 + limit).min(total_deadline),
            None => total_deadline,
        };
        let phase_timeout = |deadline: Instant, phase: ErrorClass| {
            let class = if deadline >= total_deadline {
                ErrorClass::TimeoutTotal
            } else {
                phase
            };
            RequestError::new(
                class,
                format!("no answer within {:.1} s", (deadline - t0).as_secs_f64()),
            )
        };

        let mut headers = self.headers.clone();
        if let (Ok(id), false) = (
            HeaderValue::from_str(request_id),
            headers.contains_key(X_REQUEST_ID),
        ) {
            headers.insert(X_REQUEST_ID, id);
        }
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = headers;
        let response =
            match tokio::time::timeout_at(first_deadline, self.http.request(request)).await {
                Err(_) => return Err(phase_timeout(first_deadline, ErrorClass::TimeoutFirstToken)),
                Ok(Err(e)) => return Err(self.transport_error(&e, true)),
                Ok(Ok(response)) => response,
            };
        let status = response.status();
        if !status.is_success() {
            let snippet =
                self.redacted_body_snippet(&read_error_body(response, total_deadline).await);
            return Err(RequestError {
                class: ErrorClass::HttpStatus,
                status: Some(status.as_u16()),
                message: format!("HTTP {}: {}", status.as_u16(), snippet),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !content_type.starts_with("text/event-stream") {
            let snippet =
                self.redacted_body_snippet(&read_error_body(response, total_deadline).await);
            return Err(RequestError::new(
                ErrorClass::MalformedStream,
                self.redact(&format!(
                    "not an SSE stream (content-type {content_type:?}): {snippet}"
                )),
            ));
        }

        // Nanoseconds after t0 at which the latest bytes arrived; every event completed by
        // those bytes arrived then. `reads` numbers the connection's reads, so events of the
        // same read (coalesced: their gap is unknowable) are told apart from a real 0 µs gap.
        let arrival_ns = Arc::new(AtomicU64::new(0));
        let reads = Arc::new(AtomicU64::new(0));
        let (stamp, count) = (arrival_ns.clone(), reads.clone());
        // The connection's reads, stamped as their bytes arrived (every connection of the
        // transport has them; without, a chunk is stamped as it reaches the splitter).
        let arrivals = response.extensions().get::<Arrivals>().cloned();
        // Stamped before any check or parsing; the splitter caps an event at 1 MiB, so a
        // hostile stream cannot grow its buffers.
        let body = response.into_body().into_data_stream();
        let events = sse::events(body, move || {
            let (at, read) = match &arrivals {
                Some(arrivals) => arrivals.latest(),
                None => (Instant::now(), count.load(Ordering::Relaxed) + 1),
            };
            let ns = at.saturating_duration_since(t0).as_nanos() as u64;
            stamp.fetch_max(ns, Ordering::Relaxed);
            count.store(read, Ordering::Relaxed);
        });
        let mut events = std::pin::pin!(events);

        let mut timings = Timings {
            itl_us: Vec::with_capacity(self.itl_capacity),
            ..Timings::default()
        };
        let mut first_us: Option<u64> = None;
        let mut last_us = 0u64;
        // The read that carried the previous output chunk.
        let mut last_read = 0u64;
        let mut output_chunks = 0u64;
        let mut reasoning = Reasoning::default();
        let mut finished = false;
        let mut done = false;
        let mut first_chunk = true;
        let mut framing = framing::Framing::default();
        // One timer for the whole stream, re-armed only when it fires early: the idle deadline
        // moves with every chunk, and re-registering a timer per chunk costs more than the
        // rest of the chunk's handling.
        let sleep = tokio::time::sleep_until(first_deadline);
        let mut sleep = std::pin::pin!(sleep);
        // Once output has started: `idle` after the latest bytes, `last` after t0.
        let idle_deadline = |last: Duration, idle: Duration| (t0 + last + idle).min(total_deadline);
        loop {
            let next = tokio::select! {
                biased;
                next = events.next() => next,
                () = &mut sleep => {
                    let deadline = match (first_us, self.timeouts.idle) {
                        (None, _) => first_deadline,
                        (Some(_), Some(idle)) => idle_deadline(
                            Duration::from_nanos(arrival_ns.load(Ordering::Relaxed)),
                            idle,
                        ),
                        (Some(_), None) => total_deadline,
                    };
                    if Instant::now() < deadline {
                        sleep.as_mut().reset(deadline);
                        continue;
                    }
                    let phase = if first_us.is_none() {
                        ErrorClass::TimeoutFirstToken
                    } else {
                        ErrorClass::TimeoutIdle
                    };
                    return Err(phase_timeout(deadline, phase));
                }
            };
            let data = match next {
                None => break,
                Some(Ok(data)) => data,
                Some(Err(BodyError::Transport(e))) => {
                    return Err(RequestError::new(
                        ErrorClass::EndedEarly,
                        self.redact(&format!(
                            "connection lost after {output_chunks} output chunks: {e}"
                        )),
                    ))
                }
                Some(Err(e @ BodyError::TooLarge)) => {
                    return Err(RequestError::new(
                        ErrorClass::MalformedStream,
                        format!("{e} (after {output_chunks} output chunks)"),
                    ))
                }
            };
            let at_us = arrival_ns.load(Ordering::Relaxed) / 1_000;
            let read = reads.load(Ordering::Relaxed);
            match framing.parse(&data) {
                Ok(Parsed::Done) => {
                    done = true;
                    break;
                }
                Ok(Parsed::Chunk(info)) => {
                    if std::mem::take(&mut first_chunk) {
                        timings.role_only_first_chunk =
                            !info.output && !info.finished && info.usage.is_none();
                    }
                    if info.output {
                        output_chunks += 1;
                        match first_us {
                            None => {
                                first_us = Some(at_us);
                                // From now on the idle limit applies, maybe sooner than
                                // the first-token one the timer is armed for.
                                if let Some(idle) = self.timeouts.idle {
                                    let last = Duration::from_micros(at_us);
                                    sleep.as_mut().reset(idle_deadline(last, idle));
                                }
                            }
                            Some(_) => {
                                timings
                                    .itl_us
                                    .push((at_us - last_us).min(u32::MAX as u64) as u32);
                                timings.coalesced_chunks += (read == last_read) as u32;
                            }
                        }
                        last_us = at_us;
                        last_read = read;
                        reasoning.chunk(at_us, info.reasoning, info.answer);
                        if let (Some(text), true) = (answer.as_deref_mut(), info.answer) {
                            answer::answer_text(&data, text);
                        }
                    }
                    // Only a finish reason (or `[DONE]`) ends a stream well: with per-chunk
                    // usage (`continuous_usage_stats`) a usage chunk can come mid-stream.
                    finished |= info.finished;
                    if let Some(usage) = info.usage {
                        timings.output_tokens = usage.completion_tokens;
                        timings.input_tokens = usage.prompt_tokens;
                        timings.cached_tokens = usage.cached_tokens;
                        reasoning.usage_tokens = usage.reasoning_tokens;
                    }
                }
                Err(error) => return Err(self.chunk_error(error, &data)),
            }
        }
        if done {
            // Read the body to its end (the chunked terminator after `[DONE]`), so the
            // connection goes back to the pool instead of being closed with the stream.
            let drain_until = (Instant::now() + DRAIN_LIMIT).min(total_deadline);
            let _ = tokio::time::timeout_at(drain_until, async {
                while let Some(Ok(_)) = events.next().await {}
            })
            .await;
            // Let hyper's idle task put the connection back before this worker sends again;
            // when that task waits on another worker thread the next request still races it
            // (hyper-util starts a connect whenever the pool has no idle connection), and now
            // and then opens one connection more than C.
            tokio::task::yield_now().await;
        }
        let Some(first_us) = first_us else {
            return Err(RequestError::new(
                ErrorClass::EndedEarly,
                "the stream carried no output",
            ));
        };
        if !done && !finished {
            return Err(RequestError::new(
                ErrorClass::EndedEarly,
                format!(
                    "stream ended after {output_chunks} output chunks without a finish or [DONE]"
                ),
            ));
        }
        if timings.output_tokens == 0 {
            timings.output_tokens = output_chunks;
            timings.output_tokens_estimated = true;
        }
        timings.ttft_us = first_us;
        timings.e2e_us = last_us;
        reasoning.finish(&mut timings);
        Ok(timings)
    }

    /// `text` with the key redacted, then cut to a snippet: redacting after the cut would
    /// miss a key straddling it and leak its first characters.
    /// An error body's snippet: the body was cut at 4 KiB, so a key straddling the cut is
    /// masked as well.
    fn redacted_body_snippet(&self, body: &str) -> String {
        match &self.key {
            Some(key) => chunk::snippet(&key.redact_cut(body)),
            None => chunk::snippet(body),
        }
    }

    /// The error for a chunk that failed to parse. The parser cuts messages to a snippet,
    /// so the key is redacted from the whole chunk first and the chunk parsed again.
    fn chunk_error(&self, error: ChunkError, data: &[u8]) -> RequestError {
        let data = String::from_utf8_lossy(data);
        let (class, original) = match error {
            ChunkError::Malformed(message) => (ErrorClass::MalformedStream, message),
            ChunkError::Engine(message) => (ErrorClass::EngineError, message),
        };
        let message = match (&self.key, chunk::parse(&self.redact(&data))) {
            (Some(_), Err(ChunkError::Malformed(m) | ChunkError::Engine(m))) => m,
            _ => self.redact(&original),
        };
        RequestError::new(class, message)
    }

    fn transport_error(
        &self,
        e: &hyper_util::client::legacy::Error,
        before_headers: bool,
    ) -> RequestError {
        let class = if e.is_connect() && transport::is_connect_timeout(e) {
            ErrorClass::TimeoutConnect
        } else if e.is_connect() || before_headers {
            ErrorClass::Connect
        } else {
            ErrorClass::EndedEarly
        };
        RequestError::new(class, self.redact(&error_chain(e)))
    }
}

/// The error and its sources on one line (an HTTP client's top-level message alone says
/// little).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    chunk::snippet(&text)
}

/// Longest wait for the end of a body after `[DONE]`; a server that keeps the stream open
/// past it costs a new connection, not the request's time.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// Largest part of an error body read for its snippet.
const SNIPPET_BYTES: usize = 4096;

/// Up to 4 KiB of an error body (to be redacted, then cut to a snippet); gives up after 2 s
/// or at `deadline` (the request's total), whichever comes first.
async fn read_error_body(response: Response<Incoming>, deadline: Instant) -> String {
    let mut body = Vec::new();
    let mut stream = response.into_body().into_data_stream();
    let read = async {
        while let Some(Ok(bytes)) = stream.next().await {
            let room = SNIPPET_BYTES - body.len();
            body.extend_from_slice(&bytes[..bytes.len().min(room)]);
            if body.len() >= SNIPPET_BYTES {
                break;
            }
        }
    };
    let give_up = (Instant::now() + Duration::from_secs(2)).min(deadline);
    let _ = tokio::time::timeout_at(give_up, read).await;
    String::from_utf8_lossy(&body).into_owned()
}
