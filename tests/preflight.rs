//! Preflight: `llmsweep check` against healthy and broken engines, and the checks `run`
//! makes before each engine's first level (skipping an engine that fails them hard).

use crate::common;

use std::path::Path;

use common::binary::BIN;
use common::*;
use llmsweep::events::Event;
use llmsweep::preflight::{self, names, EngineChecks, Status};
use llmsweep::results::model::{LevelStatus, RunStatus};
use llmsweep::sim::{Faults, Profile};

/// One chat engine at `url` serving `model`, `max_tokens` 8, two levels of 4 requests.
fn engine_toml(name: &str, url: &str, model: &str, extra: &str) -> String {
    format!(
        "[[engines]]\nname = {name:?}\nurl = {url:?}\nmodel = {model:?}\napi = \"chat\"\n{extra}\n"
    )
}

fn sweep_toml() -> &'static str {
    "[sweep]\nlevels = [1, 2]\nrequests_per_level = 4\nwarmup_requests = 0\ntimeout_s = 10.0\n\
     connect_timeout_s = 2.0\n\n[request]\nmax_tokens = 8\nseed = 42\n"
}

async fn check(toml: &str) -> Vec<EngineChecks> {
    tokio::time::timeout(
        GUARD,
        preflight::check_config(config(toml), &|_: &str| None),
    )
    .await
    .expect("check within the guard")
    .expect("check runs")
}

fn status(engine: &EngineChecks, name: &str) -> Status {
    find(engine, name).status
}

fn find<'a>(engine: &'a EngineChecks, name: &str) -> &'a preflight::Check {
    engine
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}: {:?}", engine.checks))
}

/// `llmsweep check --config <toml>`: exit code and stdout.
async fn check_binary(dir: &Path, toml: &str) -> (i32, String, String) {
    let path = dir.join("bench.toml");
    std::fs::write(&path, toml).expect("config");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(["check", "--config"])
            .arg(&path)
            .env("TERM", "dumb")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run llmsweep check")
    })
    .await
    .expect("join");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------
// `llmsweep check`
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_simulator_passes_every_check_and_check_exits_0() {
    let server = sim(quick(), Faults::default()).await;
    let toml = format!(
        "{}{}",
        engine_toml("e", &server.chat_url(), "sim", "metrics = false"),
        sweep_toml()
    );
    let engines = check(&toml).await;
    assert_eq!(engines.len(), 1);
    let e = &engines[0];
    assert!(
        e.checks.iter().all(|c| c.status == Status::Pass),
        "{:#?}",
        e.checks
    );
    let names: Vec<&str> = e.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            names::REACHABLE,
            names::STREAM,
            names::MODEL,
            names::USAGE,
            names::OUTPUT_LENGTH,
            names::ROLE_CHUNK,
            names::METRICS,
            names::API_KEY
        ]
    );
    assert_eq!(
        find(e, names::OUTPUT_LENGTH).detail,
        "asked for 16 tokens, got 16"
    );
    assert_eq!(find(e, names::ROLE_CHUNK).detail, "role-only first chunk");
    assert_eq!(find(e, names::METRICS).detail, "off (metrics = false)");
    assert_eq!(preflight::exit_code(&engines), 0);

    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stdout, stderr) = check_binary(dir.path(), &toml).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("engine"), "{stdout}");
    assert!(
        stdout.ends_with("1 of 1 engine(s) ready, 0 warning(s)\n"),
        "{stdout}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_hard_failure_with_one_line_and_its_fix() {
    let url = format!("http://127.0.0.1:{}/v1/chat/completions", closed_port());
    let toml = format!("{}{}", engine_toml("down", &url, "sim", ""), sweep_toml());
    let engines = check(&toml).await;
    let e = &engines[0];
    assert_eq!(status(e, names::REACHABLE), Status::Fail);
    assert_eq!(
        e.hard_failure().map(|c| c.name),
        Some(names::REACHABLE),
        "{:?}",
        e.checks
    );
    assert_eq!(preflight::exit_code(&engines), 1);

    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stdout, stderr) = check_binary(dir.path(), &toml).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("FAIL down: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].starts_with("FAIL down: reachable: cannot connect to 127.0.0.1:")
            && lines[0].contains(" — fix: start the engine"),
        "{stdout}"
    );
    assert!(stdout.contains("not ready: down"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_500_on_the_probe_is_a_hard_failure() {
    let server = raw_server(|_| {
        http_response(
            "500 Internal Server Error",
            "application/json",
            r#"{"error":"boom"}"#,
        )
    })
    .await;
    let toml = format!(
        "{}{}",
        engine_toml("e", &server.url, "sim", ""),
        sweep_toml()
    );
    let engines = check(&toml).await;
    let e = &engines[0];
    assert_eq!(status(e, names::REACHABLE), Status::Pass);
    let stream = find(e, names::STREAM);
    assert_eq!(stream.status, Status::Fail);
    assert!(stream.detail.starts_with("HTTP 500"), "{stream:?}");
    assert_eq!(status(e, names::USAGE), Status::Skip);
    assert_eq!(preflight::exit_code(&engines), 1);
    // The probe carried the preflight request id.
    let heads = server.heads.lock().expect("heads").clone();
    assert!(
        heads
            .iter()
            .any(|h| h.starts_with("POST /v1/chat/completions")
                && h.to_ascii_lowercase()
                    .contains("x-request-id: check-e0-preflight")),
        "{heads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_not_listed_is_a_warning_and_check_still_exits_0() {
    let server = sim(quick(), Faults::default()).await;
    let toml = format!(
        "{}{}",
        engine_toml("e", &server.chat_url(), "llama-3-8b", "metrics = false"),
        sweep_toml()
    );
    let engines = check(&toml).await;
    let model = find(&engines[0], names::MODEL);
    assert_eq!(model.status, Status::Warn, "{model:?}");
    assert_eq!(
        model.detail,
        "\"llama-3-8b\" not listed by /v1/models (it lists \"sim\")"
    );
    assert_eq!(engines[0].hard_failure(), None);
    assert_eq!(preflight::exit_code(&engines), 0, "warnings alone pass");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_usage_is_a_warning() {
    let server = sim(
        quick(),
        Faults {
            no_usage: true,
            ..Faults::default()
        },
    )
    .await;
    let toml = format!(
        "{}{}",
        engine_toml("e", &server.chat_url(), "sim", "metrics = false"),
        sweep_toml()
    );
    let engines = check(&toml).await;
    let usage = find(&engines[0], names::USAGE);
    assert_eq!(usage.status, Status::Warn, "{usage:?}");
    assert!(usage.detail.starts_with("no usage"), "{usage:?}");
    assert_eq!(status(&engines[0], names::STREAM), Status::Pass);
    assert_eq!(preflight::exit_code(&engines), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_stops_early_fails_the_output_length_check() {
    let server = sim(
        Profile {
            output_tokens: Some(5),
            ..quick()
        },
        Faults::default(),
    )
    .await;
    let toml = format!(
        "{}{}",
        engine_toml(
            "e",
            &server.chat_url(),
            "sim",
            "metrics = false\nextra_body = { ignore_eos = true }"
        ),
        sweep_toml()
    );
    let engines = check(&toml).await;
    let length = find(&engines[0], names::OUTPUT_LENGTH);
    assert_eq!(length.status, Status::Warn, "{length:?}");
    assert_eq!(length.detail, "asked for 16 tokens, got 5");
    assert_eq!(
        length.fix.as_deref(),
        Some("set extra_body.ignore_eos = true (vLLM/SGLang) or min_tokens")
    );
    assert_eq!(preflight::exit_code(&engines), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_found_with_their_schema_or_not_found() {
    let server = sim(quick(), Faults::default()).await;
    let exporter = raw_server(|head| {
        if head.starts_with("GET /metrics") {
            http_response(
                "200 OK",
                "text/plain",
                "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 0\n",
            )
        } else {
            http_response("404 Not Found", "text/plain", "")
        }
    })
    .await;
    let metrics_url = exporter.url.replace("/v1/chat/completions", "/metrics");
    let toml = format!(
        "{}{}{}",
        engine_toml(
            "found",
            &server.chat_url(),
            "sim",
            &format!("metrics_url = {metrics_url:?}")
        ),
        engine_toml(
            "missing",
            &server.chat_url(),
            "sim",
            &format!(
                "metrics_url = {:?}",
                server
                    .chat_url()
                    .replace("/v1/chat/completions", "/no-metrics-here")
            )
        ),
        sweep_toml()
    );
    let engines = check(&toml).await;
    let found = find(&engines[0], names::METRICS);
    assert_eq!(found.status, Status::Pass, "{found:?}");
    assert_eq!(found.detail, format!("found at {metrics_url}, schema vllm"));
    assert!(engines[0].metrics_usable);
    let missing = find(&engines[1], names::METRICS);
    assert_eq!(missing.status, Status::Warn, "{missing:?}");
    assert!(
        missing.detail.starts_with("not found at ") && missing.detail.contains("404"),
        "{missing:?}"
    );
    assert!(!engines[1].metrics_usable);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unset_key_variable_is_a_warning_in_check_not_a_config_error() {
    let server = sim(quick(), Faults::default()).await;
    let toml = format!(
        "{}{}",
        engine_toml(
            "e",
            &server.chat_url(),
            "sim",
            "metrics = false\napi_key_env = \"LLMSWEEP_TEST_UNSET_KEY\""
        ),
        sweep_toml()
    );
    let engines = check(&toml).await;
    let key = find(&engines[0], names::API_KEY);
    assert_eq!(key.status, Status::Warn, "{key:?}");
    assert!(key.detail.contains("$LLMSWEEP_TEST_UNSET_KEY"), "{key:?}");
    assert_eq!(preflight::exit_code(&engines), 0);
    // Set, it passes, and its value is shown nowhere.
    let set = preflight::check_config(config(&toml), &|_: &str| Some("sk-very-secret".to_string()))
        .await
        .expect("check");
    assert_eq!(status(&set[0], names::API_KEY), Status::Pass);
    let text = preflight::table::render(&set);
    assert!(!text.contains("sk-very-secret"), "{text}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_2_on_a_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stdout, stderr) = check_binary(dir.path(), sweep_toml()).await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("no [[engines]]"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// `run`'s preflight
// ---------------------------------------------------------------------------------------

fn two_engines(first: &str, second: &str) -> llmsweep::plan::Plan {
    plan(config(&format!(
        "{}{}{}",
        engine_toml("down", first, "sim", "metrics = false"),
        engine_toml("up", second, "sim", "metrics = false"),
        sweep_toml()
    )))
}

fn warnings(events: &[Event]) -> Vec<(Option<usize>, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { engine, text } => Some((*engine, text.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_skips_an_unreachable_engine_and_sweeps_the_others() {
    let server = sim(quick(), Faults::default()).await;
    let down = format!("http://127.0.0.1:{}/v1/chat/completions", closed_port());
    let mut run = Run::start(two_engines(&down, &server.chat_url()));
    let (events, outcome) = run.finish().await;
    assert_eq!(outcome.report.status, RunStatus::Complete);
    assert_eq!(outcome.signal, None, "exit code as today: 0");

    let report = run.report();
    let skipped = &report.engines[0];
    assert_eq!(skipped.name, "down");
    assert!(skipped.levels.is_empty(), "{:?}", skipped.levels);
    let reason = skipped.skipped_reason.as_deref().unwrap_or("");
    assert!(
        reason.starts_with("preflight: reachable: cannot connect to 127.0.0.1:"),
        "{reason}"
    );
    let swept = &report.engines[1];
    assert_eq!(swept.skipped_reason, None);
    assert_eq!(swept.levels.len(), 2);
    assert!(swept
        .levels
        .iter()
        .all(|l| l.status == LevelStatus::Complete && l.completed == 4));
    // No level of the skipped engine ever started, and the screen was told why.
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::LevelStarted { engine: 0, .. })));
    assert!(
        warnings(&events)
            .iter()
            .any(|(e, t)| *e == Some(0) && t.starts_with("preflight: reachable: ")),
        "{:?}",
        warnings(&events)
    );
    assert!(run.requests().iter().all(|r| r["engine"] == "up"));
    // The engine stays in the exports, with its reason.
    let summary = std::fs::read_to_string(run.out_dir.join("summary.md")).expect("summary.md");
    assert!(
        summary.contains("| down |") && summary.contains("preflight: reachable"),
        "{summary}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_check_sweeps_the_unreachable_engine_anyway() {
    let server = sim(quick(), Faults::default()).await;
    let down = format!("http://127.0.0.1:{}/v1/chat/completions", closed_port());
    let mut run = Run::start_no_check(two_engines(&down, &server.chat_url()));
    let (events, outcome) = run.finish().await;
    assert_eq!(outcome.signal, None);
    let report = run.report();
    let down = &report.engines[0];
    // As before preflight existed: its levels run, and every request fails to connect.
    assert_eq!(down.levels.len(), 2);
    assert!(
        down.levels
            .iter()
            .all(|l| l.status == LevelStatus::Failed && l.completed == 0 && l.failed == 4),
        "{:?}",
        down.levels
    );
    assert!(run
        .requests()
        .iter()
        .any(|r| r["engine"] == "down" && r["error_class"] == "connect"));
    assert_eq!(down.skipped_reason, None);
    assert!(!warnings(&events)
        .iter()
        .any(|(_, t)| t.starts_with("preflight")));
    assert_eq!(report.engines[1].levels.len(), 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_skips_an_engine_whose_probe_gets_http_500() {
    let server = sim(quick(), Faults::default()).await;
    let broken =
        raw_server(|_| http_response("500 Internal Server Error", "text/plain", "boom")).await;
    let mut run = Run::start(two_engines(&broken.url, &server.chat_url()));
    let (_, outcome) = run.finish().await;
    assert_eq!(outcome.report.status, RunStatus::Complete);
    let report = run.report();
    let reason = report.engines[0].skipped_reason.as_deref().unwrap_or("");
    assert!(
        reason.starts_with("preflight: stream: HTTP 500"),
        "{reason}"
    );
    assert!(report.engines[0].levels.is_empty());
    assert_eq!(report.engines[1].levels.len(), 2);
    // One request only reached the broken engine's API: the probe.
    let posts = broken
        .heads
        .lock()
        .expect("heads")
        .iter()
        .filter(|h| h.starts_with("POST "))
        .count();
    assert_eq!(posts, 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_is_sent_with_its_id_and_never_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("timing.jsonl");
    let server = llmsweep::sim::spawn(llmsweep::sim::SimConfig {
        profile: quick(),
        faults: Faults::default(),
        seed: 1,
        timing_log: Some(log.clone()),
    })
    .await
    .expect("sim");
    let plan = plan(config(&format!(
        "{}{}",
        engine_toml("e", &server.chat_url(), "sim", "metrics = false"),
        sweep_toml()
    )));
    let mut run = Run::start(plan);
    let (_, outcome) = run.finish().await;
    server.shutdown().await;
    let ids: Vec<String> = std::fs::read_to_string(&log)
        .expect("timing log")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("line");
            v["request_id"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(
        ids.iter()
            .filter(|id| id.ends_with("-preflight"))
            .collect::<Vec<_>>(),
        ["test-run-e0-preflight"],
        "{ids:?}"
    );
    assert_eq!(ids.len(), 1 + 2 * 4, "{ids:?}");
    let lines = run.requests();
    assert_eq!(lines.len(), 2 * 4);
    assert!(lines
        .iter()
        .all(|l| !l["request_id"].as_str().unwrap_or("").contains("preflight")));
    let levels = &outcome.report.engines[0].levels;
    assert!(
        levels.iter().all(|l| l.completed == 4 && l.failed == 0),
        "{levels:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_warnings_reach_the_screen_results_and_summary_and_skip_dead_metrics() {
    // No usage and no /metrics (a metrics_url the simulator answers 404): two warnings; the
    // engine is swept all the same. The engine stops at 2 tokens: `run` does not judge the
    // output length.
    let server = sim(
        Profile {
            output_tokens: Some(2),
            ..quick()
        },
        Faults {
            no_usage: true,
            ..Faults::default()
        },
    )
    .await;
    let plan = plan(config(&format!(
        "{}{}",
        engine_toml(
            "e",
            &server.chat_url(),
            "sim",
            &format!(
                "metrics_url = {:?}",
                server
                    .chat_url()
                    .replace("/v1/chat/completions", "/no-metrics-here")
            )
        ),
        sweep_toml()
    )));
    let mut run = Run::start(plan);
    let (events, outcome) = run.finish().await;
    let shown = warnings(&events);
    let preflight: Vec<&String> = shown
        .iter()
        .filter(|(e, t)| *e == Some(0) && t.starts_with("preflight: "))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(preflight.len(), 2, "{shown:?}");
    assert!(
        preflight[0].starts_with("preflight: usage: no usage"),
        "{shown:?}"
    );
    assert!(
        preflight[1].starts_with("preflight: metrics: not found at "),
        "{shown:?}"
    );
    // The level scraper never polled the endpoint the preflight found dead.
    assert!(
        !shown.iter().any(|(_, t)| t.starts_with("metrics at ")),
        "{shown:?}"
    );
    let report = &outcome.report;
    for text in &preflight {
        assert!(
            report.warnings.contains(&format!("e: {text}")),
            "{:?}",
            report.warnings
        );
    }
    assert!(!report.warnings.iter().any(|w| w.contains("output_length")));
    assert_eq!(report.engines[0].levels.len(), 2);
    assert_eq!(report.engines[0].skipped_reason, None);
    let summary = std::fs::read_to_string(run.out_dir.join("summary.md")).expect("summary.md");
    assert!(summary.contains("preflight: usage"), "{summary}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_echoed_by_a_401_is_redacted_from_the_skipped_reason_and_every_file() {
    const KEY: &str = "sk-preflight-secret-0123456789";
    let echo = raw_server(|head| {
        let auth = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
            .unwrap_or("authorization: none")
            .to_string();
        http_response(
            "401 Unauthorized",
            "application/json",
            &format!(r#"{{"error":{{"message":"bad credentials: {auth}"}}}}"#),
        )
    })
    .await;
    let toml = format!(
        "{}{}",
        engine_toml(
            "echo",
            &echo.url,
            "sim",
            "metrics = false\napi_key_env = \"LLMSWEEP_PREFLIGHT_KEY\""
        ),
        sweep_toml()
    );
    let lookup = |var: &str| (var == "LLMSWEEP_PREFLIGHT_KEY").then(|| KEY.to_string());
    let plan = llmsweep::plan::Plan::new(config(&toml), &lookup).expect("plan");
    let mut run = Run::start(plan);
    let (events, outcome) = run.finish().await;
    assert!(
        !format!("{events:?}").contains(KEY),
        "an event shows the key"
    );
    let reason = outcome.report.engines[0]
        .skipped_reason
        .clone()
        .unwrap_or_default();
    assert!(
        reason.starts_with("preflight: stream: HTTP 401"),
        "{reason}"
    );
    assert!(reason.contains("Bearer ***"), "{reason}");
    let fix = warnings(&events)
        .into_iter()
        .find(|(_, t)| t.starts_with("preflight: stream"))
        .map(|(_, t)| t)
        .unwrap_or_default();
    assert!(fix.contains("$LLMSWEEP_PREFLIGHT_KEY"), "{fix}");
    for file in ["results.json", "summary.md", "levels.csv"] {
        let text = std::fs::read_to_string(run.out_dir.join(file)).expect(file);
        assert!(!text.contains(KEY), "{file} has the key");
    }
}
