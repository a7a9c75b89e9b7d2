//! Student's t distribution: the two-sided quantile a confidence interval needs, for any
//! (also fractional, Welch) degrees of freedom. The CDF is the regularised incomplete beta
//! function (Lentz's continued fraction); the quantile inverts it by bisection, which is
//! plenty fast for a handful of intervals per level and has no convergence corner cases.

/// `t` such that P(|T| ≤ t) = `confidence` for T ~ Student t with `df` degrees of freedom.
/// `None` when `df` is not positive or `confidence` is outside (0, 1).
pub fn two_sided_quantile(confidence: f64, df: f64) -> Option<f64> {
    let valid = df.is_finite() && df > 0.0 && confidence > 0.0 && confidence < 1.0;
    if !valid {
        return None;
    }
    let target = 0.5 + confidence / 2.0;
    // The quantile grows without bound as df → 0; 1e7 covers df ≥ 0.1 at 99.99 %.
    let (mut lo, mut hi) = (0.0f64, 1e7f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid, df) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi.max(1.0) {
            break;
        }
    }
    Some(0.5 * (lo + hi))
}

/// P(T ≤ t) for T ~ Student t with `df` degrees of freedom.
pub fn cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, x);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The regularised incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry
    // I_x(a, b) = 1 − I_{1−x}(b, a) on the other side.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        // Even step.
        let num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + num * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + num / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        // Odd step.
        let num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + num * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + num / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, &c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// t₀.₉₇₅ from the standard tables (R's `qt(0.975, df)`).
    #[test]
    fn the_95_percent_quantiles_match_the_tables() {
        let table = [
            (1.0, 12.706_204_736),
            (2.0, 4.302_652_730),
            (3.0, 3.182_446_305),
            (4.0, 2.776_445_105),
            (5.0, 2.570_581_836),
            (9.0, 2.262_157_163),
            (10.0, 2.228_138_852),
            (30.0, 2.042_272_456),
            (100.0, 1.983_971_519),
            (1e6, 1.959_966_4),
        ];
        for (df, expected) in table {
            let t = two_sided_quantile(0.95, df).unwrap();
            assert!((t - expected).abs() < 1e-6, "df {df}: {t} vs {expected}");
        }
    }

    #[test]
    fn other_confidences_and_fractional_degrees_of_freedom() {
        // qt(0.995, 4) and qt(0.95, 7): the 99 % and 90 % two-sided quantiles.
        assert!((two_sided_quantile(0.99, 4.0).unwrap() - 4.604_094_871).abs() < 1e-6);
        assert!((two_sided_quantile(0.90, 7.0).unwrap() - 1.894_578_605).abs() < 1e-6);
        // qt(0.975, 2.5) = 3.574655 (Welch degrees of freedom are fractional).
        assert!((two_sided_quantile(0.95, 2.5).unwrap() - 3.574_654_842).abs() < 1e-6);
    }

    #[test]
    fn the_cdf_is_symmetric_and_known_at_one_degree_of_freedom() {
        // df = 1 is the Cauchy distribution: P(T ≤ 1) = 3/4.
        assert!((cdf(1.0, 1.0) - 0.75).abs() < 1e-12);
        assert!((cdf(-1.0, 1.0) - 0.25).abs() < 1e-12);
        assert!((cdf(0.0, 5.0) - 0.5).abs() < 1e-15);
        assert!((cdf(2.0, 3.0) + cdf(-2.0, 3.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn no_quantile_without_degrees_of_freedom_or_a_valid_confidence() {
        assert_eq!(two_sided_quantile(0.95, 0.0), None);
        assert_eq!(two_sided_quantile(0.95, f64::NAN), None);
        assert_eq!(two_sided_quantile(1.0, 3.0), None);
        assert_eq!(two_sided_quantile(0.0, 3.0), None);
    }
}
