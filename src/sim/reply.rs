//! One reply's token counts, and the `usage` object that reports them.

/// How one reply's tokens split: prompt (and its cached part), output (and its reasoning
/// part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reply {
    /// Prompt tokens.
    pub(crate) prompt: u32,
    /// Output tokens in all, reasoning included (≥ 1).
    pub(crate) total: u32,
    /// The first `reasoning` output tokens are reasoning (≤ `total`); 0 = none.
    pub(crate) reasoning: u32,
    /// Prompt tokens the prefix cache held; `None` when no prefix cache is modelled (then
    /// usage has no `prompt_tokens_details`, as vLLM without `--enable-prompt-tokens-details`).
    pub(crate) cached: Option<u32>,
}

impl Reply {
    /// The `usage` object, as JSON text: vLLM's counts, `prompt_tokens_details.cached_tokens`
    /// with a prefix cache, and `completion_tokens_details.reasoning_tokens` (OpenAI's shape)
    /// when the reply reasons.
    pub(crate) fn usage_json(&self) -> String {
        let (prompt, completion) = (self.prompt, self.total);
        let total = u64::from(prompt) + u64::from(completion);
        let mut json = format!(
            "{{\"prompt_tokens\":{prompt},\"total_tokens\":{total},\"completion_tokens\":{completion}"
        );
        if let Some(cached) = self.cached {
            json.push_str(&format!(
                ",\"prompt_tokens_details\":{{\"cached_tokens\":{cached}}}"
            ));
        }
        if self.reasoning > 0 {
            json.push_str(&format!(
                ",\"completion_tokens_details\":{{\"reasoning_tokens\":{}}}",
                self.reasoning
            ));
        }
        json.push('}');
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_has_the_details_only_when_there_are_some() {
        let plain = Reply {
            prompt: 13,
            total: 32,
            reasoning: 0,
            cached: None,
        };
        assert_eq!(
            plain.usage_json(),
            r#"{"prompt_tokens":13,"total_tokens":45,"completion_tokens":32}"#
        );
        let thinking = Reply {
            reasoning: 20,
            cached: Some(0),
            ..plain
        };
        assert_eq!(
            thinking.usage_json(),
            r#"{"prompt_tokens":13,"total_tokens":45,"completion_tokens":32,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":20}}"#
        );
    }
}
