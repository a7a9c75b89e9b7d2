//! `--vllm-json`: one file per (engine, level) in the layout `vllm bench serve --save-result`
//! writes (same keys, same units: seconds in the per-request arrays, ms in the statistics), so
//! the plotting people already have for vLLM sweeps reads llmsweep runs. The statistics are
//! results.json's (numpy's linear percentiles, as vLLM's); the standard deviations (numpy's,
//! population) and the per-second peaks come from requests.jsonl, which the export reads.
//!
//! Percentile keys are those of `vllm bench serve --percentile-metrics ttft,tpot,itl,e2el
//! --metric-percentiles 50,90,95,99`. ITL's standard deviation needs every gap, which
//! requests.jsonl holds only with `[run] request_itls = true`; without it `std_itl_ms` is
//! `null`, `itls` is absent, and the per-second output peak spreads each request's tokens
//! evenly from its first to its last token.

use serde_json::{json, Map, Value};

use crate::results::model::{EngineReport, LevelSummary, Report};

/// The per-request fields the export reads from requests.jsonl.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    pub engine: String,
    pub level: f64,
    pub ok: bool,
    /// Since the level's start, s.
    pub start_s: f64,
    pub ttft_s: Option<f64>,
    pub e2e_s: Option<f64>,
    pub tpot_s: Option<f64>,
    pub in_flight_s: f64,
    pub queue_s: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Gaps between output chunks, s (`[run] request_itls = true`).
    pub itl_s: Option<Vec<f64>>,
    pub error: String,
}

impl Request {
    /// From a requests.jsonl line; `None` for a line that is not a request.
    pub fn from_line(line: &Value) -> Option<Request> {
        let s = |ms: &Value| ms.as_f64().map(|v| v / 1e3);
        Some(Request {
            engine: line["engine"].as_str()?.to_string(),
            level: line["level"].as_f64()?,
            ok: line["ok"].as_bool()?,
            start_s: s(&line["sent_at_ms"])?,
            ttft_s: s(&line["ttft_ms"]),
            e2e_s: s(&line["e2el_ms"]),
            tpot_s: s(&line["tpot_ms"]),
            in_flight_s: s(&line["in_flight_ms"])
                .or(s(&line["e2el_ms"]))
                .unwrap_or(0.0),
            queue_s: s(&line["queue_ms"]).unwrap_or(0.0),
            input_tokens: line["input_tokens"].as_u64().unwrap_or(0),
            output_tokens: line["output_tokens"].as_u64().unwrap_or(0),
            itl_s: line["itl_ms"].as_array().map(|gaps| {
                gaps.iter()
                    .filter_map(|g| g.as_f64())
                    .map(|g| g / 1e3)
                    .collect()
            }),
            error: line["error"].as_str().unwrap_or_default().to_string(),
        })
    }
}

/// numpy's `np.std` (population) in ms of values in s; `None` for none.
fn std_ms(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Some(var.sqrt() * 1e3)
}

/// vLLM's per-second peaks: output tokens generated in the busiest second from the first
/// successful send, and requests active in the busiest second.
fn peaks(requests: &[&Request]) -> (f64, u64) {
    let ok: Vec<&&Request> = requests.iter().filter(|r| r.ok).collect();
    let Some(start) = ok.iter().map(|r| r.start_s).reduce(f64::min) else {
        return (0.0, 0);
    };
    let end = ok
        .iter()
        .map(|r| r.start_s + r.e2e_s.unwrap_or(r.in_flight_s))
        .fold(start, f64::max);
    let seconds = (end - start).ceil() as usize + 1;
    let mut tokens = vec![0.0f64; seconds];
    let mut active = vec![0u64; seconds];
    let bucket = |t: f64| ((t - start).max(0.0)) as usize;
    for r in &ok {
        let first = r.start_s + r.ttft_s.unwrap_or(0.0);
        let mut times = vec![first];
        match (&r.itl_s, r.e2e_s) {
            (Some(gaps), _) => {
                let mut at = first;
                for g in gaps {
                    at += g;
                    times.push(at);
                }
            }
            // Spread evenly over first → last token.
            (None, Some(e2e)) if r.output_tokens > 1 => {
                let last = r.start_s + e2e;
                let step = (last - first) / (r.output_tokens - 1) as f64;
                times.extend((1..r.output_tokens).map(|i| first + step * i as f64));
            }
            _ => {}
        }
        for t in times {
            if let Some(slot) = tokens.get_mut(bucket(t)) {
                *slot += 1.0;
            }
        }
        let (from, to) = (
            bucket(r.start_s),
            bucket(r.start_s + r.e2e_s.unwrap_or(r.in_flight_s)),
        );
        for slot in active.iter_mut().take(to + 1).skip(from) {
            *slot += 1;
        }
    }
    (
        tokens.iter().copied().fold(0.0, f64::max),
        active.iter().copied().max().unwrap_or(0),
    )
}

/// `20250102-030405` from an RFC 3339 time, as vLLM's `date`.
fn vllm_date(rfc3339: &str) -> String {
    let digits: String = rfc3339.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.get(..14) {
        Some(d) => format!("{}-{}", &d[..8], &d[8..]),
        None => String::new(),
    }
}

/// One (engine, level) as `vllm bench serve` would save it; `detailed` adds the per-request
/// arrays (`--save-detailed`).
pub fn serialize(
    report: &Report,
    engine: &EngineReport,
    level: &LevelSummary,
    requests: &[&Request],
    detailed: bool,
) -> Vec<u8> {
    let rate = report.workload.mode == "rate";
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_string(), v);
    };
    put("date", json!(vllm_date(&report.started_at)));
    let backend = if engine.api == "completions" {
        "openai"
    } else {
        "openai-chat"
    };
    put("endpoint_type", json!(backend));
    put("backend", json!(backend));
    put("label", Value::Null);
    put("model_id", json!(engine.model));
    put("tokenizer_id", json!(engine.model));
    put("num_prompts", json!(requests.len()));
    put(
        "request_rate",
        if rate {
            json!(level.level)
        } else {
            json!("inf")
        },
    );
    put(
        "burstiness",
        json!(report.workload.burstiness.unwrap_or(1.0)),
    );
    put(
        "max_concurrency",
        match (rate, level.max_concurrency) {
            (true, 0) => Value::Null,
            (_, c) => json!(c),
        },
    );
    put("duration", json!(level.duration));
    put("completed", json!(level.completed));
    put("failed", json!(level.failed));
    put("total_input_tokens", json!(level.total_input_tokens));
    put("total_output_tokens", json!(level.total_output_tokens));
    put("request_throughput", json!(level.request_throughput));
    put("request_goodput", json!(level.request_goodput));
    put("output_throughput", json!(level.output_throughput));
    put(
        "total_token_throughput",
        json!(level.total_token_throughput),
    );
    let ok: Vec<&&Request> = requests.iter().filter(|r| r.ok).collect();
    if detailed {
        put(
            "input_lens",
            json!(requests.iter().map(|r| r.input_tokens).collect::<Vec<_>>()),
        );
        put(
            "output_lens",
            json!(requests.iter().map(|r| r.output_tokens).collect::<Vec<_>>()),
        );
        put(
            "ttfts",
            json!(requests
                .iter()
                .map(|r| r.ttft_s.unwrap_or(0.0))
                .collect::<Vec<_>>()),
        );
        if requests.iter().all(|r| r.itl_s.is_some()) {
            put(
                "itls",
                json!(requests
                    .iter()
                    .map(|r| r.itl_s.clone().unwrap_or_default())
                    .collect::<Vec<_>>()),
            );
        }
        put(
            "latencies",
            json!(requests
                .iter()
                .map(|r| r.e2e_s.unwrap_or(0.0))
                .collect::<Vec<_>>()),
        );
        put(
            "start_times",
            json!(requests.iter().map(|r| r.start_s).collect::<Vec<_>>()),
        );
        put(
            "queue_times",
            json!(requests.iter().map(|r| r.queue_s).collect::<Vec<_>>()),
        );
        put(
            "errors",
            json!(requests.iter().map(|r| r.error.clone()).collect::<Vec<_>>()),
        );
    }
    let (max_tokens, max_requests) = peaks(requests);
    put("max_output_tokens_per_s", json!(max_tokens));
    put("max_concurrent_requests", json!(max_requests));
    put("rtfx", json!(0.0));
    let gaps: Option<Vec<f64>> = ok
        .iter()
        .map(|r| r.itl_s.clone())
        .collect::<Option<Vec<Vec<f64>>>>()
        .map(|all| all.concat());
    let stds = [
        (
            "ttft",
            std_ms(&ok.iter().filter_map(|r| r.ttft_s).collect::<Vec<_>>()),
        ),
        (
            "tpot",
            std_ms(&ok.iter().filter_map(|r| r.tpot_s).collect::<Vec<_>>()),
        ),
        ("itl", gaps.as_deref().and_then(std_ms)),
        (
            "e2el",
            std_ms(&ok.iter().filter_map(|r| r.e2e_s).collect::<Vec<_>>()),
        ),
    ];
    let l = level;
    let stats: [(&str, [Option<f64>; 6]); 4] = [
        (
            "ttft",
            [
                l.mean_ttft_ms,
                l.median_ttft_ms,
                l.p90_ttft_ms,
                l.p95_ttft_ms,
                l.p99_ttft_ms,
                None,
            ],
        ),
        (
            "tpot",
            [
                l.mean_tpot_ms,
                l.median_tpot_ms,
                l.p90_tpot_ms,
                l.p95_tpot_ms,
                l.p99_tpot_ms,
                None,
            ],
        ),
        (
            "itl",
            [
                l.mean_itl_ms,
                l.median_itl_ms,
                l.p90_itl_ms,
                l.p95_itl_ms,
                l.p99_itl_ms,
                None,
            ],
        ),
        (
            "e2el",
            [
                l.mean_e2el_ms,
                l.median_e2el_ms,
                l.p90_e2el_ms,
                l.p95_e2el_ms,
                l.p99_e2el_ms,
                None,
            ],
        ),
    ];
    for ((metric, [mean, median, p90, p95, p99, _]), (_, std)) in stats.into_iter().zip(stds) {
        put(&format!("mean_{metric}_ms"), json!(mean));
        put(&format!("median_{metric}_ms"), json!(median));
        put(&format!("std_{metric}_ms"), json!(std));
        put(&format!("p50_{metric}_ms"), json!(median));
        put(&format!("p90_{metric}_ms"), json!(p90));
        put(&format!("p95_{metric}_ms"), json!(p95));
        put(&format!("p99_{metric}_ms"), json!(p99));
    }
    let mut bytes = serde_json::to_vec(&Value::Object(out)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The export's file name for (engine, level): vLLM's `<backend>-<rate>qps-concurrency<C>-
/// <model>-<date>.json`, prefixed with the engine (several engines share a model).
pub fn file_name(report: &Report, engine: &EngineReport, level: &LevelSummary) -> String {
    let rate = if report.workload.mode == "rate" {
        format!("{}", level.level)
    } else {
        "inf".into()
    };
    let concurrency = match level.max_concurrency {
        0 => String::new(),
        c => format!("-concurrency{c}"),
    };
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let model = engine.model.rsplit('/').next().unwrap_or_default();
    format!(
        "{}-{}qps{concurrency}-{}-{}.json",
        clean(&engine.name),
        rate,
        clean(model),
        vllm_date(&report.started_at)
    )
}

/// Every (engine, level) of the run: (file name, bytes).
pub fn all(report: &Report, requests: &[Request], detailed: bool) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for engine in &report.engines {
        for level in &engine.levels {
            let of_level: Vec<&Request> = requests
                .iter()
                .filter(|r| r.engine == engine.name && r.level == level.level)
                .collect();
            files.push((
                file_name(report, engine, level),
                serialize(report, engine, level, &of_level, detailed),
            ));
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_is_numpys_population_std_in_ms() {
        assert_eq!(std_ms(&[]), None);
        let s = std_ms(&[0.001, 0.003]).unwrap();
        assert!((s - 1.0).abs() < 1e-12, "{s}");
        assert_eq!(vllm_date("2025-01-02T03:04:05Z"), "20250102-030405");
    }

    #[test]
    fn peaks_count_tokens_and_requests_per_second() {
        let r = |start_s: f64, e2e_s: f64, tokens: u64| Request {
            ok: true,
            start_s,
            ttft_s: Some(0.1),
            e2e_s: Some(e2e_s),
            output_tokens: tokens,
            ..Request::default()
        };
        // Two requests inside the first second (11 tokens each), one in the third.
        let rs = [r(0.0, 0.6, 11), r(0.2, 0.7, 11), r(2.1, 0.5, 3)];
        let refs: Vec<&Request> = rs.iter().collect();
        assert_eq!(peaks(&refs), (22.0, 2));
        let with_gaps = Request {
            itl_s: Some(vec![1.0, 0.1]),
            ..r(0.0, 1.2, 3)
        };
        // First token at 0.1, then 1.1 and 1.2: one in second 0, two in second 1.
        assert_eq!(peaks(&[&with_gaps]), (2.0, 1));
    }
}
