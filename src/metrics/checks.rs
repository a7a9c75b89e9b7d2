//! Checks of a finished level that a reader must see beside its numbers: a level that never
//! reached its concurrency, a steady-state window too short to trust, coalesced chunks.

use crate::config::SweepMode;
use crate::results::model::LevelSummary;

/// Above this share of coalesced chunks ITL percentiles are read-granular.
pub const COALESCED_WARN_FRACTION: f64 = 0.05;

/// Warnings for a level that ran to its end; `label` names it (`C=32`, `2.5 req/s`).
pub fn level_warnings(summary: &LevelSummary, label: &str, mode: SweepMode) -> Vec<String> {
    let mut warnings = Vec::new();
    let c = summary.max_concurrency;
    if mode == SweepMode::Concurrency && summary.completed > 0 {
        let fix = format!(
            "set requests_per_level ≥ 4 × C ({}) or duration_s",
            4 * u64::from(c)
        );
        let window = summary.steady_window_s.unwrap_or(0.0);
        if summary.achieved_peak_concurrency < c {
            warnings.push(format!(
                "{label}: at most {} requests were in flight, never {c}; the level did not run at its concurrency: {fix}",
                summary.achieved_peak_concurrency
            ));
        } else if window < summary.duration / 2.0 {
            warnings.push(format!(
                "{label}: steady state held for {window:.2} s of {:.2} s active: whole-level throughput is mostly ramp-up and drain; {fix}",
                summary.duration
            ));
        }
    }
    if summary.coalesced_fraction > COALESCED_WARN_FRACTION {
        warnings.push(format!(
            "{label}: {:.1} % of output chunks arrived in the same read as the one before: ITL percentiles are read-granular",
            summary.coalesced_fraction * 100.0
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(peak: u32, window_s: Option<f64>, duration: f64) -> LevelSummary {
        LevelSummary {
            level: 32.0,
            max_concurrency: 32,
            completed: 50,
            duration,
            achieved_peak_concurrency: peak,
            steady_window_s: window_s,
            ..LevelSummary::default()
        }
    }

    #[test]
    fn a_level_that_never_reached_c_says_so_and_names_the_fix() {
        let w = level_warnings(&level(20, None, 2.0), "C=32", SweepMode::Concurrency);
        assert_eq!(
            w,
            ["C=32: at most 20 requests were in flight, never 32; the level did not run at its concurrency: set requests_per_level ≥ 4 × C (128) or duration_s"]
        );
    }

    #[test]
    fn a_short_steady_window_is_flagged() {
        let w = level_warnings(&level(32, Some(0.9), 2.0), "C=32", SweepMode::Concurrency);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("C=32: steady state held for 0.90 s of 2.00 s active"),
            "{w:?}"
        );
        // Half or more is fine.
        assert!(
            level_warnings(&level(32, Some(1.0), 2.0), "C=32", SweepMode::Concurrency).is_empty()
        );
        // Rate mode has no concurrency to reach.
        assert!(level_warnings(&level(3, None, 2.0), "2 req/s", SweepMode::Rate).is_empty());
    }

    #[test]
    fn a_level_without_a_success_gets_no_concurrency_warning() {
        // Nothing completed (all failed): its status says so; "never reached C" would mislead.
        let mut l = level(0, None, 2.0);
        l.completed = 0;
        assert!(level_warnings(&l, "C=32", SweepMode::Concurrency).is_empty());
    }

    #[test]
    fn coalesced_chunks_above_five_percent_warn() {
        let mut l = level(32, Some(2.0), 2.0);
        l.coalesced_fraction = 0.05;
        assert!(level_warnings(&l, "C=32", SweepMode::Concurrency).is_empty());
        l.coalesced_fraction = 0.12;
        assert_eq!(
            level_warnings(&l, "C=32", SweepMode::Concurrency),
            ["C=32: 12.0 % of output chunks arrived in the same read as the one before: ITL percentiles are read-granular"]
        );
    }
}
