//! The host report of a level (Linux `/proc`): a process the test starts busy-looping during
//! a level is named in the level's report and warning; an engine running as a separate
//! process on a local port is found by its port, and its CPU while idle during another
//! engine's level is accounted and warned about.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::binary::{ChildGuard, BIN};
use common::{config, plan, quick, sim, Run};
use llmsweep::events::Event;
use llmsweep::results::host::EngineLocation;
use llmsweep::results::model::Report;
use llmsweep::sim::Faults;

fn has_proc() -> bool {
    Path::new("/proc/stat").exists() && Path::new("/proc/net/tcp").exists()
}

/// Engines (name, url) over one 1.5 s level at C=1 each, without warmup.
fn toml(engines: &[(&str, String)]) -> String {
    let mut text = String::new();
    for (name, url) in engines {
        text.push_str(&format!(
            "[[engines]]\nname = {name:?}\nurl = {url:?}\nmodel = \"sim\"\nmetrics = false\n\n"
        ));
    }
    text.push_str(
        "[sweep]\nlevels = [1]\nduration_s = 1.5\nwarmup_requests = 0\n\n[request]\nmax_tokens = 4\n",
    );
    text
}

/// Runs to the end; `on_level` is called as each level starts (engine index).
async fn run(toml: &str, mut on_level: impl FnMut(usize)) -> (Report, Vec<String>) {
    let mut run = Run::start(plan(config(toml)));
    let mut warnings = Vec::new();
    loop {
        match run.next().await {
            Event::LevelStarted { engine, .. } => on_level(engine),
            Event::Warning { text, .. } => warnings.push(text),
            Event::RunFinished { .. } => break,
            _ => {}
        }
    }
    let outcome = run.outcome().await;
    ((*outcome.report).clone(), warnings)
}

/// Enough busy loops that their cores pass the busy-box limit (max(0.5, a quarter of the
/// cores)) on this machine.
fn spinners_needed() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores / 4 + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_loop_started_during_a_level_is_named_in_its_host_report_and_warning() {
    if !has_proc() {
        return;
    }
    // The other test's spinning engine would be this level's busiest process.
    let _serial = common::TIMING.lock().await;
    let server = sim(quick(), Faults::default()).await;
    let mut spinners: Vec<ChildGuard> = Vec::new();
    let (report, warnings) = run(&toml(&[("A", server.chat_url())]), |_| {
        for _ in 0..spinners_needed() {
            let child = Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .spawn()
                .expect("sh");
            spinners.push(ChildGuard(Some(child)));
        }
    })
    .await;
    let pids: Vec<u32> = spinners
        .iter()
        .map(|g| g.0.as_ref().unwrap().id())
        .collect();
    drop(spinners);
    server.shutdown().await;

    let level = &report.engines[0].levels[0];
    let host = level.host.as_ref().expect("a host report on Linux");
    assert!(host.samples >= 2, "{host:?}");
    assert!(
        host.sampling_cpu_ms > 0.0,
        "the sampler's own cost is measured"
    );
    assert!(host.cores >= 1);
    let named: Vec<_> = host.top.iter().filter(|p| pids.contains(&p.pid)).collect();
    assert!(
        !named.is_empty(),
        "the spinners among the top: {:?}",
        host.top
    );
    for p in &named {
        assert_eq!(p.command, "sh");
        assert_eq!(p.engine, None);
        assert!(p.cores > 0.3, "a busy loop uses most of a core: {p:?}");
    }
    assert!(
        host.other_cores > 0.5,
        "the spinners are neither the client nor an engine: {host:?}"
    );
    // The in-process simulator listens in the test process: llmsweep's own.
    assert_eq!(host.engines[0].location, EngineLocation::InProcess);
    assert!(host.engines[0].under_test);
    // Named in a warning: the busy-box one, or the starved-client one if the loop ran late.
    let top = &named[0];
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("sh") && w.contains(&format!("pid {}", top.pid))),
        "{warnings:?}"
    );
    assert!(report
        .warnings
        .iter()
        .any(|w| w.starts_with("A: ") && w.contains(&format!("pid {}", top.pid))));
}

/// `llmsweep sim` as a separate process, with one spinning thread; its URL.
fn spinning_sim() -> (ChildGuard, String) {
    let mut child = Command::new(BIN)
        .args([
            "sim",
            "--port",
            "0",
            "--profile",
            "fast",
            "--spin-threads",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("llmsweep sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the sim's first line");
    // `... — http://127.0.0.1:PORT/v1/chat/completions (...)`
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (ChildGuard(Some(child)), url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_engine_process_found_by_its_port_is_accounted_and_warned_about() {
    if !has_proc() {
        return;
    }
    let _serial = common::TIMING.lock().await;
    let in_process = sim(quick(), Faults::default()).await;
    let (guard, url) = spinning_sim();
    let pid = guard.0.as_ref().unwrap().id();
    let (report, warnings) = run(
        &toml(&[("A", in_process.chat_url()), ("B spinning", url)]),
        |_| {},
    )
    .await;
    drop(guard);
    in_process.shutdown().await;

    // A's level: B was idle, found by its port, and spun.
    let a = report.engines[0].levels[0]
        .host
        .as_ref()
        .expect("host report");
    let b = &a.engines[1];
    assert_eq!(b.engine, "B spinning");
    assert_eq!(b.location, EngineLocation::Local);
    assert!(!b.under_test);
    assert_eq!(b.pid, Some(pid), "the process listening on B's port");
    assert!(b.processes >= 1);
    let idle = b.cores.expect("a local engine's cores");
    assert!(idle > 0.3, "one spinning thread: {b:?}");
    assert!(
        a.top
            .iter()
            .any(|p| p.pid == pid && p.engine.as_deref() == Some("B spinning")),
        "{:?}",
        a.top
    );
    let text = format!("B spinning (idle) used {idle:.2} cores while A C=1 ran: stop it between runs, or pin them apart");
    assert!(
        warnings.iter().any(|w| w.starts_with(&text)),
        "{text:?} in {warnings:?}"
    );
    assert!(report
        .warnings
        .iter()
        .any(|w| w == &format!("A: {text} (taskset, cpusets)")));
    // The idle engine's cores are not "other" processes.
    assert!(a.other_cores < a.busy_cores - idle + 1e-9);

    // B's own level: B under test, A (in this process) idle and not warned about.
    let b_level = report.engines[1].levels[0]
        .host
        .as_ref()
        .expect("host report");
    assert!(b_level.engines[1].under_test);
    assert!(b_level.engines[1].cores.unwrap() > 0.3);
    assert_eq!(b_level.engines[0].location, EngineLocation::InProcess);
    assert!(
        !warnings.iter().any(|w| w.starts_with("A (idle)")),
        "{warnings:?}"
    );
}
