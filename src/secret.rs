//! A redacting newtype for API keys: its `Debug` and `Display` never show the key.

/// An API key read from the environment. Only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(key: String) -> Secret {
        Secret(key)
    }

    /// The key itself, for the Authorization header and for redacting it from messages.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl Secret {
    /// [`Secret::redact`] for text cut at an arbitrary byte (an error body read up to a
    /// limit): a key straddling the cut leaves its first part at the end, which `redact`
    /// cannot match, so a tail of four or more characters that starts the key is masked too.
    pub fn redact_cut(&self, text: &str) -> String {
        let mut out = self.redact(text);
        if self.0.is_empty() {
            return out;
        }
        let longest = (1..self.0.len())
            .rev()
            .filter(|&n| n >= 4 && self.0.is_char_boundary(n))
            .find(|&n| out.ends_with(&self.0[..n]));
        if let Some(n) = longest {
            out.truncate(out.len() - n);
            out.push_str("***");
        }
        out
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_key() {
        let s = Secret::new("sk-abc123".into());
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.redact("Bearer sk-abc123 bad"), "Bearer *** bad");
    }

    #[test]
    fn a_key_cut_at_the_end_of_a_cut_text_is_masked_too() {
        let s = Secret::new("sk-abcdef123456".into());
        assert_eq!(
            s.redact_cut("bad key sk-abcdef123456, see sk-abcd"),
            "bad key ***, see ***"
        );
        assert_eq!(
            s.redact_cut("echo: sk-abcdef12345"),
            "echo: ***",
            "all but the last byte"
        );
        // Three characters say nothing of the key (and would mask ordinary text).
        assert_eq!(s.redact_cut("ends in sk-"), "ends in sk-");
        assert_eq!(s.redact_cut("no key here"), "no key here");
        assert_eq!(Secret::new(String::new()).redact_cut("sk-abcd"), "sk-abcd");
    }
}
