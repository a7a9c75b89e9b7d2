//! A level's conversations in progress: per turn number its TTFT and cache hits, and per
//! conversation whether it finished, failed or was cut, and how long a finished one took.

use super::dist::Dist;
use super::prefix_cache::PrefixCacheCounter;
use super::sample::Sample;
use crate::client::ErrorClass;
use crate::results::conversations::{ConversationStats, TurnStats};

/// One turn number's requests.
#[derive(Debug, Clone, Default)]
struct TurnCounter {
    ttft: Dist,
    completed: u64,
    failed: u64,
    /// Σ prompt tokens and how many requests reported them.
    input_tokens: u64,
    with_input: u64,
    cache: PrefixCacheCounter,
}

/// Conversations of one level.
#[derive(Debug, Clone, Default)]
pub struct ConversationRecorder {
    /// Index = turn − 1.
    turns: Vec<TurnCounter>,
    started: u64,
    completed: u64,
    failed: u64,
    requests: u64,
    /// Completed conversations: first send → last answer, µs.
    duration: Dist,
    /// Σ output tokens of the completed conversations.
    completed_output_tokens: u64,
}

impl ConversationRecorder {
    /// Records one request; a sample that is no conversation's turn is ignored.
    pub fn record(&mut self, sample: &Sample) {
        let Some(turn) = sample.turn else {
            return;
        };
        if turn.turn == 1 {
            self.started += 1;
        }
        self.requests += 1;
        let at = turn.turn.saturating_sub(1) as usize;
        if self.turns.len() <= at {
            self.turns.resize_with(at + 1, TurnCounter::default);
        }
        let counter = &mut self.turns[at];
        match &sample.result {
            Ok(t) => {
                counter.completed += 1;
                counter.ttft.record(t.ttft_us);
                if let Some(input) = t.input_tokens {
                    counter.input_tokens += input;
                    counter.with_input += 1;
                }
                counter.cache.record(t);
                if turn.turn >= turn.turns {
                    self.completed += 1;
                    self.completed_output_tokens += turn.earlier_output_tokens + t.output_tokens;
                    let took = sample
                        .finished_at
                        .saturating_duration_since(turn.started_at);
                    self.duration.record(took.as_micros() as u64);
                }
            }
            // Cancelled by a skip or quit: cut, not failed.
            Err(e) if e.class == ErrorClass::Cancelled => {}
            Err(_) => {
                counter.failed += 1;
                self.failed += 1;
            }
        }
    }

    /// `None` when no conversation started.
    pub fn stats(&self) -> Option<ConversationStats> {
        if self.started == 0 {
            return None;
        }
        let duration = self.duration.stats();
        Some(ConversationStats {
            started: self.started,
            completed: self.completed,
            failed: self.failed,
            cut: self
                .started
                .saturating_sub(self.completed)
                .saturating_sub(self.failed),
            mean_turns: self.requests as f64 / self.started as f64,
            mean_duration_ms: duration.map(|d| d.mean_ms),
            median_duration_ms: duration.map(|d| d.p50_ms),
            p99_duration_ms: duration.map(|d| d.p99_ms),
            mean_output_tokens: (self.completed > 0)
                .then(|| self.completed_output_tokens as f64 / self.completed as f64),
            turns: self
                .turns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let ttft = c.ttft.stats();
                    TurnStats {
                        turn: i as u32 + 1,
                        completed: c.completed,
                        failed: c.failed,
                        mean_ttft_ms: ttft.map(|s| s.mean_ms),
                        median_ttft_ms: ttft.map(|s| s.p50_ms),
                        p99_ttft_ms: ttft.map(|s| s.p99_ms),
                        mean_input_tokens: (c.with_input > 0)
                            .then(|| c.input_tokens as f64 / c.with_input as f64),
                        cached_fraction: c.cache.stats().cached_fraction,
                    }
                })
                .collect(),
        })
    }
}
