//! The help overlay (`?`): the keys and how to read the dashboard, centred over everything.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

const HELP: [&str; 19] = [
    "space / p  pause or resume: no new requests start,",
    "           in-flight ones finish",
    "s          skip the current level (kept, marked skip)",
    "n          skip the rest of this engine's levels",
    "q          quit: asks y/n, then writes results so far",
    "Ctrl-C     quit at once, as SIGINT: exit code 130",
    "Tab        views: sparklines / compare (the chart,",
    "           live) / detail (ITL, TPOT, errors, host)",
    "e          write chart.png, CSV, Markdown now",
    "? / Esc    close this help",
    "",
    "Sparklines cover the whole run, the values beside",
    "them are the latest. Errors: failed count and rate;",
    "skip = cut short, FAIL = most requests failed;",
    "host busy (or busy): the machine starved the client;",
    "client busy (client), client late (late): the",
    "client's timings may be off (the detail view: host).",
    "After the run, Tab still switches views; any other",
    "key closes the dashboard.",
];

/// With `levels = "auto"`, after the `s` and `n` lines.
const AUTO_S: &str = "           auto: the level counts as failed";
const AUTO_N: &str = "           auto: ends this engine's search";

/// The help lines; with `levels = "auto"`, what `s` and `n` do to the search.
fn help_lines(auto: bool) -> Vec<&'static str> {
    let mut lines = Vec::with_capacity(HELP.len() + 2);
    for line in HELP {
        lines.push(line);
        if auto && line.starts_with("s ") {
            lines.push(AUTO_S);
        }
        if auto && line.starts_with("n ") {
            lines.push(AUTO_N);
        }
    }
    lines
}

pub(super) fn render_help(auto: bool, area: Rect, buf: &mut Buffer) {
    let help = help_lines(auto);
    let width =
        (help.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 4).min(area.width);
    let height = (help.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    Clear.render(rect, buf);
    let block = Block::bordered()
        .title(Line::from(" Help ").alignment(Alignment::Center))
        .border_style(Style::new().fg(Color::Cyan));
    let lines: Vec<Line> = help.iter().map(|l| Line::from(format!(" {l}"))).collect();
    Paragraph::new(lines).block(block).render(rect, buf);
}
