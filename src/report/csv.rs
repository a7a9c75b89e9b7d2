//! `levels.csv`: one row per engine × level with every field of
//! [`LevelSummary`], for spreadsheets and pandas.
//!
//! Columns are `engine` then the `LevelSummary` fields in declaration order, named as in
//! `results.json`. Numbers use Rust's shortest round-trip form (`NaN`, `inf` for non-finite);
//! `errors` is `class:count;class:count`, `error_examples` the JSON object of examples. Fields
//! are quoted (RFC 4180) when they hold a comma, quote, line break or edge space; lines end in
//! `\n`. Latency statistics are empty when the level has no value (no success). The schedule (`mean_scheduled_ttft_ms` ... `late_starts`, rate mode) and SLO
//! (`request_goodput` ... `meets_slo`) columns are empty when the level has no such value.
//!
//! After `client_limited` come `client_state` (`fine`, `busy`, `starved`, `late`) and the host
//! columns, empty when the level has no host report: `host_cores` (the machine's logical CPUs),
//! `host_busy_cores`, `host_steal_cores`, `host_client_cores`, `host_other_cores` (cores, 1 =
//! one core busy all level), `engine_cores` (the engine under test's processes; empty unless
//! they were found on this host), `idle_engine_cores_max` (the busiest idle engine's; empty
//! when none was found on this host) and `host_top` (the busiest processes other than
//! llmsweep, `command:pid:cores` joined by `;`, a `;` in a command written as `_`).
//!
//! After the `LevelSummary` fields come the repeated-trials and interval columns, empty where
//! the level has none: `trials` (trials the level's row is the mean of), `interval_method`
//! (`trials` or `batch_means`), then `<metric>_ci_low` and `<metric>_ci_high` (the 95 %
//! interval of the mean, in the metric's unit) for each of [`CI_METRICS`], and `cv_noisy`
//! (the metrics whose CV across trials exceeded 10 %, joined by `;`).
//!
//! Last, so the columns before them keep their positions, the reasoning columns
//! (`mean_ttfa_ms` ... `p99_ttfa_ms`, `mean_ttfr_ms`, `median_ttfr_ms`, `p99_ttfr_ms`,
//! `reasoning_requests`, `unanswered_requests`, `total_reasoning_tokens`, `reasoning_share`,
//! `reasoning_tokens_estimated`), empty for a level without reasoning (its TTFA is its TTFT),
//! then `total_cached_tokens` and `cached_fraction`, empty when no request reported cached
//! tokens.

use std::collections::BTreeMap;

use crate::results::confidence::{Interval, LevelIntervals};
use crate::results::host::{EngineLocation, HostReport};
use crate::results::model::{LevelStatus, LevelSummary, Report, ScheduleStats};
use crate::results::server::ServerStats;

/// The header row, in column order.
pub const COLUMNS: [&str; 133] = [
    "engine",
    "level",
    "max_concurrency",
    "status",
    "duration",
    "completed",
    "failed",
    "cancelled",
    "error_rate",
    "total_input_tokens",
    "total_output_tokens",
    "output_tokens_estimated",
    "request_throughput",
    "output_throughput",
    "total_token_throughput",
    "mean_output_tokens",
    "mean_ttft_ms",
    "median_ttft_ms",
    "p90_ttft_ms",
    "p95_ttft_ms",
    "p99_ttft_ms",
    "max_ttft_ms",
    "mean_tpot_ms",
    "median_tpot_ms",
    "p90_tpot_ms",
    "p95_tpot_ms",
    "p99_tpot_ms",
    "max_tpot_ms",
    "mean_itl_ms",
    "median_itl_ms",
    "p90_itl_ms",
    "p95_itl_ms",
    "p99_itl_ms",
    "max_itl_ms",
    "mean_e2el_ms",
    "median_e2el_ms",
    "p90_e2el_ms",
    "p95_e2el_ms",
    "p99_e2el_ms",
    "max_e2el_ms",
    "percentiles_from_histogram",
    "achieved_peak_concurrency",
    "mean_concurrency",
    "steady_window_s",
    "steady_completed",
    "steady_request_throughput",
    "steady_output_throughput",
    "coalesced_chunks",
    "coalesced_fraction",
    "connections_opened",
    "skipped_reason",
    "mean_client_queue_ms",
    "mean_scheduled_ttft_ms",
    "median_scheduled_ttft_ms",
    "p99_scheduled_ttft_ms",
    "mean_scheduled_e2el_ms",
    "median_scheduled_e2el_ms",
    "p99_scheduled_e2el_ms",
    "late_starts",
    "request_goodput",
    "slo_met",
    "slo_ttft_met",
    "slo_tpot_met",
    "slo_e2e_met",
    "meets_slo",
    "errors",
    "error_examples",
    "client_cpu_cores",
    "client_loop_lag_p99_ms",
    "client_limited",
    "client_state",
    "host_cores",
    "host_busy_cores",
    "host_steal_cores",
    "host_client_cores",
    "host_other_cores",
    "engine_cores",
    "idle_engine_cores_max",
    "host_top",
    "server_scrapes",
    "mean_running",
    "max_running",
    "mean_waiting",
    "max_waiting",
    "waiting_grew",
    "mean_kv_usage",
    "max_kv_usage",
    "preemptions",
    "prefix_cache_hit_rate",
    "server_generation_tokens",
    "server_mean_ttft_ms",
    "server_p50_ttft_ms",
    "client_added_ttft_ms",
    "energy_j_per_token",
    "gpu_throttled_s",
    "mean_gpu_util_pct",
    "mean_gpu_power_w",
    "max_gpu_memory_used_mib",
    "mean_sm_clock_mhz",
    "trials",
    "interval_method",
    "output_throughput_ci_low",
    "output_throughput_ci_high",
    "request_throughput_ci_low",
    "request_throughput_ci_high",
    "median_ttft_ms_ci_low",
    "median_ttft_ms_ci_high",
    "mean_ttft_ms_ci_low",
    "mean_ttft_ms_ci_high",
    "p99_ttft_ms_ci_low",
    "p99_ttft_ms_ci_high",
    "mean_tpot_ms_ci_low",
    "mean_tpot_ms_ci_high",
    "median_e2el_ms_ci_low",
    "median_e2el_ms_ci_high",
    "mean_e2el_ms_ci_low",
    "mean_e2el_ms_ci_high",
    "cv_noisy",
    "mean_ttfa_ms",
    "median_ttfa_ms",
    "p90_ttfa_ms",
    "p95_ttfa_ms",
    "p99_ttfa_ms",
    "mean_ttfr_ms",
    "median_ttfr_ms",
    "p99_ttfr_ms",
    "reasoning_requests",
    "unanswered_requests",
    "total_reasoning_tokens",
    "reasoning_share",
    "reasoning_tokens_estimated",
    "total_cached_tokens",
    "cached_fraction",
];

/// Where a metric's interval is in [`LevelIntervals`].
pub type IntervalGetter = fn(&LevelIntervals) -> Option<&Interval>;

/// The metrics with `_ci_low` / `_ci_high` columns, in column order, and where each one's
/// interval is.
pub const CI_METRICS: [(&str, IntervalGetter); 8] = [
    ("output_throughput", |i| i.output_throughput.as_ref()),
    ("request_throughput", |i| i.request_throughput.as_ref()),
    ("median_ttft_ms", |i| i.median_ttft_ms.as_ref()),
    ("mean_ttft_ms", |i| i.mean_ttft_ms.as_ref()),
    ("p99_ttft_ms", |i| i.p99_ttft_ms.as_ref()),
    ("mean_tpot_ms", |i| i.mean_tpot_ms.as_ref()),
    ("median_e2el_ms", |i| i.median_e2el_ms.as_ref()),
    ("mean_e2el_ms", |i| i.mean_e2el_ms.as_ref()),
];

/// Renders `levels.csv`: the header then one row per engine × level, engines in report order
/// and levels in the order they ran.
pub fn levels_csv(report: &Report) -> Vec<u8> {
    let mut out = String::new();
    push_row(&mut out, COLUMNS.iter().map(|c| c.to_string()));
    for engine in &report.engines {
        for level in &engine.levels {
            push_row(&mut out, row(&engine.name, level).into_iter());
        }
    }
    out.into_bytes()
}

fn row(engine: &str, l: &LevelSummary) -> Vec<String> {
    let status = match l.status {
        LevelStatus::Complete => "complete",
        LevelStatus::Skipped => "skipped",
        LevelStatus::Failed => "failed",
    };
    let f = |v: f64| v.to_string();
    let opt = |v: Option<f64>| v.map(f).unwrap_or_default();
    let sched = |get: fn(&ScheduleStats) -> Option<f64>| opt(l.schedule.as_ref().and_then(get));
    let server = |get: fn(&ServerStats) -> Option<f64>| opt(l.server.as_ref().and_then(get));
    let mut row = vec![
        engine.to_string(),
        f(l.level),
        l.max_concurrency.to_string(),
        status.to_string(),
        f(l.duration),
        l.completed.to_string(),
        l.failed.to_string(),
        l.cancelled.to_string(),
        f(l.error_rate),
        l.total_input_tokens.to_string(),
        l.total_output_tokens.to_string(),
        l.output_tokens_estimated.to_string(),
        f(l.request_throughput),
        f(l.output_throughput),
        f(l.total_token_throughput),
        f(l.mean_output_tokens),
        opt(l.mean_ttft_ms),
        opt(l.median_ttft_ms),
        opt(l.p90_ttft_ms),
        opt(l.p95_ttft_ms),
        opt(l.p99_ttft_ms),
        opt(l.max_ttft_ms),
        opt(l.mean_tpot_ms),
        opt(l.median_tpot_ms),
        opt(l.p90_tpot_ms),
        opt(l.p95_tpot_ms),
        opt(l.p99_tpot_ms),
        opt(l.max_tpot_ms),
        opt(l.mean_itl_ms),
        opt(l.median_itl_ms),
        opt(l.p90_itl_ms),
        opt(l.p95_itl_ms),
        opt(l.p99_itl_ms),
        opt(l.max_itl_ms),
        opt(l.mean_e2el_ms),
        opt(l.median_e2el_ms),
        opt(l.p90_e2el_ms),
        opt(l.p95_e2el_ms),
        opt(l.p99_e2el_ms),
        opt(l.max_e2el_ms),
        l.percentiles_from_histogram.to_string(),
        l.achieved_peak_concurrency.to_string(),
        f(l.mean_concurrency),
        opt(l.steady_window_s),
        l.steady_completed.to_string(),
        opt(l.steady_request_throughput),
        opt(l.steady_output_throughput),
        l.coalesced_chunks.to_string(),
        f(l.coalesced_fraction),
        l.connections_opened.to_string(),
        l.skipped_reason.clone().unwrap_or_default(),
        f(l.mean_client_queue_ms),
        sched(|s| s.mean_scheduled_ttft_ms),
        sched(|s| s.median_scheduled_ttft_ms),
        sched(|s| s.p99_scheduled_ttft_ms),
        sched(|s| s.mean_scheduled_e2el_ms),
        sched(|s| s.median_scheduled_e2el_ms),
        sched(|s| s.p99_scheduled_e2el_ms),
        l.schedule
            .as_ref()
            .map(|s| s.late_starts.to_string())
            .unwrap_or_default(),
        opt(l.request_goodput),
        opt(l.slo_met),
        opt(l.slo_ttft_met),
        opt(l.slo_tpot_met),
        opt(l.slo_e2e_met),
        l.meets_slo.map(|b| b.to_string()).unwrap_or_default(),
        errors_field(&l.errors),
        serde_json::to_string(&l.error_examples).unwrap_or_default(),
        l.client_cpu_cores.to_string(),
        l.client_loop_lag_p99_ms.to_string(),
        l.client_limited.to_string(),
    ];
    row.extend(host_fields(l));
    row.extend([
        l.server
            .as_ref()
            .map(|s| s.scrapes.to_string())
            .unwrap_or_default(),
        server(|s| s.mean_running),
        server(|s| s.max_running),
        server(|s| s.mean_waiting),
        server(|s| s.max_waiting),
        l.server
            .as_ref()
            .map(|s| s.waiting_grew.to_string())
            .unwrap_or_default(),
        server(|s| s.mean_kv_usage),
        server(|s| s.max_kv_usage),
        server(|s| s.preemptions),
        server(|s| s.prefix_cache_hit_rate),
        server(|s| s.generation_tokens),
        server(|s| s.server_mean_ttft_ms),
        server(|s| s.server_p50_ttft_ms),
        server(|s| s.client_added_ttft_ms),
        server(|s| s.energy_j_per_token),
        server(|s| s.throttled_s),
        server(|s| s.mean_gpu_util_pct),
        server(|s| s.mean_gpu_power_w),
        server(|s| s.max_gpu_memory_used_mib),
        server(|s| s.mean_sm_clock_mhz),
    ]);
    row.extend(interval_fields(l));
    row.extend(reasoning_fields(l));
    row
}

/// The reasoning columns (`mean_ttfa_ms` ... `reasoning_tokens_estimated`), all empty for a
/// level without reasoning, then `total_cached_tokens` and `cached_fraction`, empty when no
/// request reported cached tokens.
fn reasoning_fields(l: &LevelSummary) -> Vec<String> {
    let r = &l.reasoning;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let count = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let any = r.any();
    vec![
        opt(r.mean_ttfa_ms),
        opt(r.median_ttfa_ms),
        opt(r.p90_ttfa_ms),
        opt(r.p95_ttfa_ms),
        opt(r.p99_ttfa_ms),
        opt(r.mean_ttfr_ms),
        opt(r.median_ttfr_ms),
        opt(r.p99_ttfr_ms),
        count(any.then_some(r.reasoning_requests)),
        count(any.then_some(r.unanswered_requests)),
        count(r.total_reasoning_tokens),
        opt(r.reasoning_share),
        if any {
            r.reasoning_tokens_estimated.to_string()
        } else {
            String::new()
        },
        count(l.prefix_cache.total_cached_tokens),
        opt(l.prefix_cache.cached_fraction),
    ]
}

/// `client_state`, then the host columns (`host_cores` ... `host_top`), empty without a host
/// report: the machine's cores and its busy, steal, client and other cores; the engine under
/// test's cores (when it ran on this host); the busiest idle engine's; the busiest processes as
/// `command:pid:cores;…` (a `;` in a command written as `_`).
fn host_fields(l: &LevelSummary) -> Vec<String> {
    let h = l.host.as_ref();
    let f = |v: f64| v.to_string();
    let cores = |get: fn(&HostReport) -> f64| h.map(|h| f(get(h))).unwrap_or_default();
    let idle_max = h.and_then(|h| {
        h.engines
            .iter()
            .filter(|e| !e.under_test && e.location == EngineLocation::Local)
            .filter_map(|e| e.cores)
            .reduce(f64::max)
    });
    let top = h.map(|h| {
        h.top
            .iter()
            .map(|p| format!("{}:{}:{}", p.command.replace(';', "_"), p.pid, f(p.cores)))
            .collect::<Vec<_>>()
            .join(";")
    });
    vec![
        l.client_state.as_str().to_string(),
        h.map(|h| h.cores.to_string()).unwrap_or_default(),
        cores(|h| h.busy_cores),
        cores(|h| h.steal_cores),
        cores(|h| h.client_cores),
        cores(|h| h.other_cores),
        h.and_then(HostReport::engine_under_test_cores)
            .map(f)
            .unwrap_or_default(),
        idle_max.map(f).unwrap_or_default(),
        top.unwrap_or_default(),
    ]
}

/// `trials`, `interval_method`, the `_ci_low`/`_ci_high` pairs of [`CI_METRICS`] and
/// `cv_noisy`; empty where the level has no trials or no interval.
fn interval_fields(l: &LevelSummary) -> Vec<String> {
    let f = |v: f64| v.to_string();
    let mut fields = Vec::with_capacity(2 + 2 * CI_METRICS.len() + 1);
    fields.push(if l.trials.is_empty() {
        String::new()
    } else {
        l.trials.len().to_string()
    });
    let intervals = l.intervals.as_ref();
    fields.push(intervals.map_or_else(String::new, |i| i.method.as_str().to_string()));
    for (_, get) in CI_METRICS {
        let interval = intervals.and_then(get);
        fields.push(interval.map(|i| f(i.low)).unwrap_or_default());
        fields.push(interval.map(|i| f(i.high)).unwrap_or_default());
    }
    fields.push(intervals.map(|i| i.noisy.join(";")).unwrap_or_default());
    fields
}

/// `class:count;class:count`, classes in name order.
fn errors_field(errors: &BTreeMap<String, u64>) -> String {
    errors
        .iter()
        .map(|(class, count)| format!("{class}:{count}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn push_row(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&quote(&field));
    }
    out.push('\n');
}

/// Quotes a field when a reader could misparse it.
pub(crate) fn quote(field: &str) -> String {
    let needs =
        field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ');
    if needs {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("vLLM"), "vLLM");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
        assert_eq!(quote(" padded"), "\" padded\"");
    }

    #[test]
    fn ci_columns_follow_ci_metrics() {
        let names: Vec<String> = CI_METRICS
            .iter()
            .flat_map(|(name, _)| [format!("{name}_ci_low"), format!("{name}_ci_high")])
            .collect();
        let noisy = COLUMNS.iter().position(|&c| c == "cv_noisy").unwrap();
        let start = noisy - names.len();
        assert_eq!(&COLUMNS[start..noisy], names.as_slice());
        assert_eq!(COLUMNS[start - 2..start], ["trials", "interval_method"]);
        let row = row("e", &LevelSummary::default());
        assert_eq!(row.len(), COLUMNS.len());
    }

    #[test]
    fn reasoning_and_cache_columns_come_last_empty_without_either() {
        // Appended after the older columns, so their positions hold.
        assert_eq!(COLUMNS[117], "cv_noisy");
        let at = |name: &str| COLUMNS.iter().position(|&c| c == name).unwrap();
        let plain = row("e", &LevelSummary::default());
        assert!(
            plain[at("mean_ttfa_ms")..].iter().all(String::is_empty),
            "{plain:?}"
        );
        let l = LevelSummary {
            reasoning: crate::results::reasoning::ReasoningStats {
                mean_ttfa_ms: Some(80.5),
                p99_ttfr_ms: Some(12.0),
                reasoning_requests: 4,
                total_reasoning_tokens: Some(40),
                reasoning_share: Some(0.5),
                ..Default::default()
            },
            prefix_cache: crate::results::prefix_cache::PrefixCacheStats {
                total_cached_tokens: Some(96),
                cached_fraction: Some(0.75),
            },
            ..LevelSummary::default()
        };
        let r = row("e", &l);
        let get = |name: &str| r[at(name)].as_str();
        assert_eq!(
            [
                get("mean_ttfa_ms"),
                get("median_ttfa_ms"),
                get("p99_ttfr_ms"),
                get("reasoning_requests"),
                get("unanswered_requests"),
                get("total_reasoning_tokens"),
                get("reasoning_share"),
                get("reasoning_tokens_estimated"),
                get("total_cached_tokens"),
                get("cached_fraction"),
            ],
            ["80.5", "", "12", "4", "0", "40", "0.5", "false", "96", "0.75"]
        );
    }

    #[test]
    fn errors_map() {
        let mut errors = BTreeMap::new();
        errors.insert("timeout_total".to_string(), 2);
        errors.insert("connect".to_string(), 5);
        assert_eq!(errors_field(&errors), "connect:5;timeout_total:2");
        assert_eq!(errors_field(&BTreeMap::new()), "");
    }
}
