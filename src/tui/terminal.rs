//! Terminal setup and guaranteed teardown: raw mode, alternate screen and hidden cursor on
//! entry; restored on drop, on panic (a hook installed once) and from the signal path.
//!
//! Restoring is idempotent: only the first restore after an [`enter`] writes anything, so the
//! guard, the panic hook and [`restore_terminal`] may all run.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};

/// True between [`enter`] and the first restore.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// Restores the terminal when dropped.
#[derive(Debug)]
#[must_use = "the terminal is restored when the guard drops"]
pub struct TerminalGuard {
    _private: (),
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Enters raw mode and the alternate screen and hides the cursor; installs the panic hook on
/// first use. On error the terminal is restored before returning.
pub fn enter() -> io::Result<TerminalGuard> {
    install_panic_hook();
    ACTIVE.store(true, Ordering::SeqCst);
    let guard = TerminalGuard { _private: () };
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, Hide)?;
    Ok(guard)
}

/// Leaves the alternate screen, shows the cursor and disables raw mode, ignoring errors (the
/// terminal may be gone). Does nothing unless the terminal was entered and not yet restored.
pub fn restore_terminal() {
    restore_to(&mut io::stdout());
}

/// [`restore_terminal`] writing to `out`; true when it restored (wrote) anything.
fn restore_to(out: &mut impl Write) -> bool {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return false;
    }
    let _ = execute!(out, LeaveAlternateScreen, Show);
    let _ = out.flush();
    let _ = disable_raw_mode();
    true
}

/// Standard output that turns into a sink after its first error.
///
/// The first failed write or flush returns the error (so a draw reports it); later ones succeed
/// without writing. ratatui's `Terminal` shows the cursor when dropped and `eprintln!`s on
/// failure, which panics when stderr is the same dead terminal: with this writer it never fails
/// twice.
#[derive(Debug)]
pub struct TtyWriter {
    out: io::Stdout,
    broken: bool,
}

impl TtyWriter {
    pub fn stdout() -> TtyWriter {
        TtyWriter {
            out: io::stdout(),
            broken: false,
        }
    }

    /// True once a write or flush failed.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn check<T>(&mut self, result: io::Result<T>, ok: T) -> io::Result<T> {
        if self.broken {
            return Ok(ok);
        }
        result.inspect_err(|_| self.broken = true)
    }
}

impl Write for TtyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.broken {
            return Ok(buf.len());
        }
        let result = self.out.write(buf);
        self.check(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.broken {
            return Ok(());
        }
        let result = self.out.flush();
        self.check(result, ())
    }
}

/// True while the dashboard owns the terminal.
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Chains a hook that restores the terminal before the previous hook prints the panic.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// `ACTIVE` is process-wide: these tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    /// Leave the alternate screen (`CSI ? 1049 l`), then show the cursor (`CSI ? 25 h`).
    const RESTORE_BYTES: &[u8] = b"\x1b[?1049l\x1b[?25h";

    #[test]
    fn restore_without_enter_writes_nothing() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        ACTIVE.store(false, Ordering::SeqCst);
        let mut out = Vec::new();
        assert!(!restore_to(&mut out));
        assert!(out.is_empty(), "{out:?}");
        assert!(!is_active());
    }

    #[test]
    fn restore_after_enter_leaves_the_alternate_screen_once() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // What `enter` records, without touching the test's own terminal.
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = Vec::new();
        assert!(restore_to(&mut out));
        assert_eq!(out, RESTORE_BYTES);
        assert!(!is_active());
        // The guard, the panic hook and the signal path may all restore: only the first writes.
        assert!(!restore_to(&mut out));
        assert_eq!(out, RESTORE_BYTES);
    }
}
