//! Text helpers: numbers formatted for a table, and escaping for cells, lines and inline code.

/// A number with precision that suits its size; `n/a` when it is not a number.
pub(super) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let decimals = decimals(v);
    format!("{v:.decimals$}")
}

/// The decimals [`fmt_num`] gives `v`.
fn decimals(v: f64) -> usize {
    let a = v.abs();
    if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    }
}

/// `mean ± half-width`, the half-width to the mean's decimals (`1234 ± 56`, `41.20 ± 3.10`);
/// the mean alone when the half-width is not a number.
pub(super) fn fmt_pm(mean: f64, half_width: f64) -> String {
    if !mean.is_finite() || mean == 0.0 || !half_width.is_finite() {
        return fmt_num(mean);
    }
    let decimals = decimals(mean);
    format!("{} ± {half_width:.decimals$}", fmt_num(mean))
}

/// A whole count; `n/a` when it is not a number.
pub(super) fn fmt_count(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.0}")
    } else {
        "n/a".to_string()
    }
}

/// A percentage: one decimal, two below 0.1 %.
pub(super) fn fmt_pct(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v != 0.0 && v.abs() < 0.1 {
        format!("{v:.2}%")
    } else {
        format!("{v:.1}%")
    }
}

pub(super) fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Text safe inside a table cell: no pipes or line breaks.
pub(super) fn cell(s: &str) -> String {
    inline(s).replace('|', "\\|")
}

/// Text safe on one Markdown line.
pub(super) fn inline(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Inline code, safe whatever backticks or pipes the text holds.
pub(super) fn code(s: &str) -> String {
    let s = inline(s).replace('|', "¦");
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(fmt_num(1234.56), "1235");
        assert_eq!(fmt_num(123.456), "123.5");
        assert_eq!(fmt_num(12.3456), "12.35");
        assert_eq!(fmt_num(0.12345), "0.123");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(f64::NAN), "n/a");
        assert_eq!(fmt_pct(0.0), "0.0%");
        assert_eq!(fmt_pct(0.05), "0.05%");
        assert_eq!(fmt_pct(12.345), "12.3%");
        assert_eq!(fmt_pm(1234.4, 56.3), "1234 ± 56");
        assert_eq!(fmt_pm(41.23, 3.1049), "41.23 ± 3.10");
        assert_eq!(fmt_pm(0.5, 0.0123), "0.500 ± 0.012");
        assert_eq!(fmt_pm(12.0, f64::NAN), "12.00");
    }

    #[test]
    fn escaping() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(code("x`y"), "`` x`y ``");
        assert_eq!(capitalise("concurrency"), "Concurrency");
    }
}
