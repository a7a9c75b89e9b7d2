//! Wiring for the binary: config → plan → driver + front end, signals, exit codes.
//! Errors users see are one line; nothing here panics on bad input.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::cli::{ChartArg, CheckArgs, Cli, Command, MergeArgs, ReportArgs, RunArgs, SimArgs};
use crate::config::{Config, ConfigError, Sources};
use crate::driver::{self, RunOptions, RunOutcome};
use crate::events::Control;
use crate::plan::Plan;
use crate::report::ExportOptions;
use crate::results::model::Report;
use crate::shard::timeline::{parse_start, stamp};
use crate::shard::{Shard, ShardPlan};
use crate::sim::{self, Faults, Profile, SimConfig};
use crate::tui::TuiOptions;

/// Exit code for configuration errors.
pub const EXIT_CONFIG: i32 = 2;
/// Exit code for other failures.
pub const EXIT_FAILURE: i32 = 1;

/// Runs a parsed command line; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => run_command(args).await,
        Command::Demo(args) => demo_command(args).await,
        Command::Check(args) => check_command(args).await,
        Command::Sim(args) => sim_command(args).await,
        Command::Report(args) => report_command(args),
        Command::Merge(args) => merge_command(args),
        Command::Completions { shell } => print_bytes(&crate::docs::completions(shell)),
        Command::Man => print_bytes(&crate::docs::man_page()),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Config(message)) => {
            eprintln!("error: {message}");
            EXIT_CONFIG
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            EXIT_FAILURE
        }
    }
}

/// Why a command failed.
enum Failure {
    /// Bad configuration: exit 2.
    Config(String),
    Other(anyhow::Error),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure::Config(e.to_string())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Other(e)
    }
}

/// The config of `run` and `check`: `--config FILE` or ./bench.toml, the environment and
/// `overrides`; it must have engines.
fn load_config(
    path: Option<&PathBuf>,
    overrides: Vec<(String, String)>,
) -> Result<(Config, PathBuf), Failure> {
    let file = path.cloned().unwrap_or_else(|| PathBuf::from("bench.toml"));
    if path.is_none() && !file.exists() {
        return Err(Failure::Config(
            "no bench.toml in this folder: pass --config FILE, or try `llmsweep demo`".into(),
        ));
    }
    let config = Config::load(&Sources {
        file: Some(file.clone()),
        text: None,
        env: None,
        overrides,
    })?;
    if config.engines.is_empty() {
        return Err(Failure::Config(format!(
            "{}: no [[engines]] to run",
            file.display()
        )));
    }
    Ok((config, file))
}

async fn run_command(args: RunArgs) -> Result<i32, Failure> {
    let (config, file) = load_config(args.config.as_ref(), args.overrides())?;
    let mut plan = Plan::new(config, &|var| std::env::var(var).ok())
        .map_err(|message| Failure::Config(format!("{}: {message}", file.display())))?;
    if args.sharded() {
        let shard = match &args.shard {
            Some(text) => Shard::parse(text),
            None => Shard::from_env(&|var| std::env::var(var).ok()),
        }
        .map_err(Failure::Config)?;
        let start =
            parse_start(args.start_at.as_deref().unwrap_or_default()).map_err(Failure::Config)?;
        if plan.conversations.is_some() {
            return Err(Failure::Config(format!("{}: shard mode does not divide `prompts.conversations` among shards yet: run conversations from one process", file.display())));
        }
        let sharded = ShardPlan::new(shard, start, &plan.config.sweep)
            .map_err(|message| Failure::Config(format!("{}: {message}", file.display())))?;
        plan.shard = Some(sharded);
    }
    let resume = match &args.resume {
        Some(dir) => Some((dir.clone(), load_resumable(dir, &plan)?)),
        None => None,
    };
    let outcome = run_plan(plan, &args, resume).await?;
    Ok(exit_code(&outcome))
}

/// `llmsweep check`: every preflight check of every engine, one table; exit 1 when an
/// engine has a hard failure. A key variable that is unset is a warning here, not the
/// config error `run` makes of it.
async fn check_command(args: CheckArgs) -> Result<i32, Failure> {
    let (config, file) = load_config(args.config.as_ref(), Vec::new())?;
    let lookup = |var: &str| std::env::var(var).ok();
    let checks = crate::preflight::check_config(config, &lookup)
        .await
        .map_err(|message| Failure::Config(format!("{}: {message}", file.display())))?;
    let mut out = std::io::stdout();
    let _ = write!(out, "{}", crate::preflight::table::render(&checks));
    let _ = out.flush();
    Ok(crate::preflight::exit_code(&checks))
}

/// The saved report of the run in `dir`, if this plan can continue it.
fn load_resumable(dir: &Path, plan: &Plan) -> Result<Report, Failure> {
    let fail = |what: String| Failure::Config(format!("--resume {}: {what}", dir.display()));
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let saved = Report::from_json(&text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    if !dir.join("requests.jsonl").is_file() {
        return Err(fail("no requests.jsonl in the folder".into()));
    }
    match crate::results::resume::incompatibility(&saved, &plan.workload) {
        Some(difference) => Err(fail(difference)),
        None => Ok(saved),
    }
}

async fn demo_command(args: RunArgs) -> Result<i32, Failure> {
    if args.resume.is_some() {
        return Err(Failure::Config(
            "--resume works with `llmsweep run` only: the demo's simulated engines are new each time"
                .into(),
        ));
    }
    let (plan, servers) = crate::demo::start(args.overrides()).await?;
    let outcome = run_plan(plan, &args, None).await?;
    for server in servers {
        server.shutdown().await;
    }
    Ok(exit_code(&outcome))
}

/// 128 + the signal that ended the run; else 1 when an engine failed (its preflight, or it went
/// unreachable): the comparison asked for is missing it, as `llmsweep check` exits 1 for it;
/// else 0 (a quit or a skip by the user is not a failure). Failed engines get one line on
/// stderr, each named with its reason.
fn exit_code(outcome: &RunOutcome) -> i32 {
    if let Some(signal) = outcome.signal {
        return 128 + signal;
    }
    let failed: Vec<String> = outcome
        .report
        .engines
        .iter()
        .filter_map(|e| {
            let reason = e.skipped_reason.as_deref()?;
            crate::driver::is_engine_failure(reason).then(|| format!("{}: {reason}", e.name))
        })
        .collect();
    if failed.is_empty() {
        return 0;
    }
    eprintln!(
        "error: {} of {} engine(s) failed ({}); results: {}",
        failed.len(),
        outcome.report.engines.len(),
        failed.join("; "),
        outcome.out_dir.display()
    );
    1
}

/// `<name>-<UTC time>`, e.g. `demo-20261128T041500Z`.
fn run_name(prefix: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    format!("{prefix}-{}", now.format(&stamp).unwrap_or_default())
}

/// Runs a plan with the front end the terminal allows; results land in a new folder
/// `<out_dir>/<name>-<UTC time>/` (`-2`, `-3`, … when another run took that name in the same
/// second), or, resuming, in the saved run's folder.
pub async fn run_plan(
    plan: Plan,
    args: &RunArgs,
    resume: Option<(PathBuf, Report)>,
) -> anyhow::Result<RunOutcome> {
    let (out_dir, run_name, resume) = match resume {
        Some((dir, saved)) => (dir, saved.run_name.clone(), Some(saved)),
        // Every shard of the run has the same name, from the common start time; each its
        // own folder.
        None if plan.shard.is_some() => {
            let shard = plan.shard.expect("checked");
            let name = format!("{}-{}", plan.config.run.name, stamp(shard.timeline.start));
            let parent = &plan.config.run.out_dir;
            let dir = parent.join(shard.shard.folder_name(&name));
            std::fs::create_dir_all(parent)
                .and_then(|()| std::fs::create_dir(&dir))
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                        "{} exists: shard {} of this run ran there already (or two shards share an index)",
                        dir.display(),
                        shard.shard
                    ),
                    _ => anyhow::anyhow!("cannot create the results folder {}: {e}", dir.display()),
                })?;
            (dir, name, None)
        }
        None => {
            let parent = &plan.config.run.out_dir;
            let (dir, name) =
                crate::results::writer::create_run_dir(parent, &run_name(&plan.config.run.name))
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot create a results folder in {}: {e}",
                            parent.display()
                        )
                    })?;
            (dir, name, None)
        }
    };
    let (events_tx, events_rx) = mpsc::channel(1024);
    let (control_tx, control_rx) = mpsc::channel(64);
    // `--metrics-listen`: bound before the run starts, so a bad address fails at once.
    let live = match &args.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr.as_str())
                .await
                .map_err(|e| anyhow::anyhow!("--metrics-listen {addr}: cannot listen: {e}"))?;
            let live = Arc::new(crate::live_metrics::LiveMetrics::new());
            let served = live.clone();
            // Serves until the process exits (a scrape right after the run still answers).
            tokio::spawn(async move {
                let _ =
                    crate::live_metrics::serve::run(listener, served, std::future::pending()).await;
            });
            Some(live)
        }
        None => None,
    };
    let signal = Arc::new(AtomicI32::new(0));
    let (signalled_tx, mut signalled) = watch::channel(0);
    spawn_signal_handler(signal.clone(), control_tx.clone(), signalled_tx)?;
    let results_dir = out_dir.clone();
    let driver = tokio::spawn(driver::run(
        plan,
        RunOptions {
            out_dir,
            run_name,
            events: events_tx,
            control: control_rx,
            signal,
            resume,
            check: !args.no_check,
            live: live.clone(),
        },
    ));
    let dumb_terminal = std::env::var("TERM")
        .map(|t| t == "dumb" || t.is_empty())
        .unwrap_or(true);
    let dashboard =
        !args.headless && !args.sharded() && std::io::stdout().is_terminal() && !dumb_terminal;
    if dashboard {
        let options = TuiOptions {
            exit_on_finish: args.exit_on_finish,
        };
        // A signal closes the dashboard at once (dropping it restores the terminal): after an
        // SSH drop there is no screen to draw on, and the driver writes results regardless.
        let any_signal = async {
            if signalled.wait_for(|&n| n != 0).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let dashboard_result = tokio::select! {
            result = crate::tui::run(events_rx, control_tx.clone(), options) => result,
            () = any_signal => Ok(()),
        };
        if let Err(e) = dashboard_result {
            // The dashboard could not run: stop cleanly; everything measured is still written.
            let _ = control_tx.send(Control::Abort).await;
            eprintln!("error: the dashboard failed ({e:#}); stopping the run and writing results");
        }
    } else {
        crate::headless::run(events_rx, std::io::stdout()).await;
    }
    drop(control_tx);
    // A driver that died (a bug) or could not write its results (disk full, folder removed)
    // left a results.json that still says `running`: mark it failed, keeping every level.
    let outcome = match driver.await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => return Err(failed_run(&results_dir, format!("writing results: {e}"))),
        Err(e) => {
            return Err(failed_run(
                &results_dir,
                format!("the sweep driver failed: {e}"),
            ))
        }
    };
    if args.vllm_json {
        // results.json is safe already: a failed export is a warning, not a lost run.
        if let Err(e) = crate::report::write_vllm(&outcome.out_dir, &outcome.out_dir, true) {
            eprintln!("warning: --vllm-json: {e:#}");
        }
    }
    if dashboard {
        // The terminal may be gone (SSH drop): a failed print must not lose the exit code.
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "{}\nresults: {}",
            crate::tui::summary_table(&outcome.report),
            outcome.out_dir.display()
        );
    }
    Ok(outcome)
}

/// Marks the run in `dir` failed because of `why`; the one-line error to show.
fn failed_run(dir: &Path, why: String) -> anyhow::Error {
    let now = crate::results::model::now_rfc3339();
    match crate::results::writer::mark_failed(dir, now, &why) {
        Ok(()) => anyhow::anyhow!(
            "{why}; the levels saved before are kept in {}, marked failed",
            dir.display()
        ),
        Err(write) => anyhow::anyhow!("{why}; and marking the results failed: {write}"),
    }
}

/// SIGINT, SIGTERM and SIGHUP (an SSH drop) all abort the run cleanly: the driver cancels
/// what is in flight and writes every result. The signal number decides the exit code.
fn spawn_signal_handler(
    signal: Arc<AtomicI32>,
    control: mpsc::Sender<Control>,
    signalled: watch::Sender<i32>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal as listen, SignalKind};
    let mut interrupt = listen(SignalKind::interrupt())?;
    let mut terminate = listen(SignalKind::terminate())?;
    let mut hangup = listen(SignalKind::hangup())?;
    // Never returns: once tokio owns these signals their default action is gone, so this task
    // must keep answering them for the life of the process.
    tokio::spawn(async move {
        loop {
            let number = tokio::select! {
                _ = interrupt.recv() => 2,
                _ = terminate.recv() => 15,
                _ = hangup.recv() => 1,
            };
            let _ = signal.compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst);
            signalled.send_replace(number);
            // The driver may already be done; nothing else to stop then.
            let _ = control.try_send(Control::Abort);
        }
    });
    Ok(())
}

async fn sim_command(args: SimArgs) -> Result<i32, Failure> {
    if args.list_profiles {
        for profile in Profile::all() {
            println!("{:<14} {}", profile.name, profile.about);
        }
        return Ok(0);
    }
    let profile = Profile::by_name(&args.profile).ok_or_else(|| {
        let names: Vec<&str> = Profile::all().iter().map(|p| p.name).collect();
        Failure::Config(format!(
            "--profile: unknown profile {:?} (one of {})",
            args.profile,
            names.join(", ")
        ))
    })?;
    let profile = Profile {
        reasoning_tokens: args.reasoning_tokens,
        prefix_cache: args.prefix_cache,
        ..profile
    };
    let rates = [
        ("--error-rate", args.error_rate),
        ("--drop-rate", args.drop_rate),
        ("--malformed-rate", args.malformed_rate),
        ("--in-stream-error-rate", args.in_stream_error_rate),
        (
            "--reset-before-headers-rate",
            args.reset_before_headers_rate,
        ),
        ("--non-sse-rate", args.non_sse_rate),
    ];
    for (flag, rate) in rates {
        if !(0.0..=1.0).contains(&rate) {
            return Err(Failure::Config(format!(
                "{flag} must be between 0 and 1, got {rate}"
            )));
        }
    }
    let faults = Faults {
        error_rate: args.error_rate,
        error_status: args.error_status,
        drop_after_tokens: args.drop_after_tokens,
        drop_rate: args.drop_rate,
        malformed_rate: args.malformed_rate,
        stall_after_tokens: args.stall_after_tokens,
        stall_ms: args.stall_ms,
        first_byte_delay_ms: args.first_byte_delay_ms,
        no_usage: args.no_usage,
        in_stream_error_rate: args.in_stream_error_rate,
        reset_before_headers_rate: args.reset_before_headers_rate,
        non_sse_rate: args.non_sse_rate,
        huge_event_bytes: args.huge_event_bytes,
        events_per_write: args.events_per_write,
    };
    if let Some(path) = &args.timing_log {
        // Refuse before announcing the server; it opens (truncates) the file again to write.
        std::fs::File::create(path)
            .map_err(|e| Failure::Config(format!("--timing-log {}: {e}", path.display())))?;
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| {
            Failure::Other(anyhow::anyhow!(
                "cannot listen on 127.0.0.1:{}: {e}",
                args.port
            ))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Other(e.into()))?;
    println!(
        "llmsweep sim: SIMULATED engine, profile {} — http://{addr}/v1/chat/completions (Ctrl-C or SIGTERM stops)",
        profile.name
    );
    for _ in 0..args.spin_threads {
        // Detached: the process exit ends them.
        std::thread::Builder::new()
            .name("llmsweep-sim-spin".into())
            .spawn(spin)
            .map_err(|e| Failure::Other(e.into()))?;
    }
    // Ctrl-C or SIGTERM (`kill`, `docker stop`) stop it cleanly: open streams end and the
    // timing log is flushed.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::Other(e.into()))?;
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    };
    sim::run(
        listener,
        SimConfig {
            profile,
            faults,
            seed: args.seed,
            timing_log: args.timing_log.clone(),
        },
        shutdown,
    )
    .await
    .map_err(|e| Failure::Other(e.into()))?;
    Ok(0)
}

/// Burns a core until the process exits (`sim --spin-threads`).
fn spin() {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn report_command(args: ReportArgs) -> Result<i32, Failure> {
    let options = ExportOptions {
        extended: args.chart == ChartArg::Extended,
        svg: args.svg,
    };
    let mut written =
        crate::report::run_report_command(&args.inputs, args.out.as_deref(), &options)?;
    if args.vllm_json {
        for input in &args.inputs {
            let run_dir = if input.is_dir() {
                input.clone()
            } else {
                input.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            let out = args.out.clone().unwrap_or_else(|| run_dir.clone());
            written.extend(crate::report::write_vllm(
                &run_dir,
                &out,
                args.vllm_detailed,
            )?);
        }
    }
    for path in written {
        println!("{}", path.display());
    }
    Ok(0)
}

/// `llmsweep merge`: the shards' folders → one run folder with every export.
fn merge_command(args: MergeArgs) -> Result<i32, Failure> {
    let options = ExportOptions {
        extended: args.chart == ChartArg::Extended,
        svg: args.svg,
    };
    let merged = crate::shard::merge::merge_dirs(&args.inputs, args.partial)
        .map_err(|e| Failure::Config(e.to_string()))?;
    let written = crate::shard::merge::write(&merged, &args.out, &options)?;
    println!("{}", merged.summary_line());
    for path in written {
        println!("{}", path.display());
    }
    Ok(0)
}

/// Writes `bytes` to stdout (a closed pipe, as with `| head`, is not an error worth a panic).
fn print_bytes(bytes: &[u8]) -> Result<i32, Failure> {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::results::model::{EngineReport, Report};

    fn outcome(reasons: &[Option<&str>], signal: Option<i32>) -> RunOutcome {
        let engines = reasons
            .iter()
            .enumerate()
            .map(|(i, reason)| EngineReport {
                name: format!("e{i}"),
                skipped_reason: reason.map(str::to_string),
                ..EngineReport::default()
            })
            .collect();
        RunOutcome {
            report: Arc::new(Report {
                engines,
                ..Report::default()
            }),
            out_dir: PathBuf::from("out"),
            signal,
        }
    }

    #[test]
    fn a_run_exits_1_when_an_engine_failed_and_a_signal_wins_over_it() {
        assert_eq!(exit_code(&outcome(&[None, None], None)), 0);
        // The user's choices are not failures.
        assert_eq!(
            exit_code(&outcome(&[Some("skipped by the user"), None], None)),
            0
        );
        assert_eq!(
            exit_code(&outcome(&[Some("not run: the run was quit")], None)),
            0
        );
        assert_eq!(
            exit_code(&outcome(&[None, Some("engine unreachable: refused")], None)),
            1
        );
        assert_eq!(
            exit_code(&outcome(&[Some("preflight: stream: HTTP 404")], None)),
            1
        );
        assert_eq!(
            exit_code(&outcome(&[Some("preflight: stream: HTTP 404")], Some(2))),
            130
        );
    }
}
