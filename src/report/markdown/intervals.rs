//! The tables' `mean ± half-width` cells: the half-width of a level's 95 % interval in the
//! table's unit, the noisy marker and the note saying what `±` means.

use std::fmt::Write as _;

use super::metrics::Metric;
use super::text::inline;
use super::verdict::{level_label, BATCH_MEANS_MARK};
use crate::results::confidence::{IntervalMethod, NOISY_CV};
use crate::results::model::{LevelSummary, Report};

/// Marks a cell whose metric moved more than [`NOISY_CV`] across trials.
pub(super) const NOISY_MARK: &str = "⚠";

/// The half-width of `l`'s interval of `m`, in the table's unit; `None` without one.
pub(super) fn half_width(l: &LevelSummary, m: &Metric) -> Option<f64> {
    let of = m.interval.as_ref()?;
    let interval = (of.get)(l.intervals.as_ref()?)?;
    Some(interval.half_width() * of.scale)
}

/// True when `m`'s interval at `l` is from batch means.
pub(super) fn from_batch_means(l: &LevelSummary, m: &Metric) -> bool {
    half_width(l, m).is_some()
        && l.intervals
            .as_ref()
            .is_some_and(|i| i.method == IntervalMethod::BatchMeans)
}

/// True when `l` lists `m` among its noisy metrics.
pub(super) fn noisy(l: &LevelSummary, m: &Metric) -> bool {
    let (Some(of), Some(i)) = (m.interval.as_ref(), l.intervals.as_ref()) else {
        return false;
    };
    i.noisy.iter().any(|n| n == of.name)
}

/// Which interval methods the report's levels use: (trials, batch means).
pub(super) fn methods(report: &Report) -> (bool, bool) {
    let levels = || report.engines.iter().flat_map(|e| &e.levels);
    let has =
        |m: IntervalMethod| levels().any(|l| l.intervals.as_ref().is_some_and(|i| i.method == m));
    (has(IntervalMethod::Trials), has(IntervalMethod::BatchMeans))
}

/// The paragraph before the tables when some level has intervals: what `±` is, over how many
/// trials, and the noisy levels with their metrics. Nothing otherwise.
pub(super) fn interval_note(md: &mut String, report: &Report) {
    let (trials, batches) = methods(report);
    if !trials && !batches {
        return;
    }
    let mut parts = Vec::new();
    if trials {
        let k = report.workload.trials.map_or_else(
            || {
                report
                    .engines
                    .iter()
                    .flat_map(|e| &e.levels)
                    .filter_map(|l| l.intervals.as_ref())
                    .map(|i| i.n)
                    .max()
                    .unwrap_or(0)
                    .to_string()
            },
            |k| k.to_string(),
        );
        parts.push(format!(
            "over {k} trials (each level's value is the mean of its trials; run-to-run noise \
             included)"
        ));
    }
    if batches {
        let mark = if trials {
            format!(" ({BATCH_MEANS_MARK})")
        } else {
            String::new()
        };
        parts.push(format!(
            "within one run{mark}: batch means of the steady-state window — no run-to-run noise \
             included"
        ));
    }
    let _ = writeln!(
        md,
        "*±*: half-width of the 95 % confidence interval of the mean, {}.\n",
        parts.join("; ")
    );
    let noisy: Vec<String> = report
        .engines
        .iter()
        .flat_map(|e| {
            e.levels_by_value().into_iter().filter_map(move |l| {
                let i = l.intervals.as_ref().filter(|i| !i.noisy.is_empty())?;
                Some(format!(
                    "{} at {} ({})",
                    inline(&e.name),
                    level_label(report, l.level),
                    i.noisy.join(", ")
                ))
            })
        })
        .collect();
    if !noisy.is_empty() {
        let _ = writeln!(
            md,
            "{NOISY_MARK} CV > {:.0} % across trials: {}.\n",
            NOISY_CV * 100.0,
            noisy.join("; ")
        );
    }
}
