//! A level's prefix cache as the engine reported it per request
//! (`usage.prompt_tokens_details.cached_tokens`). Flattened into [`LevelSummary`]'s JSON;
//! absent when no request reported it.
//!
//! [`LevelSummary`]: crate::results::model::LevelSummary

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Over successful requests that reported cached tokens.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct PrefixCacheStats {
    /// Σ prompt tokens the engine served from its prefix cache (part of
    /// `total_input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cached_tokens: Option<u64>,
    /// Cached / input tokens over the requests that reported both, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_fraction: Option<f64>,
}
