//! HdrHistogram interval logs (`.hlog`, the format of HdrHistogram's `HistogramLogWriter`
//! that its `HistogramLogProcessor` and other tools read): one file per level, one tagged
//! interval per latency metric, values in µs, V2 encoding, deflate-compressed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// The metrics a level's log holds, by tag.
pub const TAGS: [&str; 4] = ["ttft", "e2el", "itl", "tpot"];

/// The log's file name for (engine, level, trial): engines by index, since names are free text.
pub fn file_name(engine: usize, level_index: usize, trial: Option<u32>) -> String {
    match trial {
        Some(t) => format!("e{engine}-l{level_index}-t{t}.hlog"),
        None => format!("e{engine}-l{level_index}.hlog"),
    }
}

/// A level's log: `comment` first, StartTime and BaseTime at the measured window's `start`,
/// then one interval of `duration` per `(tag, histogram)`.
pub fn serialize(
    comment: &str,
    start: SystemTime,
    duration: Duration,
    histograms: &[(&str, &Histogram<u64>)],
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let mut writer = IntervalLogWriterBuilder::new()
        .add_comment(comment)
        .add_comment(
            "values in microseconds (HistogramLogProcessor: -outputValueUnitRatio 1000 for ms)",
        )
        .with_start_time(start)
        .with_base_time(start)
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| e.to_string())?;
    for &(tag, histogram) in histograms {
        let tag = Tag::new(tag).ok_or_else(|| format!("invalid hlog tag {tag:?}"))?;
        writer
            .write_histogram(histogram, Duration::ZERO, duration, Some(tag))
            .map_err(|e| format!("{e:?}"))?;
    }
    drop(writer);
    Ok(out)
}

/// One interval read back.
#[derive(Debug, Clone)]
pub struct Interval {
    pub tag: Option<String>,
    /// Since the log's BaseTime (or the epoch without one).
    pub start: Duration,
    pub duration: Duration,
    pub histogram: Histogram<u64>,
}

/// A log's intervals and its StartTime, if it has one.
pub fn parse(bytes: &[u8]) -> Result<(Option<SystemTime>, Vec<Interval>), String> {
    let mut start = None;
    let mut intervals = Vec::new();
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(bytes) {
        match entry.map_err(|e| format!("not an interval log: {e:?}"))? {
            LogEntry::StartTime(t) => start = Some(UNIX_EPOCH + t),
            LogEntry::BaseTime(_) => {}
            LogEntry::Interval(interval) => {
                let encoded = interval.encoded_histogram();
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|e| format!("a histogram of the log is not base64: {e}"))?;
                let histogram: Histogram<u64> = deserializer
                    .deserialize(&mut raw.as_slice())
                    .map_err(|e| format!("a histogram of the log does not decode: {e:?}"))?;
                intervals.push(Interval {
                    tag: interval.tag().map(|t| t.as_str().to_string()),
                    start: interval.start_timestamp(),
                    duration: interval.duration(),
                    histogram,
                });
            }
        }
    }
    Ok((start, intervals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn a_level_log_reads_back_with_its_tags_times_and_counts() {
        let ttft = histogram(&[1_000, 2_000, 3_000, 250_000]);
        let itl = histogram(&(1..=500).map(|i| i * 37).collect::<Vec<_>>());
        let start = UNIX_EPOCH + Duration::from_millis(1_796_157_002_500);
        let bytes = serialize(
            "llmsweep run x shard 1/4 engine vllm level C=8",
            start,
            Duration::from_secs(30),
            &[("ttft", &ttft), ("itl", &itl)],
        )
        .unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("#llmsweep run x shard 1/4 engine vllm level C=8\n"),
            "{text}"
        );
        assert!(
            text.contains("#[StartTime: 1796157002.500 (seconds since epoch)]"),
            "{text}"
        );
        assert!(text.contains("Tag=ttft,0.000,30.000,"), "{text}");
        // V2 deflate-compressed histograms begin "HISTFAAA" once base64-encoded.
        assert!(text.contains(",HISTFAAA"), "{text}");
        let (at, intervals) = parse(&bytes).unwrap();
        assert_eq!(at, Some(start));
        assert_eq!(intervals.len(), 2);
        assert_eq!(intervals[0].tag.as_deref(), Some("ttft"));
        assert_eq!(intervals[0].duration, Duration::from_secs(30));
        assert_eq!(intervals[0].histogram, ttft);
        assert_eq!(intervals[1].tag.as_deref(), Some("itl"));
        assert_eq!(intervals[1].histogram.len(), 500);
        assert_eq!(intervals[1].histogram, itl);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"Tag=ttft,0.000,30.000,1.0,NOTBASE64!\n").is_err());
        assert!(parse(b"Tag=ttft,0.000,30.000,1.0,Zm9v\n").is_err());
        assert_eq!(file_name(1, 2, None), "e1-l2.hlog");
        assert_eq!(file_name(0, 3, Some(2)), "e0-l3-t2.hlog");
    }
}
