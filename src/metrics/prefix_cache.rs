//! A level's prefix-cache hits as the engine reported them per request.

use crate::client::Timings;
use crate::results::prefix_cache::PrefixCacheStats;

/// Cached-token counts of one level in progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrefixCacheCounter {
    /// Σ cached tokens over requests that reported them; `None` until one did.
    cached: Option<u64>,
    /// Σ cached and Σ input tokens over requests that reported both.
    cached_with_input: u64,
    input: u64,
}

impl PrefixCacheCounter {
    /// Records a successful request.
    pub fn record(&mut self, t: &Timings) {
        let Some(cached) = t.cached_tokens else {
            return;
        };
        *self.cached.get_or_insert(0) += cached;
        if let Some(input) = t.input_tokens {
            self.cached_with_input += cached;
            self.input += input;
        }
    }

    pub fn stats(&self) -> PrefixCacheStats {
        PrefixCacheStats {
            total_cached_tokens: self.cached,
            cached_fraction: (self.cached.is_some() && self.input > 0)
                .then(|| self.cached_with_input as f64 / self.input as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(input_tokens: Option<u64>, cached_tokens: Option<u64>) -> Timings {
        Timings {
            input_tokens,
            cached_tokens,
            ..Timings::default()
        }
    }

    #[test]
    fn the_fraction_is_over_requests_that_reported_cached_tokens() {
        let mut c = PrefixCacheCounter::default();
        c.record(&reply(Some(100), Some(0)));
        c.record(&reply(Some(100), Some(80)));
        // Not reported: left out of both sums, not counted as a miss.
        c.record(&reply(Some(1_000), None));
        // Reported without a prompt count: in the total, not in the fraction.
        c.record(&reply(None, Some(16)));
        let s = c.stats();
        assert_eq!(s.total_cached_tokens, Some(96));
        assert_eq!(s.cached_fraction, Some(0.4));
    }

    #[test]
    fn nothing_reported_is_absent_not_zero() {
        let mut c = PrefixCacheCounter::default();
        c.record(&reply(Some(100), None));
        assert_eq!(c.stats(), PrefixCacheStats::default());
        let mut misses = PrefixCacheCounter::default();
        misses.record(&reply(Some(100), Some(0)));
        let s = misses.stats();
        assert_eq!(
            (s.total_cached_tokens, s.cached_fraction),
            (Some(0), Some(0.0))
        );
    }
}
