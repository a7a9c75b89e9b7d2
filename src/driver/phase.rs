//! One phase of a level (its warmup, or its measured part): start the workers (closed loop)
//! or the dispatcher (rate mode), take each finished request's sample, keep the clock's
//! pause rule, publish snapshots, and wait for the drain once no new request may start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::controls::LevelHandle;
use super::conversation;
use super::open_loop::{self, Schedule, Times};
use super::pause::{ActiveClock, PauseLedger};
use super::sweep::{Driver, SNAPSHOT_INTERVAL, UNREACHABLE_AFTER};
use super::worker::{self, WorkerCtx};
use crate::client::ErrorClass;
use crate::config::SweepMode;
use crate::events::{Event, Snapshot};
use crate::metrics::recorder::{LevelRecorder, RecorderOptions};
use crate::metrics::sample::RequestRecord;
use crate::plan::mix;

/// Which phase of a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseKind {
    /// Unmeasured requests before the level.
    Warmup,
    /// The level itself.
    Measured,
}

/// What a phase measured.
pub struct PhaseResult {
    pub recorder: LevelRecorder,
    /// Active time, s: first send → last completion, idle paused time excluded.
    pub duration_s: f64,
    /// TCP connections the engine's client opened during the phase.
    pub connections_opened: u64,
    /// Closed loop: active time, µs, at which the first worker found no more work.
    pub drain_from_us: Option<u64>,
}

/// A worker's end: normal, cancelled with its phase, or a panic (a bug) with its message.
fn worker_exit(joined: Result<(), JoinError>) -> Result<(), String> {
    match joined {
        Ok(()) => Ok(()),
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => {
            let panic = e.into_panic();
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(format!("a request worker panicked ({message}); levels already finished are kept in results"))
        }
    }
}

impl Driver {
    fn worker_panicked(&self, engine: usize, level: f64, e: &str) -> std::io::Error {
        let name = &self.plan.engines[engine].name;
        std::io::Error::other(format!("{name}, level {level}: {e}"))
    }

    /// Runs `planned` requests at `concurrency` in flight (closed loop) or on the level's
    /// schedule (rate mode), starting none after `time` (active time) when it is set. In
    /// shard mode, at this shard's share of the level.
    pub(super) async fn phase(
        &mut self,
        engine: usize,
        level_index: usize,
        planned: u64,
        kind: PhaseKind,
        time: Option<Duration>,
    ) -> std::io::Result<PhaseResult> {
        let warmup = kind == PhaseKind::Warmup;
        // Conversations: the phase's count of requests becomes whole conversations.
        let (conversations, planned) =
            self.plan
                .conversation_budget(level_index, self.trial, warmup, planned);
        let claims = self
            .plan
            .conversations
            .is_some()
            .then(|| conversation::Claims::new(conversations));
        let cancel = CancellationToken::new();
        let stop_new = CancellationToken::new();
        let next = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicU64::new(0));
        let sweep = &self.plan.config.sweep;
        let rate_mode = sweep.mode == SweepMode::Rate;
        let shard = self.plan.shard.map(|p| p.shard);
        let workers_count = if rate_mode {
            1
        } else {
            let level = self.levels[level_index] as u64;
            shard
                .map_or(level, |s| s.share(level))
                .min(planned)
                .min(conversations) as usize
        };
        let channel = (workers_count.max(self.plan.max_in_flight().min(4096))) * 2 + 16;
        let (samples_tx, mut samples) = mpsc::channel(channel);
        let paused_at_start = *self.paused.borrow();
        let mut clock = ActiveClock::start(paused_at_start);
        let pauses = PauseLedger::new(paused_at_start);
        let duration = time;
        let connections_before = self.clients[engine].connections_opened();
        let mut workers = JoinSet::new();
        let first_idle = Arc::new(OnceLock::new());
        let ctx = WorkerCtx {
            plan: self.plan.clone(),
            client: self.clients[engine].clone(),
            engine,
            level_index,
            trial: self.trial,
            planned,
            warmup,
            next: next.clone(),
            ended: ended.clone(),
            paused: self.paused.subscribe(),
            cancel: cancel.clone(),
            stop_new: stop_new.clone(),
            samples: samples_tx.clone(),
            started: clock.started(),
            pauses: pauses.clone(),
            first_idle: first_idle.clone(),
            id_prefix: format!(
                "{}-e{engine}-l{level_index}{}{}",
                self.report.run_name,
                match self.trial {
                    1 => String::new(),
                    t => format!("-t{t}"),
                },
                if warmup { "-warmup" } else { "" }
            )
            .into(),
        };
        if rate_mode {
            let rate = self.levels[level_index];
            // Per level, not per engine: every engine gets the same schedule. Shards draw
            // independent ones (their union is the level's rate).
            let seed = self.plan.seed
                ^ mix(level_index as u64 + if warmup { 0x3A3A } else { 1 })
                ^ shard.map_or(0, |s| mix(0x5AAD_0000 + u64::from(s.index)));
            let times = match &self.plan.schedule {
                // A trace at the level's speed; a shard sends its lines at theirs.
                Some(trace) => Times::Trace {
                    times: trace.clone(),
                    speed: rate,
                    shard,
                },
                None => Times::gaps(
                    shard.map_or(rate, |s| s.rate_share(rate)),
                    sweep.burstiness,
                    seed,
                ),
            };
            let schedule = Schedule {
                times,
                max_concurrency: match (shard, sweep.max_concurrency) {
                    (_, 0) => 0,
                    (None, cap) => cap,
                    // Every shard keeps at least one slot: 0 would mean no cap.
                    (Some(s), cap) => s.share(u64::from(cap)).max(1) as u32,
                },
                duration,
            };
            workers.spawn(open_loop::run(ctx, schedule));
        } else {
            for _ in 0..workers_count {
                match &claims {
                    Some(claims) => workers.spawn(conversation::run(ctx.clone(), claims.clone())),
                    None => workers.spawn(worker::run(ctx.clone())),
                };
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
        let level = self.levels[level_index];
        let trial = (self.plan.config.sweep.trials > 1).then_some(self.trial);
        let mut connect_failures = 0u32;
        // Claimed (sent or about to be) minus finished.
        // Claimed (sent or about to be) minus ended, both counted by the workers: a request
        // whose sample still waits in the channel is no longer in flight. `ended` is read
        // first, so it never runs ahead of `next`.
        let in_flight = || {
            let ended = ended.load(Ordering::Acquire);
            next.load(Ordering::Acquire)
                .min(planned)
                .saturating_sub(ended)
        };
        loop {
            // The pause rule: the clock stops only while paused with nothing in flight.
            clock.update(in_flight());
            // Time-bound level: once active time is up no new request starts.
            let time_left = duration
                .filter(|_| !stop_new.is_cancelled())
                .map(|d| d.saturating_sub(clock.active()));
            if time_left == Some(Duration::ZERO) {
                stop_new.cancel();
                if warmup && self.plan.shard.is_some() {
                    // A shard's warmup ends with its slot's warmup, on time: the requests
                    // still in flight are cancelled (never counted) so the measured window
                    // starts when every other shard's does.
                    cancel.cancel();
                }
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(time_left.unwrap_or_default()), if time_left.is_some() => {}
                sample = samples.recv() => {
                    let Some(sample) = sample else { break };
                    let done = clock.active_at(sample.finished_at);
                    last_completion = last_completion.max(done);
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
                    recorder.record(&sample, done.as_micros() as u64);
                    if let (Some(live), false) = (&self.live, warmup) {
                        live.record(&self.plan.engines[engine].name, level, &sample);
                    }
                    // A conversation's prompt is sent once, with its first turn.
                    if sample.turn.is_none_or(|t| t.turn == 1) {
                        self.sent_prompt(engine, sample.prompt_index).await;
                    }
                    if !warmup {
                        let mut record = RequestRecord::new(&self.plan.engines[engine].name, level, level_index, &sample)
                            .with_prompt(self.plan.prompts.get(sample.prompt_index));
                        record.trial = trial;
                        if self.plan.config.run.request_itls {
                            record = record.with_itls(&sample);
                        }
                        self.writer.append(&record)?;
                    }
                    // One write per burst of finished requests, and none left unwritten while
                    // the driver waits.
                    if samples.is_empty() {
                        self.writer.flush()?;
                    }
                }
                control = self.control.recv(), if self.control_open => match control {
                    Some(control) => {
                        let level = LevelHandle {
                            cancel: &cancel,
                            clock: &mut clock,
                            pauses: &pauses,
                            in_flight: in_flight(),
                        };
                        self.apply(control, Some(level)).await;
                    }
                    None => self.control_open = false,
                },
                // A worker that panicked would leave the level short of its concurrency, or
                // (rate mode) its requests unsent, with nothing said: stop the run instead.
                Some(joined) = workers.join_next(), if !workers.is_empty() => {
                    if let Err(e) = worker_exit(joined) {
                        cancel.cancel();
                        while workers.join_next().await.is_some() {}
                        self.writer.flush()?;
                        return Err(self.worker_panicked(engine, level, &e));
                    }
                }
                _ = ticker.tick(), if !warmup => {
                    if let Some(live) = &self.live {
                        live.set_level(&self.plan.engines[engine].name, Some(level), in_flight());
                    }
                    let snapshot = Snapshot {
                        engine,
                        level_index,
                        in_flight: in_flight() as u32,
                        planned: if planned == u64::MAX { 0 } else { planned },
                        ..recorder.snapshot(clock.active_ms())
                    };
                    // Snapshots may be dropped when a front end lags; lifecycle events never are.
                    let _ = self.events.try_send(Event::Snapshot(snapshot));
                }
            }
        }
        // The samples' channel can close (every worker gone) before a panic is seen above.
        let mut panicked = None;
        while let Some(joined) = workers.join_next().await {
            panicked = panicked.or(worker_exit(joined).err());
        }
        self.writer.flush()?;
        if let (Some(live), false) = (&self.live, warmup) {
            live.set_level(&self.plan.engines[engine].name, None, 0);
        }
        if let Some(e) = panicked {
            return Err(self.worker_panicked(engine, level, &e));
        }
        Ok(PhaseResult {
            recorder,
            duration_s: last_completion.as_secs_f64(),
            drain_from_us: first_idle
                .get()
                .map(|&at| clock.active_at(at).as_micros() as u64),
            connections_opened: self.clients[engine].connections_opened() - connections_before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_worker_is_an_error_with_its_message() {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("prompt 9 is outside the pool") });
        let joined = set.join_next().await.unwrap();
        let e = worker_exit(joined).unwrap_err();
        assert!(
            e.contains("a request worker panicked (prompt 9 is outside the pool)"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_worker_that_ends_or_is_aborted_is_not_an_error() {
        let mut set = JoinSet::new();
        set.spawn(async {});
        assert_eq!(worker_exit(set.join_next().await.unwrap()), Ok(()));
        set.spawn(std::future::pending::<()>());
        set.abort_all();
        assert_eq!(worker_exit(set.join_next().await.unwrap()), Ok(()));
    }
}
