//! Renders a [`Snapshot`] in the Prometheus text exposition format (0.0.4), with the
//! metric names, help texts, label sets and line order of vLLM 0.32's `/metrics`.

use std::fmt::Write;

use super::metrics::{HistogramSnapshot, Snapshot};

/// The `Content-Type` of the exposition.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition of `s`; every sample carries `engine="0"` and `model_name` = `model`.
pub(crate) fn render(s: &Snapshot, model: &str) -> String {
    let model = escape(model);
    let labels = format!("engine=\"0\",model_name=\"{model}\"");
    let mut out = String::with_capacity(4096);
    let gauges = [
        (
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            s.running as f64,
        ),
        (
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            s.waiting as f64,
        ),
        (
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage.",
            s.kv_usage,
        ),
    ];
    for (name, help, value) in gauges {
        sample(&mut out, name, help, "gauge", &labels, value);
    }
    let counters = [
        (
            "vllm:prefix_cache_queries_total",
            "Prefix cache queries, in terms of number of queried tokens.",
            s.prefix_queries,
        ),
        (
            "vllm:prefix_cache_hits_total",
            "Prefix cache hits, in terms of number of cached tokens.",
            s.prefix_hits,
        ),
        (
            "vllm:num_preemptions_total",
            "Cumulative number of preemption from the engine.",
            s.preemptions,
        ),
        (
            "vllm:prompt_tokens_total",
            "Number of prefill tokens processed.",
            s.prompt_tokens,
        ),
        (
            "vllm:generation_tokens_total",
            "Number of generation tokens processed.",
            s.generation_tokens,
        ),
    ];
    for (name, help, value) in counters {
        sample(&mut out, name, help, "counter", &labels, value as f64);
    }
    histogram(
        &mut out,
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        &model,
        &s.ttft,
    );
    histogram(
        &mut out,
        "vllm:e2e_request_latency_seconds",
        "Histogram of e2e request latency in seconds.",
        &model,
        &s.e2e,
    );
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, help: &str, kind: &str, labels: &str, value: f64) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name}{{{labels}}} {}", number(value));
}

/// Cumulative `_bucket` lines (with `le` between `engine` and `model_name`, as vLLM sorts
/// its labels), then `_count` and `_sum`; `model` is already escaped.
fn histogram(out: &mut String, name: &str, help: &str, model: &str, h: &HistogramSnapshot) {
    header(out, name, help, "histogram");
    let labels = format!("engine=\"0\",model_name=\"{model}\"");
    let mut cumulative = 0u64;
    for (i, count) in h.counts.iter().enumerate() {
        cumulative += count;
        let le = h.bounds.get(i).map_or("+Inf".to_string(), |b| number(*b));
        let _ = writeln!(
            out,
            "{name}_bucket{{engine=\"0\",le=\"{le}\",model_name=\"{model}\"}} {}",
            number(cumulative as f64)
        );
    }
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", number(h.count() as f64));
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", number(h.sum));
}

/// A sample value as Python's `repr(float)` writes most of them: `8.0`, `0.25`, `2560.0`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:?}")
    }
}

/// A label value with `\`, `"` and newlines escaped, as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::metrics::{E2E_BUCKETS, TTFT_BUCKETS};

    fn snapshot() -> Snapshot {
        let mut ttft = vec![0; TTFT_BUCKETS.len() + 1];
        ttft[5] = 2; // ≤ 0.06
        ttft[8] = 1; // ≤ 0.25
        Snapshot {
            running: 3,
            waiting: 2,
            kv_usage: 0.25,
            prompt_tokens: 39,
            generation_tokens: 120,
            prefix_queries: 40,
            prefix_hits: 0,
            preemptions: 1,
            ttft: HistogramSnapshot {
                bounds: &TTFT_BUCKETS,
                counts: ttft,
                sum: 0.3125,
            },
            e2e: HistogramSnapshot {
                bounds: &E2E_BUCKETS,
                counts: vec![0; E2E_BUCKETS.len() + 1],
                sum: 0.0,
            },
        }
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    #[test]
    fn gauges_and_counters_have_vllm_names_help_types_and_labels() {
        let text = render(&snapshot(), "sim");
        let l = lines(&text);
        for want in [
            "# HELP vllm:num_requests_running Number of requests in model execution batches.",
            "# TYPE vllm:num_requests_running gauge",
            "vllm:num_requests_running{engine=\"0\",model_name=\"sim\"} 3.0",
            "# TYPE vllm:num_requests_waiting gauge",
            "vllm:num_requests_waiting{engine=\"0\",model_name=\"sim\"} 2.0",
            "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
            "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"sim\"} 0.25",
            "# TYPE vllm:prefix_cache_queries_total counter",
            "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"sim\"} 40.0",
            "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"sim\"} 0.0",
            "# TYPE vllm:num_preemptions_total counter",
            "vllm:num_preemptions_total{engine=\"0\",model_name=\"sim\"} 1.0",
            "vllm:prompt_tokens_total{engine=\"0\",model_name=\"sim\"} 39.0",
            "# HELP vllm:generation_tokens_total Number of generation tokens processed.",
            "# TYPE vllm:generation_tokens_total counter",
            "vllm:generation_tokens_total{engine=\"0\",model_name=\"sim\"} 120.0",
        ] {
            assert!(l.contains(&want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_then_count_then_sum() {
        let text = render(&snapshot(), "sim");
        let name = "vllm:time_to_first_token_seconds";
        let start = text
            .find(&format!("# TYPE {name} histogram"))
            .expect("type");
        let body: Vec<&str> = text[start..].lines().skip(1).take(25).collect();
        let want_le = [
            "0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75",
            "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0", "640.0", "2560.0",
            "+Inf",
        ];
        for (i, le) in want_le.iter().enumerate() {
            let n = match i {
                0..=4 => "0.0",
                5..=7 => "2.0",
                _ => "3.0",
            };
            assert_eq!(
                body[i],
                format!("{name}_bucket{{engine=\"0\",le=\"{le}\",model_name=\"sim\"}} {n}")
            );
        }
        assert_eq!(
            body[23],
            format!("{name}_count{{engine=\"0\",model_name=\"sim\"}} 3.0")
        );
        assert_eq!(
            body[24],
            format!("{name}_sum{{engine=\"0\",model_name=\"sim\"}} 0.3125")
        );
        assert!(text.contains("# TYPE vllm:e2e_request_latency_seconds histogram\n"));
        assert!(text.contains(
            "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"7680.0\",model_name=\"sim\"} 0.0\n"
        ));
    }

    #[test]
    fn every_sample_line_is_name_labels_value_and_every_family_is_typed_once() {
        let text = render(&snapshot(), "a \"quoted\" \\ model");
        let mut typed = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().expect("name");
                assert!(!typed.contains(&name), "{name} typed twice");
                typed.push(name);
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(
                series.contains("model_name=\"a \\\"quoted\\\" \\\\ model\"}"),
                "{line}"
            );
        }
        assert_eq!(typed.len(), 10);
    }

    #[test]
    fn numbers_look_like_pythons() {
        assert_eq!(number(8.0), "8.0");
        assert_eq!(number(0.004396678065461623), "0.004396678065461623");
        assert_eq!(number(2560.0), "2560.0");
        assert_eq!(number(f64::INFINITY), "+Inf");
    }
}
