//! Exporters: chart PNG/SVG, levels.csv, summary.md, merging runs and `llmsweep report`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use llmsweep::client::ErrorClass;
use llmsweep::color::PALETTE;
use llmsweep::metrics::fairness::output_length_warning;
use llmsweep::report::{
    chart_layout, chart_png, chart_svg, levels_csv, merge_runs, run_report_command, summary_md,
    write_all, ChartKind, ExportOptions, Rect,
};
use llmsweep::results::host::{ClientState, EngineCpu, EngineLocation, HostProcess, HostReport};
use llmsweep::results::model::{
    EngineReport, LevelStatus, LevelSummary, Report, RunStatus, ScheduleStats, Workload,
    SCHEMA_VERSION,
};
use llmsweep::results::server::ServerStats;

// ---- the fixture ---------------------------------------------------------------------------

const FIXTURE: &str = "tests/fixtures/report/two_engines.json";

fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A plausible level: `req_s` request throughput, `ttft`/`e2e` medians in ms.
fn level(level: f64, req_s: f64, ttft: f64, e2e: f64) -> LevelSummary {
    let requests = 64u64;
    let out_tokens = 128.0;
    let tpot = (e2e - ttft) / (out_tokens - 1.0);
    LevelSummary {
        level,
        max_concurrency: level as u32,
        status: LevelStatus::Complete,
        duration: r3(requests as f64 / req_s),
        completed: requests,
        failed: 0,
        cancelled: 0,
        error_rate: 0.0,
        total_input_tokens: requests * 200,
        total_output_tokens: requests * out_tokens as u64,
        output_tokens_estimated: false,
        request_throughput: r3(req_s),
        output_throughput: r3(req_s * out_tokens),
        total_token_throughput: r3(req_s * (out_tokens + 200.0)),
        mean_output_tokens: out_tokens,
        mean_ttft_ms: Some(r3(ttft * 1.05)),
        median_ttft_ms: Some(r3(ttft)),
        p90_ttft_ms: Some(r3(ttft * 1.4)),
        p95_ttft_ms: Some(r3(ttft * 1.6)),
        p99_ttft_ms: Some(r3(ttft * 2.0)),
        max_ttft_ms: Some(r3(ttft * 2.3)),
        mean_tpot_ms: Some(r3(tpot * 1.02)),
        median_tpot_ms: Some(r3(tpot)),
        p90_tpot_ms: Some(r3(tpot * 1.15)),
        p95_tpot_ms: Some(r3(tpot * 1.2)),
        p99_tpot_ms: Some(r3(tpot * 1.3)),
        max_tpot_ms: Some(r3(tpot * 1.5)),
        mean_itl_ms: Some(r3(tpot * 1.01)),
        median_itl_ms: Some(r3(tpot)),
        p90_itl_ms: Some(r3(tpot * 1.2)),
        p95_itl_ms: Some(r3(tpot * 1.3)),
        p99_itl_ms: Some(r3(tpot * 1.6)),
        max_itl_ms: Some(r3(tpot * 3.0)),
        mean_e2el_ms: Some(r3(e2e * 1.03)),
        median_e2el_ms: Some(r3(e2e)),
        p90_e2el_ms: Some(r3(e2e * 1.25)),
        p95_e2el_ms: Some(r3(e2e * 1.35)),
        p99_e2el_ms: Some(r3(e2e * 1.6)),
        max_e2el_ms: Some(r3(e2e * 1.9)),
        mean_client_queue_ms: 0.0,
        errors: BTreeMap::new(),
        error_examples: BTreeMap::new(),
        ..LevelSummary::default()
    }
}

fn engine(name: &str, color: &str, levels: Vec<LevelSummary>) -> EngineReport {
    EngineReport {
        name: name.to_string(),
        url: format!("http://127.0.0.1:0/{}", name.to_lowercase()),
        model: "Qwen/Qwen2.5-7B-Instruct".to_string(),
        api: "chat".to_string(),
        color: color.to_string(),
        simulated: true,
        levels,
        skipped_reason: None,
        max_level_meeting_slo: None,
        server_metrics_schema: None,
        search: None,
        short_name: None,
    }
}

/// 2 engines × 4 levels: vLLM's level 8 was skipped (cut short), SGLang's level 8 failed.
fn build_fixture() -> Report {
    let mut vllm_8 = level(8.0, 21.4, 95.0, 2950.0);
    vllm_8.status = LevelStatus::Skipped;
    vllm_8.completed = 40;
    vllm_8.cancelled = 8;
    let vllm = engine(
        "vLLM",
        "#d62728",
        vec![
            level(1.0, 4.1, 38.0, 1720.0),
            level(2.0, 7.6, 45.0, 1830.0),
            level(4.0, 13.9, 61.0, 2050.0),
            vllm_8,
        ],
    );

    let mut sglang_4 = level(4.0, 12.2, 70.0, 2240.0);
    sglang_4.failed = 2;
    sglang_4.error_rate = r3(2.0 / 66.0);
    sglang_4.errors.insert("timeout_first_token".to_string(), 2);
    sglang_4.error_examples.insert(
        "timeout_first_token".to_string(),
        "no answer within 30.0 s".to_string(),
    );
    let mut sglang_8 = level(8.0, 1.3, 850.0, 9100.0);
    sglang_8.status = LevelStatus::Failed;
    sglang_8.completed = 6;
    sglang_8.failed = 58;
    sglang_8.error_rate = r3(58.0 / 64.0);
    sglang_8.errors.insert("http_status".to_string(), 55);
    sglang_8.errors.insert("connect".to_string(), 3);
    sglang_8.error_examples.insert(
        "http_status".to_string(),
        r#"HTTP 503: {"error": "server overloaded, retry later"}"#.to_string(),
    );
    sglang_8.error_examples.insert(
        "connect".to_string(),
        "connection refused (os error 111)".to_string(),
    );
    let sglang = engine(
        "SGLang",
        "#2ca02c",
        vec![
            level(1.0, 4.4, 31.0, 1650.0),
            level(2.0, 8.1, 40.0, 1760.0),
            sglang_4,
            sglang_8,
        ],
    );

    Report {
        schema_version: SCHEMA_VERSION,
        tool: "llmsweep 0.1.0".to_string(),
        run_name: "fixture-20250102T030405Z".to_string(),
        started_at: "2025-01-02T03:04:05Z".to_string(),
        resumed_at: Vec::new(),
        finished_at: Some("2025-01-02T03:19:55Z".to_string()),
        status: RunStatus::Complete,
        simulated: true,
        seed: 42,
        workload: Workload {
            mode: "concurrency".to_string(),
            levels: vec![1.0, 2.0, 4.0, 8.0],
            requests_per_level: 64,
            warmup_requests: 4,
            max_tokens: 128,
            prompt_source: "inline pool (4 prompts)".to_string(),
            ..Workload::default()
        },
        engines: vec![vllm, sglang],
        config: serde_json::json!({ "seed": 42, "max_tokens": 128 }),
        warnings: Vec::new(),
        verdicts: Vec::new(),
        ..Report::default()
    }
}

fn manifest_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn fixture() -> Report {
    let path = manifest_path(FIXTURE);
    let text = fs::read_to_string(&path).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture parses")
}

/// The committed JSON is what [`build_fixture`] builds; `LLMSWEEP_UPDATE_FIXTURES=1` rewrites it.
#[test]
fn fixture_json_is_up_to_date() {
    let built = build_fixture();
    let path = manifest_path(FIXTURE);
    if std::env::var_os("LLMSWEEP_UPDATE_FIXTURES").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut json = serde_json::to_string_pretty(&built).unwrap();
        json.push('\n');
        fs::write(&path, json).unwrap();
    }
    assert_eq!(fixture(), built);
}

// ---- CSV and Markdown ----------------------------------------------------------------------

#[test]
fn levels_csv_snapshot() {
    let csv = String::from_utf8(levels_csv(&fixture())).unwrap();
    insta::assert_snapshot!("levels_csv", csv);
}

#[test]
fn levels_csv_has_one_row_per_engine_level_and_every_column() {
    let csv = String::from_utf8(levels_csv(&fixture())).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 8);
    let columns = lines[0].split(',').count();
    assert_eq!(columns, 133);
    assert!(lines[0].starts_with("engine,level,max_concurrency,status,"));
    assert!(lines[0].contains(
        ",client_limited,client_state,host_cores,host_busy_cores,host_steal_cores,host_client_cores,host_other_cores,engine_cores,idle_engine_cores_max,host_top,server_scrapes,mean_running,max_running,mean_waiting,max_waiting,waiting_grew,mean_kv_usage,max_kv_usage,preemptions,prefix_cache_hit_rate,server_generation_tokens,server_mean_ttft_ms,server_p50_ttft_ms,client_added_ttft_ms,energy_j_per_token,gpu_throttled_s,mean_gpu_util_pct,mean_gpu_power_w,max_gpu_memory_used_mib,mean_sm_clock_mhz,trials,interval_method,output_throughput_ci_low,"
    ));
    assert!(lines[0].contains(",mean_e2el_ms_ci_low,mean_e2el_ms_ci_high,cv_noisy,"));
    // The reasoning and prefix-cache columns come after every older one.
    assert!(lines[0].ends_with(
        ",cv_noisy,mean_ttfa_ms,median_ttfa_ms,p90_ttfa_ms,p95_ttfa_ms,p99_ttfa_ms,mean_ttfr_ms,median_ttfr_ms,p99_ttfr_ms,reasoning_requests,unanswered_requests,total_reasoning_tokens,reasoning_share,reasoning_tokens_estimated,total_cached_tokens,cached_fraction"
    ));
    // The failed level's errors, in class order.
    let failed = lines.iter().find(|l| l.starts_with("SGLang,8,")).unwrap();
    assert!(failed.contains(",failed,"), "{failed}");
    assert!(failed.contains(",connect:3;http_status:55,"), "{failed}");
    // Quotes and a comma in an example are quoted per RFC 4180.
    assert!(
        failed.contains(
            r#","{""connect"":""connection refused (os error 111)"",""http_status"":""HTTP 503: {\""error\"": \""server overloaded, retry later\""}""}","#
        ),
        "{failed}"
    );
}

#[test]
fn summary_md_snapshot() {
    let md = String::from_utf8(summary_md(&fixture())).unwrap();
    insta::assert_snapshot!("summary_md", md);
}

#[test]
fn summary_md_marks_best_ratios_and_statuses() {
    let md = String::from_utf8(summary_md(&fixture())).unwrap();
    assert!(md.contains("SIMULATED ENGINES"));
    assert!(md.contains("## Request throughput (req/s) — higher is better"));
    assert!(md.contains("## Error rate (%) — lower is better"));
    // Level 1 request throughput: SGLang 4.40 beats vLLM 4.10.
    assert!(
        md.contains("| 1 | 4.10 | **4.40** ★ | SGLang 1.07× vLLM |"),
        "{md}"
    );
    // Level 8: SGLang failed, so vLLM's partial level wins alone.
    assert!(
        md.contains("| 8 | **21.40** ★ (skipped) | 1.30 (failed) | vLLM (only valid result) |"),
        "{md}"
    );
    // Latency: lower wins, ratio other / best.
    assert!(
        md.contains("| 1 | 38.00 | **31.00** ★ | SGLang 1.23× vLLM |"),
        "{md}"
    );
}

// ---- charts --------------------------------------------------------------------------------

struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn decode(png_bytes: &[u8]) -> Image {
        let decoder = png::Decoder::new(png_bytes);
        let mut reader = decoder.read_info().expect("PNG header");
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).expect("PNG data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        rgb.truncate(info.buffer_size());
        Image {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn pixel(&self, x: i32, y: i32) -> (u8, u8, u8) {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// Pixels in `rect` for which `pred` holds.
    fn count(&self, rect: Rect, pred: impl Fn((u8, u8, u8)) -> bool) -> usize {
        let mut n = 0;
        for y in rect.y.max(0)..(rect.y + rect.h).min(self.height as i32) {
            for x in rect.x.max(0)..(rect.x + rect.w).min(self.width as i32) {
                if pred(self.pixel(x, y)) {
                    n += 1;
                }
            }
        }
        n
    }

    fn count_color(&self, rect: Rect, hex: &str) -> usize {
        let c = llmsweep::color::Rgb::parse(hex).unwrap();
        self.count(rect, |p| p == (c.0, c.1, c.2))
    }
}

fn is_dark((r, g, b): (u8, u8, u8)) -> bool {
    (r as u32 + g as u32 + b as u32) < 3 * 90
}

#[test]
fn chart_png_renders_each_engine_in_each_panel() {
    let report = fixture();
    let png_bytes = chart_png(&report, ChartKind::Standard).unwrap();
    assert!(
        png_bytes.len() > 20_000 && png_bytes.len() < 2_000_000,
        "PNG of {} bytes",
        png_bytes.len()
    );
    let image = Image::decode(&png_bytes);
    let layout = chart_layout(&report).unwrap();
    assert_eq!((image.width, image.height), (layout.width, layout.height));
    assert_eq!((image.width, image.height), (1800, 720));
    for (i, panel) in layout.panels.iter().enumerate() {
        for engine in &report.engines {
            let n = image.count_color(*panel, &engine.color);
            assert!(n > 100, "panel {i}: {n} pixels of {}", engine.name);
        }
        // SGLang's failed level 8: the red ✕ is in every panel.
        let crosses = image.count_color(*panel, "#c00000");
        assert!(
            crosses > 10,
            "panel {i}: {crosses} pixels of the failed marker"
        );
        // Axis labels and the caption.
        assert!(image.count(*panel, is_dark) > 500, "panel {i} has no text");
    }
    // The SIMULATED ENGINES badge.
    assert!(image.count_color(layout.title, "#c62828") > 2_000);
    if let Some(dir) = std::env::var_os("LLMSWEEP_DUMP_CHARTS") {
        fs::write(Path::new(&dir).join("fixture-chart.png"), &png_bytes).unwrap();
    }
}

#[test]
fn extended_chart_and_svg_render() {
    let report = fixture();
    let image = Image::decode(&chart_png(&report, ChartKind::Extended).unwrap());
    let layout = chart_layout(&report).unwrap();
    for panel in layout.panels {
        for engine in &report.engines {
            assert!(image.count_color(panel, &engine.color) > 100);
        }
    }
    for kind in [ChartKind::Standard, ChartKind::Extended] {
        let svg = chart_svg(&report, kind).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.contains("SIMULATED ENGINES"));
        assert!(svg.contains("vLLM") && svg.contains("SGLang"));
    }
}

/// Text comes from the embedded font: the title region has dark (text) pixels.
#[test]
fn title_has_text() {
    let report = fixture();
    let image = Image::decode(&chart_png(&report, ChartKind::Standard).unwrap());
    let layout = chart_layout(&report).unwrap();
    let title = Rect {
        w: layout.title.w - 360, // left of the SIMULATED badge
        ..layout.title
    };
    let dark = image.count(title, is_dark);
    assert!(dark > 1_000, "only {dark} dark pixels in the title");
}

/// Charts never look for system fonts: no font-discovery crate (plotters' `ttf` feature pulls
/// in font-kit and fontconfig, and then silently ignores the registered embedded font) is in
/// the build, so the text above is the embedded font's on every machine.
#[test]
fn no_system_font_lookup_is_built_in() {
    let lock = fs::read_to_string(manifest_path("Cargo.lock")).expect("Cargo.lock");
    let packages: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    assert!(
        packages.contains(&"ab_glyph"),
        "the embedded-font rasteriser"
    );
    for system in [
        "font-kit",
        "yeslogic-fontconfig-sys",
        "servo-fontconfig",
        "servo-fontconfig-sys",
        "fontconfig",
        "fontdb",
        "dwrote",
        "core-text",
    ] {
        assert!(
            !packages.contains(&system),
            "{system} is in Cargo.lock: charts could depend on the machine's fonts"
        );
    }
}

// ---- merging runs and `llmsweep report` ----------------------------------------------------

#[test]
fn merge_runs_renames_and_recolours() {
    let a = fixture();
    let mut b = fixture();
    b.run_name = "later-run".to_string();
    b.simulated = false;
    let mut c = fixture();
    c.simulated = false;

    let merged = merge_runs(&[c.clone(), b.clone()]);
    assert!(!merged.simulated);
    let merged = merge_runs(&[a.clone(), b.clone()]);
    assert!(merged.simulated);
    assert_eq!(merged.run_name, a.run_name);
    assert_eq!(merged.seed, a.seed);
    let names: Vec<&str> = merged.engines.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vLLM (fixture-20250102T030405Z)",
            "SGLang (fixture-20250102T030405Z)",
            "vLLM (later-run)",
            "SGLang (later-run)",
        ]
    );
    let colours: Vec<&str> = merged.engines.iter().map(|e| e.color.as_str()).collect();
    assert_eq!(
        colours,
        [
            "#d62728".to_string(),
            "#2ca02c".to_string(),
            PALETTE[2].to_hex(),
            PALETTE[3].to_hex(),
        ]
    );

    // The same run twice still gives unique names; one run is returned unchanged.
    let twice = merge_runs(&[a.clone(), a.clone()]);
    assert_eq!(twice.engines[2].name, "vLLM (fixture-20250102T030405Z) #2");
    assert_eq!(merge_runs(std::slice::from_ref(&a)), a);
    assert!(merge_runs(&[]).engines.is_empty());
}

#[test]
fn report_command_writes_every_file_and_rerenders_identically() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("results.json");
    fs::copy(manifest_path(FIXTURE), &input).unwrap();

    let opts = ExportOptions::default();
    let written = run_report_command(std::slice::from_ref(&input), None, &opts).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["chart.png", "levels.csv", "summary.md"]);
    for path in &written {
        assert_eq!(path.parent().unwrap(), dir.path());
    }
    let first_csv = fs::read(dir.path().join("levels.csv")).unwrap();
    let first_md = fs::read(dir.path().join("summary.md")).unwrap();
    let first_png = fs::read(dir.path().join("chart.png")).unwrap();

    let opts = ExportOptions {
        extended: true,
        svg: true,
    };
    let written = run_report_command(&[dir.path().to_path_buf()], None, &opts).unwrap();
    assert_eq!(written.len(), 6);
    assert_eq!(fs::read(dir.path().join("levels.csv")).unwrap(), first_csv);
    assert_eq!(fs::read(dir.path().join("summary.md")).unwrap(), first_md);
    assert_eq!(fs::read(dir.path().join("chart.png")).unwrap(), first_png);
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());

    // Several runs into an explicit folder.
    let out = dir.path().join("compare");
    let written = run_report_command(&[input.clone(), input], Some(&out), &opts).unwrap();
    assert!(written.iter().all(|p| p.starts_with(&out) && p.exists()));
    let md = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("vLLM (fixture-20250102T030405Z) #2"));
}

#[test]
fn report_command_names_the_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.json");
    fs::write(&bad, "{ \"schema_version\": 1, ").unwrap();
    let err = run_report_command(std::slice::from_ref(&bad), None, &ExportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&bad.display().to_string()), "{err}");
    assert!(!err.contains('\n'), "{err}");

    let missing = dir.path().join("nope.json");
    let err = run_report_command(
        std::slice::from_ref(&missing),
        None,
        &ExportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(run_report_command(&[], None, &ExportOptions::default()).is_err());
}

#[test]
fn write_all_is_atomic_and_lists_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/out");
    let written = write_all(
        &fixture(),
        &out,
        &ExportOptions {
            extended: true,
            svg: false,
        },
    )
    .unwrap();
    let names: Vec<_> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "chart.png",
            "chart-extended.png",
            "levels.csv",
            "summary.md"
        ]
    );
    assert_eq!(fs::read_dir(&out).unwrap().count(), 4);
}

// ---- edge cases: never panic ---------------------------------------------------------------

fn render_everything(report: &Report, what: &str) {
    for kind in [ChartKind::Standard, ChartKind::Extended] {
        let png_bytes = chart_png(report, kind).unwrap_or_else(|e| panic!("{what}: {e}"));
        // `LLMSWEEP_DUMP_CHARTS=<dir>` keeps the edge-case charts to look at.
        if let Some(dir) = std::env::var_os("LLMSWEEP_DUMP_CHARTS") {
            let name = format!("{what}-{kind:?}.png").replace(' ', "_");
            fs::write(Path::new(&dir).join(name), &png_bytes).unwrap();
        }
        let image = Image::decode(&png_bytes);
        assert_eq!((image.width, image.height), (1800, 720), "{what}");
        chart_svg(report, kind).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
    // One CSV row per engine × level, each as wide as the header.
    let csv = String::from_utf8(levels_csv(report)).unwrap_or_else(|e| panic!("{what}: {e}"));
    let rows = csv_rows(&csv);
    let levels: usize = report.engines.iter().map(|e| e.levels.len()).sum();
    assert_eq!(rows.len(), 1 + levels, "{what}:\n{csv}");
    for row in &rows {
        assert_eq!(row.len(), rows[0].len(), "{what}: {row:?}");
    }
    // Markdown names every engine that has a level, or says there is nothing to compare.
    let md = String::from_utf8(summary_md(report)).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(md.starts_with("# "), "{what}:\n{md}");
    for engine in report.engines.iter().filter(|e| !e.levels.is_empty()) {
        assert!(md.contains(&engine.name), "{what}: {} missing", engine.name);
    }
    if levels == 0 {
        assert!(md.contains("nothing to compare"), "{what}:\n{md}");
    }
}

/// RFC 4180 rows: fields split on commas outside quotes, `""` inside quotes is one `"`.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[test]
fn empty_report_renders() {
    let empty = merge_runs(&[]);
    render_everything(&empty, "no engines");
    assert_eq!(
        String::from_utf8(levels_csv(&empty))
            .unwrap()
            .lines()
            .count(),
        1
    );
    let md = String::from_utf8(summary_md(&empty)).unwrap();
    assert!(md.contains("nothing to compare"));
}

#[test]
fn nan_and_odd_values_render() {
    let base = fixture();

    let mut nan = base.clone();
    for engine in &mut nan.engines {
        for l in &mut engine.levels {
            l.request_throughput = f64::NAN;
            l.median_e2el_ms = Some(f64::NAN);
            l.p99_e2el_ms = Some(f64::INFINITY);
            l.median_ttft_ms = Some(f64::NEG_INFINITY);
            l.error_rate = f64::NAN;
            l.output_throughput = f64::NAN;
        }
    }
    nan.engines[0].levels[0].level = f64::NAN;
    render_everything(&nan, "NaN values");
    let md = String::from_utf8(summary_md(&nan)).unwrap();
    assert!(md.contains("n/a"));

    let mut zeros = base.clone();
    for engine in &mut zeros.engines {
        for l in &mut engine.levels {
            let level = l.level;
            *l = level_zero(level);
        }
    }
    render_everything(&zeros, "all zero");

    let mut one_engine = base.clone();
    one_engine.engines.truncate(1);
    render_everything(&one_engine, "one engine");

    let mut no_levels = base.clone();
    no_levels.engines[1].levels.clear();
    no_levels.engines[1].skipped_reason = Some("connection refused".to_string());
    render_everything(&no_levels, "engine without levels");

    let mut one_level = base.clone();
    for engine in &mut one_level.engines {
        engine.levels.truncate(1);
    }
    one_level.workload.levels.truncate(1);
    render_everything(&one_level, "one level");

    let mut odd_levels = base.clone();
    for engine in &mut odd_levels.engines {
        for (l, value) in engine.levels.iter_mut().zip([3.0, 5.0, 12.0, 100.0]) {
            l.level = value;
        }
    }
    render_everything(&odd_levels, "levels not powers of two");

    let mut non_positive = base.clone();
    non_positive.engines[0].levels[0].level = 0.0;
    non_positive.engines[1].levels[0].level = -1.0;
    render_everything(&non_positive, "zero and negative levels");

    let mut many = base.clone();
    for i in 0..10 {
        let mut e = base.engines[i % 2].clone();
        e.name = format!("engine number {i} with a rather long name");
        e.color = "not a colour".to_string();
        many.engines.push(e);
    }
    many.engines[0].model = "x".repeat(300);
    render_everything(&many, "many engines, long names, bad colours");

    let mut all_failed = base;
    for engine in &mut all_failed.engines {
        for l in &mut engine.levels {
            l.status = LevelStatus::Failed;
        }
    }
    render_everything(&all_failed, "all failed");
}

fn level_zero(level: f64) -> LevelSummary {
    let mut l = self::level(level, 1.0, 1.0, 1.0);
    l.completed = 0;
    for v in [
        &mut l.duration,
        &mut l.request_throughput,
        &mut l.output_throughput,
        &mut l.total_token_throughput,
        &mut l.mean_output_tokens,
    ] {
        *v = 0.0;
    }
    for v in [
        &mut l.median_ttft_ms,
        &mut l.p99_ttft_ms,
        &mut l.median_e2el_ms,
        &mut l.p99_e2el_ms,
        &mut l.median_tpot_ms,
        &mut l.p99_tpot_ms,
    ] {
        *v = None;
    }
    l
}

// ---- rate mode with SLOs -------------------------------------------------------------------

const RATE_FIXTURE: &str = "tests/fixtures/report/rate_slo.json";

/// A rate-mode level with SLO results and schedule stats.
fn rate_level(rate: f64, req_s: f64, ttft: f64, e2e: f64, slo_met: f64, late: u64) -> LevelSummary {
    let mut l = level(rate, req_s, ttft, e2e);
    l.max_concurrency = 0;
    l.mean_client_queue_ms = r3(late as f64 * 1.5);
    l.schedule = Some(ScheduleStats {
        mean_scheduled_ttft_ms: Some(r3(ttft * 1.05 + late as f64)),
        median_scheduled_ttft_ms: Some(r3(ttft + late as f64)),
        p99_scheduled_ttft_ms: Some(r3(ttft * 2.0 + 10.0 * late as f64)),
        mean_scheduled_e2el_ms: Some(r3(e2e * 1.03 + late as f64)),
        median_scheduled_e2el_ms: Some(r3(e2e + late as f64)),
        p99_scheduled_e2el_ms: Some(r3(e2e * 1.6 + 10.0 * late as f64)),
        late_starts: late,
    });
    l.request_goodput = Some(r3(req_s * slo_met));
    l.slo_met = Some(slo_met);
    l.slo_ttft_met = Some(r3((slo_met + 0.05).min(1.0)));
    l.slo_tpot_met = Some(1.0);
    l.meets_slo = Some(slo_met >= 0.9);
    l
}

/// 2 engines × 3 rates (req/s), duration-bound (30 s) levels, TTFT and TPOT SLOs, one
/// output-length warning.
fn build_rate_fixture() -> Report {
    let mut a = engine(
        "vLLM",
        "#d62728",
        vec![
            rate_level(1.0, 0.98, 40.0, 1700.0, 1.0, 0),
            rate_level(2.5, 2.46, 52.0, 1900.0, 0.95, 1),
            rate_level(5.0, 4.1, 380.0, 4100.0, 0.41, 37),
        ],
    );
    a.max_level_meeting_slo = Some(2.5);
    // SGLang stopped early at rate 5: 96 tokens a request against vLLM's 128.
    let mut b5 = rate_level(5.0, 3.2, 900.0, 7400.0, 0.1, 140);
    b5.mean_output_tokens = 96.0;
    b5.total_output_tokens = b5.completed * 96;
    b5.output_throughput = r3(b5.request_throughput * 96.0);
    // The warning the driver writes when SGLang's level ends, from the code that writes it.
    let warning = output_length_warning(("SGLang", &b5), &[("vLLM", &a.levels[2])])
        .expect("a 25 % difference warns");
    let b = engine(
        "SGLang",
        "#2ca02c",
        vec![
            rate_level(1.0, 0.99, 35.0, 1650.0, 0.86, 0),
            rate_level(2.5, 2.3, 120.0, 2600.0, 0.62, 12),
            b5,
        ],
    );
    Report {
        schema_version: SCHEMA_VERSION,
        tool: "llmsweep 0.1.0".to_string(),
        run_name: "rate-20250102T030405Z".to_string(),
        started_at: "2025-01-02T03:04:05Z".to_string(),
        resumed_at: Vec::new(),
        finished_at: Some("2025-01-02T03:09:55Z".to_string()),
        status: RunStatus::Complete,
        simulated: true,
        seed: 7,
        workload: Workload {
            mode: "rate".to_string(),
            levels: vec![1.0, 2.5, 5.0],
            requests_per_level: 0,
            warmup_requests: 2,
            max_tokens: 128,
            prompt_source: "inline pool (4 prompts)".to_string(),
            duration_s: Some(30.0),
            burstiness: Some(1.0),
            ..Workload::default()
        },
        engines: vec![a, b],
        config: serde_json::json!({
            "seed": 7,
            "sweep": { "mode": "rate", "duration_s": 30.0 },
            "slo": { "ttft_ms": 200.0, "tpot_ms": 50.0, "attainment": 0.9 },
        }),
        warnings: vec![warning],
        verdicts: Vec::new(),
        ..Report::default()
    }
}

fn rate_fixture() -> Report {
    let text = fs::read_to_string(manifest_path(RATE_FIXTURE)).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture parses")
}

/// The committed JSON is what [`build_rate_fixture`] builds; `LLMSWEEP_UPDATE_FIXTURES=1`
/// rewrites it.
#[test]
fn rate_fixture_json_is_up_to_date() {
    let built = build_rate_fixture();
    if std::env::var_os("LLMSWEEP_UPDATE_FIXTURES").is_some() {
        let mut json = serde_json::to_string_pretty(&built).unwrap();
        json.push('\n');
        fs::write(manifest_path(RATE_FIXTURE), json).unwrap();
    }
    assert_eq!(rate_fixture(), built);
}

/// Every error class and warning in the committed fixtures is one the code writes: an error
/// key is an [`ErrorClass`] the recorder counts as an error (`cancelled` is counted apart), and
/// a warning is the output-length warning computed from the fixture's own levels.
#[test]
fn fixtures_hold_only_error_classes_and_warnings_the_code_produces() {
    for path in [FIXTURE, RATE_FIXTURE] {
        let text = fs::read_to_string(manifest_path(path)).unwrap();
        let report: Report = serde_json::from_str(&text).unwrap();
        for engine in &report.engines {
            for level in &engine.levels {
                for key in level.errors.keys().chain(level.error_examples.keys()) {
                    let class: ErrorClass =
                        serde_json::from_value(serde_json::Value::String(key.clone()))
                            .unwrap_or_else(|_| panic!("{path}: no error class {key:?}"));
                    assert_ne!(class, ErrorClass::Cancelled, "{path}: {key}");
                }
            }
        }
        let producible = producible_warnings(&report);
        for warning in &report.warnings {
            assert!(
                producible.contains(warning),
                "{path}: the code never writes {warning:?}; it could write {producible:?}"
            );
        }
    }
}

/// The output-length warnings the driver could write for `report`'s levels (against the other
/// engines at the same level, all together or one at a time).
fn producible_warnings(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for (i, engine) in report.engines.iter().enumerate() {
        for level in &engine.levels {
            let others: Vec<(&str, &LevelSummary)> = report
                .engines
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .filter_map(|(_, e)| {
                    let l = e.levels.iter().find(|l| l.level == level.level)?;
                    Some((e.name.as_str(), l))
                })
                .collect();
            let this = (engine.name.as_str(), level);
            out.extend(output_length_warning(this, &others));
            for other in &others {
                out.extend(output_length_warning(this, std::slice::from_ref(other)));
            }
        }
    }
    out
}

#[test]
fn levels_csv_rate_slo_snapshot() {
    let csv = String::from_utf8(levels_csv(&rate_fixture())).unwrap();
    insta::assert_snapshot!("levels_csv_rate_slo", csv);
}

#[test]
fn levels_csv_rate_slo_fills_the_new_columns() {
    let csv = String::from_utf8(levels_csv(&rate_fixture())).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let head: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| head.iter().position(|c| *c == name).unwrap();
    let row: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("SGLang,5,"))
        .unwrap()
        .split(',')
        .collect();
    assert_eq!(row[col("late_starts")], "140");
    assert_eq!(row[col("request_goodput")], "0.32");
    assert_eq!(row[col("slo_met")], "0.1");
    assert_eq!(row[col("slo_e2e_met")], "");
    assert_eq!(row[col("meets_slo")], "false");
    assert_eq!(row[col("p99_scheduled_e2el_ms")], "13240");
    // The concurrency fixture has none of them: empty cells.
    let csv = String::from_utf8(levels_csv(&fixture())).unwrap();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    for name in [
        "late_starts",
        "request_goodput",
        "meets_slo",
        "mean_scheduled_ttft_ms",
    ] {
        assert_eq!(row[col(name)], "", "{name}");
    }
}

#[test]
fn summary_md_rate_slo_snapshot() {
    let md = String::from_utf8(summary_md(&rate_fixture())).unwrap();
    insta::assert_snapshot!("summary_md_rate_slo", md);
}

#[test]
fn summary_md_rate_slo_sections() {
    let md = String::from_utf8(summary_md(&rate_fixture())).unwrap();
    assert!(md.contains("| Rate (req/s) |"), "{md}");
    assert!(!md.contains("| Concurrency |"), "{md}");
    assert!(md.contains("## Goodput (req/s) — higher is better"), "{md}");
    assert!(
        md.contains("- **vLLM**: max rate (req/s) meeting the SLOs: 2.5"),
        "{md}"
    );
    assert!(
        md.contains("- **SGLang**: max rate (req/s) meeting the SLOs: none"),
        "{md}"
    );
    assert!(md.contains("## E2E latency from schedule p99 (ms)"), "{md}");
    assert!(md.contains("## Late starts"), "{md}");
    assert!(
        md.contains("## Warnings\n\n- ⚠ level 5: mean output length differs by 25%"),
        "{md}"
    );
    assert!(md.contains("duration 30 s per level"), "{md}");
    assert!(
        md.contains("- **SLOs:** TTFT ≤ 200 ms, TPOT ≤ 50 ms, attainment 90%"),
        "{md}"
    );
    // Without SLOs or rate mode none of it shows.
    let plain = String::from_utf8(summary_md(&fixture())).unwrap();
    for absent in [
        "Goodput",
        "from schedule",
        "Late starts",
        "Warnings",
        "SLOs",
    ] {
        assert!(!plain.contains(absent), "{absent}");
    }
    assert!(plain.contains("| Concurrency |"));
}

#[test]
fn rate_slo_chart_renders() {
    let report = rate_fixture();
    render_everything(&report, "rate + SLO");
    let png = chart_png(&report, ChartKind::Standard).unwrap();
    let layout = chart_layout(&report).unwrap();
    let img = Image::decode(&png);
    assert_eq!((img.width, img.height), (layout.width, layout.height));
    // The footer carries text (workload, SLOs and the warning note).
    assert!(img.count(layout.footer, |p| p != (255, 255, 255)) > 0);
    let svg = chart_svg(&report, ChartKind::Standard).unwrap();
    assert!(svg.contains("<svg"));
}

// ---- what each chart panel plots, read back from the SVG -----------------------------------

/// An SVG shape: (colour, stroke width or opacity, points in pixels).
type Shape = (String, String, Vec<(f64, f64)>);

/// The parts of a chart SVG the panels are made of, in pixels.
#[derive(Debug, Default)]
struct SvgChart {
    /// (x, y, text-anchor, content)
    texts: Vec<(f64, f64, String, String)>,
    /// (stroke colour, stroke width, points)
    lines: Vec<Shape>,
    /// (fill colour, opacity, points)
    polygons: Vec<Shape>,
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

fn points(text: &str) -> Vec<(f64, f64)> {
    text.split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

fn parse_svg(svg: &str) -> SvgChart {
    let mut chart = SvgChart::default();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        if tag.starts_with("<polyline") {
            chart.lines.push((
                attr(tag, "stroke").to_uppercase(),
                attr(tag, "stroke-width"),
                points(&attr(tag, "points")),
            ));
        } else if tag.starts_with("<polygon") {
            chart.polygons.push((
                attr(tag, "fill").to_uppercase(),
                attr(tag, "opacity"),
                points(&attr(tag, "points")),
            ));
        } else if tag.starts_with("<text") {
            let close = rest.find("</text>").unwrap();
            chart.texts.push((
                attr(tag, "x").parse().unwrap(),
                attr(tag, "y").parse().unwrap(),
                attr(tag, "text-anchor"),
                rest[end + 1..close].trim().to_string(),
            ));
        }
        rest = &rest[end..];
    }
    chart
}

/// One panel of a chart SVG with its axes, to turn pixels back into values.
struct SvgPanel<'a> {
    chart: &'a SvgChart,
    rect: Rect,
    /// (pixel y, value) of the lowest and highest y tick.
    y_ticks: ((f64, f64), (f64, f64)),
    /// (pixel x, level) of every x tick.
    x_ticks: Vec<(f64, f64)>,
}

impl<'a> SvgPanel<'a> {
    fn new(chart: &'a SvgChart, rect: Rect) -> SvgPanel<'a> {
        let inside = |x: f64, y: f64| rect.contains(x as i32, y as i32);
        let numbers = |anchor: &str| -> Vec<(f64, f64, f64)> {
            chart
                .texts
                .iter()
                .filter(|(x, y, a, _)| a == anchor && inside(*x, *y))
                .filter_map(|(x, y, _, t)| Some((*x, *y, t.parse::<f64>().ok()?)))
                .collect()
        };
        let mut y: Vec<(f64, f64)> = numbers("end").iter().map(|&(_, y, v)| (y, v)).collect();
        y.sort_by(|a, b| b.0.total_cmp(&a.0));
        assert!(y.len() >= 2, "no y ticks in {rect:?}");
        let x_ticks = numbers("middle").iter().map(|&(x, _, v)| (x, v)).collect();
        SvgPanel {
            chart,
            rect,
            y_ticks: (y[0], y[y.len() - 1]),
            x_ticks,
        }
    }

    fn value(&self, y_px: f64) -> f64 {
        let ((y0, v0), (y1, v1)) = self.y_ticks;
        v0 + (y_px - y0) * (v1 - v0) / (y1 - y0)
    }

    /// Value per pixel: the read-back resolution.
    fn per_px(&self) -> f64 {
        let ((y0, v0), (y1, v1)) = self.y_ticks;
        ((v1 - v0) / (y1 - y0)).abs()
    }

    fn level(&self, x_px: f64) -> f64 {
        self.x_ticks
            .iter()
            .find(|(x, _)| (x - x_px).abs() <= 1.0)
            .unwrap_or_else(|| panic!("no x tick at {x_px} in {:?}", self.x_ticks))
            .1
    }

    fn inside(&self, pts: &[(f64, f64)]) -> bool {
        pts.iter()
            .all(|&(x, y)| self.rect.contains(x as i32, y as i32))
    }

    /// The engine's line through its levels: (level, value) per vertex, left to right.
    fn line(&self, color: &str) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = self
            .chart
            .lines
            .iter()
            .filter(|(c, w, p)| c == color && w == "3" && self.inside(p))
            .flat_map(|(_, _, p)| p.iter().map(|&(x, y)| (self.level(x), self.value(y))))
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// The engine's shaded band: (level, bottom, top) per level.
    fn band(&self, color: &str) -> Vec<(f64, f64, f64)> {
        let mut out = Vec::new();
        for (_, _, p) in self
            .chart
            .polygons
            .iter()
            .filter(|(c, _, p)| c == color && self.inside(p))
        {
            // The top edge left to right, then the bottom edge right to left.
            let n = p.len() / 2;
            for i in 0..n {
                let (top, bottom) = (p[i], p[p.len() - 1 - i]);
                assert_eq!(top.0, bottom.0, "band edges out of step: {p:?}");
                out.push((self.level(top.0), self.value(bottom.1), self.value(top.1)));
            }
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

type Metric = fn(&LevelSummary) -> Option<f64>;

/// Every panel of `kind` plots `metrics[i]` as its line and, where given, a band up to
/// `bands[i]`, for every engine of the fixture, to within 2 pixels.
fn check_panels(kind: ChartKind, metrics: [Metric; 3], bands: [Option<Metric>; 3]) {
    check_panels_of(&fixture(), kind, metrics, bands);
}

fn check_panels_of(
    report: &Report,
    kind: ChartKind,
    metrics: [Metric; 3],
    bands: [Option<Metric>; 3],
) {
    let chart = parse_svg(&chart_svg(report, kind).unwrap());
    let layout = chart_layout(report).unwrap();
    for (i, rect) in layout.panels.iter().enumerate() {
        let panel = SvgPanel::new(&chart, *rect);
        let tolerance = 2.0 * panel.per_px();
        for engine in &report.engines {
            let color = engine.color.to_uppercase();
            // The line runs through the good and partial levels; SGLang's failed level 8 breaks
            // it (and is the last one, so nothing follows).
            let plotted: Vec<&LevelSummary> = engine
                .levels
                .iter()
                .filter(|l| l.status != LevelStatus::Failed)
                .collect();
            let line = panel.line(&color);
            let levels: Vec<f64> = line.iter().map(|p| p.0).collect();
            let want: Vec<f64> = plotted.iter().map(|l| l.level).collect();
            assert_eq!(levels, want, "{kind:?} panel {i}, {}", engine.name);
            for ((level, got), l) in line.iter().zip(&plotted) {
                let expected = metrics[i](l).unwrap();
                assert!(
                    (got - expected).abs() <= tolerance,
                    "{kind:?} panel {i}, {} at {level}: plotted {got:.3}, the metric is {expected:.3} (± {tolerance:.3})",
                    engine.name
                );
            }
            let band = panel.band(&color);
            match bands[i] {
                None => assert!(band.is_empty(), "{kind:?} panel {i} has a band: {band:?}"),
                Some(top) => {
                    assert_eq!(band.len(), plotted.len(), "{kind:?} panel {i}: {band:?}");
                    for ((level, bottom, upper), l) in band.iter().zip(&plotted) {
                        let (want_bottom, want_top) = (metrics[i](l).unwrap(), top(l).unwrap());
                        assert!(
                            (bottom - want_bottom).abs() <= tolerance
                                && (upper - want_top).abs() <= tolerance,
                            "{kind:?} panel {i}, {} at {level}: band {bottom:.3}–{upper:.3}, want {want_bottom:.3}–{want_top:.3}",
                            engine.name
                        );
                    }
                }
            }
        }
    }
}

/// Request throughput; median E2E (s) with its p50–p99 band; median TTFT (ms) with its band.
#[test]
fn standard_chart_panels_plot_throughput_e2e_and_ttft_with_p99_bands() {
    check_panels(
        ChartKind::Standard,
        [
            |l| Some(l.plotted_request_throughput()),
            |l| l.median_e2el_ms.map(|ms| ms / 1e3),
            |l| l.median_ttft_ms,
        ],
        [
            None,
            Some(|l| l.p99_e2el_ms.map(|ms| ms / 1e3)),
            Some(|l| l.p99_ttft_ms),
        ],
    );
}

/// Output throughput; median TPOT with its p50–p99 band; the error rate in %.
#[test]
fn extended_chart_panels_plot_output_throughput_tpot_and_error_rate() {
    check_panels(
        ChartKind::Extended,
        [
            |l| Some(l.plotted_output_throughput()),
            |l| l.median_tpot_ms,
            |l| Some(l.error_rate * 100.0),
        ],
        [None, Some(|l| l.p99_tpot_ms), None],
    );
}

/// Every level of the fixture scraped: KV usage and waiting requests rising with the level.
fn scraped_fixture() -> Report {
    let mut report = fixture();
    for (e, engine) in report.engines.iter_mut().enumerate() {
        for l in &mut engine.levels {
            let c = l.level;
            l.server = Some(ServerStats {
                scrapes: 4,
                mean_kv_usage: Some((0.05 * c + 0.02 * e as f64).min(0.9)),
                max_kv_usage: Some((0.08 * c + 0.02 * e as f64).min(1.0)),
                mean_waiting: Some(c * 0.5 + e as f64),
                max_waiting: Some(c + e as f64 + 1.0),
                client_added_ttft_ms: Some(2.0 + c * 0.25 + e as f64),
                ..ServerStats::default()
            });
        }
    }
    report
}

/// Mean KV usage (%) with its band to the max; mean waiting requests with a band to the
/// max; client-added TTFT (ms).
#[test]
fn server_chart_panels_plot_kv_usage_waiting_and_client_added_ttft() {
    check_panels_of(
        &scraped_fixture(),
        ChartKind::Server,
        [
            |l| l.server.as_ref()?.mean_kv_usage.map(|v| v * 100.0),
            |l| l.server.as_ref()?.mean_waiting,
            |l| l.server.as_ref()?.client_added_ttft_ms,
        ],
        [
            Some(|l| l.server.as_ref()?.max_kv_usage.map(|v| v * 100.0)),
            Some(|l| l.server.as_ref()?.max_waiting),
            None,
        ],
    );
}

#[test]
fn the_server_chart_is_written_with_the_extended_set_only_when_levels_were_scraped() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ExportOptions {
        extended: true,
        ..ExportOptions::default()
    };
    let written = write_all(&scraped_fixture(), dir.path(), &opts).unwrap();
    assert!(
        written.iter().any(|p| p.ends_with("chart-server.png")),
        "{written:?}"
    );
    let plain = tempfile::tempdir().unwrap();
    let written = write_all(&fixture(), plain.path(), &opts).unwrap();
    assert!(
        !written.iter().any(|p| p.ends_with("chart-server.png")),
        "{written:?}"
    );
    let standard = tempfile::tempdir().unwrap();
    let written = write_all(
        &scraped_fixture(),
        standard.path(),
        &ExportOptions::default(),
    )
    .unwrap();
    assert!(
        !written.iter().any(|p| p.ends_with("chart-server.png")),
        "{written:?}"
    );
}

// ---- which throughput is shown; achieved concurrency; warnings -----------------------------

use llmsweep::report::{chart_points, Marker, PlottedPoint};

/// `l` with a steady-state window of `window_s` s holding `completed` completions at C in
/// flight, at `req_s` (steady) requests per second.
fn with_steady(mut l: LevelSummary, window_s: f64, completed: u64, req_s: f64) -> LevelSummary {
    l.achieved_peak_concurrency = l.max_concurrency;
    l.mean_concurrency = f64::from(l.max_concurrency) * 0.9;
    l.steady_window_s = Some(window_s);
    l.steady_completed = completed;
    l.steady_request_throughput = Some(req_s);
    l.steady_output_throughput = Some(req_s * 128.0);
    l
}

/// One engine: levels 1, 2, 4 with a steady window of ≥ 2 × C completions (steady 5 %
/// above the whole level), level 8 without enough (whole level shown).
fn mixed_basis_report() -> Report {
    let mut report = build_fixture();
    let steady = |c: f64, req_s: f64| {
        with_steady(
            level(c, req_s, 40.0, 1800.0),
            10.0,
            4 * c as u64,
            r3(req_s * 1.05),
        )
    };
    let mut short = with_steady(level(8.0, 20.0, 90.0, 2900.0), 0.8, 10, 25.0);
    short.achieved_peak_concurrency = 8;
    report.engines = vec![engine(
        "vLLM",
        "#d62728",
        vec![steady(1.0, 4.0), steady(2.0, 7.0), steady(4.0, 12.0), short],
    )];
    report
}

/// `<text>` elements of `svg` whose whole content is `text`.
fn svg_text_count(svg: &str, text: &str) -> usize {
    svg.matches(&format!(">\n{text}\n</text>")).count()
}

#[test]
fn throughput_basis_is_said_and_whole_level_figures_are_marked() {
    let report = mixed_basis_report();
    let md = String::from_utf8(summary_md(&report)).unwrap();
    let note = "*Throughput: steady-state window (ramp-up and drain excluded) where it held ≥ 2 × \
                peak in-flight completions; † = whole level (ramp-up and drain included).*";
    assert_eq!(md.matches(note).count(), 2, "{md}");
    // Steady figures where the window holds ≥ 2 × C completions, the whole level's with a †.
    assert!(
        md.contains("| 1 | **4.20** ★ | vLLM (only valid result) |"),
        "{md}"
    );
    assert!(
        md.contains("| 8 | **20.00†** ★ | vLLM (only valid result) |"),
        "{md}"
    );
    assert!(
        md.contains("| 8 | **2560†** ★ | vLLM (only valid result) |"),
        "{md}"
    );
    // Latency tables carry no mark.
    assert!(!md.contains("90.00†"), "{md}");

    // The chart: the same values, the whole-level one marked, only in the throughput panel.
    let [req, e2e, ttft] = chart_points(&report, ChartKind::Standard);
    let values: Vec<(f64, f64, bool)> = req
        .iter()
        .map(|p| (p.level, p.value, p.whole_level_mark))
        .collect();
    assert_eq!(
        values,
        [
            (1.0, 4.2, false),
            (2.0, 7.35, false),
            (4.0, 12.6, false),
            (8.0, 20.0, true)
        ]
    );
    assert!(e2e.iter().chain(&ttft).all(|p| !p.whole_level_mark));
    let [tok, ..] = chart_points(&report, ChartKind::Extended);
    assert_eq!(tok[3].value, 2560.0);
    assert!(tok[3].whole_level_mark && !tok[0].whole_level_mark);
    let svg = chart_svg(&report, ChartKind::Standard).unwrap();
    assert!(
        svg.contains("higher is better · steady state, † = whole level"),
        "the throughput panel says which"
    );
    assert!(svg.contains("throughput: steady-state window (ramp-up and drain excluded) where"));
    assert_eq!(
        svg_text_count(&svg, "†"),
        1,
        "one † beside the whole-level marker"
    );
    if let Some(dir) = std::env::var_os("LLMSWEEP_DUMP_CHARTS") {
        let png = chart_png(&report, ChartKind::Standard).unwrap();
        fs::write(Path::new(&dir).join("mixed-basis-chart.png"), png).unwrap();
    }

    // Every level steady: said, nothing marked.
    let mut steady = report.clone();
    steady.engines[0].levels.truncate(3);
    let md = String::from_utf8(summary_md(&steady)).unwrap();
    assert!(md.contains("*Throughput: steady-state window (ramp-up and drain excluded).*"));
    assert!(!md.contains('†'), "{md}");
    let svg = chart_svg(&steady, ChartKind::Standard).unwrap();
    assert!(svg.contains(">\nhigher is better · steady state\n<"));
    assert_eq!(svg_text_count(&svg, "†"), 0);

    // No level with a window (results from before it was measured): whole level, said once.
    let md = String::from_utf8(summary_md(&fixture())).unwrap();
    assert!(md.contains(
        "*Throughput: whole level, first send to last completion (ramp-up and drain included).*"
    ));
    assert!(!md.contains('†'), "{md}");
    let svg = chart_svg(&fixture(), ChartKind::Standard).unwrap();
    assert!(svg.contains(">\nhigher is better · whole level\n<"));
    assert!(svg.contains("throughput: whole level, first send to last completion"));
}

#[test]
fn summary_md_shows_achieved_concurrency_and_the_steady_window() {
    let mut report = mixed_basis_report();
    // C=64 with 50 requests: never 64 in flight, no window.
    let mut never = level(64.0, 30.0, 120.0, 3500.0);
    never.completed = 50;
    never.achieved_peak_concurrency = 50;
    never.mean_concurrency = 31.25;
    report.engines[0].levels.push(never);
    let md = String::from_utf8(summary_md(&report)).unwrap();
    assert!(
        md.contains(
            "## Achieved concurrency and steady state\n\n\
             Peak and time-weighted mean of the requests in flight against the level's concurrency"
        ),
        "{md}"
    );
    assert!(md.contains(
        "| Engine | Concurrency | Peak in flight | Mean in flight | Active time (s) | Steady window (s) | Completed in window | Throughput shown |"
    ));
    assert!(
        md.contains("| vLLM | 1 | 1 of 1 | 0.9 | 16.00 | 10.00 | 4 | steady state |"),
        "{md}"
    );
    assert!(
        md.contains("| vLLM | 8 | 8 of 8 | 7.2 | 3.20 | 0.80 | 10 | whole level |"),
        "{md}"
    );
    assert!(
        md.contains("| vLLM | 64 | 50 of 64 ⚠ | 31.2 | 2.13 | — | 0 | whole level |"),
        "{md}"
    );
    // Results from before llmsweep measured it have no such table.
    let md = String::from_utf8(summary_md(&fixture())).unwrap();
    assert!(!md.contains("Achieved concurrency"), "{md}");
}

#[test]
fn level_warnings_are_listed_and_the_chart_counts_them() {
    let mut report = mixed_basis_report();
    report.warnings = vec![
        "vLLM: C=8: steady state held for 0.80 s of 3.20 s active: whole-level throughput is mostly ramp-up and drain; set requests_per_level ≥ 4 × C (32) or duration_s".to_string(),
        "vLLM: C=8: 12.0 % of output chunks arrived in the same read as the one before: ITL percentiles are read-granular".to_string(),
    ];
    let md = String::from_utf8(summary_md(&report)).unwrap();
    assert!(
        md.contains("## Warnings\n\n- ⚠ vLLM: C=8: steady state held for 0.80 s of 3.20 s active"),
        "{md}"
    );
    assert!(
        md.contains("- ⚠ vLLM: C=8: 12.0 % of output chunks"),
        "{md}"
    );
    // The chart's footer points at them without claiming they are about output lengths.
    let svg = chart_svg(&report, ChartKind::Standard).unwrap();
    assert!(svg.contains("⚠ 2 warnings — see summary.md"), "footer");
    assert!(!svg.contains("unequal output lengths"));
    report.warnings.truncate(1);
    let svg = chart_svg(&report, ChartKind::Standard).unwrap();
    assert!(svg.contains("⚠ 1 warning — see summary.md"), "footer");
}

// ---- a level without a successful request ---------------------------------------------------

/// Every request of the level failed: no latency at all.
fn no_success(level: f64) -> LevelSummary {
    let mut l = level_zero(level);
    l.status = LevelStatus::Failed;
    l.failed = 64;
    l.error_rate = 1.0;
    l.errors.insert("http_status".to_string(), 64);
    for v in [
        &mut l.mean_ttft_ms,
        &mut l.median_ttft_ms,
        &mut l.p90_ttft_ms,
        &mut l.p95_ttft_ms,
        &mut l.p99_ttft_ms,
        &mut l.max_ttft_ms,
        &mut l.mean_tpot_ms,
        &mut l.median_tpot_ms,
        &mut l.p90_tpot_ms,
        &mut l.p95_tpot_ms,
        &mut l.p99_tpot_ms,
        &mut l.max_tpot_ms,
        &mut l.mean_itl_ms,
        &mut l.median_itl_ms,
        &mut l.p90_itl_ms,
        &mut l.p95_itl_ms,
        &mut l.p99_itl_ms,
        &mut l.max_itl_ms,
        &mut l.mean_e2el_ms,
        &mut l.median_e2el_ms,
        &mut l.p90_e2el_ms,
        &mut l.p95_e2el_ms,
        &mut l.p99_e2el_ms,
        &mut l.max_e2el_ms,
    ] {
        *v = None;
    }
    l
}

const LATENCY_COLUMNS: [&str; 24] = [
    "mean_ttft_ms",
    "median_ttft_ms",
    "p90_ttft_ms",
    "p95_ttft_ms",
    "p99_ttft_ms",
    "max_ttft_ms",
    "mean_tpot_ms",
    "median_tpot_ms",
    "p90_tpot_ms",
    "p95_tpot_ms",
    "p99_tpot_ms",
    "max_tpot_ms",
    "mean_itl_ms",
    "median_itl_ms",
    "p90_itl_ms",
    "p95_itl_ms",
    "p99_itl_ms",
    "max_itl_ms",
    "mean_e2el_ms",
    "median_e2el_ms",
    "p90_e2el_ms",
    "p95_e2el_ms",
    "p99_e2el_ms",
    "max_e2el_ms",
];

/// The fixture with SGLang's level 2 replaced by one where every request failed (vLLM's
/// level 8 stays skipped, SGLang's level 8 failed with 6 successes).
fn no_success_report() -> Report {
    let mut report = fixture();
    report.engines[1].levels[1] = no_success(2.0);
    report
}

#[test]
fn no_success_latencies_are_null_in_results_json() {
    let report = no_success_report();
    let json = serde_json::to_string_pretty(&report).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let level = &value["engines"][1]["levels"][1];
    for name in LATENCY_COLUMNS {
        assert!(level[name].is_null(), "{name}: {}", level[name]);
    }
    assert_eq!(value["engines"][1]["levels"][0]["median_ttft_ms"], 31.0);
    // Read back from a results.json on disk, the nulls stay "no value" all the way to the
    // exports.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.json");
    fs::write(&file, &json).unwrap();
    let back: Report = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(back, report);
    assert_eq!(back.engines[1].levels[1].median_ttft_ms, None);
    run_report_command(&[file], None, &ExportOptions::default()).unwrap();
    let csv = fs::read_to_string(dir.path().join("levels.csv")).unwrap();
    assert_eq!(csv.as_bytes(), levels_csv(&report));
}

#[test]
fn no_success_latencies_are_empty_csv_cells() {
    let csv = String::from_utf8(levels_csv(&no_success_report())).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let head: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| head.iter().position(|c| *c == name).unwrap();
    let row: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("SGLang,2,"))
        .unwrap()
        .split(',')
        .collect();
    assert_eq!(row.len(), head.len());
    for name in LATENCY_COLUMNS {
        assert_eq!(row[col(name)], "", "{name}");
    }
    assert_eq!(row[col("completed")], "0");
    assert_eq!(row[col("request_throughput")], "0");
    // A level with successes keeps its numbers.
    let ok: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(ok[col("median_ttft_ms")], "38");
}

#[test]
fn no_success_latencies_are_dashes_in_summary_md() {
    let md = String::from_utf8(summary_md(&no_success_report())).unwrap();
    let section = |title: &str| {
        let start = md.find(title).unwrap_or_else(|| panic!("{title}\n{md}"));
        let rest = &md[start..];
        rest[..rest[2..].find("\n## ").map_or(rest.len(), |i| i + 2)].to_string()
    };
    for title in [
        "## Median TTFT (ms)",
        "## P99 TTFT (ms)",
        "## Median E2E latency (s)",
        "## P99 E2E latency (s)",
        "## Median TPOT (ms)",
    ] {
        let table = section(title);
        let row = table
            .lines()
            .find(|l| l.starts_with("| 2 |"))
            .unwrap_or_else(|| panic!("{table}"));
        // vLLM wins alone; SGLang's cell is a dash, never 0.
        assert!(row.contains("| — (failed) |"), "{title}: {row}");
        assert!(
            row.ends_with("| vLLM (only valid result) |"),
            "{title}: {row}"
        );
    }
    // Its throughput is a measured 0, and its error rate 100 %.
    assert!(section("## Request throughput").contains("| 2 | **7.60** ★ | 0 (failed) |"));
    assert!(section("## Error rate").contains("| 100.0% (failed) |"));
}

#[test]
fn chart_omits_points_without_a_value_and_keeps_failed_and_skipped_markers() {
    let report = no_success_report();
    let find = |points: &[PlottedPoint], engine: usize, level: f64| {
        points
            .iter()
            .find(|p| p.engine == engine && p.level == level)
            .cloned()
    };
    for kind in [ChartKind::Standard, ChartKind::Extended] {
        let panels = chart_points(&report, kind);
        // Latency panels (Standard: E2E, TTFT; Extended: TPOT) have no point for SGLang at 2.
        let latency: &[usize] = match kind {
            ChartKind::Standard => &[1, 2],
            ChartKind::Extended => &[1],
            ChartKind::Server => unreachable!("not in the loop"),
        };
        for (i, points) in panels.iter().enumerate() {
            let at_2 = find(points, 1, 2.0);
            if latency.contains(&i) {
                assert_eq!(at_2, None, "{kind:?} panel {i}");
                assert_eq!(points.len(), 7, "{kind:?} panel {i}");
            } else {
                // Throughput (a measured 0) and error rate keep the failed marker.
                assert_eq!(at_2.map(|p| p.marker), Some(Marker::Failed), "{kind:?} {i}");
                assert_eq!(points.len(), 8, "{kind:?} panel {i}");
            }
            // SGLang's failed level 8 has values: its ✕ stays; vLLM's skipped 8 its ring.
            assert_eq!(find(points, 1, 8.0).map(|p| p.marker), Some(Marker::Failed));
            assert_eq!(find(points, 0, 8.0).map(|p| p.marker), Some(Marker::Hollow));
            assert_eq!(find(points, 0, 2.0).map(|p| p.marker), Some(Marker::Filled));
        }
    }
    // The drawing agrees: the failed ✕ is a 10 px ring in the engine's colour, one in the
    // legend plus one per failed point.
    let svg = chart_svg(&report, ChartKind::Standard).unwrap();
    let rings = |svg: &str| {
        svg.matches(r##"r="10" opacity="1" fill="none" stroke="#2CA02C""##)
            .count()
    };
    let with_value = chart_svg(&fixture(), ChartKind::Standard).unwrap();
    // Fixture: SGLang's 8 fails in all 3 panels. Here level 2 adds a ✕ in the throughput panel
    // only (no latency to draw).
    assert_eq!(rings(&with_value), 3, "fixture rings");
    assert_eq!(rings(&svg), 4);
}

/// The fixture with server stats on vLLM's first two levels (a vLLM endpoint, no GPU
/// exporter on level 1, one on level 2) and none on SGLang's.
fn server_fixture() -> Report {
    let mut report = fixture();
    report.engines[0].server_metrics_schema = Some("vllm".into());
    report.engines[0].levels[0].server = Some(ServerStats {
        scrapes: 5,
        mean_running: Some(0.8),
        max_running: Some(1.0),
        mean_waiting: Some(0.0),
        max_waiting: Some(0.0),
        mean_kv_usage: Some(0.021),
        max_kv_usage: Some(0.04),
        preemptions: Some(0.0),
        prefix_cache_hit_rate: Some(0.25),
        generation_tokens: Some(8192.0),
        server_mean_ttft_ms: Some(31.5),
        server_p50_ttft_ms: Some(30.0),
        client_added_ttft_ms: Some(6.5),
        ..ServerStats::default()
    });
    report.engines[0].levels[1].server = Some(ServerStats {
        scrapes: 3,
        mean_running: Some(2.0),
        max_running: Some(2.0),
        energy_j_per_token: Some(0.42),
        throttled_s: Some(1.5),
        mean_gpu_power_w: Some(310.0),
        ..ServerStats::default()
    });
    report
}

#[test]
fn summary_md_has_the_server_table_with_dashes_for_what_is_not_exported() {
    let md = String::from_utf8(summary_md(&server_fixture())).unwrap();
    assert!(md.contains("## Server metrics"), "{md}");
    assert!(
        md.contains("| vLLM | 1 | 0.800 / 1.00 | 0 / 0 | 2.1% / 4.0% | 0 | 25.0% | 31.50 / 30.00 | 6.50 | — | — | — | — |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| vLLM | 2 | 2.00 / 2.00 | — | — | — | — | — | — | 0.420 | 1.50 | — | 310.0 |"
        ),
        "{md}"
    );
    assert!(
        !md.contains("| SGLang | 1 | 0"),
        "SGLang was not scraped: no row"
    );
    // Without any server stats there is no such section.
    assert!(!String::from_utf8(summary_md(&fixture()))
        .unwrap()
        .contains("## Server metrics"));
}

#[test]
fn levels_csv_fills_the_server_columns_and_leaves_absent_ones_empty() {
    let csv = String::from_utf8(levels_csv(&server_fixture())).unwrap();
    let rows = csv_rows(&csv);
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let vllm_1 = &rows[1];
    assert_eq!(vllm_1[col("server_scrapes")], "5");
    assert_eq!(vllm_1[col("mean_kv_usage")], "0.021");
    assert_eq!(vllm_1[col("server_mean_ttft_ms")], "31.5");
    assert_eq!(vllm_1[col("client_added_ttft_ms")], "6.5");
    assert_eq!(vllm_1[col("waiting_grew")], "false");
    assert_eq!(vllm_1[col("energy_j_per_token")], "");
    let vllm_2 = &rows[2];
    assert_eq!(vllm_2[col("energy_j_per_token")], "0.42");
    assert_eq!(vllm_2[col("gpu_throttled_s")], "1.5");
    assert_eq!(vllm_2[col("mean_waiting")], "");
    let sglang_1 = &rows[5];
    assert_eq!(sglang_1[0], "SGLang");
    assert_eq!(sglang_1[col("server_scrapes")], "");
    assert_eq!(sglang_1[col("waiting_grew")], "");
}

// ---- the host ------------------------------------------------------------------------------

fn process(pid: u32, command: &str, cores: f64, engine: Option<&str>) -> HostProcess {
    HostProcess {
        pid,
        command: command.to_string(),
        cores,
        engine: engine.map(str::to_string),
    }
}

fn engine_cpu(engine: &str, under_test: bool, pid: u32, cores: f64) -> EngineCpu {
    EngineCpu {
        engine: engine.to_string(),
        under_test,
        location: EngineLocation::Local,
        pid: Some(pid),
        processes: 3,
        cores: Some(cores),
    }
}

/// The fixture with host reports on 4 levels: vLLM at 1 fine; at 2 starved by `yes`; at 4
/// busy (the client) while SGLang, idle, used 1.7 cores; SGLang at 1 late, both engines
/// remote. The other levels have none.
fn host_fixture() -> Report {
    let mut report = fixture();
    let vllm = &mut report.engines[0].levels;
    vllm[0].host = Some(HostReport {
        cores: 2,
        busy_cores: 0.9,
        steal_cores: 0.0,
        client_cores: 0.2,
        other_cores: 0.05,
        top: vec![
            process(100, "python3", 0.6, Some("vLLM")),
            process(22, "sshd", 0.05, None),
        ],
        engines: vec![
            engine_cpu("vLLM", true, 100, 0.65),
            engine_cpu("SGLang", false, 200, 0.02),
        ],
        samples: 12,
        sampling_cpu_ms: 0.0,
    });
    vllm[1].client_state = ClientState::Starved;
    vllm[1].client_limited = true;
    vllm[1].host = Some(HostReport {
        cores: 2,
        busy_cores: 1.95,
        steal_cores: 0.0,
        client_cores: 0.15,
        other_cores: 1.0,
        top: vec![
            process(4242, "yes", 0.98, None),
            process(100, "python3", 0.7, Some("vLLM")),
            process(200, "py;thon", 0.1, Some("SGLang")),
        ],
        engines: vec![
            engine_cpu("vLLM", true, 100, 0.7),
            engine_cpu("SGLang", false, 200, 0.1),
        ],
        samples: 10,
        sampling_cpu_ms: 0.0,
    });
    vllm[2].client_state = ClientState::Busy;
    vllm[2].client_limited = true;
    vllm[2].host = Some(HostReport {
        cores: 2,
        busy_cores: 2.0,
        steal_cores: 0.0,
        client_cores: 1.0,
        other_cores: 0.0,
        top: vec![process(200, "python3", 1.7, Some("SGLang"))],
        engines: vec![
            engine_cpu("vLLM", true, 100, 0.3),
            engine_cpu("SGLang", false, 200, 1.7),
        ],
        samples: 8,
        sampling_cpu_ms: 0.0,
    });
    let remote = |engine: &str, under_test| EngineCpu {
        engine: engine.to_string(),
        under_test,
        location: EngineLocation::Remote,
        ..EngineCpu::default()
    };
    let sglang = &mut report.engines[1].levels;
    sglang[0].client_state = ClientState::Late;
    sglang[0].client_limited = true;
    sglang[0].host = Some(HostReport {
        cores: 2,
        busy_cores: 0.3,
        steal_cores: 0.4,
        client_cores: 0.25,
        other_cores: 0.05,
        top: Vec::new(),
        engines: vec![remote("vLLM", false), remote("SGLang", true)],
        samples: 14,
        sampling_cpu_ms: 0.0,
    });
    report
}

#[test]
fn levels_csv_fills_the_host_columns() {
    let csv = String::from_utf8(levels_csv(&host_fixture())).unwrap();
    let rows = csv_rows(&csv);
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let cells = |row: &[String]| -> Vec<String> {
        (col("client_state")..=col("host_top"))
            .map(|i| row[i].clone())
            .collect()
    };
    assert_eq!(col("client_state"), col("client_limited") + 1);
    assert_eq!(col("server_scrapes"), col("host_top") + 1);
    assert_eq!(
        cells(&rows[1]),
        [
            "fine",
            "2",
            "0.9",
            "0",
            "0.2",
            "0.05",
            "0.65",
            "0.02",
            "python3:100:0.6;sshd:22:0.05"
        ]
    );
    // A `;` in a command name would split the list: written as `_`.
    assert_eq!(
        cells(&rows[2]),
        [
            "starved",
            "2",
            "1.95",
            "0",
            "0.15",
            "1",
            "0.7",
            "0.1",
            "yes:4242:0.98;python3:100:0.7;py_thon:200:0.1"
        ]
    );
    assert_eq!(cells(&rows[3])[..1], ["busy"]);
    assert_eq!(cells(&rows[3])[7], "1.7");
    // Remote engines: no engine cores, no idle engine's; no top process.
    assert_eq!(rows[5][0], "SGLang");
    assert_eq!(
        cells(&rows[5]),
        ["late", "2", "0.3", "0.4", "0.25", "0.05", "", "", ""]
    );
    // No host report: the state still, every host cell empty.
    assert_eq!(cells(&rows[6]), ["fine", "", "", "", "", "", "", "", ""]);
}

fn section<'a>(md: &'a str, title: &str) -> &'a str {
    let start = md
        .find(title)
        .unwrap_or_else(|| panic!("no {title} in\n{md}"));
    let rest = &md[start..];
    let end = rest[title.len()..]
        .find("\n## ")
        .map_or(rest.len(), |e| e + title.len() + 1);
    &rest[..end]
}

#[test]
fn summary_md_host_section() {
    let md = String::from_utf8(summary_md(&host_fixture())).unwrap();
    let host = section(&md, "## Host");
    assert!(
        host.contains(
            "| vLLM | 2 | 1.95 of 2 | 0.15 | 0.70 | 1.00 | 0.00 | `yes` (4242) 0.98 | starved |"
        ),
        "{host}"
    );
    // The busiest process not the engine under test's may be an idle engine's.
    assert!(
        host.contains("| vLLM | 4 | 2.00 of 2 | 1.00 | 0.30 | 0.00 | 0.00 | `python3` (200, SGLang) 1.70 | busy |"),
        "{host}"
    );
    assert!(
        host.contains(
            "| SGLang | 1 | 0.30 of 2 | 0.25 | remote: not sampled | 0.05 | 0.40 | — | late |"
        ),
        "{host}"
    );
    // Idle engines above a quarter of a core: one line each (SGLang's 0.10 at 2 is not).
    assert!(
        host.contains("\n- SGLang (idle) used 1.70 cores while vLLM C=4 ran.\n"),
        "{host}"
    );
    assert_eq!(host.matches("(idle) used").count(), 1, "{host}");
    insta::assert_snapshot!("summary_md_host", host);
    // Without a host report there is no such section.
    let plain = String::from_utf8(summary_md(&fixture())).unwrap();
    assert!(!plain.contains("## Host"));
}

#[test]
fn summary_md_marks_host_busy_client_busy_and_late_levels() {
    let md = String::from_utf8(summary_md(&host_fixture())).unwrap();
    let throughput = section(&md, "## Output throughput");
    assert!(
        throughput.contains("| 2 | 972.8 (host busy) |"),
        "{throughput}"
    );
    assert!(
        throughput.contains("| 4 | **1779** ★ (client busy) |"),
        "{throughput}"
    );
    assert!(throughput.contains(" (client late) |"), "{throughput}");
    assert_eq!(
        md.matches(" (host busy) |").count(),
        8,
        "one per metric table"
    );
    // The legend says what each mark present means, and only those.
    assert!(md.contains("*(host busy)*: the client ran late while other processes"));
    assert!(md.contains("*(client busy)*: llmsweep used about a core"));
    assert!(md.contains("*(client late)*: the client's event loop ran late"));
    let plain = String::from_utf8(summary_md(&fixture())).unwrap();
    for absent in ["host busy", "client busy", "client late"] {
        assert!(!plain.contains(absent), "{absent}");
    }
    let mut one = fixture();
    one.engines[0].levels[1].client_state = ClientState::Starved;
    let md = String::from_utf8(summary_md(&one)).unwrap();
    assert!(md.contains("*(host busy)*") && !md.contains("*(client busy)*"));
}

#[test]
fn chart_draws_levels_of_a_busy_host_hollow() {
    let report = host_fixture();
    let marker = |kind: ChartKind, engine: usize, level: f64| {
        chart_points(&report, kind)
            .iter()
            .map(|points| {
                points
                    .iter()
                    .find(|p| p.engine == engine && p.level == level)
                    .map(|p| p.marker)
            })
            .collect::<Vec<_>>()
    };
    for kind in [ChartKind::Standard, ChartKind::Extended] {
        // vLLM at 2 was starved: hollow in every panel, like a skipped level.
        assert_eq!(marker(kind, 0, 2.0), [Some(Marker::Hollow); 3], "{kind:?}");
        // Busy (the client) and late levels keep their dot, as do fine ones.
        assert_eq!(marker(kind, 0, 4.0), [Some(Marker::Filled); 3], "{kind:?}");
        assert_eq!(marker(kind, 1, 1.0), [Some(Marker::Filled); 3], "{kind:?}");
        assert_eq!(marker(kind, 0, 1.0), [Some(Marker::Filled); 3], "{kind:?}");
    }
    // The drawing agrees: vLLM's rings (r = 6 in its colour; the legend's is grey) are its
    // skipped 8 and its starved 2, in each of the 3 panels.
    let rings = |report: &Report| {
        chart_svg(report, ChartKind::Standard)
            .unwrap()
            .matches(r##"r="6" opacity="1" fill="none" stroke="#D62728""##)
            .count()
    };
    assert_eq!(rings(&fixture()), 3);
    assert_eq!(rings(&report), 6);
}
