//! Dashboard state and its pure update function: bus events, keys and ticks in, controls out.
//!
//! No I/O and no clocks live here: the runtime loop passes time in with [`Msg::Tick`], so every
//! state the dashboard can show is reachable from a test by feeding messages.

use std::path::PathBuf;
use std::sync::Arc;

use crate::events::{Control, EngineIdx, Event, RunState};
use crate::results::model::{Report, RunStatus};

use super::keys::KeyInput;
pub use super::state::{
    CurrentLevel, EnginePhase, EngineState, FinishedLevel, Msg, Status, View, Warning, KV_HISTORY,
};
use super::TuiOptions;

/// Table order: engines in config order, each engine's levels by level (an auto sweep runs
/// them out of order: 1, 2, 4, …, 64, then 24, 20). Stable, so ties keep their order.
fn sort_levels(levels: &mut [FinishedLevel]) {
    levels.sort_by(|a, b| {
        a.engine
            .cmp(&b.engine)
            .then(a.summary.level.total_cmp(&b.summary.level))
    });
}

/// Every level a report holds, as table rows, sorted.
fn finished_levels(report: &Report) -> Vec<FinishedLevel> {
    let mut rows: Vec<FinishedLevel> = report
        .engines
        .iter()
        .enumerate()
        .flat_map(|(engine, e)| {
            e.levels.iter().map(move |l| FinishedLevel {
                engine,
                summary: Arc::new(l.clone()),
            })
        })
        .collect();
    sort_levels(&mut rows);
    rows
}

/// All dashboard state.
#[derive(Debug, Clone)]
pub struct App {
    opts: TuiOptions,
    report: Option<Arc<Report>>,
    engines: Vec<EngineState>,
    current: Option<CurrentLevel>,
    levels: Vec<FinishedLevel>,
    /// The (engine, level) of the latest `LevelFinished`: the table keeps its row in view.
    newest: Option<(EngineIdx, f64)>,
    warning: Option<Warning>,
    /// The latest `e` export's outcome, shown in the status line until a newer warning.
    notice: Option<String>,
    run_state: Option<RunState>,
    finished: bool,
    out_dir: Option<PathBuf>,
    view: View,
    help: bool,
    confirm_quit: bool,
    abort_sent: bool,
    /// Ctrl-C was pressed and the loop has not raised SIGINT for it yet.
    interrupt: bool,
    exit: bool,
    dirty: bool,
    now_ms: Option<u64>,
    started_ms: Option<u64>,
    finished_ms: Option<u64>,
}

impl Default for App {
    fn default() -> Self {
        App::new(TuiOptions::default())
    }
}

impl App {
    /// An empty dashboard, dirty so the first frame draws.
    pub fn new(opts: TuiOptions) -> App {
        App {
            opts,
            report: None,
            engines: Vec::new(),
            current: None,
            levels: Vec::new(),
            newest: None,
            warning: None,
            notice: None,
            run_state: None,
            finished: false,
            out_dir: None,
            view: View::Sparklines,
            help: false,
            confirm_quit: false,
            abort_sent: false,
            interrupt: false,
            exit: false,
            dirty: true,
            now_ms: None,
            started_ms: None,
            finished_ms: None,
        }
    }

    /// Applies one message; returns the controls to send to the driver (in order).
    pub fn update(&mut self, msg: Msg) -> Vec<Control> {
        match msg {
            Msg::Event(event) => {
                self.on_event(event);
                Vec::new()
            }
            Msg::Key(key) => self.on_key(key),
            Msg::Tick { now_ms } => {
                self.on_tick(now_ms);
                Vec::new()
            }
            Msg::Resize => {
                self.dirty = true;
                Vec::new()
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        self.dirty = true;
        match event {
            Event::RunStarted { report } => {
                self.engines = (0..report.engines.len())
                    .map(|_| EngineState::new())
                    .collect();
                // A resumed run's kept levels are in the table from the start.
                self.levels = finished_levels(&report);
                self.newest = None;
                self.report = Some(report);
                self.current = None;
                self.run_state.get_or_insert(RunState::Running);
                self.started_ms = self.now_ms;
            }
            Event::LevelStarted {
                engine,
                level_index,
                level,
                planned,
                trial,
                trials,
                search,
            } => {
                for (idx, state) in self.engines.iter_mut().enumerate() {
                    if idx == engine {
                        state.phase = EnginePhase::Active;
                        // The panel's numbers are the new level's from now on.
                        state.last = None;
                        state.server = None;
                    } else if state.phase == EnginePhase::Active {
                        state.phase = EnginePhase::Finished;
                    }
                }
                self.current = Some(CurrentLevel {
                    engine,
                    level_index,
                    level,
                    planned,
                    trial,
                    trials,
                    search,
                    snapshot: None,
                    finished: false,
                });
            }
            Event::ServerSnapshot(server) => {
                let current = self.current.as_ref().is_some_and(|c| {
                    c.engine == server.engine && c.level_index == server.level_index
                });
                if let Some(state) = self.engines.get_mut(server.engine).filter(|_| current) {
                    if let Some(kv) = server.kv_usage {
                        if state.kv_history.len() == KV_HISTORY {
                            state.kv_history.pop_front();
                        }
                        state.kv_history.push_back(kv);
                    }
                    state.server = Some(server);
                }
            }
            Event::Snapshot(snapshot) => {
                if let Some(state) = self.engines.get_mut(snapshot.engine) {
                    // Before a level's first request finishes its numbers are all zero: that
                    // is "no data yet", not a drop to zero, so it stays out of the sparklines.
                    if snapshot.completed + snapshot.failed > 0 {
                        state.history.push(&snapshot);
                    }
                    state.last = Some(snapshot);
                }
                if let Some(current) = &mut self.current {
                    if current.engine == snapshot.engine
                        && current.level_index == snapshot.level_index
                    {
                        current.snapshot = Some(snapshot);
                        current.planned = snapshot.planned;
                    }
                }
            }
            Event::LevelFinished {
                engine,
                level_index,
                summary,
            } => {
                if let Some(current) = &mut self.current {
                    if current.engine == engine && current.level_index == level_index {
                        current.finished = true;
                    }
                }
                // Sent after every trial with the level's summary so far: replace its row.
                let level = summary.level;
                let row = FinishedLevel { engine, summary };
                match self.levels.iter_mut().find(|l| l.same_level(engine, level)) {
                    Some(old) => *old = row,
                    None => {
                        self.levels.push(row);
                        sort_levels(&mut self.levels);
                    }
                }
                self.newest = Some((engine, level));
            }
            Event::State(state) => {
                self.run_state = Some(state);
            }
            Event::Warning { engine, text } => {
                self.warning = Some(Warning { engine, text });
                // The status line shows the newest of the two.
                self.notice = None;
            }
            Event::Exported { result } => {
                self.notice = Some(crate::headless::exported_text(&result));
            }
            Event::RunFinished { report, out_dir } => {
                let interrupted = report.status == RunStatus::Interrupted;
                // The final report is authoritative: rebuild the table from it unless it holds
                // fewer levels than the events delivered.
                let rows = finished_levels(&report);
                if rows.len() >= self.levels.len() {
                    self.levels = rows;
                }
                // Nothing is running: the table shows its last rows, as after any run.
                self.newest = None;
                if self.engines.len() < report.engines.len() {
                    self.engines
                        .resize_with(report.engines.len(), EngineState::new);
                }
                for state in &mut self.engines {
                    if state.phase == EnginePhase::Active {
                        state.phase = EnginePhase::Finished;
                    }
                }
                self.report = Some(report);
                self.out_dir = Some(out_dir);
                self.current = None;
                self.run_state = Some(RunState::Finished);
                self.finished = true;
                self.confirm_quit = false;
                self.finished_ms = self.now_ms;
                // A signal (SIGTERM from a supervisor, SIGINT from `kill`) ends the process: do
                // not wait for a key that may never come.
                if self.opts.exit_on_finish || interrupted {
                    self.exit = true;
                }
            }
        }
    }

    fn on_key(&mut self, key: KeyInput) -> Vec<Control> {
        let was_dirty = self.dirty;
        self.dirty = true;
        if self.finished {
            // Tab still switches views (the compare view's chart, the detail table); any
            // other key closes the dashboard.
            if key == KeyInput::Tab {
                self.view = self.view.next();
            } else {
                self.exit = true;
            }
            return Vec::new();
        }
        if key == KeyInput::CtrlC {
            // Not an Abort: Ctrl-C means SIGINT (status `interrupted`, exit 130), which the
            // run loop raises; see [`App::take_interrupt`].
            self.confirm_quit = false;
            self.abort_sent = true;
            self.interrupt = true;
            return Vec::new();
        }
        if self.confirm_quit {
            match key {
                KeyInput::Char('y') => {
                    self.confirm_quit = false;
                    self.abort_sent = true;
                    return vec![Control::Abort];
                }
                KeyInput::Char('n') | KeyInput::Esc => self.confirm_quit = false,
                _ => self.dirty = was_dirty,
            }
            return Vec::new();
        }
        match key {
            KeyInput::Space | KeyInput::Char('p') => vec![Control::TogglePause],
            KeyInput::Char('s') => vec![Control::SkipLevel],
            KeyInput::Char('n') => vec![Control::SkipEngine],
            KeyInput::Char('q') => {
                if !self.abort_sent {
                    self.confirm_quit = true;
                }
                Vec::new()
            }
            KeyInput::Char('?') => {
                self.help = !self.help;
                Vec::new()
            }
            KeyInput::Char('e') => {
                self.notice = Some("exporting chart.png, levels.csv, summary.md …".into());
                vec![Control::Export]
            }
            KeyInput::Esc => {
                self.help = false;
                Vec::new()
            }
            KeyInput::Tab => {
                self.view = self.view.next();
                Vec::new()
            }
            _ => {
                self.dirty = was_dirty;
                Vec::new()
            }
        }
    }

    fn on_tick(&mut self, now_ms: u64) {
        let before = self.elapsed_ms().map(|ms| ms / 1000);
        self.now_ms = Some(now_ms);
        if self.report.is_some() && self.started_ms.is_none() {
            self.started_ms = Some(now_ms);
        }
        if self.elapsed_ms().map(|ms| ms / 1000) != before {
            self.dirty = true;
        }
    }

    /// True when the state changed since the last [`App::clear_dirty`]: the loop should redraw.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Marks the state as drawn.
    pub fn clear_dirty(&mut self) {
        self.dirty = false;
    }

    /// True once the dashboard should close: a key after `RunFinished`, or `RunFinished` itself
    /// with `exit_on_finish` or after a signal (status `interrupted`).
    pub fn should_exit(&self) -> bool {
        self.exit
    }

    /// True once after Ctrl-C during the run: raw mode delivers Ctrl-C as a key, and the loop
    /// must turn it back into the SIGINT it is on a cooked terminal.
    pub fn take_interrupt(&mut self) -> bool {
        std::mem::take(&mut self.interrupt)
    }

    /// True once `RunFinished` arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The run state for the header.
    pub fn status(&self) -> Status {
        if self.finished {
            return Status::Done;
        }
        match self.run_state {
            None => Status::Starting,
            Some(RunState::Running) => Status::Running,
            Some(RunState::Paused) => Status::Paused,
            Some(RunState::Skipping) => Status::Skipping,
            Some(RunState::Stopping) => Status::Stopping,
            Some(RunState::Finished) => Status::Done,
        }
    }

    /// The run's report: the skeleton from `RunStarted`, the final one after `RunFinished`.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_deref()
    }

    /// Per-engine live state, in config order.
    pub fn engines(&self) -> &[EngineState] {
        &self.engines
    }

    /// The level being measured, if any.
    pub fn current(&self) -> Option<&CurrentLevel> {
        self.current.as_ref()
    }

    /// Finished levels, one row per (engine, level): engines in config order, each one's
    /// levels sorted by level.
    pub fn levels(&self) -> &[FinishedLevel] {
        &self.levels
    }

    /// Position in [`App::levels`] of the row the latest `LevelFinished` wrote, while it is
    /// there.
    pub fn newest_level(&self) -> Option<usize> {
        let (engine, level) = self.newest?;
        self.levels.iter().position(|l| l.same_level(engine, level))
    }

    /// True with `levels = "auto"`: the run's levels are found as it goes.
    pub fn is_auto(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.workload.auto.is_some())
    }

    /// The latest export's outcome, when it is newer than the latest warning.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The latest warning.
    pub fn warning(&self) -> Option<&Warning> {
        self.warning.as_ref()
    }

    /// The results folder, after `RunFinished`.
    pub fn out_dir(&self) -> Option<&std::path::Path> {
        self.out_dir.as_deref()
    }

    pub fn view(&self) -> View {
        self.view
    }

    pub fn help_visible(&self) -> bool {
        self.help
    }

    /// True while "Quit? y/n" is asked.
    pub fn confirming_quit(&self) -> bool {
        self.confirm_quit
    }

    /// Run time so far (or in total once done), from ticks; `None` before the first tick.
    pub fn elapsed_ms(&self) -> Option<u64> {
        let start = self.started_ms?;
        let end = self.finished_ms.or(self.now_ms)?;
        Some(end.saturating_sub(start))
    }
}
