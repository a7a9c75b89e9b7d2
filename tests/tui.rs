//! The dashboard: `App::update` unit tests, insta snapshots of `TestBackend` renders, a
//! no-panic sweep over terminal sizes, and the plain-text summary table.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use llmsweep::events::{Control, Event, RunState, ServerSnapshot, Snapshot};
use llmsweep::report::Swept;
use llmsweep::results::confidence::{Interval, IntervalMethod, LevelIntervals};
use llmsweep::results::host::{ClientState, EngineCpu, EngineLocation, HostProcess, HostReport};
use llmsweep::results::model::{
    EngineReport, LevelStatus, LevelSummary, Report, RunStatus, ScheduleStats, Workload,
    SCHEMA_VERSION,
};
use llmsweep::results::search::{SearchResult, StopReason};
use llmsweep::results::verdict::{Verdict, VerdictMetric, VerdictOutcome};
use llmsweep::tui::history::{Metric, HISTORY_CAP};
use llmsweep::tui::{summary_table, App, KeyInput, Msg, Status, TuiOptions, View};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

// ---------------------------------------------------------------------------------------------
// Fixtures

const LEVELS: [f64; 3] = [1.0, 8.0, 32.0];

fn engine(name: &str, color: &str) -> EngineReport {
    EngineReport {
        name: name.to_string(),
        url: "http://127.0.0.1:8000/v1".to_string(),
        model: "sim-model".to_string(),
        api: "chat".to_string(),
        color: color.to_string(),
        simulated: true,
        levels: Vec::new(),
        skipped_reason: None,
        max_level_meeting_slo: None,
        server_metrics_schema: None,
        search: None,
        short_name: None,
    }
}

/// A run skeleton: "vLLM" (red) and "Friendli" (green), 3 levels, simulated.
fn report_with(engines: Vec<EngineReport>) -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        tool: "llmsweep 0.1.0".to_string(),
        run_name: "demo-20250102T030405Z".to_string(),
        started_at: "2025-01-02T03:04:05Z".to_string(),
        resumed_at: Vec::new(),
        finished_at: None,
        status: RunStatus::Running,
        simulated: true,
        seed: 42,
        workload: Workload {
            mode: "concurrency".to_string(),
            levels: LEVELS.to_vec(),
            requests_per_level: 200,
            warmup_requests: 8,
            max_tokens: 128,
            prompt_source: "inline pool (4 prompts)".to_string(),
            ..Workload::default()
        },
        engines,
        config: serde_json::json!({}),
        warnings: Vec::new(),
        verdicts: Vec::new(),
        ..Report::default()
    }
}

fn report() -> Report {
    report_with(vec![
        engine("vLLM", "#d62728"),
        engine("Friendli", "#2ca02c"),
    ])
}

/// A level summary whose numbers depend on the level and a per-engine speed factor.
fn summary(level: f64, speed: f64, failed: u64, status: LevelStatus) -> LevelSummary {
    let completed = 200 - failed;
    let rps = level * 2.5 * speed;
    let mut errors = BTreeMap::new();
    let mut error_examples = BTreeMap::new();
    if failed > 0 {
        errors.insert("http_status".to_string(), failed - failed / 3);
        errors.insert("timeout_first_token".to_string(), failed / 3);
        error_examples.insert(
            "http_status".to_string(),
            "503 Service Unavailable".to_string(),
        );
    }
    LevelSummary {
        level,
        max_concurrency: level as u32,
        status,
        duration: completed as f64 / rps,
        completed,
        failed,
        cancelled: 0,
        error_rate: failed as f64 / 200.0,
        total_input_tokens: completed * 50,
        total_output_tokens: completed * 128,
        output_tokens_estimated: false,
        request_throughput: rps,
        output_throughput: rps * 128.0,
        total_token_throughput: rps * 178.0,
        mean_output_tokens: 128.0,
        mean_ttft_ms: Some(40.0 * level.sqrt() / speed),
        median_ttft_ms: Some(38.0 * level.sqrt() / speed),
        p90_ttft_ms: Some(60.0 * level.sqrt() / speed),
        p95_ttft_ms: Some(70.0 * level.sqrt() / speed),
        p99_ttft_ms: Some(95.0 * level.sqrt() / speed),
        max_ttft_ms: Some(120.0 * level.sqrt() / speed),
        mean_tpot_ms: Some(8.0 + level / 4.0),
        median_tpot_ms: Some(7.5 + level / 4.0),
        p90_tpot_ms: Some(9.0 + level / 4.0),
        p95_tpot_ms: Some(10.0 + level / 4.0),
        p99_tpot_ms: Some(12.5 + level / 4.0),
        max_tpot_ms: Some(15.0 + level / 4.0),
        mean_itl_ms: Some(8.1 + level / 4.0),
        median_itl_ms: Some(7.6 + level / 4.0),
        p90_itl_ms: Some(9.5 + level / 4.0),
        p95_itl_ms: Some(11.0 + level / 4.0),
        p99_itl_ms: Some(14.0 + level / 4.0),
        max_itl_ms: Some(30.0 + level / 4.0),
        mean_e2el_ms: Some(1050.0 * (1.0 + level / 16.0) / speed),
        median_e2el_ms: Some(1000.0 * (1.0 + level / 16.0) / speed),
        p90_e2el_ms: Some(1300.0 * (1.0 + level / 16.0) / speed),
        p95_e2el_ms: Some(1400.0 * (1.0 + level / 16.0) / speed),
        p99_e2el_ms: Some(1700.0 * (1.0 + level / 16.0) / speed),
        max_e2el_ms: Some(2100.0 * (1.0 + level / 16.0) / speed),
        mean_client_queue_ms: 0.0,
        errors,
        error_examples,
        ..LevelSummary::default()
    }
}

fn speed(engine: usize) -> f64 {
    if engine == 0 {
        1.0
    } else {
        1.4
    }
}

/// The `i`-th of `n` snapshots of a level: throughput ramps up, latency settles.
fn snapshot(engine: usize, level_index: usize, i: u64, n: u64) -> Snapshot {
    snapshot_at(engine, level_index, LEVELS[level_index], i, n)
}

/// [`snapshot`] of a level not in [`LEVELS`].
fn snapshot_at(engine: usize, level_index: usize, level: f64, i: u64, n: u64) -> Snapshot {
    let s = speed(engine);
    let ramp = ((i + 1) as f64 / n as f64).min(1.0);
    let wobble = ((i * 7) % 5) as f64 / 20.0;
    Snapshot {
        engine,
        level_index,
        elapsed_ms: (i + 1) * 250,
        completed: (200 * (i + 1) / n).min(200),
        failed: 0,
        in_flight: level as u32,
        planned: 200,
        request_throughput: level * 2.5 * s * (0.5 + ramp / 2.0 + wobble),
        output_throughput: level * 2.5 * s * 128.0 * (0.5 + ramp / 2.0 + wobble),
        ttft_mean_ms: Some(40.0 * level.sqrt() / s * (1.0 + wobble)),
        ttft_p50_ms: Some(38.0 * level.sqrt() / s * (1.0 + wobble)),
        ttft_p99_ms: Some(95.0 * level.sqrt() / s),
        e2el_p50_ms: Some(1000.0 * (1.0 + level / 16.0) / s * (1.0 + wobble)),
        e2el_p99_ms: Some(1700.0 * (1.0 + level / 16.0) / s),
    }
}

fn feed(app: &mut App, event: Event) -> Vec<Control> {
    app.update(Msg::Event(event))
}

fn key(app: &mut App, key: KeyInput) -> Vec<Control> {
    app.update(Msg::Key(key))
}

/// Tab to the detail view (dashboard → compare → detail).
fn to_detail(app: &mut App) {
    while app.view() != View::Detail {
        key(app, KeyInput::Tab);
    }
}

fn run_level(app: &mut App, engine: usize, level_index: usize, snapshots: u64, finish: bool) {
    feed(
        app,
        Event::LevelStarted {
            engine,
            level_index,
            level: LEVELS[level_index],
            planned: 200,
            trial: 1,
            trials: 1,
            search: None,
        },
    );
    for i in 0..snapshots {
        feed(
            app,
            Event::Snapshot(snapshot(engine, level_index, i, snapshots)),
        );
    }
    if finish {
        let failed = if engine == 0 && level_index == 2 {
            6
        } else {
            0
        };
        feed(
            app,
            Event::LevelFinished {
                engine,
                level_index,
                summary: Arc::new(summary(
                    LEVELS[level_index],
                    speed(engine),
                    failed,
                    LevelStatus::Complete,
                )),
            },
        );
    }
}

/// RunStarted only (with a tick so the run clock shows).
fn before_start() -> App {
    let mut app = App::new(TuiOptions::default());
    app.update(Msg::Tick { now_ms: 1_000 });
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(report()),
        },
    );
    app
}

/// Engine 0 finished its 3 levels; engine 1 finished level 1 and is half-way through level 2.
fn mid_run() -> App {
    let mut app = before_start();
    feed(&mut app, Event::State(RunState::Running));
    run_level(&mut app, 0, 0, 40, true);
    run_level(&mut app, 0, 1, 40, true);
    run_level(&mut app, 0, 2, 40, true);
    run_level(&mut app, 1, 0, 30, true);
    run_level(&mut app, 1, 1, 20, false);
    feed(
        &mut app,
        Event::Warning {
            engine: Some(0),
            text: "3 requests returned 503 at C=32".to_string(),
        },
    );
    app.update(Msg::Tick { now_ms: 84_000 });
    app
}

/// The final report: every level of both engines; the last one of Friendli skipped by key.
fn final_report() -> Report {
    let mut report = report();
    for (engine, e) in report.engines.iter_mut().enumerate() {
        for (i, level) in LEVELS.iter().enumerate() {
            let failed = if engine == 0 && i == 2 { 6 } else { 0 };
            let status = if engine == 1 && i == 2 {
                LevelStatus::Skipped
            } else {
                LevelStatus::Complete
            };
            e.levels
                .push(summary(*level, speed(engine), failed, status));
        }
    }
    report.finished_at = Some("2025-01-02T03:09:05Z".to_string());
    report.status = RunStatus::Complete;
    report
}

fn done() -> App {
    let mut app = mid_run();
    feed(
        &mut app,
        Event::LevelFinished {
            engine: 1,
            level_index: 1,
            summary: Arc::new(summary(8.0, 1.4, 0, LevelStatus::Complete)),
        },
    );
    run_level(&mut app, 1, 2, 10, false);
    feed(
        &mut app,
        Event::LevelFinished {
            engine: 1,
            level_index: 2,
            summary: Arc::new(summary(32.0, 1.4, 0, LevelStatus::Skipped)),
        },
    );
    feed(&mut app, Event::State(RunState::Finished));
    feed(
        &mut app,
        Event::RunFinished {
            report: Arc::new(final_report()),
            out_dir: PathBuf::from("results/demo-20250102T030405Z"),
        },
    );
    app.update(Msg::Tick { now_ms: 300_000 });
    app
}

/// The buffer as text, one line per row, trailing blanks trimmed.
fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// App::update: keys

#[test]
fn pause_keys_toggle_pause() {
    let mut app = mid_run();
    assert_eq!(
        key(&mut app, KeyInput::Char('p')),
        vec![Control::TogglePause]
    );
    assert_eq!(key(&mut app, KeyInput::Space), vec![Control::TogglePause]);
    // The header follows the driver, not the key.
    assert_eq!(app.status(), Status::Running);
    feed(&mut app, Event::State(RunState::Paused));
    assert_eq!(app.status(), Status::Paused);
}

#[test]
fn skip_keys() {
    let mut app = mid_run();
    assert_eq!(key(&mut app, KeyInput::Char('s')), vec![Control::SkipLevel]);
    assert_eq!(
        key(&mut app, KeyInput::Char('n')),
        vec![Control::SkipEngine]
    );
    feed(&mut app, Event::State(RunState::Skipping));
    assert_eq!(app.status(), Status::Skipping);
}

#[test]
fn quit_asks_then_yes_aborts() {
    let mut app = mid_run();
    assert_eq!(key(&mut app, KeyInput::Char('q')), vec![]);
    assert!(app.confirming_quit());
    // Other keys do nothing while asking; q again does not ask twice.
    assert_eq!(key(&mut app, KeyInput::Char('s')), vec![]);
    assert_eq!(key(&mut app, KeyInput::Char('q')), vec![]);
    assert!(app.confirming_quit());
    assert_eq!(key(&mut app, KeyInput::Char('y')), vec![Control::Abort]);
    assert!(!app.confirming_quit());
    assert!(!app.should_exit(), "the UI waits for RunFinished");
    // Already quitting: q does not ask again.
    assert_eq!(key(&mut app, KeyInput::Char('q')), vec![]);
    assert!(!app.confirming_quit());
    feed(&mut app, Event::State(RunState::Stopping));
    assert_eq!(app.status(), Status::Stopping);
}

#[test]
fn quit_then_no_or_esc_cancels() {
    let mut app = mid_run();
    key(&mut app, KeyInput::Char('q'));
    assert_eq!(key(&mut app, KeyInput::Char('n')), vec![]);
    assert!(!app.confirming_quit());
    key(&mut app, KeyInput::Char('q'));
    assert_eq!(key(&mut app, KeyInput::Esc), vec![]);
    assert!(!app.confirming_quit());
    // n is "skip engine" again once the question is gone.
    assert_eq!(
        key(&mut app, KeyInput::Char('n')),
        vec![Control::SkipEngine]
    );
}

/// Ctrl-C is SIGINT, not a quit: no Abort from the dashboard (the signal handler sends it after
/// recording the signal, so the run ends `interrupted`), one interrupt per press, no question.
#[test]
fn ctrl_c_asks_for_sigint_without_asking() {
    let mut app = mid_run();
    assert!(!app.take_interrupt());
    assert_eq!(key(&mut app, KeyInput::CtrlC), vec![]);
    assert!(!app.confirming_quit());
    assert!(app.take_interrupt());
    assert!(!app.take_interrupt(), "one SIGINT per press");
    // From the quit question too, and the question goes away.
    let mut app = mid_run();
    key(&mut app, KeyInput::Char('q'));
    assert!(app.confirming_quit());
    assert_eq!(key(&mut app, KeyInput::CtrlC), vec![]);
    assert!(!app.confirming_quit());
    assert!(app.take_interrupt());
    // Once the run is done Ctrl-C is any key: it closes the final screen, nothing to interrupt.
    let mut app = done();
    assert_eq!(key(&mut app, KeyInput::CtrlC), vec![]);
    assert!(app.should_exit());
    assert!(!app.take_interrupt());
}

#[test]
fn help_toggles_and_esc_closes() {
    let mut app = mid_run();
    assert_eq!(key(&mut app, KeyInput::Char('?')), vec![]);
    assert!(app.help_visible());
    assert_eq!(key(&mut app, KeyInput::Char('?')), vec![]);
    assert!(!app.help_visible());
    key(&mut app, KeyInput::Char('?'));
    assert_eq!(key(&mut app, KeyInput::Esc), vec![]);
    assert!(!app.help_visible());
}

#[test]
fn tab_cycles_dashboard_compare_detail() {
    let mut app = mid_run();
    assert_eq!(app.view(), View::Sparklines);
    assert_eq!(key(&mut app, KeyInput::Tab), vec![]);
    assert_eq!(app.view(), View::Compare);
    key(&mut app, KeyInput::Tab);
    assert_eq!(app.view(), View::Detail);
    key(&mut app, KeyInput::Tab);
    assert_eq!(app.view(), View::Sparklines);
}

#[test]
fn unknown_keys_do_nothing_and_do_not_dirty() {
    let mut app = mid_run();
    app.clear_dirty();
    assert_eq!(key(&mut app, KeyInput::Other), vec![]);
    assert_eq!(key(&mut app, KeyInput::Char('x')), vec![]);
    assert_eq!(key(&mut app, KeyInput::Enter), vec![]);
    assert!(!app.is_dirty());
    key(&mut app, KeyInput::Tab);
    assert!(app.is_dirty());
}

// ---------------------------------------------------------------------------------------------
// App::update: events

#[test]
fn snapshot_history_grows_and_is_bounded() {
    let mut app = before_start();
    run_level(&mut app, 0, 0, 5, false);
    assert_eq!(app.engines()[0].history.len(), 5);
    assert!(app.engines()[1].history.is_empty());
    let total = HISTORY_CAP as u64 + 100;
    for i in 0..total {
        feed(&mut app, Event::Snapshot(snapshot(0, 0, i, total)));
    }
    let history = &app.engines()[0].history;
    assert_eq!(history.len(), HISTORY_CAP);
    let last = snapshot(0, 0, total - 1, total);
    assert_eq!(
        history.series(Metric::RequestRate).last(),
        Some(last.request_throughput)
    );
    assert_eq!(history.series(Metric::TtftP50).last(), last.ttft_p50_ms);
    // A snapshot of an engine that does not exist is ignored.
    feed(&mut app, Event::Snapshot(snapshot(0, 0, 0, 1)).clone());
    feed(
        &mut app,
        Event::Snapshot(Snapshot {
            engine: 7,
            ..Snapshot::default()
        }),
    );
    assert_eq!(app.engines().len(), 2);
    // A level's first snapshots, before any request finished, are not drawn as a drop to 0
    // (the ring is below its cap here, so a push would show).
    let mut app = before_start();
    run_level(&mut app, 0, 0, 3, false);
    feed(
        &mut app,
        Event::Snapshot(Snapshot {
            engine: 0,
            level_index: 1,
            planned: 10,
            ..Snapshot::default()
        }),
    );
    assert_eq!(app.engines()[0].history.len(), 3);
}

#[test]
fn finished_engine_keeps_history() {
    let app = mid_run();
    assert_eq!(app.engines()[0].history.len(), 120);
    assert_eq!(app.engines()[1].history.len(), 50);
    let current = app.current().unwrap();
    assert_eq!((current.engine, current.level_index), (1, 1));
    assert_eq!(current.snapshot.unwrap().completed, 200);
}

#[test]
fn level_table_fills() {
    let mut app = before_start();
    assert!(app.levels().is_empty());
    run_level(&mut app, 0, 0, 3, true);
    run_level(&mut app, 0, 1, 3, true);
    assert_eq!(app.levels().len(), 2);
    assert_eq!(app.levels()[1].summary.level, 8.0);
    assert!(app.current().unwrap().finished);
}

#[test]
fn latest_warning_is_kept() {
    let mut app = before_start();
    assert!(app.warning().is_none());
    feed(
        &mut app,
        Event::Warning {
            engine: None,
            text: "first".to_string(),
        },
    );
    feed(
        &mut app,
        Event::Warning {
            engine: Some(1),
            text: "second".to_string(),
        },
    );
    let warning = app.warning().unwrap();
    assert_eq!((warning.engine, warning.text.as_str()), (Some(1), "second"));
    assert!(render(&app, 80, 24).contains("Friendli: second"));
}

#[test]
fn run_finished_is_done_then_any_key_but_tab_exits() {
    let mut app = done();
    assert_eq!(app.status(), Status::Done);
    assert!(app.is_finished());
    assert!(!app.should_exit());
    assert_eq!(
        app.levels().len(),
        6,
        "the table is rebuilt from the final report"
    );
    assert_eq!(
        key(&mut app, KeyInput::Char('s')),
        vec![],
        "no controls after the run"
    );
    assert!(app.should_exit());

    let mut app = done();
    key(&mut app, KeyInput::Other);
    assert!(app.should_exit());

    // Tab still switches views after the run; it does not close the dashboard.
    let mut app = done();
    key(&mut app, KeyInput::Tab);
    assert_eq!(app.view(), View::Compare);
    assert!(!app.should_exit());
}

#[test]
fn exit_on_finish_exits_at_once() {
    let mut app = App::new(TuiOptions {
        exit_on_finish: true,
    });
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(report()),
        },
    );
    assert!(!app.should_exit());
    feed(
        &mut app,
        Event::RunFinished {
            report: Arc::new(final_report()),
            out_dir: PathBuf::from("out"),
        },
    );
    assert!(app.should_exit());
}

#[test]
fn ticks_dirty_only_when_the_clock_display_changes() {
    let mut app = before_start();
    app.clear_dirty();
    app.update(Msg::Tick { now_ms: 1_100 });
    assert!(!app.is_dirty());
    app.update(Msg::Tick { now_ms: 2_050 });
    assert!(app.is_dirty());
    assert_eq!(app.elapsed_ms(), Some(1_050));
    app.clear_dirty();
    app.update(Msg::Resize);
    assert!(app.is_dirty());
}

// ---------------------------------------------------------------------------------------------
// Renders

#[test]
fn snapshot_before_start_80x24() {
    insta::assert_snapshot!(render(&before_start(), 80, 24));
}

#[test]
fn snapshot_mid_run_80x24() {
    insta::assert_snapshot!(render(&mid_run(), 80, 24));
}

#[test]
fn snapshot_mid_run_160x48() {
    insta::assert_snapshot!(render(&mid_run(), 160, 48));
}

#[test]
fn snapshot_paused_80x24() {
    let mut app = mid_run();
    key(&mut app, KeyInput::Space);
    feed(&mut app, Event::State(RunState::Paused));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn snapshot_quit_prompt_80x24() {
    let mut app = mid_run();
    key(&mut app, KeyInput::Char('q'));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn snapshot_help_80x24() {
    let mut app = mid_run();
    key(&mut app, KeyInput::Char('?'));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn snapshot_detail_80x24() {
    let mut app = mid_run();
    to_detail(&mut app);
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn snapshot_done_80x24() {
    insta::assert_snapshot!(render(&done(), 80, 24));
}

#[test]
fn snapshot_done_160x48() {
    insta::assert_snapshot!(render(&done(), 160, 48));
}

#[test]
fn snapshot_too_small_60x20() {
    insta::assert_snapshot!(render(&mid_run(), 60, 20));
}

/// Eight engines at 80×24: panels shrink, then scroll to keep the running engine visible.
#[test]
fn snapshot_many_engines_80x24() {
    let colors = [
        "red",
        "green",
        "blue",
        "orange",
        "purple",
        "cyan",
        "vermillion",
        "yellow",
    ];
    let engines = colors
        .iter()
        .enumerate()
        .map(|(i, c)| engine(&format!("eng-{i}"), c))
        .collect();
    let mut app = App::new(TuiOptions::default());
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(report_with(engines)),
        },
    );
    for e in 0..6 {
        feed(
            &mut app,
            Event::LevelStarted {
                engine: e,
                level_index: 0,
                level: 1.0,
                planned: 200,
                trial: 1,
                trials: 1,
                search: None,
            },
        );
        for i in 0..10 {
            let mut s = snapshot(0, 0, i, 10);
            s.engine = e;
            feed(&mut app, Event::Snapshot(s));
        }
    }
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn engine_names_use_ansi_colours() {
    let app = mid_run();
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(&app, frame.area()))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let find = |word: &str| {
        (0..buffer.area.height).find_map(|y| {
            let line: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            line.find(word).map(|x| buffer[(x as u16, y)].fg)
        })
    };
    assert_eq!(find("vLLM"), Some(ratatui::style::Color::Red));
    assert_eq!(find("Friendli"), Some(ratatui::style::Color::Green));
}

#[test]
fn renders_at_any_size_without_panicking() {
    let mut help = mid_run();
    key(&mut help, KeyInput::Char('?'));
    let mut detail = mid_run();
    to_detail(&mut detail);
    let states = [
        App::new(TuiOptions::default()),
        before_start(),
        mid_run(),
        help,
        detail,
        done(),
    ];
    let widths = [
        0, 1, 2, 3, 7, 20, 40, 59, 79, 80, 81, 99, 100, 120, 159, 160, 200,
    ];
    let heights = [0, 1, 2, 3, 5, 10, 19, 23, 24, 25, 30, 47, 48, 60];
    for app in &states {
        for &w in &widths {
            for &h in &heights {
                let text = render(app, w, h);
                assert_eq!(text.lines().count(), h as usize, "{w}×{h}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Summary table

#[test]
fn summary_table_is_plain_text() {
    let text = summary_table(&final_report());
    assert!(!text.contains('\x1b'));
    insta::assert_snapshot!(text);
}

// ---------------------------------------------------------------------------------------------
// Rate mode, duration-bound levels, SLOs

/// A rate-mode skeleton: levels 1, 2.5, 5 req/s, 30 s per level (no request count), SLOs set.
fn rate_report() -> Report {
    let mut report = report();
    report.run_name = "rate-20250102T030405Z".to_string();
    report.workload.mode = "rate".to_string();
    report.workload.levels = vec![1.0, 2.5, 5.0];
    report.workload.requests_per_level = 0;
    report.workload.duration_s = Some(30.0);
    report.config = serde_json::json!({
        "sweep": { "mode": "rate", "duration_s": 30.0 },
        "slo": { "ttft_ms": 200.0, "attainment": 0.9 },
    });
    report
}

fn rate_summary(level: f64, speed: f64, met: f64, late: u64) -> LevelSummary {
    let mut s = summary(level, speed, 0, LevelStatus::Complete);
    s.request_goodput = Some(s.request_throughput * met);
    s.slo_met = Some(met);
    s.meets_slo = Some(met >= 0.9);
    s.schedule = Some(ScheduleStats {
        late_starts: late,
        ..ScheduleStats::default()
    });
    s
}

/// vLLM ran 1 and 2.5 req/s; it is 12.5 s into 5 req/s (planned 0: duration-bound).
fn rate_mid_run() -> App {
    let mut app = App::new(TuiOptions::default());
    app.update(Msg::Tick { now_ms: 1_000 });
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(rate_report()),
        },
    );
    feed(&mut app, Event::State(RunState::Running));
    for (i, (level, met, late)) in [(1.0, 1.0, 0), (2.5, 0.93, 3)].into_iter().enumerate() {
        feed(
            &mut app,
            Event::LevelStarted {
                engine: 0,
                level_index: i,
                level,
                planned: 0,
                trial: 1,
                trials: 1,
                search: None,
            },
        );
        feed(
            &mut app,
            Event::LevelFinished {
                engine: 0,
                level_index: i,
                summary: Arc::new(rate_summary(level, 1.0, met, late)),
            },
        );
    }
    feed(
        &mut app,
        Event::LevelStarted {
            engine: 0,
            level_index: 2,
            level: 5.0,
            planned: 0,
            trial: 1,
            trials: 1,
            search: None,
        },
    );
    feed(
        &mut app,
        Event::Snapshot(Snapshot {
            elapsed_ms: 12_500,
            completed: 37,
            failed: 0,
            in_flight: 9,
            planned: 0,
            ..snapshot(0, 2, 10, 20)
        }),
    );
    app.update(Msg::Tick { now_ms: 95_000 });
    app
}

#[test]
fn rate_mode_gauge_shows_time_not_done_of_zero() {
    let text = render(&rate_mid_run(), 80, 24);
    assert!(!text.contains("37/0"), "{text}");
    assert!(text.contains("37 done  12.5s/30.0s"), "{text}");
    assert!(text.contains("r=5/s"), "{text}");
    assert!(!text.contains("C=5"), "{text}");
}

#[test]
fn goodput_column_when_wide_enough() {
    let wide = render(&rate_mid_run(), 120, 32);
    assert!(wide.contains("good/s"), "{wide}");
    let narrow = render(&rate_mid_run(), 80, 24);
    assert!(!narrow.contains("good/s"), "{narrow}");
    // Without SLOs there is no goodput column at any width.
    assert!(!render(&done(), 160, 48).contains("good/s"));
}

#[test]
fn snapshot_rate_slo_80x24() {
    insta::assert_snapshot!(render(&rate_mid_run(), 80, 24));
}

#[test]
fn snapshot_rate_slo_120x32() {
    insta::assert_snapshot!(render(&rate_mid_run(), 120, 32));
}

#[test]
fn waiting_line_names_the_duration() {
    let mut app = App::new(TuiOptions::default());
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(rate_report()),
        },
    );
    let text = render(&app, 100, 24);
    assert!(text.contains("rate = 1 2.5 5, 30 s each"), "{text}");
}

#[test]
fn headless_level_line_rate_and_goodput() {
    let s = rate_summary(2.5, 1.0, 0.93, 3);
    let line = llmsweep::headless::level_line("vLLM", &s, Swept::Rate);
    assert!(line.contains("r=2.5/s"), "{line}");
    assert!(line.contains("| goodput "), "{line}");
    assert!(line.contains(" req/s | late 3"), "{line}");
    let plain = summary(4.0, 1.0, 0, LevelStatus::Complete);
    let line = llmsweep::headless::level_line("vLLM", &plain, Swept::Concurrency);
    assert!(line.contains("C=4 "), "{line}");
    assert!(
        !line.contains("goodput") && !line.contains("late"),
        "{line}"
    );
}

// ---------------------------------------------------------------------------------------------
// Which throughput the finished-levels table shows

/// `s` with a steady-state window holding 4 × C completions at 10 % above the whole level.
fn steady(mut s: LevelSummary) -> LevelSummary {
    s.achieved_peak_concurrency = s.max_concurrency;
    s.steady_window_s = Some(s.duration * 0.8);
    s.steady_completed = 4 * u64::from(s.max_concurrency);
    s.steady_request_throughput = Some(s.request_throughput * 1.1);
    s.steady_output_throughput = Some(s.output_throughput * 1.1);
    s
}

/// The rendered line that starts with `prefix` (after trimming).
fn row<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{text}"))
}

#[test]
fn table_says_which_throughput_and_marks_whole_level_rows() {
    let mut app = before_start();
    // C=1: steady (2.50 → 2.75 req/s, 320 → 352 tok/s); C=8: whole level (no window).
    for (i, s) in [
        steady(summary(1.0, 1.0, 0, LevelStatus::Complete)),
        summary(8.0, 1.0, 0, LevelStatus::Complete),
    ]
    .into_iter()
    .enumerate()
    {
        feed(
            &mut app,
            Event::LevelFinished {
                engine: 0,
                level_index: i,
                summary: Arc::new(s),
            },
        );
    }
    let text = render(&app, 80, 24);
    assert!(
        text.contains("Finished levels (2) · req/s tok/s: steady, † whole level"),
        "{text}"
    );
    let cells = |prefix: &str| -> Vec<String> {
        row(&text, prefix)
            .split_whitespace()
            .take(4)
            .map(String::from)
            .collect()
    };
    assert_eq!(cells("vLLM         1"), ["vLLM", "1", "2.75", "352"]);
    assert_eq!(cells("vLLM         8"), ["vLLM", "8", "20.0†", "2.56k†"]);
    // Only steady levels: said once in the title, nothing marked.
    let mut app = before_start();
    run_level(&mut app, 0, 0, 0, false);
    feed(
        &mut app,
        Event::LevelFinished {
            engine: 0,
            level_index: 0,
            summary: Arc::new(steady(summary(1.0, 1.0, 0, LevelStatus::Complete))),
        },
    );
    let text = render(&app, 80, 24);
    assert!(text.contains("Finished levels (1) · req/s tok/s: steady state"));
    assert!(!text.contains('†'), "{text}");
    // Only whole levels (the usual fixture).
    let text = render(&mid_run(), 80, 24);
    assert!(text.contains("Finished levels (4) · req/s tok/s: whole level"));
    assert!(!text.contains('†'), "{text}");
}

#[test]
fn summary_table_says_which_throughput() {
    let mut report = final_report();
    let level = &mut report.engines[0].levels[0];
    *level = steady(level.clone());
    let table = summary_table(&report);
    assert!(
        row(&table, "vLLM").contains("      2.75     352.0"),
        "{table}"
    );
    assert!(
        row(&table, "Friendli").contains("3.50†    448.0†"),
        "{table}"
    );
    assert!(table.ends_with(
        "throughput: steady-state window (ramp-up and drain excluded) where it held ≥ 2 × peak in-flight completions; † = whole level (ramp-up and drain included)\n"
    ));
}

// ---------------------------------------------------------------------------------------------
// A level without a successful request: "—", never 0

/// A level where every request failed: no latency.
fn no_success(level: f64) -> LevelSummary {
    let mut s = summary(level, 1.0, 200, LevelStatus::Failed);
    s.request_throughput = 0.0;
    s.output_throughput = 0.0;
    for v in [
        &mut s.median_ttft_ms,
        &mut s.p99_ttft_ms,
        &mut s.median_e2el_ms,
        &mut s.p99_e2el_ms,
        &mut s.median_itl_ms,
        &mut s.p99_itl_ms,
        &mut s.median_tpot_ms,
        &mut s.p99_tpot_ms,
        &mut s.mean_ttft_ms,
        &mut s.mean_e2el_ms,
    ] {
        *v = None;
    }
    s
}

fn with_no_success_level() -> App {
    let mut app = mid_run();
    feed(
        &mut app,
        Event::LevelFinished {
            engine: 1,
            level_index: 1,
            summary: Arc::new(no_success(8.0)),
        },
    );
    app
}

#[test]
fn snapshot_no_success_level_80x24() {
    let text = render(&with_no_success_level(), 80, 24);
    let failed = row(&text, "Friendli     8");
    assert!(
        failed.contains("0.00    0.00        —        —        —        —"),
        "{failed}"
    );
    assert!(!failed.contains("ms"), "{failed}");
    // The whole error count shows, not its last digits.
    assert!(failed.ends_with(" 200 100% FAIL"), "{failed}");
    insta::assert_snapshot!(text);
}

#[test]
fn detail_view_shows_dashes_for_no_success() {
    let mut app = with_no_success_level();
    to_detail(&mut app);
    let text = render(&app, 80, 24);
    let failed = row(&text, "Friendli     8");
    assert!(failed.contains("—        —        —        —"), "{failed}");
}

#[test]
fn headless_level_line_shows_dashes_without_a_success() {
    let line = llmsweep::headless::level_line("SGLang", &no_success(8.0), Swept::Concurrency);
    assert!(
        line.contains("TTFT p50        — p99        — ms | E2E p50        — p99        — ms"),
        "{line}"
    );
    assert!(line.ends_with("[FAILED]"), "{line}");
    // The final table too.
    let mut report = final_report();
    report.engines[1].levels[1] = no_success(8.0);
    let table = summary_table(&report);
    let failed = row(&table, "Friendli       8");
    assert!(
        failed.contains("0.00       0.0          —          —          —          —"),
        "{failed}"
    );
}

// ---------------------------------------------------------------------------------------------
// A resumed run's kept levels; the panel's "—" until the level's first completion

/// A resumed run: the report of `RunStarted` already holds vLLM's two kept levels.
fn resumed() -> App {
    let mut report = report();
    report.resumed_at = vec!["2025-01-02T04:00:00Z".to_string()];
    report.engines[0].levels = vec![
        summary(1.0, 1.0, 0, LevelStatus::Complete),
        summary(8.0, 1.0, 0, LevelStatus::Complete),
    ];
    let mut app = App::new(TuiOptions::default());
    app.update(Msg::Tick { now_ms: 1_000 });
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(report),
        },
    );
    app
}

#[test]
fn resumed_run_shows_its_kept_levels_at_once() {
    let mut app = resumed();
    let levels: Vec<(usize, f64)> = app
        .levels()
        .iter()
        .map(|l| (l.engine, l.summary.level))
        .collect();
    assert_eq!(levels, [(0, 1.0), (0, 8.0)]);
    let text = render(&app, 80, 24);
    assert!(text.contains("Finished levels (2)"), "{text}");
    assert!(text.contains(" vLLM waiting · 2 levels done "), "{text}");
    assert!(row(&text, "vLLM         1").contains("2.50"), "{text}");
    assert!(row(&text, "vLLM         8").contains("20.0"), "{text}");
    insta::assert_snapshot!("snapshot_resumed_80x24", text);
    // The re-run level joins them.
    run_level(&mut app, 0, 2, 3, true);
    assert_eq!(app.levels().len(), 3);
}

/// The values line of the panel titled `title` (the line after the title).
fn panel_values(text: &str, title: &str) -> String {
    let y = text
        .lines()
        .position(|l| l.starts_with(&format!(" {title} ")))
        .unwrap_or_else(|| panic!("no panel {title} in\n{text}"));
    text.lines().nth(y + 1).unwrap_or("").to_string()
}

#[test]
fn panel_shows_dashes_until_the_levels_first_completion() {
    let mut app = before_start();
    feed(
        &mut app,
        Event::LevelStarted {
            engine: 0,
            level_index: 0,
            level: 1.0,
            planned: 200,
            trial: 1,
            trials: 1,
            search: None,
        },
    );
    let dashes = "req/s —             tok/s —             lat p50 —           TTFT p50 —";
    assert_eq!(panel_values(&render(&app, 80, 24), "vLLM"), dashes);
    // A snapshot before any request finished: still no value, not 0.00.
    feed(
        &mut app,
        Event::Snapshot(Snapshot {
            engine: 0,
            level_index: 0,
            elapsed_ms: 250,
            in_flight: 1,
            planned: 200,
            ..Snapshot::default()
        }),
    );
    let values = panel_values(&render(&app, 80, 24), "vLLM");
    assert_eq!(values, dashes);
    assert!(!values.contains("0.00"), "{values}");
    // The first completion: numbers.
    feed(&mut app, Event::Snapshot(snapshot(0, 0, 9, 10)));
    let values = panel_values(&render(&app, 80, 24), "vLLM");
    // Beside each value, the top of the metric's shared scale where it fits (`max`, or `▲`
    // when narrower; not at all for the latencies at 80 columns).
    assert_eq!(
        values,
        "req/s 2.88 ▲2.88    tok/s 368  max 368  lat p50 1.22 s      TTFT p50 43.7 ms"
    );
}

#[test]
fn panel_drops_the_previous_levels_values_when_the_next_starts() {
    let mut app = before_start();
    run_level(&mut app, 0, 0, 10, true);
    let before = panel_values(&render(&app, 80, 24), "vLLM");
    assert!(before.starts_with("req/s 2.88 "), "{before}");
    feed(
        &mut app,
        Event::LevelStarted {
            engine: 0,
            level_index: 1,
            level: 8.0,
            planned: 200,
            trial: 1,
            trials: 1,
            search: None,
        },
    );
    assert_eq!(app.engines()[0].last, None);
    let text = render(&app, 80, 24);
    let values = panel_values(&text, "vLLM");
    // The values are gone; the scales' tops are the sparklines' (the previous level's).
    assert_eq!(
        values,
        "req/s —  max 2.88   tok/s —  max 368    lat p50 — ▲1.27 s   TTFT p50 — ▲45.6 ms"
    );
    // The sparklines keep the whole run.
    assert_eq!(app.engines()[0].history.len(), 10);
    // Level 8's first completion replaces the dashes with its own numbers.
    feed(&mut app, Event::Snapshot(snapshot(0, 1, 0, 10)));
    let values = panel_values(&render(&app, 80, 24), "vLLM");
    assert!(values.starts_with("req/s 11.0 "), "{values}");
    assert!(values.contains("TTFT p50 107 ms"), "{values}");
}

/// Mid-run with the running engine's `/metrics` scraped: KV filling up over four scrapes.
fn mid_run_with_server() -> App {
    let mut app = mid_run();
    for (i, kv) in [0.10, 0.35, 0.60, 0.86].into_iter().enumerate() {
        feed(
            &mut app,
            Event::ServerSnapshot(ServerSnapshot {
                engine: 1,
                level_index: 1,
                running: Some(2.0 + i as f64),
                waiting: Some(i as f64),
                kv_usage: Some(kv),
                server_ttft_mean_ms: Some(30.0),
            }),
        );
    }
    app
}

#[test]
fn snapshot_server_line_160x48() {
    insta::assert_snapshot!(render(&mid_run_with_server(), 160, 48));
}

#[test]
fn the_server_line_shows_the_latest_scrape_and_the_clients_part_of_ttft() {
    let app = mid_run_with_server();
    let state = &app.engines()[1];
    let client = state.last.and_then(|s| s.ttft_mean_ms).unwrap();
    assert_eq!(state.client_added_ttft_ms(), Some(client - 30.0));
    let screen = render(&app, 160, 48);
    let line = screen
        .lines()
        .find(|l| l.contains("server run"))
        .expect("a server line");
    assert!(
        line.contains("server run 5 · wait 3 · KV 86% ▂▃▅▇"),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "TTFT client +{}",
            llmsweep::tui::format::ms(Some(client - 30.0))
        )),
        "{line}"
    );
    // A scrape of another level (late, after the level changed) is not shown as this one's.
    let mut app = mid_run();
    feed(
        &mut app,
        Event::ServerSnapshot(ServerSnapshot {
            engine: 1,
            level_index: 0,
            running: Some(9.0),
            ..ServerSnapshot::default()
        }),
    );
    assert_eq!(app.engines()[1].server, None);
    assert!(!render(&app, 160, 48).contains("server run"));
}

#[test]
fn a_new_level_clears_the_server_line_until_its_first_scrape() {
    let mut app = mid_run_with_server();
    feed(
        &mut app,
        Event::LevelStarted {
            engine: 1,
            level_index: 2,
            level: 4.0,
            planned: 200,
            trial: 1,
            trials: 1,
            search: None,
        },
    );
    assert_eq!(app.engines()[1].server, None);
    assert_eq!(
        app.engines()[1].kv_history.len(),
        4,
        "the KV sparkline spans the run"
    );
}

// ---------------------------------------------------------------------------------------------
// Trials, confidence intervals, levels = "auto", verdicts and knees

/// An interval of `mean ± half` (a 4 % CV).
fn interval(mean: f64, half: f64) -> Interval {
    Interval {
        mean,
        low: mean - half,
        high: mean + half,
        cv: 0.04,
        values: vec![mean - half / 2.0, mean, mean + half / 2.0],
    }
}

/// `summary` measured `trials` times (the last `trials` entries so far): intervals of 3 % on
/// throughput and 5 % on the latencies.
fn trial_summary(level: f64, speed: f64, trials: u32) -> LevelSummary {
    let base = summary(level, speed, 0, LevelStatus::Complete);
    let ms = |v: Option<f64>| v.map(|v| interval(v, v * 0.05));
    let intervals = LevelIntervals {
        method: IntervalMethod::Trials,
        n: trials,
        confidence: 0.95,
        request_throughput: Some(interval(
            base.request_throughput,
            base.request_throughput * 0.03,
        )),
        output_throughput: Some(interval(
            base.output_throughput,
            base.output_throughput * 0.03,
        )),
        mean_ttft_ms: ms(base.mean_ttft_ms),
        median_ttft_ms: ms(base.median_ttft_ms),
        p99_ttft_ms: ms(base.p99_ttft_ms),
        mean_tpot_ms: ms(base.mean_tpot_ms),
        mean_e2el_ms: ms(base.mean_e2el_ms),
        median_e2el_ms: ms(base.median_e2el_ms),
        noisy: Vec::new(),
    };
    LevelSummary {
        trials: (1..=trials)
            .map(|t| LevelSummary {
                trial: Some(t),
                ..base.clone()
            })
            .collect(),
        intervals: Some(intervals),
        ..base
    }
}

fn level_started(engine: usize, level_index: usize, level: f64, trial: u32, trials: u32) -> Event {
    Event::LevelStarted {
        engine,
        level_index,
        level,
        planned: 200,
        trial,
        trials,
        search: None,
    }
}

fn level_finished(engine: usize, level_index: usize, summary: LevelSummary) -> Event {
    Event::LevelFinished {
        engine,
        level_index,
        summary: Arc::new(summary),
    }
}

/// `trials = 3`, levels 1 8 32: vLLM did all three, Friendli did C=1 and is in trial 2 of C=8.
fn trials_mid_run() -> App {
    let mut report = report();
    report.workload.trials = Some(3);
    let mut app = App::new(TuiOptions::default());
    app.update(Msg::Tick { now_ms: 1_000 });
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(report),
        },
    );
    feed(&mut app, Event::State(RunState::Running));
    for (engine, levels) in [(0, 3), (1, 1)] {
        for (i, level) in LEVELS.iter().enumerate().take(levels) {
            for trial in 1..=3 {
                feed(&mut app, level_started(engine, i, *level, trial, 3));
                for n in 0..10 {
                    feed(&mut app, Event::Snapshot(snapshot(engine, i, n, 10)));
                }
                feed(
                    &mut app,
                    level_finished(engine, i, trial_summary(*level, speed(engine), trial)),
                );
            }
        }
    }
    feed(&mut app, level_started(1, 1, 8.0, 1, 3));
    feed(&mut app, level_finished(1, 1, trial_summary(8.0, 1.4, 1)));
    feed(&mut app, level_started(1, 1, 8.0, 2, 3));
    for i in 0..20 {
        feed(&mut app, Event::Snapshot(snapshot(1, 1, i, 40)));
    }
    app.update(Msg::Tick { now_ms: 84_000 });
    app
}

#[test]
fn snapshot_trials_80x24() {
    let text = render(&trials_mid_run(), 80, 24);
    assert!(
        text.contains(" engine Friendli (2/2)  level 2/3  C=8  trial 2/3  elapsed "),
        "{text}"
    );
    assert!(text.contains("· ± 95% CI, 3 trials"), "{text}");
    insta::assert_snapshot!(text);
}

/// Each trial's `LevelFinished` replaces the level's row: one row per (engine, level).
#[test]
fn a_later_trial_replaces_the_levels_row() {
    let mut app = before_start();
    for trial in 1..=3 {
        feed(&mut app, level_started(0, 0, 1.0, trial, 3));
        feed(
            &mut app,
            level_finished(0, 0, trial_summary(1.0, 1.0, trial)),
        );
        assert_eq!(app.levels().len(), 1, "trial {trial}");
        assert_eq!(app.levels()[0].summary.trials.len(), trial as usize);
    }
    let text = render(&app, 80, 24);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("vLLM ")).count(),
        1,
        "{text}"
    );
    assert!(text.contains("Finished levels (1)"), "{text}");
    // The engine's panel counts the level once, and not while its trials go on.
    assert!(text.contains(" vLLM running C=1 · 1 level done "), "{text}");
    feed(&mut app, level_started(0, 1, 8.0, 1, 3));
    feed(&mut app, level_finished(0, 1, trial_summary(8.0, 1.0, 1)));
    feed(&mut app, level_started(0, 1, 8.0, 2, 3));
    let text = render(&app, 80, 24);
    assert!(text.contains(" vLLM running C=8 · 1 level done "), "{text}");
}

#[test]
fn between_trials_the_header_says_the_next_trial() {
    let mut app = before_start();
    feed(&mut app, level_started(0, 0, 1.0, 1, 3));
    feed(&mut app, level_finished(0, 0, trial_summary(1.0, 1.0, 1)));
    let text = render(&app, 80, 24);
    assert!(text.contains("(finished; next trial warming up)"), "{text}");
    feed(&mut app, level_started(0, 0, 1.0, 3, 3));
    feed(&mut app, level_finished(0, 0, trial_summary(1.0, 1.0, 3)));
    let text = render(&app, 80, 24);
    assert!(text.contains("(finished; next level warming up)"), "{text}");
}

/// The ± table at 80 columns: every row's last column (right-aligned errors) ends in the
/// same column, inside the width, and the cells read `mean±half-width`.
#[test]
fn interval_table_is_aligned_and_fits_80_columns() {
    let text = render(&trials_mid_run(), 80, 24);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("vLLM ") || l.starts_with("Friendli "))
        .collect();
    // Friendli's C=8 has a row after its first trial.
    assert_eq!(rows.len(), 5, "{text}");
    let header = row(&text, "Engine");
    let width = header.chars().count();
    assert!(width <= 80, "{header}");
    assert!(header.ends_with("Errors"), "{header}");
    for r in &rows {
        assert_eq!(r.chars().count(), width, "{r}\n{header}");
    }
    // vLLM C=8: 20 req/s ± 3 %, 2560 tok/s ± 3 %, TTFT p50 107 ms ± 5 %, E2E p50 1.5 s ± 5 %.
    let c8 = row(&text, "vLLM         8");
    for cell in ["20.0±0.60", "2.56k±77", "107±5.4 ms", "1.50±0.07 s"] {
        assert!(c8.contains(cell), "{cell} in {c8}");
    }
    // Wider: every column, the p99s too.
    let wide = render(&trials_mid_run(), 160, 48);
    let header = row(&wide, "Engine");
    for col in ["req/s", "TTFT p99", "Lat p99", "Errors"] {
        assert!(header.contains(col), "{col} in {header}");
    }
}

/// A run without trials or intervals keeps the plain layout (the old snapshots hold it); one
/// with batch-means intervals says so in the title.
#[test]
fn batch_means_intervals_are_named_in_the_title() {
    let mut app = before_start();
    let mut s = trial_summary(1.0, 1.0, 1);
    s.trials.clear();
    if let Some(i) = &mut s.intervals {
        i.method = IntervalMethod::BatchMeans;
        i.n = 8;
    }
    feed(&mut app, level_finished(0, 0, s));
    let text = render(&app, 80, 24);
    assert!(text.contains("· ± 95% CI, batch means"), "{text}");
    assert!(!render(&mid_run(), 80, 24).contains('±'));
}

/// `levels = "auto"`: the RunStarted list is empty; each engine's levels come as the search
/// runs them.
fn auto_report() -> Report {
    let mut report = report();
    report.workload.levels = Vec::new();
    report.workload.auto = Some(serde_json::json!({"start": 1.0, "max": 1024.0}));
    report
}

/// The order an auto sweep runs vLLM's levels in: doubling, then bisecting.
const AUTO_LEVELS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 24.0, 20.0];

/// vLLM searched 1 … 64, then bisected 24 and 20; Friendli is doubling, at C=8.
fn auto_mid_run() -> App {
    let mut app = App::new(TuiOptions::default());
    app.update(Msg::Tick { now_ms: 1_000 });
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(auto_report()),
        },
    );
    feed(&mut app, Event::State(RunState::Running));
    for (i, level) in AUTO_LEVELS.iter().enumerate() {
        feed(
            &mut app,
            Event::LevelStarted {
                engine: 0,
                level_index: i,
                level: *level,
                planned: 200,
                trial: 1,
                trials: 1,
                search: Some("doubling".to_string()),
            },
        );
        for n in 0..5 {
            feed(&mut app, Event::Snapshot(snapshot_at(0, i, *level, n, 5)));
        }
        feed(
            &mut app,
            level_finished(0, i, summary(*level, 1.0, 0, LevelStatus::Complete)),
        );
    }
    for (i, level) in [1.0, 2.0, 4.0].into_iter().enumerate() {
        feed(&mut app, level_started(1, i, level, 1, 1));
        feed(
            &mut app,
            level_finished(1, i, summary(level, 1.4, 0, LevelStatus::Complete)),
        );
    }
    // Friendli's C=8 is the list's 4th level, but the index the driver gives may lie past
    // the list the dashboard saw.
    feed(
        &mut app,
        Event::LevelStarted {
            engine: 1,
            level_index: 12,
            level: 8.0,
            planned: 200,
            trial: 2,
            trials: 3,
            search: Some("doubling: 4 → 8".to_string()),
        },
    );
    for i in 0..10 {
        feed(&mut app, Event::Snapshot(snapshot_at(1, 12, 8.0, i, 40)));
    }
    app.update(Msg::Tick { now_ms: 84_000 });
    app
}

#[test]
fn snapshot_auto_mid_run_80x24() {
    let text = render(&auto_mid_run(), 80, 24);
    assert!(
        text.contains(" engine Friendli (2/2)  level 4 (auto)  C=8  trial 2/3  doubling: 4 → 8"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn snapshot_auto_mid_run_160x48() {
    insta::assert_snapshot!(render(&auto_mid_run(), 160, 48));
}

/// Rows are by level within each engine, whatever order the levels ran in.
#[test]
fn auto_levels_are_sorted_per_engine() {
    let app = auto_mid_run();
    let rows: Vec<(usize, f64)> = app
        .levels()
        .iter()
        .map(|l| (l.engine, l.summary.level))
        .collect();
    let mut want: Vec<(usize, f64)> = AUTO_LEVELS.iter().map(|l| (0, *l)).collect();
    want.sort_by(|a, b| a.1.total_cmp(&b.1));
    want.extend([(1, 1.0), (1, 2.0), (1, 4.0)]);
    assert_eq!(rows, want);
    // The table draws them in that order.
    let text = render(&app, 160, 48);
    let drawn: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("vLLM "))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    assert_eq!(drawn, ["1", "2", "4", "8", "16", "20", "24", "32", "64"]);
    // The final report's engine levels come in run order too: the table sorts them.
    let mut report = auto_report();
    report.engines[0].levels = AUTO_LEVELS
        .iter()
        .map(|l| summary(*l, 1.0, 0, LevelStatus::Complete))
        .collect();
    report.engines[1].levels = [4.0, 1.0, 2.0]
        .iter()
        .map(|l| summary(*l, 1.4, 0, LevelStatus::Complete))
        .collect();
    let mut app = auto_mid_run();
    feed(
        &mut app,
        Event::RunFinished {
            report: Arc::new(report.clone()),
            out_dir: PathBuf::from("out"),
        },
    );
    let levels: Vec<f64> = app.levels().iter().map(|l| l.summary.level).collect();
    assert_eq!(
        levels,
        [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 24.0, 32.0, 64.0, 1.0, 2.0, 4.0]
    );
    let table = summary_table(&report);
    let printed: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("vLLM "))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(printed, ["1", "2", "4", "8", "16", "20", "24", "32", "64"]);
}

/// When the rows do not fit, the newest one stays in view, even in the middle of the sorted
/// table (a bisected level).
#[test]
fn the_newest_row_stays_in_view() {
    let mut app = App::new(TuiOptions::default());
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(report_with(vec![engine("vLLM", "#d62728")])),
        },
    );
    let mut levels: Vec<f64> = (0..12).map(|i| f64::from(1 << i)).collect();
    levels.push(48.0);
    for (i, level) in levels.iter().enumerate() {
        feed(&mut app, level_started(0, i, *level, 1, 1));
        feed(
            &mut app,
            level_finished(0, i, summary(*level, 1.0, 0, LevelStatus::Complete)),
        );
    }
    let text = render(&app, 80, 24);
    assert!(
        text.contains("Finished levels (7 of 13 around the newest)"),
        "{text}"
    );
    let drawn: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("vLLM "))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(drawn, ["8", "16", "32", "48", "64", "128", "256"], "{text}");
    // Once the run is done the table shows its last rows again.
    feed(
        &mut app,
        Event::RunFinished {
            report: Arc::new(report_with(vec![engine("vLLM", "#d62728")])),
            out_dir: PathBuf::from("out"),
        },
    );
    let text = render(&app, 80, 24);
    assert!(text.contains("Finished levels (newest 7 of 13)"), "{text}");
}

/// A level_index past the levels list (auto mode's list grows; a fixed list cannot hold it
/// but the dashboard must not trust that): no panic, no made-up "i/N".
#[test]
fn a_level_index_past_the_list_does_not_panic() {
    for auto in [false, true] {
        let mut app = if auto {
            let mut app = App::new(TuiOptions::default());
            feed(
                &mut app,
                Event::RunStarted {
                    report: Arc::new(auto_report()),
                },
            );
            app
        } else {
            before_start()
        };
        feed(&mut app, level_started(1, 40, 64.0, 1, 1));
        feed(&mut app, Event::Snapshot(snapshot(1, 1, 3, 10)));
        feed(
            &mut app,
            Event::ServerSnapshot(ServerSnapshot {
                engine: 1,
                level_index: 40,
                kv_usage: Some(0.5),
                ..ServerSnapshot::default()
            }),
        );
        feed(
            &mut app,
            level_finished(1, 40, summary(64.0, 1.4, 0, LevelStatus::Complete)),
        );
        for (w, h) in [(80, 24), (120, 40), (60, 20)] {
            let _ = render(&app, w, h);
        }
        let text = render(&app, 80, 24);
        let want = if auto {
            "level 1 (auto)  C=64"
        } else {
            "level 41  C=64"
        };
        assert!(text.contains(want), "{text}");
        assert!(!text.contains("/3  C=64"), "{text}");
        // The compare and detail views too.
        for _ in 0..2 {
            key(&mut app, KeyInput::Tab);
            let _ = render(&app, 80, 24);
        }
    }
}

#[test]
fn auto_waiting_line_and_keys() {
    let mut app = App::new(TuiOptions::default());
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(auto_report()),
        },
    );
    let text = render(&app, 100, 24);
    assert!(
        text.contains("C = auto from 1 to 1024, 200 requests each"),
        "{text}"
    );
    assert!(text.contains("n end search"), "{text}");
    // The keys themselves are the same: the driver decides what they mean in a search.
    assert_eq!(key(&mut app, KeyInput::Char('s')), vec![Control::SkipLevel]);
    assert_eq!(
        key(&mut app, KeyInput::Char('n')),
        vec![Control::SkipEngine]
    );
}

#[test]
fn snapshot_help_auto_80x24() {
    let mut app = auto_mid_run();
    key(&mut app, KeyInput::Char('?'));
    let text = render(&app, 80, 24);
    assert!(text.contains("auto: the level counts as failed"), "{text}");
    assert!(text.contains("auto: ends this engine's search"), "{text}");
    insta::assert_snapshot!(text);
    // Not in a run with a fixed list.
    let mut app = mid_run();
    key(&mut app, KeyInput::Char('?'));
    assert!(!render(&app, 80, 24).contains("auto:"));
}

fn verdict(level: f64, metric: VerdictMetric, speedup: f64, outcome: VerdictOutcome) -> Verdict {
    let tested = outcome != VerdictOutcome::NotTested;
    Verdict {
        level,
        metric,
        best: "Friendli".to_string(),
        other: "vLLM".to_string(),
        speedup,
        low: tested.then_some(speedup * 0.95),
        high: tested.then_some(speedup * 1.05),
        method: tested.then_some(IntervalMethod::Trials),
        outcome,
    }
}

/// The final report of an auto run with trials: both engines' levels, knees and verdicts at
/// the levels both ran (in report order: the dashboard sorts them by level).
fn auto_final_report() -> Report {
    let mut report = auto_report();
    report.workload.trials = Some(3);
    report.workload.levels = AUTO_LEVELS.to_vec();
    report.engines[0].levels = AUTO_LEVELS
        .iter()
        .map(|l| trial_summary(*l, 1.0, 3))
        .collect();
    report.engines[1].levels = [1.0, 2.0, 4.0, 8.0]
        .iter()
        .map(|l| trial_summary(*l, 1.4, 3))
        .collect();
    report.engines[0].search = Some(SearchResult {
        stop_reason: StopReason::Slo,
        knee: Some(24.0),
        knee_output_throughput: Some(1830.0),
        max_concurrency_meeting_slo: Some(24.0),
        max_rate_meeting_slo: None,
        plateau_from: None,
        bisected: vec![24.0, 20.0],
    });
    report.engines[1].search = Some(SearchResult {
        stop_reason: StopReason::Ended,
        knee: Some(8.0),
        knee_output_throughput: Some(3584.0),
        max_concurrency_meeting_slo: None,
        max_rate_meeting_slo: None,
        plateau_from: None,
        bisected: Vec::new(),
    });
    for level in [8.0, 4.0, 2.0, 1.0] {
        report.verdicts.extend([
            verdict(
                level,
                VerdictMetric::OutputThroughput,
                1.4,
                VerdictOutcome::Faster,
            ),
            verdict(
                level,
                VerdictMetric::MedianTtftMs,
                1.02,
                VerdictOutcome::NoSignificantDifference,
            ),
            verdict(
                level,
                VerdictMetric::MedianE2elMs,
                1.4,
                VerdictOutcome::Faster,
            ),
        ]);
    }
    report.finished_at = Some("2025-01-02T03:09:05Z".to_string());
    report.status = RunStatus::Complete;
    report
}

fn auto_done() -> App {
    let mut app = auto_mid_run();
    feed(
        &mut app,
        Event::RunFinished {
            report: Arc::new(auto_final_report()),
            out_dir: PathBuf::from("results/demo-20250102T030405Z"),
        },
    );
    app.update(Msg::Tick { now_ms: 300_000 });
    app
}

#[test]
fn snapshot_auto_done_80x24() {
    let text = render(&auto_done(), 80, 24);
    assert!(
        text.contains(" vLLM: knee C=24 (slo), 1830 tok/s"),
        "{text}"
    );
    assert!(
        text.contains(" Friendli: knee C=8 (ended), 3584 tok/s"),
        "{text}"
    );
    // The first verdicts by level, then metric, each as Verdict::line says.
    let report = auto_final_report();
    let first = verdict(
        1.0,
        VerdictMetric::OutputThroughput,
        1.4,
        VerdictOutcome::Faster,
    );
    assert_eq!(
        first.line("C=1"),
        "C=1 output tok/s: Friendli faster by 1.40× (1.33–1.47) than vLLM"
    );
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == format!(" {}", first.line("C=1")))
        .unwrap_or_else(|| panic!("no first verdict in\n{text}"));
    assert!(lines[at + 1].starts_with(" C=1 p50 TTFT: Friendli vs vLLM: no significant"));
    assert!(lines[at + 2].starts_with(" C=1 p50 E2E: Friendli faster by 1.40×"));
    // Not all 12 fit at 80×24: the last line says how many are left.
    let shown = lines.iter().filter(|l| l.starts_with(" C=")).count();
    assert!(shown < report.verdicts.len(), "{text}");
    let more = format!(" +{} more in summary.md", report.verdicts.len() - shown);
    assert!(lines.contains(&more.as_str()), "{more} in\n{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn snapshot_auto_done_160x48() {
    let text = render(&auto_done(), 160, 48);
    // Everything fits: every verdict, no "+N more".
    assert_eq!(text.lines().filter(|l| l.starts_with(" C=")).count(), 12);
    assert!(!text.contains("more in summary.md"), "{text}");
    insta::assert_snapshot!(text);
}

/// A search whose first level failed has no knee; a run with knees but no verdicts (one
/// engine) shows the knees alone.
#[test]
fn a_search_without_a_knee_says_so() {
    let mut report = auto_final_report();
    report.engines.truncate(1);
    report.verdicts.clear();
    if let Some(search) = &mut report.engines[0].search {
        search.stop_reason = StopReason::Errors;
        search.knee = None;
        search.knee_output_throughput = None;
    }
    let mut app = auto_mid_run();
    feed(
        &mut app,
        Event::RunFinished {
            report: Arc::new(report),
            out_dir: PathBuf::from("out"),
        },
    );
    let text = render(&app, 80, 24);
    assert!(text.contains(" Knees ─"), "{text}");
    assert!(
        text.contains(" vLLM: no knee, the first level failed (errors)"),
        "{text}"
    );
    assert!(!text.contains("more in summary.md"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Engine labels in narrow columns

/// Two vLLM configurations whose names share `vLLM ` (the second with `short`), mid-run:
/// each finished two levels.
fn alike_names(short: Option<&str>) -> App {
    let mut second = engine("vLLM max-num-seqs 4", "#2ca02c");
    second.short_name = short.map(str::to_string);
    let mut app = App::new(TuiOptions::default());
    app.update(Msg::Tick { now_ms: 1_000 });
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(report_with(vec![engine("vLLM default", "#d62728"), second])),
        },
    );
    feed(&mut app, Event::State(RunState::Running));
    run_level(&mut app, 0, 0, 20, true);
    run_level(&mut app, 0, 1, 20, true);
    run_level(&mut app, 1, 0, 20, true);
    run_level(&mut app, 1, 1, 20, true);
    run_level(&mut app, 1, 2, 10, false);
    app.update(Msg::Tick { now_ms: 60_000 });
    app
}

/// The rows of the table under `title`: the lines after its header, up to a blank line.
fn table_rows<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| !l.contains(title))
        .skip(2)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('█'))
        .collect()
}

#[test]
fn snapshot_alike_names_80x24() {
    let text = render(&alike_names(None), 80, 24);
    let rows = table_rows(&text, "Finished levels");
    assert_eq!(rows.len(), 4, "{text}");
    for (row, label) in rows
        .iter()
        .zip(["vLLM de…", "vLLM de…", "vLLM ma…", "vLLM ma…"])
    {
        assert!(row.starts_with(label), "{row:?} starts with {label:?}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn every_narrow_table_uses_the_labels_and_the_short_name() {
    let app = alike_names(Some("vLLM mx4"));
    let text = render(&app, 80, 24);
    let rows = table_rows(&text, "Finished levels");
    assert!(rows[0].starts_with("vLLM de…"), "{text}");
    assert!(rows[2].starts_with("vLLM mx4"), "{text}");
    let mut detail = alike_names(None);
    to_detail(&mut detail);
    let text = render(&detail, 80, 24);
    let rows = table_rows(&text, "Detail:");
    assert_eq!(rows.len(), 4, "{text}");
    assert!(rows[0].starts_with("vLLM de…"), "{text}");
    assert!(rows[2].starts_with("vLLM ma…"), "{text}");
    // The ± interval table.
    let mut trials = alike_names(None);
    feed(
        &mut trials,
        level_finished(0, 0, trial_summary(1.0, 1.0, 3)),
    );
    feed(
        &mut trials,
        level_finished(1, 0, trial_summary(1.0, 1.4, 3)),
    );
    let text = render(&trials, 80, 24);
    assert!(text.contains("± 95% CI"), "{text}");
    let rows = table_rows(&text, "Finished levels");
    assert!(rows[0].starts_with("vLLM de… "), "{text}");
    assert!(rows[2].starts_with("vLLM ma… "), "{text}");
    // Wide enough for the whole names (16 characters from 100 columns): cut at 16.
    let wide = render(&alike_names(None), 120, 32);
    let rows = table_rows(&wide, "Finished levels");
    assert!(rows[0].starts_with("vLLM default "), "{wide}");
    assert!(rows[2].starts_with("vLLM max-num-se… "), "{wide}");
}

// ---------------------------------------------------------------------------------------------
// The host: marks in the tables, the detail view's host line, the headless text

fn process(pid: u32, command: &str, cores: f64, engine: Option<&str>) -> HostProcess {
    HostProcess {
        pid,
        command: command.to_string(),
        cores,
        engine: engine.map(str::to_string),
    }
}

/// An engine's processes on this host: `cores` used, under test or idle.
fn local(engine: &str, under_test: bool, cores: f64) -> EngineCpu {
    EngineCpu {
        engine: engine.to_string(),
        under_test,
        location: EngineLocation::Local,
        pid: Some(100),
        processes: 2,
        cores: Some(cores),
    }
}

const DEFAULT: &str = "vLLM default";
const MAX4: &str = "vLLM max-num-seqs 4";

/// A 2-core machine `busy` cores busy: the client's `client` cores, the engine under test's
/// (`engine`, `0.6`), the idle one's (`idle` cores), `top` the busiest processes.
fn host(busy: f64, client: f64, engine: &str, idle: f64, top: Vec<HostProcess>) -> HostReport {
    let other = if engine == DEFAULT { MAX4 } else { DEFAULT };
    HostReport {
        cores: 2,
        busy_cores: busy,
        steal_cores: 0.0,
        client_cores: client,
        other_cores: (busy - client - 0.6 - idle).max(0.0),
        top,
        engines: vec![local(engine, true, 0.6), local(other, false, idle)],
        samples: 10,
        sampling_cpu_ms: 0.0,
    }
}

/// The two vLLM configurations' levels with host reports, by engine: vLLM default at 1 fine,
/// at 8 starved by `yes`, at 32 starved with 6 failures; max-num-seqs 4 at 1 busy (the client)
/// while vLLM default, idle, used 1.7 cores, at 8 late (both engines remote, steal 0.4), at 32
/// without a host report.
fn host_levels() -> [Vec<LevelSummary>; 2] {
    let level = |level: f64, speed: f64, failed: u64, state, host: Option<HostReport>| {
        let mut s = summary(level, speed, failed, LevelStatus::Complete);
        s.client_state = state;
        s.client_limited = state != ClientState::Fine;
        s.host = host;
        s
    };
    let yes = || {
        vec![
            process(4242, "yes", 0.98, None),
            process(100, "python3", 0.6, Some(DEFAULT)),
        ]
    };
    let late = HostReport {
        cores: 2,
        busy_cores: 0.3,
        steal_cores: 0.4,
        client_cores: 0.25,
        other_cores: 0.05,
        top: Vec::new(),
        engines: vec![
            EngineCpu {
                engine: DEFAULT.to_string(),
                location: EngineLocation::Remote,
                ..EngineCpu::default()
            },
            EngineCpu {
                engine: MAX4.to_string(),
                under_test: true,
                location: EngineLocation::Remote,
                ..EngineCpu::default()
            },
        ],
        samples: 12,
        sampling_cpu_ms: 0.0,
    };
    [
        vec![
            level(
                1.0,
                1.0,
                0,
                ClientState::Fine,
                Some(host(
                    0.9,
                    0.2,
                    DEFAULT,
                    0.02,
                    vec![process(22, "sshd", 0.05, None)],
                )),
            ),
            level(
                8.0,
                1.0,
                0,
                ClientState::Starved,
                Some(host(1.95, 0.15, DEFAULT, 0.1, yes())),
            ),
            level(
                32.0,
                1.0,
                6,
                ClientState::Starved,
                Some(host(1.98, 0.2, DEFAULT, 0.1, yes())),
            ),
        ],
        vec![
            level(
                1.0,
                1.4,
                0,
                ClientState::Busy,
                Some(host(
                    2.0,
                    1.0,
                    MAX4,
                    1.7,
                    vec![
                        process(300, "python3", 1.7, Some(DEFAULT)),
                        process(22, "sshd", 0.1, None),
                    ],
                )),
            ),
            level(8.0, 1.4, 0, ClientState::Late, Some(late)),
            level(32.0, 1.4, 0, ClientState::Fine, None),
        ],
    ]
}

/// Every level of [`host_levels`] finished (`keep` picks what of each), the run not yet over.
fn host_app(keep: impl Fn(&LevelSummary) -> LevelSummary) -> App {
    let mut app = App::new(TuiOptions::default());
    app.update(Msg::Tick { now_ms: 1_000 });
    feed(
        &mut app,
        Event::RunStarted {
            report: Arc::new(report_with(vec![
                engine(DEFAULT, "#d62728"),
                engine(MAX4, "#2ca02c"),
            ])),
        },
    );
    feed(&mut app, Event::State(RunState::Running));
    for (engine, levels) in host_levels().iter().enumerate() {
        for (i, s) in levels.iter().enumerate() {
            feed(&mut app, level_started(engine, i, s.level, 1, 1));
            feed(&mut app, level_finished(engine, i, keep(s)));
        }
    }
    app.update(Msg::Tick { now_ms: 60_000 });
    app
}

/// The Errors cell of each row of the finished-levels table (its last 13 columns of 80).
fn errors_cells(text: &str) -> Vec<String> {
    table_rows(text, "Finished levels")
        .iter()
        .map(|r| {
            r.chars()
                .skip(80 - 13)
                .collect::<String>()
                .trim()
                .to_string()
        })
        .collect()
}

#[test]
fn finished_levels_mark_host_busy_client_busy_and_late() {
    // Every mark fits whole when no row has failures.
    let text = render(
        &host_app(|s| LevelSummary {
            failed: 0,
            ..s.clone()
        }),
        80,
        24,
    );
    assert_eq!(
        errors_cells(&text),
        [
            "0",
            "0 host busy",
            "0 host busy",
            "0 client busy",
            "0 client late",
            "0"
        ],
        "{text}"
    );
    // `6 3.0% host busy` does not fit 13 columns: every row takes the short marks.
    let text = render(&host_app(LevelSummary::clone), 80, 24);
    assert_eq!(
        errors_cells(&text),
        ["0", "0 busy", "6 3.0% busy", "0 client", "0 late", "0"],
        "{text}"
    );
    // The ± interval table marks them the same way.
    let with_intervals = |s: &LevelSummary| LevelSummary {
        intervals: trial_summary(s.level, 1.0, 3).intervals,
        ..s.clone()
    };
    let text = render(&host_app(with_intervals), 80, 24);
    assert!(text.contains("± 95% CI"), "{text}");
    // The Errors column is as wide as its widest cell, `6 3.0% busy`.
    let ends: Vec<String> = table_rows(&text, "Finished levels")
        .iter()
        .map(|r| {
            let chars: Vec<char> = r.chars().collect();
            chars[chars.len() - 11..]
                .iter()
                .collect::<String>()
                .trim()
                .to_string()
        })
        .collect();
    assert_eq!(
        ends,
        ["0", "0 busy", "6 3.0% busy", "0 client", "0 late", "0"],
        "{text}"
    );
}

#[test]
fn snapshot_detail_host_80x24() {
    let mut app = host_app(LevelSummary::clone);
    to_detail(&mut app);
    let text = render(&app, 80, 24);
    assert!(text.contains("Detail: ITL, TPOT, errors, host"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in\n{text}"))
    };
    // Each level's host line sits below it, from the level column on.
    let row = at("vLLM de…     8");
    assert_eq!(
        lines[row + 1],
        "         host busy: box 1.9/2 · client 0.15 · eng 0.60 · yes 0.98"
    );
    let row = at("vLLM ma…     1");
    assert_eq!(
        lines[row + 1],
        "         client busy: box 2.0/2 · client 1.00 · sshd 0.10 · idle vLLM de… 1.70 …"
    );
    let row = at("vLLM ma…     8");
    assert_eq!(
        lines[row + 1],
        "         client late: box 0.3/2 · steal 0.4 · client 0.25"
    );
    let row = at("vLLM ma…    32");
    assert_eq!(lines[row + 1], "         host: -");
    insta::assert_snapshot!(text);
}

#[test]
fn the_host_detail_renders_at_any_size() {
    let mut app = host_app(LevelSummary::clone);
    to_detail(&mut app);
    for w in [0, 1, 9, 20, 79, 80, 81, 100, 160] {
        for h in [0, 1, 3, 5, 6, 7, 24, 25, 48] {
            assert_eq!(render(&app, w, h).lines().count(), h as usize, "{w}×{h}");
        }
    }
    // Every level shows with its host line below it.
    let text = render(&app, 80, 25);
    assert_eq!(table_rows(&text, "Detail:").len(), 12, "{text}");
}

#[test]
fn without_host_reports_the_detail_view_keeps_one_line_a_level() {
    let mut app = host_app(|s| LevelSummary {
        host: None,
        ..s.clone()
    });
    to_detail(&mut app);
    let text = render(&app, 80, 24);
    assert!(text.contains("Detail: ITL, TPOT, errors (Tab"), "{text}");
    assert!(!text.contains("host"), "{text}");
    assert_eq!(table_rows(&text, "Detail:").len(), 6, "{text}");
}

#[test]
fn summary_table_and_headless_text_mark_the_levels() {
    let [default, max4] = host_levels();
    let mut report = report_with(vec![engine(DEFAULT, "#d62728"), engine(MAX4, "#2ca02c")]);
    report.engines[0].levels = default.clone();
    report.engines[1].levels = max4.clone();
    let text = summary_table(&report);
    let marks: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("vLLM "))
        .map(|l| l.rsplit("  ").next().unwrap())
        .collect();
    assert_eq!(
        marks,
        [
            "0",
            "0 host busy",
            "6 (3.0%) host busy",
            "0 client busy",
            "0 client late",
            "0"
        ],
        "{text}"
    );
    // The headless line of each level.
    let line = |s: &LevelSummary| llmsweep::headless::level_line(DEFAULT, s, Swept::Concurrency);
    assert!(
        line(&default[1]).ends_with(" ms  [host busy]"),
        "{}",
        line(&default[1])
    );
    assert!(line(&max4[0]).ends_with(" ms  [client busy]"));
    assert!(line(&max4[1]).ends_with(" ms  [client late]"));
    assert!(line(&default[0]).ends_with(" ms"), "{}", line(&default[0]));
    let mut skipped = default[1].clone();
    skipped.status = LevelStatus::Skipped;
    assert!(line(&skipped).ends_with(" ms  [skipped]  [host busy]"));
    // The final text says how many levels were marked host busy, right after the table.
    let text = llmsweep::headless::final_text(&report);
    let count = "2 levels marked host busy: the client ran late while other processes kept the \
                 machine busy, so those numbers are partly the box's (summary.md, Host)\n";
    assert!(
        text.starts_with(&format!("{}{count}", summary_table(&report))),
        "{text}"
    );
    report.engines[0].levels[2].client_state = ClientState::Fine;
    let text = llmsweep::headless::final_text(&report);
    assert!(text.contains("\n1 level marked host busy: "), "{text}");
    report.engines[0].levels[1].client_state = ClientState::Busy;
    let text = llmsweep::headless::final_text(&report);
    assert!(!text.contains("marked host busy"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Shared sparkline scales

/// The sparkline heights (in eighths of a row) of the metric column starting at `x` in the
/// panel titled `title`: one sum per column of the text, over the panel's sparkline rows.
fn bar_heights(text: &str, title: &str, x: usize, width: usize) -> Vec<u32> {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let top = lines
        .iter()
        .position(|l| {
            l.iter()
                .collect::<String>()
                .starts_with(&format!(" {title} "))
        })
        .expect("panel");
    let eighths = |c: char| match c {
        '▁' => 1,
        '▂' => 2,
        '▃' => 3,
        '▄' => 4,
        '▅' => 5,
        '▆' => 6,
        '▇' => 7,
        '█' => 8,
        _ => 0,
    };
    (x..x + width)
        .map(|col| {
            lines[top + 2..]
                .iter()
                // Down to the next panel's (or the table's) title rule.
                .take_while(|l| !l.contains(&'─'))
                .map(|l| l.get(col).copied().map_or(0, eighths))
                .sum()
        })
        .collect()
}

#[test]
fn a_twice_as_fast_engines_bars_are_twice_as_tall_on_the_shared_scale() {
    let mut app = before_start();
    for (engine, tok_s) in [(0, 1000.0), (1, 2000.0)] {
        feed(
            &mut app,
            Event::LevelStarted {
                engine,
                level_index: 0,
                level: 1.0,
                planned: 200,
                trial: 1,
                trials: 1,
                search: None,
            },
        );
        for i in 0..20u64 {
            feed(
                &mut app,
                Event::Snapshot(Snapshot {
                    output_throughput: tok_s,
                    request_throughput: tok_s / 128.0,
                    ..snapshot(engine, 0, i, 20)
                }),
            );
        }
    }
    let text = render(&app, 80, 24);
    // tok/s is the second of four 20-column metrics; its 19 columns of bars.
    let slow = bar_heights(&text, "vLLM", 20, 19);
    let fast = bar_heights(&text, "Friendli", 20, 19);
    let (slow, fast): (u32, u32) = (slow.iter().sum(), fast.iter().sum());
    assert!(fast > 0, "{text}");
    let ratio = f64::from(slow) / f64::from(fast);
    assert!(
        (0.4..=0.6).contains(&ratio),
        "{slow} / {fast} = {ratio}\n{text}"
    );
    // The label says what the top is.
    assert!(text.contains("tok/s 1.00k ▲2.00k"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The compare view

fn compare(mut app: App) -> App {
    key(&mut app, KeyInput::Tab);
    assert_eq!(app.view(), View::Compare);
    app
}

#[test]
fn snapshot_compare_mid_run_and_done_80x24_and_160x48() {
    for (state, app) in [("mid_run", mid_run()), ("done", done())] {
        let app = compare(app);
        for (w, h) in [(80, 24), (160, 48)] {
            insta::assert_snapshot!(
                format!("snapshot_compare_{state}_{w}x{h}"),
                render(&app, w, h)
            );
        }
    }
}

#[test]
fn the_compare_view_says_which_way_is_better_and_labels_the_levels() {
    let text = render(&compare(mid_run()), 160, 48);
    for title in ["Throughput (req/s)", "Latency p50", "TTFT p50"] {
        assert!(text.contains(title), "{title}\n{text}");
    }
    assert_eq!(text.matches("higher is better").count(), 1, "{text}");
    assert_eq!(text.matches("lower is better").count(), 2, "{text}");
    // The x axis: the run's levels.
    let axis = text
        .lines()
        .find(|l| l.contains(" 1 ") && l.contains(" 8 ") && l.contains("32"))
        .unwrap_or_else(|| panic!("no level labels in\n{text}"));
    assert!(!axis.is_empty());
    // Each engine in the legend with its own marker.
    assert!(text.contains("█ vLLM"), "{text}");
    assert!(text.contains("• Friendli"), "{text}");
}

#[test]
fn the_running_levels_live_point_firms_up_into_the_engines_marker() {
    let mut app = compare(mid_run());
    // Friendli (•) has finished C=1 and is running C=8.
    let before = render(&app, 160, 48);
    assert!(before.contains("⠂ running level (live)"), "{before}");
    let markers = |t: &str| t.matches('•').count();
    feed(
        &mut app,
        Event::LevelFinished {
            engine: 1,
            level_index: 1,
            summary: Arc::new(summary(8.0, 1.4, 0, LevelStatus::Complete)),
        },
    );
    let after = render(&app, 160, 48);
    // One more • per panel: C=8 is a finished level now. (The legend's • is in both.)
    assert_eq!(markers(&after), markers(&before) + 3, "{before}\n{after}");
    assert!(!after.contains("running level (live)"), "{after}");
}

// ---------------------------------------------------------------------------------------------
// Export by key

#[test]
fn e_asks_the_driver_to_export_and_the_status_line_names_the_files() {
    let mut app = mid_run();
    assert_eq!(key(&mut app, KeyInput::Char('e')), vec![Control::Export]);
    let text = render(&app, 80, 24);
    assert!(
        text.contains("✓  exporting chart.png, levels.csv, summary.md"),
        "{text}"
    );
    let dir = PathBuf::from("results/demo-20250102T030405Z");
    feed(
        &mut app,
        Event::Exported {
            result: Ok(["chart.png", "levels.csv", "summary.md"]
                .iter()
                .map(|f| dir.join(f))
                .collect()),
        },
    );
    let text = render(&app, 120, 30);
    assert!(
        text.contains(
            "exported chart.png, levels.csv, summary.md to results/demo-20250102T030405Z"
        ),
        "{text}"
    );
    // A newer warning takes the line back.
    feed(
        &mut app,
        Event::Warning {
            engine: None,
            text: "something new".into(),
        },
    );
    assert!(render(&app, 80, 24).contains("!  something new"));
    feed(
        &mut app,
        Event::Exported {
            result: Err("disk full".into()),
        },
    );
    assert!(render(&app, 80, 24).contains("export failed: disk full"));
}

#[test]
fn snapshot_compare_trials_and_knees_160x48() {
    // Trials: each finished level's 95 % interval as an error bar.
    let trials = render(&compare(trials_mid_run()), 160, 48);
    insta::assert_snapshot!("compare_trials_160x48", trials);
    // An auto sweep's end: the knees as dotted lines.
    let auto = render(&compare(auto_done()), 160, 48);
    insta::assert_snapshot!("compare_auto_done_160x48", auto);
    let plain = render(&compare(done()), 160, 48);
    let cells = |t: &str, c: char| t.matches(c).count();
    // Neither fixture's extra marks are in the plain run's view.
    assert!(cells(&auto, '•') > cells(&plain, '•'), "{auto}");
}
