//! Exporters: everything a finished (or partial) [`Report`] is rendered into.
//!
//! Every exporter is a pure function of the report — no clock, no environment — so the same
//! `results.json` always re-renders to byte-identical CSV and Markdown.
//!
//! - [`chart`]    — the comparison chart, PNG and SVG (plotters, embedded DejaVu Sans).
//! - `font`       — the embedded DejaVu Sans and its rasteriser.

pub mod chart;
mod font;

use std::path::PathBuf;

use crate::results::model::{LevelStatus, LevelSummary, Report};

pub use chart::{chart_layout, chart_png, chart_svg, ChartKind, ChartLayout, Rect};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The embedded chart font could not be loaded (a corrupt build).
    #[error("the embedded chart font could not be loaded")]
    Font,
    /// plotters failed to draw the chart.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// The rendered chart could not be encoded as PNG.
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(String),
    /// Writing an output file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file (or folder) being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

// ---- helpers shared by the exporters -------------------------------------------------------

/// How a level is drawn and ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quality {
    /// Ran to the end with mostly successes.
    Good,
    /// Cut short: the numbers cover what ran.
    Partial,
    /// `Failed`, or more than half the requests failed: not a measure of speed.
    Failed,
}

/// Classifies a level; `error_rate > 0.5` counts as failed whatever the status says.
pub(crate) fn quality(level: &LevelSummary) -> Quality {
    if level.status == LevelStatus::Failed || level.error_rate > 0.5 {
        Quality::Failed
    } else if level.status == LevelStatus::Skipped {
        Quality::Partial
    } else {
        Quality::Good
    }
}

/// The distinct models of the run, in engine order, joined by `, `.
pub(crate) fn models(report: &Report) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for engine in &report.engines {
        if !seen.contains(&engine.model.as_str()) {
            seen.push(&engine.model);
        }
    }
    seen.join(", ")
}

/// `2025-11-28T03:33:07Z` → `2025-11-28 03:33 UTC`; anything unexpected is returned as is.
pub(crate) fn display_time(rfc3339: &str) -> String {
    let b = rfc3339.as_bytes();
    let shape_ok = b.len() >= 16
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        && b[13] == b':'
        && rfc3339.is_char_boundary(16);
    if !shape_ok {
        return rfc3339.to_string();
    }
    let date = &rfc3339[..10];
    let hm = &rfc3339[11..16];
    let zone = if rfc3339.ends_with('Z') || rfc3339.ends_with('z') {
        " UTC".to_string()
    } else {
        match rfc3339[16..].rfind(['+', '-']) {
            Some(i) => format!(" UTC{}", &rfc3339[16 + i..]),
            None => String::new(),
        }
    };
    format!("{date} {hm}{zone}")
}

/// A level for humans: `4`, `0.5`, `12.25` (at most 3 decimals, no trailing zeros).
pub(crate) fn fmt_level(level: f64) -> String {
    if !level.is_finite() {
        return level.to_string();
    }
    let text = format!("{level:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// The name of the swept quantity: `concurrency` or `request rate (req/s)`.
pub(crate) fn level_name(report: &Report) -> &'static str {
    if report.workload.mode == "rate" {
        "request rate (req/s)"
    } else {
        "concurrency"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_time_shapes() {
        assert_eq!(display_time("2025-11-28T03:33:07Z"), "2025-11-28 03:33 UTC");
        assert_eq!(
            display_time("2025-11-28T03:33:07.123+02:00"),
            "2025-11-28 03:33 UTC+02:00"
        );
        assert_eq!(display_time("yesterday"), "yesterday");
        assert_eq!(display_time(""), "");
        assert_eq!(display_time("2025-11-28T03:3é"), "2025-11-28T03:3é");
    }

    #[test]
    fn level_formatting() {
        assert_eq!(fmt_level(4.0), "4");
        assert_eq!(fmt_level(0.5), "0.5");
        assert_eq!(fmt_level(2f64.powf(3f64.log2())), "3");
        assert_eq!(fmt_level(-0.0001), "0");
        assert_eq!(fmt_level(f64::NAN), "NaN");
    }
}
