//! What serde cannot check: uniqueness, ranges, bounds, URLs, colours, reserved body keys,
//! and (at run time) the engines' key variables.

use std::collections::HashSet;

use super::{Config, SweepMode};
use crate::color::Rgb;

/// Longest request latency recorded, seconds: the latency histograms span 1 µs to 1 hour, so
/// every timeout is at most this (a longer request could not be measured).
pub const MAX_LATENCY_S: f64 = 3_600.0;

/// Longest `sweep.duration_s`, seconds (7 days): far beyond any sweep, and well inside what
/// `Duration` holds.
pub const MAX_DURATION_S: f64 = 604_800.0;

/// Request-body keys llmsweep sets itself (or that override one it sets), refused in
/// `extra_body`, each with where to set it instead.
const RESERVED_BODY_KEYS: [(&str, &str); 7] = [
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
];

/// Longest `short_name`: the dashboard's engine column at 80 columns.
pub const SHORT_NAME_MAX_CHARS: usize = 8;

impl Config {
    /// Checks what serde cannot: uniqueness, ranges, URLs, colours. Returns the message.
    pub fn validate(&self) -> Result<(), String> {
        let mut names = HashSet::new();
        let mut short_names = HashSet::new();
        for (i, engine) in self.engines.iter().enumerate() {
            let label = if engine.name.trim().is_empty() {
                format!("engines[{i}]")
            } else {
                format!("engine {:?}", engine.name)
            };
            if engine.name.trim().is_empty() {
                return Err(format!("{label}: `name` is empty"));
            }
            if !names.insert(engine.name.as_str()) {
                return Err(format!("duplicate engine name {:?}", engine.name));
            }
            if let Some(short) = &engine.short_name {
                let chars = short.chars().count();
                if short.trim().is_empty() || chars > SHORT_NAME_MAX_CHARS {
                    return Err(format!(
                        "{label}: `short_name` {short:?} must have 1 to {SHORT_NAME_MAX_CHARS} characters"
                    ));
                }
                if !short_names.insert(short.as_str()) {
                    return Err(format!(
                        "{label}: `short_name` {short:?} is another engine's too"
                    ));
                }
            }
            match reqwest::Url::parse(&engine.url) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
                Ok(_) => {
                    return Err(format!(
                        "{label}: `url` must be an http:// or https:// URL, got {:?}",
                        engine.url
                    ))
                }
                Err(e) => {
                    return Err(format!(
                        "{label}: `url` {:?} is not a URL ({e})",
                        engine.url
                    ))
                }
            }
            if engine.model.trim().is_empty() {
                return Err(format!("{label}: `model` is empty"));
            }
            if let Some(color) = &engine.color {
                if Rgb::parse(color).is_none() {
                    return Err(format!(
                        "{label}: `color` {color:?} is not #rrggbb or a known name (red, green, blue, orange, purple, cyan, vermillion, yellow, magenta, gray)"
                    ));
                }
            }
            if let Some((key, hint)) = RESERVED_BODY_KEYS
                .iter()
                .find(|(key, _)| engine.extra_body.contains_key(*key))
            {
                return Err(format!(
                    "{label}: extra_body.{key} is set by llmsweep; remove it ({hint})"
                ));
            }
            if let Some(url) = &engine.metrics_url {
                check_http_url(url).map_err(|e| format!("{label}: `metrics_url` {e}"))?;
            }
            for (key, value) in &engine.headers {
                if reqwest::header::HeaderName::from_bytes(key.as_bytes()).is_err()
                    || reqwest::header::HeaderValue::from_str(value).is_err()
                {
                    return Err(format!(
                        "{label}: header {key:?} is not a valid HTTP header"
                    ));
                }
            }
        }
        for (i, gpu) in self.gpus.iter().enumerate() {
            check_http_url(&gpu.metrics_url)
                .map_err(|e| format!("gpus[{i}]: `metrics_url` {e}"))?;
        }
        let metrics = &self.metrics;
        if !(100..=3_600_000).contains(&metrics.interval_ms) {
            return Err(format!(
                "`metrics.interval_ms` must be 100..=3600000 ms, got {}",
                metrics.interval_ms
            ));
        }
        if !(10..=60_000).contains(&metrics.timeout_ms) {
            return Err(format!(
                "`metrics.timeout_ms` must be 10..=60000 ms, got {}",
                metrics.timeout_ms
            ));
        }
        let sweep = &self.sweep;
        if !(1..=100).contains(&sweep.trials) {
            return Err(format!(
                "`sweep.trials` must be 1..=100, got {}",
                sweep.trials
            ));
        }
        if sweep.levels.is_auto() {
            validate_auto(&sweep.auto, sweep.mode)?;
        } else if sweep.levels.is_empty() {
            return Err("`sweep.levels` is empty".into());
        }
        match sweep.mode {
            SweepMode::Concurrency => {
                if let Some(bad) = sweep.levels.iter().find(|&&c| c.fract() != 0.0) {
                    return Err(format!(
                        "`sweep.levels` has {bad}; concurrency levels are whole numbers (mode = \"rate\" takes req/s)"
                    ));
                }
                if let Some(bad) = sweep
                    .levels
                    .iter()
                    .find(|&&c| !(1.0..=100_000.0).contains(&c))
                {
                    return Err(format!(
                        "`sweep.levels` has {bad}; levels must be 1..=100000"
                    ));
                }
            }
            SweepMode::Rate => {
                if let Some(bad) = sweep
                    .levels
                    .iter()
                    .find(|&&r| !(r.is_finite() && r > 0.0 && r <= 1e6))
                {
                    return Err(format!(
                        "`sweep.levels` has {bad}; rates must be positive req/s (at most 1000000)"
                    ));
                }
            }
        }
        if sweep.requests_per_level == Some(0) {
            return Err("`sweep.requests_per_level` must be at least 1".into());
        }
        if let Some(d) = sweep.duration_s {
            if !(d.is_finite() && d > 0.0 && d <= MAX_DURATION_S) {
                return Err(format!(
                    "`sweep.duration_s` must be a positive number of seconds up to {MAX_DURATION_S} (7 days), got {d}"
                ));
            }
        }
        for (key, value) in [("warmup_s", sweep.warmup_s), ("settle_s", sweep.settle_s)] {
            if let Some(d) = value {
                if !(d.is_finite() && (0.0..=MAX_DURATION_S).contains(&d)) {
                    return Err(format!(
                        "`sweep.{key}` must be a number of seconds from 0 up to {MAX_DURATION_S} (7 days), got {d}"
                    ));
                }
            }
        }
        if !(sweep.burstiness.is_finite() && sweep.burstiness > 0.0) {
            return Err(format!(
                "`sweep.burstiness` must be a positive number (1.0 = Poisson), got {}",
                sweep.burstiness
            ));
        }
        if sweep.mode == SweepMode::Concurrency
            && (sweep.max_concurrency != 0 || sweep.burstiness != 1.0)
        {
            let key = if sweep.max_concurrency != 0 {
                "max_concurrency"
            } else {
                "burstiness"
            };
            return Err(format!(
                "`sweep.{key}` applies to mode = \"rate\" only (concurrency mode sets the requests in flight by `levels`)"
            ));
        }
        for (key, value) in [
            ("sweep.timeout_s", Some(sweep.timeout_s)),
            ("sweep.connect_timeout_s", Some(sweep.connect_timeout_s)),
            ("sweep.first_token_timeout_s", sweep.first_token_timeout_s),
            ("sweep.idle_timeout_s", sweep.idle_timeout_s),
        ] {
            let Some(value) = value else { continue };
            // Also bounded above, so `Duration::from_secs_f64` can never panic on it.
            if !(value.is_finite() && value > 0.0 && value <= MAX_LATENCY_S) {
                return Err(format!(
                    "`{key}` must be a positive number of seconds up to {MAX_LATENCY_S} (latencies are recorded up to 1 hour), got {value}"
                ));
            }
        }
        if self.request.max_tokens == 0 {
            return Err("`request.max_tokens` must be at least 1".into());
        }
        let prompts = &self.prompts;
        let sources = prompts.sources_set();
        if sources.len() > 1 {
            return Err(format!(
                "`[prompts]` sets {}; choose exactly one of `pool`, `file`, `sharegpt`, `synthetic`, `trace`",
                sources
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        if prompts.trace.is_some() {
            if sweep.mode != SweepMode::Rate {
                return Err("`prompts.trace` replays the trace's arrival times: set `sweep.mode = \"rate\"` (its `levels` are then speed factors: 1 = as recorded, 2 = twice as fast)".into());
            }
            if sweep.burstiness != 1.0 {
                return Err("`sweep.burstiness` does not apply to `prompts.trace` (the trace's timestamps are the arrivals)".into());
            }
            if sweep.levels.is_auto() {
                return Err("`sweep.levels = \"auto\"` does not apply to `prompts.trace`: list the speed factors (e.g. [0.5, 1, 2])".into());
            }
        }
        if let Some(chats) = &prompts.conversations {
            let source = sources.first().copied().unwrap_or("pool");
            if !matches!(source, "synthetic" | "sharegpt") {
                return Err(format!("`prompts.conversations` needs `synthetic` or `sharegpt` prompts (each conversation's user turns come from them), not `{source}`"));
            }
            if sweep.mode != SweepMode::Concurrency {
                return Err("`prompts.conversations` runs in `sweep.mode = \"concurrency\"`: a level is the number of conversations in flight, each sending its turns one after another".into());
            }
            match chats.turns {
                Some(0) => return Err("`prompts.conversations.turns` must be at least 1".into()),
                None if source == "synthetic" => return Err("`prompts.conversations.turns` is needed with `synthetic` prompts (the user turns of each conversation)".into()),
                _ => {}
            }
            if chats.turn_delay_ms > 3_600_000 {
                return Err(format!(
                    "`prompts.conversations.turn_delay_ms` must be at most 3600000 (1 hour), got {}",
                    chats.turn_delay_ms
                ));
            }
        }
        if prompts.pool.as_ref().is_some_and(Vec::is_empty) {
            return Err("`prompts.pool` is empty".into());
        }
        if prompts.limit == Some(0) {
            return Err("`prompts.limit` must be at least 1".into());
        }
        if let Some(syn) = &prompts.synthetic {
            if syn.input_tokens == 0 || syn.output_tokens == 0 || syn.count == 0 {
                return Err(
                    "`prompts.synthetic`: `input_tokens`, `output_tokens` and `count` must be at least 1"
                        .into(),
                );
            }
            if !(0.0..1.0).contains(&syn.range_ratio) {
                return Err(format!(
                    "`prompts.synthetic.range_ratio` must be in [0, 1), got {}",
                    syn.range_ratio
                ));
            }
            if syn.prefixes.is_some() && syn.prefix_tokens.is_none() {
                return Err("`prompts.synthetic.prefixes` needs `prefix_tokens` (the shared system prompts' length)".into());
            }
            if syn.prefix_tokens == Some(0) {
                return Err("`prompts.synthetic.prefix_tokens` must be at least 1".into());
            }
            match syn.prefixes {
                Some(0) => return Err("`prompts.synthetic.prefixes` must be at least 1".into()),
                Some(n) if n as usize > syn.count => {
                    return Err(format!(
                        "`prompts.synthetic.prefixes` ({n}) is more than `count` ({}): some shared prompts would never be sent",
                        syn.count
                    ))
                }
                _ => {}
            }
        }
        let slo = &self.slo;
        for (key, value) in [
            ("slo.ttft_ms", slo.ttft_ms),
            ("slo.tpot_ms", slo.tpot_ms),
            ("slo.e2e_ms", slo.e2e_ms),
        ] {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("`{key}` must be a positive number of ms, got {v}"));
                }
            }
        }
        if !(slo.attainment > 0.0 && slo.attainment <= 1.0) {
            return Err(format!(
                "`slo.attainment` must be in (0, 1], got {}",
                slo.attainment
            ));
        }
        Ok(())
    }

    /// Checks the engines' key variables are set (run time, not for `report`).
    pub fn check_keys(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        for engine in &self.engines {
            if let Some(var) = &engine.api_key_env {
                match lookup(var) {
                    Some(key) if !key.is_empty() => {}
                    _ => {
                        return Err(format!(
                            "engine {:?}: api_key_env = {var:?} but ${var} is not set",
                            engine.name
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

/// An `http://` or `https://` URL with a host, or why not.
fn check_http_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(())
        }
        Ok(_) => Err(format!("must be an http:// or https:// URL, got {url:?}")),
        Err(e) => Err(format!("{url:?} is not a URL ({e})")),
    }
}

/// `[sweep.auto]`, for `levels = "auto"`.
fn validate_auto(auto: &crate::config::AutoConfig, mode: SweepMode) -> Result<(), String> {
    let (low, high, what) = match mode {
        SweepMode::Concurrency => (1.0, 100_000.0, "concurrency"),
        SweepMode::Rate => (1e-3, 1e6, "req/s"),
    };
    for (key, value) in [("start", auto.start), ("max", auto.max)] {
        let whole = mode == SweepMode::Rate || value.fract() == 0.0;
        if !(value.is_finite() && (low..=high).contains(&value) && whole) {
            let kind = if mode == SweepMode::Concurrency {
                "a whole number "
            } else {
                ""
            };
            return Err(format!(
                "`sweep.auto.{key}` must be {kind}{low}..={high} ({what}), got {value}"
            ));
        }
    }
    if auto.max < auto.start {
        return Err(format!(
            "`sweep.auto.max` ({}) is below `sweep.auto.start` ({})",
            auto.max, auto.start
        ));
    }
    if auto.stop.is_empty() {
        return Err(
            "`sweep.auto.stop` is empty; name at least one of \"plateau\", \"slo\", \"errors\""
                .into(),
        );
    }
    for (key, value, range) in [
        ("plateau_pct", auto.plateau_pct, 0.0..=100.0),
        ("slo_goodput_pct", auto.slo_goodput_pct, 0.0..=100.0),
        ("max_error_rate", auto.max_error_rate, 0.0..=1.0),
    ] {
        if !range.contains(&value) {
            return Err(format!(
                "`sweep.auto.{key}` must be {}..={}, got {value}",
                range.start(),
                range.end()
            ));
        }
    }
    if !(auto.resolution > 0.0 && auto.resolution <= 1.0) {
        return Err(format!(
            "`sweep.auto.resolution` must be above 0 and at most 1 (a fraction of the level), got {}",
            auto.resolution
        ));
    }
    Ok(())
}
