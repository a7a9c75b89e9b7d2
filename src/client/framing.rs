//! Parsing a stream's chunks without re-reading what they all repeat: the [`Framing`] of a
//! stream, learned from its own chunks and checked by whole parses of [`super::chunk`].

use serde::de::IgnoredAny;

use super::chunk::{parse_bytes, Choices, ChunkError, ChunkInfo, NonEmpty, Parsed};

/// Parses a stream's chunks, skipping the bytes that every chunk of the stream repeats.
///
/// An engine frames each chunk of one response the same way, byte for byte:
/// `{"id":..,"object":..,"created":..,"model":..,"choices":[{"index":0,"delta":{"content":`
/// before the token's text and `},"logprobs":null,"finish_reason":null}]}` after it. Parsing
/// all of that again for every token is most of a chunk's cost on bursty streams. So once a
/// chunk has parsed, its framing is learned, and a later chunk that starts with the learned
/// head and ends with the learned tail has only the part between them parsed:
/// - `Middle::Text`: one JSON string, the text of the only output field (`content`,
///   `reasoning_content`, `reasoning`, completions' `text`); learned from an output chunk;
/// - `Middle::Choices`: the whole `choices` array; learned when the text framing is not
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

/// The keys whose string is a chunk's answer, as a JSON key and its colon.
const ANSWER_KEYS: [&[u8]; 2] = [b"\"content\":", b"\"text\":"];
/// The keys whose string is a chunk's reasoning.
const REASONING_KEYS: [&[u8]; 2] = [b"\"reasoning_content\":", b"\"reasoning\":"];

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
                Some(choices.info(None))
            }
        }
    }

    /// Learns the text framing of output chunk `data` (`info`, its parse), if one checks
    /// out; else keeps the framing learned before.
    fn learn_text(&mut self, data: &[u8], info: &ChunkInfo) -> bool {
        if !info.output {
            return false;
        }
        let keys = if info.answer {
            ANSWER_KEYS
        } else {
            REASONING_KEYS
        };
        keys.into_iter().any(|key| {
            value_after(data, key, b'"').is_some_and(|start| {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let spaced = |text: &str| format!(r#"{{ "choices" : [{{"text":  "{text}"}}] ,"u":null }}"#);
        let framing = same_as_whole_parses(&[&spaced("a"), &spaced("b"), &spaced("")]);
        assert_eq!(framing.head, Some(r#"{ "choices" : [{"text":  "#.len()));
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
}
