//! The continuous-batching scheduler: one task owns the batch and steps it on absolute
//! deadlines.
//!
//! Each step: admit waiting requests up to `max_batch` and while their KV fits (charging one
//! prefill step for all of them), then, if anything is running, make room for one more KV
//! token per sequence by preempting the newest, charge one decode step and hand every
//! running sequence one token through its own channel. A sequence whose receiver is gone
//! (the client disconnected) leaves the batch at once, freeing its slot.
//!
//! # KV cache
//! A running sequence holds `prompt + generated` KV tokens; the batch may hold
//! [`Metrics::kv_budget`] in all. A waiting request is admitted only if, once in, the batch
//! still has room for one more token per sequence (so it is never preempted by the step
//! that admits it); the queue is first come, first served, so a request that does not fit
//! holds back the ones behind it. Before a decode step, while the batch would outgrow the
//! cache, the most recently admitted sequence is preempted back to the *front* of the queue
//! and gives up its KV, as vLLM's recompute preemption does: when readmitted it prefills
//! `prompt + generated` tokens again and then continues where it stopped (its stream only
//! sees a pause). A lone sequence always runs, even one larger than the whole cache, so the
//! queue always moves.
//!
//! # Prefix cache
//! A sequence's `cached` leading prompt tokens (found by the server's prefix cache) are not
//! charged in prefill, on its first admission or after a preemption; they still hold KV.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;
use super::profiles::Profile;

/// What the scheduler tells one request's response stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The request joined the batch (prefill starts now): chat streams send the role chunk.
    /// Sent once: a preempted request rejoins silently.
    Admitted,
    /// One output token was generated. The stream counts them; after the last one the
    /// scheduler drops the sender, so a closed channel with all tokens received means
    /// "finished" and anything else means "aborted".
    Token,
}

/// A request, waiting or in the batch.
struct Seq {
    /// Prompt length (tokens).
    prompt: u32,
    /// Leading prompt tokens the prefix cache holds: prefill skips them (≤ `prompt`).
    cached: u32,
    /// Output tokens to emit in all (≥ 1).
    total: u32,
    /// Output tokens emitted so far (< `total` while it is in the scheduler).
    generated: u32,
    /// Whether [`Step::Admitted`] was sent (it was admitted before, and then preempted).
    admitted: bool,
    tx: mpsc::Sender<Step>,
}

impl Seq {
    /// KV tokens it holds while running (tokens).
    fn kv(&self) -> u64 {
        u64::from(self.prompt) + u64::from(self.generated)
    }
}

/// Cheap, cloneable handle used by request handlers to queue work.
#[derive(Clone)]
pub(crate) struct SchedulerHandle {
    // Unbounded like a real engine's waiting queue: admission control is what max_batch is
    // for, and requests are only queued after their body was parsed.
    inbox: mpsc::UnboundedSender<Seq>,
    metrics: Arc<Metrics>,
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
        cached_tokens: u32,
        output_tokens: u32,
    ) -> Option<mpsc::Receiver<Step>> {
        let output_tokens = output_tokens.max(1);
        let (tx, rx) = mpsc::channel(output_tokens as usize + 1);
        // Counted before it can be dequeued, so the gauge never goes below 0.
        self.metrics.enqueued();
        let sent = self.inbox.send(Seq {
            prompt: prompt_tokens,
            cached: cached_tokens.min(prompt_tokens),
            total: output_tokens,
            generated: 0,
            admitted: false,
            tx,
        });
        if sent.is_err() {
            self.metrics.dequeued();
            return None;
        }
        Some(rx)
    }
}

/// Starts the scheduler task; it stops when `cancel` fires (dropping every sequence, so
/// their streams end as aborted) or when every handle is gone.
///
/// It publishes the batch (running, waiting, KV in use) and counts tokens and preemptions
/// in `metrics`, whose [`Metrics::kv_budget`] is the KV cache it schedules for.
pub(crate) fn spawn(
    profile: Profile,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> (SchedulerHandle, JoinHandle<()>) {
    let (inbox, rx) = mpsc::unbounded_channel();
    let handle = SchedulerHandle {
        inbox,
        metrics: metrics.clone(),
    };
    let task = tokio::spawn(async move {
        tokio::select! {
            () = run(profile, &metrics, rx) => {}
            () = cancel.cancelled() => {}
        }
    });
    (handle, task)
}

fn micros(us: u64) -> Duration {
    Duration::from_micros(us)
}

/// The step loop. Time is kept as an absolute deadline (`clock`) advanced by each step's
/// cost: sleeping `cost` per step would add the loop's own overhead and the timer's
/// rounding to every step and drift (a 10 ms step measures ~11 ms).
async fn run(profile: Profile, metrics: &Metrics, mut inbox: mpsc::UnboundedReceiver<Seq>) {
    let max_batch = profile.max_batch.max(1);
    let budget = metrics.kv_budget();
    let mut waiting: VecDeque<Seq> = VecDeque::new();
    let mut running: Vec<Seq> = Vec::new();
    // Σ kv() over `running` (tokens).
    let mut kv = 0u64;
    let mut clock = Instant::now();
    loop {
        if running.is_empty() && waiting.is_empty() {
            // Idle: block (no busy loop) until a request arrives.
            match inbox.recv().await {
                Some(seq) => waiting.push_back(seq),
                None => return,
            }
        }
        while let Ok(seq) = inbox.try_recv() {
            waiting.push_back(seq);
        }
        // Clients that went away while queued leave the queue (no prefill charged).
        waiting.retain(|seq| {
            let gone = seq.tx.is_closed();
            if gone {
                metrics.dequeued();
            }
            !gone
        });
        if running.is_empty() {
            // After idling the next step starts now, not at the stale deadline.
            clock = clock.max(Instant::now());
        }

        // Admission + prefill.
        let mut admitted = 0usize;
        let mut new_prompt = 0u64;
        // Tokens looked up in the prefix cache, and those it held.
        let mut prefill_tokens = 0u64;
        let mut cached = 0u64;
        while running.len() < max_batch {
            let Some(front) = waiting.front() else {
                break;
            };
            // Room for it, and then for one more token per sequence (itself included).
            let after = kv + front.kv() + running.len() as u64 + 1;
            if !running.is_empty() && after > budget {
                break;
            }
            let Some(mut seq) = waiting.pop_front() else {
                break;
            };
            metrics.dequeued();
            if !seq.admitted {
                // Fails only if the client went away just now: skip it, no prefill charged.
                if seq.tx.try_send(Step::Admitted).is_err() {
                    continue;
                }
                seq.admitted = true;
                new_prompt += u64::from(seq.prompt);
            }
            admitted += 1;
            // A preempted sequence recomputes its whole KV: prompt and output so far, but
            // its cached prefix (still cached) again comes free.
            prefill_tokens += seq.kv();
            cached += u64::from(seq.cached);
            kv += seq.kv();
            running.push(seq);
        }
        metrics.set_batch(running.len(), kv);
        let prefill = profile.prefill_cost_us(admitted, prefill_tokens - cached);
        if prefill > 0 {
            clock += micros(prefill);
            tokio::time::sleep_until(clock).await;
        }
        if admitted > 0 {
            metrics.prefilled(new_prompt, prefill_tokens, cached);
        }
        if running.is_empty() {
            continue;
        }

        // Preemption: newest first, until one more token per sequence fits.
        while running.len() > 1 && kv + running.len() as u64 > budget {
            let Some(seq) = running.pop() else {
                break;
            };
            kv -= seq.kv();
            metrics.preempted();
            metrics.enqueued();
            waiting.push_front(seq);
        }
        metrics.set_batch(running.len(), kv);

        // Decode: one token for every running sequence.
        let decode = profile.decode_cost_us(running.len());
        if decode > 0 {
            clock += micros(decode);
            tokio::time::sleep_until(clock).await;
        }
        // Counted before any token is handed over: a client that has read its last token
        // and scrapes /metrics at once must find it counted (a stream whose client is gone
        // still cost this step its token, as in an engine).
        metrics.generated(running.len() as u64);
        running.retain_mut(|seq| {
            if seq.tx.try_send(Step::Token).is_err() {
                kv -= seq.kv();
                return false; // receiver dropped: client gone, free the slot now
            }
            seq.generated += 1;
            kv += 1;
            if seq.generated < seq.total {
                return true;
            }
            kv -= seq.kv();
            false // finished: dropping `tx` ends its stream
        });
        metrics.set_batch(running.len(), kv);
        if prefill == 0 && decode == 0 {
            // Zero-cost profile: let the response streams (and new requests) run.
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::metrics::Snapshot;
    use crate::sim::FIXED;

    /// 1 ms prefill + 0.2 ms per prefilled token, 1 ms per decode step (the costs below all
    /// add up to whole milliseconds: tokio's timers wake on millisecond ticks).
    fn profile(max_batch: usize) -> Profile {
        Profile {
            max_batch,
            prefill_base_us: 1_000,
            prefill_us_per_token: 200,
            decode_base_us: 1_000,
            decode_per_seq_us: 0,
            ..FIXED
        }
    }

    /// Everything one request received: each step, when (µs since `t0`), and the metrics
    /// right then (the scheduler publishes before it sleeps, so they are that step's).
    async fn collect(
        mut rx: mpsc::Receiver<Step>,
        t0: Instant,
        metrics: Arc<Metrics>,
    ) -> Vec<(Step, u128, Snapshot)> {
        let mut got = Vec::new();
        while let Some(step) = rx.recv().await {
            got.push((step, (Instant::now() - t0).as_micros(), metrics.snapshot()));
        }
        got
    }

    fn times(got: &[(Step, u128, Snapshot)], step: Step) -> Vec<u128> {
        got.iter()
            .filter(|g| g.0 == step)
            .map(|g| g.1 / 100)
            .collect()
    }

    /// Two 10 + 10 token requests in a 30-token cache: both fit for 5 tokens; the 6th would
    /// need 32, so the newer one is preempted, waits for the older to finish, then prefills
    /// its 15 tokens again and continues, with a single `Admitted`.
    #[tokio::test(start_paused = true)]
    async fn the_newest_sequence_is_preempted_when_the_cache_is_full_and_resumes_later() {
        let metrics = Arc::new(Metrics::new(30));
        let (handle, task) = spawn(profile(4), metrics.clone(), CancellationToken::new());
        let t0 = Instant::now();
        let a = handle.submit(10, 0, 10).expect("a");
        let b = handle.submit(10, 0, 10).expect("b");
        assert_eq!(metrics.snapshot().waiting, 2);
        let (a, b) = tokio::join!(
            collect(a, t0, metrics.clone()),
            collect(b, t0, metrics.clone())
        );
        // In 0.1 ms: prefill 1 + 0.2 × 20 = 5 ms, then a token per 1 ms step.
        assert_eq!(times(&a, Step::Admitted), [0]);
        assert_eq!(
            times(&a, Step::Token),
            [60, 70, 80, 90, 100, 110, 120, 130, 140, 150]
        );
        assert_eq!(times(&b, Step::Admitted), [0], "admitted once only");
        // Preempted at 10 ms; readmitted when `a` finishes at 15 ms: 1 + 0.2 × 15 = 4 ms
        // of prefill, then the remaining 5 tokens.
        assert_eq!(
            times(&b, Step::Token),
            [60, 70, 80, 90, 100, 200, 210, 220, 230, 240]
        );
        // The scheduler publishes each step's batch before it sleeps, so `a[i]` (its i-th
        // token) sees the batch that will make token i + 1. After the 4th: both, 28 of 30.
        let s = &a[4].2;
        assert_eq!((s.running, s.waiting, s.preemptions), (2, 0, 0));
        assert_eq!(s.kv_usage, 28.0 / 30.0);
        // After the 5th the cache is full (30), so `b` is preempted: queued again, its KV
        // freed (10 + 5 of 30 left) ...
        let s = &a[5].2;
        assert_eq!((s.running, s.waiting, s.preemptions), (1, 1, 1));
        assert_eq!(s.kv_usage, 15.0 / 30.0);
        // ... and stays out while `a` grows.
        let s = &a[9].2;
        assert_eq!((s.running, s.waiting, s.preemptions), (1, 1, 1));
        assert_eq!(s.kv_usage, 19.0 / 30.0);
        let end = metrics.snapshot();
        assert_eq!((end.running, end.waiting, end.kv_usage), (0, 0, 0.0));
        assert_eq!(end.preemptions, 1);
        assert_eq!(end.prompt_tokens, 20, "a prompt counts once");
        assert_eq!(
            end.prefix_queries,
            20 + 15,
            "the recompute is looked up again"
        );
        assert_eq!(end.generation_tokens, 20);
        drop(handle);
        task.await.expect("scheduler");
    }

    /// Cached prompt tokens are not prefilled, and count as prefix-cache hits.
    #[tokio::test(start_paused = true)]
    async fn a_cached_prefix_is_skipped_by_prefill() {
        let metrics = Arc::new(Metrics::new(1_000));
        let (handle, _task) = spawn(profile(4), metrics.clone(), CancellationToken::new());
        let t0 = Instant::now();
        let cold = collect(handle.submit(10, 0, 1).expect("cold"), t0, metrics.clone()).await;
        // 1 + 0.2 × 10 = 3 ms of prefill, 1 ms of decode.
        assert_eq!(times(&cold, Step::Token), [40]);
        let t1 = Instant::now();
        let warm = collect(handle.submit(10, 5, 1).expect("warm"), t1, metrics.clone()).await;
        // Half of it cached: 1 + 0.2 × 5 = 2 ms, then the decode step.
        assert_eq!(times(&warm, Step::Token), [30]);
        let s = metrics.snapshot();
        assert_eq!((s.prefix_queries, s.prefix_hits), (20, 5));
        // More cached than the prompt holds is the whole prompt.
        let t2 = Instant::now();
        let all = collect(handle.submit(10, 99, 1).expect("all"), t2, metrics.clone()).await;
        assert_eq!(times(&all, Step::Token), [20]);
    }

    /// A request larger than the whole cache runs alone (usage shows full), and the next
    /// one waits for it instead of preempting it.
    #[tokio::test(start_paused = true)]
    async fn a_lone_sequence_larger_than_the_cache_runs_and_the_next_waits() {
        let metrics = Arc::new(Metrics::new(5));
        let (handle, _task) = spawn(profile(4), metrics.clone(), CancellationToken::new());
        let t0 = Instant::now();
        let a = handle.submit(10, 0, 3).expect("a");
        let b = handle.submit(5, 0, 1).expect("b");
        let (a, b) = tokio::join!(
            collect(a, t0, metrics.clone()),
            collect(b, t0, metrics.clone())
        );
        // Prefill 1 + 0.2 × 10 = 3 ms, then 3 tokens.
        assert_eq!(times(&a, Step::Token), [40, 50, 60]);
        assert_eq!(a[1].2.kv_usage, 1.0);
        assert_eq!((a[1].2.running, a[1].2.waiting), (1, 1));
        // `b` is admitted only once `a` left: 1 + 0.2 × 5 = 2 ms of prefill, 1 ms of decode.
        assert_eq!(times(&b, Step::Admitted), [60]);
        assert_eq!(times(&b, Step::Token), [90]);
        assert_eq!(metrics.snapshot().preemptions, 0);
    }

    /// `waiting` counts requests the moment they are submitted, drops them when admitted,
    /// and drops a queued request whose client went away.
    #[tokio::test(start_paused = true)]
    async fn waiting_counts_queued_requests_and_forgets_clients_that_left() {
        let metrics = Arc::new(Metrics::new(1_000));
        let (handle, _task) = spawn(profile(1), metrics.clone(), CancellationToken::new());
        let mut first = handle.submit(5, 0, 2).expect("first");
        let second = handle.submit(5, 0, 2).expect("second");
        let third = handle.submit(5, 0, 2).expect("third");
        assert_eq!(metrics.snapshot().waiting, 3);
        assert_eq!(first.recv().await, Some(Step::Admitted));
        let s = metrics.snapshot();
        assert_eq!((s.running, s.waiting, s.kv_usage), (1, 2, 5.0 / 1_000.0));
        drop(third);
        assert_eq!(first.recv().await, Some(Step::Token));
        assert_eq!(metrics.snapshot().waiting, 1, "the third left the queue");
        assert_eq!(metrics.snapshot().kv_usage, 6.0 / 1_000.0);
        assert_eq!(first.recv().await, Some(Step::Token));
        assert_eq!(first.recv().await, None);
        let got = collect(second, Instant::now(), metrics.clone()).await;
        assert_eq!(got.len(), 3);
        let s = metrics.snapshot();
        assert_eq!((s.running, s.waiting, s.kv_usage), (0, 0, 0.0));
        assert_eq!((s.prompt_tokens, s.generation_tokens), (10, 4));
    }
}
