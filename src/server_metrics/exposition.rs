//! The Prometheus text exposition, parsed (by `openmetrics-parser`) into the few shapes the
//! schema reads: one `Series` per sample, with its labels, as a number or a histogram.

use std::collections::BTreeMap;

use openmetrics_parser::{prometheus::parse_prometheus, MetricNumber, PrometheusValue};

use super::histogram::Histogram;

/// One sample of a family: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub value: SeriesValue,
}

/// A sample's value: counters, gauges and untyped samples are numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesValue {
    Number(f64),
    Histogram(Histogram),
}

/// A parsed scrape: family name → its samples. Counter families keep the exposition's name
/// (`vllm:generation_tokens_total`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub families: BTreeMap<String, Vec<Series>>,
}

impl Exposition {
    /// Parses an exposition; the error is one line (the parser's position and what it wanted).
    pub fn parse(text: &str) -> Result<Exposition, String> {
        let (typed, lines) = with_types(text);
        let parsed = parse_prometheus(&typed).map_err(|e| parse_error(&e.to_string(), &lines))?;
        let mut families = BTreeMap::new();
        for (name, family) in parsed.families {
            let mut series = Vec::new();
            for sample in family.iter_samples() {
                let labels = sample
                    .get_labelset()
                    .map(|set| set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                let value = match &sample.value {
                    PrometheusValue::Unknown(n) | PrometheusValue::Gauge(n) => {
                        SeriesValue::Number(number(n))
                    }
                    PrometheusValue::Counter(c) => SeriesValue::Number(number(&c.value)),
                    PrometheusValue::Histogram(h) => SeriesValue::Histogram(Histogram {
                        buckets: {
                            let mut buckets: Vec<(f64, f64)> = h
                                .buckets
                                .iter()
                                .map(|b| (b.upper_bound, number(&b.count)))
                                .collect();
                            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                            buckets
                        },
                        sum: h.sum.as_ref().map_or(f64::NAN, number),
                        count: h.count.map_or(f64::NAN, |c| c as f64),
                    }),
                    PrometheusValue::Summary(_) => continue,
                };
                series.push(Series { labels, value });
            }
            families.insert(name, series);
        }
        Ok(Exposition { families })
    }

    /// Whether the family is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.families.contains_key(name)
    }

    /// The numbers of a family, one per label set.
    pub fn numbers<'a>(&'a self, name: &str) -> impl Iterator<Item = f64> + 'a {
        self.families
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|s| match s.value {
                SeriesValue::Number(v) if v.is_finite() => Some(v),
                _ => None,
            })
    }

    /// The family's numbers summed over label sets (counts of requests, tokens, batches).
    pub fn sum(&self, name: &str) -> Option<f64> {
        let mut values = self.numbers(name).peekable();
        values.peek()?;
        Some(values.sum())
    }

    /// The family's numbers averaged over label sets (ratios: KV usage).
    pub fn mean(&self, name: &str) -> Option<f64> {
        let values: Vec<f64> = self.numbers(name).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }

    /// The family's histograms merged over label sets with the same bounds (the first set's).
    pub fn histogram(&self, name: &str) -> Option<Histogram> {
        let mut merged: Option<Histogram> = None;
        for series in self.families.get(name)? {
            let SeriesValue::Histogram(h) = &series.value else {
                continue;
            };
            match &mut merged {
                None => merged = Some(h.clone()),
                Some(m) => m.add(h),
            }
        }
        merged
    }
}

/// The text with a `# TYPE <name> untyped` line before each family that has none: the text
/// format allows samples without one, the parser takes a run of such samples of different
/// names as one family and fails. Borrowed when nothing is missing (every real engine writes
/// its TYPE lines).
///
/// Also returns, for each line of the result, its line number in `text` (empty: the same).
fn with_types(text: &str) -> (std::borrow::Cow<'_, str>, Vec<usize>) {
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("# TYPE ") {
            if let Some(name) = rest.split_whitespace().next() {
                typed.insert(name);
            }
        }
    }
    let family_of = |name: &str| {
        ["_bucket", "_sum", "_count", "_total", "_created"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| typed.contains(base))
            })
            .is_some()
            || typed.contains(name)
    };
    let mut out: Option<String> = None;
    let mut lines = Vec::new();
    let mut last_untyped = "";
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let name = if trimmed.is_empty() || trimmed.starts_with('#') {
            None
        } else {
            trimmed
                .split(|c: char| c == '{' || c.is_whitespace())
                .next()
                .filter(|n| !n.is_empty())
        };
        match name {
            Some(name) if !family_of(name) && name != last_untyped => {
                let out = out.get_or_insert_with(|| {
                    let mut head = String::with_capacity(text.len() + 256);
                    for (j, earlier) in text.lines().take(i).enumerate() {
                        head.push_str(earlier);
                        head.push('\n');
                        lines.push(j + 1);
                    }
                    head
                });
                lines.push(i + 1);
                out.push_str("# TYPE ");
                out.push_str(name);
                out.push_str(" untyped\n");
                last_untyped = name;
            }
            Some(name) if family_of(name) => last_untyped = "",
            _ => {}
        }
        if let Some(out) = &mut out {
            out.push_str(line);
            out.push('\n');
            lines.push(i + 1);
        }
    }
    match out {
        Some(out) => (std::borrow::Cow::Owned(out), lines),
        None => (std::borrow::Cow::Borrowed(text), lines),
    }
}

/// The parser's error (pest's: ` --> line:column`, the source line, a caret, `= expected …`)
/// as one line, with the line number of the text as served.
fn parse_error(message: &str, lines: &[usize]) -> String {
    let place = message
        .split_whitespace()
        .skip_while(|w| *w != "-->")
        .nth(1)
        .and_then(|at| at.split_once(':'))
        .and_then(|(line, column)| Some((line.parse::<usize>().ok()?, column.to_string())));
    let expected = message
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .unwrap_or("malformed");
    let expected = crate::client::chunk::snippet(expected);
    match place {
        Some((line, column)) => {
            let line = lines.get(line - 1).copied().unwrap_or(line);
            format!("not Prometheus text at line {line}, column {column}: {expected}")
        }
        None => {
            let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
            format!(
                "not Prometheus text: {}",
                crate::client::chunk::snippet(&one_line)
            )
        }
    }
}

fn number(n: &MetricNumber) -> f64 {
    match n {
        MetricNumber::Float(f) => *f,
        MetricNumber::Int(i) => *i as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_without_type_lines_are_families_of_their_own() {
        let e =
            Exposition::parse("a 1\nb{x=\"1\"} 2\nb{x=\"2\"} 3\n# TYPE c gauge\nc 4\n").unwrap();
        assert_eq!(e.sum("a"), Some(1.0));
        assert_eq!(e.sum("b"), Some(5.0));
        assert_eq!(e.sum("c"), Some(4.0));
        assert_eq!(e.mean("b"), Some(2.5));
        assert_eq!(e.sum("d"), None);
    }

    #[test]
    fn malformed_text_is_one_line_naming_the_place() {
        let e = Exposition::parse("# TYPE a gauge\na 1\nthis is { not\n").unwrap_err();
        assert_eq!(
            e,
            "not Prometheus text at line 3, column 6: expected labels or number"
        );
        // Lines added for untyped families do not shift the number.
        let e = Exposition::parse("a 1\nb 2\nthis is { not\n").unwrap_err();
        assert!(
            e.starts_with("not Prometheus text at line 3, column 6"),
            "{e}"
        );
    }

    #[test]
    fn values_that_are_not_finite_are_left_out() {
        let e =
            Exposition::parse("# TYPE a gauge\na{x=\"1\"} NaN\na{x=\"2\"} 2\na{x=\"3\"} +Inf\n")
                .unwrap();
        assert_eq!(e.sum("a"), Some(2.0));
        assert_eq!(e.mean("a"), Some(2.0));
    }

    #[test]
    fn an_error_before_the_first_untyped_sample_keeps_its_line_number() {
        // The untyped `b` makes the text be rewritten from its line on; the lines before it
        // are copied, and the bad line 2 must still be called line 2.
        let e = Exposition::parse("# TYPE a gauge\na{x 1\nb 2\n").unwrap_err();
        assert!(e.starts_with("not Prometheus text at line 2,"), "{e}");
        // A bad name fails on the TYPE line written for it: that is the sample's line too.
        let e = Exposition::parse("x 1\nbad-name 2\n").unwrap_err();
        assert!(e.starts_with("not Prometheus text at line 2,"), "{e}");
    }

    #[test]
    fn a_run_of_untyped_samples_is_one_family_however_long() {
        let e = Exposition::parse(
            "a 1\n# TYPE c gauge\nc 2\nd{x=\"1\"} 3\nd{x=\"2\"} 4\nd{x=\"3\"} 5\n",
        )
        .unwrap();
        assert_eq!(e.sum("a"), Some(1.0));
        assert_eq!(e.sum("c"), Some(2.0));
        assert_eq!(e.sum("d"), Some(12.0));
    }

    #[test]
    fn histograms_keep_buckets_sum_and_count_and_labels() {
        let text = "# TYPE h histogram\nh_bucket{m=\"x\",le=\"0.5\"} 1\nh_bucket{m=\"x\",le=\"+Inf\"} 3\nh_sum{m=\"x\"} 2.5\nh_count{m=\"x\"} 3\n";
        let e = Exposition::parse(text).unwrap();
        let h = e.histogram("h").unwrap();
        assert_eq!(h.buckets, vec![(0.5, 1.0), (f64::INFINITY, 3.0)]);
        assert_eq!((h.sum, h.count), (2.5, 3.0));
        assert_eq!(
            e.families["h"][0].labels.get("m").map(String::as_str),
            Some("x")
        );
    }
}
