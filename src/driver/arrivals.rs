//! Arrival schedules for rate mode (open loop): a seeded iterator of inter-arrival times with
//! mean `1 / rate`, gamma-distributed with shape `burstiness` — 1.0 is a Poisson process
//! (exponential gaps, CV 1); lower is burstier, higher more even (CV = 1/sqrt(shape)), as in
//! vLLM's `--burstiness`. Pure: the same (rate, burstiness, seed) gives the same gaps, so every
//! engine sees the identical schedule.

use std::time::Duration;

use crate::plan::mix;

/// Inter-arrival times, forever.
#[derive(Debug, Clone)]
pub struct Arrivals {
    /// Mean gap, seconds.
    mean_s: f64,
    shape: f64,
    seed: u64,
    n: u64,
    /// A second normal from the last Box–Muller draw.
    spare_normal: Option<f64>,
}

impl Arrivals {
    /// `rate` in req/s (> 0), `burstiness` the gamma shape (> 0).
    pub fn new(rate: f64, burstiness: f64, seed: u64) -> Arrivals {
        Arrivals {
            mean_s: 1.0 / rate,
            shape: burstiness,
            seed: mix(seed ^ 0xA11_1E5),
            n: 0,
            spare_normal: None,
        }
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.n += 1;
        (mix(self.seed ^ mix(self.n)) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1].
    fn uniform_open(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let r = (-2.0 * self.uniform_open().ln()).sqrt();
        let theta = std::f64::consts::TAU * self.uniform();
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// Gamma(shape, 1): Marsaglia–Tsang, boosted for shape < 1.
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape == 1.0 {
            return -self.uniform_open().ln();
        }
        if shape < 1.0 {
            let u = self.uniform_open();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform_open();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // Gamma(k, θ) with θ = mean / k has the wanted mean.
        let gap = self.gamma(self.shape) * self.mean_s / self.shape;
        Some(Duration::from_secs_f64(gap.clamp(0.0, 3600.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first three gaps of `Arrivals::new(5.0, 2.0, 9)`, ns.
    const GOLDEN: [u128; 3] = [374_832_053, 203_852_969, 176_927_856];

    /// Mean, variance and skewness of `n` draws.
    fn moments(mut draw: impl FnMut() -> f64, n: usize) -> (f64, f64, f64) {
        let xs: Vec<f64> = (0..n).map(|_| draw()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let m2 = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let m3 = xs.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / n as f64;
        (mean, m2, m3 / m2.powf(1.5))
    }

    #[test]
    fn uniforms_have_the_moments_of_the_unit_interval() {
        let mut a = Arrivals::new(1.0, 1.0, 7);
        let (mean, var, skew) = moments(|| a.uniform(), 200_000);
        assert!((mean - 0.5).abs() < 0.003, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.001, "variance {var}");
        assert!(skew.abs() < 0.02, "skewness {skew}");
        let mut a = Arrivals::new(1.0, 1.0, 7);
        assert!((0..10_000)
            .map(|_| a.uniform_open())
            .all(|u| u > 0.0 && u <= 1.0));
    }

    /// Gamma(k, 1) has mean k, variance k and skewness 2/√k; the draws are seeded, so
    /// these bounds (about 4 standard errors at 200,000 draws) hold on every run.
    #[test]
    fn gamma_draws_have_the_moments_of_their_shape() {
        for shape in [0.5, 1.0, 2.0, 4.0] {
            let mut a = Arrivals::new(1.0, shape, 42);
            let (mean, var, skew) = moments(|| a.gamma(shape), 200_000);
            assert!(
                (mean / shape - 1.0).abs() < 0.01,
                "shape {shape}: mean {mean}"
            );
            assert!(
                (var / shape - 1.0).abs() < 0.03,
                "shape {shape}: variance {var}"
            );
            let expected = 2.0 / shape.sqrt();
            assert!(
                (skew / expected - 1.0).abs() < 0.1,
                "shape {shape}: skewness {skew}"
            );
        }
    }

    #[test]
    fn gaps_have_the_rates_mean_and_a_cv_of_one_over_root_shape() {
        for (rate, shape) in [(10.0, 1.0), (4.0, 0.25), (50.0, 4.0)] {
            let gaps: Vec<f64> = Arrivals::new(rate, shape, 3)
                .take(100_000)
                .map(|d| d.as_secs_f64())
                .collect();
            let n = gaps.len() as f64;
            let mean = gaps.iter().sum::<f64>() / n;
            let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n).sqrt();
            assert!(
                (mean * rate - 1.0).abs() < 0.02,
                "rate {rate}: mean gap {mean}"
            );
            let cv = sd / mean;
            assert!(
                (cv * shape.sqrt() - 1.0).abs() < 0.05,
                "shape {shape}: cv {cv}"
            );
        }
        // Seeded: the same schedule again, another with another seed. A seed's schedule is
        // the same in every version too (a resumed run, a rerun to compare): these are its
        // first gaps, to the nanosecond; a change to the generator must change them here.
        let first: Vec<u128> = Arrivals::new(5.0, 2.0, 9)
            .take(3)
            .map(|d| d.as_nanos())
            .collect();
        assert_eq!(first, GOLDEN);
        let a: Vec<Duration> = Arrivals::new(5.0, 2.0, 9).take(50).collect();
        let b: Vec<Duration> = Arrivals::new(5.0, 2.0, 9).take(50).collect();
        let c: Vec<Duration> = Arrivals::new(5.0, 2.0, 10).take(50).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
