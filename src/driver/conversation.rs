//! A closed-loop slot in conversation mode (`[prompts] conversations`): claim the next
//! conversation of the level's sequence, send its turns one after another — each with the
//! whole history and the model's own answers so far — and claim the next when it is done.
//! Concurrency is conversations in flight: a slot holds its conversation through the
//! user's pause between turns.
//!
//! A failed turn ends its conversation (there is no answer to continue from); the level's
//! end (its time, a skip or quit) cuts the conversations in progress before their next turn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::worker::WorkerCtx;
use crate::client::{ErrorClass, RequestError};
use crate::metrics::sample::{Sample, TurnOf};
use crate::plan::RequestPos;

/// The conversations of a phase, claimed in order.
#[derive(Debug)]
pub struct Claims {
    /// Conversations the phase runs (`u64::MAX` for a time-bound one).
    pub count: u64,
    pub next: AtomicU64,
}

impl Claims {
    pub fn new(count: u64) -> Arc<Claims> {
        Arc::new(Claims {
            count,
            next: AtomicU64::new(0),
        })
    }
}

/// How a conversation ended, for the slot.
enum End {
    /// Done, failed or cut: the slot goes on.
    Next,
    /// The phase stopped taking samples: the slot stops.
    Stop,
}

/// Runs conversations until the phase's are claimed, time is up, or it is cancelled.
pub async fn run(mut ctx: WorkerCtx, claims: Arc<Claims>) {
    loop {
        if !ctx.wait_unpaused().await {
            return;
        }
        let c = if ctx.stop_new.is_cancelled() {
            claims.count
        } else {
            claims.next.fetch_add(1, Ordering::Relaxed)
        };
        if c >= claims.count {
            ctx.first_idle.get_or_init(Instant::now);
            return;
        }
        if let End::Stop = conversation(&mut ctx, c).await {
            return;
        }
    }
}

/// Sends conversation `c`'s turns.
async fn conversation(ctx: &mut WorkerCtx, c: u64) -> End {
    let pos = RequestPos {
        level_index: ctx.level_index,
        trial: ctx.trial,
        warmup: ctx.warmup,
        index: c,
    };
    let plan = ctx.plan.clone();
    let prompt = plan.prompt_for(pos);
    let Some(chat) = plan.conversations.as_ref().and_then(|all| all.get(prompt)) else {
        return End::Next;
    };
    let turns = chat.turn_count();
    let delay = Duration::from_millis(
        plan.config
            .prompts
            .conversations
            .map_or(0, |c| c.turn_delay_ms),
    );
    let mut answers: Vec<String> = Vec::with_capacity(turns as usize);
    let mut history_words = chat
        .system
        .as_deref()
        .map_or(0, |s| s.split_whitespace().count());
    let mut started_at = None;
    let mut output_tokens = 0;
    for turn in 0..turns as usize {
        if turn > 0 {
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = ctx.cancel.cancelled() => return End::Next,
                    _ = ctx.stop_new.cancelled() => return End::Next,
                }
            }
            if !ctx.wait_unpaused().await {
                return End::Stop;
            }
            if ctx.cancel.is_cancelled() || ctx.stop_new.is_cancelled() {
                return End::Next;
            }
        }
        let index = ctx.next.fetch_add(1, Ordering::Relaxed);
        let user = &chat.turns[turn];
        history_words += user.text.split_whitespace().count();
        let body = plan.turn_body(ctx.engine, prompt, pos, turn, &answers);
        let request_id = format!("{}-c{c}-t{}", ctx.id_prefix, turn + 1);
        let sent = Instant::now();
        let started = *started_at.get_or_insert(sent);
        let mut answer = String::new();
        let result = tokio::select! {
            result = ctx.client.send_keeping_answer(body, &request_id, &mut answer) => result,
            _ = ctx.cancel.cancelled() => Err(RequestError::new(ErrorClass::Cancelled, "cancelled by skip or quit")),
        };
        let finished_at = Instant::now();
        ctx.ended.fetch_add(1, Ordering::Release);
        let failed = result.is_err();
        let sample = Sample {
            request_index: index,
            request_id,
            prompt_index: prompt,
            sent_at_ms: (sent - ctx.started).as_secs_f64() * 1e3,
            queue_us: 0,
            in_flight_us: (finished_at - sent).as_micros() as u64,
            finished_at,
            result,
            turn: Some(TurnOf {
                conversation: c,
                turn: turn as u32 + 1,
                turns,
                prompt_words: history_words,
                max_tokens: user.max_tokens.unwrap_or(plan.config.request.max_tokens),
                started_at: started,
                earlier_output_tokens: output_tokens,
            }),
        };
        output_tokens += sample.result.as_ref().map_or(0, |t| t.output_tokens);
        if ctx.samples.send(sample).await.is_err() {
            return End::Stop;
        }
        if failed {
            return End::Next;
        }
        history_words += answer.split_whitespace().count();
        answers.push(answer);
    }
    End::Next
}
