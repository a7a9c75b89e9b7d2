//! Engine colours: parsed from config (`"red"`, `"#1f77b4"`), defaulted from a palette, and
//! mapped to the 16 ANSI colours for terminals without true colour.

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Defaults by engine position: red and green first (the original two-engine setup), then the
/// Okabe–Ito colour-blind-safe palette.
pub const PALETTE: [Rgb; 8] = [
    Rgb(0xD6, 0x27, 0x28), // red
    Rgb(0x2C, 0xA0, 0x2C), // green
    Rgb(0x00, 0x72, 0xB2), // blue
    Rgb(0xE6, 0x9F, 0x00), // orange
    Rgb(0xCC, 0x79, 0xA7), // reddish purple
    Rgb(0x56, 0xB4, 0xE9), // sky blue
    Rgb(0xD5, 0x5E, 0x00), // vermillion
    Rgb(0xF0, 0xE4, 0x42), // yellow
];

const NAMED: [(&str, Rgb); 10] = [
    ("red", PALETTE[0]),
    ("green", PALETTE[1]),
    ("blue", PALETTE[2]),
    ("orange", PALETTE[3]),
    ("purple", PALETTE[4]),
    ("cyan", PALETTE[5]),
    ("vermillion", PALETTE[6]),
    ("yellow", PALETTE[7]),
    ("magenta", Rgb(0xC0, 0x30, 0xC0)),
    ("gray", Rgb(0x80, 0x80, 0x80)),
];

impl Rgb {
    /// Parses `#rrggbb` or one of the names above (case-insensitive).
    pub fn parse(text: &str) -> Option<Rgb> {
        let text = text.trim();
        if let Some(hex) = text.strip_prefix('#') {
            if hex.len() != 6 || !hex.is_ascii() {
                return None;
            }
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
            return Some(Rgb(byte(0)?, byte(2)?, byte(4)?));
        }
        NAMED
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, rgb)| *rgb)
    }

    /// The default colour of the engine at `position` in the config.
    pub fn default_for(position: usize) -> Rgb {
        PALETTE[position % PALETTE.len()]
    }

    /// Every engine's colour: its configured one; else red for a vLLM-like name and green
    /// for a Friendli-like one (the original comparison chart's convention), when no other
    /// engine has that colour; else the first palette colour no engine has yet. The TUI and
    /// the PNG both use these.
    pub fn for_engines(names: &[&str], configured: &[Option<Rgb>]) -> Vec<Rgb> {
        let mut colors: Vec<Option<Rgb>> = (0..names.len())
            .map(|i| configured.get(i).copied().flatten())
            .collect();
        for (i, name) in names.iter().enumerate() {
            let name = name.to_ascii_lowercase();
            let by_name = if name.contains("vllm") {
                Some(PALETTE[0])
            } else if name.contains("friendli") {
                Some(PALETTE[1])
            } else {
                None
            };
            if let Some(color) = by_name {
                if colors[i].is_none() && !colors.contains(&Some(color)) {
                    colors[i] = Some(color);
                }
            }
        }
        (0..names.len())
            .map(|i| match colors[i] {
                Some(color) => color,
                None => {
                    let free = PALETTE
                        .iter()
                        .copied()
                        .find(|c| !colors.contains(&Some(*c)))
                        .unwrap_or(Rgb::default_for(i));
                    colors[i] = Some(free);
                    free
                }
            })
            .collect()
    }

    /// `#rrggbb`.
    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

impl std::fmt::Display for Rgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vllm_is_red_friendli_green_and_the_rest_take_free_palette_colours() {
        let colors =
            |names: &[&str], configured: &[Option<Rgb>]| Rgb::for_engines(names, configured);
        let (red, green, blue) = (PALETTE[0], PALETTE[1], PALETTE[2]);
        assert_eq!(colors(&["SGLang", "vLLM"], &[]), [green, red]);
        assert_eq!(colors(&["Friendli Engine", "vLLM 0.32"], &[]), [green, red]);
        assert_eq!(
            colors(&["A", "B", "C"], &[]),
            [red, green, blue],
            "positions as before"
        );
        // Two vLLMs: the second takes the next free colour, never the same red.
        assert_eq!(colors(&["vLLM a", "vLLM b"], &[]), [red, green]);
        // Configured colours win, and their colour is not handed out again.
        assert_eq!(colors(&["vLLM", "x"], &[Some(blue), None]), [blue, red]);
        assert_eq!(colors(&["x", "vLLM"], &[Some(red), None]), [red, green]);
        // More engines than colours: positions again.
        let many: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(colors(&names, &[])[9], Rgb::default_for(9));
    }

    #[test]
    fn parses_hex_and_names() {
        assert_eq!(Rgb::parse("#0072b2"), Some(Rgb(0, 0x72, 0xB2)));
        assert_eq!(Rgb::parse("Red"), Some(PALETTE[0]));
        assert_eq!(Rgb::parse("#12345"), None);
        assert_eq!(Rgb::parse("#zz0000"), None);
        assert_eq!(Rgb::parse("chartreuse"), None);
        assert_eq!(Rgb::parse("#ééé"), None);
        assert_eq!(Rgb::default_for(9), PALETTE[1]);
        assert_eq!(PALETTE[2].to_hex(), "#0072b2");
    }
}
