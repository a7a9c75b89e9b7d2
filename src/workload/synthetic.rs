//! Synthetic prompts: seeded word salad of a chosen estimated length, with a per-prompt
//! `max_tokens`. Lengths are drawn uniformly from `[n × (1 − r), n × (1 + r)]` (vLLM's
//! `random` dataset does the same with exact token ids).

use super::{Prompt, PromptContent, TOKENS_PER_WORD};
use crate::config::SyntheticConfig;
use crate::plan::mix;

/// A fixed vocabulary of short, common words.
const VOCABULARY: [&str; 64] = [
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
    "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there",
    "been", "if", "more", "when", "will", "would", "who", "so", "no", "time", "river", "light",
    "stone", "garden", "market", "engine", "window", "letter", "summer", "number", "music",
    "paper", "table", "cloud", "road",
];

/// A deterministic stream of u64s.
struct Stream {
    seed: u64,
    n: u64,
}

impl Stream {
    fn next(&mut self) -> u64 {
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

/// `config.count` prompts; the same seed gives the same prompts.
pub fn generate(config: &SyntheticConfig, seed: u64) -> Vec<Prompt> {
    let mut rng = Stream {
        seed: mix(seed ^ 0x5EED_5EED),
        n: 0,
    };
    let (in_lo, in_hi) = length_range(config.input_tokens, config.range_ratio);
    let (out_lo, out_hi) = length_range(config.output_tokens, config.range_ratio);
    (0..config.count)
        .map(|_| {
            let tokens = rng.between(in_lo, in_hi);
            let words = ((tokens as f64 / TOKENS_PER_WORD).round() as usize).max(1);
            let mut text = String::with_capacity(words * 6);
            for w in 0..words {
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(VOCABULARY[(rng.next() % VOCABULARY.len() as u64) as usize]);
            }
            Prompt {
                content: PromptContent::Text(text),
                max_tokens: Some(rng.between(out_lo, out_hi).min(u32::MAX as u64) as u32),
            }
        })
        .collect()
}
