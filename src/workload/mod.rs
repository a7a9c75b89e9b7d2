//! Workloads: where prompts come from. `[prompts]` names exactly one source — an inline
//! `pool`, a JSONL `file`, a `sharegpt` JSON file, `synthetic` lengths, or a `trace` to replay —
//! and [`load`] turns it into a list of [`Prompt`]s (and, for a trace, their arrival times),
//! once, before the run. `cache` turns prefix caching across requests off (`cache`). The plan serialises one request body
//! per (engine, prompt) from these; the driver picks prompts by a seeded hash of (level,
//! request), so every engine gets the identical sequence.
//!
//! Lengths are estimated, not tokenised: tokens ≈ words × 1.3 ([`estimate_tokens`]), the same
//! rule the simulator uses. (Exact counts would need a `tokenizer.json` and the `tokenizers`
//! crate, which roughly doubles the dependency tree; left out on purpose.)

pub mod cache;
pub mod conversations;
pub mod files;
pub mod synthetic;
pub mod trace;

use serde::Serialize;

pub use conversations::Conversation;

use crate::config::PromptsConfig;

/// Tokens per word, for every length estimate.
pub const TOKENS_PER_WORD: f64 = 1.3;

/// Estimated tokens of `words` words.
pub fn estimate_tokens(words: usize) -> u64 {
    (words as f64 * TOKENS_PER_WORD).round() as u64
}

/// One chat message of a `messages`-shaped prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// What is sent: a plain text (a single user message on the chat API) or whole messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptContent {
    Text(String),
    Messages(Vec<Message>),
}

/// One prompt of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub content: PromptContent,
    /// `max_tokens` for this prompt; `None` = `[request] max_tokens`.
    pub max_tokens: Option<u32>,
}

impl Prompt {
    pub fn text(text: impl Into<String>) -> Prompt {
        Prompt {
            content: PromptContent::Text(text.into()),
            max_tokens: None,
        }
    }

    /// The prompt as one text: messages' contents joined by blank lines (the completions API).
    pub fn joined_text(&self) -> String {
        match &self.content {
            PromptContent::Text(text) => text.clone(),
            PromptContent::Messages(messages) => messages
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n\n"),
        }
    }

    /// Whitespace-separated words over every message.
    pub fn words(&self) -> usize {
        match &self.content {
            PromptContent::Text(text) => text.split_whitespace().count(),
            PromptContent::Messages(messages) => messages
                .iter()
                .map(|m| m.content.split_whitespace().count())
                .sum(),
        }
    }
}

/// The loaded source.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompts {
    pub prompts: Vec<Prompt>,
    /// Human description for results, e.g. `file prompts.jsonl (1,000 prompts)`.
    pub source: String,
    /// A trace's arrival times, per prompt, from its first line's (at speed 1).
    pub schedule: Option<Vec<std::time::Duration>>,
    /// `[prompts] conversations`: the conversations, one per prompt (which is its first turn).
    pub conversations: Option<Vec<Conversation>>,
}

/// Loads the configured source. `seed` seeds synthetic prompts. Errors are one line naming
/// the file (and the line, for a bad line).
pub fn load(config: &PromptsConfig, seed: u64) -> Result<Prompts, String> {
    let mut schedule = None;
    let mut chats = None;
    let (mut prompts, what) = if let Some(turns) = config.conversations {
        let (list, what) = match (&config.synthetic, &config.sharegpt) {
            (Some(syn), _) => {
                let n = turns.turns.unwrap_or(1);
                let list = conversations::synthetic(syn, n, seed)?;
                let shared = match syn.shared_prefix() {
                    Some((count, tokens)) => format!(", {count} shared system prompts of {tokens}"),
                    None => String::new(),
                };
                let what = format!(
                    "synthetic conversations of {n} turns{shared}, {} input / {} output tokens a turn",
                    syn.input_tokens, syn.output_tokens
                );
                (list, what)
            }
            (None, Some(path)) => {
                let list = conversations::sharegpt(path, &turns)?;
                (list, format!("sharegpt {} conversations", path.display()))
            }
            (None, None) => {
                return Err(
                    "`prompts.conversations` needs `synthetic` or `sharegpt` prompts".into(),
                )
            }
        };
        let firsts = list.iter().map(|c| c.prompt(0, &[])).collect();
        chats = Some(list);
        (firsts, what)
    } else if let Some(path) = &config.trace {
        let trace = trace::load(path, seed, config.limit)?;
        let span = trace.schedule.last().copied().unwrap_or_default();
        let what = format!(
            "trace {} over {:.1} s, {} distinct {}-token blocks",
            path.display(),
            span.as_secs_f64(),
            thousands(trace.blocks as u64),
            trace::BLOCK_TOKENS
        );
        schedule = Some(trace.schedule);
        (trace.prompts, what)
    } else if let Some(path) = &config.file {
        let prompts = files::load_jsonl(path)?;
        (prompts, format!("file {}", path.display()))
    } else if let Some(path) = &config.sharegpt {
        let prompts = files::load_sharegpt(path)?;
        (prompts, format!("sharegpt {}", path.display()))
    } else if let Some(syn) = &config.synthetic {
        let prompts = synthetic::generate(syn, seed)?;
        let range = if syn.range_ratio > 0.0 {
            format!(" ±{}%", (syn.range_ratio * 100.0).round())
        } else {
            String::new()
        };
        let how = match &syn.tokenizer {
            Some(path) => format!(", exact by {}", path.display()),
            None => String::new(),
        };
        let shared = match syn.shared_prefix() {
            Some((count, tokens)) => format!("{count} shared prefixes of {tokens} + "),
            None => String::new(),
        };
        let what = format!(
            "synthetic {shared}{}{range} input / {}{range} output tokens{how}",
            syn.input_tokens, syn.output_tokens
        );
        (prompts, what)
    } else {
        let pool = config.pool_or_default();
        (
            pool.into_iter().map(Prompt::text).collect(),
            "inline pool".to_string(),
        )
    };
    if let Some(limit) = config.limit {
        prompts.truncate(limit);
        if let Some(schedule) = &mut schedule {
            schedule.truncate(limit);
        }
        if let Some(chats) = &mut chats {
            chats.truncate(limit);
        }
    }
    if prompts.is_empty() {
        return Err(format!("{what}: no prompts"));
    }
    let source = format!("{what} ({} prompts)", thousands(prompts.len() as u64));
    let source = match &chats {
        Some(list) => {
            let turns: usize = list.iter().map(|c| c.turns.len()).sum();
            format!(
                "{what} ({} conversations, {} turns)",
                thousands(list.len() as u64),
                thousands(turns as u64)
            )
        }
        None => source,
    };
    Ok(Prompts {
        prompts,
        source,
        schedule,
        conversations: chats,
    })
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn messages_join_and_count() {
        let p = Prompt {
            content: PromptContent::Messages(vec![
                Message {
                    role: "system".into(),
                    content: "be brief".into(),
                },
                Message {
                    role: "user".into(),
                    content: "hello there you".into(),
                },
            ]),
            max_tokens: None,
        };
        assert_eq!(p.joined_text(), "be brief\n\nhello there you");
        assert_eq!(p.words(), 5);
        assert_eq!(estimate_tokens(5), 7);
    }
}
