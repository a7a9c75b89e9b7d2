//! Chart: error bars (95 % intervals over trials) and the knee marks of an auto sweep, read
//! back from the SVG; and charts without either, byte for byte as before.

use std::fs;
use std::path::Path;

use llmsweep::report::{chart_layout, chart_png, chart_svg, ChartKind, Rect};
use llmsweep::results::confidence::{Interval, IntervalMethod, LevelIntervals};
use llmsweep::results::model::{EngineReport, LevelStatus, LevelSummary, Report, Workload};
use llmsweep::results::search::{SearchResult, StopReason};

// ---- fixtures ------------------------------------------------------------------------------

fn load(rel: &str) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// A level: `req_s` request throughput (whole level: no steady window), medians `ttft` and
/// `e2e` ms, p99s twice the medians.
fn level(level: f64, req_s: f64, ttft: f64, e2e: f64) -> LevelSummary {
    let tpot = (e2e - ttft) / 127.0;
    LevelSummary {
        level,
        max_concurrency: level as u32,
        status: LevelStatus::Complete,
        duration: 64.0 / req_s,
        completed: 64,
        total_output_tokens: 64 * 128,
        request_throughput: req_s,
        output_throughput: req_s * 128.0,
        mean_output_tokens: 128.0,
        mean_ttft_ms: Some(ttft * 1.05),
        median_ttft_ms: Some(ttft),
        p99_ttft_ms: Some(ttft * 2.0),
        mean_tpot_ms: Some(tpot * 1.02),
        median_tpot_ms: Some(tpot),
        p99_tpot_ms: Some(tpot * 1.3),
        mean_e2el_ms: Some(e2e * 1.03),
        median_e2el_ms: Some(e2e),
        p99_e2el_ms: Some(e2e * 2.0),
        ..LevelSummary::default()
    }
}

/// An interval around `mean`: `below` under it, `above` over it.
fn iv(mean: f64, below: f64, above: f64) -> Option<Interval> {
    Some(Interval {
        mean,
        low: mean - below,
        high: mean + above,
        cv: 0.05,
        values: vec![mean - below / 2.0, mean, mean + above / 2.0],
    })
}

/// The level's intervals by `method` over `n`, each metric ± `frac` of its value.
fn with_intervals(mut l: LevelSummary, method: IntervalMethod, n: u32, frac: f64) -> LevelSummary {
    let around = |v: Option<f64>| v.and_then(|v| iv(v, v * frac, v * frac));
    l.intervals = Some(LevelIntervals {
        method,
        n,
        confidence: 0.95,
        request_throughput: around(Some(l.request_throughput)),
        output_throughput: around(Some(l.output_throughput)),
        mean_ttft_ms: around(l.mean_ttft_ms),
        median_ttft_ms: around(l.median_ttft_ms),
        p99_ttft_ms: None,
        mean_tpot_ms: around(l.mean_tpot_ms),
        mean_e2el_ms: around(l.mean_e2el_ms),
        median_e2el_ms: around(l.median_e2el_ms),
        noisy: Vec::new(),
    });
    l
}

fn engine(name: &str, color: &str, levels: Vec<LevelSummary>) -> EngineReport {
    EngineReport {
        name: name.to_string(),
        url: format!("http://127.0.0.1:0/{}", name.to_lowercase()),
        model: "Qwen/Qwen2.5-7B-Instruct".to_string(),
        api: "chat".to_string(),
        color: color.to_string(),
        levels,
        ..EngineReport::default()
    }
}

fn report(mode: &str, engines: Vec<EngineReport>, trials: Option<u32>) -> Report {
    let mut levels: Vec<f64> = Vec::new();
    for l in engines.iter().flat_map(|e| &e.levels) {
        if !levels.contains(&l.level) {
            levels.push(l.level);
        }
    }
    Report {
        schema_version: llmsweep::results::model::SCHEMA_VERSION,
        tool: "llmsweep 0.1.0".to_string(),
        run_name: "chart-ci".to_string(),
        started_at: "2025-01-02T03:04:05Z".to_string(),
        status: llmsweep::results::model::RunStatus::Complete,
        seed: 7,
        workload: Workload {
            mode: mode.to_string(),
            levels,
            requests_per_level: 64,
            warmup_requests: 4,
            max_tokens: 128,
            prompt_source: "inline pool (4 prompts)".to_string(),
            trials,
            ..Workload::default()
        },
        engines,
        config: serde_json::json!({}),
        ..Report::default()
    }
}

const BLUE: &str = "#1F77B4";
const ORANGE: &str = "#FF7F0E";
const PURPLE: &str = "#9467BD";

/// Two engines × 4 levels, 3 trials. Blue's level 8 throughput interval reaches far above
/// every value (the y axis must follow it) and its level 1 throughput interval below 0 (cut at
/// the axis); orange's level 4 was skipped (still barred) and its level 8 failed (no bar).
fn trials_report() -> Report {
    let t = |l: LevelSummary| with_intervals(l, IntervalMethod::Trials, 3, 0.08);
    let mut blue_8 = t(level(8.0, 20.0, 90.0, 2900.0));
    let ivs = blue_8.intervals.as_mut().unwrap();
    ivs.request_throughput = iv(20.0, 2.0, 14.0);
    let mut blue_1 = t(level(1.0, 4.0, 38.0, 1700.0));
    blue_1.intervals.as_mut().unwrap().request_throughput = iv(4.0, 6.0, 1.0);
    let blue = engine(
        "vLLM",
        BLUE,
        vec![
            blue_1,
            t(level(2.0, 7.5, 45.0, 1800.0)),
            t(level(4.0, 13.0, 60.0, 2050.0)),
            blue_8,
        ],
    );
    let mut orange_4 = t(level(4.0, 12.0, 70.0, 2200.0));
    orange_4.status = LevelStatus::Skipped;
    let mut orange_8 = t(level(8.0, 1.5, 800.0, 9000.0));
    orange_8.status = LevelStatus::Failed;
    orange_8.error_rate = 0.9;
    let orange = engine(
        "SGLang",
        ORANGE,
        vec![
            t(level(1.0, 4.4, 31.0, 1650.0)),
            t(level(2.0, 8.0, 40.0, 1760.0)),
            orange_4,
            orange_8,
        ],
    );
    report("concurrency", vec![blue, orange], Some(3))
}

/// An auto sweep: levels in the order they ran (doubling, then bisecting back), a knee per
/// engine found against the SLO.
fn auto_report(knees: &[(&str, &str, f64)], mode: &str) -> Report {
    let order: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 24.0, 20.0];
    let engines = knees
        .iter()
        .enumerate()
        .map(|(i, &(name, color, knee))| {
            let levels = order
                .iter()
                .map(|&c| {
                    let req_s = 3.0 * c.min(20.0) / (1.0 + i as f64 * 0.1);
                    level(c, req_s, 30.0 + c * 4.0, 1500.0 + c * 40.0)
                })
                .collect();
            let mut e = engine(name, color, levels);
            e.search = Some(SearchResult {
                stop_reason: StopReason::Slo,
                knee: Some(knee),
                knee_output_throughput: None,
                max_concurrency_meeting_slo: (mode == "concurrency").then_some(knee),
                max_rate_meeting_slo: (mode == "rate").then_some(knee),
                plateau_from: None,
                bisected: vec![24.0, 20.0],
            });
            e
        })
        .collect();
    report(mode, engines, None)
}

// ---- reading the SVG back ------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Polyline {
    /// Position among the SVG's elements: later is drawn on top.
    order: usize,
    stroke: String,
    width: String,
    opacity: String,
    points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone)]
struct Circle {
    order: usize,
    fill: String,
    at: (f64, f64),
}

#[derive(Debug, Clone)]
struct Text {
    x: f64,
    y: f64,
    anchor: String,
    fill: String,
    content: String,
}

#[derive(Debug, Default)]
struct Svg {
    lines: Vec<Polyline>,
    circles: Vec<Circle>,
    texts: Vec<Text>,
}

fn attr(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    tag.find(&key)
        .map(|i| {
            let rest = &tag[i + key.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .unwrap_or_default()
}

fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name).parse().unwrap()
}

fn parse(svg: &str) -> Svg {
    let mut out = Svg::default();
    let mut rest = svg;
    let mut order = 0;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        order += 1;
        if tag.starts_with("<polyline") {
            out.lines.push(Polyline {
                order,
                stroke: attr(tag, "stroke").to_uppercase(),
                width: attr(tag, "stroke-width"),
                opacity: attr(tag, "opacity"),
                points: attr(tag, "points")
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect(),
            });
        } else if tag.starts_with("<circle") {
            out.circles.push(Circle {
                order,
                fill: attr(tag, "fill").to_uppercase(),
                at: (num(tag, "cx"), num(tag, "cy")),
            });
        } else if tag.starts_with("<text") {
            let close = rest.find("</text>").unwrap();
            out.texts.push(Text {
                x: num(tag, "x"),
                y: num(tag, "y"),
                anchor: attr(tag, "text-anchor"),
                fill: attr(tag, "fill").to_uppercase(),
                content: rest[end + 1..close].trim().to_string(),
            });
        }
        rest = &rest[end..];
    }
    out
}

/// One panel of a parsed chart, with its axes read from the tick labels.
struct Panel<'a> {
    svg: &'a Svg,
    rect: Rect,
    /// (pixel y, value) of every y tick, bottom first.
    y_ticks: Vec<(f64, f64)>,
    /// (pixel x, level) of every x tick, left first.
    x_ticks: Vec<(f64, f64)>,
}

impl<'a> Panel<'a> {
    fn new(svg: &'a Svg, rect: Rect) -> Panel<'a> {
        let numbers = |anchor: &str| -> Vec<(f64, f64, f64)> {
            svg.texts
                .iter()
                .filter(|t| t.anchor == anchor && rect.contains(t.x as i32, t.y as i32))
                .filter_map(|t| Some((t.x, t.y, t.content.parse::<f64>().ok()?)))
                .collect()
        };
        let mut y_ticks: Vec<(f64, f64)> = numbers("end").iter().map(|t| (t.1, t.2)).collect();
        y_ticks.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut x_ticks: Vec<(f64, f64)> = numbers("middle").iter().map(|t| (t.0, t.2)).collect();
        x_ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(
            y_ticks.len() >= 2 && x_ticks.len() >= 2,
            "no axes in {rect:?}"
        );
        Panel {
            svg,
            rect,
            y_ticks,
            x_ticks,
        }
    }

    fn inside(&self, (x, y): (f64, f64)) -> bool {
        self.rect.contains(x as i32, y as i32)
    }

    /// The value at pixel row `y`.
    fn value(&self, y: f64) -> f64 {
        let ((y0, v0), (y1, v1)) = (self.y_ticks[0], self.y_ticks[self.y_ticks.len() - 1]);
        v0 + (y - y0) * (v1 - v0) / (y1 - y0)
    }

    /// Value per pixel: the read-back resolution.
    fn per_px(&self) -> f64 {
        (self.value(0.0) - self.value(1.0)).abs()
    }

    /// The pixel column of `level` on the log2 x axis.
    fn x_px(&self, level: f64) -> f64 {
        let ((x0, l0), (x1, l1)) = (self.x_ticks[0], self.x_ticks[self.x_ticks.len() - 1]);
        x0 + (level.log2() - l0.log2()) * (x1 - x0) / (l1.log2() - l0.log2())
    }

    fn lines(&self, color: &str, width: &str, opacity: &str) -> Vec<&'a Polyline> {
        self.svg
            .lines
            .iter()
            .filter(|l| l.stroke == color && l.width == width && l.opacity == opacity)
            .filter(|l| l.points.iter().all(|&p| self.inside(p)))
            .collect()
    }

    /// The engine's error bars: (x, low px, high px, whether a cap closes the bottom, order of
    /// the stem), left to right.
    fn error_bars(&self, color: &str) -> Vec<(f64, f64, f64, bool, usize)> {
        let parts = self.lines(color, "2", "1");
        let caps: Vec<&Polyline> = parts
            .iter()
            .copied()
            .filter(|l| l.points.len() == 2 && l.points[0].1 == l.points[1].1)
            .collect();
        let mut bars: Vec<(f64, f64, f64, bool, usize)> = parts
            .iter()
            .filter(|l| l.points.len() == 2 && l.points[0].0 == l.points[1].0)
            .map(|stem| {
                let x = stem.points[0].0;
                let (low, high) = (stem.points[0].1, stem.points[1].1);
                let cap_at = |y: f64| {
                    caps.iter().any(|c| {
                        c.points[0].1 == y
                            && c.points[0].0 < x
                            && c.points[1].0 > x
                            && (c.points[1].0 - c.points[0].0) >= 8.0
                    })
                };
                assert!(cap_at(high), "no cap on the bar at x {x}");
                (x, low, high, cap_at(low), stem.order)
            })
            .collect();
        bars.sort_by(|a, b| a.0.total_cmp(&b.0));
        bars
    }

    /// The engine's knee tick: its dashes, (x, lowest y, highest y).
    fn knee_tick(&self, color: &str) -> Option<(f64, f64, f64)> {
        let dashes = self.lines(color, "2", "0.7");
        let first = dashes.first()?;
        let x = first.points[0].0;
        let ys: Vec<f64> = dashes
            .iter()
            .flat_map(|d| {
                assert!(
                    d.points.iter().all(|p| p.0 == x),
                    "a knee tick is not vertical"
                );
                d.points.iter().map(|p| p.1)
            })
            .collect();
        let max = ys.iter().copied().fold(f64::MIN, f64::max);
        let min = ys.iter().copied().fold(f64::MAX, f64::min);
        Some((x, max, min))
    }

    fn texts(&self, content: &str) -> Vec<&'a Text> {
        self.svg
            .texts
            .iter()
            .filter(|t| t.content == content && self.inside((t.x, t.y)))
            .collect()
    }

    fn markers(&self, color: &str) -> Vec<&'a Circle> {
        self.svg
            .circles
            .iter()
            .filter(|c| c.fill == color && self.inside(c.at))
            .collect()
    }
}

/// Every kind's SVG and PNG render; `LLMSWEEP_DUMP_CHARTS=<dir>` keeps the PNGs to look at.
fn render_all(report: &Report, name: &str) {
    for kind in [ChartKind::Standard, ChartKind::Extended, ChartKind::Server] {
        let png = chart_png(report, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(dir) = std::env::var_os("LLMSWEEP_DUMP_CHARTS") {
            fs::write(Path::new(&dir).join(format!("{name}-{kind:?}.png")), png).unwrap();
        }
        chart_svg(report, kind).unwrap();
    }
}

// ---- unchanged without intervals or a search -----------------------------------------------

/// The snapshots were taken before error bars and knee marks existed.
#[test]
fn charts_without_intervals_or_search_are_unchanged() {
    for (name, file, kind) in [
        (
            "two_engines_standard",
            "tests/fixtures/report/two_engines.json",
            ChartKind::Standard,
        ),
        (
            "two_engines_extended",
            "tests/fixtures/report/two_engines.json",
            ChartKind::Extended,
        ),
        (
            "two_engines_server",
            "tests/fixtures/report/two_engines.json",
            ChartKind::Server,
        ),
        (
            "rate_slo_standard",
            "tests/fixtures/report/rate_slo.json",
            ChartKind::Standard,
        ),
    ] {
        let svg = chart_svg(&load(file), kind).unwrap();
        insta::assert_snapshot!(name, svg);
    }
}

// ---- error bars ----------------------------------------------------------------------------

type Bar = fn(&LevelIntervals) -> Option<(f64, f64)>;

fn span(i: &Option<Interval>, per: f64) -> Option<(f64, f64)> {
    i.as_ref().map(|i| (i.low / per, i.high / per))
}

/// What each panel's bars show: the interval of what it plots (E2E in seconds; TPOT the
/// mean's, no interval of the median being kept); `None`: no bars.
fn bars_of(kind: ChartKind) -> [Option<Bar>; 3] {
    match kind {
        ChartKind::Standard => [
            Some(|iv| span(&iv.request_throughput, 1.0)),
            Some(|iv| span(&iv.median_e2el_ms, 1000.0)),
            Some(|iv| span(&iv.median_ttft_ms, 1.0)),
        ],
        ChartKind::Extended => [
            Some(|iv| span(&iv.output_throughput, 1.0)),
            Some(|iv| span(&iv.mean_tpot_ms, 1.0)),
            None,
        ],
        ChartKind::Server => [None, None, None],
    }
}

#[test]
fn error_bars_span_each_trials_interval_on_the_panels_y_scale() {
    let report = trials_report();
    render_all(&report, "trials");
    let layout = chart_layout(&report).unwrap();
    for kind in [ChartKind::Standard, ChartKind::Extended, ChartKind::Server] {
        let svg = parse(&chart_svg(&report, kind).unwrap());
        for (i, (rect, bar)) in layout.panels.iter().zip(bars_of(kind)).enumerate() {
            let panel = Panel::new(&svg, *rect);
            let tolerance = 2.0 * panel.per_px();
            for e in &report.engines {
                let color = e.color.to_uppercase();
                let bars = panel.error_bars(&color);
                let Some(bar) = bar else {
                    assert!(bars.is_empty(), "{kind:?} panel {i}: bars {bars:?}");
                    continue;
                };
                // Every level but a failed one, left to right.
                let want: Vec<&LevelSummary> = e
                    .levels
                    .iter()
                    .filter(|l| l.status != LevelStatus::Failed)
                    .collect();
                assert_eq!(bars.len(), want.len(), "{kind:?} panel {i}, {}", e.name);
                for (&(x, low_px, high_px, low_cap, order), l) in bars.iter().zip(&want) {
                    let what = format!("{kind:?} panel {i}, {} at {}", e.name, l.level);
                    assert!(
                        (x - panel.x_px(l.level)).abs() <= 1.0,
                        "{what}: bar at x {x}"
                    );
                    let (low, high) = bar(l.intervals.as_ref().unwrap()).unwrap();
                    let (got_low, got_high) = (panel.value(low_px), panel.value(high_px));
                    assert!(
                        (got_high - high).abs() <= tolerance,
                        "{what}: top {got_high:.3}, the interval's high is {high:.3}"
                    );
                    if low >= 0.0 {
                        assert!(
                            (got_low - low).abs() <= tolerance && low_cap,
                            "{what}: bottom {got_low:.3}, the interval's low is {low:.3}"
                        );
                    } else {
                        // Cut at the axis (0 here), without a cap.
                        assert!(got_low.abs() <= tolerance && !low_cap, "{what}: {got_low}");
                    }
                    // Under its marker.
                    let marker = svg
                        .circles
                        .iter()
                        .find(|c| (c.at.0 - x).abs() <= 1.0 && panel.inside(c.at))
                        .unwrap_or_else(|| panic!("{what}: no marker"));
                    assert!(
                        order < marker.order,
                        "{what}: the bar is drawn over its marker"
                    );
                }
            }
        }
    }
}

#[test]
fn the_y_axis_reaches_the_tallest_bar() {
    let report = trials_report();
    let svg = parse(&chart_svg(&report, ChartKind::Standard).unwrap());
    let panel = Panel::new(&svg, chart_layout(&report).unwrap().panels[0]);
    // Blue's level 8: 20 req/s, its interval up to 34, well above the 10 % over any value.
    let top = panel.y_ticks.last().unwrap().1;
    assert!(top >= 30.0, "top y tick {top}");
    let (_, _, high_px, _, _) = *panel.error_bars(BLUE).last().unwrap();
    assert!((panel.value(high_px) - 34.0).abs() <= 2.0 * panel.per_px());
    assert!(
        high_px > panel.rect.y as f64,
        "the bar's top is off the panel"
    );
}

/// Intervals that are no interval (a NaN or infinite end, low above high) draw no bar; the
/// level's other bars stay.
#[test]
fn broken_intervals_draw_no_bar() {
    let t = |l: LevelSummary| with_intervals(l, IntervalMethod::Trials, 3, 0.08);
    let mut levels = vec![
        t(level(1.0, 4.0, 38.0, 1700.0)),
        t(level(2.0, 7.5, 45.0, 1800.0)),
        t(level(4.0, 13.0, 60.0, 2050.0)),
    ];
    let broken = |i: &mut Option<Interval>, low: f64, high: f64| {
        let i = i.as_mut().unwrap();
        (i.low, i.high) = (low, high);
    };
    fn ivs(l: &mut LevelSummary) -> &mut LevelIntervals {
        l.intervals.as_mut().unwrap()
    }
    broken(&mut ivs(&mut levels[0]).request_throughput, f64::NAN, 5.0);
    broken(
        &mut ivs(&mut levels[1]).request_throughput,
        7.0,
        f64::INFINITY,
    );
    broken(&mut ivs(&mut levels[2]).request_throughput, 14.0, 12.0);
    broken(
        &mut ivs(&mut levels[0]).median_ttft_ms,
        f64::NEG_INFINITY,
        40.0,
    );
    let report = report("concurrency", vec![engine("vLLM", BLUE, levels)], Some(3));
    render_all(&report, "broken-intervals");
    let svg = parse(&chart_svg(&report, ChartKind::Standard).unwrap());
    let layout = chart_layout(&report).unwrap();
    let count = |i: usize| Panel::new(&svg, layout.panels[i]).error_bars(BLUE).len();
    assert_eq!([count(0), count(1), count(2)], [0, 3, 2]);
}

#[test]
fn no_error_bars_for_batch_means_or_one_trial() {
    let plain = trials_report();
    let mut bare = plain.clone();
    bare.workload.trials = None;
    for l in bare.engines.iter_mut().flat_map(|e| &mut e.levels) {
        l.intervals = None;
    }
    for trials in [None, Some(1)] {
        let mut batch = bare.clone();
        batch.workload.trials = trials;
        for (l, p) in batch
            .engines
            .iter_mut()
            .flat_map(|e| &mut e.levels)
            .zip(plain.engines.iter().flat_map(|e| &e.levels))
        {
            let mut intervals = p.intervals.clone().unwrap();
            intervals.method = IntervalMethod::BatchMeans;
            intervals.n = 8;
            l.intervals = Some(intervals);
        }
        for kind in [ChartKind::Standard, ChartKind::Extended] {
            let svg = chart_svg(&batch, kind).unwrap();
            assert_eq!(
                svg,
                chart_svg(&bare, kind).unwrap(),
                "{kind:?}, trials {trials:?}"
            );
            assert!(!svg.contains("error bars"));
            let parsed = parse(&svg);
            let layout = chart_layout(&batch).unwrap();
            for rect in layout.panels {
                let panel = Panel::new(&parsed, rect);
                assert!(panel.error_bars(BLUE).is_empty() && panel.error_bars(ORANGE).is_empty());
            }
        }
    }
}

// ---- knee marks ----------------------------------------------------------------------------

#[test]
fn knee_ticks_stand_at_each_engines_knee() {
    let report = auto_report(
        &[("vLLM", BLUE, 20.0), ("SGLang", ORANGE, 4.0)],
        "concurrency",
    );
    render_all(&report, "knees");
    let layout = chart_layout(&report).unwrap();
    for kind in [ChartKind::Standard, ChartKind::Extended, ChartKind::Server] {
        let svg = parse(&chart_svg(&report, kind).unwrap());
        for (i, rect) in layout.panels.iter().enumerate() {
            let panel = Panel::new(&svg, *rect);
            for (color, knee, label) in [(BLUE, 20.0, "knee C=20"), (ORANGE, 4.0, "knee C=4")] {
                let what = format!("{kind:?} panel {i}, {label}");
                let (x, low, high) = panel.knee_tick(color).unwrap_or_else(|| panic!("{what}"));
                assert!((x - panel.x_px(knee)).abs() <= 1.0, "{what}: tick at {x}");
                // From the x axis (the lowest tick, 0) up.
                let (axis_y, axis_value) = panel.y_ticks[0];
                assert_eq!(axis_value, 0.0);
                assert!(
                    (low - axis_y).abs() <= 2.0,
                    "{what}: the tick ends at {low}"
                );
                // Its label beside its top, in the engine's colour.
                let texts = panel.texts(label);
                assert_eq!(texts.len(), 1, "{what}");
                let t = texts[0];
                assert_eq!(t.fill, color, "{what}");
                assert!(
                    (t.y - high).abs() <= 1.0,
                    "{what}: label at {}, tick top {high}",
                    t.y
                );
                assert_label_beside(t, x, &what);
            }
        }
    }
}

/// `t` starts just right of the tick at column `x`, or ends just left of it.
fn assert_label_beside(t: &Text, x: f64, what: &str) {
    let gap = match t.anchor.as_str() {
        "start" => t.x - x,
        "end" => x - t.x,
        other => panic!("{what}: anchored {other}"),
    };
    assert!(
        (3.0..=8.0).contains(&gap),
        "{what}: label at x {} ({}), tick at {x}",
        t.x,
        t.anchor
    );
}

#[test]
fn knee_labels_are_stacked_and_above_the_data() {
    // Three engines at the same knee: their labels would all sit at the same place.
    let report = auto_report(
        &[
            ("vLLM", BLUE, 16.0),
            ("SGLang", ORANGE, 16.0),
            ("TGI", PURPLE, 16.0),
        ],
        "concurrency",
    );
    render_all(&report, "knees-stacked");
    let layout = chart_layout(&report).unwrap();
    for kind in [ChartKind::Standard, ChartKind::Extended] {
        let svg = parse(&chart_svg(&report, kind).unwrap());
        for (i, rect) in layout.panels.iter().enumerate() {
            let panel = Panel::new(&svg, *rect);
            let labels = panel.texts("knee C=16");
            assert_eq!(labels.len(), 3, "{kind:?} panel {i}");
            let mut ys: Vec<f64> = labels.iter().map(|t| t.y).collect();
            ys.sort_by(f64::total_cmp);
            assert!(
                ys.windows(2).all(|w| w[1] - w[0] >= 15.0),
                "{kind:?} panel {i}: labels overlap: {ys:?}"
            );
            // The data (markers, and the tops of the bands' polygons aside) stays below them.
            let lowest_label_bottom = ys[2] + 15.0;
            for color in [BLUE, ORANGE, PURPLE] {
                for m in panel.markers(color) {
                    assert!(
                        m.at.1 - 5.0 > lowest_label_bottom,
                        "{kind:?} panel {i}: a marker at {:?} under the labels",
                        m.at
                    );
                }
            }
        }
    }
    // Knees far apart share the top row.
    let apart = auto_report(
        &[("vLLM", BLUE, 1.0), ("SGLang", ORANGE, 32.0)],
        "concurrency",
    );
    let svg = parse(&chart_svg(&apart, ChartKind::Standard).unwrap());
    for rect in chart_layout(&apart).unwrap().panels {
        let panel = Panel::new(&svg, rect);
        let (a, b) = (panel.texts("knee C=1")[0], panel.texts("knee C=32")[0]);
        assert_eq!(a.y, b.y);
        // The last level's label turns to the left of its tick, inside the panel.
        assert_eq!((a.anchor.as_str(), b.anchor.as_str()), ("start", "end"));
        assert_label_beside(a, panel.knee_tick(BLUE).unwrap().0, "knee C=1");
        assert_label_beside(b, panel.knee_tick(ORANGE).unwrap().0, "knee C=32");
    }
}

#[test]
fn rate_mode_knees_are_labelled_in_req_per_s() {
    let report = auto_report(&[("vLLM", BLUE, 24.0)], "rate");
    let svg = parse(&chart_svg(&report, ChartKind::Standard).unwrap());
    let layout = chart_layout(&report).unwrap();
    for rect in layout.panels {
        let panel = Panel::new(&svg, rect);
        assert_eq!(panel.texts("knee 24 req/s").len(), 1);
        let (x, _, _) = panel.knee_tick(BLUE).unwrap();
        assert!((x - panel.x_px(24.0)).abs() <= 1.0);
    }
}

// ---- levels out of order -------------------------------------------------------------------

#[test]
fn lines_run_left_to_right_through_an_auto_sweeps_levels() {
    let report = auto_report(&[("vLLM", BLUE, 20.0)], "concurrency");
    assert_ne!(report.workload.levels, {
        let mut sorted = report.workload.levels.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    });
    let svg = parse(&chart_svg(&report, ChartKind::Standard).unwrap());
    let layout = chart_layout(&report).unwrap();
    for rect in layout.panels {
        let panel = Panel::new(&svg, rect);
        let lines = panel.lines(BLUE, "3", "1");
        assert_eq!(lines.len(), 1, "one unbroken line");
        let xs: Vec<f64> = lines[0].points.iter().map(|p| p.0).collect();
        assert_eq!(xs.len(), 8);
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
        let mut levels = report.workload.levels.clone();
        levels.sort_by(f64::total_cmp);
        for (x, level) in xs.iter().zip(levels) {
            assert!(
                (x - panel.x_px(level)).abs() <= 1.0,
                "{x} is not level {level}"
            );
        }
    }
}

// ---- the footer ----------------------------------------------------------------------------

/// The footer's texts, top to bottom.
fn footer_texts(report: &Report, kind: ChartKind) -> Vec<String> {
    let layout = chart_layout(report).unwrap();
    let svg = parse(&chart_svg(report, kind).unwrap());
    let mut texts: Vec<&Text> = svg
        .texts
        .iter()
        .filter(|t| layout.footer.contains(t.x as i32, t.y as i32) && t.anchor == "start")
        .collect();
    texts.sort_by(|a, b| a.y.total_cmp(&b.y));
    texts.iter().map(|t| t.content.clone()).collect()
}

#[test]
fn the_footer_says_what_the_error_bars_and_the_knees_are() {
    let trials = trials_report();
    let lines = footer_texts(&trials, ChartKind::Standard);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("throughput: whole level"), "{lines:?}");
    assert_eq!(lines[1], "error bars: 95 % CI over 3 trials");
    assert!(lines[2].starts_with("max_tokens 128"), "{lines:?}");
    assert_eq!(footer_texts(&trials, ChartKind::Extended)[1], lines[1]);
    // The server chart has no bars: the line is left blank, the layout the same.
    let server = footer_texts(&trials, ChartKind::Server);
    assert_eq!(server.len(), 2, "{server:?}");
    assert!(!server.iter().any(|t| t.contains("error bars")));
    let layout = chart_layout(&trials).unwrap();
    assert_eq!(layout.footer.h, 60);
    assert_eq!(layout.footer.y + layout.footer.h, layout.height as i32);
    assert_eq!(
        chart_layout(&load("tests/fixtures/report/two_engines.json"))
            .unwrap()
            .footer
            .h,
        40
    );

    let slo = auto_report(&[("vLLM", BLUE, 20.0)], "concurrency");
    let lines = footer_texts(&slo, ChartKind::Server);
    assert_eq!(lines[1], "knee: highest level meeting the SLO", "{lines:?}");

    let mut plateau = slo.clone();
    let search = plateau.engines[0].search.as_mut().unwrap();
    search.stop_reason = StopReason::Plateau;
    search.max_concurrency_meeting_slo = None;
    search.plateau_from = Some(20.0);
    assert_eq!(
        footer_texts(&plateau, ChartKind::Standard)[1],
        "knee: where throughput stopped growing"
    );

    let mut rate = auto_report(&[("vLLM", BLUE, 20.0)], "rate");
    for l in rate.engines.iter_mut().flat_map(|e| &mut e.levels) {
        *l = with_intervals(l.clone(), IntervalMethod::Trials, 5, 0.05);
    }
    rate.workload.trials = Some(5);
    assert_eq!(
        footer_texts(&rate, ChartKind::Standard)[1],
        "error bars: 95 % CI over 5 trials  ·  knee: highest level meeting the SLO"
    );
    render_all(&rate, "rate-trials-knee");

    // The count and the confidence are the intervals' own: runs merged from several files
    // keep the first's workload, and their trials may differ.
    let mut merged = trials_report();
    merged.workload.trials = None;
    let iv = merged.engines[0].levels[0].intervals.as_mut().unwrap();
    iv.method = IntervalMethod::BatchMeans;
    iv.n = 12;
    assert_eq!(
        footer_texts(&merged, ChartKind::Standard)[1],
        "error bars: 95 % CI over 3 trials"
    );
    for l in &mut merged.engines[1].levels {
        l.intervals.as_mut().unwrap().n = 5;
    }
    for l in merged.engines.iter_mut().flat_map(|e| &mut e.levels) {
        l.intervals.as_mut().unwrap().confidence = 0.9;
    }
    assert_eq!(
        footer_texts(&merged, ChartKind::Extended)[1],
        "error bars: 90 % CI over 3–5 trials"
    );
}

#[test]
fn a_search_without_a_knee_draws_no_mark() {
    let mut report = auto_report(&[("vLLM", BLUE, 20.0)], "concurrency");
    let with_knee = chart_svg(&report, ChartKind::Standard).unwrap();
    report.engines[0].search.as_mut().unwrap().knee = None;
    report.engines[0]
        .search
        .as_mut()
        .unwrap()
        .max_concurrency_meeting_slo = None;
    let svg = chart_svg(&report, ChartKind::Standard).unwrap();
    assert_ne!(svg, with_knee);
    report.engines[0].search = None;
    assert_eq!(svg, chart_svg(&report, ChartKind::Standard).unwrap());
    assert!(!svg.contains("knee"));
}
