//! Trace replay (`[prompts] trace`, Mooncake format): prompts of the lines' lengths whose
//! shared `hash_ids` share text, `max_tokens` = output length, bad lines named, the config's
//! rules, busting per level, and the arrival times honoured at speed 1 and 2 (and under a
//! `max_concurrency` cap) against a local server.

use crate::common;

use std::path::{Path, PathBuf};

use common::{config, counting_server, plan, repeat_warnings, Run};
use llmsweep::config::Sources;
use llmsweep::plan::{Plan, RequestPos};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trace/mooncake.jsonl")
}

/// The fixture's lines: (timestamp ms, input_length, output_length, hash_ids).
const LINES: [(f64, u64, u32, &[u64]); 7] = [
    (0.0, 1100, 4, &[0, 1, 2]),
    (0.0, 700, 6, &[0, 3]),
    (100.0, 1536, 3, &[0, 1, 4]),
    (250.0, 300, 5, &[5]),
    (250.5, 1024, 2, &[0, 3]),
    (400.0, 90, 2, &[]),
    (600.0, 520, 8, &[5, 6]),
];

/// Words of one full 512-token block (512 / 1.3).
const BLOCK_WORDS: usize = 394;

/// Engine A (chat) at `url`, B (completions) at the same host, a rate-mode `[sweep]` with
/// `sweep`'s keys, and `[prompts] trace` with `extra`'s keys.
fn trace_toml(url: &str, trace: &Path, sweep: &str, extra: &str) -> String {
    let completions = url.replace("/chat/completions", "/completions");
    format!(
        "{}[[engines]]\nname = \"B\"\nurl = {completions:?}\nmodel = \"m\"\napi = \"completions\"\nmetrics = false\n\n{}",
        engine_a(url),
        rest(trace, sweep, extra)
    )
}

/// [`trace_toml`] with engine A alone.
fn one_engine_toml(url: &str, trace: &Path, sweep: &str, extra: &str) -> String {
    format!("{}{}", engine_a(url), rest(trace, sweep, extra))
}

fn engine_a(url: &str) -> String {
    format!("[[engines]]\nname = \"A\"\nurl = {url:?}\nmodel = \"m\"\nmetrics = false\n\n")
}

fn rest(trace: &Path, sweep: &str, extra: &str) -> String {
    format!(
        "[host]\nsample = false\n\n\
         [sweep]\nmode = \"rate\"\n{sweep}\n\n[request]\nseed = 42\n\n\
         [prompts]\ntrace = {:?}\n{extra}",
        trace.display().to_string()
    )
}

fn load_error(toml: &str) -> String {
    let config = llmsweep::config::Config::load(&Sources {
        text: Some(("bench.toml".into(), toml.to_string())),
        env: Some(Default::default()),
        ..Default::default()
    });
    match config {
        Err(e) => e.to_string(),
        Ok(config) => Plan::new(config, &|_| None).unwrap_err(),
    }
}

const NOWHERE: &str = "http://127.0.0.1:9/v1/chat/completions";

/// The prompt text of engine `engine`'s body for trace line `line`.
fn text(plan: &Plan, engine: usize, line: usize) -> String {
    let body: Value = serde_json::from_slice(&plan.engines[engine].bodies[line]).unwrap();
    let text = match body.get("messages") {
        Some(m) => &m[0]["content"],
        None => &body["prompt"],
    };
    text.as_str().unwrap().to_string()
}

fn words(text: &str) -> Vec<&str> {
    text.split(' ').collect()
}

#[test]
fn trace_prompts_have_the_lines_lengths_and_share_their_blocks_text() {
    let plan = plan(config(&trace_toml(NOWHERE, &fixture(), "levels = [1]", "")));
    assert_eq!(plan.prompts.len(), 7, "the blank line is skipped");
    assert_eq!(
        plan.workload.requests_per_level, 7,
        "a level is the whole trace"
    );
    assert_eq!(
        plan.workload.trace.as_deref(),
        Some(fixture().display().to_string().as_str())
    );
    assert_eq!(
        plan.workload.prompt_source,
        format!(
            "trace {} over 0.6 s, 7 distinct 512-token blocks (7 prompts)",
            fixture().display()
        )
    );
    assert!(plan.workload.fingerprint["prompts.schedule"].starts_with("fnv1a:"));
    for (i, &(_, input, output, _)) in LINES.iter().enumerate() {
        let info = plan.prompts[i];
        // Estimated (words × 1.3): within a token per block of the line's length.
        assert!(
            info.input_tokens_est.abs_diff(input) <= 3,
            "line {i}: {} vs {input}",
            info.input_tokens_est
        );
        assert_eq!(info.max_tokens, output, "line {i}");
        let body: Value = serde_json::from_slice(&plan.engines[0].bodies[i]).unwrap();
        assert_eq!(body["max_tokens"], output);
        // The same text on both APIs.
        assert_eq!(text(&plan, 0, i), text(&plan, 1, i));
    }
    let t: Vec<String> = (0..7).map(|i| text(&plan, 0, i)).collect();
    let w: Vec<Vec<&str>> = t.iter().map(|t| words(t)).collect();
    let blocks = |i: usize, n: usize| w[i][..n * BLOCK_WORDS].join(" ");
    // Lines 0 and 2 share blocks 0 and 1, then differ (2 vs 4).
    assert_eq!(blocks(0, 2), blocks(2, 2));
    assert_ne!(w[0][2 * BLOCK_WORDS..][..50], w[2][2 * BLOCK_WORDS..][..50]);
    // Lines 0 and 1 share block 0 only.
    assert_eq!(blocks(0, 1), blocks(1, 1));
    assert_ne!(w[0][BLOCK_WORDS..][..50], w[1][BLOCK_WORDS..][..50]);
    // Line 1 ([0, 3], 700 tokens) is the start of line 4 ([0, 3], 1024): a partial block is
    // its full one's start; line 3 ([5], 300) likewise of line 6 ([5, 6]).
    assert!(t[4].starts_with(&t[1]));
    assert!(t[6].starts_with(&t[3]));
    // Line 5 has no blocks: its own text.
    for (i, other) in w.iter().enumerate().filter(|&(i, _)| i != 5) {
        assert_ne!(w[5][..20], other[..20], "line 5 vs {i}");
    }
    // A block's text is a function of the seed and its id.
    let other_seed = plan_with_seed(7);
    assert_ne!(text(&other_seed, 0, 0), t[0]);
    assert_eq!(text(&plan_with_seed(42), 0, 0), t[0]);
}

fn plan_with_seed(seed: u64) -> Plan {
    plan(config(
        &trace_toml(NOWHERE, &fixture(), "levels = [1]", "")
            .replace("[request]\nseed = 42", &format!("[request]\nseed = {seed}")),
    ))
}

#[test]
fn limit_and_requests_per_level_cut_the_trace() {
    let limited = plan(config(&trace_toml(
        NOWHERE,
        &fixture(),
        "levels = [1]",
        "limit = 3",
    )));
    assert_eq!(limited.prompts.len(), 3);
    assert_eq!(limited.workload.requests_per_level, 3);
    assert!(limited
        .workload
        .prompt_source
        .contains("over 0.1 s, 5 distinct"));
    let counted = plan(config(&trace_toml(
        NOWHERE,
        &fixture(),
        "levels = [1]\nrequests_per_level = 4",
        "",
    )));
    assert_eq!(counted.request_limit(1.0), Some(4));
    let more = plan(config(&trace_toml(
        NOWHERE,
        &fixture(),
        "levels = [1]\nrequests_per_level = 40",
        "",
    )));
    assert_eq!(more.request_limit(1.0), Some(7), "at most the trace");
    let timed = plan(config(&trace_toml(
        NOWHERE,
        &fixture(),
        "levels = [1]\nduration_s = 0.3",
        "",
    )));
    assert_eq!(
        timed.request_limit(1.0),
        Some(7),
        "time-bound, and never past the trace"
    );
}

#[test]
fn bad_trace_lines_are_one_line_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"timestamp": 0, "input_length": 10, "output_length": 2}"#;
    let cases = [
        ("{\"timestamp\": 0,", "not JSON (EOF while parsing a value)"),
        (
            "[1, 2]",
            "expected an object with \"timestamp\", \"input_length\", \"output_length\"",
        ),
        (
            r#"{"input_length": 10, "output_length": 2}"#,
            "\"timestamp\" must be a number of ms from the trace's start (at least 0)",
        ),
        (
            r#"{"timestamp": -5, "input_length": 10, "output_length": 2}"#,
            "\"timestamp\" must be a number of ms from the trace's start (at least 0)",
        ),
        (
            r#"{"timestamp": 5, "input_length": 0, "output_length": 2}"#,
            "\"input_length\" must be a whole number of tokens, at least 1",
        ),
        (
            r#"{"timestamp": 5, "input_length": 10}"#,
            "\"output_length\" must be a whole number of tokens, at least 1",
        ),
        (
            r#"{"timestamp": 5, "input_length": 10, "output_length": 2, "hash_ids": "0"}"#,
            "\"hash_ids\" must be a list of whole numbers (block ids)",
        ),
        (
            r#"{"timestamp": 5, "input_length": 10, "output_length": 2, "hash_ids": [1, -2]}"#,
            "\"hash_ids\" must be a list of whole numbers (block ids)",
        ),
        (
            r#"{"timestamp": 5, "input_length": 512, "output_length": 2, "hash_ids": [1, 2]}"#,
            "\"input_length\" 512 is too short for 2 \"hash_ids\" blocks of 512 tokens",
        ),
    ];
    for (i, (bad, message)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.jsonl"));
        // The bad line is line 3, after a good line and a blank one.
        std::fs::write(&path, format!("{good}\n\n{bad}\n{good}\n")).unwrap();
        let e = load_error(&trace_toml(NOWHERE, &path, "levels = [1]", ""));
        assert_eq!(e, format!("{}:3: {message}", path.display()), "case {i}");
    }
    let path = dir.path().join("order.jsonl");
    std::fs::write(
        &path,
        "{\"timestamp\": 10, \"input_length\": 1, \"output_length\": 1}\n{\"timestamp\": 9.5, \"input_length\": 1, \"output_length\": 1}\n",
    )
    .unwrap();
    assert_eq!(
        load_error(&trace_toml(NOWHERE, &path, "levels = [1]", "")),
        format!(
            "{}:2: \"timestamp\" 9.5 is before the previous line's 10 (lines must be in time order)",
            path.display()
        )
    );
    let missing = dir.path().join("none.jsonl");
    assert_eq!(
        load_error(&trace_toml(NOWHERE, &missing, "levels = [1]", "")),
        format!("cannot read trace file {}: no such file", missing.display())
    );
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap();
    assert!(load_error(&trace_toml(NOWHERE, &empty, "levels = [1]", "")).ends_with(": no prompts"));
}

#[test]
fn trace_config_errors_name_the_key() {
    let toml = trace_toml(NOWHERE, &fixture(), "levels = [1]", "");
    let closed = toml.replace("mode = \"rate\"\n", "");
    assert_eq!(
        load_error(&closed),
        "bench.toml: `prompts.trace` replays the trace's arrival times: set `sweep.mode = \"rate\"` (its `levels` are then speed factors: 1 = as recorded, 2 = twice as fast)"
    );
    assert_eq!(
        load_error(&toml.replace("levels = [1]", "levels = [1]\nburstiness = 0.5")),
        "bench.toml: `sweep.burstiness` does not apply to `prompts.trace` (the trace's timestamps are the arrivals)"
    );
    assert_eq!(
        load_error(&toml.replace("levels = [1]", "levels = \"auto\"")),
        "bench.toml: `sweep.levels = \"auto\"` does not apply to `prompts.trace`: list the speed factors (e.g. [0.5, 1, 2])"
    );
    assert!(load_error(&format!("{toml}pool = [\"a\"]\n"))
        .contains("`[prompts]` sets `pool` and `trace`; choose exactly one"));
    assert!(
        load_error(&toml.replace("levels = [1]", "levels = [0]")).contains("`sweep.levels` has 0")
    );
}

#[test]
fn busting_a_trace_gives_each_level_its_own_prefix_and_keeps_the_blocks_shared() {
    let plan = plan(config(&trace_toml(
        NOWHERE,
        &fixture(),
        "levels = [1, 2]\ntrials = 2",
        "cache = \"bust\"",
    )));
    let prefix = |engine: usize, level_index: usize, trial: u32, warmup: bool, index: u64| {
        let pos = RequestPos {
            level_index,
            trial,
            warmup,
            index,
        };
        let body = plan.body(engine, plan.prompt_for(pos), pos);
        let value: Value = serde_json::from_slice(&body).unwrap();
        let text = match value.get("messages") {
            Some(m) => m[0]["content"].as_str().unwrap().to_string(),
            None => value["prompt"].as_str().unwrap().to_string(),
        };
        let line = plan.prompt_for(pos);
        let original = self::text(&plan, engine, line);
        assert_eq!(&text[11..], original, "the line's text after the prefix");
        text[..11].to_string()
    };
    let first = prefix(0, 0, 1, false, 0);
    assert!(first.starts_with('[') && first.ends_with("] "), "{first}");
    // Every request of a level (and trial) shares it, on both engines...
    for index in 0..7 {
        for engine in 0..2 {
            assert_eq!(prefix(engine, 0, 1, false, index), first);
        }
    }
    // ... and another level, trial or the warmup has another.
    let others = [
        prefix(0, 1, 1, false, 0),
        prefix(0, 0, 2, false, 0),
        prefix(0, 0, 1, true, 0),
    ];
    for other in &others {
        assert_ne!(other, &first);
    }
    assert_ne!(others[0], others[1]);
    // Warmup request k replays trace line k.
    let warm = RequestPos {
        level_index: 0,
        trial: 1,
        warmup: true,
        index: 3,
    };
    assert_eq!(plan.prompt_for(warm), 3);
}

// ---- replayed against a server (real time) -----------------------------------------------------

/// Sends of one level: (request index, prompt index, sent_at ms, queue ms, max_tokens).
fn sends(requests: &[Value], level: f64) -> Vec<(u64, u64, f64, f64, u64)> {
    let mut v: Vec<_> = requests
        .iter()
        .filter(|r| r["level"] == level)
        .map(|r| {
            (
                r["request_index"].as_u64().unwrap(),
                r["prompt_index"].as_u64().unwrap(),
                r["sent_at_ms"].as_f64().unwrap(),
                r["queue_ms"].as_f64().unwrap(),
                r["max_tokens"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort_by_key(|s| s.0);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_is_replayed_at_its_times_at_speed_one_and_two() {
    let server = counting_server(1, std::time::Duration::from_millis(1)).await;
    let toml = one_engine_toml(&server.url, &fixture(), "levels = [1, 2]", "");
    let mut run = Run::start_no_check(plan(config(&toml)));
    let (events, outcome) = run.finish().await;
    let report = &outcome.report;
    assert_eq!(report.workload.levels, [1.0, 2.0]);
    let a = &report.engines[0];
    for level in &a.levels {
        assert_eq!(level.completed, 7, "{:?}", level.errors);
    }
    let requests = run.requests();
    for speed in [1.0, 2.0] {
        let sent = sends(&requests, speed);
        assert_eq!(sent.len(), 7);
        for (k, &(index, prompt, at, queue, max_tokens)) in sent.iter().enumerate() {
            let (ts, _, output, _) = LINES[k];
            assert_eq!(
                (index, prompt),
                (k as u64, k as u64),
                "request k sends line k"
            );
            assert_eq!(max_tokens, u64::from(output));
            let want = ts / speed;
            assert!(
                (at - want).abs() < 60.0,
                "speed {speed}, request {k}: sent at {at:.1} ms, due at {want:.1} ms"
            );
            // Lateness (schedule → send) is a few ms here; a loaded machine may add some.
            assert!(queue < 50.0, "speed {speed}, request {k}: {queue} ms late");
        }
    }
    // Level 2 replays the trace again: with the cache unset, said at the start.
    assert_eq!(repeat_warnings(&events), [true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_caps_a_replayed_trace() {
    // ~150 ms per request, one at a time: the lines due together wait in the client.
    let server = counting_server(3, std::time::Duration::from_millis(50)).await;
    let toml = one_engine_toml(
        &server.url,
        &fixture(),
        "levels = [1]\nmax_concurrency = 1",
        "limit = 3",
    );
    let mut run = Run::start_no_check(plan(config(&toml)));
    let (events, outcome) = run.finish().await;
    let level = &outcome.report.engines[0].levels[0];
    assert_eq!(level.completed, 3);
    assert_eq!(level.max_concurrency, 1);
    assert!(
        server
            .in_flight_at_arrival
            .lock()
            .unwrap()
            .iter()
            .all(|&n| n == 1),
        "never two in flight"
    );
    let sent = sends(&run.requests(), 1.0);
    // Line 1 was due at 0 with line 0: it went when line 0 finished, and its lateness counts.
    assert!(sent[1].3 > 100.0, "{sent:?}");
    assert!(level.schedule.as_ref().unwrap().late_starts >= 1);
    // One level, each line once: nothing repeats.
    assert!(repeat_warnings(&events).is_empty());
}
