//! Server-sent events from a streamed body, in one pass over its bytes.
//!
//! Each body chunk is stamped as it arrives (`on_bytes`, before anything reads it), then
//! walked once from line end to line end with `memchr`: a `data:` line's value is kept as a
//! slice of the chunk — no copy — unless the event spans chunks or has several data lines
//! (then the values are copied into one buffer, joined by `\n`, as the SSE specification
//! says). A blank line ends the event; `event:`, `id:`, `retry:` and comments are skipped.
//! Lines end with LF, CRLF or CR, also when a chunk boundary falls between CR and LF.
//!
//! Bounded: at most [`MAX_EVENT_BYTES`] since the last event boundary, terminators included;
//! past that one error ends the stream, so a hostile stream cannot grow the buffers. The
//! data is handed on as bytes: it is UTF-8-checked where it is read (serde_json checks every
//! string it deserialises), not in a pass of its own.
//!
//! This replaces eventsource-stream on the hot path (it stays a dev-dependency, as the
//! reference the property tests compare against): its parser allocates a `String` per line
//! and field, and needs a guard pass of its own before it (it holds back, without bound,
//! every byte after one that is not UTF-8).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

/// Largest event (or line without a newline) accepted: 1 MiB.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Why a body stream stopped.
#[derive(Debug)]
pub enum BodyError<E> {
    /// The transport failed (connection reset, truncated chunked body, ...).
    Transport(E),
    /// More than [`MAX_EVENT_BYTES`] without an event boundary.
    TooLarge,
}

impl<E: std::fmt::Display> std::fmt::Display for BodyError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Transport(e) => e.fmt(f),
            BodyError::TooLarge => f.write_str("event larger than 1 MiB"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for BodyError<E> {}

/// The events of `body`, each its data (lines joined by `\n`); `on_bytes` runs as each
/// chunk arrives, before it is read. Ends after the first error.
pub fn events<S, B, E, F>(body: S, on_bytes: F) -> Events<S, F>
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
    F: FnMut(),
{
    Events {
        body: Box::pin(body),
        on_bytes,
        split: Splitter::default(),
        chunk: Bytes::new(),
        at: 0,
        ended: false,
    }
}

/// See [`events`].
pub struct Events<S, F> {
    body: Pin<Box<S>>,
    on_bytes: F,
    split: Splitter,
    /// The chunk being walked, and how far.
    chunk: Bytes,
    at: usize,
    /// The body ended or failed: nothing more comes.
    ended: bool,
}

impl<S, B, E, F> Stream for Events<S, F>
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
    F: FnMut() + Unpin,
{
    type Item = Result<Bytes, BodyError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            if this.at < this.chunk.len() {
                match this.split.walk(&this.chunk, &mut this.at) {
                    Ok(Some(event)) => return Poll::Ready(Some(Ok(event))),
                    Ok(None) => {}
                    Err(TooLarge) => {
                        this.ended = true;
                        return Poll::Ready(Some(Err(BodyError::TooLarge)));
                    }
                }
                continue;
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(BodyError::Transport(e))));
                }
                Poll::Ready(Some(Ok(bytes))) => {
                    (this.on_bytes)();
                    this.chunk = bytes.into();
                    this.at = 0;
                }
            }
        }
    }
}

/// UTF-8's byte order mark: dropped at the start of a stream, as the specification says.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// More than [`MAX_EVENT_BYTES`] since the last boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// The line and event state carried from chunk to chunk.
#[derive(Debug, Default)]
pub struct Splitter {
    /// A line the previous chunk ended inside.
    partial: BytesMut,
    /// The event's data so far, when it had to be copied (several lines, or spanning chunks).
    data: BytesMut,
    /// The event's one data line so far, as a slice of its chunk (not copied).
    single: Option<Bytes>,
    /// The event has a data line (possibly empty).
    has_data: bool,
    /// The previous chunk ended with CR: an LF starting this one completes it.
    skip_lf: bool,
    /// Bytes since the last event boundary.
    pending: usize,
    /// Past the stream's first bytes (where a byte order mark is dropped).
    started: bool,
}

impl Splitter {
    /// Walks `chunk` from `*at` to its next complete event (returned, `*at` just past it) or
    /// to its end (`None`; an unfinished line is kept for the next chunk).
    pub fn walk(&mut self, chunk: &Bytes, at: &mut usize) -> Result<Option<Bytes>, TooLarge> {
        let bytes = &chunk[..];
        if !std::mem::replace(&mut self.started, true) && bytes[*at..].starts_with(BOM) {
            *at += BOM.len();
        }
        if std::mem::take(&mut self.skip_lf) && bytes.get(*at) == Some(&b'\n') {
            *at += 1;
            self.count(1)?;
        }
        while *at < bytes.len() {
            let rest = &bytes[*at..];
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                self.count(rest.len())?;
                self.partial.extend_from_slice(rest);
                *at = bytes.len();
                return Ok(None);
            };
            let mut used = end + 1;
            if rest[end] == b'\r' {
                match rest.get(end + 1) {
                    Some(b'\n') => used += 1,
                    None => self.skip_lf = true,
                    Some(_) => {}
                }
            }
            self.count(used)?;
            let start = *at;
            *at += used;
            let event = if self.partial.is_empty() {
                self.line(&bytes[start..start + end], Some((chunk, start)))
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..end]);
                let event = self.line(&line, None);
                line.clear();
                self.partial = line;
                event
            };
            if event.is_some() {
                self.pending = 0;
                return Ok(event);
            }
        }
        Ok(None)
    }

    fn count(&mut self, n: usize) -> Result<(), TooLarge> {
        self.pending += n;
        if self.pending > MAX_EVENT_BYTES {
            return Err(TooLarge);
        }
        Ok(())
    }

    /// One complete line (terminator removed). `source` is the chunk holding it and where it
    /// starts there, when it lies in one chunk: a data value is then sliced, not copied.
    fn line(&mut self, line: &[u8], source: Option<(&Bytes, usize)>) -> Option<Bytes> {
        if line.is_empty() {
            self.pending = 0;
            return self.dispatch();
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => return None,
            Some(colon) => {
                let value = colon + 1 + usize::from(line.get(colon + 1) == Some(&b' '));
                (&line[..colon], value)
            }
            None => (line, line.len()),
        };
        if field != b"data" {
            return None;
        }
        let text = &line[value..];
        if !self.has_data {
            self.has_data = true;
            if let Some((chunk, start)) = source {
                self.single = Some(chunk.slice(start + value..start + line.len()));
                return None;
            }
        } else {
            if let Some(first) = self.single.take() {
                self.data.extend_from_slice(&first);
            }
            self.data.extend_from_slice(b"\n");
        }
        self.data.extend_from_slice(text);
        None
    }

    /// A blank line: the event's data, if it had a data line.
    fn dispatch(&mut self) -> Option<Bytes> {
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(match self.single.take() {
            Some(data) => data,
            None => self.data.split().freeze(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{FutureExt, StreamExt};

    /// Every item of `chunks` through [`events`], as text (`Err` for the error).
    fn run(chunks: &[&[u8]]) -> Vec<Result<String, String>> {
        let body = futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, std::convert::Infallible>(Bytes::copy_from_slice(c))),
        );
        events(body, || {})
            .map(|item| match item {
                Ok(data) => Ok(String::from_utf8_lossy(&data).into_owned()),
                Err(e) => Err(e.to_string()),
            })
            .collect::<Vec<_>>()
            .now_or_never()
            .expect("in memory")
    }

    #[test]
    fn fields_comments_and_line_endings_follow_the_specification() {
        let body = b": a comment\nevent: chunk\nid: 7\ndata: one\ndata:two\ndata\n\n\
                     retry: 5\n\ndata: crlf\r\n\r\ndata: cr\r\rdata:  two spaces\n\n";
        assert_eq!(
            run(&[body]),
            [
                Ok("one\ntwo\n".to_string()),
                Ok("crlf".into()),
                Ok("cr".into()),
                Ok(" two spaces".into()),
            ]
        );
        // A blank line with no data before it dispatches nothing; an unfinished event at the
        // end of the body is dropped.
        assert_eq!(
            run(&[b"\n\n\ndata: last"]),
            Vec::<Result<String, String>>::new()
        );
    }

    #[test]
    fn a_byte_order_mark_is_dropped_at_the_start_only() {
        assert_eq!(
            run(&[b"\xEF\xBB\xBFdata: a\n\ndata: \xEF\xBB\xBFb\n\n"]),
            [Ok("a".to_string()), Ok("\u{feff}b".into())]
        );
    }

    #[test]
    fn a_cr_at_the_end_of_a_chunk_pairs_with_the_lf_that_starts_the_next() {
        assert_eq!(
            run(&[b"data: a\r", b"\n\r", b"\ndata: b\r", b"\r"]),
            [Ok("a".to_string()), Ok("b".into())]
        );
    }

    #[test]
    fn a_data_line_in_one_chunk_is_sliced_not_copied() {
        let chunk = Bytes::from_static(b"data: {\"x\":1}\n\ndata: a\ndata: b\n\n");
        let mut split = Splitter::default();
        let mut at = 0;
        let first = split.walk(&chunk, &mut at).unwrap().unwrap();
        assert_eq!(&first[..], b"{\"x\":1}");
        // The same memory as the chunk's.
        assert_eq!(first.as_ptr(), chunk[6..].as_ptr());
        let second = split.walk(&chunk, &mut at).unwrap().unwrap();
        assert_eq!(&second[..], b"a\nb");
        assert_eq!(at, chunk.len());
        assert_eq!(split.walk(&chunk, &mut at), Ok(None));
    }

    /// The bytes `chunks` through one splitter: the first error, if any.
    fn check_all(chunks: &[&[u8]]) -> Result<(), TooLarge> {
        let mut split = Splitter::default();
        for c in chunks {
            let chunk = Bytes::copy_from_slice(c);
            let mut at = 0;
            while at < chunk.len() {
                split.walk(&chunk, &mut at)?;
            }
        }
        Ok(())
    }

    #[test]
    fn an_event_of_exactly_the_cap_is_accepted_one_byte_more_is_not() {
        // Every byte since the last boundary counts, the blank line's terminators included.
        let x = |n: usize| {
            let mut v = b"data: ".to_vec();
            v.resize(n, b'x');
            v
        };
        let cap = MAX_EVENT_BYTES;
        assert_eq!(check_all(&[&x(cap - 2), b"\n\n"]), Ok(()));
        assert_eq!(check_all(&[&x(cap - 1), b"\n\n"]), Err(TooLarge));
        assert_eq!(check_all(&[&x(cap - 2), b"\r\n"]), Ok(()));
        // A line still open at the end of a chunk: the cap itself is fine, one more is not.
        assert_eq!(check_all(&[&x(cap)]), Ok(()));
        assert_eq!(check_all(&[&x(cap), b"x"]), Err(TooLarge));
        assert_eq!(check_all(&[&x(cap - 1), b"xx"]), Err(TooLarge));
        // The count starts again after each boundary, whatever the line ending.
        for sep in [&b"\n\n"[..], b"\r\n\r\n", b"\r\r", b"\r\n\n"] {
            let event = [x(cap / 2), sep.to_vec()].concat();
            assert_eq!(
                check_all(&[&event, &event, &event, &event]),
                Ok(()),
                "{sep:?}"
            );
        }
        // Lines without a blank one between them are one event.
        let line = [x(cap / 2), b"\n".to_vec()].concat();
        assert_eq!(check_all(&[&line, &line]), Err(TooLarge));
        // The error ends the stream.
        let items = run(&[&x(cap + 1), b"\n\ndata: later\n\n"]);
        assert_eq!(items, [Err("event larger than 1 MiB".to_string())]);
    }
}
