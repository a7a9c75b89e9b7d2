//! A level's reasoning: time to first answer (TTFA) and to first reasoning token (TTFR),
//! and how much of the output was reasoning. Flattened into [`LevelSummary`]'s JSON, every
//! field absent for a level without reasoning, so such results read as before.
//!
//! TTFA is the time to the first answer chunk after the last reasoning chunk (DESIGN §3);
//! a reply without reasoning has TTFA = TTFT. When no request of a level streamed reasoning
//! the TTFA fields are absent: read TTFT for them.
//!
//! [`LevelSummary`]: crate::results::model::LevelSummary

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Over successful requests; see the module docs for when each field is present.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ReasoningStats {
    /// Time to first answer, ms: mean over the successful requests that answered (those
    /// without reasoning count with their TTFT). Absent when no request streamed reasoning,
    /// or none answered after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ttfa_ms: Option<f64>,
    /// Time to first answer, ms: p50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ttfa_ms: Option<f64>,
    /// Time to first answer, ms: p90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_ttfa_ms: Option<f64>,
    /// Time to first answer, ms: p95.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ttfa_ms: Option<f64>,
    /// Time to first answer, ms: p99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ttfa_ms: Option<f64>,
    /// Time to first reasoning token, ms: mean over the requests that streamed reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ttfr_ms: Option<f64>,
    /// Time to first reasoning token, ms: p50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ttfr_ms: Option<f64>,
    /// Time to first reasoning token, ms: p99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ttfr_ms: Option<f64>,
    /// Successful requests that streamed reasoning (`reasoning_content` / `reasoning`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning_requests: u64,
    /// Of those, requests whose reasoning was never followed by an answer (their TTFA is
    /// undefined: e.g. `max_tokens` ran out while thinking).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unanswered_requests: u64,
    /// Σ reasoning tokens over successful requests (part of `total_output_tokens`); absent
    /// when no request had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_reasoning_tokens: Option<u64>,
    /// `total_reasoning_tokens / total_output_tokens`, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_share: Option<f64>,
    /// True when some reasoning counts came from counting reasoning chunks (the engine's
    /// usage had no `completion_tokens_details.reasoning_tokens`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reasoning_tokens_estimated: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ReasoningStats {
    /// True when the level saw reasoning: streamed, or counted by the engine.
    pub fn any(&self) -> bool {
        self.reasoning_requests > 0 || self.total_reasoning_tokens.is_some()
    }

    /// The share of `output_tokens` that `reasoning_tokens` are, 0..1; `None` without
    /// reasoning tokens or output.
    pub fn share(reasoning_tokens: Option<u64>, output_tokens: u64) -> Option<f64> {
        let reasoning = reasoning_tokens?;
        (output_tokens > 0).then(|| (reasoning as f64 / output_tokens as f64).min(1.0))
    }
}
