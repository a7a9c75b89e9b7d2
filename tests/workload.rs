//! Workloads: prompt sources (JSONL, ShareGPT, synthetic, pool), their errors, what every
//! engine is sent, the request dump, goodput counting, output-length warnings, duration-bound
//! levels and interleaved order with skip-engine.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use llmsweep::client::{ErrorClass, RequestError, Timings};
use llmsweep::config::{Config, SloConfig, Sources, SyntheticConfig};
use llmsweep::events::{Control, Event};
use llmsweep::metrics::recorder::{LevelRecorder, LevelRun, RecorderOptions};
use llmsweep::metrics::sample::Sample;
use llmsweep::plan::{Plan, RequestPos};
use llmsweep::results::model::{LevelStatus, Report};
use llmsweep::sim::{self, Faults, Profile, SimConfig, SimServer, FIXED};
use llmsweep::workload::{self, synthetic, PromptContent};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/prompts")
        .join(name)
}

fn config(toml: &str) -> Result<Config, String> {
    Config::load(&Sources {
        text: Some(("test".into(), toml.to_string())),
        env: Some(Default::default()),
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

fn plan(toml: &str) -> Result<Plan, String> {
    Plan::new(config(toml)?, &|_| None)
}

const ENGINES: &str = r#"
[[engines]]
name = "A"
url = "http://127.0.0.1:9/v1/chat/completions"
model = "m"

[[engines]]
name = "B"
url = "http://127.0.0.1:9/v1/completions"
model = "m"
api = "completions"
"#;

fn prompts_toml(key: &str, path: &Path) -> String {
    format!(
        "{ENGINES}\n[prompts]\n{key} = {:?}\n",
        path.display().to_string()
    )
}

fn body(plan: &Plan, engine: usize, prompt: usize) -> Value {
    serde_json::from_slice(&plan.engines[engine].bodies[prompt]).unwrap()
}

// ---- sources ---------------------------------------------------------------------------------

#[test]
fn jsonl_prompts_and_messages_with_per_line_max_tokens() {
    let path = fixture("prompts.jsonl");
    let plan = plan(&format!(
        "{}\n[request]\nmax_tokens = 64\n",
        prompts_toml("file", &path)
    ))
    .unwrap();
    assert_eq!(plan.prompts.len(), 4);
    assert_eq!(
        plan.workload.prompt_source,
        format!("file {} (4 prompts)", path.display())
    );
    // Chat: a prompt line is one user message; a messages line goes as it is.
    let chat = body(&plan, 0, 0);
    assert_eq!(
        chat["messages"],
        serde_json::json!([{"role": "user", "content": "Tell me about rivers in one short paragraph."}])
    );
    assert_eq!(
        chat["max_tokens"], 64,
        "[request] max_tokens when the line has none"
    );
    let chat = body(&plan, 0, 1);
    assert_eq!(chat["messages"][0]["role"], "system");
    assert_eq!(chat["messages"][1]["content"], "Name three colours.");
    assert_eq!(chat["max_tokens"], 12);
    assert_eq!(body(&plan, 0, 2)["max_tokens"], 5);
    // Completions: messages joined into one text.
    let completions = body(&plan, 1, 1);
    assert_eq!(
        completions["prompt"],
        "You are terse.\n\nName three colours."
    );
    assert_eq!(completions["max_tokens"], 12);
    assert!(completions.get("messages").is_none());
    // What the request dump says about each prompt.
    assert_eq!(plan.prompts[1].words, 6);
    assert_eq!(plan.prompts[1].input_tokens_est, 8);
    assert_eq!(plan.prompts[1].max_tokens, 12);
    assert_eq!(plan.prompts[0].max_tokens, 64);
}

#[test]
fn malformed_jsonl_lines_are_one_line_errors_with_line_numbers() {
    let cases = [
        ("bad_shape.jsonl", 3, "expected \"prompt\" or \"messages\""),
        ("bad_json.jsonl", 2, "not JSON (EOF while parsing a string)"),
        (
            "bad_max_tokens.jsonl",
            2,
            "\"max_tokens\" must be a whole number of at least 1",
        ),
        ("bad_prompt_type.jsonl", 1, "\"prompt\" must be a string"),
        (
            "bad_messages.jsonl",
            1,
            "\"messages\" must be a non-empty list of {\"role\": \"...\", \"content\": \"...\"}",
        ),
    ];
    for (name, line, message) in cases {
        let path = fixture(name);
        let err = plan(&prompts_toml("file", &path)).unwrap_err();
        assert_eq!(
            err,
            format!("{}:{line}: {message}", path.display()),
            "{name}"
        );
        assert!(!err.contains('\n'));
    }
}

#[test]
fn missing_files_are_named() {
    for key in ["file", "sharegpt"] {
        let path = fixture("no-such-file.jsonl");
        let err = plan(&prompts_toml(key, &path)).unwrap_err();
        assert_eq!(
            err,
            format!("cannot read prompts file {}: no such file", path.display())
        );
    }
}

#[test]
fn sharegpt_first_human_turn_and_reply_length() {
    let path = fixture("sharegpt.json");
    let plan = plan(&prompts_toml("sharegpt", &path)).unwrap();
    // b (one turn) and d (no turns) are skipped.
    assert_eq!(plan.prompts.len(), 2);
    assert_eq!(
        plan.workload.prompt_source,
        format!("sharegpt {} (2 prompts)", path.display())
    );
    let first = body(&plan, 0, 0);
    assert_eq!(
        first["messages"][0]["content"],
        "What is the tallest mountain on Earth?"
    );
    // 12 words × 1.3 = 15.6 → 16.
    assert_eq!(first["max_tokens"], 16);
    let second = body(&plan, 0, 1);
    assert_eq!(second["messages"][0]["content"], "Give me a word.");
    assert_eq!(second["max_tokens"], 1);

    let bad = fixture("bad_sharegpt.json");
    let err = Plan::new(config(&prompts_toml("sharegpt", &bad)).unwrap(), &|_| None).unwrap_err();
    assert_eq!(
        err,
        format!("{}:4: not JSON (expected `,` or `}}`)", bad.display())
    );
}

#[test]
fn synthetic_lengths_stay_in_range_and_repeat_with_the_seed() {
    let syn = SyntheticConfig {
        input_tokens: 100,
        output_tokens: 40,
        range_ratio: 0.25,
        count: 300,
        tokenizer: None,
        ..SyntheticConfig::default()
    };
    let prompts = synthetic::generate(&syn, 7).unwrap();
    assert_eq!(prompts.len(), 300);
    let (in_lo, in_hi) = synthetic::length_range(100, 0.25);
    assert_eq!((in_lo, in_hi), (75, 125));
    let mut outs = std::collections::BTreeSet::new();
    for p in &prompts {
        let est = workload::estimate_tokens(p.words());
        // Words are rounded from tokens, so the estimate is within one token of the draw.
        assert!((in_lo - 1..=in_hi + 1).contains(&est), "{est}");
        let out = p.max_tokens.unwrap();
        assert!((30..=50).contains(&out), "{out}");
        outs.insert(out);
    }
    assert!(outs.len() > 10, "lengths vary: {outs:?}");
    assert_eq!(prompts, synthetic::generate(&syn, 7).unwrap());
    assert_ne!(prompts, synthetic::generate(&syn, 8).unwrap());

    let exact = synthetic::generate(
        &SyntheticConfig {
            range_ratio: 0.0,
            count: 5,
            ..syn.clone()
        },
        1,
    )
    .unwrap();
    for p in &exact {
        assert_eq!(p.words(), 77); // 100 / 1.3
        assert_eq!(p.max_tokens, Some(40));
        assert!(matches!(p.content, PromptContent::Text(_)));
    }

    let plan = plan(&format!(
        "{ENGINES}\n[prompts]\nsynthetic = {{ input_tokens = 64, output_tokens = 16, count = 10 }}\nlimit = 4\n"
    ))
    .unwrap();
    assert_eq!(plan.prompts.len(), 4);
    assert_eq!(
        plan.workload.prompt_source,
        "synthetic 64 input / 16 output tokens (4 prompts)"
    );
    assert_eq!(body(&plan, 1, 3)["max_tokens"], 16);
}

/// The (system, user) texts of a shared-prefix prompt.
fn system_and_user(p: &workload::Prompt) -> (&str, &str) {
    let PromptContent::Messages(m) = &p.content else {
        panic!("a shared-prefix prompt is messages: {p:?}")
    };
    assert_eq!(
        (m.len(), m[0].role.as_str(), m[1].role.as_str()),
        (2, "system", "user")
    );
    (&m[0].content, &m[1].content)
}

#[test]
fn shared_prefix_prompts_have_few_system_prompts_and_unique_suffixes() {
    let syn = SyntheticConfig {
        input_tokens: 40,
        output_tokens: 8,
        count: 60,
        prefix_tokens: Some(300),
        prefixes: Some(4),
        ..SyntheticConfig::default()
    };
    let prompts = synthetic::generate(&syn, 7).unwrap();
    assert_eq!(prompts.len(), 60);
    let mut systems = Vec::new();
    let mut users = std::collections::HashSet::new();
    for (i, p) in prompts.iter().enumerate() {
        let (system, user) = system_and_user(p);
        // About `prefix_tokens` by the crate's estimate (words are rounded from tokens).
        let est = workload::estimate_tokens(system.split_whitespace().count());
        assert!((299..=301).contains(&est), "{est}");
        let est = workload::estimate_tokens(user.split_whitespace().count());
        assert!((39..=41).contains(&est), "{est}");
        if i < 4 {
            systems.push(system.to_string());
        }
        // Prompt i has shared prompt i mod 4.
        assert_eq!(system, systems[i % 4], "prompt {i}");
        assert!(
            users.insert(user.to_string()),
            "prompt {i}'s suffix is another's"
        );
    }
    let distinct: std::collections::HashSet<&String> = systems.iter().collect();
    assert_eq!(distinct.len(), 4);
    // Seeded and stable; the suffixes are the prompts the same config makes without prefixes.
    assert_eq!(prompts, synthetic::generate(&syn, 7).unwrap());
    assert_ne!(prompts, synthetic::generate(&syn, 8).unwrap());
    let plain = synthetic::generate(
        &SyntheticConfig {
            prefix_tokens: None,
            prefixes: None,
            ..syn.clone()
        },
        7,
    )
    .unwrap();
    for (shared, plain) in prompts.iter().zip(&plain) {
        assert_eq!(
            PromptContent::Text(system_and_user(shared).1.to_string()),
            plain.content
        );
        assert_eq!(shared.max_tokens, plain.max_tokens);
    }
    // One shared prompt when `prefixes` is not given.
    let one = synthetic::generate(
        &SyntheticConfig {
            prefixes: None,
            ..syn.clone()
        },
        7,
    )
    .unwrap();
    let firsts: std::collections::HashSet<&str> =
        one.iter().map(|p| system_and_user(p).0).collect();
    assert_eq!(firsts.len(), 1);
}

#[test]
fn shared_prefixes_are_exact_with_a_tokenizer() {
    let path = std::path::PathBuf::from("tests/fixtures/tokenizers/letters.json");
    let syn = SyntheticConfig {
        input_tokens: 30,
        output_tokens: 4,
        count: 6,
        tokenizer: Some(path.clone()),
        prefix_tokens: Some(120),
        prefixes: Some(3),
        ..SyntheticConfig::default()
    };
    let tokenizer = tokenizers::Tokenizer::from_file(&path).unwrap();
    let tokens = |text: &str| tokenizer.encode(text, false).unwrap().len();
    for p in synthetic::generate(&syn, 3).unwrap() {
        let (system, user) = system_and_user(&p);
        assert_eq!(tokens(system), 120);
        assert_eq!(tokens(user), 30);
    }
}

#[test]
fn shared_prefix_bodies_and_busting_leave_the_system_prompt_shared() {
    let toml = format!(
        "{ENGINES}\n[prompts]\ncache = \"bust\"\nsynthetic = {{ prefix_tokens = 50, prefixes = 2, input_tokens = 10, output_tokens = 4, count = 6 }}\n"
    );
    let plan = plan(&toml).unwrap();
    assert_eq!(
        plan.workload.prompt_source,
        "synthetic 2 shared prefixes of 50 + 10 input / 4 output tokens (6 prompts)"
    );
    let chat = body(&plan, 0, 2);
    assert_eq!(chat["messages"][0]["role"], "system");
    assert_eq!(
        chat["messages"][0]["content"],
        body(&plan, 0, 0)["messages"][0]["content"]
    );
    assert_ne!(
        chat["messages"][0]["content"],
        body(&plan, 0, 1)["messages"][0]["content"]
    );
    let completions = body(&plan, 1, 2);
    let joined = format!(
        "{}\n\n{}",
        chat["messages"][0]["content"].as_str().unwrap(),
        chat["messages"][1]["content"].as_str().unwrap()
    );
    assert_eq!(completions["prompt"], joined.as_str());
    // Busting: the prefix goes in front of the user message; the system prompt stays shared.
    let pos = |index| RequestPos {
        level_index: 0,
        trial: 1,
        warmup: false,
        index,
    };
    let sent: Value = serde_json::from_slice(&plan.body(0, 2, pos(5))).unwrap();
    assert_eq!(sent["messages"][0], chat["messages"][0]);
    let user = sent["messages"][1]["content"].as_str().unwrap();
    let original = chat["messages"][1]["content"].as_str().unwrap();
    assert_eq!(&user[11..], original);
    assert!(user.starts_with('[') && &user[9..11] == "] ", "{user}");
    let sent: Value = serde_json::from_slice(&plan.body(1, 2, pos(5))).unwrap();
    let prompt = sent["prompt"].as_str().unwrap();
    let system = chat["messages"][0]["content"].as_str().unwrap();
    assert_eq!(prompt, format!("{system}\n\n{}{original}", &user[..11]));
}

#[test]
fn shared_prefix_config_errors_name_the_key() {
    let syn = |fields: &str| {
        plan(&format!(
            "{ENGINES}\n[prompts]\nsynthetic = {{ {fields} }}\n"
        ))
        .unwrap_err()
    };
    assert_eq!(
        syn("prefixes = 4"),
        "test: `prompts.synthetic.prefixes` needs `prefix_tokens` (the shared system prompts' length)"
    );
    assert_eq!(
        syn("prefix_tokens = 0"),
        "test: `prompts.synthetic.prefix_tokens` must be at least 1"
    );
    assert_eq!(
        syn("prefix_tokens = 8, prefixes = 0"),
        "test: `prompts.synthetic.prefixes` must be at least 1"
    );
    assert_eq!(
        syn("prefix_tokens = 8, prefixes = 5, count = 4"),
        "test: `prompts.synthetic.prefixes` (5) is more than `count` (4): some shared prompts would never be sent"
    );
    let e = syn("prefix_token = 8");
    assert!(e.contains("unknown key `prefix_token`"), "{e}");
}

#[test]
fn exactly_one_source() {
    let err = plan(&format!(
        "{ENGINES}\n[prompts]\npool = [\"a\"]\nfile = \"x.jsonl\"\nsynthetic = {{}}\n"
    ))
    .unwrap_err();
    assert_eq!(
        err,
        "test: `[prompts]` sets `pool` and `file` and `synthetic`; choose exactly one of `pool`, `file`, `sharegpt`, `synthetic`, `trace`"
    );
    let default = plan(ENGINES).unwrap();
    assert_eq!(default.workload.prompt_source, "inline pool (6 prompts)");
    let pool = plan(&format!("{ENGINES}\n[prompts]\npool = [\"a b\", \"c\"]\n")).unwrap();
    assert_eq!(pool.workload.prompt_source, "inline pool (2 prompts)");
}

// ---- goodput ---------------------------------------------------------------------------------

fn ok(ttft_ms: u64, e2e_ms: u64, tokens: u64) -> Sample {
    Sample {
        request_index: 0,
        request_id: String::new(),
        prompt_index: 0,
        sent_at_ms: 0.0,
        queue_us: 0,
        in_flight_us: e2e_ms * 1000,
        finished_at: tokio::time::Instant::now(),
        result: Ok(Timings {
            ttft_us: ttft_ms * 1000,
            e2e_us: e2e_ms * 1000,
            itl_us: Vec::new(),
            output_tokens: tokens,
            output_tokens_estimated: false,
            input_tokens: None,
            coalesced_chunks: 0,
            role_only_first_chunk: false,
            ..Timings::default()
        }),
        turn: None,
    }
}

#[test]
fn goodput_counts_requests_meeting_every_slo() {
    let slo = SloConfig {
        ttft_ms: Some(100.0),
        tpot_ms: Some(10.0),
        e2e_ms: None,
        attainment: 0.5,
    };
    let mut r = LevelRecorder::new(RecorderOptions {
        open_loop: false,
        slo: Some(slo.clone()),
    });
    // ttft ok, tpot (1000-50)/95 = 10 ok → meets both.
    r.record(&ok(50, 1000, 96), 1);
    // ttft too slow; tpot 5 ok.
    r.record(&ok(200, 700, 101), 2);
    // ttft ok; tpot (2000-80)/11 ≈ 174 too slow.
    r.record(&ok(80, 2000, 12), 3);
    // one token: no TPOT, meets it; ttft ok → meets both.
    r.record(&ok(90, 90, 1), 4);
    // A failure counts against attainment; a cancel does not count at all.
    let mut failed = ok(1, 1, 1);
    failed.result = Err(RequestError::new(ErrorClass::HttpStatus, "503"));
    r.record(&failed, 5);
    failed.result = Err(RequestError::new(ErrorClass::Cancelled, "skip"));
    r.record(&failed, 5);
    let s = r.summary(LevelRun {
        level: 4.0,
        max_concurrency: 4,
        duration_s: 2.0,
        ..LevelRun::default()
    });
    assert_eq!(s.request_goodput, Some(1.0)); // 2 requests / 2 s
    assert_eq!(s.slo_met, Some(0.4)); // 2 of 5 attempted
    assert_eq!(s.slo_ttft_met, Some(0.6));
    assert_eq!(s.slo_tpot_met, Some(0.6));
    assert_eq!(s.slo_e2e_met, None);
    assert_eq!(s.meets_slo, Some(false));

    let mut lenient = LevelRecorder::new(RecorderOptions {
        open_loop: false,
        slo: Some(SloConfig {
            attainment: 0.4,
            ..slo
        }),
    });
    lenient.record(&ok(50, 1000, 96), 1);
    lenient.record(&ok(500, 1000, 96), 1);
    assert_eq!(
        lenient
            .summary(LevelRun {
                level: 1.0,
                max_concurrency: 1,
                duration_s: 1.0,
                ..LevelRun::default()
            })
            .meets_slo,
        Some(true)
    );

    // No SLO set: no goodput fields.
    let mut none = LevelRecorder::new(RecorderOptions::default());
    none.record(&ok(50, 1000, 96), 1);
    let s = none.summary(LevelRun {
        level: 1.0,
        max_concurrency: 1,
        duration_s: 1.0,
        ..LevelRun::default()
    });
    assert_eq!(
        (s.request_goodput, s.meets_slo, s.schedule),
        (None, None, None)
    );
}

// ---- runs against the simulator --------------------------------------------------------------

async fn start(profile: Profile) -> SimServer {
    sim::spawn(SimConfig {
        profile,
        faults: Faults::default(),
        seed: 1,
        timing_log: None,
    })
    .await
    .expect("spawn sim")
}

fn engine_toml(name: &str, url: &str) -> String {
    format!("[[engines]]\nname = {name:?}\nurl = {url:?}\nmodel = \"m\"\n\n")
}

struct Run {
    report: Arc<Report>,
    events: Vec<Event>,
    requests: Vec<Value>,
}

/// Runs `toml`; `control` may answer lifecycle events with a control.
async fn run(toml: &str, mut control: impl FnMut(&Event) -> Option<Control>) -> Run {
    let mut run = common::Run::start(plan(toml).unwrap());
    let mut events = Vec::new();
    loop {
        let event = run.next().await;
        if matches!(event, Event::Snapshot(_)) {
            continue;
        }
        if let Some(c) = control(&event) {
            run.send(c).await;
        }
        let finished = matches!(event, Event::RunFinished { .. });
        events.push(event);
        if finished {
            break;
        }
    }
    let outcome = run.outcome().await;
    Run {
        report: outcome.report,
        events,
        requests: run.requests(),
    }
}

fn warnings(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_get_identical_sequences_and_the_dump_carries_lengths() {
    let (a, b) = (
        start(Profile::by_name("fast").unwrap()).await,
        start(Profile::by_name("fast").unwrap()).await,
    );
    let toml = format!(
        "{}{}[sweep]\nlevels = [1, 3]\nrequests_per_level = 12\n\n[request]\nmax_tokens = 4\n\n[prompts]\nsynthetic = {{ input_tokens = 20, output_tokens = 6, range_ratio = 0.5, count = 50 }}\n",
        engine_toml("A", &a.chat_url()),
        engine_toml("B", &b.chat_url()),
    );
    let run = run(&toml, |_| None).await;
    assert_eq!(run.requests.len(), 48);
    let sequence = |engine: &str, level: f64| {
        let mut v: Vec<(u64, u64)> = run
            .requests
            .iter()
            .filter(|r| r["engine"] == engine && r["level"] == level)
            .map(|r| {
                (
                    r["request_index"].as_u64().unwrap(),
                    r["prompt_index"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    for level in [1.0, 3.0] {
        assert_eq!(sequence("A", level), sequence("B", level));
        assert_eq!(sequence("A", level).len(), 12);
    }
    assert_ne!(
        sequence("A", 1.0),
        sequence("A", 3.0),
        "levels draw differently"
    );
    for r in &run.requests {
        let words = r["prompt_words"].as_u64().unwrap();
        assert!((7..=23).contains(&words), "{r}");
        assert_eq!(
            r["prompt_tokens_est"].as_u64().unwrap(),
            (words as f64 * 1.3).round() as u64
        );
        let max_tokens = r["max_tokens"].as_u64().unwrap();
        assert!((3..=9).contains(&max_tokens), "{r}");
        // The simulator honours each prompt's own max_tokens.
        assert_eq!(r["output_tokens"], max_tokens, "{r}");
    }
    // Identical engines and workloads: no output-length warning (a level this short may be
    // told its steady state was brief; that is not under test here).
    let lengths: Vec<&String> = run
        .report
        .warnings
        .iter()
        .filter(|w| w.contains("output length"))
        .collect();
    assert!(lengths.is_empty(), "{lengths:?}");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unequal_output_lengths_warn_and_equal_ones_do_not() {
    let short = start(Profile {
        output_tokens: Some(4),
        ..Profile::by_name("fast").unwrap()
    })
    .await;
    let long = start(Profile {
        output_tokens: Some(8),
        ..Profile::by_name("fast").unwrap()
    })
    .await;
    let same = start(Profile {
        output_tokens: Some(8),
        ..Profile::by_name("fast").unwrap()
    })
    .await;
    let sweep = "[sweep]\nlevels = [2]\nrequests_per_level = 6\n";
    let unequal = run(
        &format!(
            "{}{}{sweep}",
            engine_toml("Short", &short.chat_url()),
            engine_toml("Long", &long.chat_url())
        ),
        |_| None,
    )
    .await;
    let expected = "level 2: mean output length differs by 50% between \"Short\" (4.0 tokens) and \"Long\" (8.0 tokens); set ignore_eos = true (and min_tokens) in each engine's extra_body to compare equal work";
    // Only the output-length check is under test (a level this short may also be told its
    // steady state was brief).
    let about_length = |texts: Vec<String>| -> Vec<String> {
        texts
            .into_iter()
            .filter(|t| t.contains("output length"))
            .collect()
    };
    assert_eq!(
        about_length(unequal.report.warnings.clone()),
        vec![expected.to_string()]
    );
    assert_eq!(
        about_length(warnings(&unequal.events)),
        vec![expected.to_string()]
    );

    let equal = run(
        &format!(
            "{}{}{sweep}",
            engine_toml("Long", &long.chat_url()),
            engine_toml("Same", &same.chat_url())
        ),
        |_| None,
    )
    .await;
    assert!(about_length(equal.report.warnings.clone()).is_empty());
    assert!(about_length(warnings(&equal.events)).is_empty());
    for s in [short, long, same] {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_bound_level_stops_starting_requests_and_counts_in_flight_ones() {
    // FIXED: 50 ms prefill + 10 ms per token; 4 tokens ≈ 90 ms per request at C = 2.
    let server = start(Profile {
        output_tokens: Some(4),
        ..FIXED
    })
    .await;
    let toml = format!(
        "{}[sweep]\nlevels = [2]\nduration_s = 0.5\n",
        engine_toml("A", &server.chat_url())
    );
    let run = run(&toml, |_| None).await;
    let level = &run.report.engines[0].levels[0];
    assert_eq!(level.status, LevelStatus::Complete);
    assert_eq!(run.report.workload.duration_s, Some(0.5));
    assert_eq!(run.report.workload.requests_per_level, 0);
    // Every request sent was finished and counted; none started after the deadline.
    assert_eq!(level.completed as usize, run.requests.len());
    assert_eq!(level.cancelled, 0);
    assert!(level.completed >= 2, "{}", level.completed);
    for r in &run.requests {
        // Generous: the driver notices the deadline between samples, on a loaded machine.
        assert!(r["sent_at_ms"].as_f64().unwrap() < 500.0 + 250.0, "{r}");
    }
    // The last requests started before the deadline finish after it.
    assert!(level.duration > 0.5, "{}", level.duration);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_order_and_skip_engine() {
    let (a, b) = (
        start(Profile::by_name("fast").unwrap()).await,
        start(Profile::by_name("fast").unwrap()).await,
    );
    let toml = format!(
        "{}{}[sweep]\nlevels = [1, 2, 3]\nrequests_per_level = 3\norder = \"interleaved\"\n\n[request]\nmax_tokens = 2\n",
        engine_toml("A", &a.chat_url()),
        engine_toml("B", &b.chat_url()),
    );
    let order = |events: &[Event]| -> Vec<(usize, usize)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::LevelStarted {
                    engine,
                    level_index,
                    ..
                } => Some((*engine, *level_index)),
                _ => None,
            })
            .collect()
    };
    let all = run(&toml, |_| None).await;
    assert_eq!(
        order(&all.events),
        vec![(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]
    );
    assert_eq!(all.report.workload.order.as_deref(), Some("interleaved"));

    // Skip engine A during its second level: its third is passed over, B runs all of its.
    // A answers after 250 ms here, so the skip lands inside A's level even when the test
    // thread is slow to see the event; with the fast profile the level could end first and
    // the skip would hit B's level instead (a fresh-clone CI run saw exactly that).
    let slow_a = start(Profile {
        prefill_base_us: 250_000,
        ..Profile::by_name("fast").unwrap()
    })
    .await;
    let toml = format!(
        "{}{}[sweep]\nlevels = [1, 2, 3]\nrequests_per_level = 3\norder = \"interleaved\"\n\n[request]\nmax_tokens = 2\n",
        engine_toml("A", &slow_a.chat_url()),
        engine_toml("B", &b.chat_url()),
    );
    let skipped = run(&toml, |e| match e {
        Event::LevelStarted {
            engine: 0,
            level_index: 1,
            ..
        } => Some(Control::SkipEngine),
        _ => None,
    })
    .await;
    assert_eq!(
        order(&skipped.events),
        vec![(0, 0), (1, 0), (0, 1), (1, 1), (1, 2)]
    );
    let engines = &skipped.report.engines;
    assert_eq!(engines[0].levels.len(), 2);
    assert_eq!(
        engines[0].skipped_reason.as_deref(),
        Some("skipped by the user")
    );
    assert_eq!(engines[1].levels.len(), 3);
    assert_eq!(engines[1].skipped_reason, None);
    a.shutdown().await;
    b.shutdown().await;
    slow_a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_level_meeting_slo_is_recorded_per_engine() {
    // FIXED with batch 1: TTFT 60 ms alone, climbing with queueing at higher concurrency.
    let server = start(Profile {
        max_batch: 1,
        output_tokens: Some(2),
        ..FIXED
    })
    .await;
    let toml = format!(
        "{}[sweep]\nlevels = [1, 4]\nrequests_per_level = 4\n\n[slo]\nttft_ms = 150\n",
        engine_toml("A", &server.chat_url())
    );
    let run = run(&toml, |_| None).await;
    let engine = &run.report.engines[0];
    assert_eq!(
        engine.levels[0].meets_slo,
        Some(true),
        "{:?}",
        engine.levels[0]
    );
    assert_eq!(engine.levels[0].slo_ttft_met, Some(1.0));
    assert_eq!(
        engine.levels[1].meets_slo,
        Some(false),
        "{:?}",
        engine.levels[1]
    );
    assert_eq!(engine.max_level_meeting_slo, Some(1.0));
    assert!(engine.levels[0].request_goodput.unwrap() > 0.0);
    server.shutdown().await;
}

#[test]
fn sweep_mode_keys_are_checked() {
    let err = |sweep: &str| config(&format!("{ENGINES}\n[sweep]\n{sweep}\n")).unwrap_err();
    assert_eq!(
        err("levels = [1, 2.5]"),
        "test: `sweep.levels` has 2.5; concurrency levels are whole numbers (mode = \"rate\" takes req/s)"
    );
    let rate = config(&format!(
        "{ENGINES}\n[sweep]\nmode = \"rate\"\nlevels = [0.5, 2]\nburstiness = 0.5\nmax_concurrency = 8\nduration_s = 30\n"
    ))
    .unwrap();
    assert_eq!(rate.sweep.levels, vec![0.5, 2.0]);
    assert_eq!(rate.sweep.request_limit(0.5), None, "duration only");
    assert_eq!(
        err("mode = \"rate\"\nlevels = [0]"),
        "test: `sweep.levels` has 0; rates must be positive req/s (at most 1000000)"
    );
    assert_eq!(
        err("mode = \"closed\""),
        "test: unknown mode \"closed\" (expected \"concurrency\" or \"rate\") for key `sweep.mode`"
    );
    assert_eq!(
        err("order = \"random\""),
        "test: unknown order \"random\" (expected \"sequential\" or \"interleaved\") for key `sweep.order`"
    );
    assert_eq!(
        err("max_concurrency = 4"),
        "test: `sweep.max_concurrency` applies to mode = \"rate\" only (concurrency mode sets the requests in flight by `levels`)"
    );
    assert_eq!(
        err("duration_s = 0"),
        "test: `sweep.duration_s` must be a positive number of seconds up to 604800 (7 days), got 0"
    );
    assert_eq!(
        config(&format!("{ENGINES}\n[slo]\nattainment = 1.5\n")).unwrap_err(),
        "test: `slo.attainment` must be in (0, 1], got 1.5"
    );
}

/// With a tokenizer.json, synthetic prompts have exactly the drawn number of tokens. The
/// fixture tokenizer makes every letter a token, so words are 2–6 tokens and exact lengths
/// need the fitting, not the words × 1.3 estimate.
#[test]
fn synthetic_lengths_are_exact_with_a_tokenizer() {
    let path = std::path::PathBuf::from("tests/fixtures/tokenizers/letters.json");
    let syn = SyntheticConfig {
        input_tokens: 100,
        output_tokens: 20,
        range_ratio: 0.3,
        count: 40,
        tokenizer: Some(path.clone()),
        ..SyntheticConfig::default()
    };
    let prompts = synthetic::generate(&syn, 3).unwrap();
    let (lo, hi) = synthetic::length_range(100, 0.3);
    let tokenizer = tokenizers::Tokenizer::from_file(&path).unwrap();
    let mut lengths = std::collections::BTreeSet::new();
    for p in &prompts {
        let PromptContent::Text(text) = &p.content else {
            panic!("text prompt")
        };
        let tokens = tokenizer.encode(text.as_str(), false).unwrap().len() as u64;
        let letters = text.chars().filter(|c| c.is_ascii_alphabetic()).count() as u64;
        assert_eq!(tokens, letters, "one token per letter");
        assert!((lo..=hi).contains(&tokens), "{tokens}");
        lengths.insert(tokens);
    }
    assert!(lengths.len() > 5, "lengths follow the draws: {lengths:?}");
    assert_eq!(prompts, synthetic::generate(&syn, 3).unwrap(), "seeded");

    let missing = SyntheticConfig {
        tokenizer: Some("tests/fixtures/tokenizers/nope.json".into()),
        ..syn
    };
    let err = synthetic::generate(&missing, 3).unwrap_err();
    assert!(
        err.starts_with("cannot load tokenizer tests/fixtures/tokenizers/nope.json:"),
        "{err}"
    );
}

#[test]
fn the_prompt_seed_is_not_sent_and_a_sampling_seed_only_when_set() {
    let unseeded = plan(&format!("{ENGINES}\n[request]\nseed = 9\n")).expect("plan");
    for engine in 0..2 {
        assert_eq!(body(&unseeded, engine, 0).get("seed"), None);
    }
    let seeded = plan(&format!("{ENGINES}\n[request]\nsampling_seed = 5\n")).expect("plan");
    for engine in 0..2 {
        assert_eq!(body(&seeded, engine, 0)["seed"], 5);
    }
}
