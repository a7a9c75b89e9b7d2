//! Keys reaching the driver: pause/resume, skip level, skip engine, abort.

use tokio_util::sync::CancellationToken;

use super::pause::{ActiveClock, PauseLedger};
use super::sweep::Driver;
use crate::events::{Control, Event, RunState};
use crate::report::write_all;

/// The level in progress, as a control sees it.
pub struct LevelHandle<'a> {
    /// Cancels the level's in-flight requests.
    pub cancel: &'a CancellationToken,
    pub clock: &'a mut ActiveClock,
    pub pauses: &'a PauseLedger,
    /// Requests in flight now.
    pub in_flight: u64,
}

impl Driver {
    /// Applies one control; `level` is the level in progress, when one is.
    pub(super) async fn apply(&mut self, control: Control, level: Option<LevelHandle<'_>>) {
        let paused = *self.paused.borrow();
        let control = match control {
            Control::TogglePause if paused => Control::Resume,
            Control::TogglePause => Control::Pause,
            other => other,
        };
        match control {
            Control::Pause | Control::Resume if (control == Control::Pause) != paused => {
                let pause = control == Control::Pause;
                if let Some(level) = level {
                    // The ledger first: the dispatcher reads it when the watch wakes it.
                    level.pauses.set_paused(pause);
                    level.clock.set_paused(pause, level.in_flight);
                }
                self.paused.send_replace(pause);
                let state = if pause {
                    RunState::Paused
                } else {
                    RunState::Running
                };
                self.emit(Event::State(state)).await;
            }
            Control::SkipLevel | Control::SkipEngine | Control::Abort => {
                let state = if control == Control::Abort {
                    RunState::Stopping
                } else {
                    RunState::Skipping
                };
                self.stops.engine |= control != Control::SkipLevel;
                self.stops.run |= control == Control::Abort;
                let in_level = level.is_some();
                if let Some(level) = level {
                    self.stops.level = true;
                    level.cancel.cancel();
                }
                // Pausing must not hold a skip or quit hostage: release the workers.
                if paused {
                    self.paused.send_replace(false);
                }
                if in_level || control == Control::Abort {
                    self.emit(Event::State(state)).await;
                }
            }
            Control::Export => self.export_now(),
            Control::Pause | Control::Resume | Control::TogglePause => {}
        }
    }

    /// Writes the exports of what was measured so far into the run folder, on a blocking
    /// thread, while the run goes on; `Event::Exported` says when they are written.
    fn export_now(&self) {
        let report = self.report.clone();
        let dir = self.writer.dir().to_path_buf();
        let options = self.export_options();
        let events = self.events.clone();
        tokio::spawn(async move {
            let written =
                tokio::task::spawn_blocking(move || write_all(&report, &dir, &options)).await;
            let result = match written {
                Ok(Ok(paths)) => Ok(paths),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            // A front end that has gone must not matter.
            let _ = events.send(Event::Exported { result }).await;
        });
    }
}
