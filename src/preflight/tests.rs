use super::models::ModelsError;
use super::*;

fn timings(tokens: u64, estimated: bool, role_only: bool) -> Timings {
    Timings {
        ttft_us: 4_200,
        e2e_us: 30_000,
        output_tokens: tokens,
        output_tokens_estimated: estimated,
        role_only_first_chunk: role_only,
        ..Timings::default()
    }
}

fn context<'a>(key: &'a KeyState, output_length: Option<u32>) -> ProbeContext<'a> {
    ProbeContext {
        url: "http://127.0.0.1:8000/v1/chat/completions",
        key,
        stream_usage: true,
        output_length,
    }
}

fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in {checks:?}"))
}

#[test]
fn a_healthy_probe_passes_every_check() {
    let key = KeyState::NotConfigured;
    let checks = probe_checks(&Ok(timings(16, false, true)), &context(&key, Some(16)));
    let names: Vec<&str> = checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            names::REACHABLE,
            names::STREAM,
            names::USAGE,
            names::OUTPUT_LENGTH,
            names::ROLE_CHUNK
        ]
    );
    assert!(
        checks.iter().all(|c| c.status == Status::Pass),
        "{checks:?}"
    );
    assert_eq!(
        find(&checks, names::STREAM).detail,
        "TTFT 4.2 ms, 16 tokens in 30.0 ms"
    );
    assert_eq!(
        find(&checks, names::ROLE_CHUNK).detail,
        "role-only first chunk"
    );
    let run = probe_checks(&Ok(timings(16, false, false)), &context(&key, None));
    assert!(
        run.iter().all(|c| c.name != names::OUTPUT_LENGTH),
        "run does not judge length"
    );
    assert_eq!(
        find(&run, names::ROLE_CHUNK).detail,
        "first chunk carries output"
    );
}

#[test]
fn a_refused_connection_is_unreachable_and_nothing_else_is_judged() {
    let key = KeyState::NotConfigured;
    let error = RequestError::new(ErrorClass::Connect, "tcp connect error: Connection refused");
    let checks = probe_checks(&Err(error), &context(&key, Some(16)));
    assert_eq!(checks[0].name, names::REACHABLE);
    assert_eq!(checks[0].status, Status::Fail);
    assert_eq!(
        checks[0].detail,
        "cannot connect to 127.0.0.1:8000: tcp connect error: Connection refused"
    );
    assert!(checks[0]
        .fix
        .as_deref()
        .unwrap()
        .contains("start the engine"));
    assert!(
        checks[1..].iter().all(|c| c.status == Status::Skip),
        "{checks:?}"
    );
    let timeout = RequestError::new(ErrorClass::TimeoutConnect, "no answer within 2.0 s");
    assert_eq!(
        probe_checks(&Err(timeout), &context(&key, None))[0].status,
        Status::Fail
    );
}

#[test]
fn http_errors_fail_the_stream_with_a_fix_for_their_status() {
    let http = |status: u16| RequestError {
        class: ErrorClass::HttpStatus,
        status: Some(status),
        message: format!("HTTP {status}: nope"),
    };
    let with_var = KeyState::Missing("VLLM_KEY".into());
    let checks = probe_checks(&Err(http(401)), &context(&with_var, None));
    assert_eq!(find(&checks, names::REACHABLE).status, Status::Pass);
    let stream = find(&checks, names::STREAM);
    assert_eq!(stream.status, Status::Fail);
    assert_eq!(stream.detail, "HTTP 401: nope");
    assert!(
        stream.fix.as_deref().unwrap().contains("$VLLM_KEY"),
        "{stream:?}"
    );
    let none = KeyState::NotConfigured;
    let checks = probe_checks(&Err(http(403)), &context(&none, None));
    assert!(find(&checks, names::STREAM)
        .fix
        .as_deref()
        .unwrap()
        .contains("api_key_env"));
    let checks = probe_checks(&Err(http(404)), &context(&none, None));
    assert!(find(&checks, names::STREAM)
        .fix
        .as_deref()
        .unwrap()
        .contains("/v1/chat/completions"));
    let checks = probe_checks(&Err(http(500)), &context(&none, None));
    assert!(find(&checks, names::STREAM)
        .fix
        .as_deref()
        .unwrap()
        .contains("log"));
    assert_eq!(find(&checks, names::USAGE).status, Status::Skip);
    for status in [400, 422] {
        let checks = probe_checks(&Err(http(status)), &context(&none, None));
        assert!(
            find(&checks, names::STREAM)
                .fix
                .as_deref()
                .unwrap()
                .contains("rejected the request: check `model`"),
            "{status}"
        );
    }
    // Each failure class names its own fix.
    for (class, fix) in [
        (
            ErrorClass::MalformedStream,
            "an OpenAI-compatible streaming endpoint",
        ),
        (ErrorClass::EngineError, "see its log"),
        (ErrorClass::EndedEarly, "no usable output"),
        (ErrorClass::TimeoutFirstToken, "still loading the model"),
        (ErrorClass::TimeoutIdle, "still loading the model"),
        (ErrorClass::TimeoutTotal, "still loading the model"),
    ] {
        let checks = probe_checks(&Err(RequestError::new(class, "x")), &context(&none, None));
        let stream = find(&checks, names::STREAM);
        assert_eq!(stream.status, Status::Fail, "{class:?}");
        assert!(
            stream.fix.as_deref().unwrap().contains(fix),
            "{class:?}: {stream:?}"
        );
    }
}

#[test]
fn missing_usage_and_short_or_long_output_are_warnings() {
    let key = KeyState::NotConfigured;
    let checks = probe_checks(&Ok(timings(9, true, true)), &context(&key, Some(16)));
    let usage = find(&checks, names::USAGE);
    assert_eq!(usage.status, Status::Warn);
    assert!(usage.detail.contains("no usage"));
    let length = find(&checks, names::OUTPUT_LENGTH);
    assert_eq!(length.status, Status::Warn);
    assert_eq!(
        length.detail,
        "asked for 16 tokens, got 9 (counted from chunks)"
    );
    assert_eq!(
        length.fix.as_deref(),
        Some("set extra_body.ignore_eos = true (vLLM/SGLang) or min_tokens")
    );
    let long = probe_checks(&Ok(timings(20, false, true)), &context(&key, Some(16)));
    assert_eq!(find(&long, names::OUTPUT_LENGTH).status, Status::Warn);
    let off = ProbeContext {
        stream_usage: false,
        ..context(&key, None)
    };
    let checks = probe_checks(&Ok(timings(9, true, true)), &off);
    assert_eq!(
        find(&checks, names::USAGE).fix.as_deref(),
        Some("set stream_usage = true for this engine")
    );
}

#[test]
fn a_long_model_list_shows_five_and_says_there_are_more() {
    let ids = |n: usize| -> Vec<String> { (1..=n).map(|i| format!("m{i}")).collect() };
    assert_eq!(
        model_check("x", &Ok(ids(5))).detail,
        "\"x\" not listed by /v1/models (it lists \"m1\", \"m2\", \"m3\", \"m4\", \"m5\")"
    );
    assert_eq!(
        model_check("x", &Ok(ids(6))).detail,
        "\"x\" not listed by /v1/models (it lists \"m1\", \"m2\", \"m3\", \"m4\", \"m5\", …)"
    );
}

#[test]
fn host_port_names_the_host_and_its_port() {
    assert_eq!(
        host_port("http://127.0.0.1:8000/v1/chat/completions"),
        "127.0.0.1:8000"
    );
    assert_eq!(host_port("https://example.com/v1"), "example.com:443");
    // A scheme without a known port: the host alone; not a URL: as given.
    assert_eq!(host_port("foo://engine/v1"), "engine");
    assert_eq!(host_port("not a url"), "not a url");
}

#[test]
fn the_model_must_be_listed() {
    assert_eq!(
        model_check("m", &Ok(vec!["x".into(), "m".into()])).status,
        Status::Pass
    );
    let missing = model_check("m", &Ok(vec!["llama".into()]));
    assert_eq!(missing.status, Status::Warn);
    assert_eq!(
        missing.detail,
        "\"m\" not listed by /v1/models (it lists \"llama\")"
    );
    assert!(missing
        .fix
        .as_deref()
        .unwrap()
        .contains("model = \"llama\""));
    assert_eq!(model_check("m", &Ok(vec![])).status, Status::Warn);
    let error = model_check("m", &Err(ModelsError::Status(404)));
    assert_eq!(error.status, Status::Warn);
    assert_eq!(error.detail, "/v1/models: HTTP 404");
}

#[test]
fn metrics_found_recognised_missing_or_off() {
    let url = Some("http://h:1/metrics");
    assert_eq!(
        metrics_check(url, &Some(Ok(Some(Schema::Vllm)))).detail,
        "found at http://h:1/metrics, schema vllm"
    );
    let unknown = metrics_check(url, &Some(Ok(None)));
    assert_eq!(unknown.status, Status::Warn);
    assert!(unknown.detail.contains("not recognised"));
    let missing = metrics_check(url, &Some(Err("HTTP 404 Not Found".into())));
    assert_eq!(missing.status, Status::Warn);
    assert_eq!(
        missing.detail,
        "not found at http://h:1/metrics (HTTP 404 Not Found)"
    );
    let off = metrics_check(None, &None);
    assert_eq!(
        (off.status, off.detail.as_str()),
        (Status::Pass, "off (metrics = false)")
    );
}

#[test]
fn the_key_check_names_the_variable_never_the_value() {
    let config = |var: Option<&str>| EngineConfig {
        api_key_env: var.map(String::from),
        ..toml::from_str("name = \"e\"\nurl = \"http://h:1/v1/x\"\nmodel = \"m\"\n")
            .expect("engine")
    };
    let lookup = |var: &str| match var {
        "SET" => Some("sk-secret-value".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    assert_eq!(
        KeyState::of(&config(None), &lookup),
        KeyState::NotConfigured
    );
    assert_eq!(
        KeyState::of(&config(Some("SET")), &lookup),
        KeyState::Set("SET".into())
    );
    assert_eq!(
        KeyState::of(&config(Some("EMPTY")), &lookup),
        KeyState::Missing("EMPTY".into())
    );
    let set = key_check(&KeyState::Set("SET".into()));
    assert_eq!(
        (set.status, set.detail.as_str()),
        (Status::Pass, "$SET set")
    );
    let missing = key_check(&KeyState::Missing("NOPE".into()));
    assert_eq!(missing.status, Status::Warn);
    assert_eq!(
        missing.fix.as_deref(),
        Some("export NOPE=<the engine's key>")
    );
    for check in [set, missing] {
        assert!(!check.line().contains("sk-secret"));
    }
}

fn sample() -> Vec<EngineChecks> {
    let none = KeyState::NotConfigured;
    let mut healthy = probe_checks(&Ok(timings(16, false, true)), &context(&none, Some(16)));
    healthy.insert(2, model_check("sim", &Ok(vec!["sim".into()])));
    healthy.push(metrics_check(
        Some("http://127.0.0.1:8000/metrics"),
        &Some(Ok(Some(Schema::Vllm))),
    ));
    healthy.push(key_check(&KeyState::Set("VLLM_KEY".into())));
    let mut warned = probe_checks(&Ok(timings(9, true, false)), &context(&none, Some(16)));
    warned.insert(2, model_check("sim", &Ok(vec!["llama-3-8b".into()])));
    warned.push(metrics_check(
        Some("http://127.0.0.1:8001/metrics"),
        &Some(Err("HTTP 404 Not Found".into())),
    ));
    warned.push(key_check(&none));
    let refused = RequestError::new(ErrorClass::Connect, "Connection refused (os error 111)");
    let mut down = probe_checks(&Err(refused), &context(&none, Some(16)));
    down.insert(2, Check::skip(names::MODEL, "the engine is unreachable"));
    down.push(Check::skip(names::METRICS, "the engine is unreachable"));
    down.push(key_check(&KeyState::Missing("TGI_KEY".into())));
    vec![
        EngineChecks {
            engine: "vllm".into(),
            checks: healthy,
            metrics_usable: true,
        },
        EngineChecks {
            engine: "sglang-no-usage".into(),
            checks: warned,
            metrics_usable: false,
        },
        EngineChecks {
            engine: "tgi".into(),
            checks: down,
            metrics_usable: false,
        },
    ]
}

#[test]
fn warnings_and_the_skipped_reason_carry_the_check_name() {
    let engines = sample();
    assert_eq!(engines[0].hard_failure(), None);
    assert!(engines[0].warnings().is_empty());
    assert_eq!(engines[1].hard_failure(), None);
    let warnings = engines[1].warnings();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert!(warnings.iter().all(|w| w.starts_with("preflight: ")));
    assert!(
        warnings[0].starts_with("preflight: model: "),
        "{warnings:?}"
    );
    assert_eq!(
        engines[2].skipped_reason().as_deref(),
        Some(
            "preflight: reachable: cannot connect to 127.0.0.1:8000: Connection refused \
             (os error 111)"
        )
    );
}

#[test]
fn the_table_has_every_check_and_one_line_per_problem() {
    let text = table::render(&sample());
    insta::assert_snapshot!("check_table", text);
    let healthy = table::render(&sample()[..1]);
    assert!(
        healthy.ends_with("1 of 1 engine(s) ready, 0 warning(s)\n"),
        "{healthy}"
    );
}
