//! Engine profiles: the timing constants the scheduler charges for each step.
//!
//! A profile is named by the kind of engine it models, never by a product.

/// KV-cache capacity per batch slot (tokens) of `fast-prefill` and `big-batch`, the demo's
/// engines: the demo's requests hold at most ≈ 20 prompt + 48 output = 68 tokens, so a
/// full batch fills up to ≈ 94 % of the cache and never preempts; longer requests do.
const DEMO_KV_TOKENS_PER_SLOT: u64 = 72;
/// KV-cache capacity per batch slot (tokens) of every other profile: a 2k context per
/// sequence, which no timing test's request comes near.
const KV_TOKENS_PER_SLOT: u64 = 2_048;

/// The timing model of one simulated engine.
///
/// Costs are charged per scheduler step (see [`crate::sim`]):
/// - a step that admits at least one request first runs a prefill costing
///   `prefill_base_us + prefill_us_per_token × Σ prompt tokens admitted in that step`;
/// - then, if the batch is non-empty, a decode step costing
///   `decode_base_us + decode_per_seq_us × running batch size` emits one token for every
///   running sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Name used on the command line and in results (`fixed`, `fast-prefill`, ...).
    pub name: &'static str,
    /// One-line description of what the profile models.
    pub about: &'static str,
    /// Most sequences decoding at once; further requests queue (and their TTFT climbs).
    pub max_batch: usize,
    /// Fixed cost of a prefill step that admits at least one request (µs).
    pub prefill_base_us: u64,
    /// Prefill cost per prompt token admitted in that step (µs).
    pub prefill_us_per_token: u64,
    /// Fixed cost of one decode step, whatever the batch size (µs).
    pub decode_base_us: u64,
    /// Extra decode cost per running sequence (µs): what makes per-request speed fall as
    /// the batch grows while total throughput still rises.
    pub decode_per_seq_us: u64,
    /// `Some(n)`: ignore the request's `max_tokens` and emit exactly `n` tokens.
    /// `None`: emit `max_completion_tokens`/`max_tokens` (128 when the request has neither).
    pub output_tokens: Option<u32>,
    /// A reasoning model: a chat reply's first `reasoning_tokens` output tokens are reasoning
    /// chunks (`delta.reasoning_content`), the rest the answer. They are part of the output
    /// length (`max_tokens` caps both, as in real engines: a reply of at most this many
    /// tokens never answers), decode steps like any token, and counted in usage's
    /// `completion_tokens_details.reasoning_tokens`. Completions replies never reason. 0 = none.
    pub reasoning_tokens: u32,
    /// Model a prefix cache (see `prefix_cache`): usage reports
    /// `prompt_tokens_details.cached_tokens`, and prefill charges `prefill_us_per_token` for
    /// the uncached prompt tokens only.
    pub prefix_cache: bool,
}

/// Every built-in profile, in the order `llmsweep sim --help` lists them.
static PROFILES: [Profile; 5] = [
    FIXED,
    Profile {
        name: "fast-prefill",
        about: "small batch (8), cheap prefill, costly per-sequence decode: fastest at low \
                concurrency, saturates at 8 and TTFT climbs from 16 on",
        max_batch: 8,
        prefill_base_us: 1_000,
        prefill_us_per_token: 20,
        decode_base_us: 2_000,
        decode_per_seq_us: 600,
        output_tokens: None,
        reasoning_tokens: 0,
        prefix_cache: false,
    },
    Profile {
        name: "big-batch",
        about: "large batch (64), costlier prefill, cheap per-sequence decode: slower alone, \
                throughput keeps scaling to 32 and beyond",
        max_batch: 64,
        prefill_base_us: 4_000,
        prefill_us_per_token: 60,
        decode_base_us: 3_000,
        decode_per_seq_us: 150,
        output_tokens: None,
        reasoning_tokens: 0,
        prefix_cache: false,
    },
    Profile {
        name: "fast",
        about: "zero-cost steps (one token per step, a yield between steps): measures the \
                client's own overhead",
        max_batch: 100_000,
        prefill_base_us: 0,
        prefill_us_per_token: 0,
        decode_base_us: 0,
        decode_per_seq_us: 0,
        output_tokens: None,
        reasoning_tokens: 0,
        prefix_cache: false,
    },
    Profile {
        name: "steady",
        about: "unbounded batch, 25 ms per step, no prefill cost: every stream gets 40 tok/s \
                at any concurrency; for holding thousands of streams at a realistic pace",
        max_batch: 100_000,
        prefill_base_us: 0,
        prefill_us_per_token: 0,
        decode_base_us: 25_000,
        decode_per_seq_us: 0,
        output_tokens: None,
        reasoning_tokens: 0,
        prefix_cache: false,
    },
];

/// `fixed`: known timings for client accuracy tests.
///
/// A lone request admitted at time `t` gets its role chunk at `t`, its first content token
/// at `t + 50 ms (prefill) + 10 ms (one decode step)`, so **TTFT = 60 ms**, and each further
/// token 10 ms later, so **TPOT = ITL = 10 ms** and **E2E = 50 + 10 × N ms** for N output
/// tokens. With `reasoning_tokens = N` (and more than N output tokens) the first N tokens
/// are reasoning, so the first answer token arrives at **TTFA = 60 + 10 × N ms**. With several
/// requests in flight the batch size does not change the decode cost
/// (`decode_per_seq_us = 0`), but every admission of a new request stalls all running
/// sequences for one 50 ms prefill step.
pub const FIXED: Profile = Profile {
    name: "fixed",
    about:
        "fixed timings for accuracy tests: TTFT = 50 ms prefill + 10 ms decode, then 10 ms/token",
    max_batch: 256,
    prefill_base_us: 50_000,
    prefill_us_per_token: 0,
    decode_base_us: 10_000,
    decode_per_seq_us: 0,
    output_tokens: None,
    reasoning_tokens: 0,
    prefix_cache: false,
};

impl Profile {
    /// The built-in profile called `name` (exact, case-sensitive match).
    pub fn by_name(name: &str) -> Option<Profile> {
        PROFILES.iter().find(|p| p.name == name).cloned()
    }

    /// All built-in profiles.
    pub fn all() -> &'static [Profile] {
        &PROFILES
    }

    /// KV-cache capacity (tokens): running sequences hold their prompt plus the tokens
    /// generated so far, and the scheduler admits and preempts to stay within it.
    ///
    /// `max_batch ×` a per-slot size: 72 tokens for `fast-prefill` and `big-batch` (576 and
    /// 4,608 in all), 2,048 for any other name (`fixed`, `fast`, `steady`, hand-made
    /// profiles). The size is keyed by name, so `Profile { max_batch: 2, ..FIXED }` keeps
    /// `fixed`'s 2,048 per slot (4,096 tokens).
    pub fn kv_tokens(&self) -> u64 {
        let per_slot = match self.name {
            "fast-prefill" | "big-batch" => DEMO_KV_TOKENS_PER_SLOT,
            _ => KV_TOKENS_PER_SLOT,
        };
        (self.max_batch.max(1) as u64).saturating_mul(per_slot)
    }

    /// Cost of a prefill step admitting `prompt_tokens` in total (µs); 0 when nothing is
    /// admitted, because then no prefill step runs.
    pub fn prefill_cost_us(&self, admitted: usize, prompt_tokens: u64) -> u64 {
        if admitted == 0 {
            return 0;
        }
        self.prefill_base_us
            .saturating_add(self.prefill_us_per_token.saturating_mul(prompt_tokens))
    }

    /// Cost of a decode step with `batch` running sequences (µs); 0 for an empty batch.
    pub fn decode_cost_us(&self, batch: usize) -> u64 {
        if batch == 0 {
            return 0;
        }
        self.decode_base_us
            .saturating_add(self.decode_per_seq_us.saturating_mul(batch as u64))
    }
}
