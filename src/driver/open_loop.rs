//! Rate mode's dispatcher: sends requests at their scheduled times (an [`Arrivals`] schedule
//! over level-active time, or a replayed trace's arrival times at the level's speed), each in
//! its own task, optionally capped at `max_concurrency` in
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
use crate::shard::Shard;

/// One level's schedule.
pub struct Schedule {
    /// When requests are due.
    pub times: Times,
    /// 0 = no cap.
    pub max_concurrency: u32,
    /// No request is scheduled at or after this much active time.
    pub duration: Option<Duration>,
}

/// When each request of a phase is due, in active time from the phase's start.
pub enum Times {
    /// Rate mode: seeded gamma gaps.
    Gaps(Arrivals),
    /// `[prompts] trace`: the trace's arrival times of the one-process sequence ÷ the level's
    /// speed; a shard sends its requests (every N-th) at theirs.
    Trace {
        times: Arc<[Duration]>,
        speed: f64,
        shard: Option<Shard>,
    },
}

impl Times {
    /// Gamma gaps with mean `1 / rate` (req/s) and shape `burstiness`.
    pub fn gaps(rate: f64, burstiness: f64, seed: u64) -> Times {
        Times::Gaps(Arrivals::new(rate, burstiness, seed))
    }

    /// When request `index` is due, given that request `index − 1` was due at `previous`
    /// (called for 0, 1, 2, ... in turn); `None` once a trace has no more requests.
    pub fn due(&mut self, index: u64, previous: Duration) -> Option<Duration> {
        match self {
            Times::Gaps(_) if index == 0 => Some(Duration::ZERO),
            Times::Gaps(arrivals) => Some(previous + arrivals.next().unwrap_or_default()),
            Times::Trace {
                times,
                speed,
                shard,
            } => {
                let global = shard.map_or(index, |s| s.global_index(index));
                let at = times.get(usize::try_from(global).ok()?)?;
                Some(at.div_f64(*speed))
            }
        }
    }
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
    let mut times = schedule.times;
    let cap = (schedule.max_concurrency > 0)
        .then(|| Arc::new(Semaphore::new(schedule.max_concurrency as usize)));
    let mut tasks = JoinSet::new();
    let start = ctx.started;
    let mut at = Duration::ZERO;
    let mut index = 0u64;
    'requests: while index < ctx.planned {
        let Some(due) = times.due(index, at) else {
            break;
        };
        at = due;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Every due time until the schedule ends (at most `n`).
    fn all(mut times: Times, n: u64) -> Vec<Duration> {
        let mut out = Vec::new();
        let mut at = Duration::ZERO;
        for index in 0..n {
            let Some(due) = times.due(index, at) else {
                break;
            };
            at = due;
            out.push(due);
        }
        out
    }

    #[test]
    fn a_trace_is_due_at_its_times_over_the_speed_and_ends_with_it() {
        let trace: Arc<[Duration]> = vec![ms(0), ms(0), ms(100), ms(250), ms(600)].into();
        let at = |speed: f64, shard: Option<Shard>| {
            all(
                Times::Trace {
                    times: trace.clone(),
                    speed,
                    shard,
                },
                99,
            )
        };
        assert_eq!(at(1.0, None), [ms(0), ms(0), ms(100), ms(250), ms(600)]);
        assert_eq!(at(2.0, None), [ms(0), ms(0), ms(50), ms(125), ms(300)]);
        assert_eq!(at(0.5, None)[4], ms(1200));
        // Shard 1 of 2 sends requests 1 and 3 of the sequence, at their times.
        let shard = Shard::new(1, 2).unwrap();
        assert_eq!(at(1.0, Some(shard)), [ms(0), ms(250)]);
    }

    #[test]
    fn gaps_start_at_zero_and_add_up() {
        let times = all(Times::gaps(10.0, 1.0, 3), 5);
        let mut arrivals = Arrivals::new(10.0, 1.0, 3);
        let mut at = Duration::ZERO;
        let mut want = vec![at];
        for _ in 1..5 {
            at += arrivals.next().unwrap();
            want.push(at);
        }
        assert_eq!(times, want);
    }
}
