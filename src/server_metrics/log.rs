//! metrics.jsonl: one line per scrape, written as it comes (a later failure loses nothing).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde_json::Value;

/// The run's metrics.jsonl, opened on its first line.
pub struct MetricsLog {
    path: std::path::PathBuf,
    file: Option<BufWriter<File>>,
}

impl MetricsLog {
    /// metrics.jsonl in the run folder `dir`; nothing is created until a scrape is logged.
    pub fn new(dir: &Path) -> MetricsLog {
        MetricsLog {
            path: dir.join("metrics.jsonl"),
            file: None,
        }
    }

    /// Appends one line and flushes it.
    pub fn append(&mut self, line: &Value) -> io::Result<()> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.file = Some(BufWriter::new(file));
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        serde_json::to_writer(&mut *file, line)?;
        file.write_all(b"\n")?;
        file.flush()
    }
}
