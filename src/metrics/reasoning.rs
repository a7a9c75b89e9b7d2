//! A level's reasoning, request by request: TTFA and TTFR distributions and token counts.
//!
//! While no request has streamed reasoning every TTFA equals its TTFT, so no TTFA
//! distribution is kept: the first reasoning request starts one as a copy of the TTFT
//! distribution so far. A level without reasoning costs nothing beyond a few counters.

use super::dist::Dist;
use crate::client::Timings;
use crate::results::reasoning::ReasoningStats;

/// Reasoning aggregates of one level in progress.
#[derive(Debug, Clone, Default)]
pub struct ReasoningRecorder {
    /// TTFA, µs, of every successful request that answered; `None` until the first request
    /// that streamed reasoning (until then it would equal the TTFT distribution).
    ttfa: Option<Dist>,
    /// TTFR, µs, of the requests that streamed reasoning; `None` until the first.
    ttfr: Option<Dist>,
    /// Successful requests that streamed reasoning.
    requests: u64,
    /// Of those, requests with no answer after their reasoning.
    unanswered: u64,
    /// Σ reasoning tokens; `None` until a request had some.
    tokens: Option<u64>,
    estimated: bool,
}

impl ReasoningRecorder {
    /// Records a successful request. `ttft` is the level's TTFT distribution *before* this
    /// request's TTFT is added to it.
    pub fn record(&mut self, t: &Timings, ttft: &Dist) {
        if let Some(n) = t.reasoning_tokens {
            *self.tokens.get_or_insert(0) += n;
            self.estimated |= t.reasoning_tokens_estimated;
        }
        if let Some(ttfr_us) = t.ttfr_us {
            self.requests += 1;
            self.unanswered += t.ttfa_us.is_none() as u64;
            self.ttfr.get_or_insert_with(Dist::default).record(ttfr_us);
            if self.ttfa.is_none() {
                self.ttfa = Some(ttft.clone());
            }
        }
        if let (Some(dist), Some(ttfa_us)) = (&mut self.ttfa, t.ttfa_us) {
            dist.record(ttfa_us);
        }
    }

    /// True when a distribution went past the exact limit (percentiles from histograms).
    pub fn approximate(&self) -> bool {
        [&self.ttfa, &self.ttfr]
            .iter()
            .any(|d| d.as_ref().is_some_and(Dist::approximate))
    }

    /// The level's reasoning fields; `output_tokens` is the level's Σ output tokens.
    pub fn stats(&self, output_tokens: u64) -> ReasoningStats {
        let ttfa = self.ttfa.as_ref().and_then(Dist::stats);
        let ttfr = self.ttfr.as_ref().and_then(Dist::stats);
        ReasoningStats {
            mean_ttfa_ms: ttfa.map(|s| s.mean_ms),
            median_ttfa_ms: ttfa.map(|s| s.p50_ms),
            p90_ttfa_ms: ttfa.map(|s| s.p90_ms),
            p95_ttfa_ms: ttfa.map(|s| s.p95_ms),
            p99_ttfa_ms: ttfa.map(|s| s.p99_ms),
            mean_ttfr_ms: ttfr.map(|s| s.mean_ms),
            median_ttfr_ms: ttfr.map(|s| s.p50_ms),
            p99_ttfr_ms: ttfr.map(|s| s.p99_ms),
            reasoning_requests: self.requests,
            unanswered_requests: self.unanswered,
            total_reasoning_tokens: self.tokens,
            reasoning_share: ReasoningStats::share(self.tokens, output_tokens),
            reasoning_tokens_estimated: self.estimated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(ttft_us: u64, ttfr_us: Option<u64>, ttfa_us: Option<u64>) -> Timings {
        Timings {
            ttft_us,
            ttfr_us,
            ttfa_us,
            output_tokens: 10,
            ..Timings::default()
        }
    }

    /// Records `replies` as the level recorder does: TTFA before the TTFT joins its dist.
    fn level(replies: &[Timings]) -> ReasoningStats {
        let mut ttft = Dist::default();
        let mut r = ReasoningRecorder::default();
        for t in replies {
            r.record(t, &ttft);
            ttft.record(t.ttft_us);
        }
        r.stats(replies.iter().map(|t| t.output_tokens).sum())
    }

    #[test]
    fn a_level_without_reasoning_has_no_reasoning_fields() {
        let stats = level(&vec![reply(10_000, None, Some(10_000)); 3]);
        assert_eq!(stats, ReasoningStats::default());
        assert!(!stats.any());
    }

    #[test]
    fn replies_before_the_first_reasoning_one_count_with_their_ttft() {
        let mut thinking = reply(15_000, Some(15_000), Some(45_000));
        thinking.reasoning_tokens = Some(3);
        let mut truncated = reply(12_000, Some(12_000), None);
        truncated.reasoning_tokens = Some(10);
        truncated.reasoning_tokens_estimated = true;
        let stats = level(&[
            reply(10_000, None, Some(10_000)),
            reply(20_000, None, Some(20_000)),
            thinking,
            truncated,
            reply(30_000, None, Some(30_000)),
        ]);
        // TTFA over the four that answered: 10, 20, 45, 30 ms.
        assert_eq!(stats.mean_ttfa_ms, Some(26.25));
        // numpy: np.percentile([10, 20, 30, 45], 50) = 25.0
        assert_eq!(stats.median_ttfa_ms, Some(25.0));
        assert_eq!(stats.mean_ttfr_ms, Some(13.5));
        assert_eq!(
            (stats.reasoning_requests, stats.unanswered_requests),
            (2, 1)
        );
        assert_eq!(stats.total_reasoning_tokens, Some(13));
        assert_eq!(stats.reasoning_share, Some(13.0 / 50.0));
        assert!(stats.reasoning_tokens_estimated);
        assert!(stats.any());
    }

    #[test]
    fn reasoning_that_never_answered_has_no_ttfa() {
        let stats = level(&vec![reply(12_000, Some(12_000), None); 2]);
        assert_eq!(stats.mean_ttfa_ms, None);
        assert_eq!(stats.p99_ttfr_ms, Some(12.0));
        assert_eq!(stats.unanswered_requests, 2);
        // Not counted by the engine nor by chunks here: no token total, no share.
        assert_eq!(
            (stats.total_reasoning_tokens, stats.reasoning_share),
            (None, None)
        );
    }

    #[test]
    fn hidden_reasoning_counted_by_the_engine_has_tokens_but_no_ttfa() {
        let mut t = reply(10_000, None, Some(10_000));
        t.reasoning_tokens = Some(4);
        let stats = level(&[t]);
        assert_eq!(stats.total_reasoning_tokens, Some(4));
        assert_eq!(stats.reasoning_share, Some(0.4));
        assert_eq!(stats.mean_ttfa_ms, None, "TTFA = TTFT: not repeated");
        assert!(stats.any());
    }
}
