//! The wall-clock schedule of a sharded sweep: step `k` of the run order (an engine's level,
//! or one trial of it) owns the slot `start + k × (warmup + duration + settle)`. Shards
//! compute it alone from `--start-at`, so they line up to within their clocks' offset.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The common schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeline {
    /// `--start-at`: the first slot's start.
    pub start: SystemTime,
    /// Unmeasured load at the start of each slot (`[sweep] warmup_s`).
    pub warmup: Duration,
    /// The measured window (`[sweep] duration_s`): no request starts after it.
    pub duration: Duration,
    /// After the window, before the next slot: requests in flight finish here
    /// (`[sweep] settle_s`).
    pub settle: Duration,
}

/// One step's times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub warmup_at: SystemTime,
    pub measured_at: SystemTime,
    /// No request starts after it.
    pub measured_end: SystemTime,
}

/// Where a shard is in a slot when it gets to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Position {
    /// Before the slot: wait this long, then warm up.
    Early(Duration),
    /// In the warmup: warm up for what is left of it.
    Warmup(Duration),
    /// In the measured window, this far in: join it late, for what is left.
    Late { by: Duration, left: Duration },
    /// The window is over: the level is missed, by this much.
    Missed(Duration),
}

impl Timeline {
    pub fn slot(&self, step: u32) -> Slot {
        let each = self.warmup + self.duration + self.settle;
        let warmup_at = self.start + each * step;
        let measured_at = warmup_at + self.warmup;
        Slot {
            warmup_at,
            measured_at,
            measured_end: measured_at + self.duration,
        }
    }
}

impl Slot {
    pub fn position(&self, now: SystemTime) -> Position {
        let until = |t: SystemTime| t.duration_since(now).unwrap_or_default();
        let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        if now < self.warmup_at {
            Position::Early(until(self.warmup_at))
        } else if now < self.measured_at {
            Position::Warmup(until(self.measured_at))
        } else if now < self.measured_end {
            Position::Late {
                by: since(self.measured_at),
                left: until(self.measured_end),
            }
        } else {
            Position::Missed(since(self.measured_at))
        }
    }
}

/// Milliseconds since the Unix epoch (what results record of wall times).
pub fn unix_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub fn from_unix_ms(ms: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(ms.max(0.0) / 1e3)
}

/// `--start-at`: an RFC 3339 time (`2026-12-01T20:30:00Z`, or with an offset).
pub fn parse_start(text: &str) -> Result<SystemTime, String> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            format!(
                "--start-at: {text:?} is not an RFC 3339 time such as 2026-12-01T20:30:00Z ({e})"
            )
        })?;
    Ok(SystemTime::from(at))
}

/// RFC 3339 UTC, to the millisecond.
pub fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The run name's stamp of the start: `20261201T203000Z` (UTC, to the second).
pub fn stamp(t: SystemTime) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from(t)
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline() -> Timeline {
        Timeline {
            start: UNIX_EPOCH + Duration::from_secs(1_000),
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            settle: Duration::from_secs(3),
        }
    }

    fn at(s: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(s)
    }

    #[test]
    fn slots_follow_each_other_at_warmup_plus_duration_plus_settle() {
        let t = timeline();
        assert_eq!(
            t.slot(0),
            Slot {
                warmup_at: at(1_000.0),
                measured_at: at(1_002.0),
                measured_end: at(1_012.0),
            }
        );
        assert_eq!(t.slot(3).warmup_at, at(1_045.0));
        assert_eq!(t.slot(3).measured_at, at(1_047.0));
        assert_eq!(t.slot(3).measured_end, at(1_057.0));
    }

    #[test]
    fn a_shard_waits_warms_up_joins_late_or_misses() {
        let slot = timeline().slot(1);
        // Slot 1: warmup 1015–1017, measured 1017–1027.
        assert_eq!(
            slot.position(at(1_010.0)),
            Position::Early(Duration::from_secs(5))
        );
        assert_eq!(
            slot.position(at(1_015.5)),
            Position::Warmup(Duration::from_millis(1_500))
        );
        // The warmup begins at its first instant.
        assert_eq!(
            slot.position(at(1_015.0)),
            Position::Warmup(Duration::from_secs(2))
        );
        assert_eq!(
            slot.position(at(1_017.0)),
            Position::Late {
                by: Duration::ZERO,
                left: Duration::from_secs(10)
            }
        );
        assert_eq!(
            slot.position(at(1_020.0)),
            Position::Late {
                by: Duration::from_secs(3),
                left: Duration::from_secs(7)
            }
        );
        assert_eq!(
            slot.position(at(1_027.0)),
            Position::Missed(Duration::from_secs(10))
        );
    }

    #[test]
    fn start_times_parse_as_rfc3339_with_offsets() {
        let t = parse_start("2026-12-01T20:30:00Z").unwrap();
        assert_eq!(stamp(t), "20261201T203000Z");
        assert_eq!(parse_start("2026-12-01T21:30:00+01:00").unwrap(), t);
        assert_eq!(unix_ms(t), 1_796_157_000_000.0);
        assert_eq!(from_unix_ms(unix_ms(t)), t);
        assert_eq!(rfc3339(t), "2026-12-01T20:30:00Z");
        let e = parse_start("tomorrow").unwrap_err();
        assert!(
            e.starts_with("--start-at: \"tomorrow\" is not an RFC 3339 time"),
            "{e}"
        );
    }
}
