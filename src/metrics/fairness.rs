//! Fairness between engines at one level: they should have generated about as many tokens per
//! request, or the faster one may just have stopped earlier (setting `ignore_eos = true`, and
//! `min_tokens`, in each engine's `extra_body` makes lengths equal where supported); and their
//! prefix caches should have served about the same share of the prompts, or the comparison
//! measures caches, not engines (`[prompts] cache = "bust"` makes every prompt new).

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

/// Cached fractions of input tokens differing by more than this (0..1, i.e. 10 points) warn.
pub const CACHED_FRACTION_TOLERANCE: f64 = 0.10;

/// A warning when `this` engine's cached fraction of input tokens at a level differs by more
/// than [`CACHED_FRACTION_TOLERANCE`] from an engine in `others` at the same level (engines
/// that did not report cached tokens are left out). Names the pair that differs most.
pub fn cached_fraction_warning(
    this: (&str, &LevelSummary),
    others: &[(&str, &LevelSummary)],
) -> Option<String> {
    let (name, summary) = this;
    let mine = summary.prefix_cache.cached_fraction?;
    let (other, theirs) = others
        .iter()
        .filter_map(|(n, s)| Some((*n, s.prefix_cache.cached_fraction?)))
        .max_by(|a, b| (a.1 - mine).abs().total_cmp(&(b.1 - mine).abs()))?;
    if (mine - theirs).abs() <= CACHED_FRACTION_TOLERANCE {
        return None;
    }
    Some(format!(
        "level {}: the prefix cache served {:.0}% of {other:?}'s input tokens and {:.0}% of {name:?}'s: the comparison measures caches, not engines; set [prompts] cache = \"bust\" to give every request a new prompt",
        summary.level,
        theirs * 100.0,
        mine * 100.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(fraction: Option<f64>) -> LevelSummary {
        let mut l = LevelSummary {
            level: 8.0,
            completed: 10,
            ..LevelSummary::default()
        };
        l.prefix_cache.cached_fraction = fraction;
        l
    }

    #[test]
    fn cached_fractions_more_than_ten_points_apart_warn() {
        let a = cached(Some(0.72));
        let near = cached(Some(0.65));
        let far = cached(Some(0.05));
        assert_eq!(cached_fraction_warning(("b", &near), &[("a", &a)]), None);
        assert_eq!(
            cached_fraction_warning(("b", &cached(Some(0.62))), &[("a", &a)]),
            None
        );
        let text = cached_fraction_warning(("c", &far), &[("a", &a), ("b", &near)]).unwrap();
        assert_eq!(
            text,
            "level 8: the prefix cache served 72% of \"a\"'s input tokens and 5% of \"c\"'s: the comparison measures caches, not engines; set [prompts] cache = \"bust\" to give every request a new prompt"
        );
        // An engine that does not say is no evidence either way.
        assert_eq!(
            cached_fraction_warning(("c", &far), &[("x", &cached(None))]),
            None
        );
        assert_eq!(
            cached_fraction_warning(("x", &cached(None)), &[("a", &a)]),
            None
        );
    }

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
