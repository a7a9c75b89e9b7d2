//! The results folder with the real binary: every run gets a folder of its own, even two runs
//! of one name started in the same second.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use llmsweep::sim::{self, Profile, SimConfig, SimServer};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_llmsweep");

/// Kills the child if the test fails before it exits.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

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

fn json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).expect("read")).expect("parses")
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
        let report = json(&dir.join("results.json"));
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
