//! Repeated trials in the text exports: the verdict and knee sections of `summary.md`, the
//! `mean ± half-width` cells and the noisy flag, the interval columns of `levels.csv`, and
//! what the headless printer says about trials, searches, intervals, verdicts and knees.

use std::collections::BTreeMap;

use llmsweep::headless::{final_text, finished_lines, level_line, mean_line, search_line};
use llmsweep::report::markdown::verdict_rest;
use llmsweep::report::{levels_csv, summary_md, Swept};
use llmsweep::results::confidence::{Interval, IntervalMethod, LevelIntervals};
use llmsweep::results::model::{
    EngineReport, LevelStatus, LevelSummary, Report, RunStatus, Workload, SCHEMA_VERSION,
};
use llmsweep::results::search::{SearchResult, StopReason};
use llmsweep::results::verdict::{Verdict, VerdictMetric, VerdictOutcome};

// ---- the fixture ---------------------------------------------------------------------------

fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// One measurement: `tok_s` output tokens per second, `ttft`/`e2e` medians in ms.
fn measured(level: f64, tok_s: f64, ttft: f64, e2e: f64) -> LevelSummary {
    let requests = 32u64;
    let out_tokens = 128.0;
    let req_s = tok_s / out_tokens;
    LevelSummary {
        level,
        max_concurrency: level as u32,
        achieved_peak_concurrency: level as u32,
        mean_concurrency: level * 0.9,
        status: LevelStatus::Complete,
        duration: r3(requests as f64 / req_s),
        completed: requests,
        total_input_tokens: requests * 200,
        total_output_tokens: requests * out_tokens as u64,
        request_throughput: r3(req_s),
        output_throughput: r3(tok_s),
        total_token_throughput: r3(req_s * (out_tokens + 200.0)),
        mean_output_tokens: out_tokens,
        mean_ttft_ms: Some(r3(ttft * 1.05)),
        median_ttft_ms: Some(r3(ttft)),
        p99_ttft_ms: Some(r3(ttft * 2.0)),
        mean_tpot_ms: Some(r3((e2e - ttft) / 127.0)),
        median_tpot_ms: Some(r3((e2e - ttft) / 127.0)),
        mean_e2el_ms: Some(r3(e2e * 1.03)),
        median_e2el_ms: Some(r3(e2e)),
        p99_e2el_ms: Some(r3(e2e * 1.6)),
        errors: BTreeMap::new(),
        error_examples: BTreeMap::new(),
        ..LevelSummary::default()
    }
}

/// Mean, 95 % Student t interval (t(2) = 4.303) and CV of three values.
fn interval(values: [f64; 3]) -> Interval {
    let mean = values.iter().sum::<f64>() / 3.0;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0;
    let half = 4.303 * (var / 3.0).sqrt();
    Interval {
        mean: r3(mean),
        low: r3(mean - half),
        high: r3(mean + half),
        cv: r3(var.sqrt() / mean),
        values: values.to_vec(),
    }
}

/// A level measured three times: per-trial output tok/s, TTFT and E2E p50; the level's own
/// fields are the means, counts summed, with the trials' intervals.
fn three_trials(level: f64, tok_s: [f64; 3], ttft: [f64; 3], e2e: [f64; 3]) -> LevelSummary {
    let trials: Vec<LevelSummary> = (0..3)
        .map(|t| LevelSummary {
            trial: Some(t as u32 + 1),
            ..measured(level, tok_s[t], ttft[t], e2e[t])
        })
        .collect();
    let mean = |v: [f64; 3]| v.iter().sum::<f64>() / 3.0;
    let mut s = measured(level, mean(tok_s), mean(ttft), mean(e2e));
    s.completed = trials.iter().map(|t| t.completed).sum();
    s.total_output_tokens = trials.iter().map(|t| t.total_output_tokens).sum();
    let field = |get: fn(&LevelSummary) -> f64| {
        interval([get(&trials[0]), get(&trials[1]), get(&trials[2])])
    };
    let output = field(|l| l.output_throughput);
    let request = field(|l| l.request_throughput);
    let ttft_i = field(|l| l.median_ttft_ms.unwrap());
    let e2e_i = field(|l| l.median_e2el_ms.unwrap());
    let mut noisy = Vec::new();
    for (name, i) in [
        ("request_throughput", &request),
        ("output_throughput", &output),
        ("median_ttft_ms", &ttft_i),
        ("median_e2el_ms", &e2e_i),
    ] {
        if i.cv > 0.10 {
            noisy.push(name.to_string());
        }
    }
    s.intervals = Some(LevelIntervals {
        method: IntervalMethod::Trials,
        n: 3,
        confidence: 0.95,
        request_throughput: Some(request),
        output_throughput: Some(output),
        mean_ttft_ms: Some(field(|l| l.mean_ttft_ms.unwrap())),
        median_ttft_ms: Some(ttft_i),
        p99_ttft_ms: Some(field(|l| l.p99_ttft_ms.unwrap())),
        mean_tpot_ms: Some(field(|l| l.mean_tpot_ms.unwrap())),
        mean_e2el_ms: Some(field(|l| l.mean_e2el_ms.unwrap())),
        median_e2el_ms: Some(e2e_i),
        noisy,
    });
    s.trials = trials;
    s
}

fn engine(name: &str, color: &str, levels: Vec<LevelSummary>) -> EngineReport {
    EngineReport {
        name: name.to_string(),
        url: format!("http://127.0.0.1:0/{name}"),
        model: "Qwen/Qwen2.5-7B-Instruct".to_string(),
        api: "chat".to_string(),
        color: color.to_string(),
        simulated: true,
        levels,
        ..EngineReport::default()
    }
}

fn verdict(
    level: f64,
    metric: VerdictMetric,
    (best, other): (&str, &str),
    speedup: f64,
    interval: Option<(f64, f64)>,
    outcome: VerdictOutcome,
) -> Verdict {
    Verdict {
        level,
        metric,
        best: best.to_string(),
        other: other.to_string(),
        speedup,
        low: interval.map(|i| i.0),
        high: interval.map(|i| i.1),
        method: interval.map(|_| IntervalMethod::Trials),
        outcome,
    }
}

const FAST: (&str, &str) = ("sim-fast", "sim-slow");
const SLOW: (&str, &str) = ("sim-slow", "sim-fast");

/// `levels = "auto"` with 3 trials: sim-fast ran 1, 2, 4, 8 and bisected 6 (its knee, output
/// throughput plateaued from 8); sim-slow ran 1, 2, 4 (noisy: its throughput moved > 10 %
/// between trials) and 8, skipped during its first trial (one trial, no interval, so the C=8
/// verdicts are not tested).
fn build() -> Report {
    use VerdictMetric::{MedianE2elMs as E2e, MedianTtftMs as Ttft, OutputThroughput as Tok};
    use VerdictOutcome::{Faster, NoSignificantDifference as Same, NotTested};
    let fast = engine(
        "sim-fast",
        "#1f77b4",
        vec![
            three_trials(
                1.0,
                [510.0, 520.0, 515.0],
                [30.0, 31.0, 30.5],
                [1500.0, 1520.0, 1510.0],
            ),
            three_trials(
                2.0,
                [990.0, 1010.0, 1000.0],
                [33.0, 34.0, 33.5],
                [1560.0, 1580.0, 1570.0],
            ),
            three_trials(
                4.0,
                [1780.0, 1850.0, 1815.0],
                [40.0, 42.0, 41.0],
                [1700.0, 1740.0, 1720.0],
            ),
            three_trials(
                8.0,
                [1900.0, 1960.0, 1930.0],
                [80.0, 84.0, 82.0],
                [2900.0, 3000.0, 2950.0],
            ),
            three_trials(
                6.0,
                [1880.0, 1940.0, 1910.0],
                [60.0, 62.0, 61.0],
                [2300.0, 2360.0, 2330.0],
            ),
        ],
    );
    let mut slow_8 = measured(8.0, 700.0, 300.0, 5200.0);
    slow_8.status = LevelStatus::Skipped;
    slow_8.completed = 20;
    slow_8.cancelled = 12;
    slow_8.skipped_reason = Some("skipped by key".to_string());
    let slow = engine(
        "sim-slow",
        "#ff7f0e",
        vec![
            three_trials(
                1.0,
                [505.0, 525.0, 500.0],
                [31.0, 30.0, 32.0],
                [1510.0, 1530.0, 1500.0],
            ),
            three_trials(
                2.0,
                [900.0, 930.0, 915.0],
                [36.0, 35.0, 37.0],
                [1650.0, 1690.0, 1670.0],
            ),
            three_trials(
                4.0,
                [1200.0, 1500.0, 1450.0],
                [55.0, 60.0, 58.0],
                [2200.0, 2350.0, 2300.0],
            ),
            slow_8,
        ],
    );
    let mut fast = fast;
    fast.search = Some(SearchResult {
        stop_reason: StopReason::Plateau,
        knee: Some(6.0),
        knee_output_throughput: Some(1910.0),
        max_concurrency_meeting_slo: None,
        max_rate_meeting_slo: None,
        plateau_from: Some(8.0),
        bisected: vec![6.0],
    });
    let verdicts = vec![
        verdict(1.0, Tok, FAST, 1.01, Some((0.96, 1.06)), Same),
        verdict(1.0, Ttft, FAST, 1.02, Some((0.95, 1.09)), Same),
        verdict(1.0, E2e, FAST, 1.00, Some((0.98, 1.02)), Same),
        verdict(2.0, Tok, FAST, 1.09, Some((1.06, 1.13)), Faster),
        verdict(2.0, Ttft, FAST, 1.07, Some((1.01, 1.13)), Faster),
        verdict(2.0, E2e, FAST, 1.06, Some((1.04, 1.09)), Faster),
        verdict(4.0, Tok, FAST, 1.31, Some((1.05, 1.64)), Faster),
        verdict(4.0, Ttft, FAST, 1.41, Some((1.30, 1.53)), Faster),
        verdict(4.0, E2e, FAST, 1.33, Some((1.27, 1.39)), Faster),
        verdict(8.0, Tok, FAST, 2.76, None, NotTested),
        verdict(8.0, Ttft, FAST, 3.66, None, NotTested),
        verdict(8.0, E2e, FAST, 1.76, None, NotTested),
    ];
    // One pair listed sim-slow first, as a pair where it wins would be.
    let mut verdicts = verdicts;
    verdicts[2] = verdict(1.0, E2e, SLOW, 1.00, Some((0.98, 1.02)), Same);
    Report {
        schema_version: SCHEMA_VERSION,
        tool: "llmsweep 0.1.0".to_string(),
        run_name: "knee-20250102T030405Z".to_string(),
        started_at: "2025-01-02T03:04:05Z".to_string(),
        finished_at: Some("2025-01-02T04:10:00Z".to_string()),
        status: RunStatus::Complete,
        simulated: true,
        seed: 42,
        workload: Workload {
            mode: "concurrency".to_string(),
            levels: vec![1.0, 2.0, 4.0, 8.0, 6.0],
            requests_per_level: 32,
            warmup_requests: 2,
            max_tokens: 128,
            prompt_source: "inline pool (4 prompts)".to_string(),
            trials: Some(3),
            auto: Some(serde_json::json!({ "start": 1, "max": 64, "plateau_pct": 5 })),
            ..Workload::default()
        },
        engines: vec![fast, slow],
        config: serde_json::json!({ "seed": 42 }),
        verdicts,
        ..Report::default()
    }
}

fn md(report: &Report) -> String {
    String::from_utf8(summary_md(report)).unwrap()
}

/// `report` as a run before issue 14: one trial a level, no intervals, verdicts or search.
fn without_trials(report: &Report) -> Report {
    let mut plain = report.clone();
    plain.verdicts.clear();
    plain.workload.trials = None;
    plain.workload.auto = None;
    for e in &mut plain.engines {
        e.search = None;
        for l in &mut e.levels {
            l.trials.clear();
            l.intervals = None;
        }
    }
    plain
}

/// The `## heading` section of `text`, up to the next `## `.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in\n{text}"));
    let end = text[start + heading.len()..]
        .find("\n## ")
        .map_or(text.len(), |i| start + heading.len() + i + 1);
    &text[start..end]
}

/// The table row of `text` that starts with `prefix`.
fn row<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no row {prefix:?} in\n{text}"))
}

// ---- summary.md ----------------------------------------------------------------------------

#[test]
fn summary_md_snapshot() {
    insta::assert_snapshot!("summary_md", md(&build()));
}

#[test]
fn the_verdict_comes_first_grouped_by_level_best_engine_first() {
    let text = md(&build());
    let verdict = text.find("## Verdict").expect("a Verdict section");
    assert!(verdict < text.find("## Engines").unwrap(), "{text}");
    assert!(
        verdict < text.find("## Request throughput").unwrap(),
        "{text}"
    );
    let v = section(&text, "## Verdict");
    assert!(
        v.contains(
            "95 % intervals of the ratio of geometric means (Welch t on log values) over 3 \
             trials"
        ),
        "{v}"
    );
    assert!(v.contains("Single run: not tested"), "{v}");
    assert!(!v.contains("batch means"), "{v}");
    // The level and metric are printed on their group's first row only.
    assert!(
        v.contains(
            "| C=4 | output tok/s | **sim-fast faster by 1.31× (1.05–1.64) than sim-slow** |\n\
             |  | p50 TTFT | **sim-fast faster by 1.41× (1.30–1.53) than sim-slow** |\n"
        ),
        "{v}"
    );
    assert!(
        v.contains("|  | p50 E2E | sim-slow vs sim-fast: no significant difference (0.98–1.02) |"),
        "{v}"
    );
    assert!(
        v.contains("| C=8 | output tok/s | sim-fast vs sim-slow: single run: not tested (2.76×) |"),
        "{v}"
    );
    // Levels ascending, whatever order the report lists the verdicts in.
    let mut shuffled = build();
    shuffled.verdicts.reverse();
    let at = |s: &str, what: &str| s.find(what).unwrap();
    let v2 = md(&shuffled);
    let v2 = section(&v2, "## Verdict");
    assert!(at(v2, "| C=1 |") < at(v2, "| C=2 |") && at(v2, "| C=4 |") < at(v2, "| C=8 |"));
    assert!(at(v2, "| C=4 | output tok/s") < at(v2, "|  | p50 TTFT | **sim-fast faster by 1.41×"));
}

#[test]
fn the_verdict_and_knee_sections_only_add_to_the_summary() {
    let full = build();
    let text = md(&full);
    let mut no_verdicts = full.clone();
    no_verdicts.verdicts.clear();
    let without = md(&no_verdicts);
    assert!(!without.contains("Verdict"), "{without}");
    assert_eq!(text.replace(section(&text, "## Verdict"), ""), without);
    let mut no_search = no_verdicts.clone();
    no_search.engines[0].search = None;
    let without_knee = md(&no_search);
    assert!(!without_knee.contains("Knee"), "{without_knee}");
    assert_eq!(
        without.replace(section(&without, "## Knee (levels = auto)"), ""),
        without_knee
    );
    // A report without trials has no ± and no trials note.
    let plain = md(&without_trials(&full));
    for absent in ["±", "trials", " ⚠ |", "CV >", "Verdict", "Knee", "auto"] {
        assert!(!plain.contains(absent), "{absent}:\n{plain}");
    }
}

#[test]
fn cells_read_mean_plus_minus_half_width_and_noisy_levels_are_flagged() {
    let report = build();
    let text = md(&report);
    let out = section(&text, "## Output throughput");
    // sim-fast at C=4: mean 1815, 4.303 × sd(1780, 1850, 1815) / √3 = 86.94.
    let hw = report.engines[0].levels[2]
        .intervals
        .as_ref()
        .unwrap()
        .output_throughput
        .as_ref()
        .unwrap()
        .half_width();
    assert!((hw - 86.94).abs() < 0.05, "{hw}");
    assert!(
        row(out, "| 4 |").starts_with("| 4 | **1815 ± 87** ★ | 1383 ± 399 ⚠ |"),
        "{out}"
    );
    assert!(
        out.contains("⚠ CV > 10 % across trials: sim-slow at C=4.\n"),
        "{out}"
    );
    // Median E2E is in seconds: the half-width too.
    let e2e = section(&text, "## Median E2E latency");
    assert!(
        row(e2e, "| 4 |").starts_with("| 4 | **1.72 ± 0.05** ★ |"),
        "{e2e}"
    );
    // The skipped single-trial level has no ±.
    assert!(row(out, "| 8 |").contains("| 700.0 (skipped) |"), "{out}");
    // sim-slow ran no C=6.
    assert!(row(out, "| 6 |").contains("| — |"), "{out}");
    // A quiet table has no footnote, and the note before the tables says what ± is.
    assert!(!section(&text, "## Median TTFT").contains("CV >"), "{text}");
    assert!(
        text.contains("*±*: half-width of the 95 % confidence interval of the mean, over 3 trials"),
        "{text}"
    );
    assert!(
        text.contains(
            "⚠ CV > 10 % across trials: sim-slow at C=4 (request_throughput, output_throughput)."
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "levels = auto (as they ran: 1, 2, 4, 8, 6); 32 requests per level, 3 trials each"
        ),
        "{text}"
    );
}

#[test]
fn the_knee_section_names_the_stop_reason_knee_and_bisected_levels() {
    let text = md(&build());
    let knee = section(&text, "## Knee (levels = auto)");
    assert!(
        knee.contains(
            "| sim-fast | C=6 (1910 tok/s) | output throughput stopped growing (plateau from \
             C=8) | 6 |"
        ),
        "{knee}"
    );
    assert!(!knee.contains("sim-slow"), "{knee}");
    assert!(text.find("## Knee").unwrap() < text.find("## Engines").unwrap());
    // The achieved-concurrency table lists levels ascending, not in the order they ran.
    let conc = section(&text, "## Achieved concurrency");
    assert!(conc.find("| sim-fast | 6 |").unwrap() < conc.find("| sim-fast | 8 |").unwrap());
}

#[test]
fn batch_means_and_rate_mode_are_worded_for_what_they_are() {
    let mut report = build();
    report.workload.mode = "rate".to_string();
    report.workload.trials = None;
    for v in &mut report.verdicts {
        if v.method.is_some() {
            v.method = Some(IntervalMethod::BatchMeans);
        }
    }
    for e in &mut report.engines {
        for l in &mut e.levels {
            l.trials.clear();
            if let Some(i) = &mut l.intervals {
                i.method = IntervalMethod::BatchMeans;
                i.noisy.clear();
            }
        }
    }
    let text = md(&report);
    let v = section(&text, "## Verdict");
    assert!(
        v.contains(
            "Within one run: batch means of the steady-state window — no run-to-run noise \
             included."
        ),
        "{v}"
    );
    assert!(!v.contains("over 3 trials") && !v.contains("‡"), "{v}");
    assert!(v.contains("| 4 req/s | output tok/s |"), "{v}");
    assert!(
        text.contains("*±*: half-width of the 95 % confidence interval of the mean, within one run: batch means"),
        "{text}"
    );
    // A mix of trials and batch-means verdicts marks the batch-means ones.
    let mut mixed = build();
    mixed.verdicts[0].method = Some(IntervalMethod::BatchMeans);
    let text = md(&mixed);
    let v = section(&text, "## Verdict");
    assert!(
        v.contains("no significant difference (0.96–1.06)‡ |"),
        "{v}"
    );
    assert!(v.contains("*‡ Within one run: batch means"), "{v}");
}

// ---- levels.csv ----------------------------------------------------------------------------

#[test]
fn levels_csv_snapshot() {
    let csv = String::from_utf8(levels_csv(&build())).unwrap();
    insta::assert_snapshot!("levels_csv", csv);
}

#[test]
fn levels_csv_has_the_trial_and_interval_columns_before_the_reasoning_ones() {
    let report = build();
    let csv = String::from_utf8(levels_csv(&report)).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let head: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| head.iter().position(|c| *c == name).unwrap();
    assert_eq!(col("trials"), col("mean_sm_clock_mhz") + 1);
    // Only the reasoning and prefix-cache columns, appended later, come after them.
    assert_eq!(col("cv_noisy") + 1, col("mean_ttfa_ms"));
    assert_eq!(col("cached_fraction"), head.len() - 1);
    let fields = |prefix: &str| -> Vec<String> {
        let line = lines.iter().find(|l| l.starts_with(prefix)).unwrap();
        line.split(',').map(str::to_string).collect()
    };
    let slow_4 = fields("sim-slow,4,");
    let i = report.engines[1].levels[2].intervals.as_ref().unwrap();
    assert_eq!(slow_4[col("trials")], "3");
    assert_eq!(slow_4[col("interval_method")], "trials");
    let out = i.output_throughput.as_ref().unwrap();
    assert_eq!(slow_4[col("output_throughput_ci_low")], out.low.to_string());
    assert_eq!(
        slow_4[col("output_throughput_ci_high")],
        out.high.to_string()
    );
    let e2e = i.mean_e2el_ms.as_ref().unwrap();
    assert_eq!(slow_4[col("mean_e2el_ms_ci_low")], e2e.low.to_string());
    assert_eq!(slow_4[col("mean_e2el_ms_ci_high")], e2e.high.to_string());
    let tpot = i.mean_tpot_ms.as_ref().unwrap();
    assert_eq!(slow_4[col("mean_tpot_ms_ci_high")], tpot.high.to_string());
    assert_eq!(
        slow_4[col("cv_noisy")],
        "request_throughput;output_throughput"
    );
    // The skipped single-trial level: every new cell empty.
    let slow_8 = fields("sim-slow,8,");
    for name in &head[col("trials")..] {
        assert_eq!(slow_8[col(name)], "", "{name}");
    }
    assert_eq!(fields("sim-fast,4,")[col("cv_noisy")], "");
}

// ---- the headless printer ------------------------------------------------------------------

#[test]
fn headless_tags_each_trial_and_prints_the_means_after_the_last() {
    let level = &build().engines[1].levels[2];
    let mut so_far = level.clone();
    so_far.trials.truncate(2);
    let line = finished_lines("sim-slow", &so_far, Swept::Concurrency, 3);
    assert!(
        line.starts_with("sim-slow             C=4 (trial 2/3) "),
        "{line}"
    );
    // The line shows the trial's own numbers (trial 2: 1500 tok/s), not the mean.
    assert!(line.contains("  1500.0 tok/s"), "{line}");
    assert!(!line.contains('\n'), "{line}");
    let last = finished_lines("sim-slow", level, Swept::Concurrency, 3);
    let lines: Vec<&str> = last.lines().collect();
    assert_eq!(lines.len(), 2, "{last}");
    assert!(lines[0].contains("C=4 (trial 3/3)"), "{last}");
    assert!(
        lines[1]
            .contains("mean of 3 trials: 1383.3 ± 399.3 tok/s | TTFT p50 57.7 ± 6.3 ms | E2E p50"),
        "{last}"
    );
    assert!(
        lines[1].ends_with("⚠ CV > 10 %: request_throughput, output_throughput"),
        "{last}"
    );
    // One trial a level: the line as before.
    assert_eq!(
        finished_lines("sim-slow", level, Swept::Concurrency, 1),
        level_line("sim-slow", level, Swept::Concurrency)
    );
    assert!(mean_line(
        "x",
        &without_trials(&build()).engines[0].levels[0],
        Swept::Concurrency
    )
    .is_none());
}

#[test]
fn headless_prints_the_search_state() {
    assert_eq!(
        search_line("sim-fast", 128.0, Swept::Concurrency, "doubling: 64 → 128"),
        "sim-fast             C=128  search: doubling: 64 → 128"
    );
    assert!(search_line("v", 2.5, Swept::Rate, "bisecting 2–4")
        .contains("r=2.5/s search: bisecting 2–4"));
}

#[test]
fn headless_final_text_has_intervals_verdicts_and_knees() {
    let report = build();
    let text = final_text(&report);
    insta::assert_snapshot!("headless_final", text);
    let summary = md(&report);
    // Every verdict in the same words as summary.md.
    for v in &report.verdicts {
        let label = format!("C={}", v.level);
        let rest = verdict_rest(v, &label);
        let line = format!("  {label} {}: {rest}\n", v.metric.label());
        assert!(text.contains(&line), "{line}\n{text}");
        assert!(summary.contains(&rest), "{rest}");
        if v.outcome != VerdictOutcome::NotTested {
            assert!(line.contains(&v.line(&label)), "{line}");
        }
    }
    assert!(
        text.contains("sim-slow  4  1383.3 ± 399.3   57.7 ± 6.3"),
        "{text}"
    );
    assert!(
        text.contains(
            "  sim-fast: knee C=6 (1910 tok/s); stopped: output throughput stopped growing \
             (plateau from C=8); bisected 6\n"
        ),
        "{text}"
    );
    // Without trials, verdicts or a search: the finished-levels table alone, as before.
    let plain = without_trials(&report);
    assert_eq!(final_text(&plain), llmsweep::tui::summary_table(&plain));
}
