//! The real binary under signals and bad configuration: SIGINT, SIGTERM and SIGHUP abort a
//! headless demo with exit code 128 + signal and every result written; a config error exits 2
//! with one line on stderr.

use crate::common;

use common::binary::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The single `demo-*` results folder under `out`, once it exists.
fn run_dir(out: &Path) -> Option<PathBuf> {
    fs::read_dir(out)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("demo-"))
        })
}

/// Non-empty lines of `requests.jsonl`.
fn request_lines(dir: &Path) -> usize {
    let Ok(text) = fs::read_to_string(dir.join("requests.jsonl")) else {
        return 0;
    };
    text.lines().filter(|l| !l.trim().is_empty()).count()
}

/// Σ completed + failed + cancelled over every level of every engine.
fn counted_requests(results: &Value) -> u64 {
    results["engines"]
        .as_array()
        .expect("engines array")
        .iter()
        .flat_map(|e| e["levels"].as_array().expect("levels array").iter())
        .map(|l| {
            ["completed", "failed", "cancelled"]
                .iter()
                .map(|k| l[*k].as_u64().unwrap_or_else(|| panic!("level {k}: {l}")))
                .sum::<u64>()
        })
        .sum()
}

/// Runs a headless demo, sends `signal` once requests are on disk, and checks the exit code
/// and that the interrupted run was written completely.
fn signal_aborts_run(signal: &str, expected_code: i32) {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let child = Command::new(BIN)
        .args(["demo", "--headless", "--out"])
        .arg(&out)
        .args(["--levels", "1,2", "--requests", "40", "--max-tokens", "32"])
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn llmsweep");
    let pid = child.id().to_string();
    let mut guard = ChildGuard(Some(child));

    // Wait until some measured requests are on disk.
    let deadline = Instant::now() + Duration::from_secs(10);
    let dir = loop {
        if let Some(dir) = run_dir(&out) {
            if request_lines(&dir) > 0 {
                break dir;
            }
        }
        if let Some(status) = guard.0.as_mut().unwrap().try_wait().expect("try_wait") {
            panic!("llmsweep exited early with {status} before any request was written");
        }
        assert!(
            Instant::now() < deadline,
            "no requests.jsonl lines under {} within 10 s",
            out.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };

    let kill = Command::new("kill")
        .args([format!("-{signal}"), pid.clone()])
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -{signal} failed");

    // Wait for the exit (bounded: the driver cancels what is in flight).
    let child = guard.0.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = tx.send(());
        output
    });
    if rx.recv_timeout(Duration::from_secs(20)).is_err() {
        // Leave nothing behind: the waiter owns the child, so kill it by pid.
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("llmsweep did not exit within 20 s of SIG{signal}");
    }
    let output = waiter.join().expect("waiter").expect("wait_with_output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(expected_code),
        "SIG{signal}: exit status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );

    let results = results(&dir);
    assert_eq!(results["status"], "interrupted", "SIG{signal}: {results}");
    let lines = request_lines(&dir);
    assert!(lines > 0);
    assert_eq!(
        counted_requests(&results) as usize,
        lines,
        "SIG{signal}: every requests.jsonl line is counted in results.json"
    );
    assert!(
        stdout.contains(&format!("results: {}", dir.display())),
        "SIG{signal}: stdout names the results folder:\n{stdout}"
    );
    eprintln!(
        "SIG{signal}: exit {expected_code}, {lines} requests, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sigint_aborts_with_130_and_writes_results() {
    signal_aborts_run("INT", 130);
}

#[test]
fn sigterm_aborts_with_143_and_writes_results() {
    signal_aborts_run("TERM", 143);
}

#[test]
fn sighup_aborts_with_129_and_writes_results() {
    signal_aborts_run("HUP", 129);
}

#[test]
fn config_error_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("bench.toml");
    fs::write(
        &config,
        "[sweep]\nlevels = [1]\nbogus = 3\n\n[[engines]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/v1/chat/completions\"\nmodel = \"m\"\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["run", "--headless", "--config"])
        .arg(&config)
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .output()
        .expect("run llmsweep");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: {}: unknown key `bogus`, expected one of `mode`, `levels`, `trials`, `auto`, \
             `requests_per_level`, `duration_s`, `warmup_requests`, `warmup_s`, `settle_s`, `timeout_s`, \
             `connect_timeout_s`, `first_token_timeout_s`, `idle_timeout_s`, `burstiness`, \
             `max_concurrency`, `order` for key `sweep`\n",
            config.display()
        )
    );
    assert!(output.stdout.is_empty(), "nothing on stdout");
    assert!(
        !tmp.path().join("results").exists(),
        "no results folder for a config error"
    );
}

#[test]
fn missing_config_file_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope.toml");
    let output = Command::new(BIN)
        .args(["run", "--headless", "--config"])
        .arg(&missing)
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .output()
        .expect("run llmsweep");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: cannot read config file {}: no such file\n",
            missing.display()
        )
    );
}

#[test]
fn sim_refuses_an_unwritable_timing_log_before_serving() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("missing-dir").join("timing.jsonl");
    let output = Command::new(BIN)
        .args(["sim", "--port", "0", "--timing-log"])
        .arg(&log)
        .stdin(Stdio::null())
        .output()
        .expect("run llmsweep sim");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: --timing-log {}: No such file or directory (os error 2)\n",
            log.display()
        )
    );
    assert!(output.stdout.is_empty(), "no server announced");
}
