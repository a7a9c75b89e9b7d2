//! The Prometheus parser and vLLM schema against the real vLLM 0.32 (CPU build) expositions
//! saved in tests/fixtures/metrics (idle after 34 requests; the same server later, mid-level
//! at concurrency 8).

use llmsweep::server_metrics::exposition::Exposition;
use llmsweep::server_metrics::level::{summarise, Scrape};
use llmsweep::server_metrics::schema::Schema;

fn fixture(name: &str) -> Exposition {
    let path = format!(
        "{}/tests/fixtures/metrics/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    Exposition::parse(&text).expect("real vLLM text parses")
}

#[test]
fn real_vllm_idle_exposition_is_read_in_the_common_schema() {
    let e = fixture("vllm-0.32-cpu-metrics.txt");
    assert_eq!(Schema::detect(&e), Some(Schema::Vllm));
    let r = Schema::Vllm.read(&e);
    assert_eq!(
        (r.running, r.waiting, r.kv_usage),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    assert_eq!(r.generation_tokens, Some(4352.0));
    assert_eq!(r.prefix_queries, Some(1289.0));
    assert_eq!(r.prefix_hits, Some(0.0));
    assert_eq!(r.preemptions, Some(0.0));
    let ttft = r.ttft.expect("vllm:time_to_first_token_seconds");
    assert_eq!(ttft.count, 34.0);
    assert!((ttft.sum - 1.048828125).abs() < 1e-12);
    assert_eq!(ttft.buckets.len(), 23); // 22 bounds and +Inf
    assert_eq!(ttft.buckets.last().map(|b| b.1), Some(34.0));
    // 3 first tokens ≤ 20 ms, 28 more ≤ 40 ms: rank 17 is halfway into (20, 40] ms.
    assert!((ttft.quantile(0.5).unwrap() - 0.03).abs() < 1e-12);
}

#[test]
fn real_vllm_under_load_shows_the_batch_and_the_kv_cache() {
    let r = Schema::Vllm.read(&fixture("vllm-0.32-cpu-metrics-under-load.txt"));
    assert_eq!(r.running, Some(8.0));
    assert_eq!(r.waiting, Some(0.0));
    let kv = r.kv_usage.expect("kv usage");
    assert!(kv > 0.0 && kv < 0.01, "{kv}");
}

#[test]
fn a_level_between_the_two_real_scrapes_gets_its_deltas() {
    let idle = Schema::Vllm.read(&fixture("vllm-0.32-cpu-metrics.txt"));
    let load = Schema::Vllm.read(&fixture("vllm-0.32-cpu-metrics-under-load.txt"));
    let scrapes = [
        Scrape {
            at_s: 0.0,
            engine: Some(idle),
            gpu: None,
            schema: None,
        },
        Scrape {
            at_s: 10.0,
            engine: Some(load),
            gpu: None,
            schema: None,
        },
    ];
    let s = summarise(&scrapes, Some(40.0), 13_453).expect("stats");
    assert_eq!(s.generation_tokens, Some(17805.0 - 4352.0));
    assert_eq!(s.preemptions, Some(0.0));
    assert_eq!(s.prefix_cache_hit_rate, Some(0.0));
    assert_eq!((s.mean_running, s.max_running), (Some(4.0), Some(8.0)));
    // 108 first tokens in (3.9679 − 1.0488) s.
    let mean = s.server_mean_ttft_ms.expect("server ttft");
    assert!(
        (mean - (3.967909097671509 - 1.048828125) / 108.0 * 1e3).abs() < 1e-9,
        "{mean}"
    );
    assert!((s.client_added_ttft_ms.unwrap() - (40.0 - mean)).abs() < 1e-9);
    assert!(s.server_p50_ttft_ms.is_some());
}
