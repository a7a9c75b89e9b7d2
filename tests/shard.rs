//! Shard mode end to end, on loopback: shard processes of the real binary against one
//! simulator, lined up by `--start-at`, then `llmsweep merge`. The merged run must hold
//! every shard's requests, percentiles computed from their union, and the throughput one
//! process gets at the same total concurrency.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use common::binary::{requests, results, BIN};
use llmsweep::metrics::dist::percentile_linear;
use llmsweep::shard::timeline::rfc3339;
use llmsweep::sim::{self, Faults, Profile};
use serde_json::Value;

/// Every stream at 100 tok/s whatever the concurrency (no prefill cost, unbounded batch):
/// the throughput of C streams is the same from one process or from four.
fn paced() -> Profile {
    Profile {
        name: "paced",
        max_batch: 100_000,
        prefill_base_us: 0,
        prefill_us_per_token: 0,
        decode_base_us: 10_000,
        decode_per_seq_us: 0,
        output_tokens: None,
        ..sim::FIXED
    }
}

/// Levels `levels`, each `duration_s` measured after a 0.5 s warmup, 1 s apart.
fn write_config(dir: &Path, url: &str, levels: &str, duration_s: f64) -> PathBuf {
    write_config_warming(dir, url, levels, duration_s, 0.5)
}

/// [`write_config`] with a warmup of `warmup_s`.
fn write_config_warming(
    dir: &Path,
    url: &str,
    levels: &str,
    duration_s: f64,
    warmup_s: f64,
) -> PathBuf {
    let path = dir.join("bench.toml");
    let text = format!(
        "[run]\nname = \"sharded\"\nout_dir = {:?}\n\n[sweep]\nlevels = {levels}\nduration_s = {duration_s}\n\
         warmup_s = {warmup_s}\nsettle_s = 1.0\ntimeout_s = 10.0\n\n[request]\nmax_tokens = 16\nseed = 42\n\n\
         [host]\nsample = false\n\n\
         [[engines]]\nname = \"sim\"\nurl = {url:?}\nmodel = \"sim\"\n",
        dir.join("out").display().to_string()
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// `llmsweep run --config CONFIG` with `args`, waited for.
fn run(config: &Path, args: &[&str], env: &[(&str, String)]) -> std::process::Child {
    let mut command = Command::new(BIN);
    command
        .args(["run", "--config"])
        .arg(config)
        .args(args)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("RANK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().expect("start llmsweep")
}

/// `deploy/slurm/sweep.sbatch` run by bash as array task `task` of `tasks`.
fn sbatch(config: &Path, start: &str, task: u32, tasks: u32) -> std::process::Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/slurm/sweep.sbatch");
    let out = config.parent().unwrap().join("out");
    Command::new("bash")
        .arg(script)
        .env("LLMSWEEP", BIN)
        .env("BENCH_TOML", config)
        .env("RESULTS_DIR", out)
        .env("START_AT", start)
        .env("SLURM_ARRAY_TASK_ID", task.to_string())
        .env("SLURM_ARRAY_TASK_COUNT", tasks.to_string())
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_MIN")
        .env_remove("RANK")
        .env_remove("LLMSWEEP_SHARD_COUNT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sbatch script")
}

fn finished(child: std::process::Child) -> Output {
    let output = child.wait_with_output().expect("llmsweep ran");
    assert!(
        output.status.success(),
        "llmsweep failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}

/// Shards 0/2 and 1/2 of `config`, starting 2 s from now, waited for.
async fn two_shards(config: &Path) {
    let start = rfc3339(SystemTime::now() + Duration::from_secs(2));
    let children = vec![
        run(config, &["--shard", "0/2", "--start-at", &start], &[]),
        run(config, &["--shard", "1/2", "--start-at", &start], &[]),
    ];
    tokio::task::spawn_blocking(move || children.into_iter().map(finished).count())
        .await
        .unwrap();
}

fn shard_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("-shard-"))
        .collect();
    dirs.sort();
    dirs
}

fn merge(dirs: &[PathBuf], out: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run merge")
}

/// `merge` that must succeed.
fn merged_ok(dirs: &[PathBuf], out: &Path) {
    let output = merge(dirs, out, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The level's `key` over the union of `lines`, as the recorder computes it: numpy-linear
/// percentiles of the exact µs values.
fn percentile(lines: &[Value], key: &str, p: f64) -> f64 {
    let mut us: Vec<u32> = lines
        .iter()
        .filter_map(|l| l[key].as_f64())
        .map(|ms| (ms * 1e3).round() as u32)
        .collect();
    us.sort_unstable();
    percentile_linear(&us, p) / 1e3
}

fn level(report: &Value, at: usize) -> &Value {
    &report["engines"][0]["levels"][at]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_merge_into_the_run_one_process_makes() {
    let _serial = common::TIMING.lock().await;
    let server = common::sim(paced(), Faults::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &server.chat_url(), "[8]", 3.0);
    let start = rfc3339(SystemTime::now() + Duration::from_secs(3));
    // Two shards by flag, two from each orchestrator's variables.
    let children = vec![
        run(&config, &["--shard", "0/4", "--start-at", &start], &[]),
        run(&config, &["--shard", "1/4", "--start-at", &start], &[]),
        run(
            &config,
            &["--shard-from-env", "--start-at", &start],
            &[
                ("JOB_COMPLETION_INDEX", "2".into()),
                ("LLMSWEEP_SHARD_COUNT", "4".into()),
            ],
        ),
        // The Slurm example itself, as an array task would run it.
        sbatch(&config, &start, 3, 4),
    ];
    let outputs: Vec<Output> =
        tokio::task::spawn_blocking(move || children.into_iter().map(finished).collect())
            .await
            .unwrap();
    let first = String::from_utf8_lossy(&outputs[0].stdout);
    let slurm = String::from_utf8_lossy(&outputs[3].stderr);
    assert!(slurm.contains("llmsweep shard 3 of 4"), "{slurm}");
    assert!(
        first.contains("shard 0/4: first level's slot at"),
        "{first}"
    );
    let out = tmp.path().join("out");
    let dirs = shard_dirs(&out);
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let stamp = names[0].split("-shard-").next().unwrap().to_string();
    assert!(stamp.starts_with("sharded-"), "{names:?}");
    assert_eq!(
        names,
        (0..4)
            .map(|i| format!("{stamp}-shard-{i}-of-4"))
            .collect::<Vec<_>>()
    );
    let mut union = Vec::new();
    let mut completed = 0;
    for (i, dir) in dirs.iter().enumerate() {
        let report = results(dir);
        assert_eq!(report["shard"]["index"], i);
        assert_eq!(report["shard"]["count"], 4);
        let slot = &report["shard"]["slots"][0];
        // Each shard holds 2 of the 8 streams, and began measuring with the window.
        assert_eq!(slot["share"], 2.0);
        assert!(slot["late_ms"].as_f64().unwrap() < 500.0, "{slot}");
        assert_eq!(level(&report, 0)["max_concurrency"], 2);
        completed += level(&report, 0)["completed"].as_u64().unwrap();
        let lines = requests(dir);
        // Shard i sends requests i, i + 4, i + 8, ... of the one-process sequence.
        assert!(lines
            .iter()
            .all(|l| l["request_index"].as_u64().unwrap() % 4 == i as u64));
        assert!(dir.join("hlog/e0-l0.hlog").is_file());
        union.extend(lines);
    }
    assert!(completed > 60, "only {completed} requests in 3 s at C=8");

    let merged_dir = tmp.path().join("merged");
    merged_ok(&dirs, &merged_dir);
    let merged = results(&merged_dir);
    let l = level(&merged, 0);
    assert_eq!(l["completed"].as_u64().unwrap(), completed);
    assert_eq!(l["completed"].as_u64().unwrap(), union.len() as u64);
    assert_eq!(l["max_concurrency"], 8);
    assert_eq!(merged["merged"]["shards"], 4);
    assert_eq!(merged["merged"]["latencies_from"], "records");
    assert!(merged.get("shard").is_none());
    for (key, field) in [("ttft_ms", "ttft_ms"), ("e2el_ms", "e2el_ms")] {
        for (p, name) in [(50.0, "median"), (90.0, "p90"), (99.0, "p99")] {
            let expected = percentile(&union, key, p);
            let got = l[format!("{name}_{field}")].as_f64().unwrap();
            assert!(
                (got - expected).abs() < 1e-6,
                "{name} {field}: merged {got}, union of requests.jsonl {expected}"
            );
        }
    }
    // ITL from the merged histograms: 10 ms steps.
    let itl = l["median_itl_ms"].as_f64().unwrap();
    assert!((9.0..12.0).contains(&itl), "{itl}");
    assert_eq!(requests(&merged_dir).len(), union.len());
    let summary = std::fs::read_to_string(merged_dir.join("summary.md")).unwrap();
    assert!(summary.contains("merged from 4 shards"), "{summary}");
    assert!(merged_dir.join("chart.png").is_file());

    // One process driving all 8 streams against the same simulator.
    let single = tmp.path().join("single");
    std::fs::create_dir_all(&single).unwrap();
    let config = write_config(&single, &server.chat_url(), "[8]", 3.0);
    let child = run(&config, &["--headless"], &[]);
    tokio::task::spawn_blocking(move || finished(child))
        .await
        .unwrap();
    let one = results(&common::binary::run_dir(&single.join("out")).unwrap());
    let (merged_tps, one_tps) = (
        l["output_throughput"].as_f64().unwrap(),
        level(&one, 0)["output_throughput"].as_f64().unwrap(),
    );
    assert!(
        (merged_tps / one_tps - 1.0).abs() < 0.10,
        "4 shards merged: {merged_tps:.1} tok/s; one process: {one_tps:.1} tok/s"
    );
    assert!(
        (l["mean_concurrency"].as_f64().unwrap() - 8.0).abs() < 1.0,
        "{l}"
    );

    // Merging refuses what is not one run, and names missing shards.
    let three = &dirs[..3];
    let output = merge(three, &tmp.path().join("m3"), &[]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("shard(s) [3] of 4 missing (have [0, 1, 2])"),
        "{err}"
    );
    let output = merge(three, &tmp.path().join("m3"), &["--partial"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let partial = results(&tmp.path().join("m3"));
    assert_eq!(partial["merged"]["missing"], serde_json::json!([3]));
    assert_eq!(level(&partial, 0)["max_concurrency"], 6);
    let tampered = tmp.path().join("tampered");
    copy_dir(&dirs[3], &tampered);
    let path = tampered.join("results.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "\"request.max_tokens\": \"16\"",
        "\"request.max_tokens\": \"64\"",
    );
    std::fs::write(&path, text).unwrap();
    let mut mixed = dirs[..3].to_vec();
    mixed.push(tampered);
    let output = merge(&mixed, &tmp.path().join("m4"), &[]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("are not shards of one run: request.max_tokens = 16 vs 64"),
        "{err}"
    );
    let output = merge(
        &[dirs[0].clone(), dirs[0].clone()],
        &tmp.path().join("m5"),
        &[],
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("are both shard 0/4"), "{err}");
    // Without requests.jsonl the latencies come from the merged .hlog histograms
    // (3 significant digits), the counts from the shards' summaries.
    let bare: Vec<PathBuf> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let copy = tmp.path().join(format!("bare-{i}"));
            copy_dir(dir, &copy);
            std::fs::remove_file(copy.join("requests.jsonl")).unwrap();
            copy
        })
        .collect();
    merged_ok(&bare, &tmp.path().join("from-hlog"));
    let approx = results(&tmp.path().join("from-hlog"));
    let a = level(&approx, 0);
    assert_eq!(approx["merged"]["latencies_from"], "histograms");
    assert_eq!(a["completed"], l["completed"]);
    assert_eq!(a["total_output_tokens"], l["total_output_tokens"]);
    // Rates over the shards' measured span (first start to last end), near the lines' own.
    for field in ["request_throughput", "output_throughput"] {
        let (got, exact) = (a[field].as_f64().unwrap(), l[field].as_f64().unwrap());
        assert!(
            (got / exact - 1.0).abs() < 0.2,
            "{field}: {got} from histograms vs {exact} from the lines"
        );
    }
    // The shards' histograms merged are the histogram of the union's values.
    for (key, field, q) in [
        ("ttft_ms", "median_ttft_ms", 0.5),
        ("ttft_ms", "p99_ttft_ms", 0.99),
        ("e2el_ms", "median_e2el_ms", 0.5),
        ("e2el_ms", "p99_e2el_ms", 0.99),
    ] {
        let mut union_hist =
            hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for ms in union.iter().filter_map(|l| l[key].as_f64()) {
            union_hist
                .record(((ms * 1e3).round() as u64).max(1))
                .unwrap();
        }
        let expected = union_hist.value_at_quantile(q) as f64 / 1e3;
        let got = a[field].as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1e-9,
            "{field}: {got} vs the union's histogram {expected}"
        );
        // ...within the histogram's resolution of the exact median.
        if q == 0.5 {
            let exact = l[field].as_f64().unwrap();
            assert!(
                (got / exact - 1.0).abs() < 0.01,
                "{field}: {got} vs exact {exact}"
            );
        }
    }
    assert_eq!(a["percentiles_from_histogram"], true);

    // Into a folder holding a run: refused, the run left alone.
    let output = merge(&dirs, &merged_dir, &[]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("holds a run already"));
    server.shutdown().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("hlog")).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    for entry in std::fs::read_dir(from.join("hlog")).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join("hlog").join(entry.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_shard_joins_the_window_in_progress_and_marks_the_ones_it_missed() {
    let _serial = common::TIMING.lock().await;
    let server = common::sim(paced(), Faults::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    // Slots of 0.5 + 4 + 1 = 5.5 s: level 0's window is 0.5–4.5 s after the start.
    let config = write_config(tmp.path(), &server.chat_url(), "[2, 2]", 4.0);
    let now = SystemTime::now();
    // 1.5 s into level 0's window (the late shard runs that level only); and 4.5 s in,
    // once it is over.
    let late = rfc3339(now - Duration::from_millis(2_000));
    let missed = rfc3339(now - Duration::from_millis(5_000));
    let children = vec![
        run(
            &config,
            &["--shard", "0/2", "--start-at", &late, "--levels", "2"],
            &[],
        ),
        run(&config, &["--shard", "1/2", "--start-at", &missed], &[]),
    ];
    let outputs: Vec<Output> =
        tokio::task::spawn_blocking(move || children.into_iter().map(finished).collect())
            .await
            .unwrap();
    let dirs = shard_dirs(&tmp.path().join("out"));
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let late = results(
        dirs.iter()
            .find(|d| d.to_string_lossy().contains("shard-0"))
            .unwrap(),
    );
    let slot = &late["shard"]["slots"][0];
    let late_ms = slot["late_ms"].as_f64().unwrap();
    assert!((1_400.0..3_500.0).contains(&late_ms), "{slot}");
    assert!(slot.get("missed").is_none(), "{slot}");
    // Joined late, it measured what was left of the window: about 2.5 s of its 4.
    let measured = level(&late, 0)["duration"].as_f64().unwrap();
    assert!(measured < 2.7, "{measured}");
    assert!(level(&late, 0)["completed"].as_u64().unwrap() > 0);

    let missed = results(
        dirs.iter()
            .find(|d| d.to_string_lossy().contains("shard-1"))
            .unwrap(),
    );
    assert_eq!(missed["shard"]["slots"][0]["missed"], true);
    assert_eq!(level(&missed, 0)["status"], "skipped");
    assert_eq!(level(&missed, 0)["completed"], 0);
    assert!(level(&missed, 0)["skipped_reason"]
        .as_str()
        .unwrap()
        .starts_with("missed: shard 1/2 reached it after its window"));
    assert!(level(&missed, 1)["completed"].as_u64().unwrap() > 0);
    // The missed level keeps its value (and so its place on the chart and in the merge).
    assert_eq!(level(&missed, 0)["level"], 2.0);
    let stdout = String::from_utf8_lossy(&outputs[1].stdout);
    assert!(stdout.contains("shard 1/2: missed level 2"), "{stdout}");
    // Merged, the level measured by the late shard alone says how late it began (over 1 s).
    let late_dir = dirs
        .iter()
        .find(|d| d.to_string_lossy().contains("shard-0"))
        .unwrap()
        .clone();
    let output = merge(&[late_dir], &tmp.path().join("merged"), &["--partial"]);
    assert!(output.status.success(), "{output:?}");
    let merged = results(&tmp.path().join("merged"));
    let reason = level(&merged, 0)["skipped_reason"].as_str().unwrap_or("");
    assert!(
        reason.starts_with("shard 0 began measuring"),
        "{}",
        level(&merged, 0)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_arriving_in_the_warmup_warms_up_for_what_is_left_and_measures_the_window() {
    let _serial = common::TIMING.lock().await;
    let server = common::sim(paced(), Faults::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    // A 3 s warmup, then 1.5 s measured; the shard starts 1 s into the warmup.
    let config = write_config_warming(tmp.path(), &server.chat_url(), "[2]", 1.5, 3.0);
    let start = rfc3339(SystemTime::now() - Duration::from_millis(1_000));
    let child = run(&config, &["--shard", "0/2", "--start-at", &start], &[]);
    tokio::task::spawn_blocking(move || finished(child))
        .await
        .unwrap();
    let dirs = shard_dirs(&tmp.path().join("out"));
    let report = results(&dirs[0]);
    let slot = &report["shard"]["slots"][0];
    let (window, started) = (
        slot["window_start_unix_ms"].as_f64().unwrap(),
        slot["started_unix_ms"].as_f64().unwrap(),
    );
    // It warmed up until the window: measuring began at its start, not on arrival ~2 s
    // before it.
    assert!(
        (0.0..300.0).contains(&(started - window)),
        "measuring began {} ms after the window's start: {slot}",
        started - window
    );
    assert!(slot["late_ms"].as_f64().unwrap() < 300.0, "{slot}");
    assert!(level(&report, 0)["completed"].as_u64().unwrap() > 0);
    server.shutdown().await;
}

#[test]
fn shard_mode_refuses_sweeps_it_cannot_line_up() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("bench.toml");
    let start = rfc3339(SystemTime::now() + Duration::from_secs(60));
    for (sweep, expected) in [
        (
            "levels = [1]\nrequests_per_level = 10",
            "set `sweep.duration_s`",
        ),
        (
            "levels = [1]\nduration_s = 5\nrequests_per_level = 10",
            "unset `sweep.requests_per_level`",
        ),
        (
            "levels = [1]\nduration_s = 5\nwarmup_requests = 3",
            "set `sweep.warmup_s` instead of `sweep.warmup_requests`",
        ),
        (
            "levels = \"auto\"\nduration_s = 5",
            "a fixed list of `sweep.levels`",
        ),
    ] {
        std::fs::write(
            &config,
            format!("[sweep]\n{sweep}\n\n[[engines]]\nname = \"e\"\nurl = \"http://127.0.0.1:9/v1/chat/completions\"\nmodel = \"m\"\n"),
        )
        .unwrap();
        let output = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&config)
            .args(["--shard", "0/2", "--start-at", &start])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{sweep}: {err}");
        assert!(err.contains(expected), "{sweep}: {err}");
    }
    for (args, expected) in [
        (
            vec!["--shard", "4/4", "--start-at", &start],
            "out of range for 4 shards",
        ),
        (
            vec!["--shard", "1/4", "--start-at", "soon"],
            "--start-at: \"soon\" is not an RFC 3339 time",
        ),
        (
            vec!["--shard-from-env", "--start-at", &start],
            "--shard-from-env: none of",
        ),
    ] {
        let output = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&config)
            .args(&args)
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("RANK")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // --shard needs --start-at (clap).
    let output = Command::new(BIN)
        .args(["run", "--shard", "0/2"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("--start-at"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_mode_shards_send_their_share_on_schedules_of_their_own() {
    let _serial = common::TIMING.lock().await;
    let server = common::sim(paced(), Faults::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &server.chat_url(), "[40]", 2.0);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[sweep]\n", "[sweep]\nmode = \"rate\"\n"),
    )
    .unwrap();
    two_shards(&config).await;
    let dirs = shard_dirs(&tmp.path().join("out"));
    let sends: Vec<Vec<f64>> = dirs
        .iter()
        .map(|d| {
            requests(d)
                .iter()
                .map(|l| l["sent_at_ms"].as_f64().unwrap())
                .collect()
        })
        .collect();
    for dir in &dirs {
        let report = results(dir);
        assert_eq!(report["shard"]["slots"][0]["share"], 20.0);
        // No cap configured: none per shard either (0 = no cap).
        assert_eq!(level(&report, 0)["max_concurrency"], 0);
    }
    // Independent Poisson streams: not the same schedule twice.
    assert_ne!(sends[0][..5], sends[1][..5]);
    merged_ok(&dirs, &tmp.path().join("merged"));
    let merged = results(&tmp.path().join("merged"));
    let sent: usize = sends.iter().map(Vec::len).sum();
    assert_eq!(level(&merged, 0)["max_concurrency"], 0);
    assert_eq!(
        level(&merged, 0)["completed"].as_u64().unwrap(),
        sent as u64
    );
    // A merged request's send time is on the merged run's clock: its shard's start of
    // measuring, counted from the earliest shard's, plus the shard's own `sent_at_ms`.
    let mut own = vec![Vec::new(); dirs.len()];
    let mut started = vec![0.0; dirs.len()];
    for (dir, sends) in dirs.iter().zip(&sends) {
        let shard = &results(dir)["shard"];
        let index = shard["index"].as_u64().unwrap() as usize;
        started[index] = shard["slots"][0]["started_unix_ms"].as_f64().unwrap();
        own[index] = sends.clone();
    }
    let base = started.iter().copied().fold(f64::INFINITY, f64::min);
    let mut on_merged = vec![Vec::new(); dirs.len()];
    for line in requests(&tmp.path().join("merged")) {
        let index = line["shard"].as_u64().unwrap() as usize;
        on_merged[index].push(line["sent_at_ms"].as_f64().unwrap());
    }
    for index in 0..dirs.len() {
        let mut expected: Vec<f64> = own[index]
            .iter()
            .map(|ms| ms + started[index] - base)
            .collect();
        expected.sort_by(f64::total_cmp);
        on_merged[index].sort_by(f64::total_cmp);
        assert_eq!(expected.len(), on_merged[index].len(), "shard {index}");
        for (want, got) in expected.iter().zip(&on_merged[index]) {
            assert!(
                (want - got).abs() < 0.002,
                "shard {index}: {got} ms, not {want}"
            );
        }
    }
    // 40 req/s for 2 s between them: 80 expected (Poisson, sd ≈ 9); each sending the
    // whole rate would make ~160.
    assert!((50..=115).contains(&sent), "{sent} requests");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trials_are_slots_of_their_own_and_merge_into_one_level() {
    let _serial = common::TIMING.lock().await;
    let server = common::sim(paced(), Faults::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &server.chat_url(), "[4]", 1.0);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("[sweep]\n", "[sweep]\ntrials = 2\n")).unwrap();
    two_shards(&config).await;
    let dirs = shard_dirs(&tmp.path().join("out"));
    let mut per_trial = [0u64; 2];
    for dir in &dirs {
        assert!(
            dir.join("hlog/e0-l0-t1.hlog").is_file(),
            "{}",
            dir.display()
        );
        assert!(
            dir.join("hlog/e0-l0-t2.hlog").is_file(),
            "{}",
            dir.display()
        );
        let report = results(dir);
        let slots = report["shard"]["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 2);
        // Trial 2's window is one slot (0.5 + 1 + 1 s) after trial 1's.
        let gap = slots[1]["window_start_unix_ms"].as_f64().unwrap()
            - slots[0]["window_start_unix_ms"].as_f64().unwrap();
        assert_eq!(gap, 2_500.0);
        for (t, trial) in level(&report, 0)["trials"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            per_trial[t] += trial["completed"].as_u64().unwrap();
        }
    }
    merged_ok(&dirs, &tmp.path().join("merged"));
    let merged = results(&tmp.path().join("merged"));
    let l = level(&merged, 0);
    let trials = l["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2);
    for (t, trial) in trials.iter().enumerate() {
        assert_eq!(
            trial["completed"].as_u64().unwrap(),
            per_trial[t],
            "trial {}",
            t + 1
        );
        assert_eq!(trial["max_concurrency"], 4);
    }
    assert_eq!(
        l["completed"].as_u64().unwrap(),
        per_trial[0] + per_trial[1]
    );
    server.shutdown().await;
}
