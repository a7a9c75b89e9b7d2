//! Loading the layers: the TOML file (or inline text), `LLMSWEEP__…` environment variables
//! and flag overrides through the `config` crate, with errors turned into one line naming the
//! file, key or engine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Config;

/// A configuration problem, shown to the user as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Where the layers come from. `env: None` reads the process environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The TOML file; `None` = defaults only.
    pub file: Option<PathBuf>,
    /// Inline TOML used instead of a file (the demo's built-in setup), with its origin name.
    pub text: Option<(String, String)>,
    /// Environment variables to use instead of the process's (tests).
    pub env: Option<HashMap<String, String>>,
    /// Flag overrides, as `("sweep.levels", "1,2,4")`; highest precedence.
    pub overrides: Vec<(String, String)>,
}

impl Config {
    /// Builds the layered config and validates it.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let origin = match (&sources.file, &sources.text) {
            (Some(path), _) => path.display().to_string(),
            (None, Some((name, _))) => name.clone(),
            (None, None) => "config".into(),
        };
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.clone(),
            message,
        };
        let mut builder = config::Config::builder();
        // Kept to name engines in messages: `engines[1]` becomes `engine "TGI" (engines[1])`.
        let mut file_value: Option<toml::Value> = None;
        let text = match (&sources.file, &sources.text) {
            (Some(path), _) => Some(read_text(path)?),
            (None, Some((_, text))) => Some(text.clone()),
            (None, None) => None,
        };
        if let Some(text) = text {
            file_value = text.parse::<toml::Table>().ok().map(toml::Value::Table);
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("LLMSWEEP")
                .prefix_separator("__")
                .separator("__")
                .source(sources.env.clone()),
        );
        for (key, value) in &sources.overrides {
            builder = builder
                .set_override(key.as_str(), value.as_str())
                .map_err(|e| invalid(e.to_string()))?;
        }
        let describe = |e: config::ConfigError| invalid(describe(&e, file_value.as_ref()));
        let layered = builder.build().map_err(describe)?;
        let config: Config = layered.try_deserialize().map_err(describe)?;
        config.validate().map_err(invalid)?;
        Ok(config)
    }
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    let unreadable = |reason: String| ConfigError::Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| unreadable(io_reason(&e)))?;
    String::from_utf8(bytes)
        .map_err(|e| unreadable(format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to())))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The config crate's messages, made one line, with serde's wording turned into the file's
/// (`unknown key`, `engines[0].url`) and engines named.
fn describe(e: &config::ConfigError, file: Option<&toml::Value>) -> String {
    let text = e.to_string();
    let mut text = text.lines().next().unwrap_or_default().trim().to_string();
    text = text.replace("TOML parse error", "TOML syntax error");
    text = text.replace("unknown field", "unknown key");
    if let Some(rest) = text.strip_prefix("missing configuration field ") {
        text = format!("missing key `{}`", rest.trim_matches('"'));
    }
    if let Some(rest) = text.strip_prefix("enum Api does not have variant constructor ") {
        let (value, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        text = format!("unknown api {value:?} (expected \"chat\" or \"completions\") {tail}");
    }
    for (name, key, expected) in [
        ("SweepMode", "mode", "\"concurrency\" or \"rate\""),
        ("SweepOrder", "order", "\"sequential\" or \"interleaved\""),
        ("CacheMode", "cache", "\"bust\" or \"warm\""),
    ] {
        let prefix = format!("enum {name} does not have variant constructor ");
        if let Some(rest) = text.strip_prefix(&prefix) {
            let (value, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            text = format!("unknown {key} {value:?} (expected {expected}) {tail}");
        }
    }
    // `engines[0]url` → `engines[0].url`
    let mut dotted = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        dotted.push(c);
        if c == ']' && chars.peek().is_some_and(|n| n.is_ascii_alphabetic()) {
            dotted.push('.');
        }
    }
    name_engines(dotted.trim(), file)
}

/// Prefixes a message about `engines[i]` with that engine's name from the file.
fn name_engines(text: &str, file: Option<&toml::Value>) -> String {
    let Some(start) = text.find("engines[") else {
        return text.to_string();
    };
    let digits: String = text[start + 8..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let name = digits.parse::<usize>().ok().and_then(|i| {
        file?
            .get("engines")?
            .get(i)?
            .get("name")?
            .as_str()
            .map(str::to_string)
    });
    match name {
        Some(name) => format!("engine {name:?}: {text}"),
        None => text.to_string(),
    }
}
