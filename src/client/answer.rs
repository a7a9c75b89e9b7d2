//! A streamed answer's text, for conversations: each chunk's choice-0 `delta.content` (chat)
//! or `text` (completions), escapes decoded, appended to the answer so far. Reasoning is
//! left out, as a chat client leaves it out of the history it sends back. Only conversations
//! call this, after the chunk was stamped and parsed; the measuring path never does.

use serde::Deserialize;

/// The parts of a chunk that carry answer text, borrowed where no escape needs decoding.
#[derive(Deserialize)]
struct TextChunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<TextChoice<'a>>,
}

#[derive(Deserialize)]
struct TextChoice<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    delta: Option<TextDelta<'a>>,
    #[serde(default, borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TextDelta<'a> {
    #[serde(default, borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
}

/// Appends the answer text of one `data:` payload to `out`; a payload that is not such a
/// chunk adds nothing.
pub fn answer_text(data: &[u8], out: &mut String) {
    let Ok(chunk) = serde_json::from_slice::<TextChunk>(data.trim_ascii()) else {
        return;
    };
    for choice in chunk.choices.iter().filter(|c| c.index == 0) {
        if let Some(text) = choice.delta.as_ref().and_then(|d| d.content.as_deref()) {
            out.push_str(text);
        }
        if let Some(text) = choice.text.as_deref() {
            out.push_str(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_text_is_choice_zeros_content_or_text_without_reasoning() {
        let mut out = String::new();
        answer_text(
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#.as_bytes(),
            &mut out,
        );
        answer_text(
            r#"{"choices":[{"index":0,"delta":{"content":"Hi \"you\"\n"}}]}"#.as_bytes(),
            &mut out,
        );
        answer_text(
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}"#.as_bytes(),
            &mut out,
        );
        answer_text(
            r#"{"choices":[{"index":1,"delta":{"content":"other choice"}}]}"#.as_bytes(),
            &mut out,
        );
        answer_text(
            r#"{"choices":[{"index":0,"text":" and é"}]}"#.as_bytes(),
            &mut out,
        );
        answer_text("[DONE]".as_bytes(), &mut out);
        answer_text(
            r#"{"choices":[],"usage":{"completion_tokens":3}}"#.as_bytes(),
            &mut out,
        );
        assert_eq!(out, "Hi \"you\"\n and é");
    }
}
