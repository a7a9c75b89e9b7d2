//! Driving the real `llmsweep` binary: its path, a guard that kills it if a test fails
//! first, the two-engine sweep config the resume tests share, `run --headless`, and the
//! results folder read back.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_llmsweep");

/// Kills the child if the test fails before it exits.
pub struct ChildGuard(pub Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The engines and levels of [`write_sweep_config`].
pub const ENGINES: [&str; 2] = ["alpha", "beta"];
pub const LEVELS: [u32; 3] = [1, 2, 4];
pub const REQUESTS: u64 = 20;

/// A config at `path`: run `name` writing under `out`, [`ENGINES`] both at `url`, [`LEVELS`]
/// of [`REQUESTS`] requests of 8 tokens.
pub fn write_sweep_config(path: &Path, name: &str, url: &str, out: &Path) {
    let mut text = format!(
        "[run]\nname = {name:?}\nout_dir = {:?}\n\n",
        out.display().to_string()
    );
    for engine in ENGINES {
        text.push_str(&format!(
            "[[engines]]\nname = {engine:?}\nurl = {url:?}\nmodel = \"sim\"\napi = \"chat\"\n\n"
        ));
    }
    let levels: Vec<String> = LEVELS.iter().map(u32::to_string).collect();
    text.push_str(&format!(
        "[sweep]\nlevels = [{}]\nrequests_per_level = {REQUESTS}\nwarmup_requests = 0\n\
         timeout_s = 10.0\n\n[request]\nmax_tokens = 8\nseed = 42\n",
        levels.join(", ")
    ));
    fs::write(path, text).expect("write config");
}

/// The parseable lines of `dir/requests.jsonl` (a torn last line is skipped).
pub fn requests(dir: &Path) -> Vec<Value> {
    fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `dir/results.json`, parsed, after checking it against `docs/results.schema.json`.
pub fn results(dir: &Path) -> Value {
    super::schema::read_checked(&dir.join("results.json"))
}

/// The single results folder under `out`, once it exists.
pub fn run_dir(out: &Path) -> Option<PathBuf> {
    fs::read_dir(out)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

/// `llmsweep run --headless --config CONFIG`, output captured, no terminal.
pub fn command(config: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["run", "--headless", "--config"])
        .arg(config)
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}
