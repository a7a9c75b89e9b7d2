//! A short sliding window of completions and output tokens, for live rates that react within
//! a couple of seconds (the level's cumulative rate would flatten every change).

/// Buckets of [`BUCKET_MS`] over the last [`WINDOW_MS`] of level-active time.
#[derive(Debug, Clone)]
pub struct RateWindow {
    /// (bucket number, completions, output tokens), ring indexed by bucket number.
    buckets: [(u64, u64, u64); BUCKETS],
}

pub const BUCKET_MS: u64 = 100;
pub const WINDOW_MS: u64 = 2_000;
const BUCKETS: usize = (WINDOW_MS / BUCKET_MS) as usize;

impl Default for RateWindow {
    fn default() -> Self {
        RateWindow {
            buckets: [(u64::MAX, 0, 0); BUCKETS],
        }
    }
}

impl RateWindow {
    /// Counts one completion with `tokens` output tokens at level-active time `at_ms`.
    pub fn add(&mut self, at_ms: u64, tokens: u64) {
        let n = at_ms / BUCKET_MS;
        let slot = &mut self.buckets[(n % BUCKETS as u64) as usize];
        if slot.0 != n {
            *slot = (n, 0, 0);
        }
        slot.1 += 1;
        slot.2 += tokens;
    }

    /// (requests/s, tokens/s) over the window ending at `now_ms`.
    pub fn rates(&self, now_ms: u64) -> (f64, f64) {
        let now_bucket = now_ms / BUCKET_MS;
        let oldest = now_bucket.saturating_sub(BUCKETS as u64 - 1);
        let (mut requests, mut tokens) = (0u64, 0u64);
        for &(n, r, t) in &self.buckets {
            if n != u64::MAX && n >= oldest && n <= now_bucket {
                requests += r;
                tokens += t;
            }
        }
        let span_s = now_ms.clamp(BUCKET_MS, WINDOW_MS) as f64 / 1e3;
        (requests as f64 / span_s, tokens as f64 / span_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_cover_the_last_two_seconds() {
        let mut w = RateWindow::default();
        for ms in (0..4_000).step_by(100) {
            w.add(ms, 10);
        }
        // 20 buckets × 1 request over 2 s.
        assert_eq!(w.rates(3_999), (10.0, 100.0));
        // Early in a level the span is the elapsed time.
        let mut w = RateWindow::default();
        w.add(0, 5);
        w.add(400, 5);
        assert_eq!(w.rates(500), (4.0, 20.0));
        // Old buckets fall out.
        assert_eq!(w.rates(10_000), (0.0, 0.0));
    }
}
