//! Shard mode's steps: each (engine, level, trial) of the run order runs in its slot of the
//! common timeline, so shards on different machines load the engine together. A shard that
//! reaches a slot early waits (controls and signals still apply), one inside the warmup
//! warms up for what is left, one inside the measured window joins it late, and one after it
//! records the level as missed.

use std::time::{Duration, SystemTime};

use super::sweep::Driver;
use crate::config::SweepMode;
use crate::events::Event;
use crate::metrics::sample::round3;
use crate::results::shard::ShardSlot;
use crate::shard::timeline::{unix_ms, Position};

/// What a step runs in its slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SlotTimes {
    /// Warm up this long first (`None`: no warmup, or it is over).
    pub warmup: Option<Duration>,
    /// The measured window: scheduled start and end (no request starts after it).
    pub window_start: SystemTime,
    pub window_end: SystemTime,
    /// This shard's part of the level (concurrency, or req/s).
    pub share: f64,
}

/// How waiting for a slot ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Reached {
    Run(SlotTimes),
    /// The window is over: nothing to send.
    Missed,
    /// The run is stopping (quit or a signal while waiting).
    Stop,
}

impl Driver {
    /// Shard mode: waits for step `step`'s slot (applying controls meanwhile).
    pub(super) async fn reach_slot(
        &mut self,
        step: u32,
        engine: usize,
        level_index: usize,
    ) -> Reached {
        let Some(plan) = self.plan.shard else {
            unreachable!("reach_slot outside shard mode")
        };
        let slot = plan.timeline.slot(step);
        let level = self.levels[level_index];
        let share = match self.plan.config.sweep.mode {
            SweepMode::Concurrency => plan.shard.share(level as u64) as f64,
            SweepMode::Rate => plan.shard.rate_share(level),
        };
        loop {
            let position = slot.position(SystemTime::now());
            let wait = match position {
                Position::Early(wait) => wait,
                Position::Warmup(left) => {
                    return Reached::Run(SlotTimes {
                        warmup: (!left.is_zero()).then_some(left),
                        window_start: slot.measured_at,
                        window_end: slot.measured_end,
                        share,
                    })
                }
                Position::Late { .. } => {
                    return Reached::Run(SlotTimes {
                        warmup: None,
                        window_start: slot.measured_at,
                        window_end: slot.measured_end,
                        share,
                    })
                }
                Position::Missed(by) => {
                    let name = self.plan.engines[engine].name.clone();
                    let text = format!(
                        "shard {}: missed level {level} ({:.1} s after its window began): it sent nothing there",
                        plan.shard,
                        by.as_secs_f64()
                    );
                    self.report.warnings.push(format!("{name}: {text}"));
                    self.emit(Event::Warning {
                        engine: Some(engine),
                        text,
                    })
                    .await;
                    self.record_slot(
                        engine,
                        level_index,
                        slot.measured_at,
                        slot.measured_end,
                        share,
                        None,
                    );
                    return Reached::Missed;
                }
            };
            // Wake at the slot (re-checking the clock then), or for a control.
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                control = self.control.recv(), if self.control_open => match control {
                    Some(control) => {
                        self.apply(control, None).await;
                        if self.stops.run {
                            return Reached::Stop;
                        }
                    }
                    None => self.control_open = false,
                },
            }
        }
    }

    /// Puts the step into results' `shard.slots`: `started` is when its measured phase
    /// began (`None`: missed).
    pub(super) fn record_slot(
        &mut self,
        engine: usize,
        level_index: usize,
        window_start: SystemTime,
        window_end: SystemTime,
        share: f64,
        started: Option<SystemTime>,
    ) {
        let trial = (self.plan.config.sweep.trials > 1).then_some(self.trial);
        let late_ms = started
            .and_then(|s| s.duration_since(window_start).ok())
            .map_or(0.0, |d| d.as_secs_f64() * 1e3);
        let slot = ShardSlot {
            engine: self.plan.engines[engine].name.clone(),
            level_index,
            trial,
            share,
            window_start_unix_ms: unix_ms(window_start),
            window_end_unix_ms: unix_ms(window_end),
            started_unix_ms: started.map(unix_ms),
            late_ms: round3(late_ms),
            missed: started.is_none(),
        };
        if let Some(info) = &mut self.report.shard {
            info.slots.push(slot);
        }
    }
}
