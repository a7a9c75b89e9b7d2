//! Multi-turn conversations (`[prompts] conversations`): each conversation is a list of user
//! turns, sent one after another by the slot that holds it, each with the whole history — the
//! system prompt, every earlier user turn and the model's own answers to them — as a chat
//! client sends it. The answers are the engine's, so only the user side is fixed here; every
//! engine gets the same user turns for conversation k of a level.
//!
//! - `synthetic`: `count` conversations of exactly `turns` user turns, each `input_tokens`
//!   long with `output_tokens` as its `max_tokens`; with `prefix_tokens`, conversation i
//!   starts with shared system prompt i mod `prefixes`.
//! - `sharegpt`: each record's human turns in order (at most `turns`), each turn's
//!   `max_tokens` the length of the reply after it in the file (words × 1.3; the request's
//!   `max_tokens` when the file has none); a `system` turn becomes the system prompt. The
//!   file's replies are never sent: the model's own are.

use std::path::Path;

use serde::Deserialize;

use super::files::{bare, read_text};
use super::synthetic;
use super::{estimate_tokens, Message, Prompt, PromptContent};
use crate::config::{ConversationsConfig, SyntheticConfig};

/// One user turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTurn {
    pub text: String,
    /// `max_tokens` of this turn's request; `None` = `[request] max_tokens`.
    pub max_tokens: Option<u32>,
}

/// One conversation's fixed part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub system: Option<String>,
    /// At least one.
    pub turns: Vec<UserTurn>,
}

impl Conversation {
    /// The prompt of turn `turn` (0-based) after `answers` (the model's answers to turns
    /// `0..turn`, in order): the system prompt, the history, then this turn's user message.
    /// Turn 0 without a system prompt is a plain text, as any single-prompt workload.
    pub fn prompt(&self, turn: usize, answers: &[String]) -> Prompt {
        let user = &self.turns[turn];
        let content = match (&self.system, turn) {
            (None, 0) => PromptContent::Text(user.text.clone()),
            _ => {
                let mut messages = Vec::with_capacity(2 * turn + 2);
                if let Some(system) = &self.system {
                    messages.push(message("system", system));
                }
                for (asked, answer) in self.turns[..turn].iter().zip(answers) {
                    messages.push(message("user", &asked.text));
                    messages.push(message("assistant", answer));
                }
                messages.push(message("user", &user.text));
                PromptContent::Messages(messages)
            }
        };
        Prompt {
            content,
            max_tokens: user.max_tokens,
        }
    }

    /// Turns, as a u32 (a conversation has far fewer than 4 billion).
    pub fn turn_count(&self) -> u32 {
        self.turns.len().min(u32::MAX as usize) as u32
    }
}

fn message(role: &str, content: &str) -> Message {
    Message {
        role: role.into(),
        content: content.into(),
    }
}

/// `config.count` synthetic conversations of `turns` user turns each.
pub fn synthetic(
    config: &SyntheticConfig,
    turns: u32,
    seed: u64,
) -> Result<Vec<Conversation>, String> {
    let turns = turns.max(1) as usize;
    let parts = synthetic::parts(config, seed, config.count * turns)?;
    let mut own = parts.own.into_iter();
    Ok((0..config.count)
        .map(|i| Conversation {
            system: parts.shared.get(i % parts.shared.len().max(1)).cloned(),
            turns: own
                .by_ref()
                .take(turns)
                .map(|(text, max_tokens)| UserTurn {
                    text,
                    max_tokens: Some(max_tokens),
                })
                .collect(),
        })
        .collect())
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    conversations: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    from: String,
    #[serde(default)]
    value: String,
}

/// A ShareGPT file's conversations: records without a non-empty human turn are skipped.
pub fn sharegpt(path: &Path, config: &ConversationsConfig) -> Result<Vec<Conversation>, String> {
    let text = read_text(path, "prompts")?;
    let records: Vec<Record> = serde_json::from_str(&text).map_err(|e| {
        let what = if e.is_data() {
            "not ShareGPT"
        } else {
            "not JSON"
        };
        format!("{}:{}: {what} ({})", path.display(), e.line(), bare(&e))
    })?;
    let limit = config.turns.map_or(usize::MAX, |t| t as usize);
    Ok(records
        .iter()
        .filter_map(|record| {
            let entries = &record.conversations;
            let system = entries
                .iter()
                .find(|e| e.from == "system" && !e.value.trim().is_empty())
                .map(|e| e.value.clone());
            let turns: Vec<UserTurn> = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| matches!(e.from.as_str(), "human" | "user"))
                .filter(|(_, e)| !e.value.trim().is_empty())
                .take(limit)
                .map(|(at, e)| UserTurn {
                    text: e.value.clone(),
                    max_tokens: entries[at + 1..]
                        .iter()
                        .take_while(|r| !matches!(r.from.as_str(), "human" | "user"))
                        .find(|r| {
                            matches!(r.from.as_str(), "gpt" | "assistant" | "chatgpt" | "bard")
                        })
                        .map(|r| {
                            let words = r.value.split_whitespace().count();
                            estimate_tokens(words).clamp(1, u32::MAX as u64) as u32
                        }),
                })
                .collect();
            (!turns.is_empty()).then_some(Conversation { system, turns })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation() -> Conversation {
        Conversation {
            system: None,
            turns: vec![
                UserTurn {
                    text: "first".into(),
                    max_tokens: Some(4),
                },
                UserTurn {
                    text: "second".into(),
                    max_tokens: None,
                },
            ],
        }
    }

    #[test]
    fn a_turn_sends_the_history_with_the_models_answers() {
        let c = conversation();
        assert_eq!(
            c.prompt(0, &[]),
            Prompt {
                content: PromptContent::Text("first".into()),
                max_tokens: Some(4),
            }
        );
        let second = c.prompt(1, &["an answer".into()]);
        assert_eq!(second.max_tokens, None);
        assert_eq!(
            second.content,
            PromptContent::Messages(vec![
                message("user", "first"),
                message("assistant", "an answer"),
                message("user", "second"),
            ])
        );
        let with_system = Conversation {
            system: Some("be brief".into()),
            ..c
        };
        let PromptContent::Messages(first) = with_system.prompt(0, &[]).content else {
            panic!("a system prompt makes messages");
        };
        assert_eq!(
            first,
            [message("system", "be brief"), message("user", "first")]
        );
        let PromptContent::Messages(second) = with_system.prompt(1, &["a".into()]).content else {
            panic!("messages");
        };
        assert_eq!(second.len(), 4);
        assert_eq!(second[0], message("system", "be brief"));
    }

    #[test]
    fn synthetic_conversations_have_their_turns_and_shared_system_prompts_in_turn() {
        let config = SyntheticConfig {
            input_tokens: 13,
            output_tokens: 7,
            count: 4,
            prefix_tokens: Some(26),
            prefixes: Some(2),
            ..SyntheticConfig::default()
        };
        let chats = synthetic(&config, 3, 9).unwrap();
        assert_eq!(chats.len(), 4);
        assert!(chats.iter().all(|c| c.turns.len() == 3));
        assert!(chats
            .iter()
            .flat_map(|c| &c.turns)
            .all(|t| t.max_tokens == Some(7) && t.text.split_whitespace().count() == 10));
        // Conversations 0 and 2 share a system prompt, 0 and 1 do not.
        assert_eq!(chats[0].system, chats[2].system);
        assert_ne!(chats[0].system, chats[1].system);
        assert_eq!(
            chats[0].system.as_ref().unwrap().split_whitespace().count(),
            20
        );
        // Every user turn is its own text; the same seed gives the same conversations.
        let texts: std::collections::HashSet<&str> = chats
            .iter()
            .flat_map(|c| &c.turns)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(texts.len(), 12);
        assert_eq!(synthetic(&config, 3, 9).unwrap(), chats);
        assert_ne!(synthetic(&config, 3, 10).unwrap(), chats);
    }

    #[test]
    fn sharegpt_records_become_their_human_turns_with_the_replies_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chats.json");
        std::fs::write(
            &path,
            r#"[
              {"conversations": [
                {"from": "system", "value": "be kind"},
                {"from": "human", "value": "one"},
                {"from": "gpt", "value": "a b c d e f g h i j"},
                {"from": "human", "value": "two"},
                {"from": "human", "value": "three"},
                {"from": "gpt", "value": "x"}
              ]},
              {"conversations": [{"from": "gpt", "value": "no question"}]},
              {"conversations": [{"from": "human", "value": "  "}]},
              {"conversations": [{"from": "user", "value": "alone"}]}
            ]"#,
        )
        .unwrap();
        let all = sharegpt(&path, &ConversationsConfig::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].system.as_deref(), Some("be kind"));
        let turns: Vec<(&str, Option<u32>)> = all[0]
            .turns
            .iter()
            .map(|t| (t.text.as_str(), t.max_tokens))
            .collect();
        // "two" has no reply before the next question: the request's max_tokens applies.
        assert_eq!(
            turns,
            [("one", Some(13)), ("two", None), ("three", Some(1))]
        );
        assert_eq!(all[1].turns.len(), 1);
        let cut = sharegpt(
            &path,
            &ConversationsConfig {
                turns: Some(2),
                turn_delay_ms: 0,
            },
        )
        .unwrap();
        assert_eq!(cut[0].turns.len(), 2);
        std::fs::write(&path, r#"{"conversations": []}"#).unwrap();
        let e = sharegpt(&path, &ConversationsConfig::default()).unwrap_err();
        assert!(e.contains("chats.json:1: not ShareGPT"), "{e}");
    }
}
