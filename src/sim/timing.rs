//! `--timing-log`: the simulator's own view of each streamed request's time to first token.
//!
//! One JSON line per request that reached its first content chunk:
//! `{"request_id":"…","server_ttft_us":N,"server_first_chunk_us":M}`, where `server_ttft_us`
//! runs from the handler receiving the parsed request to the first content chunk being handed
//! to the HTTP layer for writing, and `server_first_chunk_us` to the first chunk of any kind
//! (the role-only chunk of a chat reply; for clients that stamp TTFT on it, as vLLM's own
//! benchmark clients do). Joined on `X-Request-Id` with the client's `requests.jsonl`,
//! `ttft − server_ttft` is the time the client (and the loopback between) added:
//! `scripts/bench-load.py` and `scripts/bench-ttft.py` report it.

use std::fs::File;
use std::io::{self, LineWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// The open log; each line is written as its first token goes out, so the log can be read
/// while the simulator runs.
#[derive(Debug)]
pub(crate) struct TimingLog {
    file: Mutex<LineWriter<File>>,
}

impl TimingLog {
    /// Creates (or truncates) the log; the error names the flag and the path.
    pub(crate) fn create(path: &Path) -> io::Result<TimingLog> {
        let file = File::create(path).map_err(|e| {
            io::Error::new(e.kind(), format!("--timing-log {}: {e}", path.display()))
        })?;
        Ok(TimingLog {
            file: Mutex::new(LineWriter::new(file)),
        })
    }

    fn record(&self, request_id: &str, server_ttft_us: u64, server_first_chunk_us: u64) {
        let line = serde_json::json!({
            "request_id": request_id,
            "server_ttft_us": server_ttft_us,
            "server_first_chunk_us": server_first_chunk_us,
        });
        if let Ok(mut file) = self.file.lock() {
            // A full disk loses timing lines, never the served stream.
            let _ = writeln!(file, "{line}");
        }
    }

    pub(crate) fn flush(&self) -> io::Result<()> {
        match self.file.lock() {
            Ok(mut file) => file.flush(),
            Err(_) => Ok(()),
        }
    }
}

/// One request's pending first-token stamp: the clock starts when the request arrives.
pub(crate) struct FirstToken {
    /// When the handler received the request.
    received: Instant,
    /// When a chunk before the first content chunk (the role chunk) was handed over.
    first_chunk: Option<Instant>,
    /// The log and the request's id, when there is a log and the request has an id.
    log: Option<(Arc<TimingLog>, String)>,
}

impl FirstToken {
    /// Starts the clock for a request; it is logged only with a log and a request id.
    pub(crate) fn start(log: Option<&Arc<TimingLog>>, request_id: Option<&str>) -> Self {
        FirstToken {
            received: Instant::now(),
            first_chunk: None,
            log: log
                .zip(request_id)
                .map(|(l, id)| (l.clone(), id.to_string())),
        }
    }

    /// When the request arrived.
    pub(crate) fn received(&self) -> Instant {
        self.received
    }

    /// A chunk before the first content chunk (the role chunk) is being handed over now;
    /// stamped only for the log.
    pub(crate) fn chunk_before(&mut self) {
        if self.log.is_some() {
            self.first_chunk.get_or_insert_with(Instant::now);
        }
    }

    /// The first content chunk is being handed over now: logs the server-side TTFT (when
    /// logged) and returns it, for `vllm:time_to_first_token_seconds`.
    pub(crate) fn stamp(self) -> Duration {
        let ttft = self.received.elapsed();
        if let Some((log, request_id)) = &self.log {
            let first = self.first_chunk.map_or(ttft, |at| at - self.received);
            log.record(
                request_id,
                ttft.as_micros() as u64,
                first.as_micros() as u64,
            );
        }
        ttft
    }
}
