//! Achieved concurrency and the steady-state window of a level, from each request's
//! in-flight interval on the level's active-time axis (µs).
//!
//! Closed loop: the window runs from the moment C requests are first in flight to the moment
//! the first worker finds no more work (the driver stamps it; without a stamp, the first
//! completion after the last send).
//! Rate mode: the middle 80 % of the schedule (first to last send). Ramp-up and drain are
//! outside it, so its throughput is the engine's rate at the labelled load.
//!
//! What the window holds is attributed by overlap, not by completion alone: each successful
//! request counts the share of its time in flight that falls inside the window, and its
//! output tokens the share of its first-to-last-token span. Counting only completions is
//! biased whenever completions bunch up — as they do when every request has the same length
//! and a closed loop keeps them in step: a window ending just as a wave ends would count
//! none of that wave's work, though the engine did it inside the window.

/// One request's time in flight, µs of level-active time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub sent_us: u64,
    pub done_us: u64,
    /// What a successful request produced; `None` for a failed one.
    pub output: Option<Output>,
}

/// A successful request's output on the level's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// First and last output token, µs of level-active time.
    pub first_us: u64,
    pub last_us: u64,
    pub tokens: u64,
}

/// What the intervals say about the load the engine really saw.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Concurrency {
    /// Most requests in flight at once.
    pub peak: u32,
    /// Time-weighted mean of requests in flight over the level's active time.
    pub mean: f64,
}

/// The steady-state window and what completed inside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start_us: u64,
    pub end_us: u64,
    /// Successful requests that completed inside the window.
    pub completed: u64,
    /// Successful requests' shares of time in flight inside the window, summed.
    pub requests: f64,
    /// Output tokens generated inside the window (each request's spread over its span).
    pub output_tokens: f64,
}

impl Window {
    pub fn seconds(&self) -> f64 {
        (self.end_us - self.start_us) as f64 / 1e6
    }

    /// Successful requests per second inside the window.
    pub fn request_throughput(&self) -> f64 {
        self.requests / self.seconds()
    }

    /// Output tokens per second inside the window.
    pub fn output_throughput(&self) -> f64 {
        self.output_tokens / self.seconds()
    }
}

/// Peak and time-weighted mean in flight over `active_us`. In-flight time is always active
/// time (the clock stops only while nothing is in flight), so the mean is Σ durations ÷ time.
pub fn concurrency(intervals: &[Interval], active_us: u64) -> Concurrency {
    let busy_us: u64 = intervals
        .iter()
        .map(|i| i.done_us.saturating_sub(i.sent_us))
        .sum();
    let mut peak = 0u32;
    walk_in_flight(intervals, |_, n| peak = peak.max(n));
    Concurrency {
        peak,
        mean: if active_us == 0 {
            0.0
        } else {
            busy_us as f64 / active_us as f64
        },
    }
}

/// Calls `f(time, in_flight_after)` at every send and completion, in time order; at equal
/// times completions come first (a worker that finishes and sends again at once never
/// counts twice).
fn walk_in_flight(intervals: &[Interval], mut f: impl FnMut(u64, u32)) {
    // (time, +1 send / -1 completion); sorting puts -1 before +1 at the same instant.
    let mut edges: Vec<(u64, i8)> = Vec::with_capacity(intervals.len() * 2);
    for i in intervals {
        edges.push((i.sent_us, 1));
        edges.push((i.done_us.max(i.sent_us), -1));
    }
    edges.sort_unstable();
    let mut n = 0i64;
    for (at, step) in edges {
        n += step as i64;
        f(at, n.max(0) as u32);
    }
}

/// Closed loop at `target` in flight: from the first moment `target` were in flight to
/// `drain_from_us` (when the first worker found no more work), or without it the first
/// completion after the last send. `None` when `target` was never reached or the window is
/// empty.
pub fn closed_loop_window(
    intervals: &[Interval],
    target: u32,
    drain_from_us: Option<u64>,
) -> Option<Window> {
    let mut start = None;
    walk_in_flight(intervals, |at, n| {
        if start.is_none() && n >= target {
            start = Some(at);
        }
    });
    let start = start?;
    let end = match drain_from_us {
        Some(end) => end,
        None => {
            let last_send = intervals.iter().map(|i| i.sent_us).max()?;
            intervals
                .iter()
                .map(|i| i.done_us)
                .filter(|&d| d > last_send)
                .min()?
        }
    };
    window(intervals, start, end)
}

/// Rate mode: the middle 80 % of the span from the first to the last send.
pub fn open_loop_window(intervals: &[Interval]) -> Option<Window> {
    let first = intervals.iter().map(|i| i.sent_us).min()?;
    let last = intervals.iter().map(|i| i.sent_us).max()?;
    let span = last - first;
    window(intervals, first + span / 10, first + span * 9 / 10)
}

/// What `[start_us, end_us]` holds of `intervals`, attributed by overlap; `None` when empty.
pub fn window(intervals: &[Interval], start_us: u64, end_us: u64) -> Option<Window> {
    if end_us <= start_us {
        return None;
    }
    let mut w = Window {
        start_us,
        end_us,
        completed: 0,
        requests: 0.0,
        output_tokens: 0.0,
    };
    // The share of [from, to] inside the window (a point counts whole if inside).
    let share = |from: u64, to: u64| {
        if to <= from {
            return if (start_us..=end_us).contains(&from) {
                1.0
            } else {
                0.0
            };
        }
        let inside = to.min(end_us).saturating_sub(from.max(start_us));
        inside as f64 / (to - from) as f64
    };
    for i in intervals {
        let Some(out) = i.output else { continue };
        w.completed += (start_us..=end_us).contains(&i.done_us) as u64;
        w.requests += share(i.sent_us, i.done_us);
        w.output_tokens += out.tokens as f64 * share(out.first_us, out.last_us);
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Output from send to completion (TTFT 0), 10 tokens.
    fn ok(sent_us: u64, done_us: u64) -> Interval {
        Interval {
            sent_us,
            done_us,
            output: Some(Output {
                first_us: sent_us,
                last_us: done_us,
                tokens: 10,
            }),
        }
    }

    /// C=2, 5 requests of 100 µs each: two waves back to back, then a lone tail.
    fn two_slots() -> Vec<Interval> {
        vec![
            ok(0, 100),
            ok(10, 110),
            ok(100, 200),
            ok(110, 210),
            ok(200, 300),
        ]
    }

    #[test]
    fn peak_and_time_weighted_mean() {
        let c = concurrency(&two_slots(), 300);
        assert_eq!(c.peak, 2);
        // 500 µs in flight over 300 µs.
        assert!((c.mean - 500.0 / 300.0).abs() < 1e-12);
        // A worker finishing and sending at the same instant is not two in flight.
        assert_eq!(concurrency(&[ok(0, 50), ok(50, 90)], 90).peak, 1);
    }

    #[test]
    fn closed_loop_window_runs_from_full_to_the_first_idle_worker() {
        let w = closed_loop_window(&two_slots(), 2, None).expect("window");
        // Two in flight first at 10. The worker done at 200 sends the last request; the
        // other, done at 210, is the first to find no work.
        assert_eq!((w.start_us, w.end_us), (10, 210));
        // Completed inside [10, 210]: at 100, 110, 200, 210. By overlap: 0.9 of the first,
        // three whole, 0.1 of the last.
        assert_eq!(w.completed, 4);
        assert!((w.requests - 4.0).abs() < 1e-12 && (w.output_tokens - 40.0).abs() < 1e-9);
        assert!((w.request_throughput() - 4.0 / 200e-6).abs() < 1e-6);
        assert!((w.output_throughput() - 40.0 / 200e-6).abs() < 1e-3);
        // The driver's stamp of the first idle worker wins (ties of a virtual clock).
        let stamped = closed_loop_window(&two_slots(), 2, Some(200)).expect("window");
        assert_eq!((stamped.end_us, stamped.completed), (200, 3));
    }

    #[test]
    fn a_level_that_never_reaches_c_has_no_window() {
        assert_eq!(closed_loop_window(&two_slots(), 3, None), None);
        assert_eq!(closed_loop_window(&[], 1, None), None);
    }

    #[test]
    fn failures_are_not_counted_as_completions() {
        let mut v = two_slots();
        v[2].output = None;
        let w = closed_loop_window(&v, 2, None).expect("window");
        assert_eq!(w.completed, 3);
        assert!((w.requests - 3.0).abs() < 1e-12);
    }

    #[test]
    fn open_loop_window_is_the_middle_80_percent_of_sends() {
        let v: Vec<Interval> = (0..=10).map(|i| ok(i * 1_000, i * 1_000 + 500)).collect();
        let w = open_loop_window(&v).expect("window");
        assert_eq!((w.start_us, w.end_us), (1_000, 9_000));
        // Completions at 1500, 2500, ..., 8500.
        assert_eq!(w.completed, 8);
        assert!((w.requests - 8.0).abs() < 1e-12);
        // The span runs from the first send, wherever the level's time axis puts it.
        let later: Vec<Interval> = v
            .iter()
            .map(|i| ok(i.sent_us + 5_000, i.done_us + 5_000))
            .collect();
        let w = open_loop_window(&later).expect("window");
        assert_eq!((w.start_us, w.end_us), (6_000, 14_000));
    }

    #[test]
    fn work_of_a_wave_in_progress_counts_though_it_completes_after_the_window() {
        // C = 2 in lockstep, 100 µs each, 3 waves; the window ends at 290 (the first idle
        // worker), 10 µs before the last wave completes.
        let v = vec![
            ok(0, 100),
            ok(0, 100),
            ok(100, 200),
            ok(100, 200),
            ok(200, 300),
            ok(200, 300),
        ];
        let w = closed_loop_window(&v, 2, Some(290)).expect("window");
        assert_eq!(w.completed, 4);
        // 4 whole requests and 0.9 of 2: the engine's rate, not 4 / 290 µs.
        assert!((w.requests - 5.8).abs() < 1e-9, "{w:?}");
        assert!((w.request_throughput() - 5.8 / 290e-6).abs() < 1e-3);
        assert!((w.output_tokens - 58.0).abs() < 1e-9);
    }
}
