//! A run killed outright (SIGKILL: no handler, no final write, maybe a torn last line in
//! `requests.jsonl`) is still resumable: `results.json` as written after the last finished
//! level says `running`, and `run --resume DIR` completes the sweep in the same folder with
//! every level and every request exactly once.

use crate::common;

use common::binary::*;

use std::collections::HashMap;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use llmsweep::sim::{self, Profile, SimConfig};
use serde_json::Value;

#[test]
fn a_run_killed_by_sigkill_resumes_with_every_level_and_request_once() {
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
    write_sweep_config(&config, "kill", &server.chat_url(), &out);

    // Part one: SIGKILL once results.json holds the first level and the second has begun.
    let child = command(&config).spawn().expect("spawn llmsweep");
    let mut guard = ChildGuard(Some(child));
    let deadline = Instant::now() + Duration::from_secs(20);
    let dir = loop {
        assert!(Instant::now() < deadline, "the first level never finished");
        if let Some(dir) = run_dir(&out) {
            let saved_levels = fs::read_to_string(dir.join("results.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .map_or(0, |r| {
                    r["engines"][0]["levels"].as_array().map_or(0, Vec::len)
                });
            let second_level = requests(&dir).iter().any(|l| l["level_index"] == 1);
            if saved_levels == 1 && second_level {
                break dir;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut child = guard.0.take().expect("child");
    child.kill().expect("SIGKILL");
    let killed = child.wait().expect("wait");
    assert_eq!(killed.signal(), Some(9), "{killed:?}");
    let saved = results(&dir);
    assert_eq!(saved["status"], "running", "no final write after SIGKILL");
    assert_eq!(saved["finished_at"], Value::Null);

    // Part two: the same folder, every engine × level exactly once.
    let mut resume = command(&config);
    resume.arg("--resume").arg(&dir);
    let second = resume.output().expect("run --resume");
    assert_eq!(
        second.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    let report = results(&dir);
    assert_eq!(report["status"], "complete");
    assert_eq!(report["started_at"], saved["started_at"]);
    assert_eq!(report["resumed_at"].as_array().map(Vec::len), Some(1));
    for (engine, name) in report["engines"].as_array().unwrap().iter().zip(ENGINES) {
        assert_eq!(engine["name"], name);
        let levels: Vec<(f64, String, u64)> = engine["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let status = l["status"].as_str().unwrap().to_string();
                (
                    l["level"].as_f64().unwrap(),
                    status,
                    l["completed"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(f64, String, u64)> = LEVELS
            .iter()
            .map(|&c| (f64::from(c), "complete".to_string(), REQUESTS))
            .collect();
        assert_eq!(levels, want, "{name}");
    }
    // Every line parses (a torn line from the kill is gone) and each request is there once.
    let text = fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    let mut seen: HashMap<(String, u64, u64), usize> = HashMap::new();
    for line in text.lines() {
        let line: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("requests.jsonl line {line:?}: {e}"));
        let key = (
            line["engine"].as_str().unwrap().to_string(),
            line["level_index"].as_u64().unwrap(),
            line["request_index"].as_u64().unwrap(),
        );
        *seen.entry(key).or_default() += 1;
    }
    let expected = ENGINES.len() * LEVELS.len() * REQUESTS as usize;
    assert_eq!(seen.len(), expected);
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        twice.is_empty(),
        "requests written more than once: {twice:?}"
    );
    runtime.block_on(server.shutdown());
}
