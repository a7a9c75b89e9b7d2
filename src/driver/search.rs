//! `levels = "auto"`: one engine's search for its knee, as a pure state machine. It doubles
//! the level from `start` until a stop condition holds, then bisects between the last level
//! that passed and the first that failed, to within `resolution`. The driver asks it for the
//! next level and tells it each level's combined result (all trials).

use crate::config::{AutoConfig, AutoStop, SweepMode};
use crate::results::model::{LevelStatus, LevelSummary};
use crate::results::search::{SearchResult, StopReason};

/// Where the search is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// The next level of the doubling grid.
    Doubling {
        next: f64,
    },
    /// Between the highest level that passed and the lowest that failed; `next` between.
    Bisecting {
        pass: f64,
        fail: f64,
        next: f64,
    },
    Done,
}

/// One engine's search.
#[derive(Debug, Clone)]
pub struct Search {
    config: AutoConfig,
    mode: SweepMode,
    /// Whether `[slo]` sets any objective (the `slo` stop then applies).
    slo_set: bool,
    phase: Phase,
    /// Every level run, in order: (level, output tokens/s as plotted, why it failed).
    runs: Vec<(f64, f64, Option<StopReason>)>,
    stop_reason: Option<StopReason>,
    plateau_from: Option<f64>,
    bisected: Vec<f64>,
}

impl Search {
    pub fn new(config: &AutoConfig, mode: SweepMode, slo_set: bool) -> Search {
        Search {
            phase: Phase::Doubling { next: config.start },
            config: config.clone(),
            mode,
            slo_set,
            runs: Vec::new(),
            stop_reason: None,
            plateau_from: None,
            bisected: Vec::new(),
        }
    }

    /// The level to run next; `None` once the search is over.
    pub fn next_level(&self) -> Option<f64> {
        match self.phase {
            Phase::Doubling { next } | Phase::Bisecting { next, .. } => Some(next),
            Phase::Done => None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// What the screen shows: `doubling: 64 → 128` (`doubling: start 1` first) or
    /// `bisecting 96–128`.
    pub fn describe(&self) -> Option<String> {
        match self.phase {
            Phase::Doubling { next } => Some(match self.runs.last() {
                Some(&(last, _, _)) => format!("doubling: {} → {}", fmt(last), fmt(next)),
                None => format!("doubling: start {}", fmt(next)),
            }),
            Phase::Bisecting { pass, fail, .. } => {
                Some(format!("bisecting {}–{}", fmt(pass), fmt(fail)))
            }
            Phase::Done => None,
        }
    }

    /// Why `summary` fails the search's conditions, if it does.
    fn failure(&self, summary: &LevelSummary) -> Option<StopReason> {
        let stops = |s: AutoStop| self.config.stop.contains(&s);
        if summary.status == LevelStatus::Skipped {
            return Some(StopReason::Skipped);
        }
        if stops(AutoStop::Errors)
            && (summary.status == LevelStatus::Failed
                || summary.error_rate > self.config.max_error_rate)
        {
            return Some(StopReason::Errors);
        }
        if stops(AutoStop::Slo) && self.slo_set {
            let met = summary.slo_met.unwrap_or(0.0);
            if met * 100.0 < self.config.slo_goodput_pct {
                return Some(StopReason::Slo);
            }
        }
        None
    }

    /// The level `level` ran (all its trials) with `summary`.
    pub fn record(&mut self, level: f64, summary: &LevelSummary) {
        let failed = self.failure(summary);
        self.runs
            .push((level, summary.plotted_output_throughput(), failed));
        match self.phase {
            Phase::Doubling { .. } => self.after_doubling(level, failed),
            Phase::Bisecting { pass, fail, .. } => {
                self.bisected.push(level);
                let (pass, fail) = if failed.is_none() {
                    (level, fail)
                } else {
                    (pass, level)
                };
                self.bisect(pass, fail);
            }
            Phase::Done => {}
        }
    }

    fn after_doubling(&mut self, level: f64, failed: Option<StopReason>) {
        if let Some(reason) = failed {
            self.stop_reason = Some(reason);
            match self.highest_pass() {
                Some(pass) => self.bisect(pass, level),
                None => self.phase = Phase::Done,
            }
            return;
        }
        if self.config.stop.contains(&AutoStop::Plateau) {
            if let Some(from) = self.plateau() {
                self.stop_reason = Some(StopReason::Plateau);
                self.plateau_from = Some(from);
                self.phase = Phase::Done;
                return;
            }
        }
        let next = level * 2.0;
        if next > self.config.max {
            self.stop_reason = Some(StopReason::Max);
            self.phase = Phase::Done;
        } else {
            self.phase = Phase::Doubling { next };
        }
    }

    /// The first level of a plateau: neither of the last two doublings reached
    /// `plateau_pct` more output throughput than the level two doublings back. (Against
    /// that level, not each against the one before: a noisy dip at the middle level would
    /// otherwise make the next one look like growth.)
    fn plateau(&self) -> Option<f64> {
        let [a, b, c] = self.runs.get(self.runs.len().checked_sub(3)?..)? else {
            return None;
        };
        let limit = a.1 * (1.0 + self.config.plateau_pct / 100.0);
        (a.1 > 0.0 && b.1 < limit && c.1 < limit).then_some(a.0)
    }

    fn highest_pass(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter(|r| r.2.is_none())
            .map(|r| r.0)
            .reduce(f64::max)
    }

    /// Bisects between `pass` and `fail`, or ends when they are within `resolution`.
    fn bisect(&mut self, pass: f64, fail: f64) {
        let close = fail - pass <= self.config.resolution * pass;
        let next = match self.mode {
            SweepMode::Concurrency => ((pass + fail) / 2.0).floor(),
            SweepMode::Rate => (pass + fail) / 2.0,
        };
        if close || next <= pass || next >= fail {
            self.phase = Phase::Done;
        } else {
            self.phase = Phase::Bisecting { pass, fail, next };
        }
    }

    /// The user ended the engine's search (`n`), or the run stopped.
    pub fn end(&mut self) {
        if self.phase != Phase::Done {
            self.stop_reason = Some(StopReason::Ended);
            self.phase = Phase::Done;
        }
    }

    /// The search so far, as results record it.
    pub fn result(&self) -> SearchResult {
        let pass = self.highest_pass();
        let knee = match (self.stop_reason, self.plateau_from) {
            (Some(StopReason::Plateau), Some(from)) => Some(from),
            _ => pass,
        };
        let throughput_at = |level: f64| self.runs.iter().rev().find(|r| r.0 == level).map(|r| r.1);
        let meeting_slo = if self.slo_set && self.config.stop.contains(&AutoStop::Slo) {
            pass
        } else {
            None
        };
        SearchResult {
            stop_reason: self.stop_reason.unwrap_or(StopReason::Ended),
            knee,
            knee_output_throughput: knee.and_then(throughput_at),
            max_concurrency_meeting_slo: meeting_slo
                .filter(|_| self.mode == SweepMode::Concurrency),
            max_rate_meeting_slo: meeting_slo.filter(|_| self.mode == SweepMode::Rate),
            plateau_from: self.plateau_from,
            bisected: self.bisected.clone(),
        }
    }
}

/// A level as the screen shows it: `64`, `2.5`.
fn fmt(level: f64) -> String {
    format!("{level}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(tok_s: f64) -> LevelSummary {
        LevelSummary {
            output_throughput: tok_s,
            slo_met: Some(1.0),
            ..LevelSummary::default()
        }
    }

    fn slo_failed(tok_s: f64) -> LevelSummary {
        LevelSummary {
            slo_met: Some(0.5),
            ..passed(tok_s)
        }
    }

    /// Runs `search` to the end against `at(level)`; the levels it ran, in order.
    fn drive(search: &mut Search, at: impl Fn(f64) -> LevelSummary) -> Vec<f64> {
        let mut ran = Vec::new();
        while let Some(level) = search.next_level() {
            ran.push(level);
            search.record(level, &at(level));
            assert!(ran.len() < 100, "runaway search: {ran:?}");
        }
        ran
    }

    #[test]
    fn a_plateau_after_16_stops_two_doublings_later() {
        let config = AutoConfig::default();
        let mut s = Search::new(&config, SweepMode::Concurrency, false);
        // Throughput grows with the level up to 16, then stays flat.
        let ran = drive(&mut s, |l| passed(100.0 * l.min(16.0)));
        assert_eq!(ran, vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
        let r = s.result();
        assert_eq!(r.stop_reason, StopReason::Plateau);
        assert_eq!((r.plateau_from, r.knee), (Some(16.0), Some(16.0)));
        assert_eq!(r.knee_output_throughput, Some(1600.0));
        assert!(r.bisected.is_empty());
    }

    #[test]
    fn a_dip_inside_the_plateau_is_not_growth_after_it() {
        let config = AutoConfig::default();
        let mut s = Search::new(&config, SweepMode::Concurrency, false);
        // 16: 775, 32: 726 (a dip), 64: 794 — within 5 % of 775 both: a plateau from 16,
        // though 64 gained 9 % over 32.
        let at = |l: f64| match l as u32 {
            16 => 775.0,
            32 => 726.0,
            64 => 794.0,
            n => 48.0 * n as f64,
        };
        let ran = drive(&mut s, |l| passed(at(l)));
        assert_eq!(ran.last(), Some(&64.0));
        assert_eq!(s.result().plateau_from, Some(16.0));
        // 64 at 5 % over 16 or more is growth.
        let mut s = Search::new(&config, SweepMode::Concurrency, false);
        let ran = drive(&mut s, |l| {
            passed(if l == 64.0 { 775.0 * 1.05 } else { at(l) })
        });
        assert_ne!(ran.last(), Some(&64.0));
    }

    #[test]
    fn a_gain_of_exactly_plateau_pct_is_still_growth() {
        let config = AutoConfig::default();
        let mut s = Search::new(&config, SweepMode::Concurrency, false);
        // +5 % per doubling from 4 on: not < 5 %, so doubling goes on to the max.
        let ran = drive(&mut s, |l| passed(1000.0 * 1.05f64.powf(l.log2())));
        assert_eq!(ran.last(), Some(&1024.0));
        assert_eq!(s.result().stop_reason, StopReason::Max);
    }

    #[test]
    fn an_slo_break_is_bisected_to_within_the_resolution() {
        let config = AutoConfig::default();
        let mut s = Search::new(&config, SweepMode::Concurrency, true);
        // The SLO holds up to 45 in flight.
        let ran = drive(&mut s, |l| {
            if l <= 45.0 {
                passed(10.0 * l)
            } else {
                slo_failed(10.0 * l)
            }
        });
        assert_eq!(&ran[..7], &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
        // 48 (fail), 40 (pass), 44 (pass): 48 − 44 = 4 ≤ 10 % of 44, so it ends there,
        // within the resolution of the true break (45).
        assert_eq!(&ran[7..], &[48.0, 40.0, 44.0]);
        let r = s.result();
        assert_eq!(r.stop_reason, StopReason::Slo);
        assert_eq!(r.knee, Some(44.0));
        assert!(45.0 - 44.0 <= config.resolution * 44.0);
        assert_eq!(r.max_concurrency_meeting_slo, Some(44.0));
        assert_eq!(r.knee_output_throughput, Some(440.0));
        assert_eq!(r.bisected, vec![48.0, 40.0, 44.0]);
    }

    #[test]
    fn a_coarser_resolution_stops_bisecting_earlier() {
        let config = AutoConfig {
            resolution: 0.25,
            ..AutoConfig::default()
        };
        let mut s = Search::new(&config, SweepMode::Concurrency, true);
        let ran = drive(
            &mut s,
            |l| if l <= 45.0 { passed(l) } else { slo_failed(l) },
        );
        // 32 pass / 64 fail → 48 fail → 40 pass: 48 − 40 = 8 ≤ 0.25 × 40 (a finer one
        // would go on to 44).
        assert_eq!(&ran[7..], &[48.0, 40.0]);
        assert_eq!(s.result().knee, Some(40.0));
    }

    #[test]
    fn errors_and_skips_fail_a_level_and_a_first_failure_has_no_knee() {
        let config = AutoConfig::default();
        let mut s = Search::new(&config, SweepMode::Concurrency, false);
        let errors = LevelSummary {
            error_rate: 0.2,
            ..passed(10.0)
        };
        s.record(1.0, &errors);
        assert!(s.is_done());
        let r = s.result();
        assert_eq!((r.stop_reason, r.knee), (StopReason::Errors, None));
        // A 5 % error rate is at the limit, not over it.
        let mut s = Search::new(&config, SweepMode::Concurrency, false);
        s.record(
            1.0,
            &LevelSummary {
                error_rate: 0.05,
                ..passed(10.0)
            },
        );
        assert_eq!(s.next_level(), Some(2.0));
        s.record(
            2.0,
            &LevelSummary {
                status: LevelStatus::Skipped,
                ..passed(20.0)
            },
        );
        assert_eq!(s.result().stop_reason, StopReason::Skipped);
        // 1 passed, 2 skipped: 1 apart, nothing to bisect.
        assert!(s.is_done());
        assert_eq!(s.result().knee, Some(1.0));
    }

    #[test]
    fn the_slo_stop_needs_an_slo_and_the_stop_list_decides() {
        let only_plateau = AutoConfig {
            stop: vec![AutoStop::Plateau],
            max: 8.0,
            ..AutoConfig::default()
        };
        let mut s = Search::new(&only_plateau, SweepMode::Concurrency, true);
        let ran = drive(&mut s, |l| slo_failed(100.0 * l));
        assert_eq!(ran, vec![1.0, 2.0, 4.0, 8.0]);
        assert_eq!(s.result().stop_reason, StopReason::Max);
        assert_eq!(s.result().max_concurrency_meeting_slo, None);
        // No [slo] set: `slo` in the list changes nothing.
        let mut s = Search::new(
            &AutoConfig {
                max: 8.0,
                ..AutoConfig::default()
            },
            SweepMode::Concurrency,
            false,
        );
        assert_eq!(drive(&mut s, |l| slo_failed(100.0 * l)).len(), 4);
    }

    #[test]
    fn rate_mode_bisects_in_fractions_and_says_so() {
        let config = AutoConfig {
            start: 0.5,
            ..AutoConfig::default()
        };
        let mut s = Search::new(&config, SweepMode::Rate, true);
        assert_eq!(s.describe().as_deref(), Some("doubling: start 0.5"));
        let ran = drive(&mut s, |l| if l <= 3.0 { passed(l) } else { slo_failed(l) });
        assert_eq!(&ran[..4], &[0.5, 1.0, 2.0, 4.0]);
        assert_eq!(ran[4], 3.0);
        let r = s.result();
        assert_eq!(r.max_rate_meeting_slo, r.knee);
        assert_eq!(r.max_concurrency_meeting_slo, None);
        let knee = r.knee.unwrap();
        assert!((3.0..=3.3).contains(&knee), "{knee}");
    }

    #[test]
    fn the_state_reads_doubling_then_bisecting_and_ending_is_final() {
        let mut s = Search::new(&AutoConfig::default(), SweepMode::Concurrency, true);
        s.record(1.0, &passed(1.0));
        assert_eq!(s.describe().as_deref(), Some("doubling: 1 → 2"));
        s.record(2.0, &passed(2.0));
        s.record(4.0, &slo_failed(4.0));
        assert_eq!(s.describe().as_deref(), Some("bisecting 2–4"));
        assert_eq!(s.next_level(), Some(3.0));
        s.end();
        assert!(s.is_done());
        assert_eq!(s.result().stop_reason, StopReason::Ended);
        assert_eq!(s.result().knee, Some(2.0));
    }
}
