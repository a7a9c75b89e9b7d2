//! Writing results as the run goes: `requests.jsonl` appended per request and flushed
//! whenever the driver has no more finished requests waiting (so at once at low load, and one
//! `write` per burst at high load), `results.json` replaced atomically after every level, so
//! a crash loses nothing measured.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::model::Report;
use crate::metrics::sample::RequestRecord;

/// The run's results folder.
#[derive(Debug)]
pub struct ResultsWriter {
    dir: PathBuf,
    jsonl: BufWriter<File>,
}

impl ResultsWriter {
    /// Creates `dir` (and parents) and opens `requests.jsonl` for appending.
    pub fn create(dir: &Path) -> io::Result<ResultsWriter> {
        std::fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("requests.jsonl"))?;
        Ok(ResultsWriter {
            dir: dir.to_path_buf(),
            jsonl: BufWriter::new(file),
        })
    }

    /// Reopens the folder of an interrupted run: `requests.jsonl` is rewritten (atomically)
    /// with only the lines `keep` accepts, then opened for appending.
    pub fn resume(dir: &Path, keep: impl Fn(&str) -> bool) -> io::Result<ResultsWriter> {
        let path = dir.join("requests.jsonl");
        let text = std::fs::read_to_string(&path)?;
        let mut kept = String::with_capacity(text.len());
        for line in text.lines().filter(|line| keep(line)) {
            kept.push_str(line);
            kept.push('\n');
        }
        write_atomic(&path, kept.as_bytes())?;
        ResultsWriter::create(dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one request line to the buffer; [`ResultsWriter::flush`] hands it to the OS.
    pub fn append(&mut self, record: &RequestRecord<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.jsonl, record)?;
        self.jsonl.write_all(b"\n")
    }

    /// Hands every appended line to the OS.
    pub fn flush(&mut self) -> io::Result<()> {
        self.jsonl.flush()
    }

    /// Flushes `requests.jsonl`, then replaces `results.json`: the report never counts a
    /// request whose line is not yet in the file.
    pub fn write_report(&mut self, report: &Report) -> io::Result<()> {
        self.flush()?;
        let mut bytes = serde_json::to_vec_pretty(report)?;
        bytes.push(b'\n');
        write_atomic(&self.dir.join("results.json"), &bytes)
    }
}

/// Writes `path` via a temporary file and a rename, so readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
    }
    std::fs::rename(&tmp, path)
}
