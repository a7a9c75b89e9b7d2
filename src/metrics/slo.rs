//! Goodput: how many requests meet the `[slo]` objectives, counted as samples arrive (no
//! per-request vectors).
//!
//! A request meets the SLOs when it succeeded and every set objective holds: TTFT ≤
//! `ttft_ms`, TPOT ≤ `tpot_ms` (a one-token reply has no TPOT and meets it, as in vLLM), E2E
//! latency ≤ `e2e_ms`, all measured from the actual send, as vLLM does. `request_goodput` is
//! those requests per second of level duration. Shares are over *attempted* requests
//! (completed + failed), so failures count against attainment; a level meets the SLOs when
//! the share meeting every one is at least `attainment` (default 0.9).

use crate::client::Timings;
use crate::config::SloConfig;

/// Counts of one level.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SloCounter {
    pub slo: SloConfig,
    /// Successful requests meeting every set objective.
    pub met_all: u64,
    pub met_ttft: u64,
    pub met_tpot: u64,
    pub met_e2e: u64,
}

/// The per-level figures of [`crate::results::model::LevelSummary`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloSummary {
    pub request_goodput: f64,
    pub slo_met: f64,
    pub slo_ttft_met: Option<f64>,
    pub slo_tpot_met: Option<f64>,
    pub slo_e2e_met: Option<f64>,
    pub meets_slo: bool,
}

impl SloCounter {
    pub fn new(slo: SloConfig) -> SloCounter {
        SloCounter {
            slo,
            ..SloCounter::default()
        }
    }

    /// Counts one successful request.
    pub fn record(&mut self, t: &Timings) {
        let ttft_ok = self
            .slo
            .ttft_ms
            .is_none_or(|limit| t.ttft_us as f64 / 1e3 <= limit);
        let tpot_ok = self
            .slo
            .tpot_ms
            .is_none_or(|limit| t.tpot_us().is_none_or(|us| us / 1e3 <= limit));
        let e2e_ok = self
            .slo
            .e2e_ms
            .is_none_or(|limit| t.e2e_us as f64 / 1e3 <= limit);
        self.met_ttft += ttft_ok as u64;
        self.met_tpot += tpot_ok as u64;
        self.met_e2e += e2e_ok as u64;
        self.met_all += (ttft_ok && tpot_ok && e2e_ok) as u64;
    }

    /// The level's figures, or `None` when no objective is set.
    pub fn summary(&self, attempted: u64, duration_s: f64) -> Option<SloSummary> {
        if !self.slo.any() {
            return None;
        }
        let share = |n: u64| {
            if attempted == 0 {
                0.0
            } else {
                n as f64 / attempted as f64
            }
        };
        let slo_met = share(self.met_all);
        Some(SloSummary {
            request_goodput: if duration_s > 0.0 {
                self.met_all as f64 / duration_s
            } else {
                0.0
            },
            slo_met,
            slo_ttft_met: self.slo.ttft_ms.map(|_| share(self.met_ttft)),
            slo_tpot_met: self.slo.tpot_ms.map(|_| share(self.met_tpot)),
            slo_e2e_met: self.slo.e2e_ms.map(|_| share(self.met_e2e)),
            meets_slo: attempted > 0 && slo_met >= self.slo.attainment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(ttft_us: u64, e2e_us: u64, tokens: u64) -> Timings {
        Timings {
            ttft_us,
            e2e_us,
            output_tokens: tokens,
            ..Timings::default()
        }
    }

    #[test]
    fn each_objective_holds_up_to_and_including_its_limit() {
        let mut c = SloCounter::new(SloConfig {
            ttft_ms: Some(50.0),
            tpot_ms: Some(10.0),
            e2e_ms: Some(250.0),
            ..SloConfig::default()
        });
        // TTFT 50 ms, TPOT (250 − 50) / 20 = 10 ms, E2E 250 ms: every limit exactly met.
        c.record(&reply(50_000, 250_000, 21));
        // TTFT 50.001 ms: over; the rest met.
        c.record(&reply(50_001, 250_000, 21));
        // TPOT (251 − 50) / 20 = 10.05 ms and E2E 251 ms: both over.
        c.record(&reply(50_000, 251_000, 21));
        // One token: no TPOT, which meets it (vLLM's rule); E2E 1.5 s is over.
        c.record(&reply(40_000, 1_500_000, 1));
        // Well within all three (TPOT 5.5 ms: compared in ms, not µs modulo anything).
        c.record(&reply(50_000, 160_000, 21));
        assert_eq!((c.met_ttft, c.met_tpot, c.met_e2e, c.met_all), (4, 4, 3, 2));
        let s = c.summary(5, 2.0).unwrap();
        assert_eq!(s.slo_ttft_met, Some(0.8));
        assert_eq!(s.slo_tpot_met, Some(0.8));
        assert_eq!(s.slo_e2e_met, Some(0.6));
        assert_eq!((s.slo_met, s.request_goodput), (0.4, 1.0));
        assert!(!s.meets_slo);
        // A level with no active time has no goodput (not an infinite one).
        assert_eq!(c.summary(5, 0.0).unwrap().request_goodput, 0.0);
    }

    #[test]
    fn a_level_with_no_attempted_request_never_meets_the_slos() {
        let c = SloCounter::new(SloConfig {
            ttft_ms: Some(50.0),
            attainment: 0.0,
            ..SloConfig::default()
        });
        assert!(
            !c.summary(0, 1.0).unwrap().meets_slo,
            "even with attainment 0"
        );
        assert!(c.summary(1, 1.0).unwrap().meets_slo);
    }

    #[test]
    fn without_objectives_there_is_no_summary() {
        assert_eq!(SloCounter::new(SloConfig::default()).summary(3, 1.0), None);
    }
}
