//! The byte stage of a streamed body, between the socket and eventsource-stream.
//!
//! eventsource-stream buffers without bound: an event that never ends, or a byte that is not
//! UTF-8 (after which its UTF-8 stage holds every later byte back, silently), would grow
//! its buffers until the process runs out of memory. [`guard`] checks every chunk before
//! the parser sees it: at most [`MAX_EVENT_BYTES`] since the last event boundary (a blank
//! line), and valid UTF-8 (a character split across chunks is fine). On the first
//! violation it yields one error and ends, so nothing more is read or buffered.

use std::future::ready;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};

/// Largest event (or line without a newline) accepted: 1 MiB.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Why a body stream stopped.
#[derive(Debug)]
pub enum BodyError<E> {
    /// The transport failed (connection reset, truncated chunked body, ...).
    Transport(E),
    /// More than [`MAX_EVENT_BYTES`] without an event boundary.
    TooLarge,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
}

impl<E: std::fmt::Display> std::fmt::Display for BodyError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Transport(e) => e.fmt(f),
            BodyError::TooLarge => f.write_str("event larger than 1 MiB"),
            BodyError::InvalidUtf8 => f.write_str("invalid UTF-8 in the stream"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for BodyError<E> {}

/// Per-stream state of the checks; feed it every chunk in order.
#[derive(Debug, Default, Clone)]
pub struct Guard {
    /// Bytes since the last event boundary.
    pending: usize,
    /// The current line has at least one byte (other than its terminator).
    in_line: bool,
    /// The previous byte was `\r` (so a `\n` now only completes a CRLF).
    after_cr: bool,
    /// The start of a UTF-8 character cut off at the end of the previous chunk.
    carry: [u8; 4],
    carry_len: usize,
    /// A check failed: the stream ends.
    failed: bool,
}

/// What [`Guard::check`] found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    TooLarge,
    InvalidUtf8,
}

impl Guard {
    /// Checks the next chunk of the body.
    pub fn check(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        if !self.utf8(bytes) {
            return Err(Violation::InvalidUtf8);
        }
        let mut rest = bytes;
        // Jumps from line terminator to line terminator: the bytes between are line content.
        while let Some(at) = memchr::memchr2(b'\n', b'\r', rest) {
            if at > 0 {
                self.in_line = true;
                self.after_cr = false;
            }
            self.pending += at + 1;
            if self.pending > MAX_EVENT_BYTES {
                return Err(Violation::TooLarge);
            }
            let b = rest[at];
            if b == b'\n' && self.after_cr {
                self.after_cr = false;
            } else {
                if !self.in_line {
                    // A blank line: the event ends here.
                    self.pending = 0;
                }
                self.in_line = false;
                self.after_cr = b == b'\r';
            }
            rest = &rest[at + 1..];
        }
        if !rest.is_empty() {
            self.in_line = true;
            self.after_cr = false;
            self.pending += rest.len();
            if self.pending > MAX_EVENT_BYTES {
                return Err(Violation::TooLarge);
            }
        }
        Ok(())
    }

    /// False on bytes that can never be UTF-8; keeps an incomplete trailing character.
    fn utf8(&mut self, mut bytes: &[u8]) -> bool {
        while self.carry_len > 0 {
            let Some((&first, rest)) = bytes.split_first() else {
                return true;
            };
            bytes = rest;
            self.carry[self.carry_len] = first;
            self.carry_len += 1;
            match std::str::from_utf8(&self.carry[..self.carry_len]) {
                Ok(_) => self.carry_len = 0,
                Err(e) if e.error_len().is_some() || self.carry_len == 4 => return false,
                Err(_) => {}
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => false,
            Err(e) => {
                let tail = &bytes[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len();
                true
            }
        }
    }
}

/// `body` checked by a [`Guard`]; `on_bytes` runs as each chunk arrives, before any check
/// or parsing (the client stamps arrival times there). Ends after the first error.
pub fn guard<S, B, E>(
    body: S,
    mut on_bytes: impl FnMut() + Send,
) -> impl Stream<Item = Result<B, BodyError<E>>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    body.scan(Guard::default(), move |guard, item| {
        let out = if guard.failed {
            None
        } else {
            match item {
                Ok(bytes) => {
                    on_bytes();
                    match guard.check(bytes.as_ref()) {
                        Ok(()) => Some(Ok(bytes)),
                        Err(v) => {
                            guard.failed = true;
                            Some(Err(match v {
                                Violation::TooLarge => BodyError::TooLarge,
                                Violation::InvalidUtf8 => BodyError::InvalidUtf8,
                            }))
                        }
                    }
                }
                Err(e) => {
                    guard.failed = true;
                    Some(Err(BodyError::Transport(e)))
                }
            }
        };
        ready(out)
    })
}

/// The client's whole pipeline from body chunks to SSE events: [`guard`], then
/// eventsource-stream. Ends after the first error.
pub fn events<S, B, E>(
    body: S,
    on_bytes: impl FnMut() + Send,
) -> impl Stream<Item = Result<Event, EventStreamError<BodyError<E>>>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    // Fused at the first error: eventsource-stream may add one of its own after it (for a
    // character the end of the stream cut in half).
    guard(body, on_bytes)
        .eventsource()
        .scan(false, |failed, item| {
            let out = (!*failed).then(|| {
                *failed = item.is_err();
                item
            });
            ready(out)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rules of [`Guard::check`] byte by byte: the reference its memchr jumps must match.
    fn reference(g: &mut Guard, bytes: &[u8]) -> Result<(), Violation> {
        for &b in bytes {
            g.pending += 1;
            if g.pending > MAX_EVENT_BYTES {
                return Err(Violation::TooLarge);
            }
            match b {
                b'\n' if g.after_cr => g.after_cr = false,
                b'\n' | b'\r' => {
                    if !g.in_line {
                        g.pending = 0;
                    }
                    g.in_line = false;
                    g.after_cr = b == b'\r';
                }
                _ => {
                    g.in_line = true;
                    g.after_cr = false;
                }
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn line_rules_match_the_bytewise_reference(
            pieces in prop::collection::vec(prop::collection::vec(
                prop::sample::select(vec![b'\n', b'\r', b'x', b':']), 0..40), 0..12),
            start in prop_oneof![0..100usize, MAX_EVENT_BYTES - 300..MAX_EVENT_BYTES + 1],
        ) {
            // Starting near the cap makes the size check fire inside the pieces.
            let mut fast = Guard { pending: start, ..Guard::default() };
            let mut slow = fast.clone();
            for piece in &pieces {
                let (a, b) = (fast.check(piece), reference(&mut slow, piece));
                prop_assert_eq!(a, b);
                if a.is_err() {
                    break;
                }
                prop_assert_eq!(
                    (fast.pending, fast.in_line, fast.after_cr),
                    (slow.pending, slow.in_line, slow.after_cr)
                );
            }
        }
    }

    #[test]
    fn boundaries_reset_the_count_whatever_the_line_ending() {
        for sep in ["\n\n", "\r\n\r\n", "\r\r", "\r\n\n"] {
            let mut g = Guard::default();
            let event = format!("data: {}{sep}", "x".repeat(MAX_EVENT_BYTES / 2));
            for _ in 0..4 {
                assert_eq!(g.check(event.as_bytes()), Ok(()), "{sep:?}");
            }
        }
        let mut g = Guard::default();
        let line = format!("data: {}\n", "x".repeat(MAX_EVENT_BYTES / 2));
        assert_eq!(g.check(line.as_bytes()), Ok(()));
        assert_eq!(g.check(line.as_bytes()), Err(Violation::TooLarge));
    }

    #[test]
    fn utf8_split_across_chunks_is_fine_invalid_is_not() {
        let text = "data: é€😀\n\n".as_bytes();
        for cut in 0..text.len() {
            let mut g = Guard::default();
            assert_eq!(g.check(&text[..cut]), Ok(()));
            assert_eq!(g.check(&text[cut..]), Ok(()), "cut at {cut}");
            assert_eq!(g.carry_len, 0);
        }
        let mut g = Guard::default();
        assert_eq!(g.check(b"data: \xff\n\n"), Err(Violation::InvalidUtf8));
        let mut g = Guard::default();
        assert_eq!(g.check(b"data: \xe2\x82"), Ok(()));
        assert_eq!(g.check(b"A\n\n"), Err(Violation::InvalidUtf8));
    }

    /// The chunks checked in order by one guard: the first violation, if any.
    fn check_all(chunks: &[&[u8]]) -> Result<(), Violation> {
        let mut g = Guard::default();
        chunks.iter().try_for_each(|c| g.check(c))
    }

    #[test]
    fn an_event_of_exactly_the_cap_is_accepted_one_byte_more_is_not() {
        // Every byte since the last boundary counts, the blank line's terminators included.
        let x = |n: usize| vec![b'x'; n];
        let cap = MAX_EVENT_BYTES;
        assert_eq!(check_all(&[&x(cap - 2), b"\n\n"]), Ok(()));
        assert_eq!(check_all(&[&x(cap - 1), b"\n\n"]), Err(Violation::TooLarge));
        assert_eq!(check_all(&[&x(cap - 2), b"\r\n"]), Ok(()));
        // A line still open at the end of a chunk: the cap itself is fine, one more is not.
        assert_eq!(check_all(&[&x(cap)]), Ok(()));
        assert_eq!(check_all(&[&x(cap), b"x"]), Err(Violation::TooLarge));
        assert_eq!(check_all(&[&x(cap - 1), b"xx"]), Err(Violation::TooLarge));
        // The count starts again after each boundary.
        assert_eq!(
            check_all(&[&x(cap - 2), b"\n\n", &x(cap - 2), b"\n\n", &x(cap)]),
            Ok(())
        );
    }

    #[test]
    fn an_invalid_byte_completing_a_split_character_fails_at_once() {
        // The chunk that makes the carried start of a character invalid is the violation,
        // even when it ends right there (nothing more may be needed to tell).
        assert_eq!(
            check_all(&[b"data: \xe2\x82", b"A"]),
            Err(Violation::InvalidUtf8)
        );
        assert_eq!(
            check_all(&[b"data: \xe2", b"A"]),
            Err(Violation::InvalidUtf8)
        );
        assert_eq!(
            check_all(&[b"data: \xf0", b"\x9f", b"\x98", b"A"]),
            Err(Violation::InvalidUtf8)
        );
        // The same bytes whole are still fine.
        assert_eq!(
            check_all(&[b"data: \xf0", b"\x9f", b"\x98", b"\x80\n\n"]),
            Ok(())
        );
    }
}
