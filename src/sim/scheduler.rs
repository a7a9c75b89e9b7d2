//! The continuous-batching scheduler: one task owns the batch and steps it on absolute
//! deadlines.
//!
//! Each step: admit waiting requests up to `max_batch` (charging one prefill step for all of
//! them), then, if anything is running, charge one decode step and hand every running
//! sequence one token through its own channel. A sequence whose receiver is gone (the client
//! disconnected) leaves the batch at once, freeing its slot.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::profiles::Profile;

/// What the scheduler tells one request's response stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The request joined the batch (prefill starts now): chat streams send the role chunk.
    Admitted,
    /// One output token was generated. The stream counts them; after the last one the
    /// scheduler drops the sender, so a closed channel with all tokens received means
    /// "finished" and anything else means "aborted".
    Token,
}

/// A request waiting for a batch slot.
struct Job {
    prompt_tokens: u32,
    output_tokens: u32,
    tx: mpsc::Sender<Step>,
}

/// A request in the batch.
struct Seq {
    /// Tokens still to emit (≥ 1 while in the batch).
    left: u32,
    tx: mpsc::Sender<Step>,
}

/// Cheap, cloneable handle used by request handlers to queue work.
#[derive(Clone)]
pub(crate) struct SchedulerHandle {
    // Unbounded like a real engine's waiting queue: admission control is what max_batch is
    // for, and requests are only queued after their body was parsed.
    inbox: mpsc::UnboundedSender<Job>,
}

impl SchedulerHandle {
    /// Queues a request; `None` if the scheduler has stopped (server shutting down).
    ///
    /// The returned channel holds `output_tokens + 1` messages, everything this request
    /// will ever receive, so it is bounded yet the scheduler's `try_send` never finds it
    /// full: a slow reader never stalls the batch, as in a real engine.
    pub(crate) fn submit(
        &self,
        prompt_tokens: u32,
        output_tokens: u32,
    ) -> Option<mpsc::Receiver<Step>> {
        let output_tokens = output_tokens.max(1);
        let (tx, rx) = mpsc::channel(output_tokens as usize + 1);
        self.inbox
            .send(Job {
                prompt_tokens,
                output_tokens,
                tx,
            })
            .ok()?;
        Some(rx)
    }
}

/// Starts the scheduler task; it stops when `cancel` fires (dropping every sequence, so
/// their streams end as aborted) or when every handle is gone.
pub(crate) fn spawn(
    profile: Profile,
    cancel: CancellationToken,
) -> (SchedulerHandle, JoinHandle<()>) {
    let (inbox, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        tokio::select! {
            () = run(profile, rx) => {}
            () = cancel.cancelled() => {}
        }
    });
    (SchedulerHandle { inbox }, task)
}

fn micros(us: u64) -> Duration {
    Duration::from_micros(us)
}

/// The step loop. Time is kept as an absolute deadline (`clock`) advanced by each step's
/// cost: sleeping `cost` per step would add the loop's own overhead and the timer's
/// rounding to every step and drift (a 10 ms step measures ~11 ms).
async fn run(profile: Profile, mut inbox: mpsc::UnboundedReceiver<Job>) {
    let max_batch = profile.max_batch.max(1);
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut running: Vec<Seq> = Vec::new();
    let mut clock = Instant::now();
    loop {
        if running.is_empty() && waiting.is_empty() {
            // Idle: block (no busy loop) until a request arrives.
            match inbox.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        while let Ok(job) = inbox.try_recv() {
            waiting.push_back(job);
        }
        if running.is_empty() {
            // After idling the next step starts now, not at the stale deadline.
            clock = clock.max(Instant::now());
        }

        // Admission + prefill.
        let mut admitted = 0usize;
        let mut prompt_tokens = 0u64;
        while running.len() < max_batch {
            let Some(job) = waiting.pop_front() else {
                break;
            };
            // Fails only if the client went away while queued: skip it, no prefill charged.
            if job.tx.try_send(Step::Admitted).is_err() {
                continue;
            }
            admitted += 1;
            prompt_tokens += u64::from(job.prompt_tokens);
            running.push(Seq {
                left: job.output_tokens,
                tx: job.tx,
            });
        }
        let prefill = profile.prefill_cost_us(admitted, prompt_tokens);
        if prefill > 0 {
            clock += micros(prefill);
            tokio::time::sleep_until(clock).await;
        }
        if running.is_empty() {
            continue;
        }

        // Decode: one token for every running sequence.
        let decode = profile.decode_cost_us(running.len());
        if decode > 0 {
            clock += micros(decode);
            tokio::time::sleep_until(clock).await;
        }
        running.retain_mut(|seq| {
            if seq.tx.try_send(Step::Token).is_err() {
                return false; // receiver dropped: client gone, free the slot now
            }
            seq.left -= 1;
            seq.left > 0 // finished sequences leave; dropping `tx` ends their stream
        });
        if prefill == 0 && decode == 0 {
            // Zero-cost profile: let the response streams (and new requests) run.
            tokio::task::yield_now().await;
        }
    }
}
