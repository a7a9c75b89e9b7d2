//! Output-length fairness: engines compared at one level should have generated about as many
//! tokens per request, or the faster one may just have stopped earlier. Setting `ignore_eos =
//! true` (and `min_tokens`) in each engine's `extra_body` makes lengths equal where supported.

use crate::results::model::LevelSummary;

/// Mean output lengths differing by more than this share of the larger one warn.
pub const OUTPUT_LENGTH_TOLERANCE: f64 = 0.10;

/// A warning when `this` engine's mean output length at a level differs by more than
/// [`OUTPUT_LENGTH_TOLERANCE`] from any engine in `others` at the same level (levels with no
/// successful request are ignored). Names the pair that differs most.
pub fn output_length_warning(
    this: (&str, &LevelSummary),
    others: &[(&str, &LevelSummary)],
) -> Option<String> {
    let (name, summary) = this;
    if summary.completed == 0 {
        return None;
    }
    let mine = summary.mean_output_tokens;
    let (other, theirs) = others
        .iter()
        .filter(|(_, s)| s.completed > 0)
        .map(|(n, s)| (*n, s.mean_output_tokens))
        .max_by(|a, b| (a.1 - mine).abs().total_cmp(&(b.1 - mine).abs()))?;
    let larger = mine.max(theirs);
    if larger <= 0.0 || (mine - theirs).abs() / larger <= OUTPUT_LENGTH_TOLERANCE {
        return None;
    }
    Some(format!(
        "level {}: mean output length differs by {:.0}% between {other:?} ({theirs:.1} tokens) and {name:?} ({mine:.1} tokens); set ignore_eos = true (and min_tokens) in each engine's extra_body to compare equal work",
        summary.level,
        (mine - theirs).abs() / larger * 100.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(mean: f64) -> LevelSummary {
        LevelSummary {
            level: 4.0,
            completed: 10,
            mean_output_tokens: mean,
            ..LevelSummary::default()
        }
    }

    #[test]
    fn warns_beyond_ten_percent_only() {
        let (a, b, c) = (level(100.0), level(95.0), level(60.0));
        assert_eq!(output_length_warning(("B", &b), &[("A", &a)]), None);
        let text = output_length_warning(("C", &c), &[("A", &a), ("B", &b)]).unwrap();
        assert!(text.starts_with("level 4: mean output length differs by 40% between \"A\" (100.0 tokens) and \"C\" (60.0 tokens)"), "{text}");
        assert_eq!(output_length_warning(("C", &c), &[]), None);
    }

    #[test]
    fn names_the_engine_furthest_away_in_tokens() {
        // 90 tokens from A, 80 from B (though B's ratio, 1.8×, is the larger).
        let (me, a, b) = (level(100.0), level(10.0), level(180.0));
        let text = output_length_warning(("Me", &me), &[("B", &b), ("A", &a)]).unwrap();
        assert!(
            text.contains("differs by 90% between \"A\" (10.0 tokens) and \"Me\""),
            "{text}"
        );
    }
}
