//! The detail view's line under each level: what the machine did while the level ran.

use crate::report::markdown::client_mark;
use crate::results::host::{ClientState, EngineCpu};
use crate::results::model::LevelSummary;

/// `host busy: box 2.0/2 · steal 0.4 · client 0.15 · eng 0.70 · yes 0.98 · idle vLLM ma… 1.70`:
/// the client's mark (`host` when it was fine); the machine's busy cores of all it has; steal
/// (from 0.05 cores); the client's cores; the engine under test's cores (when it ran on this
/// host); the busiest process that is neither its nor a listed idle engine's, and its cores;
/// each idle engine that used more than a quarter of a core (`label` gives an engine's label
/// from its name). `host: -` without a host report.
///
/// When they do not fit in `room` characters, items give way (` …` says so): first the
/// client's cores (unless the client was busy), then steal (unless its loop ran late), the
/// engine's, the other process, the idle engines; the machine's busy cores last.
pub(super) fn host_line(s: &LevelSummary, label: impl Fn(&str) -> String, room: usize) -> String {
    let head = client_mark(s.client_state).unwrap_or("host");
    let Some(h) = &s.host else {
        return format!("{head}: -");
    };
    // (text, how long it stays when room is short: higher stays longer).
    let mut items = vec![(format!("box {:.1}/{}", h.busy_cores, h.cores), 9)];
    if h.steal_cores >= 0.05 {
        let keep = if s.client_state == ClientState::Late {
            7
        } else {
            3
        };
        items.push((format!("steal {:.1}", h.steal_cores), keep));
    }
    let keep = if s.client_state == ClientState::Busy {
        7
    } else {
        2
    };
    items.push((format!("client {:.2}", h.client_cores), keep));
    if let Some(cores) = h.engine_under_test_cores() {
        items.push((format!("eng {cores:.2}"), 4));
    }
    // The busiest process of neither the engine under test nor an idle engine listed below.
    let idle: Vec<&EngineCpu> = h.busy_idle_engines().collect();
    let tested = h.engine_under_test().map(|e| e.engine.as_str());
    let listed = |engine: &str| Some(engine) == tested || idle.iter().any(|e| e.engine == engine);
    if let Some(p) = h
        .top
        .iter()
        .find(|p| !p.engine.as_deref().is_some_and(listed))
    {
        let command: String = p
            .command
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        items.push((format!("{command} {:.2}", p.cores), 5));
    }
    for idle in idle {
        let cores = idle.cores.unwrap_or_default();
        items.push((format!("idle {} {cores:.2}", label(&idle.engine)), 6));
    }
    let all = items.len();
    loop {
        let texts: Vec<&str> = items.iter().map(|(text, _)| text.as_str()).collect();
        let mut text = format!("{head}: {}", texts.join(" · "));
        if items.len() < all {
            text.push_str(" …");
        }
        if items.len() <= 1 || text.chars().count() <= room {
            return text;
        }
        // The last of the items that stay the shortest.
        let weakest = items.iter().map(|(_, keep)| *keep).min().unwrap_or(0);
        if let Some(at) = items.iter().rposition(|(_, keep)| *keep == weakest) {
            items.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::host::{EngineLocation, HostProcess, HostReport};

    fn starved() -> LevelSummary {
        LevelSummary {
            client_state: ClientState::Starved,
            host: Some(HostReport {
                cores: 4,
                busy_cores: 3.96,
                client_cores: 0.2,
                top: vec![HostProcess {
                    pid: 7,
                    command: "stress\tng".to_string(),
                    cores: 2.5,
                    engine: None,
                }],
                engines: vec![
                    EngineCpu {
                        engine: "A".to_string(),
                        under_test: true,
                        location: EngineLocation::Local,
                        cores: Some(1.2),
                        ..EngineCpu::default()
                    },
                    EngineCpu {
                        engine: "B".to_string(),
                        location: EngineLocation::Local,
                        cores: Some(0.3),
                        ..EngineCpu::default()
                    },
                ],
                ..HostReport::default()
            }),
            ..LevelSummary::default()
        }
    }

    #[test]
    fn items_give_way_weakest_first() {
        let s = starved();
        let label = |name: &str| format!("<{name}>");
        assert_eq!(
            host_line(&s, label, 80),
            "host busy: box 4.0/4 · client 0.20 · eng 1.20 · stress ng 2.50 · idle <B> 0.30"
        );
        assert_eq!(
            host_line(&s, label, 77),
            "host busy: box 4.0/4 · eng 1.20 · stress ng 2.50 · idle <B> 0.30 …"
        );
        assert_eq!(
            host_line(&s, label, 65),
            "host busy: box 4.0/4 · stress ng 2.50 · idle <B> 0.30 …"
        );
        assert_eq!(host_line(&s, label, 5), "host busy: box 4.0/4 …");
        let fine = LevelSummary::default();
        assert_eq!(host_line(&fine, label, 80), "host: -");
    }
}
