//! Engine colours on terminals without true colour: an sRGB colour mapped to the nearest of the
//! 16 ANSI colours.
//!
//! "Nearest" is by hue for coloured inputs (Euclidean RGB distance would send the palette's
//! purple to dark grey, as terminal ANSI colours are fully saturated), then normal or light by
//! lightness; greys map to grey shades, never to black or white, which vanish on one background
//! or the other.

use ratatui::style::Color;

use crate::color::Rgb;

/// The ANSI colour closest to `rgb`.
pub fn ansi16(rgb: Rgb) -> Color {
    let (r, g, b) = (
        f64::from(rgb.0) / 255.0,
        f64::from(rgb.1) / 255.0,
        f64::from(rgb.2) / 255.0,
    );
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    let lightness = (max + min) / 2.0;
    if chroma < 0.15 {
        return if lightness < 0.6 {
            Color::DarkGray
        } else {
            Color::Gray
        };
    }
    let hue = if max == r {
        60.0 * ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / chroma + 2.0)
    } else {
        60.0 * ((r - g) / chroma + 4.0)
    };
    // Six ANSI hues, 60° apart, starting at red.
    let sector = ((hue / 60.0).round() as usize) % 6;
    // ANSI has no orange: oranges (30°–60°) go to yellow, and orange-reds (15°–30°, the
    // palette's vermillion) to light red, so they stay apart from red itself.
    let orange_red = (15.0..30.0).contains(&hue);
    let light = lightness >= 0.58 || orange_red;
    match (sector, light) {
        (0, false) => Color::Red,
        (0, true) => Color::LightRed,
        (1, false) => Color::Yellow,
        (1, true) => Color::LightYellow,
        (2, false) => Color::Green,
        (2, true) => Color::LightGreen,
        (3, false) => Color::Cyan,
        (3, true) => Color::LightCyan,
        (4, false) => Color::Blue,
        (4, true) => Color::LightBlue,
        (_, false) => Color::Magenta,
        (_, true) => Color::LightMagenta,
    }
}

/// The ANSI colour of a `#rrggbb` (or named) config colour; white when it does not parse.
pub fn ansi16_hex(text: &str) -> Color {
    Rgb::parse(text).map_or(Color::White, ansi16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::PALETTE;

    #[test]
    fn maps_palette_to_distinct_ansi_colours() {
        let got: Vec<Color> = PALETTE.iter().map(|&c| ansi16(c)).collect();
        assert_eq!(
            got,
            vec![
                Color::Red,
                Color::Green,
                Color::Cyan,
                Color::Yellow,
                Color::LightMagenta,
                Color::LightCyan,
                Color::LightRed,
                Color::LightYellow,
            ]
        );
        // Eight default engines, eight colours on a 16-colour terminal.
        let distinct: std::collections::HashSet<Color> = got.iter().copied().collect();
        assert_eq!(distinct.len(), PALETTE.len(), "{got:?}");
        assert_eq!(ansi16(Rgb(0, 0, 255)), Color::Blue);
        assert_eq!(ansi16(Rgb(0x80, 0x80, 0x80)), Color::DarkGray);
        assert_eq!(ansi16(Rgb(0xC0, 0x30, 0xC0)), Color::Magenta);
        assert_eq!(ansi16(Rgb(0, 0, 0)), Color::DarkGray);
        assert_eq!(ansi16(Rgb(255, 255, 255)), Color::Gray);
        assert_eq!(ansi16_hex("red"), Color::Red);
        assert_eq!(ansi16_hex("nonsense"), Color::White);
    }
}
