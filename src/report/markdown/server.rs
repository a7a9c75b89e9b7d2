//! `## Server metrics`: what each engine's own `/metrics` (and the GPUs') said per level —
//! batch, queue, KV cache, preemptions, prefix cache, the server's TTFT and the client's part.

use std::fmt::Write as _;

use super::table::level_header;
use super::text::{cell, fmt_count, fmt_num, fmt_pct};
use crate::report::fmt_level;
use crate::results::model::Report;

/// Left out when no level of any engine was scraped. `—`: the engine does not export it.
pub(super) fn server(md: &mut String, report: &Report) {
    let scraped = report
        .engines
        .iter()
        .flat_map(|e| &e.levels)
        .any(|l| l.server.is_some());
    if !scraped {
        return;
    }
    md.push_str("## Server metrics\n\n");
    md.push_str(
        "From each engine's own Prometheus endpoint, scraped during the level: running and \
         waiting requests and KV cache usage as mean / max over the scrapes; preemptions, \
         prefix-cache hit rate and the server's TTFT (mean, and p50 interpolated in its \
         histogram bucket) over the level. Client-added TTFT = the client's mean TTFT − the \
         server's: the time outside the engine's own TTFT clock (its HTTP front end, the network, \
         the client). — : the engine does not export it.\n\n",
    );
    let gpu = report
        .engines
        .iter()
        .flat_map(|e| &e.levels)
        .filter_map(|l| l.server.as_ref())
        .any(|s| s.mean_gpu_power_w.is_some() || s.energy_j_per_token.is_some());
    let _ = write!(
        md,
        "| Engine | {} | Running mean / max | Waiting mean / max | KV usage mean / max | \
         Preemptions | Prefix hit rate | Server TTFT mean / p50 (ms) | Client-added TTFT (ms) |",
        level_header(report)
    );
    md.push_str(if gpu {
        " J/token | Throttled (s) | GPU util | GPU power (W) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    } else {
        "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    });
    let dash = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(|| "—".to_string(), f);
    let pct = |v: f64| fmt_pct(v * 100.0);
    for e in &report.engines {
        for l in &e.levels {
            let Some(s) = &l.server else { continue };
            let pair = |a: Option<f64>, b: Option<f64>, f: fn(f64) -> String| match (a, b) {
                (None, None) => "—".to_string(),
                (a, b) => format!("{} / {}", dash(a, f), dash(b, f)),
            };
            let _ = write!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&e.name),
                fmt_level(l.level),
                pair(s.mean_running, s.max_running, fmt_num),
                pair(s.mean_waiting, s.max_waiting, fmt_num),
                pair(s.mean_kv_usage, s.max_kv_usage, pct),
                dash(s.preemptions, fmt_count),
                dash(s.prefix_cache_hit_rate, pct),
                pair(s.server_mean_ttft_ms, s.server_p50_ttft_ms, fmt_num),
                dash(s.client_added_ttft_ms, fmt_num),
            );
            if gpu {
                let _ = write!(
                    md,
                    " {} | {} | {} | {} |",
                    dash(s.energy_j_per_token, fmt_num),
                    dash(s.throttled_s, fmt_num),
                    dash(s.mean_gpu_util_pct, fmt_pct),
                    dash(s.mean_gpu_power_w, fmt_num),
                );
            }
            md.push('\n');
        }
    }
    md.push('\n');
}
