//! Key input: the few keys the dashboard knows, mapped from crossterm key events.
//!
//! [`App`](super::app::App) only ever sees [`KeyInput`], so its tests need no terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// A key press the dashboard reacts to (anything else is [`KeyInput::Other`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyInput {
    /// A printable character, letters lower-cased (`P` acts as `p`).
    Char(char),
    /// The space bar.
    Space,
    Esc,
    Tab,
    Enter,
    /// Ctrl-C (raw mode delivers it as a key, not as SIGINT).
    CtrlC,
    /// Any other key: it still counts as "any key" once the run is done.
    Other,
}

/// Maps a crossterm key event; `None` for key releases (reported by terminals with the kitty
/// protocol) so one press acts once.
pub fn from_crossterm(event: &KeyEvent) -> Option<KeyInput> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
    let key = match event.code {
        KeyCode::Char(c) if ctrl && c.eq_ignore_ascii_case(&'c') => KeyInput::CtrlC,
        KeyCode::Char(_) if ctrl => KeyInput::Other,
        KeyCode::Char(' ') => KeyInput::Space,
        KeyCode::Char(c) => KeyInput::Char(c.to_ascii_lowercase()),
        KeyCode::Esc => KeyInput::Esc,
        KeyCode::Tab | KeyCode::BackTab => KeyInput::Tab,
        KeyCode::Enter => KeyInput::Enter,
        _ => KeyInput::Other,
    };
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn maps_keys() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            from_crossterm(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(KeyInput::CtrlC)
        );
        assert_eq!(
            from_crossterm(&press(KeyCode::Char('x'), KeyModifiers::CONTROL)),
            Some(KeyInput::Other)
        );
        assert_eq!(
            from_crossterm(&press(KeyCode::Char('P'), KeyModifiers::SHIFT)),
            Some(KeyInput::Char('p'))
        );
        assert_eq!(
            from_crossterm(&press(KeyCode::Char(' '), none)),
            Some(KeyInput::Space)
        );
        assert_eq!(
            from_crossterm(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(KeyInput::Char('?'))
        );
        assert_eq!(
            from_crossterm(&press(KeyCode::Tab, none)),
            Some(KeyInput::Tab)
        );
        assert_eq!(
            from_crossterm(&press(KeyCode::Esc, none)),
            Some(KeyInput::Esc)
        );
        assert_eq!(
            from_crossterm(&press(KeyCode::F(1), none)),
            Some(KeyInput::Other)
        );
        let mut release = press(KeyCode::Char('q'), none);
        release.kind = KeyEventKind::Release;
        assert_eq!(from_crossterm(&release), None);
    }
}
