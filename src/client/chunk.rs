//! Parsing one SSE `data:` payload of an OpenAI-style stream: does it carry output, usage,
//! a finish reason, or an error? Pure and allocation-light: text is borrowed, never kept.
//! A stream's chunks go through [`super::framing::Framing`], which skips what they repeat.

use std::fmt;

use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// What one chunk told us.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChunkInfo {
    /// Carries generated output: content, reasoning, a tool call, or completions `text`.
    /// A role-only chunk (`{"role":"assistant","content":""}`) does not.
    /// Always `reasoning || answer`.
    pub output: bool,
    /// Carries reasoning: a non-empty `delta.reasoning_content` (vLLM, SGLang) or
    /// `delta.reasoning` (newer vLLM).
    pub reasoning: bool,
    /// Carries answer output: a non-empty `delta.content`, a tool call, or completions `text`.
    /// A chunk may carry reasoning and answer both.
    pub answer: bool,
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
    /// `completion_tokens_details.reasoning_tokens` (OpenAI's shape), else SGLang's
    /// `reasoning_tokens` beside `completion_tokens`; `None` when absent or more than
    /// `completion_tokens`.
    pub reasoning_tokens: Option<u64>,
    /// `prompt_tokens_details.cached_tokens` (vLLM with `--enable-prompt-tokens-details`,
    /// SGLang with `--enable-cache-report`): prompt tokens served from the prefix cache;
    /// `None` when absent or more than `prompt_tokens`.
    pub cached_tokens: Option<u64>,
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

/// The `choices` array folded into flags as it is read: no `Vec`, no strings kept.
#[derive(Default)]
pub(super) struct Choices {
    reasoning: bool,
    answer: bool,
    finished: bool,
}

impl Choices {
    /// The chunk these choices (and `usage`) make.
    pub(super) fn info(&self, usage: Option<Usage>) -> ChunkInfo {
        ChunkInfo {
            output: self.reasoning || self.answer,
            reasoning: self.reasoning,
            answer: self.answer,
            finished: self.finished,
            usage,
        }
    }
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
                    choices.reasoning |= choice.reasoning();
                    choices.answer |= choice.answer();
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
    fn reasoning(&self) -> bool {
        self.delta
            .as_ref()
            .is_some_and(|d| NonEmpty::any(&[d.reasoning_content, d.reasoning]))
    }

    fn answer(&self) -> bool {
        let delta = self.delta.as_ref().is_some_and(|d| {
            NonEmpty::any(&[d.content]) || matches!(d.tool_calls, Some(NonEmptyArray(true)))
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
pub(super) struct NonEmpty(pub(super) bool);

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
    /// SGLang's place for it.
    #[serde(default)]
    reasoning_tokens: Option<serde_json::Number>,
    #[serde(default)]
    completion_tokens_details: Option<RawCompletionDetails>,
    #[serde(default)]
    prompt_tokens_details: Option<RawPromptDetails>,
}

/// `usage.completion_tokens_details`; its other counts are skipped.
#[derive(Deserialize)]
struct RawCompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<serde_json::Number>,
}

/// `usage.prompt_tokens_details`; its other counts are skipped.
#[derive(Deserialize)]
struct RawPromptDetails {
    #[serde(default)]
    cached_tokens: Option<serde_json::Number>,
}

impl RawUsage {
    /// The counts, when `completion_tokens` is sane. A part larger than its whole is dropped.
    fn sane(&self) -> Option<Usage> {
        let completion_tokens = sane(&self.completion_tokens)?;
        let prompt_tokens = sane(&self.prompt_tokens);
        let details = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| sane(&d.reasoning_tokens));
        let reasoning_tokens = details
            .or_else(|| sane(&self.reasoning_tokens))
            .filter(|&n| n <= completion_tokens);
        let cached_tokens = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| sane(&d.cached_tokens))
            .filter(|&n| prompt_tokens.is_none_or(|p| n <= p));
        Some(Usage {
            prompt_tokens,
            completion_tokens,
            reasoning_tokens,
            cached_tokens,
        })
    }
}

fn sane(n: &Option<serde_json::Number>) -> Option<u64> {
    let value = n.as_ref()?.as_f64()?;
    (value.is_finite() && (0.0..MAX_SANE_TOKENS).contains(&value) && value.fract() == 0.0)
        .then_some(value as u64)
}

/// Parses one `data:` payload.
pub fn parse(data: &str) -> Result<Parsed, ChunkError> {
    parse_bytes(data.as_bytes())
}

/// Parses one `data:` payload as the stream delivered it: bytes, UTF-8-checked by serde_json
/// in every string it reads (a payload that is not UTF-8 there is malformed).
pub fn parse_bytes(data: &[u8]) -> Result<Parsed, ChunkError> {
    let data = data.trim_ascii();
    if data == b"[DONE]" {
        return Ok(Parsed::Done);
    }
    let raw: RawChunk = serde_json::from_slice(data)
        // serde's message may quote the offending value whole (newlines and all): cut it too.
        .map_err(|e| {
            ChunkError::Malformed(format!(
                "{}: {}",
                snippet(&e.to_string()),
                snippet(&String::from_utf8_lossy(data))
            ))
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
    Ok(Parsed::Chunk(
        choices.info(raw.usage.as_ref().and_then(RawUsage::sane)),
    ))
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
                completion_tokens: 32,
                reasoning_tokens: None,
                cached_tokens: None,
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
                completion_tokens: 3,
                reasoning_tokens: None,
                cached_tokens: None,
            })
        );
    }

    /// `(output, reasoning, answer)` of a chunk.
    fn kinds(data: &str) -> (bool, bool, bool) {
        let info = chunk(data);
        (info.output, info.reasoning, info.answer)
    }

    /// A vLLM reasoning stream (`--reasoning-parser`), chunk by chunk as it is sent: the role
    /// chunk, reasoning deltas, the answer, the finish chunk, then usage with the details.
    #[test]
    fn a_vllm_reasoning_stream_tells_reasoning_from_answer() {
        let head = r#"{"id":"chatcmpl-7f3a","object":"chat.completion.chunk","created":1767225600,"model":"Qwen/Qwen3-0.6B","#;
        let with = |choices: &str| format!("{head}{choices}}}");
        let role = with(
            r#""choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning_content":null},"logprobs":null,"finish_reason":null}]"#,
        );
        assert_eq!(
            kinds(&role),
            (false, false, false),
            "the role chunk is no output"
        );
        for delta in [
            r#"{"reasoning_content":"Okay"}"#,
            r#"{"reasoning_content":", the user asks \"why\".\n"}"#,
            r#"{"reasoning":" Newer vLLM names it reasoning."}"#,
        ] {
            let data = with(&format!(
                r#""choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":null}}]"#
            ));
            assert_eq!(kinds(&data), (true, true, false), "{delta}");
        }
        // The parser's transition: content after `</think>`, the reasoning field null.
        let answer = with(
            r#""choices":[{"index":0,"delta":{"content":"\n\nBecause","reasoning_content":null},"logprobs":null,"finish_reason":null}]"#,
        );
        assert_eq!(kinds(&answer), (true, false, true));
        // Empty strings are no output of either kind.
        let empty = with(
            r#""choices":[{"index":0,"delta":{"content":"","reasoning_content":""},"logprobs":null,"finish_reason":null}]"#,
        );
        assert_eq!(kinds(&empty), (false, false, false));
        let finish = chunk(&with(
            r#""choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop","stop_reason":null}]"#,
        ));
        assert!(finish.finished && !finish.output);
        let usage = chunk(&with(
            r#""choices":[],"usage":{"prompt_tokens":40,"total_tokens":112,"completion_tokens":72,"prompt_tokens_details":{"cached_tokens":32},"completion_tokens_details":{"reasoning_tokens":58,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"#,
        ));
        assert_eq!(
            usage.usage,
            Some(Usage {
                prompt_tokens: Some(40),
                completion_tokens: 72,
                reasoning_tokens: Some(58),
                cached_tokens: Some(32),
            })
        );
    }

    #[test]
    fn one_chunk_may_carry_reasoning_and_answer_and_tool_calls_are_answers() {
        assert_eq!(
            kinds(r#"{"choices":[{"delta":{"reasoning_content":"so","content":"Yes"}}]}"#),
            (true, true, true)
        );
        // Choices are folded: reasoning in one, content in another.
        assert_eq!(
            kinds(
                r#"{"choices":[{"index":0,"delta":{"reasoning":"hm"}},{"index":1,"delta":{"content":"A"}}]}"#
            ),
            (true, true, true)
        );
        assert_eq!(
            kinds(
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f"}}]}}]}"#
            ),
            (true, false, true)
        );
        assert_eq!(
            kinds(r#"{"choices":[{"text":"completions"}]}"#),
            (true, false, true)
        );
    }

    #[test]
    fn reasoning_and_cached_tokens_from_every_usage_shape() {
        let usage = |u: &str| {
            chunk(&format!(r#"{{"choices":[],"usage":{u}}}"#))
                .usage
                .unwrap()
        };
        // SGLang: `reasoning_tokens` beside the other counts (0 when it has none).
        let sglang = usage(
            r#"{"prompt_tokens":9,"total_tokens":29,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":0},"reasoning_tokens":12}"#,
        );
        assert_eq!(
            (sglang.reasoning_tokens, sglang.cached_tokens),
            (Some(12), Some(0))
        );
        // The details object wins over SGLang's field.
        let both = usage(
            r#"{"completion_tokens":20,"reasoning_tokens":3,"completion_tokens_details":{"reasoning_tokens":7}}"#,
        );
        assert_eq!(both.reasoning_tokens, Some(7));
        // Absent, null, or not a count: none.
        let plain = usage(
            r#"{"prompt_tokens":9,"completion_tokens":20,"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":null}}"#,
        );
        assert_eq!((plain.reasoning_tokens, plain.cached_tokens), (None, None));
        let broken = usage(
            r#"{"prompt_tokens":9,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":-1},"completion_tokens_details":{"reasoning_tokens":2.5}}"#,
        );
        assert_eq!(
            (broken.reasoning_tokens, broken.cached_tokens),
            (None, None)
        );
        // A part larger than its whole is not believed; the whole still is.
        let larger = usage(
            r#"{"prompt_tokens":9,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":10},"completion_tokens_details":{"reasoning_tokens":21}}"#,
        );
        assert_eq!(
            (
                larger.prompt_tokens,
                larger.completion_tokens,
                larger.reasoning_tokens,
                larger.cached_tokens
            ),
            (Some(9), 20, None, None)
        );
        // Every token of the prompt cached, every output token reasoning: still believed.
        let all = usage(
            r#"{"prompt_tokens":9,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":9},"completion_tokens_details":{"reasoning_tokens":20}}"#,
        );
        assert_eq!(
            (all.reasoning_tokens, all.cached_tokens),
            (Some(20), Some(9))
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
