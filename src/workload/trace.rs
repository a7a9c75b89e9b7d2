//! Trace replay (`[prompts] trace`): a JSONL trace in the Mooncake format (the FAST'25 traces,
//! which aiperf and Dynamo replay too), one request per line:
//! `{"timestamp": 3052, "input_length": 2287, "output_length": 316, "hash_ids": [0, 42, 43, 44, 45]}`.
//!
//! - `timestamp`: arrival time, ms, from the trace's start (lines in time order; the first
//!   line's time is the level's start, so a trace cut from a longer one does not idle first);
//! - `input_length`, `output_length`: prompt and reply lengths, tokens (`max_tokens` is the
//!   output length);
//! - `hash_ids`: the prompt's blocks of [`BLOCK_TOKENS`] tokens, in order (the last one
//!   partial); requests sharing an id share that block's content, as prefix caches see it.
//!
//! Prompts are synthetic: a block's text is seeded word salad that is a function of the
//! run's seed and the block's id alone, so equal ids give equal text across requests and
//! engines, and a partial block is the start of the full one. Tokens beyond the listed blocks
//! (or a line without `hash_ids`) are filler of the line's own. Lengths are estimated (tokens
//! ≈ words × 1.3). Other keys of a line are ignored.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::files::{bare, read_text};
use super::synthetic::{Stream, VOCABULARY};
use super::{Prompt, PromptContent, TOKENS_PER_WORD};
use crate::plan::mix;

/// Tokens of one `hash_ids` block (the Mooncake traces' block size).
pub const BLOCK_TOKENS: u64 = 512;

/// One request of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceLine {
    /// Arrival, ms from the trace's start.
    pub timestamp_ms: f64,
    /// Prompt length, tokens.
    pub input_length: u64,
    /// Reply length, tokens: the request's `max_tokens`.
    pub output_length: u32,
    /// The prompt's blocks, in order.
    pub hash_ids: Vec<u64>,
}

/// A loaded trace: one prompt per line and its arrival time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub prompts: Vec<Prompt>,
    /// Per prompt, its arrival after the first line's, at speed 1.
    pub schedule: Vec<Duration>,
    /// Distinct block ids.
    pub blocks: usize,
}

/// Reads and builds the trace at `path`, its first `limit` lines when given; `seed` seeds the
/// blocks' text. Errors are one line naming the file and, for a bad line, the line.
pub fn load(path: &Path, seed: u64, limit: Option<usize>) -> Result<Trace, String> {
    let text = read_text(path, "trace")?;
    let mut lines = parse(&text).map_err(|(line, e)| format!("{}:{line}: {e}", path.display()))?;
    if let Some(limit) = limit {
        lines.truncate(limit);
    }
    let first = lines.first().map_or(0.0, |l| l.timestamp_ms);
    let blocks: HashSet<u64> = lines
        .iter()
        .flat_map(|l| l.hash_ids.iter().copied())
        .collect();
    Ok(Trace {
        prompts: lines
            .iter()
            .enumerate()
            .map(|(i, line)| Prompt {
                content: PromptContent::Text(prompt_text(line, i, seed)),
                max_tokens: Some(line.output_length),
            })
            .collect(),
        schedule: lines
            .iter()
            .map(|l| Duration::from_secs_f64((l.timestamp_ms - first) / 1e3))
            .collect(),
        blocks: blocks.len(),
    })
}

/// The trace's lines (blank ones skipped), or `(line number, message)` for the first bad one.
pub fn parse(text: &str) -> Result<Vec<TraceLine>, (usize, String)> {
    let mut lines: Vec<TraceLine> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let at = |message: String| (i + 1, message);
        let value: Value =
            serde_json::from_str(raw).map_err(|e| at(format!("not JSON ({})", bare(&e))))?;
        let line = parse_line(&value).map_err(at)?;
        if let Some(previous) = lines.last() {
            if line.timestamp_ms < previous.timestamp_ms {
                return Err(at(format!(
                    "\"timestamp\" {} is before the previous line's {} (lines must be in time order)",
                    line.timestamp_ms, previous.timestamp_ms
                )));
            }
        }
        lines.push(line);
    }
    Ok(lines)
}

fn parse_line(value: &Value) -> Result<TraceLine, String> {
    if !value.is_object() {
        return Err(
            "expected an object with \"timestamp\", \"input_length\", \"output_length\"".into(),
        );
    }
    let timestamp_ms = value
        .get("timestamp")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite() && *t >= 0.0)
        .ok_or("\"timestamp\" must be a number of ms from the trace's start (at least 0)")?;
    let whole = |key: &str, max: u64| {
        value
            .get(key)
            .and_then(Value::as_u64)
            .filter(|n| (1..=max).contains(n))
            .ok_or(format!(
                "\"{key}\" must be a whole number of tokens, at least 1"
            ))
    };
    let input_length = whole("input_length", u64::from(u32::MAX))?;
    let output_length = whole("output_length", u64::from(u32::MAX))? as u32;
    let hash_ids = match value.get("hash_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(Value::as_u64)
            .collect::<Option<Vec<u64>>>()
            .ok_or("\"hash_ids\" must be a list of whole numbers (block ids)")?,
        Some(_) => return Err("\"hash_ids\" must be a list of whole numbers (block ids)".into()),
    };
    let blocks = hash_ids.len() as u64;
    if blocks > 0 && input_length <= (blocks - 1) * BLOCK_TOKENS {
        return Err(format!(
            "\"input_length\" {input_length} is too short for {blocks} \"hash_ids\" blocks of {BLOCK_TOKENS} tokens"
        ));
    }
    Ok(TraceLine {
        timestamp_ms,
        input_length,
        output_length,
        hash_ids,
    })
}

/// Words for `tokens` estimated tokens (at least one).
fn words(tokens: u64) -> usize {
    ((tokens as f64 / TOKENS_PER_WORD).round() as usize).max(1)
}

/// The prompt of line `index`: each block's text (the last one cut to what is left of
/// `input_length`), then filler of the line's own for tokens beyond the blocks.
pub fn prompt_text(line: &TraceLine, index: usize, seed: u64) -> String {
    let mut text = String::with_capacity(line.input_length as usize * 4);
    let mut left = line.input_length;
    for &id in &line.hash_ids {
        let tokens = left.min(BLOCK_TOKENS);
        push_words(&mut text, mix(mix(seed ^ 0xB10C_0000) ^ id), words(tokens));
        left -= tokens;
    }
    if left > 0 {
        push_words(
            &mut text,
            mix(mix(seed ^ 0xF111_0000) ^ index as u64),
            words(left),
        );
    }
    text
}

/// Appends `count` words of the stream `seed`, space-separated.
fn push_words(text: &mut String, seed: u64, count: usize) {
    let mut rng = Stream { seed, n: 0 };
    for _ in 0..count {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(VOCABULARY[(rng.next() % VOCABULARY.len() as u64) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::estimate_tokens;

    fn line(input_length: u64, hash_ids: &[u64]) -> TraceLine {
        TraceLine {
            timestamp_ms: 0.0,
            input_length,
            output_length: 1,
            hash_ids: hash_ids.to_vec(),
        }
    }

    fn word_count(text: &str) -> usize {
        text.split_whitespace().count()
    }

    #[test]
    fn blocks_are_functions_of_their_id_and_partial_blocks_start_full_ones() {
        let full = prompt_text(&line(1024, &[7, 8]), 0, 42);
        let partial = prompt_text(&line(700, &[7, 8]), 1, 42);
        let other_first = prompt_text(&line(1024, &[9, 8]), 2, 42);
        assert!(
            full.starts_with(&partial),
            "a partial block is the full one's start"
        );
        assert_eq!(word_count(&full), 2 * 394);
        assert!(estimate_tokens(word_count(&partial)).abs_diff(700) <= 1);
        // Block 8's text is the same after another first block.
        let first_block = |t: &str| t.split(' ').take(394).collect::<Vec<_>>().join(" ");
        let second_block = |t: &str| t.split(' ').skip(394).collect::<Vec<_>>().join(" ");
        assert_ne!(first_block(&full), first_block(&other_first));
        assert_eq!(second_block(&full), second_block(&other_first));
        // The seed changes every block.
        assert_ne!(full, prompt_text(&line(1024, &[7, 8]), 0, 43));
    }

    #[test]
    fn tokens_beyond_the_blocks_are_the_lines_own() {
        let a = prompt_text(&line(600, &[1]), 0, 42);
        let b = prompt_text(&line(600, &[1]), 1, 42);
        assert_eq!(
            a.split(' ').take(394).collect::<Vec<_>>(),
            b.split(' ').take(394).collect::<Vec<_>>()
        );
        assert_ne!(a, b, "the filler after block 1 is each line's");
        assert!(estimate_tokens(word_count(&a)).abs_diff(600) <= 1);
        let none = prompt_text(&line(50, &[]), 3, 42);
        assert_eq!(word_count(&none), 38);
        assert_ne!(none, prompt_text(&line(50, &[]), 4, 42));
    }
}
