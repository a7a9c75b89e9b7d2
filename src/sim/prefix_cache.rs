//! The simulator's prefix cache (`--prefix-cache`): which leading blocks of a prompt an
//! earlier request already sent.
//!
//! The simulator has no tokenizer, so a prompt is a sequence of *units* — its words
//! (whitespace-separated, over the chat messages' contents in order, or the completions
//! `prompt`) and its token ids — cut into blocks of [`BLOCK_UNITS`]. Each full block is
//! known by a hash chained over every block before it, so a block hits only when the whole
//! prefix up to it is the same (as in vLLM's block hashing); the trailing partial block
//! never hits. A request's blocks are remembered when it arrives.
//!
//! Cached tokens = `prompt_tokens × hit units / all units`, rounded down, and at most
//! `prompt_tokens − 1` (an engine always computes the last prompt token).
//!
//! Memory is bounded: two generations of block hashes, each at most half the capacity.
//! When the current one fills up it becomes the previous one and the old previous one is
//! dropped; a hit in the previous generation moves the block back to the current one.
//! That is an LRU up to a factor of two in age, with O(1) work per block.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::Value;

/// Units (words or token ids) per block.
pub(crate) const BLOCK_UNITS: u64 = 16;

/// FNV-1a's offset basis and prime (64-bit).
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A prompt cut into blocks: the chained hash of each full block, and how many units it has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PromptBlocks {
    /// Chained hash of each full block, in order.
    pub(crate) hashes: Vec<u64>,
    /// Units in the whole prompt (full blocks and the partial one).
    pub(crate) units: u64,
    /// The hash so far, over every unit seen.
    running: u64,
}

impl PromptBlocks {
    fn new() -> PromptBlocks {
        PromptBlocks {
            running: FNV_OFFSET,
            ..PromptBlocks::default()
        }
    }

    fn mix(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.running = (self.running ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    /// Adds one unit: a word's bytes, or a token id tagged so it never equals a word.
    fn unit(&mut self, bytes: &[u8]) {
        self.mix(bytes);
        // A separator, so `ab c` and `a bc` differ.
        self.mix(&[0xff]);
        self.units += 1;
        if self.units.is_multiple_of(BLOCK_UNITS) {
            self.hashes.push(self.running);
        }
    }

    fn words(&mut self, text: &str) {
        for word in text.split_whitespace() {
            self.unit(word.as_bytes());
        }
    }

    fn id(&mut self, id: &Value) {
        let mut bytes = [0u8; 9];
        bytes[0] = 0xfe;
        bytes[1..].copy_from_slice(&id.as_u64().unwrap_or(u64::MAX).to_le_bytes());
        self.unit(&bytes);
    }

    /// The blocks of a chat request's `messages` (string contents, or the `text` of parts).
    pub(crate) fn of_messages(messages: Option<&Value>) -> PromptBlocks {
        let mut blocks = PromptBlocks::new();
        for m in messages.and_then(Value::as_array).into_iter().flatten() {
            match m.get("content") {
                Some(Value::String(s)) => blocks.words(s),
                Some(Value::Array(parts)) => {
                    for text in parts.iter().filter_map(|p| p.get("text")?.as_str()) {
                        blocks.words(text);
                    }
                }
                _ => {}
            }
        }
        blocks
    }

    /// The blocks of a completions `prompt`: a string, strings, or token ids.
    pub(crate) fn of_prompt(prompt: Option<&Value>) -> PromptBlocks {
        let mut blocks = PromptBlocks::new();
        match prompt {
            Some(Value::String(s)) => blocks.words(s),
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(s) => blocks.words(s),
                        Value::Array(ids) => ids.iter().for_each(|id| blocks.id(id)),
                        id => blocks.id(id),
                    }
                }
            }
            _ => {}
        }
        blocks
    }
}

/// The block hashes earlier requests sent, bounded.
#[derive(Debug)]
pub(crate) struct PrefixCache {
    inner: Mutex<Generations>,
}

#[derive(Debug)]
struct Generations {
    current: HashSet<u64>,
    previous: HashSet<u64>,
    /// Most blocks per generation.
    half: usize,
}

impl Generations {
    fn remember(&mut self, hash: u64) {
        if self.current.contains(&hash) {
            return;
        }
        if self.current.len() >= self.half {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(hash);
    }
}

impl PrefixCache {
    /// A cache of at most `capacity_blocks` blocks (at least 2).
    pub(crate) fn new(capacity_blocks: usize) -> PrefixCache {
        PrefixCache {
            inner: Mutex::new(Generations {
                current: HashSet::new(),
                previous: HashSet::new(),
                half: (capacity_blocks / 2).max(1),
            }),
        }
    }

    /// Looks `blocks` up and remembers them: the prompt tokens already cached (see the
    /// module docs) of a prompt of `prompt_tokens`.
    pub(crate) fn lookup(&self, blocks: &PromptBlocks, prompt_tokens: u32) -> u32 {
        // A poisoned lock only means another request panicked mid-insert: the sets are
        // still sets.
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut hits = 0u64;
        let mut prefix = true;
        for &hash in &blocks.hashes {
            prefix = prefix && (g.current.contains(&hash) || g.previous.contains(&hash));
            hits += prefix as u64;
            g.remember(hash);
        }
        drop(g);
        if blocks.units == 0 || hits == 0 {
            return 0;
        }
        let cached = u64::from(prompt_tokens) * hits * BLOCK_UNITS / blocks.units;
        (cached.min(u64::from(prompt_tokens.saturating_sub(1)))) as u32
    }

    /// Blocks remembered now (both generations).
    #[cfg(test)]
    fn len(&self) -> usize {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.current.len() + g.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(n: usize, salt: &str) -> String {
        (0..n).map(|i| format!("{salt}{i} ")).collect()
    }

    fn chat(text: &str) -> PromptBlocks {
        PromptBlocks::of_messages(Some(&json!([{"role": "user", "content": text}])))
    }

    #[test]
    fn only_full_blocks_are_hashed_and_each_hash_covers_the_prefix() {
        let b = chat(&words(40, "w"));
        assert_eq!((b.hashes.len(), b.units), (2, 40));
        // The same second block after a different first one hashes differently.
        let mut other = words(16, "x");
        other.push_str(&words(40, "w")[words(16, "w").len()..]);
        let o = chat(&other);
        assert_ne!(o.hashes[1], b.hashes[1]);
        // Message boundaries and part lists do not matter, the words do.
        let split = PromptBlocks::of_messages(Some(&json!([
            {"role": "system", "content": words(10, "w")},
            {"role": "user", "content": [{"type": "text", "text": words(40, "w")[words(10, "w").len()..]}]},
        ])));
        assert_eq!(split.hashes, b.hashes);
        // Words are separated: "ab c" is not "a bc".
        assert_ne!(
            chat(&"ab c ".repeat(8)).hashes,
            chat(&"a bc ".repeat(8)).hashes
        );
    }

    #[test]
    fn a_repeated_prompt_hits_its_full_blocks_and_a_new_one_misses() {
        let cache = PrefixCache::new(1_000);
        let prompt = chat(&words(40, "w"));
        // 40 words ≈ 52 tokens.
        assert_eq!(cache.lookup(&prompt, 52), 0, "first sight");
        // Two of its blocks, 32 of 40 words: 52 × 32 / 40 = 41.6 → 41.
        assert_eq!(cache.lookup(&prompt, 52), 41);
        assert_eq!(cache.lookup(&chat(&words(40, "v")), 52), 0);
        // A shared first block and a different rest: one block.
        let mut shared = words(16, "w");
        shared.push_str(&words(24, "u"));
        assert_eq!(cache.lookup(&chat(&shared), 52), 20);
    }

    #[test]
    fn a_whole_prompt_in_the_cache_leaves_its_last_token_to_compute() {
        let cache = PrefixCache::new(1_000);
        let prompt = chat(&words(32, "w"));
        cache.lookup(&prompt, 42);
        assert_eq!(cache.lookup(&prompt, 42), 41);
        // Shorter than a block: never cached.
        let short = chat(&words(15, "w"));
        cache.lookup(&short, 20);
        assert_eq!(cache.lookup(&short, 20), 0);
    }

    #[test]
    fn a_block_whose_prefix_was_evicted_does_not_hit() {
        // Two blocks a generation.
        let cache = PrefixCache::new(4);
        cache.lookup(&chat(&words(16, "x")), 21);
        let a = chat(&words(32, "a"));
        // Its first block fills the generation, its second starts the next one.
        cache.lookup(&a, 42);
        cache.lookup(&chat(&words(16, "y")), 21);
        // The next generation drops the one holding the first block; the second is kept.
        cache.lookup(&chat(&words(16, "z")), 21);
        assert_eq!(cache.lookup(&a, 42), 0, "no prefix, no hit");
    }

    #[test]
    fn token_id_prompts_are_blocks_of_ids() {
        let ids: Vec<u64> = (0..32).collect();
        let b = PromptBlocks::of_prompt(Some(&json!([ids])));
        assert_eq!((b.hashes.len(), b.units), (2, 32));
        let flat = PromptBlocks::of_prompt(Some(&json!(ids)));
        assert_eq!(flat.hashes, b.hashes);
        // An id is never a word.
        let text = PromptBlocks::of_prompt(Some(&json!(words(32, ""))));
        assert_ne!(text.hashes, b.hashes);
    }

    #[test]
    fn memory_is_bounded_and_recent_blocks_survive() {
        let cache = PrefixCache::new(8);
        let hot = chat(&words(16, "hot"));
        cache.lookup(&hot, 21);
        for i in 0..100 {
            cache.lookup(&chat(&words(16, &format!("cold{i}-"))), 21);
            // Used again now and then, the hot block stays.
            if i % 3 == 0 {
                assert_eq!(cache.lookup(&hot, 21), 20, "after {i}");
            }
            assert!(cache.len() <= 8, "{}", cache.len());
        }
        // A block not used for a while is gone.
        assert_eq!(cache.lookup(&chat(&words(16, "cold0-")), 21), 0);
    }
}
