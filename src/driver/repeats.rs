//! The warning when the same prompt reaches an engine more than once while `[prompts] cache`
//! is unset: an engine with a prefix cache answers the repeat from it, so the comparison
//! would measure caches. Said once per run: at the start when the planned levels already
//! repeat a prompt (counts known: requests per level, warmup requests), else when the first
//! repeat is sent (duration-bound levels, auto sweeps, shards).

use crate::plan::{Plan, RequestPos};

/// The warning, in results.json `warnings` and on the bus.
pub const REPEAT_WARNING: &str = "the same prompt reaches each engine more than once and [prompts] cache is unset: engines with a prefix cache answer repeats from it, so the comparison measures caches, not engines; set cache = \"bust\" (or \"warm\" to accept it)";

/// A set of prompt indexes.
struct Seen(Vec<u64>);

impl Seen {
    fn new(prompts: usize) -> Seen {
        Seen(vec![0; prompts.div_ceil(64)])
    }

    /// False when `prompt` was in the set already.
    fn insert(&mut self, prompt: usize) -> bool {
        let (word, bit) = (prompt / 64, 1u64 << (prompt % 64));
        let Some(w) = self.0.get_mut(word) else {
            return true;
        };
        let new = *w & bit == 0;
        *w |= bit;
        new
    }
}

/// True when the run as planned sends some prompt to an engine twice with the cache unset,
/// counting only requests whose number is known before the run (a count not cut by time).
/// Engines get the same sequence, so one engine's is checked. At most one more draw than
/// there are prompts is made (the pigeonhole).
pub fn planned_repeat(plan: &Plan) -> bool {
    let sweep = &plan.config.sweep;
    if plan.config.prompts.cache.is_some() || sweep.levels.is_auto() || plan.shard.is_some() {
        return false;
    }
    let warmup = match (sweep.warmup_requests, sweep.warmup_s) {
        (n, None) => n,
        // Cut by time: how many is not known.
        (_, Some(_)) => 0,
    };
    let mut seen = Seen::new(plan.prompts.len());
    for _trial in 1..=sweep.trials.max(1) {
        for (level_index, &level) in sweep.levels.iter().enumerate() {
            let measured = match sweep.duration_s {
                None => plan.request_limit(level).unwrap_or(0),
                Some(_) => 0,
            };
            // Conversations: a phase's count is of requests, its draws are conversations.
            let warmup = plan.conversation_budget(level_index, 1, true, warmup).0;
            let measured = plan.conversation_budget(level_index, 1, false, measured).0;
            let pos = |warmup: bool, index: u64| RequestPos {
                level_index,
                trial: 1,
                warmup,
                index,
            };
            let warmups = (0..warmup).map(|k| pos(true, k));
            for pos in warmups.chain((0..measured).map(|k| pos(false, k))) {
                if !seen.insert(plan.prompt_for(pos)) {
                    return true;
                }
            }
        }
    }
    false
}

/// Per engine, the prompts sent so far: says (once) when one is sent again.
pub struct RepeatWatch {
    seen: Vec<Seen>,
    armed: bool,
}

impl RepeatWatch {
    /// `armed`: the cache is unset and the warning was not given at the start.
    pub fn new(engines: usize, prompts: usize, armed: bool) -> RepeatWatch {
        let seen = if armed {
            (0..engines).map(|_| Seen::new(prompts)).collect()
        } else {
            Vec::new()
        };
        RepeatWatch { seen, armed }
    }

    /// True the first time, in the run, that a prompt reaches an engine a second time.
    pub fn sent(&mut self, engine: usize, prompt: usize) -> bool {
        if !self.armed {
            return false;
        }
        let repeat = self.seen.get_mut(engine).is_some_and(|s| !s.insert(prompt));
        if repeat {
            self.armed = false;
            self.seen = Vec::new();
        }
        repeat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_says_once_at_the_first_repeat_per_engine() {
        let mut watch = RepeatWatch::new(2, 130, true);
        assert!(!watch.sent(0, 129));
        assert!(!watch.sent(1, 129), "another engine's first");
        assert!(!watch.sent(0, 64));
        assert!(watch.sent(0, 129), "engine 0 again");
        assert!(!watch.sent(0, 129), "once per run");
        assert!(!watch.sent(1, 129));
        let mut off = RepeatWatch::new(2, 10, false);
        assert!(!off.sent(0, 1) && !off.sent(0, 1));
    }
}
