//! `--vllm-json`: llmsweep's run as `vllm bench serve --save-result` files. The key set of
//! the aggregate fields must equal that of a real result file saved from vLLM's own
//! benchmark against the CPU vLLM of ../shared/realengine (tests/fixtures/), and the values
//! must be the run's, in vLLM's units.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::binary::{requests, results, BIN};
use common::{quick, sweep_plan, Run};
use llmsweep::sim::Faults;
use serde_json::Value;

fn fixture() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vllm-bench-serve-result.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The keys whose values are not per-request arrays.
fn aggregate_keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| !v.is_array())
        .map(|(k, _)| k.clone())
        .collect()
}

fn array_keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.is_array())
        .map(|(k, _)| k.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_exports_as_vllm_bench_serve_results() {
    let sim = common::sim(quick(), Faults::default()).await;
    let mut plan = sweep_plan(&[("sim-a", sim.chat_url())], &[1, 4], 12, 16);
    plan.config.run.request_itls = true;
    let mut run = Run::start(plan);
    let (_, outcome) = run.finish().await;
    let dir = outcome.out_dir.clone();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .arg("report")
        .arg(dir.join("results.json"))
        .arg("--out")
        .arg(out.path())
        .args(["--vllm-json", "--vllm-detailed"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut files: Vec<_> = std::fs::read_dir(out.path().join("vllm"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].starts_with("sim-a-infqps-concurrency1-sim-"),
        "{names:?}"
    );
    assert!(
        names[1].starts_with("sim-a-infqps-concurrency4-sim-"),
        "{names:?}"
    );
    let real = fixture();
    let report = results(&dir);
    let lines = requests(&dir);
    for (i, file) in files.iter().enumerate() {
        let ours: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        assert_eq!(
            aggregate_keys(&ours),
            aggregate_keys(&real),
            "{}",
            file.display()
        );
        // Every array vLLM saves with --save-detailed but the generated texts (llmsweep
        // keeps no output text).
        let mut expected = array_keys(&real);
        expected.remove("generated_texts");
        assert_eq!(array_keys(&ours), expected);
        let level = &report["engines"][0]["levels"][i];
        for key in [
            "completed",
            "failed",
            "total_output_tokens",
            "duration",
            "output_throughput",
            "mean_ttft_ms",
            "median_ttft_ms",
            "p99_e2el_ms",
            "p90_itl_ms",
        ] {
            assert_eq!(ours[key], level[key], "{key}");
        }
        assert_eq!(ours["p50_ttft_ms"], level["median_ttft_ms"]);
        assert_eq!(ours["max_concurrency"], level["max_concurrency"]);
        assert_eq!(ours["request_rate"], "inf");
        assert_eq!(ours["backend"], "openai-chat");
        assert_eq!(ours["model_id"], "sim");
        // Per-request arrays in seconds, as vLLM's.
        let of_level: Vec<&Value> = lines.iter().filter(|l| l["level_index"] == i).collect();
        assert_eq!(ours["num_prompts"], of_level.len());
        let ttfts: Vec<f64> = ours["ttfts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let expected: Vec<f64> = of_level
            .iter()
            .map(|l| l["ttft_ms"].as_f64().unwrap() / 1e3)
            .collect();
        assert_eq!(ttfts, expected);
        let itls = ours["itls"].as_array().unwrap();
        assert_eq!(itls.len(), of_level.len());
        assert_eq!(itls[0].as_array().unwrap().len(), 15, "16 tokens, 15 gaps");
        assert!(ours["std_itl_ms"].as_f64().is_some());
        assert!(ours["std_ttft_ms"].as_f64().unwrap() >= 0.0);
        // 16 tokens per request, each within its level: some second held them.
        assert!(ours["max_output_tokens_per_s"].as_f64().unwrap() >= 16.0);
    }
}

#[test]
fn the_fixture_is_a_real_vllm_result() {
    let real = fixture();
    assert_eq!(real["backend"], "openai-chat");
    assert_eq!(real["completed"], 12);
    assert!(real["itls"].is_array() && real["mean_itl_ms"].is_f64());
}
