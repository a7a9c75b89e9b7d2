//! The sweep: for each engine, for each level, a warmup then the measured requests; results
//! written after every level and at the end, whatever ends the run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::clock::ActiveClock;
use super::open_loop::{self, Schedule};
use super::worker::{self, WorkerCtx};
use crate::client::openai::ClientSpec;
use crate::client::{EngineClient, ErrorClass, Timeouts};
use crate::config::{ChartKindConfig, SweepMode};
use crate::events::{Control, Event, RunState, Snapshot};
use crate::metrics::fairness::output_length_warning;
use crate::metrics::health::HealthMonitor;
use crate::metrics::recorder::{LevelRecorder, RecorderOptions};
use crate::metrics::sample::RequestRecord;
use crate::plan::{mix, Plan};
use crate::report::ExportOptions;
use crate::results::model::{
    now_rfc3339, EngineReport, LevelStatus, LevelSummary, Report, RunStatus, SCHEMA_VERSION,
};
use crate::results::resume;
use crate::results::writer::ResultsWriter;

/// How often the recorder publishes a snapshot.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(250);

/// Consecutive connect failures (refused, or connect timeout) after which an engine is
/// taken as down: its level is cut and its remaining levels skipped.
pub const UNREACHABLE_AFTER: u32 = 5;

/// What a run needs besides the plan.
pub struct RunOptions {
    /// The results folder (created).
    pub out_dir: PathBuf,
    /// `<name>-<UTC time>`.
    pub run_name: String,
    pub events: mpsc::Sender<Event>,
    pub control: mpsc::Receiver<Control>,
    /// Set by the signal handler to the signal number before it sends `Control::Abort`.
    pub signal: Arc<AtomicI32>,
    /// `run --resume`: the saved report of the run continued in `out_dir`. Its complete and
    /// failed levels are kept as they are; the rest run again in full.
    pub resume: Option<Report>,
}

/// How the run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: Arc<Report>,
    pub out_dir: PathBuf,
    /// Signal number that ended the run, if one did.
    pub signal: Option<i32>,
}

/// What ends a level loop early, beyond the level itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Stops {
    /// Cancel the level in progress (skip, skip engine, abort).
    level: bool,
    engine: bool,
    run: bool,
}

struct Driver {
    plan: Arc<Plan>,
    clients: Vec<EngineClient>,
    events: mpsc::Sender<Event>,
    control: mpsc::Receiver<Control>,
    /// False once every front end has gone: stop polling the channel.
    control_open: bool,
    paused: watch::Sender<bool>,
    stops: Stops,
    writer: ResultsWriter,
    report: Report,
    /// Per engine, the level index of each entry of `report.engines[e].levels`.
    level_indexes: Vec<Vec<usize>>,
    signal: Arc<AtomicI32>,
}

/// Runs the whole sweep. Errors only when the results folder cannot be written.
pub async fn run(plan: Plan, options: RunOptions) -> std::io::Result<RunOutcome> {
    let max_level = plan.max_in_flight();
    let sweep = &plan.config.sweep;
    let timeouts = Timeouts {
        connect: Duration::from_secs_f64(sweep.connect_timeout_s),
        first_token: sweep.first_token_timeout_s.map(Duration::from_secs_f64),
        idle: sweep.idle_timeout_s.map(Duration::from_secs_f64),
        total: Duration::from_secs_f64(sweep.timeout_s),
    };
    let mut clients = Vec::new();
    for engine in &plan.engines {
        let client = EngineClient::new(ClientSpec {
            url: &engine.url,
            key: engine.key.clone(),
            headers: &engine.headers,
            timeouts,
            max_connections: max_level,
            max_tokens: plan.config.request.max_tokens,
        })
        .map_err(|e| std::io::Error::other(format!("engine {:?}: {e}", engine.name)))?;
        clients.push(client);
    }
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool: format!("llmsweep {}", env!("CARGO_PKG_VERSION")),
        run_name: options.run_name.clone(),
        started_at: now_rfc3339(),
        resumed_at: Vec::new(),
        finished_at: None,
        status: RunStatus::Running,
        simulated: plan.engines.iter().any(|e| e.simulated),
        seed: plan.seed,
        workload: plan.workload.clone(),
        engines: plan
            .engines
            .iter()
            .map(|e| EngineReport {
                name: e.name.clone(),
                url: e.url.clone(),
                model: e.model.clone(),
                api: e.api.as_str().into(),
                color: e.color.to_hex(),
                simulated: e.simulated,
                levels: Vec::new(),
                skipped_reason: None,
                max_level_meeting_slo: None,
            })
            .collect(),
        config: plan.config_json(),
        warnings: Vec::new(),
    };
    let (mut writer, level_indexes) = match options.resume {
        Some(saved) => {
            let kept = resume::continue_report(&mut report, saved, now_rfc3339());
            let names: Vec<&str> = plan.engines.iter().map(|e| e.name.as_str()).collect();
            let levels = &plan.config.sweep.levels;
            let keep = |line: &str| resume::keep_line(line, &names, levels, &kept);
            (ResultsWriter::resume(&options.out_dir, keep)?, kept)
        }
        None => (
            ResultsWriter::create(&options.out_dir)?,
            vec![Vec::new(); plan.engines.len()],
        ),
    };
    writer.write_report(&report)?;
    let driver = Driver {
        plan: Arc::new(plan),
        clients,
        events: options.events,
        control: options.control,
        control_open: true,
        paused: watch::channel(false).0,
        stops: Stops::default(),
        writer,
        report,
        level_indexes,
        signal: options.signal,
    };
    driver.run().await
}

impl Driver {
    async fn emit(&self, event: Event) {
        // A front end that has gone must not stop the measurement.
        let _ = self.events.send(event).await;
    }

    async fn run(mut self) -> std::io::Result<RunOutcome> {
        self.emit(Event::RunStarted {
            report: Arc::new(self.report.clone()),
        })
        .await;
        self.emit(Event::State(RunState::Running)).await;
        // A skip-engine applies to the engine of the level running, or, between levels, to the
        // engine of the next one; in interleaved order its later levels are passed over.
        let mut skipped = vec![false; self.plan.engines.len()];
        for (engine, level_index) in self.plan.run_order() {
            if self.level_indexes[engine].contains(&level_index) {
                continue; // Kept from the run resumed.
            }
            self.drain_controls().await;
            if self.stops.run {
                break;
            }
            skipped[engine] |= std::mem::take(&mut self.stops.engine);
            if skipped[engine] {
                self.report.engines[engine]
                    .skipped_reason
                    .get_or_insert_with(|| "skipped by the user".into());
                continue;
            }
            self.run_level(engine, level_index).await?;
            skipped[engine] |= std::mem::take(&mut self.stops.engine);
        }
        self.finish().await
    }

    /// Applies controls that arrived between levels.
    async fn drain_controls(&mut self) {
        while self.control_open {
            match self.control.try_recv() {
                Ok(control) => self.apply(control, None, None).await,
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.control_open = false,
            }
        }
    }

    /// Applies one control. `cancel` and `clock` are the level's, when one is running.
    async fn apply(
        &mut self,
        control: Control,
        cancel: Option<&CancellationToken>,
        clock: Option<&mut ActiveClock>,
    ) {
        let paused = *self.paused.borrow();
        let control = match control {
            Control::TogglePause if paused => Control::Resume,
            Control::TogglePause => Control::Pause,
            other => other,
        };
        match control {
            Control::Pause if !paused => {
                self.paused.send_replace(true);
                if let Some(clock) = clock {
                    clock.pause();
                }
                self.emit(Event::State(RunState::Paused)).await;
            }
            Control::Resume if paused => {
                self.paused.send_replace(false);
                if let Some(clock) = clock {
                    clock.resume();
                }
                self.emit(Event::State(RunState::Running)).await;
            }
            Control::SkipLevel | Control::SkipEngine | Control::Abort => {
                let state = if control == Control::Abort {
                    RunState::Stopping
                } else {
                    RunState::Skipping
                };
                self.stops.engine |= control != Control::SkipLevel;
                self.stops.run |= control == Control::Abort;
                if let Some(cancel) = cancel {
                    self.stops.level = true;
                    cancel.cancel();
                }
                // Pausing must not hold a skip or quit hostage: release the workers.
                if paused {
                    self.paused.send_replace(false);
                }
                if cancel.is_some() || control == Control::Abort {
                    self.emit(Event::State(state)).await;
                }
            }
            Control::Pause | Control::Resume | Control::TogglePause => {}
        }
    }

    async fn run_level(&mut self, engine: usize, level_index: usize) -> std::io::Result<()> {
        let concurrency = self.plan.concurrency(level_index);
        let level = self.plan.config.sweep.levels[level_index];
        let warmup = self.plan.config.sweep.warmup_requests;
        if warmup > 0 {
            self.phase(engine, level_index, concurrency, warmup, true)
                .await?;
            if self.stops.level {
                // Cut during warmup: nothing measured, nothing to keep. After a quit the
                // run is stopping, not running again.
                self.stops.level = false;
                if !self.stops.run {
                    self.emit(Event::State(RunState::Running)).await;
                }
                return Ok(());
            }
        }
        // Time-bound levels have no count: `u64::MAX` in the phase, 0 ("unknown") on the bus.
        let planned = self.plan.request_limit().unwrap_or(u64::MAX);
        self.emit(Event::LevelStarted {
            engine,
            level_index,
            level,
            planned: self.plan.request_limit().unwrap_or(0),
        })
        .await;
        let health = HealthMonitor::start();
        let (recorder, duration_s) = self
            .phase(engine, level_index, concurrency, planned, false)
            .await?;
        let health = health.finish().await;
        let cut_short = self.stops.level;
        self.stops.level = false;
        let sweep = &self.plan.config.sweep;
        let max_concurrency = match sweep.mode {
            SweepMode::Concurrency => concurrency,
            SweepMode::Rate => sweep.max_concurrency,
        };
        let mut summary = recorder.summary(level, max_concurrency, duration_s, cut_short);
        health.apply(&mut summary);
        let label = match sweep.mode {
            SweepMode::Concurrency => format!("C={concurrency}"),
            SweepMode::Rate => format!("{level} req/s"),
        };
        if let Some(text) = health.warning(&label) {
            self.report
                .warnings
                .push(format!("{}: {text}", self.plan.engines[engine].name));
            self.emit(Event::Warning {
                engine: Some(engine),
                text,
            })
            .await;
        }
        let at = self.level_indexes[engine].partition_point(|&i| i < level_index);
        self.level_indexes[engine].insert(at, level_index);
        self.report.engines[engine]
            .levels
            .insert(at, summary.clone());
        let warning = self.after_level(engine, &summary);
        self.writer.write_report(&self.report)?;
        if let Some(text) = warning {
            self.emit(Event::Warning {
                engine: Some(engine),
                text,
            })
            .await;
        }
        self.emit(Event::LevelFinished {
            engine,
            level_index,
            summary: Arc::new(summary),
        })
        .await;
        if cut_short && !self.stops.run {
            let state = if *self.paused.borrow() {
                RunState::Paused
            } else {
                RunState::Running
            };
            self.emit(Event::State(state)).await;
        }
        Ok(())
    }

    /// Runs `planned` requests at `concurrency` in flight. Returns the recorder and the
    /// measured duration in seconds (first send → last completion, paused time excluded).
    async fn phase(
        &mut self,
        engine: usize,
        level_index: usize,
        concurrency: u32,
        planned: u64,
        warmup: bool,
    ) -> std::io::Result<(LevelRecorder, f64)> {
        let cancel = CancellationToken::new();
        let stop_new = CancellationToken::new();
        let next = Arc::new(AtomicU64::new(0));
        let sweep = &self.plan.config.sweep;
        let rate_mode = sweep.mode == SweepMode::Rate;
        let workers_count = if rate_mode {
            1
        } else {
            (concurrency as u64).min(planned) as usize
        };
        let channel = (workers_count.max(self.plan.max_in_flight().min(4096))) * 2 + 16;
        let (samples_tx, mut samples) = mpsc::channel(channel);
        let mut clock = ActiveClock::start(*self.paused.borrow());
        let duration = (!warmup)
            .then_some(sweep.duration_s)
            .flatten()
            .map(Duration::from_secs_f64);
        let mut workers = JoinSet::new();
        let ctx = WorkerCtx {
            plan: self.plan.clone(),
            client: self.clients[engine].clone(),
            engine,
            level_index,
            planned,
            warmup,
            next: next.clone(),
            paused: self.paused.subscribe(),
            cancel: cancel.clone(),
            stop_new: stop_new.clone(),
            samples: samples_tx.clone(),
            started: clock.started(),
            id_prefix: format!(
                "{}-e{engine}-l{level_index}{}",
                self.report.run_name,
                if warmup { "-warmup" } else { "" }
            )
            .into(),
        };
        if rate_mode {
            let schedule = Schedule {
                rate: sweep.levels[level_index],
                burstiness: sweep.burstiness,
                // Per level, not per engine: every engine gets the same schedule.
                seed: self.plan.seed ^ mix(level_index as u64 + if warmup { 0x3A3A } else { 1 }),
                max_concurrency: sweep.max_concurrency,
                duration,
            };
            workers.spawn(open_loop::run(ctx, schedule));
        } else {
            for _ in 0..workers_count {
                workers.spawn(worker::run(ctx.clone()));
            }
            drop(ctx);
        }
        drop(samples_tx);
        let mut recorder = LevelRecorder::new(RecorderOptions {
            open_loop: rate_mode,
            slo: Some(self.plan.config.slo.clone()),
        });
        let mut last_completion = Duration::ZERO;
        let mut ticker = tokio::time::interval(SNAPSHOT_INTERVAL);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let level = self.plan.config.sweep.levels[level_index];
        let mut connect_failures = 0u32;
        loop {
            // Time-bound level: once active time is up no new request starts.
            let time_left = duration
                .filter(|_| !stop_new.is_cancelled())
                .map(|d| d.saturating_sub(clock.active()));
            if time_left == Some(Duration::ZERO) {
                stop_new.cancel();
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(time_left.unwrap_or_default()), if time_left.is_some() => {}
                sample = samples.recv() => {
                    let Some(sample) = sample else { break };
                    last_completion = clock.active();
                    match &sample.result {
                        Err(e) if matches!(e.class, ErrorClass::Connect | ErrorClass::TimeoutConnect) => {
                            connect_failures += 1;
                            if connect_failures == UNREACHABLE_AFTER && !self.stops.engine {
                                self.engine_unreachable(engine, &e.message, &cancel).await;
                            }
                        }
                        Err(e) if e.class == ErrorClass::Cancelled => {}
                        _ => connect_failures = 0,
                    }
                    if !warmup {
                        recorder.record(&sample, last_completion.as_millis() as u64);
                        let record = RequestRecord::new(&self.plan.engines[engine].name, level, level_index, &sample)
                            .with_prompt(self.plan.prompts.get(sample.prompt_index));
                        self.writer.append(&record)?;
                    }
                    // One write per burst of finished requests, and none left unwritten while
                    // the driver waits.
                    if samples.is_empty() {
                        self.writer.flush()?;
                    }
                }
                control = self.control.recv(), if self.control_open => match control {
                    Some(control) => self.apply(control, Some(&cancel), Some(&mut clock)).await,
                    None => self.control_open = false,
                },
                _ = ticker.tick(), if !warmup => {
                    let claimed = next.load(Ordering::Relaxed).min(planned);
                    let snapshot = Snapshot {
                        engine,
                        level_index,
                        in_flight: claimed.saturating_sub(recorder.finished()) as u32,
                        planned: self.plan.request_limit().unwrap_or(0),
                        ..recorder.snapshot(clock.active_ms())
                    };
                    // Snapshots may be dropped when a front end lags; lifecycle events never are.
                    let _ = self.events.try_send(Event::Snapshot(snapshot));
                }
            }
        }
        while workers.join_next().await.is_some() {}
        self.writer.flush()?;
        Ok((recorder, last_completion.as_secs_f64()))
    }

    /// The engine looks down: cut the level (kept, it will come out failed) and skip the
    /// engine's remaining levels, saying why.
    async fn engine_unreachable(
        &mut self,
        engine: usize,
        example: &str,
        cancel: &CancellationToken,
    ) {
        let reason = format!("engine unreachable: {example}");
        self.report.engines[engine].skipped_reason = Some(reason.clone());
        self.stops.level = true;
        self.stops.engine = true;
        cancel.cancel();
        self.emit(Event::Warning {
            engine: Some(engine),
            text: reason,
        })
        .await;
    }

    /// After a level is pushed: the engine's best level meeting the SLOs, and the
    /// output-length check against other engines at the same level (recorded in the report;
    /// returned to be emitted as a warning).
    fn after_level(&mut self, engine: usize, summary: &LevelSummary) -> Option<String> {
        let report = &mut self.report.engines[engine];
        report.max_level_meeting_slo = report
            .levels
            .iter()
            .filter(|l| l.meets_slo == Some(true) && l.status == LevelStatus::Complete)
            .map(|l| l.level)
            .reduce(f64::max);
        let others: Vec<(&str, &LevelSummary)> = self
            .report
            .engines
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != engine)
            .filter_map(|(_, e)| {
                let l = e.levels.iter().rev().find(|l| l.level == summary.level)?;
                Some((e.name.as_str(), l))
            })
            .collect();
        let text = output_length_warning((&self.report.engines[engine].name, summary), &others)?;
        self.report.warnings.push(text.clone());
        Some(text)
    }

    async fn finish(mut self) -> std::io::Result<RunOutcome> {
        let signal = match self.signal.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        };
        self.report.status = if signal.is_some() {
            RunStatus::Interrupted
        } else if self.stops.run {
            RunStatus::Aborted
        } else {
            RunStatus::Complete
        };
        if self.stops.run {
            // Say why an engine has fewer levels than planned when the run was cut short.
            let why = if signal.is_some() {
                "not run: the run was interrupted by a signal"
            } else {
                "not run: the run was quit"
            };
            let planned = self.plan.config.sweep.levels.len();
            for engine in &mut self.report.engines {
                if engine.levels.len() < planned && engine.skipped_reason.is_none() {
                    engine.skipped_reason = Some(why.to_string());
                }
            }
        }
        self.report.finished_at = Some(now_rfc3339());
        self.writer.write_report(&self.report)?;
        let report = Arc::new(self.report.clone());
        let out_dir = self.writer.dir().to_path_buf();
        // Chart, CSV and Markdown of what was measured; results.json is already safe, so a
        // failed export is a warning, not a lost run.
        let options = ExportOptions {
            extended: self.plan.config.run.chart == ChartKindConfig::Extended,
            svg: self.plan.config.run.svg,
        };
        let export = {
            let (report, dir) = (report.clone(), out_dir.clone());
            tokio::task::spawn_blocking(move || crate::report::write_all(&report, &dir, &options))
                .await
        };
        let failure = match export {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(text) = failure {
            self.emit(Event::Warning {
                engine: None,
                text: format!("could not write the chart/CSV/Markdown: {text}"),
            })
            .await;
        }
        self.emit(Event::State(RunState::Finished)).await;
        self.emit(Event::RunFinished {
            report: report.clone(),
            out_dir: out_dir.clone(),
        })
        .await;
        Ok(RunOutcome {
            report,
            out_dir,
            signal,
        })
    }
}
