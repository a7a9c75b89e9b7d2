//! `GET /v1/models` on the engine's scheme, host and port, with the engine's key and
//! headers: the ids of the models it serves.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use serde::Deserialize;

use crate::secret::Secret;

/// Why the model list could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelsError {
    #[error("the engine URL {0:?} has no host")]
    BadUrl(String),
    #[error("unreachable ({0})")]
    Unreachable(String),
    #[error("no answer within {0} ms")]
    Timeout(u128),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("not a model list ({0})")]
    NotAList(String),
}

/// `scheme://host:port/v1/models` of an engine URL.
pub fn models_url(engine_url: &str) -> Result<String, ModelsError> {
    let mut url = reqwest::Url::parse(engine_url)
        .ok()
        .filter(|u| u.has_host())
        .ok_or_else(|| ModelsError::BadUrl(engine_url.to_string()))?;
    url.set_path("/v1/models");
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.to_string())
}

#[derive(Deserialize)]
struct List {
    data: Vec<Model>,
}

#[derive(Deserialize)]
struct Model {
    id: String,
}

/// The model ids of a `/v1/models` body (`{"data": [{"id": …}, …]}`).
pub fn parse(body: &str) -> Result<Vec<String>, ModelsError> {
    serde_json::from_str::<List>(body)
        .map(|list| list.data.into_iter().map(|m| m.id).collect())
        .map_err(|e| ModelsError::NotAList(crate::client::chunk::snippet(&e.to_string())))
}

/// The models the engine at `engine_url` lists, within `timeout`.
pub async fn list(
    engine_url: &str,
    key: Option<&Secret>,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<Vec<String>, ModelsError> {
    let url = models_url(engine_url)?;
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    if let Some(key) = key {
        if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
            value.set_sensitive(true);
            map.insert(AUTHORIZATION, value);
        }
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ModelsError::Unreachable(e.to_string()))?;
    let redact = |text: String| match key {
        Some(key) => key.redact(&text),
        None => text,
    };
    let response = client.get(url).headers(map).send().await.map_err(|e| {
        if e.is_timeout() {
            ModelsError::Timeout(timeout.as_millis())
        } else {
            ModelsError::Unreachable(redact(crate::client::openai::error_chain(&e)))
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(ModelsError::Status(status.as_u16()));
    }
    let text = response.text().await.map_err(|e| {
        if e.is_timeout() {
            ModelsError::Timeout(timeout.as_millis())
        } else {
            ModelsError::NotAList(redact(e.to_string()))
        }
    })?;
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_keeps_scheme_host_and_port_only() {
        assert_eq!(
            models_url("https://gpu.example:8443/v1/chat/completions?x=1").unwrap(),
            "https://gpu.example:8443/v1/models"
        );
        assert_eq!(
            models_url("http://127.0.0.1:8000/v1/completions").unwrap(),
            "http://127.0.0.1:8000/v1/models"
        );
        assert!(matches!(
            models_url("not a url"),
            Err(ModelsError::BadUrl(_))
        ));
    }

    #[test]
    fn ids_come_from_data() {
        let body = r#"{"object":"list","data":[{"id":"a","object":"model"},{"id":"b"}]}"#;
        assert_eq!(parse(body).unwrap(), ["a", "b"]);
        assert!(matches!(parse("{}"), Err(ModelsError::NotAList(_))));
        assert!(matches!(parse("<html>"), Err(ModelsError::NotAList(_))));
    }
}
