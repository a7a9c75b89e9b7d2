//! What the kernel knows about this machine's clock: whether NTP (chrony, ntpd,
//! systemd-timesyncd) has synchronised it and its estimated and maximum error. Shards line
//! up by wall clock, so this bounds how far apart their windows can be.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The clock's state when the shard started, from `adjtimex(2)` (read only).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ClockInfo {
    /// False when the kernel says the clock is not synchronised (`STA_UNSYNC`, or the
    /// `TIME_ERROR` state): its offset from the other shards' is then unknown.
    pub synchronised: bool,
    /// The kernel's estimated error of the clock, ms.
    pub est_error_ms: f64,
    /// The kernel's bound on the clock's error, ms (grows while unsynchronised).
    pub max_error_ms: f64,
    /// Why the kernel could not be asked (not Linux, or the call failed); absent when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl ClockInfo {
    /// Reads it now.
    pub fn read() -> ClockInfo {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: `timex` is plain old data; with `modes = 0` adjtimex only reads.
            let mut tx: libc::timex = unsafe { std::mem::zeroed() };
            let state = unsafe { libc::adjtimex(&mut tx) };
            if state < 0 {
                return ClockInfo::unavailable(std::io::Error::last_os_error().to_string());
            }
            ClockInfo::from_timex(state, tx.status, tx.esterror, tx.maxerror)
        }
        #[cfg(not(target_os = "linux"))]
        ClockInfo::unavailable("adjtimex is Linux only".into())
    }

    fn unavailable(why: String) -> ClockInfo {
        ClockInfo {
            unavailable: Some(why),
            ..ClockInfo::default()
        }
    }

    /// From adjtimex's return value and its status and error fields (µs).
    #[cfg(target_os = "linux")]
    fn from_timex(
        state: i32,
        status: i32,
        est_us: libc::c_long,
        max_us: libc::c_long,
    ) -> ClockInfo {
        ClockInfo {
            synchronised: state != libc::TIME_ERROR && status & libc::STA_UNSYNC == 0,
            est_error_ms: est_us as f64 / 1e3,
            max_error_ms: max_us as f64 / 1e3,
            unavailable: None,
        }
    }

    /// One line for the shard's start message and the merge's notes.
    pub fn describe(&self) -> String {
        match (&self.unavailable, self.synchronised) {
            (Some(why), _) => format!("clock state unknown ({why})"),
            (None, true) => format!(
                "clock NTP-synchronised, estimated error {:.1} ms, at most {:.1} ms",
                self.est_error_ms, self.max_error_ms
            ),
            (None, false) => format!(
                "clock NOT synchronised (error up to {:.0} ms): shards' windows may not line up",
                self.max_error_ms
            ),
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn sync_comes_from_the_state_and_the_unsync_flag() {
        let ok = ClockInfo::from_timex(libc::TIME_OK, 0, 1_500, 16_000);
        assert!(ok.synchronised);
        assert_eq!((ok.est_error_ms, ok.max_error_ms), (1.5, 16.0));
        assert!(ok
            .describe()
            .contains("estimated error 1.5 ms, at most 16.0 ms"));
        assert!(!ClockInfo::from_timex(libc::TIME_OK, libc::STA_UNSYNC, 0, 0).synchronised);
        let bad = ClockInfo::from_timex(libc::TIME_ERROR, 0, 0, 16_000_000);
        assert!(!bad.synchronised);
        assert!(bad
            .describe()
            .contains("NOT synchronised (error up to 16000 ms)"));
    }

    #[test]
    fn reading_the_kernel_works_here() {
        let now = ClockInfo::read();
        assert_eq!(now.unavailable, None);
        assert!(now.max_error_ms >= 0.0);
    }
}
