//! Confidence intervals over a handful of values (trials' results, or a run's batch means):
//! the mean's Student t interval, and the interval of a ratio of two engines' values.

use super::t::two_sided_quantile;

/// The confidence level of every interval llmsweep reports.
pub const CONFIDENCE: f64 = 0.95;

/// Mean and sample standard deviation (n − 1); `None` for fewer than one value.
pub fn mean_sd(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some((mean, 0.0));
    }
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    Some((mean, (ss / (n - 1) as f64).sqrt()))
}

/// The mean's two-sided `CONFIDENCE` interval, Student t with n − 1 degrees of freedom:
/// `(mean, low, high)`. `None` for fewer than two values or a non-finite one.
pub fn mean_interval(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.len() < 2 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let (mean, sd) = mean_sd(values)?;
    let n = values.len() as f64;
    let t = two_sided_quantile(CONFIDENCE, n - 1.0)?;
    let half = t * sd / n.sqrt();
    Some((mean, mean - half, mean + half))
}

/// Coefficient of variation: sample sd over |mean|; `None` for fewer than two values or a
/// zero mean.
pub fn cv(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let (mean, sd) = mean_sd(values)?;
    (mean != 0.0).then(|| sd / mean.abs())
}

/// The ratio of `b`'s values to `a`'s (geometric means) with its two-sided `CONFIDENCE`
/// interval: `(ratio, low, high)`. A Welch t interval on the difference of mean logs,
/// exponentiated: ratios of positive quantities are symmetric on the log scale, and with
/// 3–10 values per side a bootstrap's resamples are too few to trust its tails.
/// `None` when a side has fewer than two values or any value is not positive.
pub fn ratio_interval(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64)> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let logs = |v: &[f64]| -> Option<Vec<f64>> {
        v.iter()
            .map(|&x| (x > 0.0 && x.is_finite()).then(|| x.ln()))
            .collect()
    };
    let (la, lb) = (logs(a)?, logs(b)?);
    let (ma, sa) = mean_sd(&la)?;
    let (mb, sb) = mean_sd(&lb)?;
    let (na, nb) = (la.len() as f64, lb.len() as f64);
    let (va, vb) = (sa * sa / na, sb * sb / nb);
    let se = (va + vb).sqrt();
    // Welch–Satterthwaite; with no spread on either side it is undefined, and the pooled
    // n_a + n_b − 2 is used (the interval is then a point anyway).
    let df = if va + vb > 0.0 {
        (va + vb).powi(2) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0))
    } else {
        na + nb - 2.0
    };
    let t = two_sided_quantile(CONFIDENCE, df)?;
    let d = mb - ma;
    Some((d.exp(), (d - t * se).exp(), (d + t * se).exp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn the_mean_interval_of_known_values() {
        // 10, 12, 14: mean 12, sd 2, se 2/√3; t(0.975, 2) = 4.302653 → half-width 4.968275.
        let (mean, low, high) = mean_interval(&[10.0, 12.0, 14.0]).unwrap();
        assert!(close(mean, 12.0, 1e-12));
        assert!(close(high - mean, 4.968_275, 1e-6), "{low} {high}");
        assert!(close(mean - low, high - mean, 1e-12));
        // Five values: 1..=5, mean 3, sd √2.5; t(0.975, 4) = 2.776445 → 1.963243.
        let (_, low, high) = mean_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!(close(low, 3.0 - 1.963_243, 1e-6) && close(high, 3.0 + 1.963_243, 1e-6));
    }

    #[test]
    fn one_value_has_no_interval_and_no_cv() {
        assert_eq!(mean_interval(&[5.0]), None);
        assert_eq!(mean_interval(&[]), None);
        assert_eq!(mean_interval(&[1.0, f64::NAN]), None);
        assert_eq!(cv(&[5.0]), None);
        assert_eq!(mean_sd(&[5.0]), Some((5.0, 0.0)));
        assert_eq!(mean_sd(&[]), None);
    }

    #[test]
    fn cv_is_sd_over_mean() {
        // 90, 100, 110: sd 10, mean 100.
        assert!(close(cv(&[90.0, 100.0, 110.0]).unwrap(), 0.1, 1e-12));
        assert!(close(cv(&[-90.0, -100.0, -110.0]).unwrap(), 0.1, 1e-12));
        assert_eq!(cv(&[1.0, -1.0]), None);
    }

    #[test]
    fn the_ratio_interval_of_known_values() {
        // a = 1, 2, 4 and b = 2, 4, 8: b is exactly twice a, and both have the same spread of
        // logs (sd ln 2): se = ln 2 · √(2/3), Welch df = 4, t = 2.776445.
        let (r, low, high) = ratio_interval(&[1.0, 2.0, 4.0], &[2.0, 4.0, 8.0]).unwrap();
        assert!(close(r, 2.0, 1e-12));
        let half = 2.776_445_105 * std::f64::consts::LN_2 * (2.0f64 / 3.0).sqrt();
        assert!(close(low, 2.0 * (-half).exp(), 1e-6), "{low}");
        assert!(close(high, 2.0 * half.exp(), 1e-6), "{high}");
        // The reverse ratio is the reciprocal interval.
        let (r2, low2, high2) = ratio_interval(&[2.0, 4.0, 8.0], &[1.0, 2.0, 4.0]).unwrap();
        assert!(
            close(r2, 0.5, 1e-12) && close(low2, 1.0 / high, 1e-9) && close(high2, 1.0 / low, 1e-9)
        );
    }

    #[test]
    fn unequal_spreads_use_welch_degrees_of_freedom() {
        // Logs of a: 0, 0, 0 (no spread); logs of b: ln 1, ln e, ln e² → sd 1, n 3:
        // se = 1/√3, df = (1/3)² / ((1/3)² / 2) = 2 → t = 4.302653.
        let e = std::f64::consts::E;
        let (r, low, high) = ratio_interval(&[1.0, 1.0, 1.0], &[1.0, e, e * e]).unwrap();
        assert!(close(r, e, 1e-12));
        let half = 4.302_652_730 / 3.0f64.sqrt();
        assert!(close(high.ln() - 1.0, half, 1e-6) && close(1.0 - low.ln(), half, 1e-6));
    }

    #[test]
    fn identical_sides_give_a_point_and_bad_values_none() {
        assert_eq!(
            ratio_interval(&[3.0, 3.0], &[3.0, 3.0]),
            Some((1.0, 1.0, 1.0))
        );
        assert_eq!(ratio_interval(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(ratio_interval(&[1.0, 0.0], &[1.0, 2.0]), None);
        assert_eq!(ratio_interval(&[1.0, 2.0], &[1.0, -2.0]), None);
    }
}
