//! The real binary's dashboard, driven through tmux at 120×40: pause, skip a level, quit, the
//! final table on the normal screen, a restored terminal, and the partial run on disk.
//!
//! Without `tmux` these tests fail, naming what is missing; `LLMSWEEP_SKIP_TMUX=1` turns that
//! into a skip that each test states on stderr (`.ci/run` installs tmux or fails).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::schema;

const BIN: &str = env!("CARGO_BIN_EXE_llmsweep");
const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;
const WAIT: Duration = Duration::from_secs(15);
const STEP: Duration = Duration::from_millis(100);

/// A private tmux server (own socket) with one session; the server is killed on drop, so a
/// failing test never leaves it running.
struct Tmux {
    socket: String,
    session: String,
    /// The socket file, removed on drop (`kill-server` leaves it behind).
    socket_path: Option<PathBuf>,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Starts a detached `WIDTH`×`HEIGHT` session running `shell_command` under bash.
    fn start(name: &str, shell_command: &str) -> Tmux {
        let mut tmux = Tmux {
            socket: format!("llmsweep-test-{}-{name}", std::process::id()),
            session: name.to_string(),
            socket_path: None,
        };
        let output = tmux.command(&[
            "new-session",
            "-d",
            "-s",
            &tmux.session,
            "-x",
            &WIDTH.to_string(),
            "-y",
            &HEIGHT.to_string(),
            "bash",
            "--norc",
            "--noprofile",
            "-c",
            shell_command,
        ]);
        assert!(
            output.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let path = tmux.display("#{socket_path}");
        tmux.socket_path = (!path.is_empty()).then(|| PathBuf::from(path));
        // Keep the pane (and its text) if the command exits, whatever happens.
        tmux.command(&["set-option", "-t", &tmux.session, "remain-on-exit", "on"]);
        tmux
    }

    fn command(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .expect("run tmux")
    }

    /// The visible pane as plain text.
    fn capture(&self) -> String {
        let output = self.command(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A `display -p` format value for the pane, e.g. `#{alternate_on}`.
    fn display(&self, format: &str) -> String {
        let output = self.command(&["display-message", "-p", "-t", &self.session, format]);
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Sends keys (tmux key names, e.g. `p`, `Enter`, `-l` for literal text).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        let output = self.command(&args);
        assert!(output.status.success(), "send-keys {keys:?} failed");
    }

    /// Polls the pane every `STEP` until `check` returns `Some`, for at most `WAIT`.
    fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.capture();
            if let Some(found) = check(&screen) {
                return found;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {WAIT:?} waiting for {what}; the pane shows:\n{screen}");
            }
            std::thread::sleep(STEP);
        }
    }

    fn wait_text(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_for(what, |s| pred(s).then(|| s.to_string()))
    }
}

/// True when tmux can run. Without it: a panic naming the fix, or `false` (skip) with a
/// printed notice when `LLMSWEEP_SKIP_TMUX=1` says the skip is deliberate.
fn tmux_or_skip() -> bool {
    if Tmux::available() {
        return true;
    }
    if std::env::var("LLMSWEEP_SKIP_TMUX").is_ok_and(|v| v == "1") {
        // Straight to the process's stderr: the harness captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: tmux is not installed and LLMSWEEP_SKIP_TMUX=1: a dashboard test did not run"
        );
        return false;
    }
    panic!(
        "tmux is not installed: the dashboard end-to-end tests need it (apt-get install tmux), \
         or set LLMSWEEP_SKIP_TMUX=1 to skip them on purpose"
    );
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        if let Some(path) = &self.socket_path {
            let _ = fs::remove_file(path);
        }
    }
}

/// The header's first word (`RUNNING`, `PAUSED`, …).
fn status(screen: &str) -> Option<&str> {
    screen.lines().next()?.split_whitespace().next()
}

/// `(engine, level k)` from the header's second line: ` engine <name> (i/n)  level k/N  C=…`.
fn header_level(screen: &str) -> Option<(String, u32)> {
    let line = screen.lines().nth(1)?;
    let rest = line.trim_start().strip_prefix("engine ")?;
    let (name, rest) = rest.split_once(" (")?;
    let (_, rest) = rest.split_once("level ")?;
    let (k, _) = rest.split_once('/')?;
    Some((name.trim().to_string(), k.parse().ok()?))
}

/// The progress gauge: `<engine> C=<c>  <done>/<planned> …  in flight <n>  <p>%`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Gauge {
    engine: String,
    done: u64,
    planned: u64,
    in_flight: u64,
}

fn gauge(screen: &str) -> Option<Gauge> {
    let line = screen.lines().find(|l| l.contains("in flight"))?;
    let (before, after) = line.split_once(" C=")?;
    // The label sits on the bar: strip the filled blocks in front of the engine name.
    let engine = before
        .trim_start_matches(|c: char| c.is_whitespace() || ('\u{2580}'..='\u{259f}').contains(&c))
        .trim()
        .to_string();
    let mut words = after.split_whitespace();
    let _level = words.next()?;
    let (done, planned) = words.next()?.split_once('/')?;
    let (_, flight) = after.split_once("in flight ")?;
    let in_flight = flight.split_whitespace().next()?.parse().ok()?;
    Some(Gauge {
        engine,
        done: done.parse().ok()?,
        planned: planned.parse().ok()?,
        in_flight,
    })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn run_dir(out: &Path) -> PathBuf {
    fs::read_dir(out)
        .expect("results parent folder")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("demo-"))
        })
        .expect("a demo-* results folder")
}

/// Starts `llmsweep demo` in a bash inside a fresh tmux session; after it exits the pane shows
/// `EXIT=<code>` and a `$ ` prompt of a new shell on the same terminal.
fn start_demo(name: &str, out: &Path) -> Tmux {
    let run = format!(
        "export TERM=xterm-256color; {} demo --out {} --levels 1,2,4 --requests 60 --max-tokens 40; \
         echo EXIT=$?; PS1='$ ' exec bash --norc --noprofile",
        shell_quote(BIN),
        shell_quote(&out.display().to_string()),
    );
    let tmux = Tmux::start(name, &run);
    assert_eq!(
        tmux.display("#{pane_width}x#{pane_height}"),
        format!("{WIDTH}x{HEIGHT}")
    );
    tmux
}

/// Types a check into the shell that took over the pane: the terminal must be out of raw mode.
fn assert_terminal_cooked(tmux: &Tmux) {
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "cursor still hidden");
    tmux.wait_text("the shell prompt", |s| s.lines().any(|l| l == "$"));
    tmux.keys(&[
        "-l",
        "case $(stty -a) in *-icanon*|*-echo\\ *) echo TTY=RAW;; *) echo TTY=COOKED;; esac",
    ]);
    tmux.keys(&["Enter"]);
    let tty = tmux.wait_for("the stty check", |s| {
        s.lines()
            .map(str::trim)
            .find(|l| *l == "TTY=COOKED" || *l == "TTY=RAW")
            .map(str::to_string)
    });
    assert_eq!(tty, "TTY=COOKED", "{}", tmux.capture());
}

/// The pid of the pane shell's child (the llmsweep process), from `/proc`.
fn llmsweep_pid(tmux: &Tmux) -> Option<u32> {
    let shell: u32 = tmux.display("#{pane_pid}").parse().ok()?;
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
        // `pid (comm) state ppid …`; comm may hold spaces.
        let (_, rest) = stat.rsplit_once(')')?;
        let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
        let exe = fs::read_link(entry.path().join("exe")).ok()?;
        (ppid == shell && exe.file_name()? == "llmsweep").then_some(pid)
    })
}

/// True while `pid` exists and is not a zombie (an orphan may wait for a reaper).
fn running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Reads results.json, checks its status and that every requests.jsonl line is counted in it;
/// returns the levels.
fn check_results(dir: &Path, status: &str) -> Vec<Value> {
    let results = schema::read_checked(&dir.join("results.json"));
    assert_eq!(results["status"], status, "{results}");
    let levels: Vec<Value> = results["engines"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["levels"].as_array().unwrap().iter().cloned())
        .collect();
    let counted: u64 = levels
        .iter()
        .map(|l| {
            ["completed", "failed", "cancelled"]
                .iter()
                .map(|k| l[*k].as_u64().expect("count"))
                .sum::<u64>()
        })
        .sum();
    let lines = fs::read_to_string(dir.join("requests.jsonl"))
        .expect("requests.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert!(lines > 0, "no requests written");
    assert_eq!(counted as usize, lines, "requests.jsonl vs results.json");
    levels
}

#[test]
fn dashboard_pause_skip_quit_in_tmux() {
    if !tmux_or_skip() {
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let tmux = start_demo("e2e", &out);

    // 1. The header: running, simulated, on the alternate screen.
    let screen = tmux.wait_text("RUNNING + SIMULATED header", |s| {
        status(s) == Some("RUNNING") && s.contains("SIMULATED") && gauge(s).is_some()
    });
    assert_eq!(tmux.display("#{alternate_on}"), "1", "{screen}");
    assert!(screen.contains("llmsweep demo-"), "{screen}");

    // 2. Pause: once in-flight requests drain the done count stays put; resume.
    tmux.keys(&["p"]);
    tmux.wait_text("PAUSED", |s| status(s) == Some("PAUSED"));
    // Drained: nothing in flight, and the same count on two captures 300 ms apart (before a
    // level's first snapshot the gauge reads "in flight 0" while its first request runs).
    let drained = loop {
        let first = tmux.wait_for("in-flight requests to drain", |s| {
            gauge(s).filter(|g| g.in_flight == 0)
        });
        std::thread::sleep(Duration::from_millis(300));
        if gauge(&tmux.capture()).as_ref() == Some(&first) {
            break first;
        }
        assert!(started.elapsed() < WAIT * 3, "the paused run never settled");
    };
    std::thread::sleep(Duration::from_millis(1100));
    let screen = tmux.capture();
    assert_eq!(status(&screen), Some("PAUSED"), "{screen}");
    let later = gauge(&screen).expect("gauge while paused");
    assert_eq!(
        (later.engine.as_str(), later.done),
        (drained.engine.as_str(), drained.done),
        "the done count rose while paused:\n{screen}"
    );
    tmux.keys(&["p"]);
    tmux.wait_text("RUNNING after resume", |s| status(s) == Some("RUNNING"));

    // 3. Skip the level: the level number advances or the engine changes.
    let (engine, level) = tmux.wait_for("level k/N", header_level);
    tmux.keys(&["s"]);
    tmux.wait_for("the next level", |s| {
        header_level(s).filter(|(e, k)| *e != engine || *k > level)
    });

    // Snapshot of the dashboard mid-sweep, for the record (shown with --nocapture).
    let mid = tmux.wait_text("a measured level with progress", |s| {
        gauge(s).is_some_and(|g| g.done > 0) && status(s) == Some("RUNNING")
    });
    eprintln!("--- dashboard mid-sweep ({WIDTH}x{HEIGHT}) ---\n{mid}--- end ---");

    // 3b. Export by key while the run goes on: the status line names the files, and they
    // are in the run folder before the run ends.
    tmux.keys(&["e"]);
    let exported = tmux.wait_text("the export's status line", |s| {
        s.contains("exported chart.png, levels.csv, summary.md to ")
    });
    let dir = run_dir(&out);
    assert!(dir.join("chart.png").is_file(), "{exported}");
    assert!(dir.join("levels.csv").is_file(), "{exported}");
    assert_eq!(status(&exported), Some("RUNNING"), "{exported}");

    // The compare view mid-sweep, then back to the dashboard (Tab cycles three views).
    tmux.keys(&["Tab"]);
    let compare = tmux.wait_text("the compare view", |s| s.contains("Compare: each engine"));
    assert!(compare.contains("higher is better"), "{compare}");
    eprintln!("--- compare view mid-sweep ({WIDTH}x{HEIGHT}) ---\n{compare}--- end ---");
    tmux.keys(&["Tab"]);
    tmux.wait_text("the detail view", |s| s.contains("Detail: ITL"));
    tmux.keys(&["Tab"]);
    tmux.wait_text("the dashboard again", |s| s.contains("Finished levels"));

    // 4. Quit: the prompt, `y`, DONE, any key, then the normal screen.
    tmux.keys(&["q"]);
    tmux.wait_text("the quit prompt", |s| s.contains("Quit? y/n"));
    tmux.keys(&["y"]);
    let done = tmux.wait_text("DONE", |s| status(s) == Some("DONE"));
    assert!(done.contains("results in "), "{done}");
    assert!(done.contains("any key"), "{done}");
    // Still showing DONE until a key.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status(&tmux.capture()), Some("DONE"));
    tmux.keys(&["x"]);
    let after = tmux.wait_text("EXIT= after the dashboard closes", |s| {
        s.lines().any(|l| l.starts_with("EXIT="))
    });
    assert!(after.lines().any(|l| l == "EXIT=0"), "{after}");
    let dir = run_dir(&out);
    assert!(
        after
            .lines()
            .any(|l| l == format!("results: {}", dir.display())),
        "{after}"
    );
    assert!(after.contains("(SIMULATED: the numbers model no real hardware)"));
    assert!(
        after.contains("Engine ") && after.contains("TTFT p50"),
        "{after}"
    );
    assert!(after.contains("skipped"), "{after}");
    assert!(
        !after.contains("RUNNING"),
        "dashboard left on screen:\n{after}"
    );
    assert_terminal_cooked(&tmux);

    // 5. The partial run on disk.
    let levels = check_results(&dir, "aborted");
    assert!(
        levels.iter().any(|l| l["status"] == "skipped"),
        "no skipped level: {levels:?}"
    );
    eprintln!(
        "dashboard e2e: {} levels written, {:.1} s",
        levels.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Waits until the demo is measuring, then returns the llmsweep pid.
fn wait_measuring(tmux: &Tmux) -> u32 {
    tmux.wait_text("a running level with progress", |s| {
        status(s) == Some("RUNNING") && gauge(s).is_some_and(|g| g.done > 0)
    });
    llmsweep_pid(tmux).expect("the llmsweep process under the pane shell")
}

/// SIGTERM while the dashboard is up: it closes by itself (no key), the terminal is restored,
/// the table is printed, the exit code is 143 and the run is written as interrupted.
#[test]
fn sigterm_closes_dashboard_without_a_key() {
    if !tmux_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let tmux = start_demo("term", &out);
    let pid = wait_measuring(&tmux);
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let after = tmux.wait_text("EXIT= without any key", |s| {
        s.lines().any(|l| l.starts_with("EXIT="))
    });
    assert!(after.lines().any(|l| l == "EXIT=143"), "{after}");
    let dir = run_dir(&out);
    assert!(
        after
            .lines()
            .any(|l| l == format!("results: {}", dir.display())),
        "{after}"
    );
    assert_terminal_cooked(&tmux);
    check_results(&dir, "interrupted");
}

/// Ctrl-C in the dashboard arrives as a key (raw mode), yet acts as SIGINT does: the dashboard
/// closes by itself, the terminal is restored, the table is printed, the exit code is 130 and
/// the run is written as interrupted (not as a quit: exit 0, `aborted`).
#[test]
fn ctrl_c_in_dashboard_is_sigint_exit_130() {
    if !tmux_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let tmux = start_demo("ctrlc", &out);
    wait_measuring(&tmux);
    tmux.keys(&["C-c"]);
    let after = tmux.wait_text("EXIT= without any other key", |s| {
        s.lines().any(|l| l.starts_with("EXIT="))
    });
    assert!(after.lines().any(|l| l == "EXIT=130"), "{after}");
    let dir = run_dir(&out);
    assert!(
        after
            .lines()
            .any(|l| l == format!("results: {}", dir.display())),
        "{after}"
    );
    assert!(!after.contains("Quit? y/n"), "Ctrl-C asked:\n{after}");
    assert_terminal_cooked(&tmux);
    check_results(&dir, "interrupted");
}

/// The terminal goes away under the dashboard (an SSH drop: tmux closes the pane and sends
/// SIGHUP): the process still finishes, writes every result as interrupted, and exits.
#[test]
fn hangup_with_dashboard_writes_results() {
    if !tmux_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("results");
    let tmux = start_demo("hup", &out);
    let pid = wait_measuring(&tmux);
    tmux.command(&["kill-session", "-t", &tmux.session]);
    let deadline = Instant::now() + WAIT;
    while running(pid) {
        assert!(
            Instant::now() < deadline,
            "llmsweep (pid {pid}) still running {WAIT:?} after its terminal closed"
        );
        std::thread::sleep(STEP);
    }
    check_results(&run_dir(&out), "interrupted");
}

/// A panic while the dashboard owns a real terminal: the panic hook restores it (normal screen,
/// cursor shown, cooked mode) before the message is printed, so the message stays readable.
#[test]
fn panic_restores_the_terminal_before_printing() {
    if !tmux_or_skip() {
        return;
    }
    let test_binary = std::env::current_exe().expect("the test binary");
    let run = format!(
        "{} --exact {} --ignored --nocapture --test-threads=1; \
         echo EXIT=$?; PS1='$ ' exec bash --norc --noprofile",
        shell_quote(&test_binary.display().to_string()),
        test_path("panic_child_with_the_terminal_entered"),
    );
    let tmux = Tmux::start("panic", &run);
    let after = tmux.wait_text("EXIT= after the panic", |s| {
        s.lines().any(|l| l.starts_with("EXIT="))
    });
    // The child failed (panicked) rather than passing or never running.
    assert!(after.lines().any(|l| l == "EXIT=101"), "{after}");
    assert!(
        after.contains(PANIC_TEXT),
        "the panic message was lost:\n{after}"
    );
    assert!(
        !after.contains(ALT_SCREEN_TEXT),
        "the alternate screen is still showing:\n{after}"
    );
    assert_terminal_cooked(&tmux);
}

/// A test's name as its binary's `--exact` takes it: its module path inside the test crate.
fn test_path(test: &str) -> String {
    match module_path!().split_once("::") {
        Some((_crate, module)) => format!("{module}::{test}"),
        None => test.to_string(),
    }
}

const PANIC_TEXT: &str = "deliberate panic with the dashboard's terminal entered";
const ALT_SCREEN_TEXT: &str = "drawn on the alternate screen";

/// Run by [`panic_restores_the_terminal_before_printing`] in a tmux pane: enters raw mode and
/// the alternate screen, drops the guard's duty (only the panic hook can restore), panics.
#[test]
#[ignore = "run by panic_restores_the_terminal_before_printing, in a tmux pane"]
fn panic_child_with_the_terminal_entered() {
    let guard = llmsweep::tui::terminal::enter().expect("enter the terminal");
    std::mem::forget(guard);
    print!("{ALT_SCREEN_TEXT}");
    std::io::stdout().flush().expect("flush");
    panic!("{PANIC_TEXT}");
}

#[test]
fn gauge_and_header_parsers() {
    let screen = " RUNNING  llmsweep demo-20261128T040115Z   SIMULATED   run 2.8s\n \
                  engine sim fast-prefill (1/2)  level 2/3  C=2  elapsed 2.5s\n\
                  ████████sim fast-prefill C=2  22/60 (1 failed)  in flight 2  37%\n";
    assert_eq!(status(screen), Some("RUNNING"));
    assert_eq!(
        header_level(screen),
        Some(("sim fast-prefill".to_string(), 2))
    );
    assert_eq!(
        gauge(screen),
        Some(Gauge {
            engine: "sim fast-prefill".into(),
            done: 22,
            planned: 60,
            in_flight: 2,
        })
    );
}
