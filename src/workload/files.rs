//! Prompt files: JSONL (one prompt per line) and ShareGPT JSON.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{estimate_tokens, Message, Prompt, PromptContent};

fn read(path: &Path) -> Result<String, String> {
    read_text(path, "prompts")
}

/// A UTF-8 file's text, or `cannot read <kind> file <path>: <reason>`.
pub(super) fn read_text(path: &Path, kind: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        format!("cannot read {kind} file {}: {reason}", path.display())
    })?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "cannot read {kind} file {}: not UTF-8 (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// serde_json's message without its ` at line L column C` tail.
pub(super) fn bare(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// JSONL: each non-blank line `{"prompt": "..."}` or `{"messages": [{"role", "content"}...]}`,
/// optionally with `"max_tokens": N`. Other keys are ignored.
pub fn load_jsonl(path: &Path) -> Result<Vec<Prompt>, String> {
    let text = read(path)?;
    let mut prompts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |message: &str| format!("{}:{}: {message}", path.display(), i + 1);
        let value: Value =
            serde_json::from_str(line).map_err(|e| at(&format!("not JSON ({})", bare(&e))))?;
        prompts.push(parse_line(&value).map_err(|m| at(&m))?);
    }
    Ok(prompts)
}

fn parse_line(value: &Value) -> Result<Prompt, String> {
    let content = match (value.get("prompt"), value.get("messages")) {
        (Some(_), Some(_)) => return Err("has both \"prompt\" and \"messages\"".into()),
        (Some(Value::String(text)), None) => PromptContent::Text(text.clone()),
        (Some(_), None) => return Err("\"prompt\" must be a string".into()),
        (None, Some(messages)) => PromptContent::Messages(parse_messages(messages)?),
        (None, None) => return Err("expected \"prompt\" or \"messages\"".into()),
    };
    let max_tokens = match value.get("max_tokens") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|&n| (1..=u32::MAX as u64).contains(&n))
                .ok_or("\"max_tokens\" must be a whole number of at least 1")? as u32,
        ),
    };
    Ok(Prompt {
        content,
        max_tokens,
    })
}

fn parse_messages(value: &Value) -> Result<Vec<Message>, String> {
    const SHAPE: &str =
        "\"messages\" must be a non-empty list of {\"role\": \"...\", \"content\": \"...\"}";
    let list = value.as_array().filter(|l| !l.is_empty()).ok_or(SHAPE)?;
    list.iter()
        .map(|m| {
            let role = m.get("role").and_then(Value::as_str);
            let content = m.get("content").and_then(Value::as_str);
            match (role, content) {
                (Some(role), Some(content)) => Ok(Message {
                    role: role.to_string(),
                    content: content.to_string(),
                }),
                _ => Err(SHAPE.to_string()),
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct Conversation {
    #[serde(default)]
    conversations: Vec<Turn>,
}

#[derive(Deserialize)]
struct Turn {
    #[serde(default)]
    from: String,
    #[serde(default)]
    value: String,
}

/// ShareGPT JSON: an array of `{"conversations": [{"from": "human", "value": ...}, {"from":
/// "gpt", "value": ...}, ...]}`. As vLLM's benchmark does: conversations with fewer than two
/// turns are skipped; the first human turn is the prompt and the first reply after it sets
/// `max_tokens` (its length, words × 1.3). Conversations lacking either are skipped too.
pub fn load_sharegpt(path: &Path) -> Result<Vec<Prompt>, String> {
    let text = read(path)?;
    let conversations: Vec<Conversation> = serde_json::from_str(&text).map_err(|e| {
        let what = if e.is_data() {
            format!("not ShareGPT ({})", bare(&e))
        } else {
            format!("not JSON ({})", bare(&e))
        };
        format!("{}:{}: {what}", path.display(), e.line())
    })?;
    let human = |t: &Turn| matches!(t.from.as_str(), "human" | "user");
    let reply = |t: &Turn| matches!(t.from.as_str(), "gpt" | "assistant" | "chatgpt" | "bard");
    Ok(conversations
        .iter()
        .filter(|c| c.conversations.len() >= 2)
        .filter_map(|c| {
            let turns = &c.conversations;
            let first = turns.iter().position(human)?;
            let answer = turns[first + 1..].iter().find(|t| reply(t))?;
            let prompt = &turns[first].value;
            if prompt.trim().is_empty() {
                return None;
            }
            let words = answer.value.split_whitespace().count();
            Some(Prompt {
                content: PromptContent::Text(prompt.clone()),
                max_tokens: Some(estimate_tokens(words).clamp(1, u32::MAX as u64) as u32),
            })
        })
        .collect())
}
