//! Pause accounting. A pause stops new sends at once, but requests in flight keep
//! generating: their time is active time. So a level's clock stops only once the run is
//! paused *and* nothing is in flight (at the key press if nothing was), and runs again at
//! resume — or as soon as a request is in flight again.
//!
//! Rate mode's schedule is a different axis: it is shifted by the whole pause (press to
//! resume), so sends that were due during a pause go out after it, not in a burst, and a
//! pause is never counted as lateness.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A stopwatch of a level's active time.
#[derive(Debug, Clone)]
pub struct ActiveClock {
    start: Instant,
    stopped_total: Duration,
    stopped_since: Option<Instant>,
    /// Every finished stop, to place past instants on the active-time axis (pauses are few).
    stops: Vec<(Instant, Instant)>,
    /// The user paused the run (the clock may still run while requests are in flight).
    paused: bool,
}

impl ActiveClock {
    /// A clock for a phase starting now; `paused` if the run is paused at its start (nothing
    /// is in flight yet, so it starts stopped).
    pub fn start(paused: bool) -> ActiveClock {
        let now = Instant::now();
        ActiveClock {
            start: now,
            stopped_total: Duration::ZERO,
            stopped_since: paused.then_some(now),
            stops: Vec::new(),
            paused,
        }
    }

    /// The user paused or resumed.
    pub fn set_paused(&mut self, paused: bool, in_flight: u64) {
        self.paused = paused;
        self.update(in_flight);
    }

    /// Re-evaluates the rule with the requests in flight now: stopped iff paused and idle.
    pub fn update(&mut self, in_flight: u64) {
        let stop = self.paused && in_flight == 0;
        match (stop, self.stopped_since) {
            (true, None) => self.stopped_since = Some(Instant::now()),
            (false, Some(since)) => {
                let now = Instant::now();
                self.stopped_total += now - since;
                self.stops.push((since, now));
                self.stopped_since = None;
            }
            _ => {}
        }
    }

    /// The active time at a past (or the present) instant `at`.
    pub fn active_at(&self, at: Instant) -> Duration {
        let overlap = |from: Instant, to: Instant| to.min(at).saturating_duration_since(from);
        let mut stopped: Duration = self.stops.iter().map(|&(a, b)| overlap(a, b)).sum();
        if let Some(since) = self.stopped_since {
            stopped += at.saturating_duration_since(since);
        }
        at.saturating_duration_since(self.start)
            .saturating_sub(stopped)
    }

    /// Active time so far.
    pub fn active(&self) -> Duration {
        let now = Instant::now();
        let stopped_now = self.stopped_since.map(|s| now - s).unwrap_or_default();
        (now - self.start).saturating_sub(self.stopped_total + stopped_now)
    }

    pub fn active_ms(&self) -> u64 {
        self.active().as_millis() as u64
    }

    /// Wall-clock start, for stamping sends.
    pub fn started(&self) -> Instant {
        self.start
    }
}

/// The time a phase has been paused (press to resume), shared by the driver (which records
/// pauses) and rate mode's dispatcher and senders (which shift the schedule by it).
#[derive(Debug, Clone, Default)]
pub struct PauseLedger(Arc<Mutex<Ledger>>);

#[derive(Debug, Default)]
struct Ledger {
    total: Duration,
    since: Option<Instant>,
}

impl PauseLedger {
    pub fn new(paused: bool) -> PauseLedger {
        let ledger = PauseLedger::default();
        ledger.set_paused(paused);
        ledger
    }

    pub fn set_paused(&self, paused: bool) {
        let mut l = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match (paused, l.since) {
            (true, None) => l.since = Some(Instant::now()),
            (false, Some(since)) => {
                l.total += since.elapsed();
                l.since = None;
            }
            _ => {}
        }
    }

    /// Paused time so far, the current pause included.
    pub fn paused_total(&self) -> Duration {
        let l = self.0.lock().unwrap_or_else(|e| e.into_inner());
        l.total + l.since.map(|s| s.elapsed()).unwrap_or_default()
    }

    /// Schedule time now: wall time since `start` minus paused time.
    pub fn schedule_now(&self, start: Instant) -> Duration {
        start.elapsed().saturating_sub(self.paused_total())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_runs_while_paused_requests_are_in_flight() {
        let mut clock = ActiveClock::start(false);
        tokio::time::advance(Duration::from_millis(100)).await;
        // Paused with 3 in flight: they keep generating, the clock keeps running.
        clock.set_paused(true, 3);
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(clock.active(), Duration::from_millis(300));
        // The last one finishes: now the clock stops.
        clock.update(0);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(clock.active(), Duration::from_millis(300));
        let resumed = Instant::now();
        clock.set_paused(false, 0);
        tokio::time::advance(Duration::from_millis(50)).await;
        assert_eq!(clock.active(), Duration::from_millis(350));
        assert_eq!(clock.active_ms(), 350);
        // Past instants: before the stop, inside it, after it.
        let start = clock.started();
        assert_eq!(
            clock.active_at(start + Duration::from_millis(250)),
            Duration::from_millis(250)
        );
        assert_eq!(
            clock.active_at(start + Duration::from_millis(600)),
            Duration::from_millis(300)
        );
        assert_eq!(
            clock.active_at(resumed + Duration::from_millis(20)),
            Duration::from_millis(320)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_with_nothing_in_flight_stops_the_clock_at_once() {
        let mut clock = ActiveClock::start(false);
        tokio::time::advance(Duration::from_millis(10)).await;
        clock.set_paused(true, 0);
        tokio::time::advance(Duration::from_millis(90)).await;
        assert_eq!(clock.active(), Duration::from_millis(10));
        // While stopped, the present instant reads the frozen active time too.
        assert_eq!(clock.active_at(Instant::now()), Duration::from_millis(10));
        assert_eq!(clock.active_ms(), 10);
        // A request in flight again (sent just before the pause took hold) restarts it.
        clock.update(1);
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(clock.active(), Duration::from_millis(15));
    }

    #[tokio::test(start_paused = true)]
    async fn the_schedule_shifts_by_the_whole_pause() {
        let start = Instant::now();
        let ledger = PauseLedger::new(false);
        tokio::time::advance(Duration::from_millis(100)).await;
        ledger.set_paused(true);
        tokio::time::advance(Duration::from_millis(400)).await;
        assert_eq!(ledger.schedule_now(start), Duration::from_millis(100));
        ledger.set_paused(false);
        tokio::time::advance(Duration::from_millis(20)).await;
        assert_eq!(ledger.schedule_now(start), Duration::from_millis(120));
        assert_eq!(ledger.paused_total(), Duration::from_millis(400));
    }
}
