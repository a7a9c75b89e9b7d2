//! `## Reasoning` and `## Prefix cache`: time to first answer beside TTFT for reasoning
//! models, and the prompt tokens the engines served from their prefix caches. Each is left
//! out when no level has anything for it, so reports of other runs read as before.

use std::fmt::Write as _;

use super::table::level_header;
use super::text::{cell, fmt_count, fmt_num, fmt_pct};
use crate::report::fmt_level;
use crate::results::model::Report;

/// Left out when no level of any engine saw reasoning.
pub(super) fn reasoning(md: &mut String, report: &Report) {
    let levels = || report.engines.iter().flat_map(|e| &e.levels);
    if !levels().any(|l| l.reasoning.any()) {
        return;
    }
    md.push_str("## Reasoning\n\n");
    md.push_str(
        "TTFT counts the first output of either kind; TTFA (time to first answer) the first \
         answer chunk after the reasoning (`reasoning_content` / `reasoning`), and TTFR the \
         first reasoning chunk. A reply without reasoning has TTFA = TTFT. Unanswered: replies \
         that reasoned and never answered (their TTFA is undefined). Reasoning share: \
         reasoning tokens / output tokens; *est.*: counted from chunks, the engine did not \
         report them. — : no value.\n\n",
    );
    let _ = writeln!(
        md,
        "| Engine | {} | TTFT mean (ms) | TTFA mean / p99 (ms) | TTFR mean (ms) | Reasoning \
         share | Reasoning tokens | Unanswered |\n|---|---:|---:|---:|---:|---:|---:|---:|",
        level_header(report)
    );
    let dash = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(|| "—".to_string(), f);
    for e in &report.engines {
        for l in e.levels.iter().filter(|l| l.reasoning.any()) {
            let r = &l.reasoning;
            let ttfa = match (r.mean_ttfa_ms, r.p99_ttfa_ms) {
                (None, None) => "—".to_string(),
                (mean, p99) => format!("{} / {}", dash(mean, fmt_num), dash(p99, fmt_num)),
            };
            let tokens = match r.total_reasoning_tokens {
                None => "—".to_string(),
                Some(n) if r.reasoning_tokens_estimated => format!("{n} *est.*"),
                Some(n) => n.to_string(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&e.name),
                fmt_level(l.level),
                dash(l.mean_ttft_ms, fmt_num),
                ttfa,
                dash(r.mean_ttfr_ms, fmt_num),
                dash(r.reasoning_share, |v| fmt_pct(v * 100.0)),
                tokens,
                fmt_count(r.unanswered_requests as f64),
            );
        }
    }
    md.push('\n');
}

/// Left out when no request of any level reported cached tokens.
pub(super) fn prefix_cache(md: &mut String, report: &Report) {
    let levels = || report.engines.iter().flat_map(|e| &e.levels);
    if !levels().any(|l| l.prefix_cache.total_cached_tokens.is_some()) {
        return;
    }
    md.push_str("## Prefix cache\n\n");
    md.push_str(
        "Prompt tokens each engine said it served from its prefix cache \
         (`usage.prompt_tokens_details.cached_tokens`), and their share of the input tokens of \
         the requests that said. — : the engine did not report it.\n\n",
    );
    let _ = writeln!(
        md,
        "| Engine | {} | Cached tokens | Cached fraction | TTFT mean (ms) |\n|---|---:|---:|---:|---:|",
        level_header(report)
    );
    let dash = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(|| "—".to_string(), f);
    for e in &report.engines {
        for l in &e.levels {
            let c = &l.prefix_cache;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                cell(&e.name),
                fmt_level(l.level),
                dash(c.total_cached_tokens.map(|n| n as f64), fmt_count),
                dash(c.cached_fraction, |v| fmt_pct(v * 100.0)),
                dash(l.mean_ttft_ms, fmt_num),
            );
        }
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::model::{EngineReport, LevelSummary};
    use crate::results::prefix_cache::PrefixCacheStats;
    use crate::results::reasoning::ReasoningStats;

    fn report(levels: Vec<LevelSummary>) -> Report {
        Report {
            workload: crate::results::model::Workload {
                mode: "concurrency".into(),
                ..Default::default()
            },
            engines: vec![EngineReport {
                name: "think".into(),
                levels,
                ..EngineReport::default()
            }],
            ..Report::default()
        }
    }

    fn render(report: &Report) -> String {
        let mut md = String::new();
        reasoning(&mut md, report);
        prefix_cache(&mut md, report);
        md
    }

    #[test]
    fn nothing_is_written_without_reasoning_or_cached_tokens() {
        let plain = LevelSummary {
            level: 1.0,
            mean_ttft_ms: Some(60.0),
            ..LevelSummary::default()
        };
        assert_eq!(render(&report(vec![plain])), "");
    }

    #[test]
    fn the_reasoning_table_has_ttfa_beside_ttft_and_only_levels_with_reasoning() {
        let thinking = LevelSummary {
            level: 4.0,
            mean_ttft_ms: Some(60.0),
            reasoning: ReasoningStats {
                mean_ttfa_ms: Some(110.0),
                p99_ttfa_ms: Some(131.25),
                mean_ttfr_ms: Some(60.0),
                reasoning_requests: 8,
                unanswered_requests: 1,
                total_reasoning_tokens: Some(40),
                reasoning_share: Some(0.625),
                reasoning_tokens_estimated: true,
                ..ReasoningStats::default()
            },
            ..LevelSummary::default()
        };
        let plain = LevelSummary {
            level: 1.0,
            ..LevelSummary::default()
        };
        let md = render(&report(vec![plain, thinking]));
        assert!(md.starts_with("## Reasoning\n"), "{md}");
        assert!(
            md.contains("| think | 4 | 60.00 | 110.0 / 131.2 | 60.00 | 62.5% | 40 *est.* | 1 |\n"),
            "{md}"
        );
        assert!(!md.contains("| think | 1 |"), "{md}");
        assert!(!md.contains("## Prefix cache"), "{md}");
    }

    #[test]
    fn the_prefix_cache_table_shows_each_level() {
        let cached = LevelSummary {
            level: 2.0,
            mean_ttft_ms: Some(35.5),
            prefix_cache: PrefixCacheStats {
                total_cached_tokens: Some(960),
                cached_fraction: Some(0.8),
            },
            ..LevelSummary::default()
        };
        let md = render(&report(vec![cached]));
        assert!(md.starts_with("## Prefix cache\n"), "{md}");
        assert!(md.contains("| think | 2 | 960 | 80.0% | 35.50 |\n"), "{md}");
    }
}
