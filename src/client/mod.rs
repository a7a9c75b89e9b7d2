//! The streaming client: one request to one engine → [`Timings`] or a classified
//! [`RequestError`]. Every per-request metric of DESIGN §3 is computed here.

pub mod answer;
pub mod arrivals;
pub mod chunk;
pub mod framing;
pub mod openai;
mod reasoning;
pub mod sse;
pub(crate) mod transport;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use openai::EngineClient;

/// Why a request failed. The `snake_case` names are the keys of `errors` in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// TCP connect refused or failed, or the connection reset before response headers.
    Connect,
    /// Connecting took longer than the connect timeout.
    TimeoutConnect,
    /// No output within the first-token timeout (headers included).
    TimeoutFirstToken,
    /// A gap between chunks longer than the idle timeout.
    TimeoutIdle,
    /// The whole request took longer than the total timeout.
    TimeoutTotal,
    /// A non-2xx status.
    HttpStatus,
    /// A chunk that is not JSON or not a chunk, or a body that is not SSE.
    MalformedStream,
    /// `{"error": ...}` inside a 200 stream.
    EngineError,
    /// The stream ended (or the connection dropped) before a finish or `[DONE]`, or had no output.
    EndedEarly,
    /// Cancelled by a skip or quit: not an error of the engine.
    Cancelled,
}

impl ErrorClass {
    /// The results key, e.g. `timeout_first_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Connect => "connect",
            ErrorClass::TimeoutConnect => "timeout_connect",
            ErrorClass::TimeoutFirstToken => "timeout_first_token",
            ErrorClass::TimeoutIdle => "timeout_idle",
            ErrorClass::TimeoutTotal => "timeout_total",
            ErrorClass::HttpStatus => "http_status",
            ErrorClass::MalformedStream => "malformed_stream",
            ErrorClass::EngineError => "engine_error",
            ErrorClass::EndedEarly => "ended_early",
            ErrorClass::Cancelled => "cancelled",
        }
    }
}

/// A failed request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    pub class: ErrorClass,
    /// HTTP status, for [`ErrorClass::HttpStatus`].
    pub status: Option<u16>,
    /// One short line, the API key redacted.
    pub message: String,
}

impl RequestError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> RequestError {
        RequestError {
            class,
            status: None,
            message: message.into(),
        }
    }
}

/// Client-side timings and counts of one successful request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timings {
    /// Send → first output-carrying chunk, µs.
    pub ttft_us: u64,
    /// Send → last output-carrying chunk, µs.
    pub e2e_us: u64,
    /// Gaps between consecutive output-carrying chunks, µs.
    pub itl_us: Vec<u32>,
    /// `usage.completion_tokens`, or the output chunk count when the engine sent no usage.
    pub output_tokens: u64,
    /// True when `output_tokens` was counted from chunks.
    pub output_tokens_estimated: bool,
    /// `usage.prompt_tokens`, when given.
    pub input_tokens: Option<u64>,
    /// Output chunks after the first that arrived in the same read as the previous output
    /// chunk (their ITL is 0 by construction: the gap is below what reads can resolve).
    pub coalesced_chunks: u32,
    /// The stream's first chunk carried no output, no finish and no usage: the role-only
    /// chunk (`{"role":"assistant","content":""}`) vLLM and SGLang send first on the chat API.
    pub role_only_first_chunk: bool,
    /// Send → the first reasoning chunk (`delta.reasoning_content` / `delta.reasoning`), µs;
    /// `None` when the reply had no reasoning.
    pub ttfr_us: Option<u64>,
    /// Time to first answer: send → the first answer chunk (content, a tool call, or
    /// completions `text`) after the last reasoning chunk, µs. Equal to `ttft_us` for a reply
    /// without reasoning; `None` when the reply reasoned and never answered after it (e.g.
    /// `max_tokens` ran out while it was thinking).
    pub ttfa_us: Option<u64>,
    /// Reasoning tokens: `usage.completion_tokens_details.reasoning_tokens` (or SGLang's
    /// `usage.reasoning_tokens`) when above 0, else the reasoning chunks counted; `None`
    /// when the reply had neither. Part of `output_tokens`.
    pub reasoning_tokens: Option<u64>,
    /// True when `reasoning_tokens` was counted from chunks (one token per chunk).
    pub reasoning_tokens_estimated: bool,
    /// `usage.prompt_tokens_details.cached_tokens`: prompt tokens the engine's prefix cache
    /// served, when it says (part of `input_tokens`).
    pub cached_tokens: Option<u64>,
}

impl Timings {
    /// Time per output token after the first, µs: `(e2e − ttft) / (tokens − 1)`; `None` for < 2 tokens.
    pub fn tpot_us(&self) -> Option<f64> {
        (self.output_tokens > 1)
            .then(|| (self.e2e_us - self.ttft_us) as f64 / (self.output_tokens - 1) as f64)
    }
}

/// Per-request time limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Send → first output chunk; `None` = only the total applies.
    pub first_token: Option<Duration>,
    /// Longest gap between chunks; `None` = only the total applies.
    pub idle: Option<Duration>,
    pub total: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorClass; 10] = [
        ErrorClass::Connect,
        ErrorClass::TimeoutConnect,
        ErrorClass::TimeoutFirstToken,
        ErrorClass::TimeoutIdle,
        ErrorClass::TimeoutTotal,
        ErrorClass::HttpStatus,
        ErrorClass::MalformedStream,
        ErrorClass::EngineError,
        ErrorClass::EndedEarly,
        ErrorClass::Cancelled,
    ];

    #[test]
    fn each_error_class_has_its_documented_results_key() {
        let keys: Vec<&str> = ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            keys,
            [
                "connect",
                "timeout_connect",
                "timeout_first_token",
                "timeout_idle",
                "timeout_total",
                "http_status",
                "malformed_stream",
                "engine_error",
                "ended_early",
                "cancelled",
            ]
        );
        // The key in `errors` is the name the class serialises under everywhere else.
        for class in ALL {
            assert_eq!(
                serde_json::to_value(class).expect("serialise"),
                class.as_str()
            );
        }
    }

    #[test]
    fn a_reply_needs_two_output_tokens_for_a_tpot() {
        let reply = |output_tokens, e2e_us| Timings {
            ttft_us: 1_000,
            e2e_us,
            output_tokens,
            ..Timings::default()
        };
        // One token: first and last chunk are the same, there is no time per token after it.
        assert_eq!(reply(1, 1_000).tpot_us(), None);
        assert_eq!(reply(0, 1_000).tpot_us(), None);
        assert_eq!(reply(2, 5_000).tpot_us(), Some(4_000.0));
        assert_eq!(reply(5, 5_000).tpot_us(), Some(1_000.0));
    }
}
