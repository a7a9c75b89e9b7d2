//! `## Conversations`: per engine and level, how its conversations went and each turn's
//! median TTFT and cached share of the prompt. Left out of runs without conversations.

use std::fmt::Write as _;

use super::table::level_header;
use super::text::{cell, fmt_count, fmt_num, fmt_pct};
use crate::report::fmt_level;
use crate::results::model::Report;

pub(super) fn conversations(md: &mut String, report: &Report) {
    let levels = || report.engines.iter().flat_map(|e| &e.levels);
    if !levels().any(|l| l.conversations.is_some()) {
        return;
    }
    md.push_str("## Conversations\n\n");
    md.push_str(
        "Each slot holds one conversation and sends its turns in order, every turn with the \
         whole history and the model's own answers. Completed: every turn answered; failed: \
         a turn failed and ended it; cut: the level ended first. Duration: a completed \
         conversation's first send → last answer (turn delays included). Per turn: median \
         TTFT (ms), and in brackets the share of its prompt the engine's prefix cache served \
         when it said. — : no value.\n\n",
    );
    let turns = levels()
        .filter_map(|l| l.conversations.as_ref())
        .map(|c| c.turns.len())
        .max()
        .unwrap_or(0);
    let turn_heads: String = (1..=turns).map(|t| format!(" Turn {t} |")).collect();
    let _ = writeln!(
        md,
        "| Engine | {} | Completed / started | Failed | Cut | Duration mean (s) |{turn_heads}\n|---|---:|---:|---:|---:|---:|{}",
        level_header(report),
        "---:|".repeat(turns)
    );
    for e in &report.engines {
        for l in &e.levels {
            let Some(c) = &l.conversations else {
                continue;
            };
            let cells: String = (0..turns)
                .map(|t| match c.turns.get(t) {
                    Some(turn) => {
                        let ttft = turn.median_ttft_ms.map_or_else(|| "—".into(), fmt_num);
                        match turn.cached_fraction {
                            Some(f) => format!(" {ttft} ({}) |", fmt_pct(f * 100.0)),
                            None => format!(" {ttft} |"),
                        }
                    }
                    None => " — |".into(),
                })
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} / {} | {} | {} | {} |{cells}",
                cell(&e.name),
                fmt_level(l.level),
                fmt_count(c.completed as f64),
                fmt_count(c.started as f64),
                fmt_count(c.failed as f64),
                fmt_count(c.cut as f64),
                c.mean_duration_ms
                    .map_or_else(|| "—".into(), |ms| fmt_num(ms / 1e3)),
            );
        }
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::conversations::{ConversationStats, TurnStats};
    use crate::results::model::{EngineReport, LevelSummary, Workload};

    fn turn(turn: u32, median_ttft_ms: f64, cached_fraction: Option<f64>) -> TurnStats {
        TurnStats {
            turn,
            completed: 4,
            median_ttft_ms: Some(median_ttft_ms),
            cached_fraction,
            ..TurnStats::default()
        }
    }

    fn report(conversations: Option<ConversationStats>) -> Report {
        Report {
            workload: Workload {
                mode: "concurrency".into(),
                ..Workload::default()
            },
            engines: vec![EngineReport {
                name: "chat".into(),
                levels: vec![LevelSummary {
                    level: 2.0,
                    conversations,
                    ..LevelSummary::default()
                }],
                ..EngineReport::default()
            }],
            ..Report::default()
        }
    }

    #[test]
    fn each_turn_has_its_median_ttft_and_cached_share() {
        let stats = ConversationStats {
            started: 5,
            completed: 3,
            failed: 1,
            cut: 1,
            mean_turns: 2.4,
            mean_duration_ms: Some(2_500.0),
            turns: vec![
                turn(1, 120.0, Some(0.0)),
                turn(2, 80.5, Some(0.5)),
                turn(3, 70.0, None),
            ],
            ..ConversationStats::default()
        };
        let mut md = String::new();
        conversations(&mut md, &report(Some(stats)));
        let row = md.lines().find(|l| l.starts_with("| chat")).expect("a row");
        assert_eq!(
            row,
            "| chat | 2 | 3 / 5 | 1 | 1 | 2.50 | 120.0 (0.0%) | 80.50 (50.0%) | 70.00 |"
        );
        assert!(md.contains("| Turn 1 | Turn 2 | Turn 3 |"), "{md}");
        let mut none = String::new();
        conversations(&mut none, &report(None));
        assert_eq!(none, "");
    }
}
