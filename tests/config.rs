//! Config errors: each is one exact line naming the file, key or engine.

use std::collections::HashMap;

use llmsweep::config::{Config, ConfigError, Sources};

const ENGINE: &str = "[[engines]]\nname = \"vLLM\"\nurl = \"http://127.0.0.1:8000/v1/chat/completions\"\nmodel = \"m\"\n";

fn load_with(
    toml: &str,
    env: &[(&str, &str)],
    overrides: &[(&str, &str)],
) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, toml).unwrap();
    Config::load(&Sources {
        file: Some(path),
        text: None,
        env: Some(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        overrides: overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
    .map_err(|e| {
        e.to_string()
            .replace(&dir.path().display().to_string(), "DIR")
    })
}

fn error(toml: &str) -> String {
    load_with(toml, &[], &[]).unwrap_err()
}

#[test]
fn the_shipped_bench_toml_loads() {
    let config = Config::load(&Sources {
        file: Some("bench.toml".into()),
        env: Some(HashMap::new()),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(config.engines.len(), 2);
    assert_eq!(config.engines[0].name, "vLLM");
    assert_eq!(
        config.engines[1].url,
        "http://localhost:8001/v1/chat/completions"
    );
    assert_eq!(config.sweep.levels, vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0]);
}

#[test]
fn defaults_apply_without_a_file() {
    let config = Config::load(&Sources {
        env: Some(HashMap::new()),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(config.sweep.levels, vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0]);
    // max(50, 4 × C) per level when the count is not set.
    let limits: Vec<_> = config
        .sweep
        .levels
        .iter()
        .map(|&c| config.sweep.request_limit(c))
        .collect();
    assert_eq!(limits, [50, 50, 50, 50, 64, 128].map(Some));
    assert!(config.sweep.requests_scale_with_concurrency());
    assert!(config.engines.is_empty());
}

#[test]
fn a_set_count_or_duration_replaces_the_per_level_default() {
    let load = |sweep: &str| load_with(&format!("{ENGINE}[sweep]\n{sweep}\n"), &[], &[]).unwrap();
    let set = load("requests_per_level = 10");
    assert_eq!(set.sweep.request_limit(32.0), Some(10));
    assert!(!set.sweep.requests_scale_with_concurrency());
    let timed = load("duration_s = 5");
    assert_eq!(timed.sweep.request_limit(32.0), None);
    // Rate mode has no concurrency to scale with.
    let rate = load("mode = \"rate\"\nlevels = [40]");
    assert_eq!(rate.sweep.request_limit(40.0), Some(50));
    assert!(!rate.sweep.requests_scale_with_concurrency());
}

#[test]
fn layers_file_then_env_then_flags() {
    let toml =
        format!("{ENGINE}[sweep]\nlevels = [1, 2]\nrequests_per_level = 10\nwarmup_requests = 3\n");
    let config = load_with(
        &toml,
        &[
            ("LLMSWEEP__SWEEP__REQUESTS_PER_LEVEL", "20"),
            ("LLMSWEEP__SWEEP__LEVELS", "4,8"),
        ],
        &[("sweep.levels", "16")],
    )
    .unwrap();
    assert_eq!(config.sweep.warmup_requests, 3, "file");
    assert_eq!(config.sweep.requests_per_level, Some(20), "env over file");
    assert_eq!(config.sweep.levels, vec![16.0], "flag over env");
}

#[test]
fn unknown_key_names_the_file_and_key() {
    assert_eq!(
        error(&format!("{ENGINE}[sweep]\nlevls = [1]\n")),
        "DIR/bench.toml: unknown key `levls`, expected one of `mode`, `levels`, `trials`, `auto`, `requests_per_level`, `duration_s`, `warmup_requests`, `warmup_s`, `settle_s`, `timeout_s`, `connect_timeout_s`, `first_token_timeout_s`, `idle_timeout_s`, `burstiness`, `max_concurrency`, `order` for key `sweep`"
    );
    assert_eq!(
        error(&format!("{ENGINE}tempreature = 1\n")),
        "DIR/bench.toml: engine \"vLLM\": unknown key `tempreature`, expected one of `name`, `url`, `model`, `api`, `api_key_env`, `headers`, `extra_body`, `color`, `short_name`, `stream_usage`, `metrics_url`, `metrics` for key `engines[0]`"
    );
    assert_eq!(
        error(&format!("verbose = true\n{ENGINE}")),
        "DIR/bench.toml: unknown key `verbose`, expected one of `run`, `engines`, `sweep`, `request`, `prompts`, `slo`, `metrics`, `host`, `gpus`"
    );
}

#[test]
fn missing_url_names_the_engine() {
    assert_eq!(
        error("[[engines]]\nname = \"TGI\"\nmodel = \"m\"\n"),
        "DIR/bench.toml: engine \"TGI\": missing key `engines[0].url`"
    );
}

#[test]
fn duplicate_engine_names() {
    assert_eq!(
        error(&format!("{ENGINE}{ENGINE}")),
        "DIR/bench.toml: duplicate engine name \"vLLM\""
    );
}

#[test]
fn short_names_are_one_to_eight_characters_and_unique() {
    let two = |a: &str, b: &str| {
        format!(
            "{ENGINE}short_name = {a:?}\n[[engines]]\nname = \"SGLang\"\nurl = \"http://127.0.0.1:8001/v1/chat/completions\"\nmodel = \"m\"\nshort_name = {b:?}\n"
        )
    };
    assert_eq!(
        error(&two("vllm", "vllm")),
        "DIR/bench.toml: engine \"SGLang\": `short_name` \"vllm\" is another engine's too"
    );
    assert_eq!(
        error(&two("vllm-9000x", "sg")),
        "DIR/bench.toml: engine \"vLLM\": `short_name` \"vllm-9000x\" must have 1 to 8 characters"
    );
    assert_eq!(
        error(&two(" ", "sg")),
        "DIR/bench.toml: engine \"vLLM\": `short_name` \" \" must have 1 to 8 characters"
    );
    let config = load_with(&two("vLLM 8ch", "sg"), &[], &[]).expect("8 characters are fine");
    assert_eq!(config.engines[0].short_name.as_deref(), Some("vLLM 8ch"));
}

#[test]
fn empty_and_bad_levels() {
    assert_eq!(
        error(&format!("{ENGINE}[sweep]\nlevels = []\n")),
        "DIR/bench.toml: `sweep.levels` is empty"
    );
    assert_eq!(
        error(&format!("{ENGINE}[sweep]\nlevels = [0, 4]\n")),
        "DIR/bench.toml: `sweep.levels` has 0; levels must be 1..=100000"
    );
    assert_eq!(
        error(&format!("{ENGINE}[sweep]\nlevels = \"1,x\"\n")),
        "DIR/bench.toml: invalid level \"x\" (expected a number) for key `sweep.levels`"
    );
}

#[test]
fn wrong_types_and_values() {
    assert_eq!(
        error(&format!("{ENGINE}[sweep]\nrequests_per_level = \"ten\"\n")),
        "DIR/bench.toml: invalid type: string \"ten\", expected an integer for key `sweep.requests_per_level`"
    );
    assert_eq!(
        error(&format!("{ENGINE}api = \"grpc\"\n")),
        "DIR/bench.toml: engine \"vLLM\": unknown api \"grpc\" (expected \"chat\" or \"completions\") for key `engines[0].api`"
    );
    assert_eq!(
        error("[[engines]]\nname = \"x\"\nurl = \"localhost:8000\"\nmodel = \"m\"\n"),
        "DIR/bench.toml: engine \"x\": `url` must be an http:// or https:// URL, got \"localhost:8000\""
    );
    assert_eq!(
        error(&format!("{ENGINE}[sweep\n")),
        "DIR/bench.toml: TOML syntax error at line 5, column 7"
    );
}

#[test]
fn unreadable_file() {
    let err = Config::load(&Sources {
        file: Some("/nonexistent/bench.toml".into()),
        env: Some(HashMap::new()),
        ..Sources::default()
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read config file /nonexistent/bench.toml: no such file"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, b"name = \"\xff\xfe\"\n").unwrap();
    let err = Config::load(&Sources {
        file: Some(path.clone()),
        env: Some(HashMap::new()),
        ..Sources::default()
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::Unreadable { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read config file {}: not UTF-8 (byte 8)",
            path.display()
        )
    );
}

#[test]
fn unset_key_variable_names_engine_and_variable() {
    let config = load_with(
        &format!("{ENGINE}api_key_env = \"OPENAI_API_KEY\"\n"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        config.check_keys(&|_| None).unwrap_err(),
        "engine \"vLLM\": api_key_env = \"OPENAI_API_KEY\" but $OPENAI_API_KEY is not set"
    );
    assert!(config.check_keys(&|_| Some("sk-1".into())).is_ok());
}

#[test]
fn durations_and_timeouts_are_bounded_so_none_can_panic() {
    for bad in ["1e20", "nan", "inf", "-1.0", "0.0", "604801.0"] {
        assert_eq!(
            error(&format!("{ENGINE}[sweep]\nduration_s = {bad}\n")),
            format!(
                "DIR/bench.toml: `sweep.duration_s` must be a positive number of seconds up to 604800 (7 days), got {}",
                bad.parse::<f64>().unwrap()
            ),
            "duration_s = {bad}"
        );
    }
    let config = load_with(
        &format!("{ENGINE}[sweep]\nduration_s = 604800.0\n"),
        &[],
        &[],
    );
    assert_eq!(config.unwrap().sweep.duration_s, Some(604_800.0));
    for key in [
        "timeout_s",
        "connect_timeout_s",
        "first_token_timeout_s",
        "idle_timeout_s",
    ] {
        for bad in ["1e20", "nan", "-inf", "-5.0", "3600.5"] {
            assert_eq!(
                error(&format!("{ENGINE}[sweep]\n{key} = {bad}\n")),
                format!(
                    "DIR/bench.toml: `sweep.{key}` must be a positive number of seconds up to 3600 (latencies are recorded up to 1 hour), got {}",
                    bad.parse::<f64>().unwrap()
                ),
                "{key} = {bad}"
            );
        }
        assert!(load_with(&format!("{ENGINE}[sweep]\n{key} = 3600.0\n"), &[], &[]).is_ok());
    }
    // Flags and environment variables go through the same bounds.
    assert_eq!(
        load_with(ENGINE, &[("LLMSWEEP__SWEEP__TIMEOUT_S", "1e20")], &[]).unwrap_err(),
        "DIR/bench.toml: `sweep.timeout_s` must be a positive number of seconds up to 3600 (latencies are recorded up to 1 hour), got 100000000000000000000"
    );
}

#[test]
fn extra_body_cannot_override_what_llmsweep_sets() {
    for (key, hint) in [
        ("model", "set the engine's `model`"),
        ("messages", "the prompts come from `[prompts]`"),
        ("prompt", "the prompts come from `[prompts]`"),
        ("max_tokens", "set `request.max_tokens`"),
        (
            "max_completion_tokens",
            "it overrides `request.max_tokens`; set that instead",
        ),
        ("stream", "llmsweep always streams"),
        ("stream_options", "set the engine's `stream_usage`"),
    ] {
        assert_eq!(
            error(&format!("{ENGINE}extra_body = {{ ignore_eos = true, {key} = 1 }}\n")),
            format!(
                "DIR/bench.toml: engine \"vLLM\": extra_body.{key} is set by llmsweep; remove it ({hint})"
            )
        );
    }
    let config = load_with(
        &format!("{ENGINE}extra_body = {{ ignore_eos = true, min_tokens = 8 }}\n"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(config.engines[0].extra_body.len(), 2);
}

/// `[request] seed` orders the prompts only (`sampling_seed` is what engines are sent): the
/// shipped bench.toml, README's table and `--help` say so alike.
#[test]
fn bench_toml_readme_and_help_agree_that_seed_orders_prompts_only() {
    let bench = std::fs::read_to_string("bench.toml").unwrap();
    let line = bench.lines().find(|l| l.starts_with("seed =")).unwrap();
    assert!(
        line.contains("prompt order only") && line.contains("not sent"),
        "{line}"
    );
    assert!(
        bench.contains("# sampling_seed ="),
        "bench.toml shows sampling_seed"
    );
    let readme = std::fs::read_to_string("README.md").unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `seed` |"))
        .unwrap();
    assert!(row.contains("not sent to engines"), "{row}");
    use clap::CommandFactory;
    let cli = llmsweep::cli::Cli::command();
    let run = cli.find_subcommand("run").unwrap();
    let seed = run.get_arguments().find(|a| a.get_id() == "seed").unwrap();
    let help = seed.get_help().unwrap().to_string();
    assert!(
        help.contains("prompt order") && help.contains("not sent to engines"),
        "{help}"
    );
}

#[test]
fn metrics_default_to_the_engines_own_host_and_can_be_moved_or_turned_off() {
    let config = load_with(ENGINE, &[], &[]).unwrap();
    assert_eq!(
        config.engines[0].metrics_endpoint().as_deref(),
        Some("http://127.0.0.1:8000/metrics")
    );
    assert_eq!(
        (config.metrics.interval_ms, config.metrics.timeout_ms),
        (1000, 800)
    );
    assert!(config.gpus.is_empty());
    let moved = load_with(
        &format!("{ENGINE}metrics_url = \"http://10.0.0.5:9000/prom\"\n[metrics]\ninterval_ms = 250\n\n[[gpus]]\nmetrics_url = \"http://localhost:9400/metrics\"\n"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        moved.engines[0].metrics_endpoint().as_deref(),
        Some("http://10.0.0.5:9000/prom")
    );
    assert_eq!(moved.metrics.interval_ms, 250);
    assert_eq!(moved.gpus[0].metrics_url, "http://localhost:9400/metrics");
    let off = load_with(&format!("{ENGINE}metrics = false\n"), &[], &[]).unwrap();
    assert_eq!(off.engines[0].metrics_endpoint(), None);
}

#[test]
fn bad_metrics_settings_name_their_field() {
    assert!(
        error(&format!("{ENGINE}metrics_url = \"localhost:9090\"\n"))
            .contains("engine \"vLLM\": `metrics_url` must be an http:// or https:// URL"),
    );
    assert!(
        error(&format!("{ENGINE}[[gpus]]\nmetrics_url = \"nope\"\n"))
            .contains("gpus[0]: `metrics_url` \"nope\" is not a URL")
    );
    assert!(error(&format!("{ENGINE}[metrics]\ninterval_ms = 5\n"))
        .contains("`metrics.interval_ms` must be 100..=3600000 ms, got 5"));
    assert!(error(&format!("{ENGINE}[metrics]\ntimeout_ms = 0\n"))
        .contains("`metrics.timeout_ms` must be 10..=60000 ms, got 0"));
}
