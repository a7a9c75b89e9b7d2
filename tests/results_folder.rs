//! The results folder with the real binary: every run gets a folder of its own, even two runs
//! of one name started in the same second; a write error mid-run marks the run failed, keeps
//! what was saved and exits 1.

use crate::common;

use common::binary::*;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use llmsweep::sim::{self, Profile, SimConfig, SimServer};
use serde_json::Value;

impl ChildGuard {
    fn wait(mut self) -> Output {
        let child = self.0.take().expect("child");
        child.wait_with_output().expect("wait llmsweep")
    }
}

fn simulator(runtime: &tokio::runtime::Runtime, decode_base_us: u64) -> SimServer {
    runtime
        .block_on(sim::spawn(SimConfig {
            profile: Profile {
                decode_base_us,
                prefill_base_us: 1_000,
                ..sim::FIXED
            },
            faults: Default::default(),
            seed: 0,
            timing_log: None,
        }))
        .expect("spawn simulator")
}

/// A config for one engine at `url`, results under `out`, run name `same`.
fn write_config(path: &Path, url: &str, out: &Path, levels: &str, requests: u64, tokens: u32) {
    let text = format!(
        "[run]\nname = \"same\"\nout_dir = {:?}\n\n\
         [[engines]]\nname = \"sim\"\nurl = {url:?}\nmodel = \"sim\"\n\n\
         [sweep]\nlevels = [{levels}]\nrequests_per_level = {requests}\nwarmup_requests = 0\n\
         timeout_s = 10.0\n\n[request]\nmax_tokens = {tokens}\n",
        out.display().to_string()
    );
    fs::write(path, text).expect("write config");
}

fn spawn(config: &Path) -> ChildGuard {
    let child = Command::new(BIN)
        .args(["run", "--headless", "--config"])
        .arg(config)
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn llmsweep");
    ChildGuard(Some(child))
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The folders in `out` (none while it does not exist).
fn folders(out: &Path) -> BTreeSet<PathBuf> {
    fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

#[test]
fn runs_of_one_name_started_in_the_same_second_get_folders_of_their_own() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = simulator(&runtime, 1_000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let config = tmp.path().join("bench.toml");
    write_config(&config, &server.chat_url(), &out, "1", 4, 4);

    // Another run already holds the folder of every second the runs below can start in.
    fs::create_dir(&out).expect("out");
    let stamp = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let now = time::OffsetDateTime::now_utc();
    for s in -2..60 {
        let at = now + time::Duration::seconds(s);
        let dir = out.join(format!("same-{}", at.format(&stamp).expect("format")));
        fs::create_dir(&dir).expect("taken folder");
        fs::write(dir.join("requests.jsonl"), "another run\n").expect("taken requests");
    }
    let taken = folders(&out);

    let (a, b) = (spawn(&config), spawn(&config));
    for output in [a.wait(), b.wait()] {
        assert_eq!(
            output.status.code(),
            Some(0),
            "stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let new: Vec<PathBuf> = folders(&out).difference(&taken).cloned().collect();
    assert_eq!(new.len(), 2, "one new folder per run: {new:?}");
    for dir in &new {
        let name = dir.file_name().and_then(|n| n.to_str()).expect("name");
        let report = results(dir);
        assert_eq!(report["run_name"], name, "run name is the folder's name");
        assert_eq!(report["status"], "complete");
        let requests = lines(&dir.join("requests.jsonl"));
        assert_eq!(requests.len(), 4, "{name}: only its own requests");
        for line in requests {
            let id = serde_json::from_str::<Value>(&line).expect("line")["request_id"].clone();
            let id = id.as_str().expect("request_id");
            assert!(id.starts_with(&format!("{name}-e0-l0-")), "{name}: {id}");
        }
    }
    for dir in &taken {
        assert_eq!(lines(&dir.join("requests.jsonl")), ["another run"]);
        assert!(!dir.join("results.json").exists(), "{}", dir.display());
    }
    runtime.block_on(server.shutdown());
}

#[test]
fn a_write_error_mid_run_marks_the_run_failed_keeps_what_was_saved_and_exits_1() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // ~50 ms per request: each level of 20 requests at C=1 takes about a second.
    let server = simulator(&runtime, 3_000);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let config = tmp.path().join("bench.toml");
    write_config(&config, &server.chat_url(), &out, "1, 1", 20, 16);

    let child = spawn(&config);
    // Once the first level is saved, block the next results.json write: tests run as root, so
    // a directory where the temporary file goes stands in for a full disk.
    let deadline = Instant::now() + Duration::from_secs(15);
    let dir = loop {
        assert!(Instant::now() < deadline, "the first level was never saved");
        let saved = folders(&out).into_iter().next().filter(|dir| {
            fs::read_to_string(dir.join("results.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|r| r["engines"][0]["levels"].as_array().map(Vec::len) == Some(1))
        });
        if let Some(dir) = saved {
            break dir;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let tmp_file = dir.join("results.json.tmp");
    fs::create_dir(&tmp_file).expect("block results.json.tmp");
    let output = child.wait();

    assert_eq!(output.status.code(), Some(1));
    let why = format!(
        "writing results: {}: Is a directory (os error 21)",
        tmp_file.display()
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: {why}; the levels saved before are kept in {}, marked failed\n",
            dir.display()
        )
    );
    let report = results(&dir);
    assert_eq!(report["status"], "failed");
    assert!(report["finished_at"].is_string());
    let levels = report["engines"][0]["levels"].as_array().expect("levels");
    assert_eq!(levels.len(), 1, "the saved level is kept");
    assert_eq!(levels[0]["completed"], 20);
    // Other warnings (a busy machine's client-health note) may come before it.
    let warnings = report["warnings"].as_array().expect("warnings");
    assert_eq!(
        warnings.last(),
        Some(&Value::from(format!("llmsweep failed mid-run: {why}")))
    );
    // Both levels' requests were written before the failed write: none is lost.
    assert_eq!(lines(&dir.join("requests.jsonl")).len(), 40);
    runtime.block_on(server.shutdown());
}
