//! How tables mark a level whose client timings are suspect (`client_state` not `fine`): the
//! words every table uses (summary.md, the dashboard, the headless lines and final table) and
//! summary.md's sentence explaining the ones a run has.

use crate::results::host::ClientState;
use crate::results::model::Report;

/// The mark a level's status gets: `host busy` (starved: the box was busy and the client ran
/// late), `client busy` (llmsweep itself may have been the limit), `client late` (its loop ran
/// late for a reason it cannot see); `None` when fine.
pub fn client_mark(state: ClientState) -> Option<&'static str> {
    match state {
        ClientState::Fine => None,
        ClientState::Starved => Some("host busy"),
        ClientState::Busy => Some("client busy"),
        ClientState::Late => Some("client late"),
    }
}

/// [`client_mark`] for a narrow column: `busy` (host busy), `client`, `late`.
pub fn client_mark_short(state: ClientState) -> Option<&'static str> {
    match state {
        ClientState::Fine => None,
        ClientState::Starved => Some("busy"),
        ClientState::Busy => Some("client"),
        ClientState::Late => Some("late"),
    }
}

/// What each mark means, for the states some level of `report` has (worst first), as
/// summary.md's sentences after the tables' legend; empty when every level was fine.
pub(super) fn client_mark_note(report: &Report) -> String {
    let has = |state: ClientState| {
        report
            .engines
            .iter()
            .flat_map(|e| &e.levels)
            .any(|l| l.client_state == state)
    };
    let mut note = String::new();
    for (state, meaning) in [
        (
            ClientState::Starved,
            "the client ran late while other processes (or the engine under test) kept the \
             machine busy: the numbers are partly the box's, not the engine's (see the Host \
             section)",
        ),
        (
            ClientState::Busy,
            "llmsweep used about a core per runtime thread and may itself have been the \
             limit: the engine may be faster than shown",
        ),
        (
            ClientState::Late,
            "the client's event loop ran late for a reason it cannot see (steal time, a CPU \
             quota): its timings may be off",
        ),
    ] {
        if let (true, Some(mark)) = (has(state), client_mark(state)) {
            note.push_str(&format!(" *({mark})*: {meaning}."));
        }
    }
    note
}
