//! The live terminal dashboard: watches the sweep through the event bus and sends the user's
//! keys back as [`Control`]s. It never touches driver state.
//!
//! - `app`      — all dashboard state and its pure `update(Msg) -> Vec<Control>`.
//! - `state`    — the types it holds: messages, views, status, per-engine and per-level state.
//! - `view`     — `impl Widget for &App`: the layout, from 80×24 up; a file per part of the
//!   screen (header, engine panels, tables, detail, footer, help).
//! - `keys`     — crossterm key events → [`KeyInput`].
//! - `history`  — bounded per-engine snapshot history behind the sparklines.
//! - `terminal` — raw mode / alternate screen guard, panic hook, [`restore_terminal`].
//! - `ansi`     — engine colours → the 16 ANSI colours.
//! - `format`   — compact numbers (`1.23k`, `45.6 ms`).
//! - `labels`   — [`labels::engine_labels`]: engine names that still differ in a narrow column.
//! - `summary`  — [`summary_table`], the plain-text table printed after the dashboard closes.
//! - this file  — [`run`], the async loop tying the bus, the keyboard and the screen together.

pub mod ansi;
pub mod app;
pub mod format;
pub mod history;
pub mod keys;
pub mod labels;
pub mod state;
pub mod summary;
pub mod terminal;
pub mod view;

use std::io;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Receiver, Sender};
use tokio::time::MissedTickBehavior;

use crate::events::{Control, Event};
use terminal::TtyWriter;

pub use app::{App, Msg, Status, View};
pub use keys::KeyInput;
pub use summary::summary_table;
pub use terminal::restore_terminal;

/// How the dashboard behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TuiOptions {
    /// Close as soon as `RunFinished` arrives instead of waiting for a key.
    pub exit_on_finish: bool,
}

/// Redraws at most this often (and only when something changed).
const FRAME: Duration = Duration::from_millis(100);

/// Runs the dashboard until the user closes it after the run, or until the events channel
/// closes (after `RunFinished`, or early if the driver went away).
///
/// Keys become [`Control`]s on `control`, except Ctrl-C, which raises SIGINT (see
/// `interrupt_self`): the caller must handle SIGINT. If the terminal stops accepting writes (an SSH session
/// dropped), drawing stops and events are drained until the channel closes, so the driver can
/// finish writing results. The terminal is restored on every return path and on panic.
pub async fn run(
    mut events: Receiver<Event>,
    control: Sender<Control>,
    opts: TuiOptions,
) -> anyhow::Result<()> {
    let _guard = terminal::enter()?;
    let mut screen = Screen(
        match Terminal::new(CrosstermBackend::new(TtyWriter::stdout())) {
            Ok(screen) => Some(screen),
            Err(_) => {
                terminal::restore_terminal();
                None
            }
        },
    );
    let screen = &mut screen.0;
    let mut app = App::new(opts);
    let mut input = EventStream::new();
    let mut input_open = true;
    let mut frames = tokio::time::interval(FRAME);
    frames.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let clock = Instant::now();

    let mut events_open = true;
    draw(screen, &mut app);
    loop {
        if app.should_exit() {
            break;
        }
        // Once nothing more can come: stay only to show the final table until a key.
        let showing_final = app.is_finished() && screen.is_some() && input_open;
        if !events_open && !showing_final {
            break;
        }
        tokio::select! {
            event = events.recv(), if events_open => match event {
                Some(event) => {
                    app.update(Msg::Event(event));
                }
                None => events_open = false,
            },
            term = input.next(), if input_open && screen.is_some() => {
                input_open = on_terminal_event(term, screen, &mut app, &control);
            }
            _ = frames.tick() => {
                app.update(Msg::Tick { now_ms: clock.elapsed().as_millis() as u64 });
                if app.is_dirty() {
                    draw(screen, &mut app);
                }
            }
        }
    }
    // The screen (declared after the guard) is dropped first, then the guard restores.
    Ok(())
}

/// The dashboard's terminal. Dropping it (at the end of [`run`], or when a signal drops the
/// dashboard's future mid-frame) shows the cursor through [`TtyWriter`] first, so ratatui's
/// own drop never meets the terminal's first write error: it `eprintln!`s that, which panics
/// when stderr is the same dead terminal (an SSH drop), and the run would end unwritten.
struct Screen(Option<Terminal<CrosstermBackend<TtyWriter>>>);

impl Drop for Screen {
    fn drop(&mut self) {
        if let Some(terminal) = &mut self.0 {
            let _ = terminal.show_cursor();
        }
    }
}

/// Handles one terminal event; returns false once the input stream is gone.
fn on_terminal_event(
    term: Option<io::Result<TermEvent>>,
    screen: &mut Option<Terminal<CrosstermBackend<TtyWriter>>>,
    app: &mut App,
    control: &Sender<Control>,
) -> bool {
    match term {
        Some(Ok(TermEvent::Key(key))) => {
            if let Some(key) = keys::from_crossterm(&key) {
                for c in app.update(Msg::Key(key)) {
                    send_control(control, c);
                }
                if app.take_interrupt() && interrupt_self().is_err() {
                    // Cannot happen for our own pid; still stop the run if it did.
                    send_control(control, Control::Abort);
                }
            }
            true
        }
        Some(Ok(TermEvent::Resize(_, _))) => {
            app.update(Msg::Resize);
            draw(screen, app);
            true
        }
        Some(Ok(_)) => true,
        Some(Err(_)) | None => false,
    }
}

/// Sends SIGINT to this process, as Ctrl-C does on a cooked terminal: the caller's SIGINT
/// handling then applies (for `llmsweep run`: results written, status `interrupted`, exit 130,
/// the dashboard closed at once). So [`run`] needs a SIGINT handler installed by its caller;
/// without one the default action ends the process.
fn interrupt_self() -> io::Result<()> {
    // SAFETY: kill(2) with our own pid and a valid signal number; no memory is shared.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends without blocking the UI; a full channel hands the control to a task.
fn send_control(control: &Sender<Control>, c: Control) {
    match control.try_send(c) {
        Ok(()) | Err(TrySendError::Closed(_)) => {}
        Err(TrySendError::Full(c)) => {
            let control = control.clone();
            tokio::spawn(async move {
                let _ = control.send(c).await;
            });
        }
    }
}

/// Draws a frame; on a write error gives the terminal up for the rest of the run.
fn draw(screen: &mut Option<Terminal<CrosstermBackend<TtyWriter>>>, app: &mut App) {
    let Some(terminal) = screen.as_mut() else {
        return;
    };
    if terminal
        .draw(|frame| frame.render_widget(&*app, frame.area()))
        .is_err()
    {
        *screen = None;
        terminal::restore_terminal();
    }
    app.clear_dirty();
}
