//! `run --resume DIR`: with the real binary, a run cut by SIGHUP mid-sweep is continued in
//! the same folder, its finished levels kept, the rest run again, and every request of both
//! parts is in `requests.jsonl` exactly once; an incompatible config is refused with exit 2.
//! Through the library, every setting that changes the numbers blocks a resume by name.

use crate::common;

use common::binary::*;

use std::collections::HashMap;
use std::fs;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use llmsweep::config::{Config, Sources};
use llmsweep::plan::Plan;
use llmsweep::results::model::Report;
use llmsweep::results::resume::incompatibility;
use llmsweep::sim::{self, Profile, SimConfig};

fn output(mut command: Command) -> Output {
    let child = command.spawn().expect("spawn llmsweep");
    let mut guard = ChildGuard(Some(child));
    let child = guard.0.take().expect("child");
    child.wait_with_output().expect("wait llmsweep")
}

#[test]
fn an_interrupted_run_resumes_in_its_folder_with_every_request_once() {
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime
        .block_on(sim::spawn(SimConfig {
            profile: Profile {
                decode_base_us: 3_000,
                prefill_base_us: 1_000,
                ..sim::FIXED
            },
            faults: Default::default(),
            seed: 0,
            timing_log: None,
        }))
        .expect("spawn simulator");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let config = tmp.path().join("bench.toml");
    write_sweep_config(&config, "resume", &server.chat_url(), &out);

    // Part one: cut by SIGHUP once the first level is done and the second has begun.
    let child = command(&config).spawn().expect("spawn llmsweep");
    let pid = child.id().to_string();
    let mut guard = ChildGuard(Some(child));
    let deadline = Instant::now() + Duration::from_secs(10);
    let dir = loop {
        assert!(Instant::now() < deadline, "the first level never finished");
        if let Some(dir) = run_dir(&out) {
            let lines = requests(&dir);
            let at = |i: u64| lines.iter().filter(|l| l["level_index"] == i).count();
            if at(0) >= REQUESTS as usize && at(1) > 0 {
                break dir;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let status = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let first = guard.0.take().expect("child").wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(129),
        "stderr: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    let saved = results(&dir);
    assert_eq!(saved["status"], "interrupted");
    let before = fs::read(dir.join("requests.jsonl")).unwrap();

    // An incompatible config is refused before anything is touched.
    let mut bad = command(&config);
    bad.arg("--resume").arg(&dir).args(["--seed", "7"]);
    let refused = output(bad);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        format!(
            "error: --resume {}: request.seed differs (saved 42, config 7)\n",
            dir.display()
        )
    );
    assert_eq!(fs::read(dir.join("requests.jsonl")).unwrap(), before);

    // Part two: the same folder, every engine × level exactly once.
    let mut resume = command(&config);
    resume.arg("--resume").arg(&dir);
    let second = output(resume);
    assert_eq!(
        second.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(run_dir(&out).as_deref(), Some(dir.as_path()));
    let report = results(&dir);
    assert_eq!(report["status"], "complete");
    assert_eq!(report["started_at"], saved["started_at"]);
    assert_eq!(report["run_name"], saved["run_name"]);
    assert_eq!(report["resumed_at"].as_array().map(Vec::len), Some(1));
    let engines = report["engines"].as_array().unwrap();
    assert_eq!(engines.len(), ENGINES.len());
    for (engine, name) in engines.iter().zip(ENGINES) {
        assert_eq!(engine["name"], name);
        let levels: Vec<f64> = engine["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                assert_eq!(l["status"], "complete", "{name}: {l}");
                assert_eq!(l["completed"], REQUESTS, "{name}: {l}");
                l["level"].as_f64().unwrap()
            })
            .collect();
        assert_eq!(levels, [1.0, 2.0, 4.0], "{name}");
    }
    let mut seen: HashMap<(String, u64, u64), usize> = HashMap::new();
    let lines = requests(&dir);
    for line in &lines {
        let key = (
            line["engine"].as_str().unwrap().to_string(),
            line["level_index"].as_u64().unwrap(),
            line["request_index"].as_u64().unwrap(),
        );
        assert_eq!(line["level"].as_f64(), Some(LEVELS[key.1 as usize] as f64));
        *seen.entry(key).or_default() += 1;
    }
    let expected = ENGINES.len() * LEVELS.len() * REQUESTS as usize;
    assert_eq!(lines.len(), expected);
    assert_eq!(seen.len(), expected);
    assert!(seen.values().all(|&n| n == 1));

    runtime.block_on(server.shutdown());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

const ENGINE: &str =
    "name = \"a\"\nurl = \"http://127.0.0.1:9/v1/chat/completions\"\nmodel = \"m\"\n";

/// The plan of one engine (`engine` lines) and a two-level sweep, with flag-style `overrides`.
fn plan_of(engine: &str, overrides: &[(&str, &str)]) -> Plan {
    let toml = format!("[[engines]]\n{engine}\n[sweep]\nlevels = [1, 2]\n");
    let config = Config::load(&Sources {
        text: Some(("test.toml".into(), toml)),
        env: Some(HashMap::new()),
        overrides: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Sources::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    Plan::new(config, &|_| None).expect("plan")
}

/// Why a run saved with `saved` cannot be resumed with `config`.
fn refusal(saved: &Plan, config: &Plan) -> Option<String> {
    let saved = Report {
        workload: saved.workload.clone(),
        ..Report::default()
    };
    incompatibility(&saved, &config.workload)
}

#[test]
fn every_setting_that_changes_the_numbers_blocks_a_resume_by_name() {
    let base = plan_of(ENGINE, &[]);
    assert_eq!(refusal(&base, &plan_of(ENGINE, &[])), None);
    // Settings that change what is kept or shown, not what a request measures, do not.
    let harmless = [
        ("sweep.timeout_s", "60"),
        ("sweep.order", "interleaved"),
        ("run.name", "other"),
        ("run.out_dir", "elsewhere"),
    ];
    assert_eq!(refusal(&base, &plan_of(ENGINE, &harmless)), None);
    for (overrides, expected) in [
        (
            &[("request.max_tokens", "64")][..],
            "request.max_tokens differs (saved 128, config 64)",
        ),
        (
            &[("sweep.duration_s", "30")],
            "sweep.duration_s differs (saved unset, config 30)",
        ),
        (
            &[("sweep.requests_per_level", "20")],
            "sweep.requests_per_level differs (saved unset, config 20)",
        ),
        (
            &[("sweep.warmup_requests", "2")],
            "sweep.warmup_requests differs (saved 0, config 2)",
        ),
        (
            &[("sweep.levels", "1,4")],
            "sweep.levels differs (saved [1, 2], config [1, 4])",
        ),
        (
            &[("sweep.mode", "rate")],
            "sweep.mode differs (saved concurrency, config rate)",
        ),
        (
            &[("request.seed", "7")],
            "request.seed differs (saved 42, config 7)",
        ),
        (
            &[("request.sampling_seed", "3")],
            "request.sampling_seed differs (saved unset, config 3)",
        ),
        (
            &[("request.temperature", "0.5")],
            "request.temperature differs (saved unset, config 0.5)",
        ),
        (
            &[("request.top_p", "0.9")],
            "request.top_p differs (saved unset, config 0.9)",
        ),
        (
            &[("slo.ttft_ms", "500")],
            "slo.ttft_ms differs (saved unset, config 500)",
        ),
        (
            &[("slo.attainment", "0.5")],
            "slo.attainment differs (saved 0.9, config 0.5)",
        ),
    ] {
        assert_eq!(
            refusal(&base, &plan_of(ENGINE, overrides)).as_deref(),
            Some(expected),
            "{overrides:?}"
        );
    }

    let rate = plan_of(ENGINE, &[("sweep.mode", "rate")]);
    for (key, value, expected) in [
        (
            "sweep.burstiness",
            "0.5",
            "sweep.burstiness differs (saved 1, config 0.5)",
        ),
        (
            "sweep.max_concurrency",
            "8",
            "sweep.max_concurrency differs (saved 0, config 8)",
        ),
    ] {
        let other = plan_of(ENGINE, &[("sweep.mode", "rate"), (key, value)]);
        assert_eq!(refusal(&rate, &other).as_deref(), Some(expected));
    }

    let engine = |extra: &str| format!("{ENGINE}{extra}\n");
    for (lines, expected) in [
        (
            engine("api = \"completions\""),
            "engines[0].api differs (saved chat, config completions)",
        ),
        (
            engine("extra_body = { ignore_eos = true }"),
            r#"engines[0].extra_body differs (saved {}, config {"ignore_eos":true})"#,
        ),
        (
            engine("stream_usage = false"),
            "engines[0].stream_usage differs (saved true, config false)",
        ),
        (
            ENGINE.replace("model = \"m\"", "model = \"n\""),
            "engines[0].model differs (saved m, config n)",
        ),
        (
            ENGINE.replace(":9/", ":10/"),
            "engines[0].url differs (saved http://127.0.0.1:9/v1/chat/completions, config http://127.0.0.1:10/v1/chat/completions)",
        ),
        (
            format!("{ENGINE}\n[[engines]]\n{}", ENGINE.replace("\"a\"", "\"b\"")),
            "engines differs (saved [a], config [a, b])",
        ),
    ] {
        assert_eq!(
            refusal(&base, &plan_of(&lines, &[])).as_deref(),
            Some(expected),
            "{lines}"
        );
    }

    // Headers: names shown, values only hashed, a changed value still caught.
    let one = plan_of(&engine("headers = { x-team = \"secret-one\" }"), &[]);
    let two = plan_of(&engine("headers = { x-team = \"secret-two\" }"), &[]);
    let refused = refusal(&one, &two).expect("a changed header value blocks the resume");
    assert!(
        refused.starts_with("engines[0].headers differs (saved x-team (values fnv1a:"),
        "{refused}"
    );
    let saved = serde_json::to_string(&one.workload).unwrap();
    assert!(
        !refused.contains("secret") && !saved.contains("secret"),
        "{saved}"
    );

    // Prompts: the source and a hash of its contents.
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let a = file("a.jsonl", "{\"prompt\": \"one\"}\n{\"prompt\": \"two\"}\n");
    let saved = plan_of(ENGINE, &[("prompts.file", &a)]);
    let b = file("b.jsonl", "{\"prompt\": \"one\"}\n{\"prompt\": \"two\"}\n");
    assert_eq!(
        refusal(&saved, &plan_of(ENGINE, &[("prompts.file", &b)])),
        Some(format!(
            "prompts.source differs (saved file {a} (2 prompts), config file {b} (2 prompts))"
        ))
    );
    file(
        "a.jsonl",
        "{\"prompt\": \"one\"}\n{\"prompt\": \"three\"}\n",
    );
    let refused = refusal(&saved, &plan_of(ENGINE, &[("prompts.file", &a)])).expect("edited");
    assert!(
        refused.starts_with("prompts.hash differs (saved fnv1a:"),
        "{refused}"
    );
}
