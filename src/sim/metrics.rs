//! The simulator's live engine statistics, behind `GET /metrics`.
//!
//! The scheduler and the response streams write plain atomics (a handful of relaxed stores
//! per scheduler step); the `/metrics` handler reads them into a [`Snapshot`] without
//! taking a lock, so scraping never stalls the batch. Fields written together may be read
//! one step apart from each other; each value on its own is exact.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// vLLM's `vllm:time_to_first_token_seconds` bucket bounds (seconds), as vLLM 0.32 writes them.
pub(crate) const TTFT_BUCKETS: [f64; 22] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];

/// vLLM's `vllm:e2e_request_latency_seconds` bucket bounds (seconds).
pub(crate) const E2E_BUCKETS: [f64; 21] = [
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
];

/// Shared statistics of one simulated engine.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// KV-cache capacity (tokens): the denominator of the usage gauge.
    kv_budget: u64,
    /// Sequences in the running batch now.
    running: AtomicU64,
    /// Requests queued for the batch now (submitted and not admitted, or preempted).
    waiting: AtomicU64,
    /// KV tokens held by the running batch now: Σ (prompt + generated so far) (tokens).
    kv_used: AtomicU64,
    /// Prompt tokens whose prefill completed, each request counted once (tokens).
    prompt_tokens: AtomicU64,
    /// Output tokens emitted (tokens).
    generation_tokens: AtomicU64,
    /// Tokens prefilled, recomputations after a preemption included (tokens): every one of
    /// them is a prefix-cache lookup in a real engine.
    prefix_queries: AtomicU64,
    /// Of those, tokens the prefix cache held (tokens; 0 without `--prefix-cache`).
    prefix_hits: AtomicU64,
    /// Sequences preempted out of the batch (count).
    preemptions: AtomicU64,
    /// Request arrival to first content token (seconds).
    ttft: Histogram,
    /// Request arrival to last token (seconds), finished requests only.
    e2e: Histogram,
}

impl Metrics {
    /// All zero, with a KV cache of `kv_budget` tokens (at least 1).
    pub(crate) fn new(kv_budget: u64) -> Metrics {
        Metrics {
            kv_budget: kv_budget.max(1),
            running: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            kv_used: AtomicU64::new(0),
            prompt_tokens: AtomicU64::new(0),
            generation_tokens: AtomicU64::new(0),
            prefix_queries: AtomicU64::new(0),
            prefix_hits: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
            ttft: Histogram::new(&TTFT_BUCKETS),
            e2e: Histogram::new(&E2E_BUCKETS),
        }
    }

    /// KV-cache capacity (tokens).
    pub(crate) fn kv_budget(&self) -> u64 {
        self.kv_budget
    }

    /// The batch now: `running` sequences holding `kv_used` KV tokens.
    pub(crate) fn set_batch(&self, running: usize, kv_used: u64) {
        self.running.store(running as u64, Ordering::Relaxed);
        self.kv_used.store(kv_used, Ordering::Relaxed);
    }

    /// A request joined the waiting queue (new, or preempted back into it).
    pub(crate) fn enqueued(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    /// A request left the waiting queue (admitted, or dropped because its client left).
    pub(crate) fn dequeued(&self) {
        // Never below 0, even if a caller miscounts.
        let _ = self
            .waiting
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// A prefill step completed: `prompt` new prompt tokens, `prefilled` tokens looked up in
    /// the prefix cache (recomputations included), `hits` of them found there.
    pub(crate) fn prefilled(&self, prompt: u64, prefilled: u64, hits: u64) {
        self.prompt_tokens.fetch_add(prompt, Ordering::Relaxed);
        self.prefix_queries.fetch_add(prefilled, Ordering::Relaxed);
        self.prefix_hits.fetch_add(hits, Ordering::Relaxed);
    }

    /// A decode step emitted `tokens` tokens.
    pub(crate) fn generated(&self, tokens: u64) {
        self.generation_tokens.fetch_add(tokens, Ordering::Relaxed);
    }

    /// A sequence was preempted (the caller also calls [`Metrics::enqueued`]).
    pub(crate) fn preempted(&self) {
        self.preemptions.fetch_add(1, Ordering::Relaxed);
    }

    /// A request's first content token went out `ttft` after it arrived.
    pub(crate) fn observe_ttft(&self, ttft: Duration) {
        self.ttft.observe(ttft);
    }

    /// A request's last token went out `e2e` after it arrived.
    pub(crate) fn observe_e2e(&self, e2e: Duration) {
        self.e2e.observe(e2e);
    }

    /// Everything, read now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            running: load(&self.running),
            waiting: load(&self.waiting),
            kv_usage: kv_usage(load(&self.kv_used), self.kv_budget),
            prompt_tokens: load(&self.prompt_tokens),
            generation_tokens: load(&self.generation_tokens),
            prefix_queries: load(&self.prefix_queries),
            prefix_hits: load(&self.prefix_hits),
            preemptions: load(&self.preemptions),
            ttft: self.ttft.snapshot(),
            e2e: self.e2e.snapshot(),
        }
    }
}

/// `used / budget`, at most 1: a lone sequence larger than the whole cache still runs (it
/// is never preempted, see the scheduler), but the cache cannot be fuller than full.
fn kv_usage(used: u64, budget: u64) -> f64 {
    (used as f64 / budget.max(1) as f64).min(1.0)
}

/// The statistics at one instant, as `/metrics` renders them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    /// Sequences in the running batch.
    pub(crate) running: u64,
    /// Requests queued for the batch.
    pub(crate) waiting: u64,
    /// KV tokens in use / KV capacity (0–1).
    pub(crate) kv_usage: f64,
    /// Prompt tokens prefilled, once per request (tokens).
    pub(crate) prompt_tokens: u64,
    /// Output tokens emitted (tokens).
    pub(crate) generation_tokens: u64,
    /// Tokens looked up in the prefix cache (tokens).
    pub(crate) prefix_queries: u64,
    /// Of those, tokens the prefix cache held (tokens; 0 without `--prefix-cache`).
    pub(crate) prefix_hits: u64,
    /// Preemptions (count).
    pub(crate) preemptions: u64,
    /// Time to first token (seconds).
    pub(crate) ttft: HistogramSnapshot,
    /// End-to-end latency of finished requests (seconds).
    pub(crate) e2e: HistogramSnapshot,
}

/// A lock-free fixed-bucket histogram of durations.
#[derive(Debug)]
pub(crate) struct Histogram {
    /// Upper bounds (seconds), ascending; an observation lands in the first bound ≥ it.
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    counts: Box<[AtomicU64]>,
    /// Sum of all observations (µs).
    sum_us: AtomicU64,
}

impl Histogram {
    pub(crate) fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self.bounds.partition_point(|&b| b < secs);
        if let Some(count) = self.counts.get(i) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram read at one instant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramSnapshot {
    /// Upper bounds (seconds), ascending, without `+Inf`.
    pub(crate) bounds: &'static [f64],
    /// Observations per bucket, not cumulative: `bounds.len() + 1` entries, `+Inf` last.
    pub(crate) counts: Vec<u64>,
    /// Sum of the observations (seconds).
    pub(crate) sum: f64,
}

impl HistogramSnapshot {
    /// Observations in all (count).
    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn an_observation_lands_in_the_first_bucket_whose_bound_it_does_not_exceed() {
        let h = Histogram::new(&TTFT_BUCKETS);
        for d in [ms(60), ms(61), Duration::from_micros(999), ms(3_000_000)] {
            h.observe(d);
        }
        let s = h.snapshot();
        let at = |bound: f64| {
            let i = TTFT_BUCKETS
                .iter()
                .position(|&b| b == bound)
                .expect("bound");
            s.counts[i]
        };
        assert_eq!(at(0.001), 1, "0.999 ms");
        assert_eq!(at(0.06), 1, "60 ms is ≤ 0.06");
        assert_eq!(at(0.08), 1, "61 ms");
        assert_eq!(s.counts[TTFT_BUCKETS.len()], 1, "3000 s is +Inf only");
        assert_eq!(s.count(), 4);
        assert!((s.sum - (0.06 + 0.061 + 0.000_999 + 3000.0)).abs() < 1e-9);
    }

    #[test]
    fn waiting_counts_up_and_down_but_never_below_zero() {
        let m = Metrics::new(10);
        m.enqueued();
        m.enqueued();
        m.dequeued();
        assert_eq!(m.snapshot().waiting, 1);
        m.dequeued();
        m.dequeued();
        assert_eq!(m.snapshot().waiting, 0);
    }

    #[test]
    fn kv_usage_is_used_over_budget_and_at_most_one() {
        let m = Metrics::new(200);
        m.set_batch(3, 50);
        assert_eq!(m.snapshot().kv_usage, 0.25);
        assert_eq!(m.snapshot().running, 3);
        m.set_batch(1, 500);
        assert_eq!(m.snapshot().kv_usage, 1.0);
        assert_eq!(Metrics::new(0).kv_budget(), 1);
    }

    #[test]
    fn counters_add_up() {
        let m = Metrics::new(10);
        m.prefilled(13, 20, 0);
        m.prefilled(7, 7, 5);
        m.generated(5);
        m.generated(1);
        m.preempted();
        let s = m.snapshot();
        assert_eq!(
            (
                s.prompt_tokens,
                s.prefix_queries,
                s.prefix_hits,
                s.generation_tokens,
                s.preemptions
            ),
            (20, 27, 5, 6, 1)
        );
    }
}
