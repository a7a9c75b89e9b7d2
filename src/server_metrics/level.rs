//! A level's scrapes → its `ServerStats`: gauges as mean and max over the scrapes, counters
//! and histograms as the delta between the first scrape (at the level's start) and the last
//! (at its end).

use super::gpu::GpuReading;
use super::schema::{EngineReading, Schema};
use crate::results::server::ServerStats;

/// One scrape during a level.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    /// Seconds since the level started.
    pub at_s: f64,
    /// The engine's endpoint, when it answered and its schema is known.
    pub engine: Option<EngineReading>,
    /// Every configured GPU exporter that answered, merged.
    pub gpu: Option<GpuReading>,
    /// Whose names the engine's exposition used.
    pub schema: Option<Schema>,
}

/// Above this share of the client's TTFT, the client's own part (network, HTTP, parsing)
/// is worth a warning: the client may be the bottleneck.
pub const CLIENT_ADDED_WARN_SHARE: f64 = 0.10;
/// …and above this many ms: a few ms is the scheduling noise of a shared box (and of a debug
/// build), not a bottleneck.
pub const CLIENT_ADDED_WARN_MS: f64 = 5.0;

/// The level's server-side warning, if any: the client adding over 10 % (and 5 ms) of TTFT, the
/// engine's queue growing all level, GPU throttling.
pub fn server_warning(
    stats: &ServerStats,
    client_mean_ttft_ms: Option<f64>,
    label: &str,
) -> Option<String> {
    let mut parts = Vec::new();
    if let (Some(added), Some(ttft)) = (stats.client_added_ttft_ms, client_mean_ttft_ms) {
        if added > CLIENT_ADDED_WARN_MS && added > CLIENT_ADDED_WARN_SHARE * ttft {
            parts.push(format!(
                "the client added {added:.1} ms of its {ttft:.1} ms mean TTFT ({:.0} %): the client, the network or the engine's HTTP front end (outside its own TTFT clock) may be the bottleneck",
                added / ttft * 100.0
            ));
        }
    }
    if stats.waiting_grew {
        parts.push(format!(
            "the engine's queue grew all level (to {:.0} waiting): past saturation",
            stats.max_waiting.unwrap_or(0.0)
        ));
    }
    if let Some(s) = stats.throttled_s.filter(|&s| s > 0.0) {
        parts.push(format!(
            "the GPUs were power- or thermal-throttled for {s:.1} s"
        ));
    }
    (!parts.is_empty()).then(|| format!("{label}: {}", parts.join("; ")))
}

/// The level's stats; `client_mean_ttft_ms` and `output_tokens` are the client's (for the
/// client-added TTFT and J/token). `None` when no scrape has anything.
pub fn summarise(
    scrapes: &[Scrape],
    client_mean_ttft_ms: Option<f64>,
    output_tokens: u64,
) -> Option<ServerStats> {
    let engine: Vec<&EngineReading> = scrapes.iter().filter_map(|s| s.engine.as_ref()).collect();
    let gpu: Vec<(f64, &GpuReading)> = scrapes
        .iter()
        .filter_map(|s| s.gpu.as_ref().map(|g| (s.at_s, g)))
        .collect();
    if engine.is_empty() && gpu.is_empty() {
        return None;
    }
    let mut stats = ServerStats {
        scrapes: engine.len() as u32,
        ..ServerStats::default()
    };
    let gauge = |f: fn(&EngineReading) -> Option<f64>| -> (Option<f64>, Option<f64>) {
        let values: Vec<f64> = engine.iter().filter_map(|r| f(r)).collect();
        (mean(&values), values.iter().copied().reduce(f64::max))
    };
    (stats.mean_running, stats.max_running) = gauge(|r| r.running);
    (stats.mean_waiting, stats.max_waiting) = gauge(|r| r.waiting);
    (stats.mean_kv_usage, stats.max_kv_usage) = gauge(|r| r.kv_usage);
    stats.waiting_grew = grew(&engine.iter().filter_map(|r| r.waiting).collect::<Vec<_>>());
    if let (Some(first), Some(last)) = (engine.first(), engine.last()) {
        let delta = |f: fn(&EngineReading) -> Option<f64>| match (f(first), f(last)) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        };
        stats.preemptions = delta(|r| r.preemptions);
        stats.generation_tokens = delta(|r| r.generation_tokens);
        stats.prefix_cache_hit_rate = match (delta(|r| r.prefix_hits), delta(|r| r.prefix_queries))
        {
            (Some(hits), Some(queries)) if queries > 0.0 => Some(hits / queries),
            _ => mean(
                &engine
                    .iter()
                    .filter_map(|r| r.prefix_hit_rate)
                    .collect::<Vec<_>>(),
            ),
        };
        if let (Some(a), Some(b)) = (&first.ttft, &last.ttft) {
            if let Some(level) = b.since(a) {
                stats.server_mean_ttft_ms = level.mean().map(|s| s * 1e3);
                stats.server_p50_ttft_ms = level.quantile(0.5).map(|s| s * 1e3);
            }
        }
        stats.client_added_ttft_ms = client_mean_ttft_ms
            .zip(stats.server_mean_ttft_ms)
            .map(|(client, server)| client - server);
    }
    if let (Some((_, first)), Some((_, last))) = (gpu.first(), gpu.last()) {
        if let (Some(a), Some(b)) = (first.energy_mj, last.energy_mj) {
            if b >= a && output_tokens > 0 && gpu.len() > 1 {
                stats.energy_j_per_token = Some((b - a) / 1e3 / output_tokens as f64);
            }
        }
        let known: Vec<_> = gpu
            .iter()
            .filter(|(_, g)| g.throttle_reasons.is_some())
            .collect();
        if !known.is_empty() {
            stats.throttled_s = Some(
                known
                    .windows(2)
                    .filter(|w| w[1].1.throttled())
                    .map(|w| w[1].0 - w[0].0)
                    .sum(),
            );
        }
        let values = |f: fn(&GpuReading) -> Option<f64>| -> Vec<f64> {
            gpu.iter().filter_map(|(_, g)| f(g)).collect()
        };
        stats.mean_gpu_util_pct = mean(&values(|g| g.util_pct));
        stats.mean_gpu_power_w = mean(&values(|g| g.power_w));
        stats.max_gpu_memory_used_mib = values(|g| g.memory_used_mib).into_iter().reduce(f64::max);
        stats.mean_sm_clock_mhz = mean(&values(|g| g.sm_clock_mhz));
    }
    Some(stats)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The queue grew over the whole level: at least four scrapes, every half of the level
/// longer than the one before (means of the first and second half), and it ended at its
/// longest.
fn grew(waiting: &[f64]) -> bool {
    if waiting.len() < 4 {
        return false;
    }
    let (first, second) = waiting.split_at(waiting.len() / 2);
    let (a, b) = (mean(first).unwrap_or(0.0), mean(second).unwrap_or(0.0));
    let last = waiting[waiting.len() - 1];
    b > a && last > waiting[0] && waiting.iter().all(|&w| w <= last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_metrics::histogram::Histogram;

    fn engine(running: f64, waiting: f64, kv: f64, tokens: f64, ttft: Histogram) -> EngineReading {
        EngineReading {
            running: Some(running),
            waiting: Some(waiting),
            kv_usage: Some(kv),
            prefix_hits: Some(tokens / 10.0),
            prefix_queries: Some(tokens),
            preemptions: Some(tokens / 100.0),
            generation_tokens: Some(tokens),
            ttft: Some(ttft),
            ..EngineReading::default()
        }
    }

    fn ttft(le_100ms: f64, le_1s: f64, sum_s: f64) -> Histogram {
        Histogram {
            buckets: vec![(0.1, le_100ms), (1.0, le_1s), (f64::INFINITY, le_1s)],
            sum: sum_s,
            count: le_1s,
        }
    }

    #[test]
    fn gauges_are_mean_and_max_counters_and_histograms_deltas() {
        let scrapes = [
            Scrape {
                at_s: 0.0,
                engine: Some(engine(0.0, 0.0, 0.0, 1000.0, ttft(10.0, 10.0, 0.5))),
                gpu: None,
                schema: None,
            },
            Scrape {
                at_s: 1.0,
                engine: Some(engine(8.0, 2.0, 0.5, 1500.0, ttft(12.0, 14.0, 1.5))),
                gpu: None,
                schema: None,
            },
            Scrape {
                at_s: 2.0,
                engine: Some(engine(4.0, 1.0, 0.25, 2000.0, ttft(14.0, 20.0, 3.5))),
                gpu: None,
                schema: None,
            },
        ];
        let s = summarise(&scrapes, Some(330.0), 1000).unwrap();
        assert_eq!(s.scrapes, 3);
        assert_eq!((s.mean_running, s.max_running), (Some(4.0), Some(8.0)));
        assert_eq!((s.mean_waiting, s.max_waiting), (Some(1.0), Some(2.0)));
        assert_eq!((s.mean_kv_usage, s.max_kv_usage), (Some(0.25), Some(0.5)));
        assert_eq!(s.generation_tokens, Some(1000.0));
        assert_eq!(s.preemptions, Some(10.0));
        assert_eq!(s.prefix_cache_hit_rate, Some(0.1));
        // 10 first tokens during the level, 3.0 s in all: 300 ms mean; 4 ≤ 100 ms, 6 in
        // (0.1, 1]: rank 5 is 1/6 into the second bucket.
        assert!((s.server_mean_ttft_ms.unwrap() - 300.0).abs() < 1e-9);
        assert!((s.server_p50_ttft_ms.unwrap() - (100.0 + 900.0 / 6.0)).abs() < 1e-9);
        assert!((s.client_added_ttft_ms.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(s.energy_j_per_token, None);
        assert!(!s.waiting_grew);
    }

    #[test]
    fn energy_per_token_and_throttled_time_come_from_the_gpu_scrapes() {
        let gpu = |energy_mj: f64, reasons: u64| GpuReading {
            gpus: 1,
            energy_mj: Some(energy_mj),
            throttle_reasons: Some(reasons),
            power_w: Some(300.0),
            ..GpuReading::default()
        };
        let scrapes = [
            Scrape {
                at_s: 0.0,
                engine: None,
                gpu: Some(gpu(0.0, 0)),
                schema: None,
            },
            Scrape {
                at_s: 1.0,
                engine: None,
                gpu: Some(gpu(300_000.0, 0x4)),
                schema: None,
            },
            Scrape {
                at_s: 2.5,
                engine: None,
                gpu: Some(gpu(750_000.0, 0x40)),
                schema: None,
            },
            Scrape {
                at_s: 3.0,
                engine: None,
                gpu: Some(gpu(900_000.0, 0x1)),
                schema: None,
            },
        ];
        let s = summarise(&scrapes, Some(10.0), 1800).unwrap();
        assert_eq!(s.energy_j_per_token, Some(0.5)); // 900 J / 1800 tokens
        assert_eq!(s.throttled_s, Some(2.5)); // (0, 1] power cap, (1, 2.5] thermal
        assert_eq!(s.mean_gpu_power_w, Some(300.0));
        assert_eq!(
            (s.scrapes, s.mean_running, s.server_mean_ttft_ms),
            (0, None, None)
        );
    }

    #[test]
    fn a_queue_that_grows_all_level_is_flagged_one_that_drains_is_not() {
        assert!(grew(&[0.0, 3.0, 6.0, 9.0, 12.0]));
        assert!(!grew(&[0.0, 3.0, 6.0, 3.0, 1.0]));
        assert!(!grew(&[0.0, 0.0, 0.0, 0.0]));
        assert!(grew(&[0.0, 3.0, 6.0, 9.0]), "four scrapes are enough");
        // Ends at its longest, but its second half is shorter than its first: it drained
        // mid-level, so it did not grow all level long.
        assert!(!grew(&[0.0, 10.0, 10.0, 2.0, 2.0, 10.0]));
        // Second half no longer than the first (0.5 each): not growing, though it ends high.
        assert!(!grew(&[0.0, 1.0, 0.0, 0.0, 1.5]));
        // Back where it started: not growing, though the second half is longer.
        assert!(!grew(&[5.0, 0.0, 5.0, 5.0]));
        assert!(!grew(&[0.0, 5.0, 9.0]), "too few scrapes to say");
    }

    #[test]
    fn a_server_restart_mid_level_gives_no_deltas() {
        let scrapes = [
            Scrape {
                at_s: 0.0,
                engine: Some(engine(1.0, 0.0, 0.1, 5000.0, ttft(10.0, 10.0, 0.5))),
                gpu: None,
                schema: None,
            },
            Scrape {
                at_s: 1.0,
                engine: Some(engine(1.0, 0.0, 0.1, 20.0, ttft(1.0, 1.0, 0.05))),
                gpu: None,
                schema: None,
            },
        ];
        let s = summarise(&scrapes, Some(50.0), 10).unwrap();
        assert_eq!(
            (
                s.generation_tokens,
                s.server_mean_ttft_ms,
                s.client_added_ttft_ms
            ),
            (None, None, None)
        );
        assert_eq!(s.mean_running, Some(1.0));
    }

    #[test]
    fn the_client_added_ttft_warns_above_10_percent_and_5_ms() {
        let stats = |added: f64| ServerStats {
            client_added_ttft_ms: Some(added),
            ..ServerStats::default()
        };
        assert_eq!(server_warning(&stats(9.9), Some(100.0), "C=8"), None);
        assert_eq!(
            server_warning(&stats(10.0), Some(100.0), "C=8"),
            None,
            "10 % is not above"
        );
        assert_eq!(
            server_warning(&stats(5.0), Some(6.0), "C=8"),
            None,
            "5 ms is not above"
        );
        let text = server_warning(&stats(10.1), Some(100.0), "C=8").unwrap();
        assert!(
            text.starts_with("C=8: the client added 10.1 ms of its 100.0 ms mean TTFT (10 %)"),
            "{text}"
        );
        assert_eq!(
            server_warning(&stats(4.9), Some(10.0), "C=1"),
            None,
            "49 % but under 5 ms"
        );
        assert!(server_warning(&stats(5.1), Some(10.0), "C=1").is_some());
        assert_eq!(server_warning(&stats(50.0), None, "C=1"), None);
    }

    #[test]
    fn a_growing_queue_and_throttling_are_named_in_the_warning() {
        let stats = ServerStats {
            waiting_grew: true,
            max_waiting: Some(42.0),
            throttled_s: Some(3.25),
            ..ServerStats::default()
        };
        assert_eq!(
            server_warning(&stats, Some(10.0), "C=64").as_deref(),
            Some("C=64: the engine's queue grew all level (to 42 waiting): past saturation; the GPUs were power- or thermal-throttled for 3.2 s")
        );
        assert_eq!(
            server_warning(&ServerStats::default(), Some(10.0), "C=1"),
            None
        );
        let never = ServerStats {
            throttled_s: Some(0.0),
            ..ServerStats::default()
        };
        assert_eq!(
            server_warning(&never, Some(10.0), "C=1"),
            None,
            "0 s throttled is no warning"
        );
    }

    #[test]
    fn a_level_without_prefix_queries_has_no_hit_rate() {
        let reading = |tokens: f64| EngineReading {
            prefix_hits: Some(0.0),
            prefix_queries: Some(tokens),
            ..EngineReading::default()
        };
        let scrape = |at_s: f64, tokens: f64| Scrape {
            at_s,
            engine: Some(reading(tokens)),
            gpu: None,
            schema: None,
        };
        let s = summarise(&[scrape(0.0, 500.0), scrape(1.0, 500.0)], None, 0).unwrap();
        assert_eq!(s.prefix_cache_hit_rate, None, "0 / 0 is no rate, not NaN");
    }

    #[test]
    fn energy_per_token_needs_two_gpu_scrapes_a_rising_counter_and_tokens() {
        let at = |at_s: f64, energy_mj: f64| Scrape {
            at_s,
            engine: None,
            gpu: Some(GpuReading {
                gpus: 1,
                energy_mj: Some(energy_mj),
                ..GpuReading::default()
            }),
            schema: None,
        };
        // 5,000,000 → 5,600,000 mJ: 600 J over 1,200 tokens.
        let s = summarise(&[at(0.0, 5_000_000.0), at(1.0, 5_600_000.0)], None, 1200).unwrap();
        assert_eq!(s.energy_j_per_token, Some(0.5));
        let none = |scrapes: &[Scrape], tokens: u64| {
            summarise(scrapes, None, tokens).unwrap().energy_j_per_token
        };
        assert_eq!(
            none(&[at(0.0, 5_000_000.0), at(1.0, 4_000_000.0)], 1200),
            None,
            "counter reset"
        );
        assert_eq!(
            none(&[at(0.0, 5_000_000.0), at(1.0, 5_600_000.0)], 0),
            None,
            "no tokens"
        );
        assert_eq!(none(&[at(0.0, 5_000_000.0)], 1200), None, "one scrape");
    }

    #[test]
    fn no_scrapes_no_stats() {
        assert_eq!(summarise(&[], Some(1.0), 1), None);
    }
}
