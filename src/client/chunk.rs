//! Parsing one SSE `data:` payload of an OpenAI-style stream: does it carry output, usage,
//! a finish reason, or an error? Pure and allocation-light: text is borrowed, never kept.

use std::fmt;

use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// What one chunk told us.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChunkInfo {
    /// Carries generated output: content, reasoning, a tool call, or completions `text`.
    /// A role-only chunk (`{"role":"assistant","content":""}`) does not.
    pub output: bool,
    /// Some choice has a non-null `finish_reason`.
    pub finished: bool,
    /// `usage` when present and sane: (prompt_tokens, completion_tokens).
    pub usage: Option<Usage>,
}

/// Token counts from a `usage` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: u64,
}

/// A chunk we could not use.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkError {
    /// Not JSON, or not the shape of a chunk.
    Malformed(String),
    /// `{"error": ...}` inside a 200 stream: the engine failed mid-request.
    Engine(String),
}

/// The result of one `data:` payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Chunk(ChunkInfo),
    /// `[DONE]`.
    Done,
}

/// Largest token count believed; beyond it usage is treated as absent (hostile or broken server).
const MAX_SANE_TOKENS: f64 = 1e9;

#[derive(Deserialize)]
struct RawChunk {
    #[serde(default)]
    choices: Option<Choices>,
    #[serde(default)]
    usage: Option<RawUsage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// The `choices` array folded into two flags as it is read: no `Vec`, no strings kept.
#[derive(Default)]
struct Choices {
    output: bool,
    finished: bool,
}

impl<'de> Deserialize<'de> for Choices {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fold;
        impl<'de> Visitor<'de> for Fold {
            type Value = Choices;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Choices, A::Error> {
                let mut choices = Choices::default();
                while let Some(choice) = seq.next_element::<RawChoice>()? {
                    choices.output |= choice.output();
                    choices.finished |= choice.finish_reason.is_some();
                }
                Ok(choices)
            }
        }
        deserializer.deserialize_seq(Fold)
    }
}

#[derive(Deserialize)]
struct RawChoice {
    #[serde(default)]
    delta: Option<RawDelta>,
    #[serde(default)]
    text: Option<NonEmpty>,
    #[serde(default)]
    finish_reason: Option<IgnoredAny>,
}

impl RawChoice {
    fn output(&self) -> bool {
        let delta = self.delta.as_ref().is_some_and(|d| {
            NonEmpty::any(&[d.content, d.reasoning_content, d.reasoning])
                || matches!(d.tool_calls, Some(NonEmptyArray(true)))
        });
        delta || matches!(self.text, Some(NonEmpty(true)))
    }
}

#[derive(Deserialize)]
struct RawDelta {
    #[serde(default)]
    content: Option<NonEmpty>,
    #[serde(default)]
    reasoning_content: Option<NonEmpty>,
    #[serde(default)]
    reasoning: Option<NonEmpty>,
    #[serde(default)]
    tool_calls: Option<NonEmptyArray>,
}

/// Whether a string is non-empty; read without being copied or allocated, escapes or not.
#[derive(Clone, Copy)]
struct NonEmpty(bool);

impl NonEmpty {
    fn any(values: &[Option<NonEmpty>]) -> bool {
        values.iter().any(|v| matches!(v, Some(NonEmpty(true))))
    }
}

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Check;
        impl Visitor<'_> for Check {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<NonEmpty, E> {
                Ok(NonEmpty(!text.is_empty()))
            }
        }
        deserializer.deserialize_str(Check)
    }
}

/// Whether `tool_calls` has an element; the elements are skipped, not kept.
#[derive(Clone, Copy)]
struct NonEmptyArray(bool);

impl<'de> Deserialize<'de> for NonEmptyArray {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Check;
        impl<'de> Visitor<'de> for Check {
            type Value = NonEmptyArray;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NonEmptyArray, A::Error> {
                let mut any = false;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    any = true;
                }
                Ok(NonEmptyArray(any))
            }
        }
        deserializer.deserialize_seq(Check)
    }
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: Option<serde_json::Number>,
    #[serde(default)]
    completion_tokens: Option<serde_json::Number>,
}

fn sane(n: &Option<serde_json::Number>) -> Option<u64> {
    let value = n.as_ref()?.as_f64()?;
    (value.is_finite() && (0.0..MAX_SANE_TOKENS).contains(&value) && value.fract() == 0.0)
        .then_some(value as u64)
}

/// Parses one `data:` payload.
pub fn parse(data: &str) -> Result<Parsed, ChunkError> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(Parsed::Done);
    }
    let raw: RawChunk = serde_json::from_str(data)
        // serde's message may quote the offending value whole (newlines and all): cut it too.
        .map_err(|e| {
            ChunkError::Malformed(format!("{}: {}", snippet(&e.to_string()), snippet(data)))
        })?;
    if let Some(error) = raw.error.filter(|e| !e.is_null()) {
        let message = error
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| error.to_string());
        return Err(ChunkError::Engine(snippet(&message)));
    }
    let choices = raw.choices.unwrap_or_default();
    let mut info = ChunkInfo {
        output: choices.output,
        finished: choices.finished,
        usage: None,
    };
    if let Some(usage) = raw.usage {
        if let Some(completion_tokens) = sane(&usage.completion_tokens) {
            info.usage = Some(Usage {
                prompt_tokens: sane(&usage.prompt_tokens),
                completion_tokens,
            });
        }
    }
    Ok(Parsed::Chunk(info))
}

/// At most 200 characters of `text`, on one line.
pub fn snippet(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    if text.chars().count() > 200 {
        format!("{one_line}…")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(data: &str) -> ChunkInfo {
        match parse(data) {
            Ok(Parsed::Chunk(info)) => info,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn role_only_chunk_is_not_output() {
        let info = chunk(
            r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        );
        assert!(!info.output && !info.finished);
    }

    #[test]
    fn content_reasoning_tool_calls_and_text_are_output() {
        assert!(chunk(r#"{"choices":[{"delta":{"content":" hi"}}]}"#).output);
        assert!(chunk(r#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#).output);
        assert!(chunk(r#"{"choices":[{"delta":{"reasoning":"hmm"}}]}"#).output);
        assert!(chunk(r#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#).output);
        assert!(chunk(r#"{"choices":[{"text":"a\"b"}]}"#).output);
        assert!(!chunk(r#"{"choices":[{"text":""}]}"#).output);
    }

    #[test]
    fn finish_and_usage() {
        let info = chunk(r#"{"choices":[{"delta":{"content":""},"finish_reason":"length"}]}"#);
        assert!(info.finished && !info.output);
        let info = chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":12,"total_tokens":44,"completion_tokens":32}}"#,
        );
        assert_eq!(
            info.usage,
            Some(Usage {
                prompt_tokens: Some(12),
                completion_tokens: 32
            })
        );
    }

    #[test]
    fn insane_usage_is_ignored() {
        assert_eq!(
            chunk(r#"{"choices":[],"usage":{"completion_tokens":-3}}"#).usage,
            None
        );
        assert_eq!(
            chunk(r#"{"choices":[],"usage":{"completion_tokens":1e300}}"#).usage,
            None
        );
        assert_eq!(
            chunk(r#"{"choices":[],"usage":{"completion_tokens":2.5}}"#).usage,
            None
        );
        let info = chunk(r#"{"choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":3}}"#);
        assert_eq!(
            info.usage,
            Some(Usage {
                prompt_tokens: None,
                completion_tokens: 3
            })
        );
    }

    #[test]
    fn done_error_and_malformed() {
        assert_eq!(parse("[DONE]"), Ok(Parsed::Done));
        assert_eq!(
            parse(r#"{"error":{"message":"out of memory","code":500}}"#),
            Err(ChunkError::Engine("out of memory".into()))
        );
        assert!(matches!(parse("{not json"), Err(ChunkError::Malformed(_))));
        assert!(matches!(
            parse(r#"{"choices":"x"}"#),
            Err(ChunkError::Malformed(_))
        ));
    }

    #[test]
    fn malformed_messages_name_what_was_expected() {
        // The message lands in requests.jsonl: it must say what the chunk should have had.
        for (data, expected) in [
            (r#"{"choices":"x"}"#, "expected an array of choices"),
            (
                r#"{"choices":[{"delta":{"content":5}}]}"#,
                "expected a string",
            ),
            (
                r#"{"choices":[{"delta":{"tool_calls":{"index":0}}}]}"#,
                "expected an array",
            ),
        ] {
            match parse(data) {
                Err(ChunkError::Malformed(message)) => {
                    assert!(message.contains(expected), "{data}: {message:?}")
                }
                other => panic!("{data}: {other:?}"),
            }
        }
    }

    #[test]
    fn snippet_keeps_200_characters_and_marks_a_cut() {
        // Characters, not bytes: "é" is two bytes.
        let exact = "é".repeat(200);
        assert_eq!(snippet(&exact), exact, "200 characters are kept whole");
        let long = "é".repeat(201);
        assert_eq!(snippet(&long), format!("{exact}…"));
        assert_eq!(snippet(&"x".repeat(5000)), format!("{}…", "x".repeat(200)));
        assert_eq!(snippet("a\nb\r\tc"), "a b  c", "on one line");
    }
}
