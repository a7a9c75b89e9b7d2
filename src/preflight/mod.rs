//! Preflight: before an engine is loaded, is it there and does it speak the API the sweep
//! needs? `llmsweep check` runs every check and prints a table; `run` runs the same checks
//! (less the output-length one) before each engine's first level, skips an engine with a
//! hard failure and warns about the rest.
//!
//! - `probe`  — the one streamed request (the sweep's body, a small `max_tokens`).
//! - `models` — `GET /v1/models`: is the configured model served?
//! - `table`  — the text table and the fix lines (pure).
//!
//! The verdicts are pure functions of what the probe, `/v1/models` and `/metrics` returned.

pub mod models;
pub mod probe;
pub mod table;

use std::time::Duration;

use crate::client::openai::ClientSpec;
use crate::client::{EngineClient, ErrorClass, RequestError, Timeouts, Timings};
use crate::config::{Config, EngineConfig, SweepConfig};
use crate::plan::Plan;
use crate::server_metrics::schema::Schema;

/// How an engine's `skipped_reason` begins when a hard check failed.
pub const SKIP_PREFIX: &str = "preflight: ";

/// The check names, as tables, warnings and `skipped_reason` show them.
pub mod names {
    /// Hard: a TCP connection to the engine.
    pub const REACHABLE: &str = "reachable";
    /// Hard: the probe's HTTP status and stream, and that it carried output.
    pub const STREAM: &str = "stream";
    /// Warning: the model is listed by `/v1/models`.
    pub const MODEL: &str = "model";
    /// Warning: the stream carried `usage`.
    pub const USAGE: &str = "usage";
    /// Warning (`check` only): the tokens asked for came back.
    pub const OUTPUT_LENGTH: &str = "output_length";
    /// Information: whether the first chunk is role-only.
    pub const ROLE_CHUNK: &str = "role_chunk";
    /// Warning: the engine's Prometheus endpoint, and whose schema it is.
    pub const METRICS: &str = "metrics";
    /// Warning: the API key variable is set (its value is never shown).
    pub const API_KEY: &str = "api_key";
}

/// Tokens `check` asks for to see whether the output length is honoured.
pub const OUTPUT_LENGTH_TOKENS: u32 = 16;
/// Largest `max_tokens` of the run's probe (the sweep's own when smaller).
pub const PROBE_MAX_TOKENS: u32 = 16;
/// Longest the probe may take, whatever the sweep's timeouts.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// Limit on `GET /v1/models`.
pub const MODELS_TIMEOUT: Duration = Duration::from_secs(5);

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// Reported; the engine is swept anyway.
    Warn,
    /// Hard failure: `run` does not sweep the engine (unless `--no-check`).
    Fail,
    /// Not checked: an earlier check failed.
    Skip,
}

/// One check of one engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// One of [`names`].
    pub name: &'static str,
    pub status: Status,
    /// One line; never an API key.
    pub detail: String,
    /// What to change, for a warning or failure.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Fail,
            ..Check::warn(name, detail, fix)
        }
    }

    fn skip(name: &'static str, why: &str) -> Check {
        Check {
            name,
            status: Status::Skip,
            detail: format!("not checked: {why}"),
            fix: None,
        }
    }

    /// `<name>: <detail>`, then the fix, if any.
    pub fn line(&self) -> String {
        match &self.fix {
            Some(fix) => format!("{}: {} — fix: {fix}", self.name, self.detail),
            None => format!("{}: {}", self.name, self.detail),
        }
    }
}

/// Every check of one engine, in table order.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineChecks {
    pub engine: String,
    pub checks: Vec<Check>,
    /// The engine's `/metrics` answered with a schema this version reads; `false` when
    /// metrics are off, missing or not recognised (the run then does not scrape them).
    pub metrics_usable: bool,
}

impl EngineChecks {
    /// The first hard failure.
    pub fn hard_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }

    /// `preflight: <check>: <detail>` of the first hard failure: why `run` skips the engine.
    pub fn skipped_reason(&self) -> Option<String> {
        self.hard_failure()
            .map(|c| format!("{SKIP_PREFIX}{}: {}", c.name, c.detail))
    }

    /// `preflight: <check>: <detail> — fix: …` for each warning.
    pub fn warnings(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .map(|c| format!("preflight: {}", c.line()))
            .collect()
    }
}

/// The engine's API key variable, as far as the checks need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// No `api_key_env`.
    NotConfigured,
    /// `api_key_env` names this variable and it is set, not empty.
    Set(String),
    /// `api_key_env` names this variable but it is unset or empty.
    Missing(String),
}

impl KeyState {
    /// The state of `engine`'s key variable; `lookup` reads the environment.
    pub fn of(engine: &EngineConfig, lookup: &dyn Fn(&str) -> Option<String>) -> KeyState {
        match &engine.api_key_env {
            None => KeyState::NotConfigured,
            Some(var) => match lookup(var) {
                Some(value) if !value.is_empty() => KeyState::Set(var.clone()),
                _ => KeyState::Missing(var.clone()),
            },
        }
    }

    fn var(&self) -> Option<&str> {
        match self {
            KeyState::NotConfigured => None,
            KeyState::Set(var) | KeyState::Missing(var) => Some(var),
        }
    }
}

/// How to run the checks of one engine.
#[derive(Debug, Clone)]
pub struct Settings {
    pub timeouts: Timeouts,
    /// Limit on the `/metrics` fetch.
    pub metrics_timeout: Duration,
    /// `check`: ask for exactly this many tokens and report what came back. `run`: `None`
    /// (the probe asks for at most [`PROBE_MAX_TOKENS`] and the length is not judged).
    pub output_length: Option<u32>,
    /// The probe's `X-Request-Id`, e.g. `<run>-e0-preflight`.
    pub request_id: String,
}

impl Settings {
    /// The probe's settings for a sweep: its timeouts, capped at [`PROBE_TIMEOUT`].
    pub fn for_sweep(sweep: &SweepConfig, metrics_timeout: Duration, request_id: String) -> Self {
        let total = Duration::from_secs_f64(sweep.timeout_s).min(PROBE_TIMEOUT);
        Settings {
            timeouts: Timeouts {
                connect: Duration::from_secs_f64(sweep.connect_timeout_s),
                first_token: sweep
                    .first_token_timeout_s
                    .map(|s| Duration::from_secs_f64(s).min(total)),
                idle: sweep.idle_timeout_s.map(Duration::from_secs_f64),
                total,
            },
            metrics_timeout,
            output_length: None,
            request_id,
        }
    }
}

/// The probe request id of engine `engine` in run `run_name`.
pub fn request_id(run_name: &str, engine: usize) -> String {
    format!("{run_name}-e{engine}-preflight")
}

/// Runs every check of engine `engine` of `plan`.
pub async fn check_engine(
    plan: &Plan,
    engine: usize,
    key: &KeyState,
    settings: &Settings,
) -> EngineChecks {
    let target = &plan.engines[engine];
    let config = &plan.config.engines[engine];
    let max_tokens = match settings.output_length {
        Some(n) => probe::MaxTokens::Exactly(n),
        None => probe::MaxTokens::AtMost(PROBE_MAX_TOKENS),
    };
    let client = EngineClient::new(ClientSpec {
        url: &target.url,
        key: target.key.clone(),
        headers: &target.headers,
        timeouts: settings.timeouts,
        max_connections: 1,
        max_tokens: PROBE_MAX_TOKENS,
    });
    let result = match client {
        Ok(client) => {
            let body = probe::body(plan, engine, max_tokens);
            client.send(body, &settings.request_id).await
        }
        Err(e) => Err(RequestError::new(ErrorClass::Connect, e)),
    };
    let context = ProbeContext {
        url: &target.url,
        key,
        stream_usage: config.stream_usage,
        output_length: settings.output_length,
    };
    let mut checks = probe_checks(&result, &context);
    let reachable = checks[0].status == Status::Pass;
    let metrics_url = config.metrics_endpoint();
    let (model, metrics, metrics_usable) = if reachable {
        let models = models::list(
            &target.url,
            target.key.as_ref(),
            &target.headers,
            MODELS_TIMEOUT.min(settings.timeouts.total),
        );
        let metrics = fetch_metrics(metrics_url.as_deref(), settings.metrics_timeout);
        let (models, metrics) = tokio::join!(models, metrics);
        let usable = matches!(metrics, Some(Ok(Some(_))));
        (
            model_check(&target.model, &models),
            metrics_check(metrics_url.as_deref(), &metrics),
            usable,
        )
    } else {
        let why = "the engine is unreachable";
        (
            Check::skip(names::MODEL, why),
            Check::skip(names::METRICS, why),
            false,
        )
    };
    // Table order: reachable, stream, model, then the stream's own checks, metrics, key.
    checks.insert(2, model);
    checks.push(metrics);
    checks.push(key_check(key));
    EngineChecks {
        engine: target.name.clone(),
        checks,
        metrics_usable,
    }
}

/// Every engine of `plan`, checked at once; in the plan's order.
pub async fn check_all(plan: &Plan, keys: &[KeyState], settings: &[Settings]) -> Vec<EngineChecks> {
    let checks = (0..plan.engines.len()).map(|i| check_engine(plan, i, &keys[i], &settings[i]));
    futures_util::future::join_all(checks).await
}

/// `llmsweep check`: every check of every engine of `config`, the output length included;
/// keys are read with `lookup`. An unset key variable is a warning here, not the config
/// error `run` makes of it. Errors are config errors (one line).
pub async fn check_config(
    config: Config,
    lookup: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Vec<EngineChecks>, String> {
    let keys: Vec<KeyState> = config
        .engines
        .iter()
        .map(|e| KeyState::of(e, lookup))
        .collect();
    // The plan refuses a missing key; the check reports it instead.
    let mut plan_config = config;
    for (engine, key) in plan_config.engines.iter_mut().zip(&keys) {
        if matches!(key, KeyState::Missing(_)) {
            engine.api_key_env = None;
        }
    }
    let plan = Plan::new(plan_config, lookup)?;
    let metrics_timeout = Duration::from_millis(plan.config.metrics.timeout_ms);
    let settings: Vec<Settings> = (0..plan.engines.len())
        .map(|i| Settings {
            output_length: Some(OUTPUT_LENGTH_TOKENS),
            ..Settings::for_sweep(&plan.config.sweep, metrics_timeout, request_id("check", i))
        })
        .collect();
    Ok(check_all(&plan, &keys, &settings).await)
}

/// `check`'s exit code: 0 when no engine has a hard failure (warnings alone pass), else 1.
pub fn exit_code(engines: &[EngineChecks]) -> i32 {
    if engines.iter().any(|e| e.hard_failure().is_some()) {
        1
    } else {
        0
    }
}

/// `GET url` parsed, and the schema recognised; `None` when metrics are off.
async fn fetch_metrics(
    url: Option<&str>,
    timeout: Duration,
) -> Option<Result<Option<Schema>, String>> {
    let url = url?;
    let client = crate::server_metrics::scraper::client(timeout);
    Some(
        crate::server_metrics::scraper::fetch(&client, url, timeout)
            .await
            .map(|exposition| Schema::detect(&exposition)),
    )
}

/// What judging the probe needs besides its result.
pub struct ProbeContext<'a> {
    pub url: &'a str,
    pub key: &'a KeyState,
    pub stream_usage: bool,
    /// The tokens asked for, when the output length is judged (`check`).
    pub output_length: Option<u32>,
}

/// `reachable`, `stream`, `usage`, `output_length` (when judged) and `role_chunk` from the
/// probe's result.
pub fn probe_checks(result: &Result<Timings, RequestError>, context: &ProbeContext) -> Vec<Check> {
    let mut checks = Vec::new();
    let dependent = |checks: &mut Vec<Check>, why: &str| {
        checks.push(Check::skip(names::USAGE, why));
        if context.output_length.is_some() {
            checks.push(Check::skip(names::OUTPUT_LENGTH, why));
        }
        checks.push(Check::skip(names::ROLE_CHUNK, why));
    };
    if let Some(e) = result
        .as_ref()
        .err()
        .filter(|e| matches!(e.class, ErrorClass::Connect | ErrorClass::TimeoutConnect))
    {
        checks.push(Check::fail(
            names::REACHABLE,
            format!(
                "cannot connect to {}: {}",
                host_port(context.url),
                e.message
            ),
            format!(
                "start the engine, or fix this engine's `url` (now {})",
                context.url
            ),
        ));
        let why = "the engine is unreachable";
        checks.push(Check::skip(names::STREAM, why));
        dependent(&mut checks, why);
        return checks;
    }
    checks.push(Check::pass(
        names::REACHABLE,
        format!("connected to {}", host_port(context.url)),
    ));
    let timings = match result {
        Ok(timings) => timings,
        Err(e) => {
            checks.push(stream_failure(e, context));
            dependent(&mut checks, "the probe failed");
            return checks;
        }
    };
    let counted = if timings.output_tokens_estimated {
        " (counted from chunks)"
    } else {
        ""
    };
    checks.push(Check::pass(
        names::STREAM,
        format!(
            "TTFT {:.1} ms, {} tokens{counted} in {:.1} ms",
            timings.ttft_us as f64 / 1e3,
            timings.output_tokens,
            timings.e2e_us as f64 / 1e3
        ),
    ));
    checks.push(if timings.output_tokens_estimated {
        let fix = if context.stream_usage {
            "the engine ignores stream_options.include_usage: token counts stay estimates \
             (one token per content chunk)"
        } else {
            "set stream_usage = true for this engine"
        };
        Check::warn(
            names::USAGE,
            "no usage in the stream: token counts are estimated from chunks",
            fix,
        )
    } else {
        Check::pass(
            names::USAGE,
            format!("usage sent ({} completion tokens)", timings.output_tokens),
        )
    });
    if let Some(asked) = context.output_length {
        let got = timings.output_tokens;
        checks.push(if got < asked as u64 {
            Check::warn(
                names::OUTPUT_LENGTH,
                format!("asked for {asked} tokens, got {got}{counted}"),
                "set extra_body.ignore_eos = true (vLLM/SGLang) or min_tokens",
            )
        } else if got > asked as u64 {
            Check::warn(
                names::OUTPUT_LENGTH,
                format!("asked for {asked} tokens, got {got}{counted}: max_tokens not honoured"),
                "check extra_body (a max_completion_tokens there wins) and the engine's \
                 max_tokens handling",
            )
        } else {
            Check::pass(
                names::OUTPUT_LENGTH,
                format!("asked for {asked} tokens, got {got}"),
            )
        });
    }
    checks.push(Check::pass(
        names::ROLE_CHUNK,
        if timings.role_only_first_chunk {
            "role-only first chunk"
        } else {
            "first chunk carries output"
        },
    ));
    checks
}

/// The `stream` failure for a probe error other than a failed connect.
fn stream_failure(e: &RequestError, context: &ProbeContext) -> Check {
    let fix = match (e.class, e.status) {
        (ErrorClass::HttpStatus, Some(401 | 403)) => match context.key.var() {
            Some(var) => format!("set ${var} to a key the engine accepts"),
            None => "the engine wants an API key: set api_key_env = \"VAR\" for this engine \
                     and export VAR"
                .into(),
        },
        (ErrorClass::HttpStatus, Some(404)) => {
            "fix `url`: it must be the endpoint itself, e.g. …/v1/chat/completions \
             (api = \"chat\") or …/v1/completions (api = \"completions\")"
                .into()
        }
        (ErrorClass::HttpStatus, Some(400 | 422)) => {
            "the engine rejected the request: check `model`, `[request]` and `extra_body`".into()
        }
        (ErrorClass::HttpStatus, _) | (ErrorClass::EngineError, _) => {
            "the engine failed on a short request: see its log".into()
        }
        (ErrorClass::MalformedStream, _) => {
            "point `url` at an OpenAI-compatible streaming endpoint".into()
        }
        (ErrorClass::TimeoutFirstToken | ErrorClass::TimeoutIdle | ErrorClass::TimeoutTotal, _) => {
            "the engine accepted the connection but did not answer in time: is it still \
              loading the model?"
                .into()
        }
        _ => {
            "the engine sent no usable output: check `model`, `max_tokens` and `extra_body`".into()
        }
    };
    Check::fail(names::STREAM, e.message.clone(), fix)
}

/// `model` from what `/v1/models` returned.
pub fn model_check(model: &str, listed: &Result<Vec<String>, models::ModelsError>) -> Check {
    match listed {
        Ok(ids) if ids.iter().any(|id| id == model) => {
            Check::pass(names::MODEL, format!("{model:?} listed by /v1/models"))
        }
        Ok(ids) if ids.is_empty() => Check::warn(
            names::MODEL,
            format!("{model:?} not listed: /v1/models lists no model"),
            "check `model` against the engine's served model name",
        ),
        Ok(ids) => {
            let shown: Vec<String> = ids.iter().take(5).map(|id| format!("{id:?}")).collect();
            let more = if ids.len() > 5 { ", …" } else { "" };
            Check::warn(
                names::MODEL,
                format!(
                    "{model:?} not listed by /v1/models (it lists {}{more})",
                    shown.join(", ")
                ),
                format!("set model = {:?} (or the name the engine serves)", ids[0]),
            )
        }
        Err(e) => Check::warn(
            names::MODEL,
            format!("/v1/models: {e}"),
            "none needed if the engine has no /v1/models; else check `url`",
        ),
    }
}

/// `metrics` from the fetch of `url` (`None`: off).
pub fn metrics_check(url: Option<&str>, fetched: &Option<Result<Option<Schema>, String>>) -> Check {
    let (Some(url), Some(fetched)) = (url, fetched) else {
        return Check::pass(names::METRICS, "off (metrics = false)");
    };
    match fetched {
        Ok(Some(schema)) => Check::pass(
            names::METRICS,
            format!("found at {url}, schema {}", schema.as_str()),
        ),
        Ok(None) => Check::warn(
            names::METRICS,
            format!("found at {url}, not recognised (not vLLM, SGLang, TGI or llama.cpp)"),
            "server fields stay empty; set metrics = false to stop scraping it",
        ),
        Err(e) => Check::warn(
            names::METRICS,
            format!("not found at {url} ({e})"),
            "set metrics_url to the engine's Prometheus endpoint, or metrics = false",
        ),
    }
}

/// `api_key`: whether the variable is set; never its value.
pub fn key_check(key: &KeyState) -> Check {
    match key {
        KeyState::NotConfigured => Check::pass(names::API_KEY, "none configured"),
        KeyState::Set(var) => Check::pass(names::API_KEY, format!("${var} set")),
        KeyState::Missing(var) => Check::warn(
            names::API_KEY,
            format!("api_key_env = {var:?} but ${var} is unset or empty"),
            format!("export {var}=<the engine's key>"),
        ),
    }
}

/// `host:port` of a URL, or the URL when it does not parse.
fn host_port(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match (parsed.host_str(), parsed.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}

#[cfg(test)]
mod tests;
