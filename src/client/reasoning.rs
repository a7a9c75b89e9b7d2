//! One stream's reasoning, followed chunk by chunk: when it started, when the answer after
//! it started (TTFA), and how many reasoning tokens it took. A few integers, no allocation:
//! it runs once per output chunk, on times stamped at arrival.

use super::Timings;

/// What a stream's output chunks said about reasoning so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reasoning {
    /// Arrival of the first reasoning chunk, µs after send.
    first_us: Option<u64>,
    /// Arrival of the first answer chunk since the last reasoning chunk, µs after send.
    answer_us: Option<u64>,
    /// Output chunks that carried reasoning.
    chunks: u64,
    /// The latest usage's reasoning token count, when it gave one.
    pub(crate) usage_tokens: Option<u64>,
}

impl Reasoning {
    /// An output chunk that arrived at `at_us` carrying reasoning, answer, or both (then the
    /// answer follows the reasoning: it is the answer's first chunk).
    pub(crate) fn chunk(&mut self, at_us: u64, reasoning: bool, answer: bool) {
        if reasoning {
            self.chunks += 1;
            self.first_us.get_or_insert(at_us);
            // Reasoning again: the answer starts after it, not before.
            self.answer_us = None;
        }
        if answer {
            self.answer_us.get_or_insert(at_us);
        }
    }

    /// Fills the reasoning fields of a finished stream's `timings`.
    pub(crate) fn finish(&self, timings: &mut Timings) {
        timings.ttfr_us = self.first_us;
        timings.ttfa_us = self.answer_us;
        // SGLang sends `reasoning_tokens: 0` for every reply, so 0 is no count: the chunks
        // decide then.
        match (self.usage_tokens.filter(|&n| n > 0), self.chunks) {
            (Some(n), _) => timings.reasoning_tokens = Some(n),
            (None, 0) => {}
            (None, chunks) => {
                timings.reasoning_tokens = Some(chunks);
                timings.reasoning_tokens_estimated = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(r: &Reasoning) -> Timings {
        let mut t = Timings::default();
        r.finish(&mut t);
        t
    }

    #[test]
    fn without_reasoning_the_first_answer_is_the_first_output() {
        let mut r = Reasoning::default();
        r.chunk(30, false, true);
        r.chunk(40, false, true);
        let t = finish(&r);
        assert_eq!(
            (t.ttfr_us, t.ttfa_us, t.reasoning_tokens),
            (None, Some(30), None)
        );
        assert!(!t.reasoning_tokens_estimated);
    }

    #[test]
    fn the_answer_is_the_first_answer_chunk_after_the_last_reasoning_chunk() {
        let mut r = Reasoning::default();
        // A stray answer chunk before the reasoning does not count as the answer.
        r.chunk(10, false, true);
        r.chunk(20, true, false);
        r.chunk(30, true, false);
        r.chunk(50, false, true);
        r.chunk(60, false, true);
        let t = finish(&r);
        assert_eq!((t.ttfr_us, t.ttfa_us), (Some(20), Some(50)));
        assert_eq!(t.reasoning_tokens, Some(2));
        assert!(t.reasoning_tokens_estimated, "counted from chunks");
        // A chunk carrying the end of the reasoning and the start of the answer.
        let mut both = Reasoning::default();
        both.chunk(20, true, false);
        both.chunk(35, true, true);
        let t = finish(&both);
        assert_eq!((t.ttfr_us, t.ttfa_us), (Some(20), Some(35)));
    }

    #[test]
    fn reasoning_that_never_ends_has_no_answer() {
        let mut r = Reasoning::default();
        r.chunk(20, true, false);
        r.chunk(30, false, true);
        // Reasoning again, and the stream ends in it.
        r.chunk(40, true, false);
        let t = finish(&r);
        assert_eq!((t.ttfr_us, t.ttfa_us), (Some(20), None));
    }

    #[test]
    fn the_engines_count_wins_over_the_chunks_unless_it_is_zero() {
        let mut r = Reasoning::default();
        r.chunk(20, true, false);
        r.chunk(30, true, false);
        r.usage_tokens = Some(9);
        let t = finish(&r);
        assert_eq!(t.reasoning_tokens, Some(9));
        assert!(!t.reasoning_tokens_estimated);
        // SGLang's 0 beside reasoning chunks: counted from the chunks.
        r.usage_tokens = Some(0);
        let t = finish(&r);
        assert_eq!(t.reasoning_tokens, Some(2));
        assert!(t.reasoning_tokens_estimated);
        // An engine that counts reasoning the stream did not show (hidden reasoning).
        let hidden = Reasoning {
            usage_tokens: Some(5),
            ..Reasoning::default()
        };
        assert_eq!(finish(&hidden).reasoning_tokens, Some(5));
        // Neither: no reasoning at all.
        let none = Reasoning {
            usage_tokens: Some(0),
            ..Reasoning::default()
        };
        assert_eq!(finish(&none).reasoning_tokens, None);
    }
}
