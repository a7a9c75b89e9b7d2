//! Fault injection: which requests misbehave, and how, decided deterministically.
//!
//! Each request gets an arrival index (0, 1, 2, ... in the order the server parsed them).
//! Every rate-based fault draws its own uniform number in `[0, 1)` from
//! SplitMix64 over `(seed, fault, index)`, so the same seed always faults the same request
//! indices, each knob independently of the others and of the load.

use std::time::Duration;

/// Faults to inject. `Faults::default()` injects nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Fraction of requests answered with `error_status` and a JSON error body instead of a
    /// stream (nothing is scheduled for them).
    pub error_rate: f64,
    /// HTTP status of injected errors; 0 means 500 (so `..Default::default()` stays useful).
    pub error_status: u16,
    /// Close the connection (no terminating chunk) after this many content chunks, with no
    /// finish chunk, usage or `[DONE]`: a mid-stream disconnect. Only requests selected by
    /// `drop_rate` are dropped, so set `drop_rate: 1.0` to drop every one. 0 drops right
    /// after the headers (and the role chunk, for chat); a value ≥ the output length drops
    /// just before the finish chunk.
    pub drop_after_tokens: Option<u32>,
    /// Fraction of requests that get the drop when `drop_after_tokens` is `Some`.
    pub drop_rate: f64,
    /// Fraction of requests where the middle content chunk (index `N / 2`) is replaced by
    /// `data: {not json\n\n`. Usage still counts all N tokens.
    pub malformed_rate: f64,
    /// After this many content chunks, stop sending for `stall_ms`, then continue (the
    /// tokens produced meanwhile then arrive in a burst). Applies to every request.
    pub stall_after_tokens: Option<u32>,
    /// Length of the stall (ms).
    pub stall_ms: u64,
    /// Delay before the response headers (or error) are sent, before the request is even
    /// queued for scheduling: a slow front end. Applies to every request.
    pub first_byte_delay_ms: u64,
    /// Never send the usage chunk, even when `stream_options.include_usage` asks for it, as
    /// some servers do; clients must then count tokens from chunks.
    pub no_usage: bool,
    /// Fraction of streaming requests that, once admitted (after the role chunk, for chat),
    /// get `data: {"error":{...,"code":500}}` and then `data: [DONE]` (as vLLM ends a stream
    /// whose generation failed) and no content.
    pub in_stream_error_rate: f64,
    /// Fraction of requests whose connection is closed right after the request was read,
    /// with no response at all (not even headers): a crashed or overloaded front end.
    pub reset_before_headers_rate: f64,
    /// Fraction of requests answered `200 OK` with an `application/json` completion body
    /// instead of an SSE stream (a server that ignores `"stream": true`).
    pub non_sse_rate: f64,
    /// Pad the first content event of every streaming request to this many bytes (its JSON
    /// stays valid): above 1 MiB, a client must cut it off rather than buffer it.
    pub huge_event_bytes: Option<usize>,
    /// Write each stream this many events at a time, as an engine or proxy that buffers its
    /// output does (the first write waits for the first N); 0 or 1 = every event as it is
    /// made. The bursty shape of the client's CPU benchmarks.
    pub events_per_write: u32,
}

/// What happens to one request: [`Faults`] resolved for one arrival index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultPlan {
    /// Answer with this HTTP status and an error body instead of serving the request.
    pub error_status: Option<u16>,
    /// Abort the connection after this many content chunks.
    pub drop_after: Option<u32>,
    /// Replace the middle content chunk (0-based index `N / 2`) with invalid JSON.
    pub malformed: bool,
    /// Pause `(after this many content chunks, for this long)`.
    pub stall: Option<(u32, Duration)>,
    /// End the stream with an in-stream error right after admission.
    pub in_stream_error: bool,
    /// Wait this long before sending anything.
    pub first_byte_delay: Duration,
    /// Whether a usage chunk may be sent (when the request asks for one).
    pub usage: bool,
    /// Close the connection without any response.
    pub reset_before_headers: bool,
    /// Answer 200 with a JSON body instead of a stream.
    pub non_sse: bool,
    /// Pad the first content event to this many bytes.
    pub huge_event: Option<usize>,
}

/// Salts keeping each knob's draw independent of the others.
const SALT_ERROR: u64 = 0x6572_726f_7200_0001;
const SALT_DROP: u64 = 0x6472_6f70_0000_0002;
const SALT_MALFORMED: u64 = 0x6d61_6c66_0000_0003;
const SALT_IN_STREAM: u64 = 0x696e_7374_0000_0004;
const SALT_RESET: u64 = 0x7273_7420_0000_0005;
const SALT_NON_SSE: u64 = 0x6e73_7365_0000_0006;

impl Faults {
    /// Resolves the faults for the request with arrival index `index` under `seed`.
    /// Pure: the same `(self, seed, index)` always gives the same plan.
    pub fn plan(&self, seed: u64, index: u64) -> FaultPlan {
        let hit = |rate: f64, salt: u64| unit(seed, salt, index) < rate;
        let error_status = hit(self.error_rate, SALT_ERROR).then_some(if self.error_status == 0 {
            500
        } else {
            self.error_status
        });
        let drop_after = self
            .drop_after_tokens
            .filter(|_| hit(self.drop_rate, SALT_DROP));
        FaultPlan {
            error_status,
            drop_after,
            malformed: hit(self.malformed_rate, SALT_MALFORMED),
            stall: self
                .stall_after_tokens
                .map(|n| (n, Duration::from_millis(self.stall_ms))),
            in_stream_error: hit(self.in_stream_error_rate, SALT_IN_STREAM),
            first_byte_delay: Duration::from_millis(self.first_byte_delay_ms),
            usage: !self.no_usage,
            reset_before_headers: hit(self.reset_before_headers_rate, SALT_RESET),
            non_sse: hit(self.non_sse_rate, SALT_NON_SSE),
            huge_event: self.huge_event_bytes,
        }
    }
}

/// SplitMix64's output function: a fast, well-mixed 64-bit hash.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in `[0, 1)` for `(seed, salt, index)`. A rate ≤ 0 (or NaN) never hits,
/// a rate ≥ 1 always does.
fn unit(seed: u64, salt: u64, index: u64) -> f64 {
    let x = splitmix64(splitmix64(seed ^ salt).wrapping_add(index));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_hit_about_the_right_fraction() {
        let f = Faults {
            error_rate: 0.25,
            ..Faults::default()
        };
        let hits = (0..10_000)
            .filter(|&i| f.plan(7, i).error_status.is_some())
            .count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
    }

    #[test]
    fn new_knobs_draw_independently() {
        let f = Faults {
            reset_before_headers_rate: 0.5,
            non_sse_rate: 0.5,
            ..Faults::default()
        };
        let resets: Vec<bool> = (0..64).map(|i| f.plan(9, i).reset_before_headers).collect();
        let non_sse: Vec<bool> = (0..64).map(|i| f.plan(9, i).non_sse).collect();
        assert_ne!(resets, non_sse);
        assert_eq!(
            resets,
            (0..64)
                .map(|i| f.plan(9, i).reset_before_headers)
                .collect::<Vec<_>>()
        );
        assert!(resets.iter().any(|&r| r) && resets.iter().any(|&r| !r));
    }

    #[test]
    fn extremes_and_defaults() {
        let all = Faults {
            error_rate: 1.0,
            drop_after_tokens: Some(3),
            drop_rate: 1.0,
            ..Faults::default()
        };
        let none = Faults::default();
        for i in 0..1000 {
            let p = all.plan(1, i);
            assert_eq!(p.error_status, Some(500));
            assert_eq!(p.drop_after, Some(3));
            let q = none.plan(1, i);
            assert_eq!(q.error_status, None);
            assert_eq!(q.drop_after, None);
            assert!(!q.malformed && !q.in_stream_error && q.usage && q.stall.is_none());
            assert!(!q.reset_before_headers && !q.non_sse && q.huge_event.is_none());
        }
    }
}
