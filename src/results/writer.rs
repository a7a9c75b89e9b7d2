//! Writing results as the run goes: `requests.jsonl` appended per request and flushed
//! whenever the driver has no more finished requests waiting (so at once at low load, and one
//! `write` per burst at high load), `results.json` replaced atomically after every level, so
//! a crash loses nothing measured.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::model::Report;
use super::resume::line_level;
use crate::metrics::sample::RequestRecord;

/// The run's results folder.
#[derive(Debug)]
pub struct ResultsWriter {
    dir: PathBuf,
    jsonl: BufWriter<File>,
    /// Bytes at the start of `requests.jsonl` written before `run --resume` (0 for a new
    /// run): the saved lines, which a re-run may replace.
    saved_len: u64,
}

/// Which lines of a level [`ResultsWriter::drop_level_lines`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The lines saved before `run --resume`: the level's re-run replaces them.
    Saved,
    /// The lines written since: the re-run is dropped and the saved attempt kept.
    New,
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
            saved_len: 0,
        }
    }

    /// Reopens the folder of an interrupted run: `requests.jsonl` is rewritten (atomically)
    /// with only the lines `keep` accepts, then opened for appending. The lines kept are the
    /// saved ones of [`Attempt::Saved`].
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
        Ok(ResultsWriter {
            saved_len: kept.len() as u64,
            ..ResultsWriter::with(dir, file)
        })
    }

    /// Removes one attempt's lines of level `level_index` of `engine` from `requests.jsonl`
    /// (an atomic rewrite; every other line stays, in order) and returns how many went.
    /// `levels` are the sweep's levels (saved lines older than `level_index` name only a
    /// value). Call it once the re-run of a pending level has finished and before the
    /// report that replaces (or keeps) the level's summary is written: a crash in between
    /// leaves the level pending, never counted twice.
    pub fn drop_level_lines(
        &mut self,
        engine: &str,
        level_index: usize,
        levels: &[f64],
        attempt: Attempt,
    ) -> io::Result<usize> {
        let range = match attempt {
            Attempt::Saved => 0..self.saved_len,
            Attempt::New => self.saved_len..u64::MAX,
        };
        if range.is_empty() {
            return Ok(0);
        }
        self.flush()?;
        let path = self.dir.join("requests.jsonl");
        let tmp = suffixed(&path, ".tmp");
        let of_level = |line: &[u8]| {
            std::str::from_utf8(line)
                .ok()
                .and_then(|line| line_level(line.trim_end(), levels))
                .is_some_and(|(e, i)| e == engine && i == level_index)
        };
        let (removed, removed_bytes) =
            copy_without(&path, &tmp, range, of_level).map_err(|e| in_file(&tmp, e))?;
        if removed == 0 {
            std::fs::remove_file(&tmp).map_err(|e| in_file(&tmp, e))?;
            return Ok(0);
        }
        std::fs::rename(&tmp, &path).map_err(|e| in_file(&path, e))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| in_file(&path, e))?;
        self.jsonl = BufWriter::new(file);
        if attempt == Attempt::Saved {
            self.saved_len -= removed_bytes;
        }
        Ok(removed)
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
    /// Shard mode: a level's latency histograms as `hlog/<file>`, an HdrHistogram interval
    /// log (see [`crate::shard::hlog`]), written atomically.
    pub fn write_hlog(
        &self,
        file: &str,
        comment: &str,
        start: std::time::SystemTime,
        duration: std::time::Duration,
        histograms: &[(&str, &hdrhistogram::Histogram<u64>)],
    ) -> io::Result<()> {
        let dir = self.dir().join("hlog");
        std::fs::create_dir_all(&dir).map_err(|e| in_file(&dir, e))?;
        let bytes = crate::shard::hlog::serialize(comment, start, duration, histograms)
            .map_err(io::Error::other)?;
        write_atomic(&dir.join(file), &bytes)
    }

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

/// Copies `from` to `to` (synced) without the lines starting within byte `range` that
/// `drop` accepts. Returns the lines dropped and their bytes.
fn copy_without(
    from: &Path,
    to: &Path,
    range: std::ops::Range<u64>,
    drop: impl Fn(&[u8]) -> bool,
) -> io::Result<(usize, u64)> {
    let mut reader = BufReader::new(File::open(from)?);
    let mut out = BufWriter::new(File::create(to)?);
    let (mut at, mut removed, mut removed_bytes) = (0u64, 0usize, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)? as u64;
        if n == 0 {
            break;
        }
        if range.contains(&at) && drop(&line) {
            removed += 1;
            removed_bytes += n;
        } else {
            out.write_all(&line)?;
        }
        at += n;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_data()?;
    Ok((removed, removed_bytes))
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

    fn lines(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("requests.jsonl"))
            .expect("read")
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_pending_levels_saved_lines_stay_until_its_rerun_replaces_them() {
        use crate::results::model::{EngineReport, LevelStatus, LevelSummary, Workload};
        use crate::results::resume::continue_run;

        let levels = [1.0, 2.0, 4.0];
        let summary = |level: f64, status: LevelStatus| LevelSummary {
            level,
            status,
            ..Default::default()
        };
        let engine = |name: &str, levels: Vec<LevelSummary>| EngineReport {
            name: name.into(),
            levels,
            ..Default::default()
        };
        // Saved: a ran level 0 complete and was cut in level 1; b was cut in its level 0.
        let saved = Report {
            workload: Workload {
                levels: levels.to_vec(),
                ..Default::default()
            },
            engines: vec![
                engine(
                    "a",
                    vec![
                        summary(1.0, LevelStatus::Complete),
                        summary(2.0, LevelStatus::Skipped),
                    ],
                ),
                engine("b", vec![summary(1.0, LevelStatus::Skipped)]),
            ],
            ..Default::default()
        };
        let line = |e: &str, i: usize, n: u32| {
            format!(
                r#"{{"engine":"{e}","level":{},"level_index":{i},"request_index":{n}}}"#,
                levels[i]
            )
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let saved_lines = [
            line("a", 0, 0),
            line("a", 1, 0),
            // Written before level_index existed: level 2.0 is the index 1 only.
            r#"{"engine":"a","level":2.0,"request_index":1}"#.to_string(),
            line("b", 0, 0),
            "{half a line".to_string(),
        ];
        std::fs::write(
            dir.path().join("requests.jsonl"),
            saved_lines.join("\n") + "\n",
        )
        .expect("saved");

        let mut report = Report {
            workload: saved.workload.clone(),
            engines: vec![engine("a", Vec::new()), engine("b", Vec::new())],
            ..Default::default()
        };
        let continuation = continue_run(&mut report, saved.clone(), "now".into());
        assert_eq!(continuation.pending, [vec![1], vec![0]]);
        assert_eq!(
            report.engines, saved.engines,
            "partial levels stay in the report"
        );
        let names = ["a", "b"];
        let mut writer =
            ResultsWriter::resume(dir.path(), |l| continuation.keeps_line(l, &names, &levels))
                .expect("resume");
        assert_eq!(
            lines(dir.path()),
            saved_lines[..4],
            "partial levels' lines stay"
        );

        // a's level 1 runs again and finishes: its saved lines go, the new ones stay.
        writer.jsonl.write_all(line("a", 1, 7).as_bytes()).unwrap();
        writer.jsonl.write_all(b"\n").unwrap();
        let dropped = writer.drop_level_lines("a", 1, &levels, Attempt::Saved);
        assert_eq!(dropped.expect("drop"), 2);
        assert_eq!(
            lines(dir.path()),
            [line("a", 0, 0), line("b", 0, 0), line("a", 1, 7)]
        );
        // b's level 0 re-run is cut short again: the new attempt goes, the saved one stays.
        writer.jsonl.write_all(line("b", 0, 9).as_bytes()).unwrap();
        writer.jsonl.write_all(b"\n").unwrap();
        let dropped = writer.drop_level_lines("b", 0, &levels, Attempt::New);
        assert_eq!(dropped.expect("drop"), 1);
        // The writer appends to the rewritten file.
        writer.jsonl.write_all(line("b", 1, 0).as_bytes()).unwrap();
        writer.jsonl.write_all(b"\n").unwrap();
        writer.flush().expect("flush");
        assert_eq!(
            lines(dir.path()),
            [
                line("a", 0, 0),
                line("b", 0, 0),
                line("a", 1, 7),
                line("b", 1, 0)
            ]
        );
        assert_eq!(
            writer.saved_len,
            (line("a", 0, 0).len() + line("b", 0, 0).len() + 2) as u64
        );
        let none = writer.drop_level_lines("a", 2, &levels, Attempt::Saved);
        assert_eq!(none.expect("nothing to drop"), 0);
        assert!(!dir.path().join("requests.jsonl.tmp").exists());

        // A new run has no saved lines.
        let fresh = tempfile::tempdir().expect("tempdir");
        let mut writer = ResultsWriter::create(fresh.path()).expect("create");
        let none = writer.drop_level_lines("a", 0, &levels, Attempt::Saved);
        assert_eq!(none.expect("nothing saved"), 0);
    }
}
