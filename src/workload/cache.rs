//! `[prompts] cache = "bust"`: a short unique prefix, `[a1b2c3d4] `, in front of each request's
//! first user message (or the prompt, on the completions API), so an engine's prefix cache
//! cannot answer one request from another's prompt.
//!
//! Bodies are not re-serialised per request: the plan serialises each (engine, prompt) body
//! once and records where the prefix goes ([`insertion_point`]); the request joins head,
//! prefix and tail in one allocation ([`join`]). The prefix is a seeded function of the run's
//! seed, the level, the trial and the request's position in the level's sequence, so request
//! k of a level gets the same prefix on every engine (identical work) and a different one from
//! every other request.

use bytes::Bytes;

use super::{Prompt, PromptContent};
use crate::plan::mix;

/// Bytes of a prefix: `[`, 8 base-36 characters, `] `.
pub const PREFIX_LEN: usize = 11;

/// Base-36 digits; none needs escaping in a JSON string.
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// 36⁸: the number of distinct prefixes.
const PREFIXES: u64 = 2_821_109_907_456;

/// The key of one request's prefix: a chained hash of (seed, level index, trial, sequence
/// position), so any two requests that differ in one of them get different prefixes.
pub fn prefix_key(seed: u64, level_index: usize, trial: u32, sequence: u64) -> u64 {
    let mut key = mix(seed ^ 0xCAC4_E000_B057);
    for part in [level_index as u64, u64::from(trial), sequence] {
        key = mix(key ^ part);
    }
    key
}

/// The run's share of every prefix key: a hash of the run's name (its start time is in it,
/// and every shard of a run has the same) and of how many times it was resumed. Without it a
/// second run with the same seed would send the same prefixes and find them in the engine's
/// cache from the first; a resumed run re-runs its unfinished levels with new ones.
pub fn run_nonce(run_name: &str, resumes: usize) -> u64 {
    let name = run_name
        .bytes()
        .fold(0x6275_7374_6e6f_6e63, |h, b| mix(h ^ u64::from(b)));
    mix(name ^ resumes as u64)
}

/// `[xxxxxxxx] ` for `key`.
pub fn prefix(key: u64) -> [u8; PREFIX_LEN] {
    let mut out = *b"[00000000] ";
    let mut n = key % PREFIXES;
    for slot in out[1..9].iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    out
}

/// `prompt` with `text` in front of its first user message (the first message when none is
/// a user's; the text itself for a plain prompt).
pub fn with_prefix(prompt: &Prompt, text: &str) -> Prompt {
    let content = match &prompt.content {
        PromptContent::Text(t) => PromptContent::Text(format!("{text}{t}")),
        PromptContent::Messages(messages) => {
            let mut messages = messages.clone();
            let at = messages.iter().position(|m| m.role == "user").unwrap_or(0);
            if let Some(m) = messages.get_mut(at) {
                m.content.insert_str(0, text);
            }
            PromptContent::Messages(messages)
        }
    };
    Prompt {
        content,
        max_tokens: prompt.max_tokens,
    }
}

/// Where the prefix goes in a serialised body, from two bodies serialised with different
/// one-character prefixes (`with_prefix(p, "a")`, `with_prefix(p, "b")`): the first byte at
/// which they differ. Everything before it is the same in both, so it is the unprefixed
/// body's head too.
pub fn insertion_point(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// `body[..at]`, `prefix`, `body[at..]`: one allocation.
pub fn join(body: &Bytes, at: usize, prefix: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(body.len() + prefix.len());
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(prefix);
    out.extend_from_slice(&body[at..]);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Message;

    #[test]
    fn prefixes_are_bracketed_base36_and_differ_by_every_part() {
        let p = prefix(prefix_key(42, 0, 1, 0));
        assert_eq!(p.len(), PREFIX_LEN);
        assert_eq!((p[0], p[9], p[10]), (b'[', b']', b' '));
        assert!(p[1..9]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert_eq!(prefix(0), *b"[00000000] ");
        assert_eq!(prefix(35), *b"[0000000z] ");
        assert_eq!(prefix(36), *b"[00000010] ");
        let mut seen = std::collections::HashSet::new();
        for seed in [1u64, 2] {
            for level in 0..4 {
                for trial in 1..3 {
                    for sequence in (0..200).chain(u64::MAX - 5..=u64::MAX) {
                        assert!(
                            seen.insert(prefix(prefix_key(seed, level, trial, sequence))),
                            "seed {seed} level {level} trial {trial} request {sequence}"
                        );
                    }
                }
            }
        }
        assert_eq!(prefix_key(7, 2, 1, 9), prefix_key(7, 2, 1, 9), "seeded");
    }

    #[test]
    fn the_prefix_goes_before_the_first_user_message() {
        let prompt = Prompt {
            content: PromptContent::Messages(vec![
                Message {
                    role: "system".into(),
                    content: "be brief".into(),
                },
                Message {
                    role: "user".into(),
                    content: "hello".into(),
                },
                Message {
                    role: "user".into(),
                    content: "again".into(),
                },
            ]),
            max_tokens: Some(3),
        };
        let marked = with_prefix(&prompt, "[x] ");
        let PromptContent::Messages(m) = &marked.content else {
            panic!("messages")
        };
        assert_eq!(m[0].content, "be brief");
        assert_eq!(m[1].content, "[x] hello");
        assert_eq!(m[2].content, "again");
        assert_eq!(marked.max_tokens, Some(3));
        assert_eq!(
            with_prefix(&Prompt::text("hi"), "[x] ").content,
            PromptContent::Text("[x] hi".into())
        );
    }

    #[test]
    fn join_inserts_at_the_point() {
        let body = Bytes::from_static(b"{\"prompt\":\"hello\"}");
        let at = insertion_point(b"{\"prompt\":\"ahello\"}", b"{\"prompt\":\"bhello\"}");
        assert_eq!(at, 11);
        assert_eq!(
            &join(&body, at, b"[abc] ")[..],
            b"{\"prompt\":\"[abc] hello\"}"
        );
    }
}
