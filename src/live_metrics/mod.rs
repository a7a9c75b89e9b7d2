//! `--metrics-listen ADDR`: llmsweep's own live metrics in the Prometheus text format, so a
//! Grafana that scrapes the engines shows the client beside them. The driver records each
//! finished request here (one lock per request, never per token on the hot path: a request's
//! gaps are added in one go) and sets the gauges at its snapshot ticks; `serve` answers
//! `GET /metrics` from it.
//!
//! - `mod`   — [`LiveMetrics`]: counters, gauges and histograms by (engine, level); rendering.
//! - `serve` — the HTTP endpoint (axum), `run(listener, metrics, shutdown)`.

pub mod serve;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::metrics::sample::Sample;

/// Upper bounds of the latency histograms' buckets, seconds: 1 ms to 2 min, about ×2 apart
/// (Prometheus histograms are cumulative; `+Inf` is added).
pub const BUCKETS_S: [f64; 18] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
    90.0, 120.0,
];

/// A Prometheus histogram: counts per bucket (not cumulative here), sum, count.
#[derive(Debug, Clone, Default)]
struct Hist {
    buckets: [u64; BUCKETS_S.len()],
    /// Above the last bound.
    over: u64,
    /// Exact, in µs (a float sum of seconds drifts in the last digits).
    sum_us: u64,
    count: u64,
}

impl Hist {
    fn observe_us(&mut self, us: u64) {
        let s = us as f64 / 1e6;
        match BUCKETS_S.iter().position(|&b| s <= b) {
            Some(i) => self.buckets[i] += 1,
            None => self.over += 1,
        }
        self.sum_us += us;
        self.count += 1;
    }
}

/// What one (engine, level) has done so far.
#[derive(Debug, Clone, Default)]
struct Series {
    completed: u64,
    failed: u64,
    cancelled: u64,
    errors: BTreeMap<&'static str, u64>,
    input_tokens: u64,
    output_tokens: u64,
    ttft: Hist,
    e2e: Hist,
    itl: Hist,
}

#[derive(Debug, Default)]
struct State {
    run: String,
    /// (engine, level label) → series, in order of first use.
    series: BTreeMap<(String, String), Series>,
    /// Per engine: requests in flight now, and the level running (None between levels).
    in_flight: BTreeMap<String, u64>,
    level: BTreeMap<String, Option<f64>>,
}

/// A counter family: name, help, and its value in a series.
type Family<T> = (&'static str, &'static str, fn(&Series) -> T);
/// Which histogram of a series.
type HistOf = fn(&Series) -> &Hist;

/// The live registry the driver writes and the endpoint reads.
#[derive(Debug, Default)]
pub struct LiveMetrics {
    state: Mutex<State>,
}

/// `8` for concurrency 8, `2.5` for a rate: the `level` label.
fn level_label(level: f64) -> String {
    if level.fract() == 0.0 && level.abs() < 1e15 {
        format!("{}", level as i64)
    } else {
        format!("{level}")
    }
}

impl LiveMetrics {
    pub fn new() -> LiveMetrics {
        LiveMetrics::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock left counts that are still counts.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The run's name, for `llmsweep_run_info`.
    pub fn set_run(&self, run: &str, engines: &[String]) {
        let mut state = self.state();
        state.run = run.to_string();
        for engine in engines {
            state.in_flight.entry(engine.clone()).or_default();
            state.level.entry(engine.clone()).or_default();
        }
    }

    /// A measured request finished.
    pub fn record(&self, engine: &str, level: f64, sample: &Sample) {
        let mut state = self.state();
        let series = state
            .series
            .entry((engine.to_string(), level_label(level)))
            .or_default();
        match &sample.result {
            Ok(t) => {
                series.completed += 1;
                series.input_tokens += t.input_tokens.unwrap_or(0);
                series.output_tokens += t.output_tokens;
                series.ttft.observe_us(t.ttft_us);
                series.e2e.observe_us(t.e2e_us);
                for &gap in &t.itl_us {
                    series.itl.observe_us(u64::from(gap));
                }
            }
            Err(e) if e.class == crate::client::ErrorClass::Cancelled => series.cancelled += 1,
            Err(e) => {
                series.failed += 1;
                *series.errors.entry(e.class.as_str()).or_default() += 1;
            }
        }
    }

    /// The engine's level and requests in flight now (`level` None: between levels).
    pub fn set_level(&self, engine: &str, level: Option<f64>, in_flight: u64) {
        let mut state = self.state();
        state.in_flight.insert(engine.to_string(), in_flight);
        state.level.insert(engine.to_string(), level);
    }

    /// Everything, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let state = self.state();
        let mut out = String::with_capacity(4096);
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        };
        let _ = writeln!(
            out,
            "# HELP llmsweep_run_info The run in progress (value 1).\n# TYPE llmsweep_run_info gauge\nllmsweep_run_info{{run=\"{}\",version=\"{}\"}} 1",
            esc(&state.run),
            env!("CARGO_PKG_VERSION")
        );
        out.push_str("# HELP llmsweep_requests_in_flight Requests sent and not yet finished.\n# TYPE llmsweep_requests_in_flight gauge\n");
        for (engine, n) in &state.in_flight {
            let _ = writeln!(
                out,
                "llmsweep_requests_in_flight{{engine=\"{}\"}} {n}",
                esc(engine)
            );
        }
        out.push_str("# HELP llmsweep_level The level the engine is running (concurrency, or req/s in rate mode); 0 between levels.\n# TYPE llmsweep_level gauge\n");
        for (engine, level) in &state.level {
            let _ = writeln!(
                out,
                "llmsweep_level{{engine=\"{}\"}} {}",
                esc(engine),
                level.unwrap_or(0.0)
            );
        }
        let counters: [Family<u64>; 5] = [
            (
                "llmsweep_requests_completed_total",
                "Measured requests that succeeded.",
                |s| s.completed,
            ),
            (
                "llmsweep_requests_failed_total",
                "Measured requests that failed (any class but cancelled).",
                |s| s.failed,
            ),
            (
                "llmsweep_requests_cancelled_total",
                "Requests cancelled by a skip or quit.",
                |s| s.cancelled,
            ),
            (
                "llmsweep_input_tokens_total",
                "Prompt tokens of successful requests (from usage).",
                |s| s.input_tokens,
            ),
            (
                "llmsweep_output_tokens_total",
                "Output tokens of successful requests.",
                |s| s.output_tokens,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((engine, level), series) in &state.series {
                let _ = writeln!(
                    out,
                    "{name}{{engine=\"{}\",level=\"{level}\"}} {}",
                    esc(engine),
                    value(series)
                );
            }
        }
        out.push_str("# HELP llmsweep_request_errors_total Failed requests by error class.\n# TYPE llmsweep_request_errors_total counter\n");
        for ((engine, level), series) in &state.series {
            for (class, n) in &series.errors {
                let _ = writeln!(
                    out,
                    "llmsweep_request_errors_total{{engine=\"{}\",level=\"{level}\",class=\"{class}\"}} {n}",
                    esc(engine)
                );
            }
        }
        let histograms: [(&str, &str, HistOf); 3] = [
            (
                "llmsweep_ttft_seconds",
                "Time to first token of successful requests.",
                |s| &s.ttft,
            ),
            (
                "llmsweep_e2e_latency_seconds",
                "End-to-end latency of successful requests.",
                |s| &s.e2e,
            ),
            (
                "llmsweep_itl_seconds",
                "Gaps between output chunks of successful requests.",
                |s| &s.itl,
            ),
        ];
        for (name, help, hist) in histograms {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for ((engine, level), series) in &state.series {
                let h = hist(series);
                let labels = format!("engine=\"{}\",level=\"{level}\"", esc(engine));
                let mut cumulative = 0;
                for (bound, n) in BUCKETS_S.iter().zip(h.buckets) {
                    cumulative += n;
                    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
                }
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_us as f64 / 1e6);
                let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ErrorClass, RequestError, Timings};
    use crate::server_metrics::exposition::Exposition;

    fn sample(result: Result<Timings, RequestError>) -> Sample {
        Sample {
            request_index: 0,
            request_id: "r".into(),
            prompt_index: 0,
            sent_at_ms: 0.0,
            queue_us: 0,
            in_flight_us: 0,
            finished_at: tokio::time::Instant::now(),
            result,
            turn: None,
        }
    }

    fn ok(ttft_us: u64, e2e_us: u64, itl_us: Vec<u32>, tokens: u64) -> Sample {
        sample(Ok(Timings {
            ttft_us,
            e2e_us,
            itl_us,
            output_tokens: tokens,
            output_tokens_estimated: false,
            input_tokens: Some(10),
            coalesced_chunks: 0,
            role_only_first_chunk: false,
            ..Timings::default()
        }))
    }

    #[test]
    fn counts_histograms_and_gauges_render_as_prometheus_text() {
        let m = LiveMetrics::new();
        m.set_run("demo-1", &["vLLM \"a\"".into(), "sglang".into()]);
        m.record(
            "vLLM \"a\"",
            8.0,
            &ok(3_000, 90_000, vec![10_000, 20_000], 3),
        );
        m.record("vLLM \"a\"", 8.0, &ok(70_000, 400_000, vec![], 1));
        m.record(
            "vLLM \"a\"",
            8.0,
            &sample(Err(RequestError::new(ErrorClass::TimeoutTotal, "slow"))),
        );
        m.record(
            "vLLM \"a\"",
            8.0,
            &sample(Err(RequestError::new(ErrorClass::Cancelled, "skip"))),
        );
        m.record("sglang", 2.5, &ok(1_000, 2_000, vec![1_000], 2));
        m.set_level("vLLM \"a\"", Some(8.0), 5);
        let text = m.render();
        // It parses as the exposition format (our own scraper's parser).
        let e = Exposition::parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
        assert_eq!(e.sum("llmsweep_requests_completed_total"), Some(3.0));
        assert_eq!(e.sum("llmsweep_requests_failed_total"), Some(1.0));
        assert_eq!(e.sum("llmsweep_requests_cancelled_total"), Some(1.0));
        assert_eq!(e.sum("llmsweep_output_tokens_total"), Some(6.0));
        assert_eq!(e.sum("llmsweep_input_tokens_total"), Some(30.0));
        assert_eq!(e.sum("llmsweep_request_errors_total"), Some(1.0));
        assert_eq!(e.sum("llmsweep_requests_in_flight"), Some(5.0));
        assert!(
            text.contains("llmsweep_level{engine=\"vLLM \\\"a\\\"\"} 8\n"),
            "{text}"
        );
        assert!(
            text.contains("llmsweep_level{engine=\"sglang\"} 0\n"),
            "{text}"
        );
        assert!(text.contains(
            "llmsweep_request_errors_total{engine=\"vLLM \\\"a\\\"\",level=\"8\",class=\"timeout_total\"} 1\n"
        ));
        // Cumulative buckets: TTFT 3 ms and 70 ms.
        let labels = "engine=\"vLLM \\\"a\\\"\",level=\"8\"";
        for (le, n) in [
            ("0.0025", 0),
            ("0.005", 1),
            ("0.05", 1),
            ("0.1", 2),
            ("+Inf", 2),
        ] {
            let line = format!("llmsweep_ttft_seconds_bucket{{{labels},le=\"{le}\"}} {n}\n");
            assert!(text.contains(&line), "{line}{text}");
        }
        assert!(
            text.contains(&format!("llmsweep_ttft_seconds_sum{{{labels}}} 0.073\n")),
            "{text}"
        );
        assert!(text.contains(&format!("llmsweep_itl_seconds_count{{{labels}}} 2\n")));
        assert!(text.contains("llmsweep_itl_seconds_count{engine=\"sglang\",level=\"2.5\"} 1\n"));
        let h = e.histogram("llmsweep_e2e_latency_seconds");
        assert!(h.is_some(), "{text}");
    }

    #[test]
    fn a_value_beyond_the_last_bucket_counts_only_in_inf() {
        let mut h = Hist::default();
        h.observe_us(500_000_000);
        h.observe_us(120_000_000);
        assert_eq!(h.over, 1);
        assert_eq!(h.buckets[BUCKETS_S.len() - 1], 1);
        assert_eq!(h.count, 2);
    }
}
