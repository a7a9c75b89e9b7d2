//! The probe's body: the sweep's own request for the engine's first prompt (its generation
//! parameters and `extra_body`, so `ignore_eos` applies), with a small `max_tokens`.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::plan::{request_body, Plan};
use crate::workload::Prompt;

/// The probe's output length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTokens {
    /// `check`: ask for this many, to see what comes back.
    Exactly(u32),
    /// `run`: the sweep's own, capped.
    AtMost(u32),
}

/// The probe body for engine `engine`: its first planned body with `max_tokens` (and a
/// `max_completion_tokens` from `extra_body`) set as `max_tokens` says.
pub fn body(plan: &Plan, engine: usize, max_tokens: MaxTokens) -> Bytes {
    let base = match plan.engines[engine].bodies.first() {
        Some(body) => body.clone(),
        None => request_body(
            &plan.config,
            &plan.config.engines[engine],
            &Prompt::text("Say hello."),
        ),
    };
    with_max_tokens(&base, max_tokens)
}

/// `body` (a JSON object) with its output-length fields set; unchanged if it is not JSON.
pub fn with_max_tokens(body: &[u8], max_tokens: MaxTokens) -> Bytes {
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
        return Bytes::copy_from_slice(body);
    };
    for field in ["max_tokens", "max_completion_tokens"] {
        let present = object.get(field).and_then(Value::as_u64);
        let value = match (max_tokens, present) {
            (_, None) if field != "max_tokens" => continue,
            (MaxTokens::Exactly(n), _) => u64::from(n),
            (MaxTokens::AtMost(n), Some(now)) => now.min(u64::from(n)),
            (MaxTokens::AtMost(n), None) => u64::from(n),
        };
        object.insert(field.into(), json!(value));
    }
    Bytes::from(serde_json::to_vec(&Value::Object(object)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &Bytes) -> Value {
        serde_json::from_slice(body).expect("json")
    }

    #[test]
    fn exactly_sets_both_length_fields_and_keeps_the_rest() {
        let base =
            br#"{"model":"m","max_tokens":256,"ignore_eos":true,"max_completion_tokens":300}"#;
        let body = fields(&with_max_tokens(base, MaxTokens::Exactly(16)));
        assert_eq!(body["max_tokens"], 16);
        assert_eq!(body["max_completion_tokens"], 16);
        assert_eq!(body["ignore_eos"], true);
        assert_eq!(body["model"], "m");
    }

    #[test]
    fn at_most_caps_but_never_raises() {
        let capped = fields(&with_max_tokens(
            br#"{"max_tokens":256}"#,
            MaxTokens::AtMost(16),
        ));
        assert_eq!(capped["max_tokens"], 16);
        assert!(capped.get("max_completion_tokens").is_none());
        let small = fields(&with_max_tokens(
            br#"{"max_tokens":4}"#,
            MaxTokens::AtMost(16),
        ));
        assert_eq!(small["max_tokens"], 4);
    }

    #[test]
    fn max_tokens_is_added_when_missing_max_completion_tokens_only_kept() {
        for limit in [MaxTokens::Exactly(16), MaxTokens::AtMost(16)] {
            let body = fields(&with_max_tokens(br#"{"model":"m"}"#, limit));
            assert_eq!(body["max_tokens"], 16, "{limit:?}");
            assert!(body.get("max_completion_tokens").is_none(), "{limit:?}");
        }
    }

    #[test]
    fn a_body_that_is_not_json_goes_as_it_is() {
        assert_eq!(
            with_max_tokens(b"not json", MaxTokens::Exactly(3)).as_ref(),
            b"not json"
        );
    }
}
