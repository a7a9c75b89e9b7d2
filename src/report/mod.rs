//! Exporters: everything a finished (or partial) [`Report`] is rendered into.
//!
//! Every exporter is a pure function of the report — no clock, no environment — so the same
//! `results.json` always re-renders to byte-identical CSV and Markdown.
//!
//! - [`chart`]    — the comparison chart, PNG and SVG (plotters, embedded DejaVu Sans).
//! - [`csv`]      — `levels.csv`: one row per engine × level, every aggregate.
//! - [`markdown`] — `summary.md`: run metadata and one table per key metric.
//! - [`compare`]  — merging several saved runs into one report to compare them.
//! - `font`       — the embedded DejaVu Sans and its rasteriser.
//!
//! `chart` and `markdown` are folders of small files, one idea each; their `mod.rs` lists them.
//!
//! This file ties them together: [`write_all`] writes every file of a results folder
//! atomically, and [`run_report_command`] is `llmsweep report <results.json>...`.

pub mod chart;
pub mod compare;
pub mod csv;
mod font;
pub mod markdown;
pub mod vllm;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::results::model::{LevelStatus, LevelSummary, Report, ThroughputBasis};

pub use chart::{
    chart_layout, chart_png, chart_points, chart_svg, ChartKind, ChartLayout, Marker, PlottedPoint,
    Rect,
};
pub use compare::merge_runs;
pub use csv::levels_csv;
pub use markdown::summary_md;

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

/// Which optional files [`write_all`] produces besides `chart.png`, `levels.csv`, `summary.md`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Also write `chart-extended.png` (output tok/s, TPOT, error rate) and, when any level
    /// was scraped, `chart-server.png` (KV usage, waiting requests, client-added TTFT).
    pub extended: bool,
    /// Also write an `.svg` next to every `.png`.
    pub svg: bool,
}

/// Writes `chart.png` (and `chart-extended.png` / `.svg` files as `opts` asks), `levels.csv` and
/// `summary.md` into `dir` (created if missing). Every file is written to a `.tmp` file first and
/// renamed into place, so a reader never sees a half-written file. Returns the paths written,
/// charts first.
pub fn write_all(
    report: &Report,
    dir: &Path,
    opts: &ExportOptions,
) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut kinds = vec![(ChartKind::Standard, "chart")];
    if opts.extended {
        kinds.push((ChartKind::Extended, "chart-extended"));
        let scraped = report
            .engines
            .iter()
            .flat_map(|e| &e.levels)
            .any(|l| l.server.is_some());
        if scraped {
            kinds.push((ChartKind::Server, "chart-server"));
        }
    }
    let mut written = Vec::new();
    for (kind, stem) in kinds {
        let png = chart_png(report, kind)?;
        written.push(write_atomic(&dir.join(format!("{stem}.png")), &png)?);
        if opts.svg {
            let svg = chart_svg(report, kind)?;
            written.push(write_atomic(
                &dir.join(format!("{stem}.svg")),
                svg.as_bytes(),
            )?);
        }
    }
    written.push(write_atomic(&dir.join("levels.csv"), &levels_csv(report))?);
    written.push(write_atomic(&dir.join("summary.md"), &summary_md(report))?);
    Ok(written)
}

/// `llmsweep report`: reads one or more `results.json` files (a run folder is accepted for its
/// `results.json`), merges them with [`merge_runs`] when there are several, and writes every
/// export into `out` — by default the folder of the first input. Errors are one line and name
/// the offending file.
pub fn run_report_command(
    inputs: &[PathBuf],
    out: Option<&Path>,
    opts: &ExportOptions,
) -> anyhow::Result<Vec<PathBuf>> {
    let Some(first) = inputs.first() else {
        return Err(anyhow!("no results.json given"));
    };
    let reports = inputs
        .iter()
        .map(|path| read_report(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = match reports.as_slice() {
        [one] => one.clone(),
        many => merge_runs(many),
    };
    let out = match out {
        Some(dir) => dir.to_path_buf(),
        None => default_out_dir(first),
    };
    write_all(&report, &out, opts).map_err(|e| anyhow!("{e}"))
}

/// `--vllm-json`: the run in `run_dir` (its results.json and requests.jsonl) as
/// `vllm bench serve` result files in `out/vllm/`, one per (engine, level); `detailed` adds
/// the per-request arrays.
pub fn write_vllm(run_dir: &Path, out: &Path, detailed: bool) -> anyhow::Result<Vec<PathBuf>> {
    let report = read_report(run_dir)?;
    let path = run_dir.join("requests.jsonl");
    let text =
        fs::read_to_string(&path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    let requests: Vec<vllm::Request> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|l| vllm::Request::from_line(&l))
        .collect();
    let dir = out.join("vllm");
    fs::create_dir_all(&dir).map_err(|e| anyhow!("cannot create {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for (name, bytes) in vllm::all(&report, &requests, detailed) {
        written.push(write_atomic(&dir.join(name), &bytes).map_err(|e| anyhow!("{e}"))?);
    }
    Ok(written)
}

/// Reads and parses one `results.json` (or `<dir>/results.json`).
fn read_report(path: &Path) -> anyhow::Result<Report> {
    let file = if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    };
    let text =
        fs::read_to_string(&file).map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
    Report::from_json(&text).map_err(|e| anyhow!("{}: {e}", file.display()))
}

/// The folder of `input` (itself when it is a folder; `.` for a bare file name).
fn default_out_dir(input: &Path) -> PathBuf {
    if input.is_dir() {
        return input.to_path_buf();
    }
    match input.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `<path>.<n>.tmp`, then renames it to `path`. `n` is new for every write,
/// so two exports at once (`e` just as the run ends) never write into one temporary file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<PathBuf, ReportError> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".{}-{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let io_err = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let result = fs::File::create(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    Ok(path.to_path_buf())
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

/// Which throughput figures a set of levels shows (see [`LevelSummary::throughput_basis`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasisMix {
    /// Every level shows its steady-state window's figure.
    Steady,
    /// Every level shows its whole-level figure (no window held enough completions).
    WholeLevel,
    /// Some of each: the whole-level ones carry [`WHOLE_LEVEL_MARK`].
    Mixed,
}

/// Marks a whole-level throughput beside steady-state ones.
pub const WHOLE_LEVEL_MARK: &str = "†";

impl BasisMix {
    /// The mix of `levels`; `None` when there are none.
    pub fn of<'a>(levels: impl IntoIterator<Item = &'a LevelSummary>) -> Option<BasisMix> {
        let (mut steady, mut whole) = (false, false);
        for l in levels {
            match l.throughput_basis() {
                ThroughputBasis::Steady => steady = true,
                ThroughputBasis::WholeLevel => whole = true,
            }
        }
        match (steady, whole) {
            (true, true) => Some(BasisMix::Mixed),
            (true, false) => Some(BasisMix::Steady),
            (false, true) => Some(BasisMix::WholeLevel),
            (false, false) => None,
        }
    }

    /// The mix over every level of `report`.
    pub fn of_report(report: &Report) -> Option<BasisMix> {
        BasisMix::of(report.engines.iter().flat_map(|e| &e.levels))
    }

    /// [`WHOLE_LEVEL_MARK`] for a whole-level figure among steady-state ones, else nothing.
    pub fn mark(mix: Option<BasisMix>, level: &LevelSummary) -> &'static str {
        if mix == Some(BasisMix::Mixed) && level.throughput_basis() == ThroughputBasis::WholeLevel {
            WHOLE_LEVEL_MARK
        } else {
            ""
        }
    }

    /// What the throughput figures are, in one sentence for a footer or a note.
    pub fn explain(self) -> &'static str {
        match self {
            BasisMix::Steady => {
                "throughput: steady-state window (ramp-up and drain excluded)"
            }
            BasisMix::WholeLevel => {
                "throughput: whole level, first send to last completion (ramp-up and drain included)"
            }
            BasisMix::Mixed => {
                "throughput: steady-state window (ramp-up and drain excluded) where it held ≥ 2 × peak in-flight completions; † = whole level (ramp-up and drain included)"
            }
        }
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

/// What a sweep's levels are, for their labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Swept {
    /// Requests (or conversations) in flight: `C=4`.
    #[default]
    Concurrency,
    /// Requests per second: `r=2.5/s`.
    Rate,
    /// Speed factors of a replayed trace: `2×`.
    TraceSpeed,
}

impl Swept {
    pub fn of(report: &Report) -> Swept {
        if report.workload.trace.is_some() {
            Swept::TraceSpeed
        } else if report.workload.mode == "rate" {
            Swept::Rate
        } else {
            Swept::Concurrency
        }
    }

    /// Open loop (rate mode, a trace): requests are sent on a schedule.
    pub fn open_loop(self) -> bool {
        self != Swept::Concurrency
    }

    /// The swept quantity: `concurrency`, `request rate (req/s)`, `trace speed (×)`.
    pub fn name(self) -> &'static str {
        match self {
            Swept::Concurrency => "concurrency",
            Swept::Rate => "request rate (req/s)",
            Swept::TraceSpeed => "trace speed (×)",
        }
    }

    /// A table's column header: `C`, `rate`, `speed`.
    pub fn column(self) -> &'static str {
        match self {
            Swept::Concurrency => "C",
            Swept::Rate => "rate",
            Swept::TraceSpeed => "speed",
        }
    }

    /// One level: `C=4`, `r=2.5/s`, `2×`.
    pub fn label(self, level: f64) -> String {
        let value = crate::tui::format::level(level);
        match self {
            Swept::Concurrency => format!("C={value}"),
            Swept::Rate => format!("r={value}/s"),
            Swept::TraceSpeed => format!("{value}×"),
        }
    }
}

/// True in rate mode (levels are req/s).
pub(crate) fn is_rate(report: &Report) -> bool {
    report.workload.mode == "rate"
}

/// True when SLOs were set: some level has a goodput.
pub(crate) fn has_slo(report: &Report) -> bool {
    report
        .engines
        .iter()
        .any(|e| e.levels.iter().any(|l| l.request_goodput.is_some()))
}

/// Measured seconds per level of a duration-bound sweep: `config.sweep.duration_s`, else the
/// workload's `duration_s`.
pub(crate) fn duration_s(report: &Report) -> Option<f64> {
    report.config["sweep"]["duration_s"]
        .as_f64()
        .or(report.workload.duration_s)
        .filter(|d| d.is_finite() && *d > 0.0)
}

/// The warmup before each level: `+2 warmup`, `+1.5 s warmup`, or both.
pub(crate) fn warmup_text(w: &crate::results::model::Workload) -> String {
    match (w.warmup_requests, w.warmup_s) {
        (n, None) => format!("+{n} warmup"),
        (0, Some(s)) => format!("+{s} s warmup"),
        (n, Some(s)) => format!("+{n} or {s} s warmup"),
    }
}

/// `merged from 4 shards` (and which were missing), for a merged run.
pub(crate) fn shards_text(report: &Report) -> Option<String> {
    let m = report.merged.as_ref()?;
    Some(match m.missing.as_slice() {
        [] => format!("merged from {} shards", m.shards),
        missing => format!(
            "merged from {} of {} shards (missing: {missing:?})",
            m.from.len(),
            m.shards
        ),
    })
}
/// `64 requests per level`, or `duration 30 s per level` when levels are time-bound only.
pub(crate) fn per_level_text(report: &Report) -> String {
    let w = &report.workload;
    match duration_s(report) {
        Some(d) if w.requests_per_level == 0 => format!("duration {} s per level", fmt_level(d)),
        _ if w.requests_per_level == 0 => "duration-bound levels".to_string(),
        _ => format!("{} requests per level", w.requests_per_level),
    }
}

/// The SLOs from `config.slo`: `TTFT ≤ 500 ms, TPOT ≤ 50 ms, attainment 90%`; `None` when no
/// objective is set.
pub(crate) fn slo_text(report: &Report) -> Option<String> {
    let slo = &report.config["slo"];
    let mut parts = Vec::new();
    for (key, name) in [("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E")] {
        if let Some(v) = slo[key].as_f64() {
            parts.push(format!("{name} ≤ {} ms", fmt_level(v)));
        }
    }
    if parts.is_empty() {
        return None;
    }
    if let Some(a) = slo["attainment"].as_f64() {
        parts.push(format!("attainment {}%", fmt_level(a * 100.0)));
    }
    Some(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_sweeps_speeds_and_rate_mode_rates() {
        let mut report = Report::default();
        report.workload.mode = "concurrency".into();
        assert_eq!(Swept::of(&report), Swept::Concurrency);
        report.workload.mode = "rate".into();
        assert_eq!(Swept::of(&report), Swept::Rate);
        report.workload.trace = Some("t.jsonl".into());
        let trace = Swept::of(&report);
        assert_eq!(trace, Swept::TraceSpeed);
        assert_eq!(
            [Swept::Concurrency, Swept::Rate, trace].map(|s| (
                s.column(),
                s.label(2.5),
                s.open_loop()
            )),
            [
                ("C", "C=2.5".to_string(), false),
                ("rate", "r=2.5/s".to_string(), true),
                ("speed", "2.5×".to_string(), true)
            ]
        );
        // The headless line of a trace level says its speed.
        let level = LevelSummary {
            level: 2.0,
            ..LevelSummary::default()
        };
        let line = crate::headless::level_line("e", &level, trace);
        assert!(line.contains(" 2× "), "{line}");
    }

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

    #[test]
    fn default_out_dir_is_the_input_folder() {
        assert_eq!(
            default_out_dir(Path::new("results.json")),
            PathBuf::from(".")
        );
        assert_eq!(
            default_out_dir(Path::new("runs/a/results.json")),
            PathBuf::from("runs/a")
        );
    }
}
