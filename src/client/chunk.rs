//! Parsing one SSE `data:` payload of an OpenAI-style stream: does it carry output, usage,
//! a finish reason, or an error? Pure and allocation-light: text is borrowed, never kept.

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
struct Choices {
    reasoning: bool,
    answer: bool,
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
    Ok(Parsed::Chunk(ChunkInfo {
        output: choices.reasoning || choices.answer,
        reasoning: choices.reasoning,
        answer: choices.answer,
        finished: choices.finished,
        usage: raw.usage.as_ref().and_then(RawUsage::sane),
    }))
}

/// Parses a stream's chunks, skipping the bytes that every chunk of the stream repeats.
///
/// An engine frames each chunk of one response the same way, byte for byte:
/// `{"id":..,"object":..,"created":..,"model":..,"choices":[{"index":0,"delta":{"content":`
/// before the token's text and `},"logprobs":null,"finish_reason":null}]}` after it. Parsing
/// all of that again for every token is most of a chunk's cost on bursty streams. So once a
/// chunk has parsed, its framing is learned, and a later chunk that starts with the learned
/// head and ends with the learned tail has only the part between them parsed:
/// - [`Middle::Text`]: one JSON string, the text of the only output field (`content`,
///   `reasoning_content`, `reasoning`, completions' `text`); learned from an output chunk;
/// - [`Middle::Choices`]: the whole `choices` array; learned when the text framing is not
///   (tool calls, several choices).
///
/// Anything else (the usage chunk, `[DONE]`, an error, the finish chunk, another framing)
/// takes the whole parse of [`parse_bytes`], as does a middle that is not one value of its
/// kind (so a malformed one gets the whole parse's error).
///
/// The result is always [`parse_bytes`]'s. A framing is learned only after the whole parse of
/// the head and tail around two stand-in middles checks out: `""` must give a chunk with
/// nothing in it and `"x"` an output chunk without finish or usage (so the string is the one
/// output field that decides the flags: not one nested in an unknown field, nor a duplicate
/// key, which serde refuses); `[]` a chunk with nothing and `[{"finish_reason":"x"}]` a
/// finished one (so the array is the top-level `choices`). Chunks with usage or a finish
/// reason are not learned from: they are most often a stream's last.
#[derive(Debug, Default)]
pub struct Framing {
    /// The learned framing's head, then its tail.
    frame: Vec<u8>,
    /// Length of the head; `None` until a framing is learned.
    head: Option<usize>,
    /// What the part between head and tail is.
    middle: Middle,
    /// Learning attempts made: bounded, so a stream whose framing changes with every chunk
    /// costs at most a few extra parses.
    attempts: u8,
}

/// The part of a learned framing that changes from chunk to chunk.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Middle {
    /// The `choices` array.
    #[default]
    Choices,
    /// One string; a non-empty one gives these flags (an empty one, none).
    Text(ChunkInfo),
}

/// Chunks a stream may learn its framing from (vLLM's role chunk has a framing of its own,
/// a reasoning model's answer another than its reasoning).
const LEARN_ATTEMPTS: u8 = 4;

/// The keys whose string is a chunk's output, as a JSON key and its colon.
const TEXT_KEYS: [&[u8]; 4] = [
    b"\"content\":",
    b"\"reasoning_content\":",
    b"\"reasoning\":",
    b"\"text\":",
];

impl Framing {
    /// [`parse_bytes`] of `data`, skipping a learned head and tail.
    pub fn parse(&mut self, data: &[u8]) -> Result<Parsed, ChunkError> {
        let data = data.trim_ascii();
        if let Some(info) = self.fast(data) {
            // A choices framing around text (the role chunk's, when its tail is the content
            // chunks'): the text framing inside it parses less.
            if self.middle == Middle::Choices
                && info.output
                && !info.finished
                && self.attempts < LEARN_ATTEMPTS
            {
                self.attempts += 1;
                self.learn_text(data, &info);
            }
            return Ok(Parsed::Chunk(info));
        }
        let parsed = parse_bytes(data)?;
        if let Parsed::Chunk(
            info @ ChunkInfo {
                usage: None,
                finished: false,
                ..
            },
        ) = &parsed
        {
            if self.attempts < LEARN_ATTEMPTS {
                self.attempts += 1;
                if !self.learn_text(data, info) {
                    self.learn_choices(data);
                }
            }
        }
        Ok(parsed)
    }

    fn fast(&self, data: &[u8]) -> Option<ChunkInfo> {
        let head = self.head?;
        let (head_bytes, tail) = self.frame.split_at(head);
        let middle = data.strip_prefix(head_bytes)?.strip_suffix(tail)?;
        match self.middle {
            Middle::Text(filled) => {
                let NonEmpty(any) = serde_json::from_slice(middle).ok()?;
                Some(if any { filled } else { ChunkInfo::default() })
            }
            Middle::Choices => {
                let choices: Choices = serde_json::from_slice(middle).ok()?;
                Some(ChunkInfo {
                    output: choices.reasoning || choices.answer,
                    reasoning: choices.reasoning,
                    answer: choices.answer,
                    finished: choices.finished,
                    usage: None,
                })
            }
        }
    }

    /// Learns the text framing of output chunk `data` (`info`, its parse), if one checks
    /// out; else keeps the framing learned before.
    fn learn_text(&mut self, data: &[u8], info: &ChunkInfo) -> bool {
        if !info.output {
            return false;
        }
        let keys = if info.answer { [0, 3] } else { [1, 2] };
        keys.into_iter().any(|k| {
            value_after(data, TEXT_KEYS[k], b'"').is_some_and(|start| {
                let checks = [(&b"\"\""[..], ChunkInfo::default()), (b"\"x\"", *info)];
                self.try_learn(data, start, Middle::Text(*info), &checks)
            })
        })
    }

    /// Learns the choices framing of `data`, if one checks out; else keeps the framing
    /// learned before.
    fn learn_choices(&mut self, data: &[u8]) {
        if let Some(start) = value_after(data, b"\"choices\":", b'[') {
            let finished = ChunkInfo {
                finished: true,
                ..ChunkInfo::default()
            };
            let checks = [
                (&b"[]"[..], ChunkInfo::default()),
                (br#"[{"finish_reason":"x"}]"#, finished),
            ];
            self.try_learn(data, start, Middle::Choices, &checks);
        }
    }

    /// Learns head `data[..start]` and the tail after the JSON value at `start`, if every
    /// stand-in middle between them parses whole to its expected chunk.
    fn try_learn(
        &mut self,
        data: &[u8],
        start: usize,
        middle: Middle,
        checks: &[(&[u8], ChunkInfo)],
    ) -> bool {
        let mut values =
            serde_json::Deserializer::from_slice(&data[start..]).into_iter::<IgnoredAny>();
        let Some(Ok(_)) = values.next() else {
            return false;
        };
        let (head, tail) = (&data[..start], &data[start + values.byte_offset()..]);
        // Checked in a buffer of its own: a framing that fails leaves the learned one whole.
        let mut frame = Vec::with_capacity(data.len());
        let checked = checks.iter().all(|(stand_in, expected)| {
            frame.clear();
            frame.extend_from_slice(head);
            frame.extend_from_slice(stand_in);
            frame.extend_from_slice(tail);
            parse_bytes(&frame) == Ok(Parsed::Chunk(*expected))
        });
        if checked {
            frame.clear();
            frame.extend_from_slice(head);
            frame.extend_from_slice(tail);
            self.frame = frame;
            self.head = Some(head.len());
            self.middle = middle;
        }
        checked
    }
}

/// Where the value after the first `key` (a JSON key with its colon) starts, if it starts
/// with `open`; whitespace after the colon is skipped.
fn value_after(data: &[u8], key: &[u8], open: u8) -> Option<usize> {
    let mut at = memchr::memmem::find(data, key)? + key.len();
    while data.get(at)?.is_ascii_whitespace() {
        at += 1;
    }
    (data[at] == open).then_some(at)
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

    /// Each chunk through one [`Framing`] and through [`parse_bytes`]: the same result.
    fn same_as_whole_parses(chunks: &[&str]) -> Framing {
        let mut framing = Framing::default();
        for data in chunks {
            let whole = parse_bytes(data.as_bytes());
            assert_eq!(framing.parse(data.as_bytes()), whole, "{data}");
        }
        framing
    }

    #[test]
    fn framing_learns_a_vllm_stream_and_parses_only_its_choices() {
        let head = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795838644,"model":"m","choices":"#;
        let role = format!(
            r#"{head}[{{"index":0,"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}],"prompt_token_ids":null}}"#
        );
        let content = |text: &str| {
            format!(
                r#"{head}[{{"index":0,"delta":{{"content":"{text}"}},"logprobs":null,"finish_reason":null}}]}}"#
            )
        };
        let finish = format!(r#"{head}[{{"index":0,"delta":{{}},"finish_reason":"length"}}]}}"#);
        let usage = format!(r#"{head}[],"usage":{{"prompt_tokens":3,"completion_tokens":2}}}}"#);
        let (a, b, empty) = (content(" a"), content(r#"\"b\" \u00e9"#), content(""));
        let framing = same_as_whole_parses(&[&role, &a, &b, &empty, &finish, &usage, "[DONE]"]);
        // Learned from the first content chunk (the role chunk's delta differs).
        let text_head = format!(r#"{head}[{{"index":0,"delta":{{"content":"#);
        assert_eq!(framing.head, Some(text_head.len()), "{framing:?}");
        assert!(matches!(framing.middle, Middle::Text(i) if i.answer && !i.reasoning));
        assert_eq!(framing.attempts, 2, "role and first content: {framing:?}");
        // A malformed middle gets the whole parse's error.
        let mut framing = same_as_whole_parses(&[&role, &a]);
        for bad in [
            content("\\x"),
            format!("{head}[{{\"delta\":5}}]}}"),
            format!("{head}[1,]}}"),
        ] {
            let whole = parse_bytes(bad.as_bytes());
            assert!(whole.is_err(), "{bad}");
            assert_eq!(framing.parse(bad.as_bytes()), whole, "{bad}");
        }
    }

    #[test]
    fn framing_learns_text_inside_a_choices_framing_and_keeps_it_past_other_chunks() {
        // The simulator's role chunk has the content chunks' tail: a choices framing first,
        // then the text framing inside it from the first content chunk.
        let chunk = |delta: &str| {
            format!(
                r#"{{"id":"s","choices":[{{"index":0,"delta":{{{delta}}},"finish_reason":null}}]}}"#
            )
        };
        let (role, a, b) = (
            chunk(r#""role":"assistant","content":"""#),
            chunk(r#""content":"a""#),
            chunk(r#""content":"b""#),
        );
        let mut framing = same_as_whole_parses(&[&role]);
        assert_eq!(framing.middle, Middle::Choices);
        for data in [&a, &b] {
            assert_eq!(framing.parse(data.as_bytes()), parse_bytes(data.as_bytes()));
        }
        assert!(matches!(framing.middle, Middle::Text(_)), "{framing:?}");
        let learned = (framing.frame.clone(), framing.head);
        // A chunk of another framing that cannot be learned (a nested trap) leaves it whole.
        let trap = r#"{"x":{"choices":[{"text":"t"}]},"choices":[{"text":""}]}"#;
        assert_eq!(framing.parse(trap.as_bytes()), parse_bytes(trap.as_bytes()));
        assert_eq!((framing.frame.clone(), framing.head), learned);
    }

    #[test]
    fn framing_is_not_fooled_by_choices_elsewhere_or_twice() {
        // A "choices" key inside another field before the real one: never learned.
        let nested = |text: &str| {
            format!(
                r#"{{"x":{{"choices":[{{"delta":{{"content":"{text}"}}}}]}},"choices":[{{"delta":{{"content":""}}}}]}}"#
            )
        };
        let framing = same_as_whole_parses(&[&nested("a"), &nested("b"), &nested("c")]);
        assert_eq!(framing.head, None);
        // Inside the real choices, and a duplicate one in the tail.
        let inner = |text: &str| {
            format!(
                r#"{{"choices":[{{"x":{{"choices":[{{"text":"{text}"}}]}},"finish_reason":null}}]}}"#
            )
        };
        same_as_whole_parses(&[&inner("a"), &inner("b"), &inner("")]);
        // Two choices, the second's text constant: an empty first is still output.
        let two = |text: &str| format!(r#"{{"choices":[{{"text":"{text}"}},{{"text":"k"}}]}}"#);
        same_as_whole_parses(&[&two("a"), &two("b"), &two("")]);
        let twice = r#"{"choices":[{"text":"a"}],"choices":[]}"#;
        let framing = same_as_whole_parses(&[twice, twice]);
        assert_eq!(framing.head, None);
        // An error in the head: every chunk is the engine's error.
        let error = r#"{"error":{"message":"boom"},"choices":[{"text":"a"}]}"#;
        same_as_whole_parses(&[error, error]);
    }

    #[test]
    fn framing_skips_usage_and_follows_a_change_of_framing() {
        // Usage in every chunk (`continuous_usage_stats`): never learned from, each parsed whole.
        let with_usage = |text: &str| {
            format!(
                r#"{{"usage":{{"prompt_tokens":4,"completion_tokens":1}},"choices":[{{"text":"{text}"}}]}}"#
            )
        };
        let framing = same_as_whole_parses(&[&with_usage("a"), &with_usage("b")]);
        assert_eq!((framing.head, framing.attempts), (None, 0));
        // Whitespace around the array, and a tail with fields of its own.
        let spaced = |text: &str| format!(r#"{{ "choices" : [{{"text":"{text}"}}] ,"u":null }}"#);
        let framing = same_as_whole_parses(&[&spaced("a"), &spaced("b"), &spaced("")]);
        assert_eq!(framing.head, Some(r#"{ "choices" : [{"text":"#.len()));
        // Tool calls: the choices array is the middle.
        let tool = |i: u32| {
            format!(r#"{{"id":"c","choices":[{{"delta":{{"tool_calls":[{{"index":{i}}}]}}}}]}}"#)
        };
        let framing = same_as_whole_parses(&[
            &tool(0),
            &tool(1),
            r#"{"id":"c","choices":[{"delta":{"tool_calls":[]},"finish_reason":"tool_calls"}]}"#,
        ]);
        assert_eq!(
            (framing.head, framing.middle),
            (Some(r#"{"id":"c","choices":"#.len()), Middle::Choices)
        );
        // Each tool-call chunk through the choices framing is output a text framing cannot
        // hold: looked for inside it a bounded number of times, then no more.
        let calls: Vec<String> = (0..10).map(tool).collect();
        let calls: Vec<&str> = calls.iter().map(String::as_str).collect();
        let framing = same_as_whole_parses(&calls);
        assert_eq!(framing.middle, Middle::Choices);
        assert_eq!(framing.attempts, LEARN_ATTEMPTS, "{framing:?}");
        // Reasoning, then the answer: each learned in turn.
        let delta =
            |key: &str, text: &str| format!(r#"{{"choices":[{{"delta":{{"{key}":"{text}"}}}}]}}"#);
        let (r1, r2, a1, a2) = (
            delta("reasoning_content", "a"),
            delta("reasoning_content", "b"),
            delta("content", "c"),
            delta("content", "d"),
        );
        let framing = same_as_whole_parses(&[
            &r1,
            &r2,
            &delta("reasoning", "e"),
            &a1,
            &a2,
            &delta("content", ""),
        ]);
        assert!(
            matches!(framing.middle, Middle::Text(i) if i.answer && !i.reasoning),
            "{framing:?}"
        );
        let other =
            |id: u32, text: &str| format!(r#"{{"id":"{id}","choices":[{{"text":"{text}"}}]}}"#);
        let chunks: Vec<String> = (0..8).map(|i| other(i, "t")).collect();
        let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let framing = same_as_whole_parses(&chunks);
        assert_eq!(
            framing.attempts, LEARN_ATTEMPTS,
            "a framing that never repeats stops being learned"
        );
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
