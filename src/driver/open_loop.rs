//! Rate mode's dispatcher: sends requests at their scheduled times (an [`Arrivals`] schedule
//! over level-active time), each in its own task, optionally capped at `max_concurrency` in
//! flight. A request that cannot start on time (the cap is full) waits in the client; the wait
//! (schedule → actual send, stamped where the send is) is its `queue_us`, and latencies from
//! the scheduled time are summarised beside those from the actual send — nothing is dropped.
//!
//! Pausing stops new sends and shifts the rest of the schedule by the paused time; skip and
//! quit cancel in-flight requests (counted as cancelled) and stop the schedule.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::arrivals::Arrivals;
use super::worker::{send_one, WorkerCtx};

/// One level's schedule.
pub struct Schedule {
    /// req/s.
    pub rate: f64,
    pub burstiness: f64,
    pub seed: u64,
    /// 0 = no cap.
    pub max_concurrency: u32,
    /// No request is scheduled at or after this much active time.
    pub duration: Option<Duration>,
}

/// Waits while paused; `None` when cancelled.
async fn wait_unpaused(
    paused: &mut watch::Receiver<bool>,
    cancel: &CancellationToken,
) -> Option<()> {
    while *paused.borrow_and_update() {
        tokio::select! {
            changed = paused.changed() => if changed.is_err() { return None },
            _ = cancel.cancelled() => return None,
        }
    }
    Some(())
}

/// Sends the phase's requests on schedule until the count is reached, time is up
/// (`ctx.stop_new`), or the phase is cancelled; then waits for the requests in flight.
pub async fn run(mut ctx: WorkerCtx, schedule: Schedule) {
    let mut arrivals = Arrivals::new(schedule.rate, schedule.burstiness, schedule.seed);
    let cap = (schedule.max_concurrency > 0)
        .then(|| Arc::new(Semaphore::new(schedule.max_concurrency as usize)));
    let mut tasks = JoinSet::new();
    let start = ctx.started;
    let mut at = Duration::ZERO;
    let mut index = 0u64;
    'requests: while index < ctx.planned {
        if index > 0 {
            at += arrivals.next().unwrap_or_default();
        }
        if schedule.duration.is_some_and(|d| at >= d) {
            break;
        }
        // Until the scheduled time, paused time not counted (the ledger shifts it).
        loop {
            if wait_unpaused(&mut ctx.paused, &ctx.cancel).await.is_none() {
                break 'requests;
            }
            let due = start + ctx.pauses.paused_total() + at;
            tokio::select! {
                _ = tokio::time::sleep_until(due) => break,
                changed = ctx.paused.changed() => if changed.is_err() { break 'requests },
                _ = ctx.cancel.cancelled() => break 'requests,
                _ = ctx.stop_new.cancelled() => break 'requests,
            }
        }
        let permit = match &cap {
            Some(cap) => tokio::select! {
                permit = cap.clone().acquire_owned() => match permit {
                    Ok(p) => Some(p),
                    Err(_) => break,
                },
                _ = ctx.cancel.cancelled() => break,
                _ = ctx.stop_new.cancelled() => break,
            },
            None => None,
        };
        // A pause while waiting for a slot: send after it (the ledger keeps it out of the
        // lateness).
        if wait_unpaused(&mut ctx.paused, &ctx.cancel).await.is_none()
            || ctx.stop_new.is_cancelled()
        {
            break;
        }
        ctx.next.fetch_add(1, Ordering::Relaxed);
        let task_ctx = ctx.clone();
        tasks.spawn(async move {
            let sample = send_one(&task_ctx, index, Some(at)).await;
            drop(permit);
            let _ = task_ctx.samples.send(sample).await;
        });
        index += 1;
        while let Some(joined) = tasks.try_join_next() {
            rethrow(joined);
        }
    }
    while let Some(joined) = tasks.join_next().await {
        rethrow(joined);
    }
}

/// A request task's panic becomes the dispatcher's, which the phase turns into a run error
/// (a lost request would otherwise go unnoticed).
fn rethrow(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
