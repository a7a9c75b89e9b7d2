//! The sweep: engines × levels in run order, each level run by `level` (warmup, measured
//! phase, summary); controls between levels; results written after every level and at the
//! end, whatever ends the run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::preflight::Preflight;
use super::repeats::{planned_repeat, RepeatWatch, REPEAT_WARNING};
use super::slots::{Reached, SlotTimes};
use crate::client::openai::ClientSpec;
use crate::client::{EngineClient, Timeouts};
use crate::config::ChartKindConfig;
use crate::events::{Control, Event, RunState};
use crate::host::sampler::Targets;
use crate::live_metrics::LiveMetrics;
use crate::metrics::fairness::{cached_fraction_warning, output_length_warning};
use crate::plan::Plan;
use crate::report::ExportOptions;
use crate::results::model::{
    now_rfc3339, EngineReport, LevelStatus, LevelSummary, Report, RunStatus, SCHEMA_VERSION,
};
use crate::results::resume;
use crate::results::shard::ShardInfo;
use crate::results::writer::ResultsWriter;
use crate::server_metrics::log::MetricsLog;
use crate::server_metrics::scraper::Scraper;
use crate::shard::clock::ClockInfo;
use crate::shard::timeline::rfc3339;
use crate::stats::verdict::verdicts;

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
    /// Run the preflight checks before each engine's first level (`run --no-check`: false).
    pub check: bool,
    /// `--metrics-listen`: the live registry the endpoint serves; `None` when off.
    pub live: Option<Arc<LiveMetrics>>,
}

/// How the run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: Arc<Report>,
    pub out_dir: PathBuf,
    /// Signal number that ended the run, if one did.
    pub signal: Option<i32>,
}

/// How an engine's `skipped_reason` begins when it went down mid-run.
const UNREACHABLE: &str = "engine unreachable: ";

/// An engine's `skipped_reason` that is the engine's failure (a hard preflight check, or
/// unreachable mid-run), not the user's skip or a run cut short.
pub fn is_engine_failure(reason: &str) -> bool {
    reason.starts_with(crate::preflight::SKIP_PREFIX) || reason.starts_with(UNREACHABLE)
}

/// What the sweep loop keeps between steps.
pub(super) struct Gate {
    /// Per engine: skipped by the user, or failed its preflight.
    pub skipped: Vec<bool>,
    /// Per engine: checked already (or not to be: `--no-check`).
    pub checked: Vec<bool>,
    /// Per engine, the level indexes kept from the resumed run as they are.
    pub kept: Vec<Vec<usize>>,
    /// (engine, level index) → the trial a skip cut it in.
    pub cut: HashMap<(usize, usize), u32>,
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The level's trial ran (maybe cut short).
    Ran,
    /// Not run: kept, cut earlier, or its engine is skipped.
    Passed,
    /// The run is stopping.
    Stop,
}

/// What ends a level loop early, beyond the level itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Stops {
    /// Cancel the level in progress (skip, skip engine, abort).
    pub level: bool,
    pub engine: bool,
    pub run: bool,
}

pub(super) struct Driver {
    pub plan: Arc<Plan>,
    pub clients: Vec<EngineClient>,
    pub events: mpsc::Sender<Event>,
    pub control: mpsc::Receiver<Control>,
    /// False once every front end has gone: stop polling the channel.
    pub control_open: bool,
    /// Whether the user paused the run; workers wait on it before each send.
    pub paused: watch::Sender<bool>,
    pub stops: Stops,
    pub writer: ResultsWriter,
    pub report: Report,
    /// Per engine, the level index of each entry of `report.engines[e].levels`.
    pub level_indexes: Vec<Vec<usize>>,
    /// Per engine, the saved `skipped` levels of a resumed run: kept until their re-run ends.
    pub pending: Vec<Vec<usize>>,
    /// Scrapes the engines' `/metrics` and the GPUs during levels.
    pub scraper: Scraper,
    /// Per engine, where its metrics are scraped; `None` when off (or not found by the
    /// preflight).
    pub metrics_urls: Vec<Option<String>>,
    /// Preflight checks before each engine's first level.
    pub check: bool,
    /// The run's levels: the configured list, or with `levels = "auto"` every level any
    /// engine's search has run so far, in the order each first ran (`level_index` is a
    /// position here, and `report.workload.levels` a copy).
    pub levels: Vec<f64>,
    /// The trial being measured, 1-based.
    pub trial: u32,
    /// `levels = "auto"`: the search state of the level being measured, for the screen.
    pub search_state: Option<String>,
    /// Per (engine, level index), the trials measured so far in this run.
    pub trial_runs: HashMap<(usize, usize), Vec<LevelSummary>>,
    /// Where each engine's URL points, for the host sampler (decided once per run).
    pub host_targets: Arc<Targets>,
    /// Shard mode: the times of the level about to run, set by `step` once its slot came.
    pub slot: Option<SlotTimes>,
    /// `--metrics-listen`: every measured request and the in-flight gauge go here too.
    pub live: Option<Arc<LiveMetrics>>,
    /// Watches for a prompt reaching an engine twice with `[prompts] cache` unset.
    pub repeats: RepeatWatch,
    signal: Arc<AtomicI32>,
}

/// Runs the whole sweep. Errors only when the results folder cannot be written.
pub async fn run(mut plan: Plan, options: RunOptions) -> std::io::Result<RunOutcome> {
    let resumes = options
        .resume
        .as_ref()
        .map_or(0, |r| r.resumed_at.len() + 1);
    plan.bust_nonce = crate::workload::cache::run_nonce(&options.run_name, resumes);
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
                server_metrics_schema: None,
                search: None,
                short_name: e.short_name.clone(),
            })
            .collect(),
        config: plan.config_json(),
        warnings: Vec::new(),
        verdicts: Vec::new(),
        shard: plan.shard.map(|s| ShardInfo {
            index: s.shard.index,
            count: s.shard.count,
            start_at: rfc3339(s.timeline.start),
            slot_s: (s.timeline.warmup + s.timeline.duration + s.timeline.settle).as_secs_f64(),
            clock: ClockInfo::read(),
            slots: Vec::new(),
        }),
        merged: None,
    };
    // Shard mode: one shard (0) scrapes the engines' /metrics and the GPUs; N scrapers
    // would say the same N times.
    let scrapes = plan.shard.is_none_or(|s| s.shard.index == 0);
    let (mut writer, level_indexes, pending) = match options.resume {
        Some(saved) => {
            let continuation = resume::continue_run(&mut report, saved, now_rfc3339());
            let names: Vec<&str> = plan.engines.iter().map(|e| e.name.as_str()).collect();
            let levels = &plan.workload.levels;
            let keep = |line: &str| continuation.keeps_line(line, &names, levels);
            let writer = ResultsWriter::resume(&options.out_dir, keep)?;
            (writer, continuation.levels, continuation.pending)
        }
        None => (
            ResultsWriter::create(&options.out_dir)?,
            vec![Vec::new(); plan.engines.len()],
            vec![Vec::new(); plan.engines.len()],
        ),
    };
    // Known before the run: said at its start. Otherwise watched for as requests go out.
    let repeat_planned = planned_repeat(&plan);
    if repeat_planned && !report.warnings.iter().any(|w| w == REPEAT_WARNING) {
        report.warnings.push(REPEAT_WARNING.into());
    }
    // Said already (at the start, or by the run resumed): not again.
    let said = report.warnings.iter().any(|w| w == REPEAT_WARNING);
    let repeats = RepeatWatch::new(
        plan.engines.len(),
        plan.prompts.len(),
        plan.config.prompts.cache.is_none() && !said,
    );
    writer.write_report(&report)?;
    let metrics = &plan.config.metrics;
    let scraper = Scraper::new(
        Duration::from_millis(metrics.interval_ms),
        Duration::from_millis(metrics.timeout_ms),
        plan.config
            .gpus
            .iter()
            .filter(|_| scrapes)
            .map(|g| g.metrics_url.clone())
            .collect(),
        MetricsLog::new(writer.dir()),
        options.events.clone(),
    );
    let metrics_urls = plan
        .config
        .engines
        .iter()
        .map(|e| e.metrics_endpoint().filter(|_| scrapes))
        .collect();
    let levels = plan.workload.levels.clone();
    let names = plan.engines.iter().map(|e| e.name.clone()).collect();
    let urls: Vec<String> = plan.engines.iter().map(|e| e.url.clone()).collect();
    // Host names are resolved: off the runtime.
    let host_targets = tokio::task::spawn_blocking(move || Targets::locate(names, &urls))
        .await
        .map_err(std::io::Error::other)?;
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
        pending,
        scraper,
        metrics_urls,
        check: options.check,
        levels,
        trial: 1,
        search_state: None,
        trial_runs: HashMap::new(),
        host_targets: Arc::new(host_targets),
        slot: None,
        live: options.live,
        repeats,
        signal: options.signal,
    };
    driver.run().await
}

impl Driver {
    /// Which exports the run writes (`[run] chart`, `[run] svg`).
    pub(super) fn export_options(&self) -> ExportOptions {
        ExportOptions {
            extended: self.plan.config.run.chart == ChartKindConfig::Extended,
            svg: self.plan.config.run.svg,
        }
    }

    pub(super) async fn emit(&self, event: Event) {
        // A front end that has gone must not stop the measurement.
        let _ = self.events.send(event).await;
    }

    async fn run(mut self) -> std::io::Result<RunOutcome> {
        if let Some(live) = &self.live {
            let names: Vec<String> = self.plan.engines.iter().map(|e| e.name.clone()).collect();
            live.set_run(&self.report.run_name, &names);
        }
        self.emit(Event::RunStarted {
            report: Arc::new(self.report.clone()),
        })
        .await;
        self.emit(Event::State(RunState::Running)).await;
        if self.report.warnings.iter().any(|w| w == REPEAT_WARNING) {
            self.emit(Event::Warning {
                engine: None,
                text: REPEAT_WARNING.into(),
            })
            .await;
        }
        let mut gate = Gate {
            skipped: vec![false; self.plan.engines.len()],
            checked: vec![!self.check; self.plan.engines.len()],
            kept: (0..self.plan.engines.len())
                .map(|e| {
                    self.level_indexes[e]
                        .iter()
                        .copied()
                        .filter(|i| !self.pending[e].contains(i))
                        .collect()
                })
                .collect(),
            cut: HashMap::new(),
        };
        if self.plan.config.sweep.levels.is_auto() {
            self.run_auto(&mut gate).await?;
        } else {
            if self.plan.shard.is_some() {
                // Every engine's checks before the first slot, so none eats into a window.
                for engine in 0..self.plan.engines.len() {
                    if self.check_engine(&mut gate, engine).await? == Some(Step::Stop) {
                        return self.finish().await;
                    }
                }
            }
            for (step, (engine, level_index, trial)) in
                self.plan.run_order().into_iter().enumerate()
            {
                let step = step as u32;
                if self
                    .step(&mut gate, step, engine, level_index, trial)
                    .await?
                    == Step::Stop
                {
                    break;
                }
            }
        }
        self.finish().await
    }

    /// Runs trial `trial` of level `level_index` on `engine` unless the level is kept from
    /// the resumed run, was cut in an earlier trial, or the engine is skipped; applies the
    /// controls that came in between levels, and the engine's preflight before its first.
    pub(super) async fn step(
        &mut self,
        gate: &mut Gate,
        step: u32,
        engine: usize,
        level_index: usize,
        trial: u32,
    ) -> std::io::Result<Step> {
        if gate.kept[engine].contains(&level_index)
            || gate
                .cut
                .get(&(engine, level_index))
                .is_some_and(|&t| t < trial)
        {
            return Ok(Step::Passed);
        }
        self.drain_controls().await;
        if self.stops.run {
            return Ok(Step::Stop);
        }
        gate.skipped[engine] |= std::mem::take(&mut self.stops.engine);
        if gate.skipped[engine] {
            self.report.engines[engine]
                .skipped_reason
                .get_or_insert_with(|| "skipped by the user".into());
            return Ok(Step::Passed);
        }
        if let Some(step) = self.check_engine(gate, engine).await? {
            return Ok(step);
        }
        self.trial = trial;
        if let Some(plan) = self.plan.shard {
            match self.reach_slot(step, engine, level_index).await {
                Reached::Run(times) => self.slot = Some(times),
                Reached::Missed => {
                    let reason =
                        format!("missed: shard {} reached it after its window", plan.shard);
                    self.keep_unmeasured(engine, level_index, reason).await?;
                    return Ok(Step::Ran);
                }
                Reached::Stop => return Ok(Step::Stop),
            }
        }
        let cut = self.run_level(engine, level_index).await?;
        if cut {
            // A skip cuts the level: its later trials are not run.
            gate.cut.insert((engine, level_index), trial);
        }
        gate.skipped[engine] |= std::mem::take(&mut self.stops.engine);
        Ok(Step::Ran)
    }

    /// The engine's preflight, unless it ran already: `Some` when the step ends here (the
    /// engine failed its checks or was skipped meanwhile: `Passed`; a quit: `Stop`).
    pub(super) async fn check_engine(
        &mut self,
        gate: &mut Gate,
        engine: usize,
    ) -> std::io::Result<Option<Step>> {
        if gate.checked[engine] {
            return Ok(None);
        }
        Ok(match self.preflight(engine).await? {
            Preflight::Go => {
                gate.checked[engine] = true;
                None
            }
            Preflight::Failed => {
                gate.skipped[engine] = true;
                Some(Step::Passed)
            }
            Preflight::Stopped if self.stops.run => Some(Step::Stop),
            Preflight::Stopped => {
                self.stops.engine = false;
                gate.skipped[engine] = true;
                self.report.engines[engine].skipped_reason = Some("skipped by the user".into());
                Some(Step::Passed)
            }
        })
    }

    /// Applies controls that arrived between levels.
    async fn drain_controls(&mut self) {
        while self.control_open {
            match self.control.try_recv() {
                Ok(control) => self.apply(control, None).await,
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.control_open = false,
            }
        }
    }

    /// A prompt reached `engine` a second time (with the cache unset): said once per run.
    pub(super) async fn sent_prompt(&mut self, engine: usize, prompt: usize) {
        if self.repeats.sent(engine, prompt) {
            self.report.warnings.push(REPEAT_WARNING.into());
            self.emit(Event::Warning {
                engine: None,
                text: REPEAT_WARNING.into(),
            })
            .await;
        }
    }

    /// The engine looks down: cut the level (kept, it will come out failed) and skip the
    /// engine's remaining levels, saying why.
    pub(super) async fn engine_unreachable(
        &mut self,
        engine: usize,
        example: &str,
        cancel: &CancellationToken,
    ) {
        let reason = format!("{UNREACHABLE}{example}");
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
    /// output-length and cached-fraction checks against other engines at the same level
    /// (recorded in the report; returned to be emitted as warnings).
    pub(super) fn after_level(&mut self, engine: usize, summary: &LevelSummary) -> Vec<String> {
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
        let this = (self.report.engines[engine].name.as_str(), summary);
        let texts: Vec<String> = output_length_warning(this, &others)
            .into_iter()
            .chain(cached_fraction_warning(this, &others))
            .collect();
        self.report.verdicts = verdicts(&self.report);
        self.report.warnings.extend(texts.iter().cloned());
        texts
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
        let options = self.export_options();
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
