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
