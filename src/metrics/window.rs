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
        // The time the counted buckets cover: from the oldest one's start to now (the newest
        // bucket is partly filled), so the rate has no sawtooth as buckets roll over.
        let span_s = now_ms.saturating_sub(oldest * BUCKET_MS).max(BUCKET_MS) as f64 / 1e3;
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
        // At 4 s: buckets from 2.1 s on, 19 requests over the 1.9 s they cover.
        assert_eq!(w.rates(4_000), (10.0, 100.0));
        // Early in a level the span is the elapsed time.
        let mut w = RateWindow::default();
        w.add(0, 5);
        w.add(400, 5);
        assert_eq!(w.rates(500), (4.0, 20.0));
        // Old buckets fall out.
        assert_eq!(w.rates(10_000), (0.0, 0.0));
    }

    #[test]
    fn a_steady_rate_reads_steady_as_buckets_roll_over() {
        let mut w = RateWindow::default();
        // One completion every 10 ms: 100/s.
        let mut next = 0;
        for now in (2_000..6_000).step_by(7) {
            while next <= now {
                w.add(next, 1);
                next += 10;
            }
            let (rate, _) = w.rates(now);
            assert!((rate - 100.0).abs() < 1.0, "at {now} ms: {rate}/s");
        }
    }
}
