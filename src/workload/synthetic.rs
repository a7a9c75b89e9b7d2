//! Synthetic prompts: seeded word salad of a chosen length, with a per-prompt `max_tokens`.
//! Lengths are drawn uniformly from `[n × (1 − r), n × (1 + r)]` (vLLM's `random` dataset does
//! the same with exact token ids). Without a tokenizer a length is estimated (words × 1.3);
//! with one, words are added or removed until the text encodes to exactly that many tokens.
//!
//! With `prefix_tokens`, each prompt is one of `prefixes` shared system prompts (drawn from a
//! stream of their own, so the rest of each prompt is what it would be without them) and its
//! own text as the user message: many users, few system prompts.

use super::{Message, Prompt, PromptContent, TOKENS_PER_WORD};
use crate::config::SyntheticConfig;
use crate::plan::mix;

/// A fixed vocabulary of short, common words.
pub(super) const VOCABULARY: [&str; 64] = [
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
    "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no", "time", "river", "light",
    "stone", "garden", "market", "engine", "window", "letter", "summer", "number", "music",
    "paper", "table", "cloud", "road",
];

/// A deterministic stream of u64s.
pub(super) struct Stream {
    pub(super) seed: u64,
    pub(super) n: u64,
}

impl Stream {
    pub(super) fn next(&mut self) -> u64 {
        self.n += 1;
        mix(self.seed ^ mix(self.n))
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The inclusive range of lengths around `n` for `ratio`, never below 1.
pub fn length_range(n: u32, ratio: f64) -> (u64, u64) {
    let lo = (n as f64 * (1.0 - ratio)).floor().max(1.0) as u64;
    let hi = ((n as f64 * (1.0 + ratio)).ceil() as u64).max(lo);
    (lo, hi)
}

/// `config.count` prompts; the same seed gives the same prompts. Errors name the tokenizer
/// file when it cannot be loaded or cannot reach a length.
pub fn generate(config: &SyntheticConfig, seed: u64) -> Result<Vec<Prompt>, String> {
    let parts = parts(config, seed, config.count)?;
    Ok(parts
        .own
        .into_iter()
        .enumerate()
        .map(|(i, (text, max_tokens))| {
            let content = match parts.shared.get(i % parts.shared.len().max(1)) {
                Some(system) => PromptContent::Messages(vec![
                    Message {
                        role: "system".into(),
                        content: system.clone(),
                    },
                    Message {
                        role: "user".into(),
                        content: text,
                    },
                ]),
                None => PromptContent::Text(text),
            };
            Prompt {
                content,
                max_tokens: Some(max_tokens),
            }
        })
        .collect())
}

/// What synthetic prompts are made of: the shared system prompts (none without
/// `prefix_tokens`) and `count` texts of their own, each with its `max_tokens`.
pub(super) struct Parts {
    pub(super) shared: Vec<String>,
    pub(super) own: Vec<(String, u32)>,
}

/// The shared prompts and `count` own texts (`config.count` is not read).
pub(super) fn parts(config: &SyntheticConfig, seed: u64, count: usize) -> Result<Parts, String> {
    let tokenizer = match &config.tokenizer {
        Some(path) => Some(
            tokenizers::Tokenizer::from_file(path)
                .map_err(|e| format!("cannot load tokenizer {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let fit = |words: &mut Vec<&'static str>, tokens: u64, rng: &mut Stream| match (
        &tokenizer,
        &config.tokenizer,
    ) {
        (Some(tokenizer), Some(path)) => fit_exactly(tokenizer, words, tokens, rng)
            .map_err(|e| format!("tokenizer {}: {e}", path.display())),
        _ => Ok(()),
    };
    let shared = match config.shared_prefix() {
        Some((count, tokens)) => {
            let mut rng = Stream {
                seed: mix(seed ^ 0x5EED_9F1C),
                n: 0,
            };
            let mut texts = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let mut words = words_for(u64::from(tokens), &mut rng);
                fit(&mut words, u64::from(tokens), &mut rng)?;
                texts.push(words.join(" "));
            }
            texts
        }
        None => Vec::new(),
    };
    let mut rng = Stream {
        seed: mix(seed ^ 0x5EED_5EED),
        n: 0,
    };
    let (in_lo, in_hi) = length_range(config.input_tokens, config.range_ratio);
    let (out_lo, out_hi) = length_range(config.output_tokens, config.range_ratio);
    let mut own = Vec::with_capacity(count);
    for _ in 0..count {
        let tokens = rng.between(in_lo, in_hi);
        let mut words = words_for(tokens, &mut rng);
        fit(&mut words, tokens, &mut rng)?;
        let max_tokens = rng.between(out_lo, out_hi).min(u32::MAX as u64) as u32;
        own.push((words.join(" "), max_tokens));
    }
    Ok(Parts { shared, own })
}

/// Seeded words for about `tokens` estimated tokens (at least one word).
pub(super) fn words_for(tokens: u64, rng: &mut Stream) -> Vec<&'static str> {
    let estimate = ((tokens as f64 / TOKENS_PER_WORD).round() as usize).max(1);
    (0..estimate)
        .map(|_| VOCABULARY[(rng.next() % VOCABULARY.len() as u64) as usize])
        .collect()
}

/// Token count of `words` joined by spaces, special tokens excluded.
fn count(tokenizer: &tokenizers::Tokenizer, words: &[&str]) -> Result<u64, String> {
    let encoding = tokenizer
        .encode(words.join(" "), false)
        .map_err(|e| e.to_string())?;
    Ok(encoding.len() as u64)
}

/// Adds words while the text is short of `target` tokens, then removes words while it is
/// over. Words of this vocabulary are one to a few tokens, so this converges; where one word
/// overshoots, a shorter word is tried before giving up at the nearest length below.
fn fit_exactly(
    tokenizer: &tokenizers::Tokenizer,
    words: &mut Vec<&'static str>,
    target: u64,
    rng: &mut Stream,
) -> Result<(), String> {
    let mut have = count(tokenizer, words)?;
    while have < target {
        words.push(VOCABULARY[(rng.next() % VOCABULARY.len() as u64) as usize]);
        have = count(tokenizer, words)?;
    }
    while have > target && words.len() > 1 {
        words.pop();
        have = count(tokenizer, words)?;
    }
    // Short by less than a word: try one more word, then two; failing that, give back one
    // more word (a larger gap is easier to fill exactly) and try again.
    for _ in 0..4 {
        if have == target {
            return Ok(());
        }
        if fill_gap(tokenizer, words, target)? {
            return Ok(());
        }
        if words.len() <= 1 {
            break;
        }
        words.pop();
        have = count(tokenizer, words)?;
    }
    if have != target {
        return Err(format!(
            "no prompt of exactly {target} tokens from this vocabulary"
        ));
    }
    Ok(())
}

/// Appends one or two words that bring the text to exactly `target` tokens, if any do.
fn fill_gap(
    tokenizer: &tokenizers::Tokenizer,
    words: &mut Vec<&'static str>,
    target: u64,
) -> Result<bool, String> {
    for first in VOCABULARY {
        words.push(first);
        let with_first = count(tokenizer, words)?;
        if with_first == target {
            return Ok(true);
        }
        if with_first < target {
            for second in VOCABULARY {
                words.push(second);
                if count(tokenizer, words)? == target {
                    return Ok(true);
                }
                words.pop();
            }
        }
        words.pop();
    }
    Ok(false)
}
