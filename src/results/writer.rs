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

/// Most runs that may share a name in one second: `<name>`, `<name>-2`, … `<name>-1000`.
const MAX_SUFFIX: u32 = 1000;

/// Creates a new results folder for run `name` under `parent` (created first, with its
/// parents): `<parent>/<name>`, or `<name>-2`, `<name>-3`, … when that folder exists (another
/// run started in the same second). Returns the folder and its name, the run's name.
pub fn create_run_dir(parent: &Path, name: &str) -> io::Result<(PathBuf, String)> {
    std::fs::create_dir_all(parent)?;
    for n in 1..=MAX_SUFFIX {
        let candidate = match n {
            1 => name.to_string(),
            n => format!("{name}-{n}"),
        };
        let dir = parent.join(&candidate);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((dir, candidate)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{}: {MAX_SUFFIX} results folders named {name} already exist",
            parent.display()
        ),
    ))
}

impl ResultsWriter {
    /// Creates `dir` (and parents) if missing, and a new `requests.jsonl` in it: the folder
    /// of another run (one with a `requests.jsonl`) is refused, never appended to.
    pub fn create(dir: &Path) -> io::Result<ResultsWriter> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("requests.jsonl");
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(ResultsWriter::with(dir, file))
    }

    fn with(dir: &Path, jsonl: File) -> ResultsWriter {
        ResultsWriter {
            dir: dir.to_path_buf(),
            jsonl: BufWriter::new(jsonl),
        }
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
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(ResultsWriter::with(dir, file))
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
        write_report_file(&self.dir.join("results.json"), report)
    }
}

/// Marks the saved run in `dir` as failed, for when the driver could not (it panicked, or
/// writing the results failed): status `failed`, an end time, and `why` as a warning. Every
/// level saved before is kept. When the usual temporary file cannot be written (say a
/// directory sits at `results.json.tmp`), a second one is tried; `results.json` is only ever
/// replaced whole. An error names the file: no `results.json` (the folder was removed, or
/// nothing was written yet) is one.
pub fn mark_failed(dir: &Path, finished_at: String, why: &str) -> io::Result<()> {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).map_err(|e| in_file(&path, e))?;
    let mut report: Report = serde_json::from_str(&text).map_err(|e| in_file(&path, e.into()))?;
    report.status = super::model::RunStatus::Failed;
    report.finished_at = Some(finished_at);
    report
        .warnings
        .push(format!("llmsweep failed mid-run: {why}"));
    let bytes = report_bytes(&report)?;
    write_atomic(&path, &bytes).or_else(|first| {
        write_via(&path, &suffixed(&path, ".failed.tmp"), &bytes)
            .map_err(|second| io::Error::new(second.kind(), format!("{first}; {second}")))
    })
}

/// `report` as pretty JSON with a final newline, written atomically to `path`.
fn write_report_file(path: &Path, report: &Report) -> io::Result<()> {
    write_atomic(path, &report_bytes(report)?)
}

fn report_bytes(report: &Report) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(report)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `path` via `<path>.tmp` and a rename, so readers never see half a file. Errors
/// name the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_via(path, &suffixed(path, ".tmp"), bytes)
}

fn write_via(path: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let write = || -> io::Result<()> {
        let mut file = File::create(tmp)?;
        file.write_all(bytes)?;
        file.sync_data()
    };
    write().map_err(|e| in_file(tmp, e))?;
    std::fs::rename(tmp, path).map_err(|e| in_file(path, e))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `e`, its message prefixed with `path`.
fn in_file(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::model::RunStatus;

    #[test]
    fn a_run_whose_driver_died_is_marked_failed_with_its_levels_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = mark_failed(dir.path(), "t".into(), "boom").unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(
            missing
                .to_string()
                .starts_with(&format!("{}: ", dir.path().join("results.json").display())),
            "{missing}"
        );
        assert!(!dir.path().join("results.json").exists());

        let mut writer = ResultsWriter::create(dir.path()).expect("writer");
        let report = Report {
            run_name: "r".into(),
            engines: vec![Default::default()],
            ..Report::default()
        };
        writer.write_report(&report).expect("write");
        mark_failed(
            dir.path(),
            "2026-11-28T06:00:00Z".into(),
            "the sweep driver failed: panic",
        )
        .expect("mark");
        let text = std::fs::read_to_string(dir.path().join("results.json")).expect("read");
        let saved: Report = serde_json::from_str(&text).expect("parse");
        assert_eq!(saved.status, RunStatus::Failed);
        assert_eq!(saved.finished_at.as_deref(), Some("2026-11-28T06:00:00Z"));
        assert_eq!(saved.engines, report.engines);
        assert_eq!(
            saved.warnings,
            ["llmsweep failed mid-run: the sweep driver failed: panic"]
        );
    }

    #[test]
    fn marking_failed_gets_past_a_blocked_temporary_file_and_never_half_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = ResultsWriter::create(dir.path()).expect("writer");
        writer.write_report(&Report::default()).expect("write");
        // Tests run as root, so a directory, not permissions, blocks the temporary file.
        std::fs::create_dir(dir.path().join("results.json.tmp")).expect("block");
        let blocked = writer.write_report(&Report::default()).unwrap_err();
        assert!(
            blocked.to_string().contains("results.json.tmp: "),
            "{blocked}"
        );
        mark_failed(dir.path(), "t".into(), "disk trouble").expect("mark");
        let text = std::fs::read_to_string(dir.path().join("results.json")).expect("read");
        let saved: Report = serde_json::from_str(&text).expect("parse");
        assert_eq!(saved.status, RunStatus::Failed);
        assert_eq!(saved.warnings, ["llmsweep failed mid-run: disk trouble"]);

        // Both temporary files blocked: results.json is left as it was.
        std::fs::remove_file(dir.path().join("results.json.failed.tmp")).ok();
        std::fs::create_dir(dir.path().join("results.json.failed.tmp")).expect("block");
        let error = mark_failed(dir.path(), "t2".into(), "again").unwrap_err();
        assert!(
            error.to_string().contains("results.json.failed.tmp: "),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("results.json")).expect("read"),
            text
        );
    }

    #[test]
    fn a_new_run_gets_a_folder_of_its_own() {
        let parent = tempfile::tempdir().expect("tempdir");
        let parent = parent.path().join("results");
        let names: Vec<String> = (0..3)
            .map(|_| {
                create_run_dir(&parent, "r-20261128T041500Z")
                    .expect("create")
                    .1
            })
            .collect();
        assert_eq!(
            names,
            [
                "r-20261128T041500Z",
                "r-20261128T041500Z-2",
                "r-20261128T041500Z-3"
            ]
        );
        for name in &names {
            assert!(parent.join(name).is_dir());
        }
        // A folder that already holds a run's requests is never appended to.
        let dir = parent.join(&names[0]);
        ResultsWriter::create(&dir).expect("first writer");
        let taken = ResultsWriter::create(&dir).unwrap_err();
        assert_eq!(taken.kind(), io::ErrorKind::AlreadyExists);
    }
}
