//! The simulator's wire format: its output words and the SSE events of one response, as
//! vLLM frames them (`data: {"id":..,"object":..,"created":..,"model":..,"choices":[..]}`).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use bytes::{BufMut, BytesMut};

use super::reply::Reply;

/// Deterministic output words: token `i` is `WORDS[i % WORDS.len()]`. None needs JSON
/// escaping, so chunks are built by concatenation.
const WORDS: [&str; 32] = [
    " the",
    " quick",
    " brown",
    " fox",
    " jumps",
    " over",
    " a",
    " lazy",
    " dog",
    " while",
    " seven",
    " small",
    " engines",
    " hum",
    " along",
    " in",
    " steady",
    " batches",
    " and",
    " every",
    " token",
    " arrives",
    " right",
    " on",
    " time",
    " as",
    " the",
    " scheduler",
    " keeps",
    " its",
    " deadline",
    ".",
];

pub(super) const DONE: &[u8] = b"data: [DONE]\n\n";
pub(super) const MALFORMED: &[u8] = b"data: {not json\n\n";
pub(super) const IN_STREAM_ERROR: &[u8] =
    b"data: {\"error\":{\"message\":\"simulated in-stream error\",\
\"type\":\"InternalServerError\",\"code\":500}}\n\n";

/// Which OpenAI endpoint a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    Chat,
    Completions,
}

pub(super) fn word(i: u32) -> &'static str {
    WORDS[i as usize % WORDS.len()]
}

/// Builds one request's SSE events. The per-request prefix (id, object, created, model) is
/// rendered once, so each token costs one allocation and four copies.
pub(super) struct Encoder {
    pub(super) api: Api,
    pub(super) id: String,
    pub(super) created: u64,
    pub(super) model: String,
    /// `data: {"id":..,"object":..,"created":..,"model":..,"choices":[`
    pub(super) head: Vec<u8>,
}

impl Encoder {
    pub(super) fn new(api: Api, index: u64, model: String) -> Self {
        let (prefix, object) = match api {
            Api::Chat => ("chatcmpl-sim-", "chat.completion.chunk"),
            Api::Completions => ("cmpl-sim-", "text_completion"),
        };
        let id = format!("{prefix}{index}");
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // Serialising a `str` cannot fail; the fallback only avoids a panic path.
        let model_json = serde_json::to_string(&model).unwrap_or_else(|_| "\"sim\"".into());
        let head = format!(
            "data: {{\"id\":\"{id}\",\"object\":\"{object}\",\"created\":{created},\"model\":{model_json},\"choices\":["
        )
        .into_bytes();
        Self {
            api,
            id,
            created,
            model,
            head,
        }
    }

    pub(super) fn event(&self, parts: &[&[u8]]) -> Bytes {
        let len = self.head.len() + parts.iter().map(|p| p.len()).sum::<usize>();
        let mut b = BytesMut::with_capacity(len);
        b.put_slice(&self.head);
        for p in parts {
            b.put_slice(p);
        }
        b.freeze()
    }

    pub(super) fn role(&self) -> Bytes {
        self.event(&[br#"{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#, b"\n\n"])
    }

    pub(super) fn content(&self, i: u32) -> Bytes {
        let w = word(i).as_bytes();
        match self.api {
            Api::Chat => self.event(&[
                br#"{"index":0,"delta":{"content":""#,
                w,
                br#""},"logprobs":null,"finish_reason":null}]}"#,
                b"\n\n",
            ]),
            Api::Completions => self.event(&[
                br#"{"index":0,"text":""#,
                w,
                br#"","logprobs":null,"finish_reason":null}]}"#,
                b"\n\n",
            ]),
        }
    }

    /// Content chunk `i` with a `"pad"` string field making the whole event `size` bytes
    /// (or its natural size, if larger). Still valid JSON.
    pub(super) fn padded_content(&self, i: u32, size: usize) -> Bytes {
        let w = word(i).as_bytes();
        let text_key: &[u8] = match self.api {
            Api::Chat => br#"{"index":0,"delta":{"content":""#,
            Api::Completions => br#"{"index":0,"text":""#,
        };
        let close: &[u8] = match self.api {
            Api::Chat => br#""},"logprobs":null,"finish_reason":null,"pad":""#,
            Api::Completions => br#"","logprobs":null,"finish_reason":null,"pad":""#,
        };
        let tail: &[u8] = b"\"}]}\n\n";
        let natural = self.head.len() + text_key.len() + w.len() + close.len() + tail.len();
        let pad = vec![b'x'; size.saturating_sub(natural)];
        self.event(&[text_key, w, close, &pad, tail])
    }

    pub(super) fn finish(&self) -> Bytes {
        match self.api {
            Api::Chat => self.event(&[
                br#"{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length"}]}"#,
                b"\n\n",
            ]),
            Api::Completions => self.event(&[
                br#"{"index":0,"text":"","logprobs":null,"finish_reason":"length"}]}"#,
                b"\n\n",
            ]),
        }
    }

    /// Reasoning chunk `i` (chat only): `delta.reasoning_content`, as vLLM and SGLang send it.
    pub(super) fn reasoning(&self, i: u32) -> Bytes {
        self.event(&[
            br#"{"index":0,"delta":{"reasoning_content":""#,
            word(i).as_bytes(),
            br#""},"logprobs":null,"finish_reason":null}]}"#,
            b"\n\n",
        ])
    }

    pub(super) fn usage(&self, reply: &Reply) -> Bytes {
        let tail = format!("],\"usage\":{}}}\n\n", reply.usage_json());
        self.event(&[tail.as_bytes()])
    }
}
