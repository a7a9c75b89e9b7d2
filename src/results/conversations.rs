//! Multi-turn conversations in results: the workload's setting, and per level the
//! conversations' totals and each turn's TTFT and prefix-cache hits (a turn resends the
//! history, so its TTFT should fall as an engine's cache serves more of it).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[prompts] conversations` as run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ConversationsWorkload {
    /// User turns per conversation (synthetic: exactly; ShareGPT: at most); `None` = each
    /// ShareGPT conversation's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<u32>,
    /// The user's pause between an answer and the next question, ms.
    #[serde(default)]
    pub turn_delay_ms: u64,
}

/// One level's conversations. A conversation is *completed* when every turn was answered,
/// *failed* when a turn failed (it ends there: there is no answer to continue from), and
/// *cut* when the level ended (its time, a skip or quit) before its last turn.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ConversationStats {
    /// Conversations whose first turn was sent.
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    pub cut: u64,
    /// Requests (turns) sent per started conversation.
    pub mean_turns: f64,
    /// A completed conversation's first send → its last answer's end (turn delays
    /// included), ms: mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_duration_ms: Option<f64>,
    /// The same, p50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_duration_ms: Option<f64>,
    /// The same, p99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_duration_ms: Option<f64>,
    /// Output tokens of a completed conversation (all its answers), mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_output_tokens: Option<f64>,
    /// Per turn, from the first.
    pub turns: Vec<TurnStats>,
}

/// One turn number's requests over a level's conversations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TurnStats {
    /// 1-based.
    pub turn: u32,
    /// Answered requests of this turn.
    pub completed: u64,
    /// Failed requests of this turn (cancelled ones not counted).
    pub failed: u64,
    /// Time to first token, ms: mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ttft_ms: Option<f64>,
    /// Time to first token, ms: p50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ttft_ms: Option<f64>,
    /// Time to first token, ms: p99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ttft_ms: Option<f64>,
    /// Prompt tokens per answered request (the engine's count: the history grows with each
    /// turn), mean; `None` when the engine sent no usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_input_tokens: Option<f64>,
    /// Cached / input tokens of this turn's requests that reported them, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_fraction: Option<f64>,
}
