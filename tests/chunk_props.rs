//! Hostile input for the chunk parser and the SSE byte pipeline: property tests (proptest)
//! and a committed corpus of nasty payloads (`tests/fixtures/chunks/`). The SSE splitter is
//! checked against eventsource-stream, the reference implementation of the same
//! specification, on arbitrary streams cut anywhere.
//!
//! Corpus files are named by the outcome they must have: `malformed-*` → `Malformed`,
//! `engine-*` → `Engine`, `done-*` → `[DONE]`, `nothing-*` → a chunk with no output and no
//! usage, `output-*` → a chunk with output. `.bin` files are read as lossy UTF-8.

use std::convert::Infallible;
use std::path::Path;

use eventsource_stream::Eventsource;
use futures_util::{stream, FutureExt, StreamExt};
use llmsweep::client::chunk::{self, ChunkError, ChunkInfo, Parsed, Usage};
use llmsweep::client::framing;
use llmsweep::client::sse::{self, BodyError};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// What every parse result must satisfy, whatever the input.
fn check_invariants(result: &Result<Parsed, ChunkError>) {
    match result {
        Ok(Parsed::Done) => {}
        Ok(Parsed::Chunk(info)) => {
            if let Some(usage) = info.usage {
                assert!(usage.completion_tokens < 1_000_000_000, "{usage:?}");
                assert!(
                    usage.prompt_tokens.is_none_or(|p| p < 1_000_000_000),
                    "{usage:?}"
                );
            }
        }
        Err(ChunkError::Malformed(message)) | Err(ChunkError::Engine(message)) => {
            assert!(!message.contains(['\n', '\r']), "not one line: {message:?}");
            assert!(
                message.chars().count() <= 410,
                "too long: {}",
                message.len()
            );
        }
    }
}

/// Parses and checks the invariants; for inputs whose outcome is not predicted.
fn check(data: &str) {
    let _ = parse_checked(data);
}

fn parse_checked(data: &str) -> Result<Parsed, ChunkError> {
    let result = chunk::parse(data);
    check_invariants(&result);
    result
}

/// JSON values biased toward the keys a chunk has, so parsing goes deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0u64..2_000_000_000).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "choices",
            "delta",
            "content",
            "text",
            "reasoning_content",
            "reasoning",
            "tool_calls",
            "finish_reason",
            "usage",
            "completion_tokens",
            "prompt_tokens",
            "error",
            "message",
            "role",
        ])
        .prop_map(String::from),
        "[a-z_]{0,8}",
    ]
}

/// A number as an engine might send it in `usage`.
#[derive(Debug, Clone)]
enum Num {
    Missing,
    Null,
    I(i64),
    U(u64),
    F(f64),
}

fn num() -> impl Strategy<Value = Num> {
    prop_oneof![
        Just(Num::Missing),
        Just(Num::Null),
        any::<i64>().prop_map(Num::I),
        (0i64..2_000_000_000).prop_map(Num::I),
        any::<u64>().prop_map(Num::U),
        any::<f64>()
            .prop_filter("JSON has no NaN/inf", |f| f.is_finite())
            .prop_map(Num::F),
        (0u32..100).prop_map(|n| Num::F(n as f64)),
    ]
}

impl Num {
    fn json(&self) -> Option<Value> {
        match *self {
            Num::Missing => None,
            Num::Null => Some(Value::Null),
            Num::I(n) => Some(json!(n)),
            Num::U(n) => Some(json!(n)),
            Num::F(f) => Some(json!(f)),
        }
    }

    /// The count the parser should believe: a whole number in `0..1e9`.
    fn sane(&self) -> Option<u64> {
        let f = match *self {
            Num::Missing | Num::Null => return None,
            Num::I(n) => n as f64,
            Num::U(n) => n as f64,
            Num::F(f) => f,
        };
        (f.is_finite() && (0.0..1e9).contains(&f) && f.fract() == 0.0).then_some(f as u64)
    }
}

#[derive(Debug, Clone)]
struct Choice {
    content: Option<String>,
    reasoning: Option<String>,
    text: Option<String>,
    tool_calls: Option<usize>,
    /// `None`: no key; `Some(None)`: `null`.
    finish: Option<Option<String>>,
}

fn choice() -> impl Strategy<Value = Choice> {
    let text = || prop::option::of(prop_oneof![Just(String::new()), ".{0,6}"]);
    (
        text(),
        text(),
        text(),
        prop::option::of(0usize..3),
        prop::option::of(prop::option::of("[a-z]{1,6}")),
    )
        .prop_map(|(content, reasoning, text, tool_calls, finish)| Choice {
            content,
            reasoning,
            text,
            tool_calls,
            finish,
        })
}

fn choice_json(c: &Choice) -> Value {
    let mut delta = Map::new();
    delta.insert("role".into(), json!("assistant"));
    if let Some(s) = &c.content {
        delta.insert("content".into(), json!(s));
    }
    if let Some(s) = &c.reasoning {
        delta.insert("reasoning_content".into(), json!(s));
    }
    if let Some(n) = c.tool_calls {
        delta.insert("tool_calls".into(), json!(vec![json!({"index": 0}); n]));
    }
    let mut choice = Map::new();
    choice.insert("index".into(), json!(0));
    choice.insert("delta".into(), Value::Object(delta));
    if let Some(s) = &c.text {
        choice.insert("text".into(), json!(s));
    }
    if let Some(f) = &c.finish {
        choice.insert("finish_reason".into(), json!(f));
    }
    Value::Object(choice)
}

/// SSE bytes for `events` (each a list of data lines), with CRLF or LF per event.
fn encode(events: &[Vec<String>], crlf: &[bool]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, lines) in events.iter().enumerate() {
        let eol = if crlf[i % crlf.len()] { "\r\n" } else { "\n" };
        for line in lines {
            bytes.extend_from_slice(format!("data: {line}{eol}").as_bytes());
        }
        bytes.extend_from_slice(eol.as_bytes());
    }
    bytes
}

/// Splits `bytes` at the given cut points (any order, duplicates allowed).
fn split(bytes: &[u8], cuts: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.extend([0, bytes.len()]);
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
}

type Item = Result<String, String>;

/// Runs chunks through the client's pipeline; `Ok(data)` per event (lossy UTF-8: the data
/// is bytes), `Err` for an error.
fn pipeline(chunks: Vec<Vec<u8>>) -> Vec<Item> {
    let body = stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    sse::events(body, || {})
        .map(|item| match item {
            Ok(data) => Ok(String::from_utf8_lossy(&data).into_owned()),
            Err(BodyError::TooLarge) => Err("too large".into()),
            Err(e) => Err(e.to_string()),
        })
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("an in-memory stream is always ready")
}

/// eventsource-stream's events of the same chunks (valid UTF-8 only): the reference.
fn reference(chunks: Vec<Vec<u8>>) -> Vec<Item> {
    let body = stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    body.eventsource()
        .map(|item| item.map(|e| e.data).map_err(|e| e.to_string()))
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("an in-memory stream is always ready")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_string_never_panics(s in any::<String>()) {
        check(&s);
    }

    #[test]
    fn near_json_never_panics(s in r#"[\[\]{}":,.0-9a-z eE+\-\\]{0,80}"#) {
        check(&s);
    }

    #[test]
    fn lossy_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn any_json_value_never_panics(v in json_value()) {
        check(&v.to_string());
        check(&json!({"choices": [v.clone()], "usage": v.clone()}).to_string());
        check(&json!({"choices": [{"delta": v.clone(), "finish_reason": v.clone()}]}).to_string());
        check(&json!({"error": v}).to_string());
    }

    /// Against an oracle: output, finish and usage as DESIGN §3 defines them.
    #[test]
    fn well_formed_chunks_parse_as_specified(
        choices in prop::collection::vec(choice(), 0..4),
        usage in prop::option::of((num(), num(), num(), num())),
    ) {
        let mut chunk = Map::new();
        chunk.insert("id".into(), json!("x"));
        chunk.insert("choices".into(), Value::Array(choices.iter().map(choice_json).collect()));
        if let Some((prompt, completion, reasoning, cached)) = &usage {
            let mut u = Map::new();
            if let Some(v) = prompt.json() { u.insert("prompt_tokens".into(), v); }
            if let Some(v) = completion.json() { u.insert("completion_tokens".into(), v); }
            if let Some(v) = reasoning.json() {
                u.insert("completion_tokens_details".into(), json!({"reasoning_tokens": v}));
            }
            if let Some(v) = cached.json() {
                u.insert("prompt_tokens_details".into(), json!({"cached_tokens": v}));
            }
            chunk.insert("usage".into(), Value::Object(u));
        }
        let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        let reasoning = choices.iter().any(|c| nonempty(&c.reasoning));
        let answer = choices.iter().any(|c| {
            nonempty(&c.content) || nonempty(&c.text) || c.tool_calls.is_some_and(|n| n > 0)
        });
        let expected = ChunkInfo {
            output: reasoning || answer,
            reasoning,
            answer,
            finished: choices.iter().any(|c| matches!(c.finish, Some(Some(_)))),
            usage: usage.as_ref().and_then(|(prompt, completion, reasoning, cached)| {
                let completion_tokens = completion.sane()?;
                let prompt_tokens = prompt.sane();
                Some(Usage {
                    prompt_tokens,
                    completion_tokens,
                    // A part is believed only when it is no larger than its whole.
                    reasoning_tokens: reasoning.sane().filter(|&n| n <= completion_tokens),
                    cached_tokens: cached
                        .sane()
                        .filter(|&n| prompt_tokens.is_none_or(|p| n <= p)),
                })
            }),
        };
        let data = Value::Object(chunk).to_string();
        prop_assert_eq!(parse_checked(&data), Ok(Parsed::Chunk(expected)));
    }

    /// A stream whose chunks repeat one framing (random fields before and after `choices`,
    /// traps such as a nested `choices` or `content` among them) around choices that differ
    /// in their text (escapes, broken escapes, raw control characters) or entirely: each
    /// chunk's result through the stream's [`framing::Framing`] is its whole parse's, errors
    /// included.
    #[test]
    fn framing_gives_every_chunk_its_whole_parse(
        head in prop::collection::vec((key(), json_value()), 0..4),
        tail in prop::collection::vec((key(), json_value()), 0..3),
        key in prop::sample::select(vec!["content", "reasoning_content", "reasoning", "text"]),
        (role, finish) in (any::<bool>(), any::<bool>()),
        chunks in prop::collection::vec(
            prop_oneof![
                3 => r#"(\\[nrt"\\/bfu]|\\u[0-9a-fA-F]{4}|\\x|[a-z é"\u{1}])*"#.prop_map(Ok),
                1 => prop::collection::vec(choice(), 0..3).prop_map(Err),
            ],
            1..12,
        ),
        spaces in prop::sample::select(vec!["", " ", "\n "]),
    ) {
        let fields = |fields: &[(String, Value)]| -> Vec<String> {
            fields.iter().map(|(k, v)| format!("{}:{v}", json!(k))).collect()
        };
        let head: String = fields(&head).iter().map(|f| format!("{f},")).collect();
        let tail: String = fields(&tail).iter().map(|f| format!(",{f}")).collect();
        let mut framing = framing::Framing::default();
        for middle in &chunks {
            let choices = match middle {
                // One choice whose text field is `raw` as written (maybe not valid JSON).
                Ok(raw) => {
                    let role = if role { r#""role":"assistant","# } else { "" };
                    let finish = if finish { r#","finish_reason":null"# } else { "" };
                    let text = format!("\"{key}\":\"{raw}\"");
                    match key {
                        "text" => format!(r#"[{{"index":0,{text}{finish}}}]"#),
                        _ => format!(r#"[{{"index":0,"delta":{{{role}{text}}}{finish}}}]"#),
                    }
                }
                Err(choices) => Value::Array(choices.iter().map(choice_json).collect()).to_string(),
            };
            let data = format!("{{{head}\"choices\":{spaces}{choices}{spaces}{tail}}}");
            prop_assert_eq!(
                framing.parse(data.as_bytes()),
                chunk::parse_bytes(data.as_bytes()),
                "{}",
                data
            );
        }
    }

    /// The same events whatever the chunk boundaries (mid-line, mid-CRLF, mid-character)
    /// and line endings.
    #[test]
    fn sse_split_anywhere_gives_the_same_events(
        events in prop::collection::vec(prop::collection::vec("[ -~é€😀]{0,16}", 1..3), 1..8),
        crlf in prop::collection::vec(any::<bool>(), 1..8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
    ) {
        // A first line that is never empty, so every event carries data.
        let events: Vec<Vec<String>> = events
            .into_iter()
            .enumerate()
            .map(|(i, mut lines)| { lines[0] = format!("{i}{}", lines[0]); lines })
            .collect();
        let bytes = encode(&events, &crlf);
        let expected: Vec<Item> = events.iter().map(|lines| Ok(lines.join("\n"))).collect();
        prop_assert_eq!(pipeline(vec![bytes.clone()]), expected.clone());
        prop_assert_eq!(pipeline(split(&bytes, &cuts)), expected);
    }

    /// Any SSE text, cut anywhere: the events eventsource-stream (the reference) gives —
    /// fields of every kind, comments, empty data lines, LF / CRLF / CR, blank lines.
    #[test]
    fn events_are_the_reference_implementations_whatever_the_text_and_cuts(
        lines in prop::collection::vec(
            prop_oneof![
                "data: [ -~é😀]{0,12}",
                "data:[ -~]{0,6}",
                Just("data".to_string()),
                "(event|id|retry): ?[a-z0-9]{0,4}",
                ": ?[ -~]{0,6}",
                Just(String::new()),
                "[a-z]{1,4}(: ?[a-z]{0,3})?",
            ],
            0..24,
        ),
        eols in prop::collection::vec(prop::sample::select(vec!["\n", "\r\n", "\r"]), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
    ) {
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            text.push_str(line);
            text.push_str(eols[i % eols.len()]);
        }
        // A last line feed: eventsource-stream waits for the byte after a CR that ends the
        // body (it could start a CRLF), so it never dispatches an event the body's last CR
        // ends, though the specification (and the splitter) do. After a CR the LF makes one
        // CRLF, after an LF one more blank line: the same text for both parsers either way.
        text.push('\n');
        let bytes = text.into_bytes();
        let expected = reference(vec![bytes.clone()]);
        prop_assert_eq!(pipeline(vec![bytes.clone()]), expected.clone());
        prop_assert_eq!(pipeline(split(&bytes, &cuts)), expected);
    }

    /// A byte that is not UTF-8, anywhere: never a hang or a panic; the events around it
    /// still split; inside a chunk's content string the chunk is malformed (serde_json checks
    /// every string it reads).
    #[test]
    fn invalid_utf8_anywhere_is_never_a_hang_and_malformed_in_a_string_read(
        events in prop::collection::vec("[a-zé😀]{1,12}", 1..6),
        at in any::<prop::sample::Index>(),
        bad in prop::sample::select(vec![0xffu8, 0xfe, 0xc0, 0x80]),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let events: Vec<Vec<String>> = events.into_iter().map(|e| vec![e]).collect();
        let mut bytes = encode(&events, &[false]);
        bytes.insert(at.index(bytes.len() + 1), bad);
        let items = pipeline(split(&bytes, &cuts));
        prop_assert!(items.len() <= events.len() + 1, "{:?}", items);
        let content = |text: &[u8]| {
            let mut chunk = br#"{"choices":[{"index":0,"delta":{"content":""#.to_vec();
            chunk.extend_from_slice(text);
            chunk.extend_from_slice(br#""}}]}"#);
            chunk
        };
        let i = at.index(3);
        let mut text = b"ab".to_vec();
        text.insert(i, bad);
        prop_assert!(matches!(chunk::parse_bytes(&content(&text)), Err(ChunkError::Malformed(_))));
        prop_assert!(matches!(chunk::parse_bytes(&content(b"ab")), Ok(Parsed::Chunk(c)) if c.output));
    }
}

#[test]
fn corpus_of_nasty_payloads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chunks");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).expect("read");
        let data = String::from_utf8_lossy(&bytes);
        let result = parse_checked(&data);
        let kind = name.split('-').next().unwrap_or_default();
        let ok = match (kind, &result) {
            ("malformed", Err(ChunkError::Malformed(_))) => true,
            ("engine", Err(ChunkError::Engine(_))) => true,
            ("done", Ok(Parsed::Done)) => true,
            ("nothing", Ok(Parsed::Chunk(info))) => !info.output && info.usage.is_none(),
            ("output", Ok(Parsed::Chunk(info))) => info.output,
            _ => false,
        };
        assert!(ok, "{name}: {result:?}");

        // The same payload as an SSE event, in one piece and byte by byte: the event's data
        // is the payload, byte for byte (bytes that are not UTF-8 included).
        let mut event = Vec::new();
        for line in bytes.split(|&b| b == b'\n') {
            event.extend_from_slice(b"data: ");
            event.extend_from_slice(line);
            event.push(b'\n');
        }
        event.push(b'\n');
        let expected = vec![Ok(String::from_utf8_lossy(&bytes).into_owned())];
        assert_eq!(pipeline(vec![event.clone()]), expected, "{name}");
        let piece = if event.len() < 2048 { 1 } else { 997 };
        let pieces = event.chunks(piece).map(<[u8]>::to_vec).collect();
        assert_eq!(pipeline(pieces), expected, "{name} in {piece}-byte pieces");
        seen += 1;
    }
    assert!(seen >= 30, "corpus has {seen} files");
}

#[test]
fn oversized_event_is_an_error_and_the_stream_ends() {
    let mut body = b"data: a\n\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', sse::MAX_EVENT_BYTES + 1));
    body.extend_from_slice(b"\n\ndata: after\n\n");
    let chunks: Vec<Vec<u8>> = body.chunks(64 << 10).map(<[u8]>::to_vec).collect();
    assert_eq!(
        pipeline(chunks),
        vec![Ok("a".to_string()), Err("too large".to_string())]
    );
}

#[test]
fn transport_errors_pass_through_and_end_the_stream() {
    let body = stream::iter(vec![
        Ok(b"data: a\n\n".to_vec()),
        Err("reset"),
        Ok(b"data: b\n\n".to_vec()),
    ]);
    let items: Vec<_> = sse::events(body, || {})
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("ready");
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(items[1], Err(BodyError::Transport("reset"))));
}
