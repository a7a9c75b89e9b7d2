//! One finished request, as the worker hands it to the recorder.

use serde::Serialize;

use crate::client::{ErrorClass, RequestError, Timings};
use crate::plan::PromptInfo;

/// One request's outcome. Exactly one per request, never one per token.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Position in the level's request sequence.
    pub request_index: u64,
    /// Sent as `X-Request-Id`.
    pub request_id: String,
    /// Index into the prompt source.
    pub prompt_index: usize,
    /// Wall-clock time at send since the level's measured phase began, ms (paused time
    /// included: this places requests on the real timeline).
    pub sent_at_ms: f64,
    /// Rate mode: how late the request was sent, µs — from its scheduled time to its actual
    /// send, paused time excluded (mostly the wait for a free slot under `max_concurrency`).
    pub queue_us: u64,
    /// Send → the sample's creation (the stream fully read, or the error), µs: the time the
    /// request held its slot.
    pub in_flight_us: u64,
    /// When the request finished (stamped by the worker, not when the driver got the sample:
    /// a busy channel must not shift a request's interval onto the next one's).
    pub finished_at: tokio::time::Instant,
    pub result: Result<Timings, RequestError>,
    /// `[prompts] conversations`: the turn of a conversation this request was.
    pub turn: Option<TurnOf>,
}

/// Which turn of which conversation a request was, and what it sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnOf {
    /// The conversation's position in the level's sequence (the same on every engine).
    pub conversation: u64,
    /// 1-based.
    pub turn: u32,
    /// The conversation's turns.
    pub turns: u32,
    /// Words of every message sent (the history included).
    pub prompt_words: usize,
    /// `max_tokens` of this turn.
    pub max_tokens: u32,
    /// When the conversation's first turn was sent.
    pub started_at: tokio::time::Instant,
    /// Output tokens of the conversation's turns before this one.
    pub earlier_output_tokens: u64,
}

/// A line of `requests.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord<'a> {
    pub engine: &'a str,
    pub level: f64,
    /// Position of the level in the sweep's levels (two levels may share a value).
    pub level_index: usize,
    /// `[sweep] trials` > 1: the trial, 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<u32>,
    pub request_index: u64,
    /// The `X-Request-Id` it was sent with.
    pub request_id: &'a str,
    pub prompt_index: usize,
    /// Words of the prompt (every message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_words: Option<usize>,
    /// Estimated prompt tokens (words × 1.3); `input_tokens` is the engine's count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_est: Option<u64>,
    /// `max_tokens` in the request body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// See [`Sample::sent_at_ms`].
    pub sent_at_ms: f64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e2el_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_itl_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub output_tokens_estimated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Send → the first reasoning chunk, ms; only for a reply that streamed reasoning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfr_ms: Option<f64>,
    /// Send → the first answer chunk after the reasoning, ms; only for a reply that streamed
    /// reasoning (without reasoning TTFA = `ttft_ms`), and absent when it never answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfa_ms: Option<f64>,
    /// Reasoning tokens (part of `output_tokens`): the engine's count, or the reasoning chunks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// True when `reasoning_tokens` was counted from chunks.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reasoning_tokens_estimated: bool,
    /// Prompt tokens served from the engine's prefix cache, when it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    pub queue_ms: f64,
    /// Send → the stream fully read (or the error), ms: the time the request held its slot.
    pub in_flight_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// `[run] request_itls`: the gaps between output chunks, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub itl_ms: Option<Vec<f64>>,
    /// `[prompts] conversations`: the conversation's position in the level's sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<u64>,
    /// `[prompts] conversations`: the turn, 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
}

impl<'a> RequestRecord<'a> {
    pub fn new(
        engine: &'a str,
        level: f64,
        level_index: usize,
        sample: &'a Sample,
    ) -> RequestRecord<'a> {
        let mut record = RequestRecord {
            engine,
            level,
            level_index,
            trial: None,
            request_index: sample.request_index,
            request_id: &sample.request_id,
            prompt_index: sample.prompt_index,
            prompt_words: None,
            prompt_tokens_est: None,
            max_tokens: None,
            sent_at_ms: round3(sample.sent_at_ms),
            ok: sample.result.is_ok(),
            ttft_ms: None,
            e2el_ms: None,
            tpot_ms: None,
            mean_itl_ms: None,
            output_tokens: None,
            output_tokens_estimated: false,
            input_tokens: None,
            ttfr_ms: None,
            ttfa_ms: None,
            reasoning_tokens: None,
            reasoning_tokens_estimated: false,
            cached_tokens: None,
            queue_ms: round3(sample.queue_us as f64 / 1e3),
            in_flight_ms: round3(sample.in_flight_us as f64 / 1e3),
            error_class: None,
            status: None,
            error: None,
            itl_ms: None,
            conversation: sample.turn.map(|t| t.conversation),
            turn: sample.turn.map(|t| t.turn),
        };
        // A conversation's turn says itself what it sent: its whole history.
        if let Some(turn) = sample.turn {
            record.prompt_words = Some(turn.prompt_words);
            record.prompt_tokens_est = Some(crate::workload::estimate_tokens(turn.prompt_words));
            record.max_tokens = Some(turn.max_tokens);
        }
        match &sample.result {
            Ok(t) => {
                record.ttft_ms = Some(round3(t.ttft_us as f64 / 1e3));
                record.e2el_ms = Some(round3(t.e2e_us as f64 / 1e3));
                record.tpot_ms = t.tpot_us().map(|us| round3(us / 1e3));
                if !t.itl_us.is_empty() {
                    let sum: u64 = t.itl_us.iter().map(|&g| g as u64).sum();
                    record.mean_itl_ms = Some(round3(sum as f64 / t.itl_us.len() as f64 / 1e3));
                }
                record.output_tokens = Some(t.output_tokens);
                record.output_tokens_estimated = t.output_tokens_estimated;
                record.input_tokens = t.input_tokens;
                let ms = |us: u64| round3(us as f64 / 1e3);
                record.ttfr_ms = t.ttfr_us.map(ms);
                record.ttfa_ms = t.ttfr_us.and(t.ttfa_us).map(ms);
                record.reasoning_tokens = t.reasoning_tokens;
                record.reasoning_tokens_estimated = t.reasoning_tokens_estimated;
                record.cached_tokens = t.cached_tokens;
            }
            Err(e) => {
                record.error_class = Some(e.class);
                record.status = e.status;
                record.error = Some(&e.message);
            }
        }
        record
    }

    /// Adds the request's gaps between output chunks (`[run] request_itls`).
    pub fn with_itls(mut self, sample: &Sample) -> RequestRecord<'a> {
        if let Ok(t) = &sample.result {
            self.itl_ms = Some(
                t.itl_us
                    .iter()
                    .map(|&g| round3(f64::from(g) / 1e3))
                    .collect(),
            );
        }
        self
    }

    /// Adds what the plan knows about the prompt sent (a conversation's turn has said it
    /// already: its history, not its first turn).
    pub fn with_prompt(mut self, prompt: Option<&PromptInfo>) -> RequestRecord<'a> {
        if let (Some(p), None) = (prompt, self.turn) {
            self.prompt_words = Some(p.words);
            self.prompt_tokens_est = Some(p.input_tokens_est);
            self.max_tokens = Some(p.max_tokens);
        }
        self
    }
}

/// Rounds to 3 decimals (µs precision for ms values) so files stay readable.
pub fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: Timings) -> serde_json::Value {
        let sample = Sample {
            request_index: 0,
            request_id: "r-0".into(),
            prompt_index: 0,
            sent_at_ms: 0.0,
            queue_us: 0,
            in_flight_us: 0,
            finished_at: tokio::time::Instant::now(),
            result: Ok(t),
            turn: None,
        };
        serde_json::to_value(RequestRecord::new("e", 1.0, 0, &sample)).expect("serialise")
    }

    #[test]
    fn reasoning_and_cache_fields_appear_only_when_there_is_something_to_say() {
        let plain = line(Timings {
            ttft_us: 30_000,
            ttfa_us: Some(30_000),
            ..Timings::default()
        });
        for key in [
            "ttfr_ms",
            "ttfa_ms",
            "reasoning_tokens",
            "reasoning_tokens_estimated",
            "cached_tokens",
        ] {
            assert!(plain.get(key).is_none(), "{key} in {plain}");
        }
        let thinking = line(Timings {
            ttft_us: 30_000,
            ttfr_us: Some(30_000),
            ttfa_us: Some(80_500),
            reasoning_tokens: Some(5),
            reasoning_tokens_estimated: true,
            cached_tokens: Some(0),
            ..Timings::default()
        });
        assert_eq!(thinking["ttfr_ms"], 30.0);
        assert_eq!(thinking["ttfa_ms"], 80.5);
        assert_eq!(thinking["reasoning_tokens"], 5);
        assert_eq!(thinking["reasoning_tokens_estimated"], true);
        assert_eq!(thinking["cached_tokens"], 0, "a reported 0 is a miss, kept");
        // Reasoning and no answer: `ttfr_ms` without `ttfa_ms`.
        let unanswered = line(Timings {
            ttfr_us: Some(30_000),
            ..Timings::default()
        });
        assert_eq!(unanswered["ttfr_ms"], 30.0);
        assert!(unanswered.get("ttfa_ms").is_none(), "{unanswered}");
    }
}
