//! Compact number formatting shared by the dashboard and the plain-text summary:
//! `1.23k`, `45.6 ms`, `1.2 s`, `1m05s`.

/// A rate or count in at most 5 characters: `0.42`, `45.6`, `456`, `1.23k`, `45.6k`, `1.23M`.
pub fn si(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        return "-".to_string();
    }
    let (scaled, suffix) = if value < 999.5 {
        (value, "")
    } else if value < 999_500.0 {
        (value / 1e3, "k")
    } else if value < 999_500_000.0 {
        (value / 1e6, "M")
    } else {
        (value / 1e9, "G")
    };
    format!("{}{suffix}", three_digits(scaled))
}

/// A rate with its 95 % half-width, each compact: `2.56k±51`, `20.0±1.2`, `10.2k±1.2k`.
pub fn si_pm(mean: f64, half_width: f64) -> String {
    format!("{}±{}", si(mean), two_digits(half_width))
}

/// A latency in ms with its 95 % half-width, both in the mean's unit: `107±3.4 ms`,
/// `1.50±0.04 s`.
pub fn ms_pm(mean: f64, half_width: f64) -> String {
    if !mean.is_finite() || mean < 0.0 {
        return "-".to_string();
    }
    if mean < 999.5 {
        format!("{}±{} ms", three_digits(mean), two_digits(half_width))
    } else {
        format!(
            "{}±{} s",
            three_digits(mean / 1000.0),
            two_digits(half_width / 1000.0)
        )
    }
}

/// What a missing value (no success yet, no data) reads as.
pub const NO_VALUE: &str = "—";

/// A latency in milliseconds: `0.45 ms`, `45.6 ms`, `456 ms`, `1.23 s`, `45.6 s`, `456 s`;
/// [`NO_VALUE`] when there is none.
pub fn ms(value: Option<f64>) -> String {
    let Some(value) = value else {
        return NO_VALUE.to_string();
    };
    if !value.is_finite() || value < 0.0 {
        return "-".to_string();
    }
    if value < 999.5 {
        format!("{} ms", three_digits(value))
    } else {
        format!("{} s", three_digits(value / 1000.0))
    }
}

/// A latency in milliseconds, plain number for fixed-unit columns: `45.6`, `1234`;
/// [`NO_VALUE`] when there is none.
pub fn ms_plain(value: Option<f64>) -> String {
    let Some(value) = value else {
        return NO_VALUE.to_string();
    };
    if !value.is_finite() || value < 0.0 {
        "-".to_string()
    } else if value < 10.0 {
        format!("{value:.2}")
    } else if value < 1000.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// A wall time: `12.3s`, `1m05s`, `1h02m`.
pub fn duration_ms(value: u64) -> String {
    let secs = value / 1000;
    if secs < 60 {
        format!("{}.{}s", secs, (value % 1000) / 100)
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// A sweep level: `16` for whole numbers, `2.5` otherwise.
pub fn level(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// A fraction as a percentage: `0%`, `1.2%`, `12%`, `100%`.
pub fn percent(fraction: f64) -> String {
    if !fraction.is_finite() || fraction <= 0.0 {
        return "0%".to_string();
    }
    let pct = fraction * 100.0;
    if pct < 9.95 {
        format!("{pct:.1}%")
    } else {
        format!("{pct:.0}%")
    }
}

/// About two significant digits in at most 4 characters, for a half-width: `0.04`, `0.43`,
/// `4.3`, `43`, `430`, `4.3k`, `43k`, `4.3M`.
fn two_digits(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        return "-".to_string();
    }
    let (scaled, suffix) = if value < 999.5 {
        (value, "")
    } else if value < 999_500.0 {
        (value / 1e3, "k")
    } else {
        (value / 1e6, "M")
    };
    if suffix.is_empty() && scaled < 0.995 {
        format!("{scaled:.2}")
    } else if scaled < 9.95 {
        format!("{scaled:.1}{suffix}")
    } else {
        format!("{scaled:.0}{suffix}")
    }
}

/// Three significant digits: `0.42`, `4.20`, `42.0`, `420`.
fn three_digits(value: f64) -> String {
    if value < 9.995 {
        format!("{value:.2}")
    } else if value < 99.95 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_compactly() {
        assert_eq!(si(0.0), "0.00");
        assert_eq!(si(45.64), "45.6");
        assert_eq!(si(456.0), "456");
        assert_eq!(si(1234.0), "1.23k");
        assert_eq!(si(999.7), "1.00k");
        assert_eq!(si(45_600.0), "45.6k");
        assert_eq!(si(1_230_000.0), "1.23M");
        assert_eq!(si(f64::NAN), "-");
        assert_eq!(ms(Some(45.6)), "45.6 ms");
        assert_eq!(ms(Some(0.454)), "0.45 ms");
        assert_eq!(ms(Some(1234.0)), "1.23 s");
        assert_eq!(ms(Some(123_456.0)), "123 s");
        assert_eq!(ms_plain(Some(1234.4)), "1234");
        assert_eq!(ms_plain(Some(45.66)), "45.7");
        assert_eq!(
            (ms(None).as_str(), ms_plain(None).as_str()),
            (NO_VALUE, NO_VALUE)
        );
        assert_eq!(duration_ms(12_345), "12.3s");
        assert_eq!(duration_ms(65_000), "1m05s");
        assert_eq!(duration_ms(3_720_000), "1h02m");
        assert_eq!(level(16.0), "16");
        assert_eq!(level(2.5), "2.5");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.012), "1.2%");
        assert_eq!(percent(0.5), "50%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(si_pm(2560.0, 51.2), "2.56k±51");
        assert_eq!(si_pm(20.0, 1.23), "20.0±1.2");
        assert_eq!(si_pm(10_200.0, 1_234.0), "10.2k±1.2k");
        assert_eq!(si_pm(448.0, 0.043), "448±0.04");
        assert_eq!(si_pm(448.0, f64::NAN), "448±-");
        assert_eq!(ms_pm(107.0, 3.42), "107±3.4 ms");
        assert_eq!(ms_pm(1500.0, 43.0), "1.50±0.04 s");
        assert_eq!(ms_pm(45.6, 12.3), "45.6±12 ms");
        assert_eq!(ms_pm(f64::NAN, 1.0), "-");
    }
}
