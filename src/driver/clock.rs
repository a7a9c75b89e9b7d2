//! Level-active time: wall time minus paused time.

use std::time::Duration;

use tokio::time::Instant;

/// A stopwatch that stops while the run is paused.
#[derive(Debug, Clone, Copy)]
pub struct ActiveClock {
    start: Instant,
    paused_total: Duration,
    paused_since: Option<Instant>,
}

impl ActiveClock {
    pub fn start(paused: bool) -> ActiveClock {
        let now = Instant::now();
        ActiveClock {
            start: now,
            paused_total: Duration::ZERO,
            paused_since: paused.then_some(now),
        }
    }

    pub fn pause(&mut self) {
        self.paused_since.get_or_insert_with(Instant::now);
    }

    pub fn resume(&mut self) {
        if let Some(since) = self.paused_since.take() {
            self.paused_total += since.elapsed();
        }
    }

    /// Active time so far.
    pub fn active(&self) -> Duration {
        let now = Instant::now();
        let paused_now = self.paused_since.map(|s| now - s).unwrap_or_default();
        (now - self.start).saturating_sub(self.paused_total + paused_now)
    }

    pub fn active_ms(&self) -> u64 {
        self.active().as_millis() as u64
    }

    /// Wall-clock start, for stamping sends.
    pub fn started(&self) -> Instant {
        self.start
    }
}
