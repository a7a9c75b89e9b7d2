//! One in-flight slot: wait while paused → claim the next request → send → one `Sample`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pause::PauseLedger;
use crate::client::{EngineClient, ErrorClass, RequestError};
use crate::metrics::sample::Sample;
use crate::plan::{Plan, RequestPos};

/// What every worker of a phase shares.
#[derive(Clone)]
pub struct WorkerCtx {
    pub plan: Arc<Plan>,
    pub client: EngineClient,
    pub engine: usize,
    pub level_index: usize,
    /// The trial being measured, 1-based (busting prefixes differ between trials).
    pub trial: u32,
    /// Requests in this phase; workers stop claiming at this count.
    pub planned: u64,
    /// Warmup requests draw prompts from a separate sequence.
    pub warmup: bool,
    /// The next request index to claim.
    pub next: Arc<AtomicU64>,
    /// Requests whose stream (or error) has ended, counted the moment it does: claimed −
    /// ended is what is in flight.
    pub ended: Arc<AtomicU64>,
    pub paused: watch::Receiver<bool>,
    pub cancel: CancellationToken,
    /// Cancelled when the level's `duration_s` is up: no new request starts; in-flight ones
    /// finish and count.
    pub stop_new: CancellationToken,
    pub samples: mpsc::Sender<Sample>,
    /// Wall-clock start of the phase (for `sent_at_ms`).
    pub started: Instant,
    /// The phase's paused time: rate mode's schedule runs on wall time minus it.
    pub pauses: PauseLedger,
    /// When the first worker found no more work (closed loop): the steady-state window's end.
    pub first_idle: Arc<OnceLock<Instant>>,
    /// `<run>-e<engine>-l<level>` (`-warmup` added for warmup): request `i` is sent with
    /// `X-Request-Id: <prefix>-<i>`, unique within the run.
    pub id_prefix: Arc<str>,
}

impl WorkerCtx {
    /// Waits while the run is paused; false when the phase is cancelled (or the run gone).
    pub async fn wait_unpaused(&mut self) -> bool {
        while *self.paused.borrow_and_update() {
            tokio::select! {
                changed = self.paused.changed() => if changed.is_err() { return false },
                _ = self.cancel.cancelled() => return false,
            }
        }
        !self.cancel.is_cancelled()
    }
}

/// Runs requests until the phase's count is claimed or it is cancelled.
pub async fn run(mut ctx: WorkerCtx) {
    loop {
        if !ctx.wait_unpaused().await {
            return;
        }
        let index = if ctx.stop_new.is_cancelled() {
            ctx.planned
        } else {
            ctx.next.fetch_add(1, Ordering::Relaxed)
        };
        if index >= ctx.planned {
            // No more work: from here on the level drains.
            ctx.first_idle.get_or_init(Instant::now);
            return;
        }
        let sample = send_one(&ctx, index, None).await;
        if ctx.samples.send(sample).await.is_err() {
            return;
        }
    }
}

/// Sends request `index` of the phase now. `due` is its time on rate mode's schedule
/// (paused time excluded); how late the send is, is stamped here, in the same place as the
/// send itself, so no spawn or poll delay falls between the two.
pub async fn send_one(ctx: &WorkerCtx, index: u64, due: Option<Duration>) -> Sample {
    // A shard's requests are its share of the single-process sequence.
    let index = match &ctx.plan.shard {
        Some(plan) => plan.shard.global_index(index),
        None => index,
    };
    let pos = RequestPos {
        level_index: ctx.level_index,
        trial: ctx.trial,
        warmup: ctx.warmup,
        index,
    };
    let prompt_index = ctx.plan.prompt_for(pos);
    let body = ctx.plan.body(ctx.engine, prompt_index, pos);
    let request_id = format!("{}-{index}", ctx.id_prefix);
    let sent = Instant::now();
    let sent_at_ms = (sent - ctx.started).as_secs_f64() * 1e3;
    let queue_us = due.map_or(0, |due| {
        ctx.pauses
            .schedule_now(ctx.started)
            .saturating_sub(due)
            .as_micros() as u64
    });
    let result = tokio::select! {
        result = ctx.client.send(body, &request_id) => result,
        _ = ctx.cancel.cancelled() => Err(RequestError::new(ErrorClass::Cancelled, "cancelled by skip or quit")),
    };
    let finished_at = Instant::now();
    ctx.ended.fetch_add(1, Ordering::Release);
    Sample {
        request_index: index,
        request_id,
        prompt_index,
        sent_at_ms,
        queue_us,
        in_flight_us: (finished_at - sent).as_micros() as u64,
        finished_at,
        result,
        turn: None,
    }
}
