//! NVIDIA's DCGM exporter: a scrape's GPU fields, summed or averaged over the GPUs it lists.

use super::exposition::Exposition;

/// Throttle-reason bits (NVML's `nvmlClocksEventReasons`) that mean the GPU was held back
/// by power or heat: SW power cap 0x4, HW slowdown 0x8, SW thermal 0x20, HW thermal 0x40,
/// HW power brake 0x80. Idle (0x1), application clocks (0x2) and sync boost (0x10) are not.
pub const POWER_OR_THERMAL: u64 = 0x4 | 0x8 | 0x20 | 0x40 | 0x80;

const UTIL: &str = "DCGM_FI_DEV_GPU_UTIL";
const POWER: &str = "DCGM_FI_DEV_POWER_USAGE";
const ENERGY: &str = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION";
const MEMORY_USED: &str = "DCGM_FI_DEV_FB_USED";
const SM_CLOCK: &str = "DCGM_FI_DEV_SM_CLOCK";
/// The throttle reasons' old name, then the name DCGM 3.3 gave them.
const THROTTLE: [&str; 2] = [
    "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
];

/// The families read (their raw samples go to metrics.jsonl).
pub const FAMILIES: [&str; 7] = [
    UTIL,
    POWER,
    ENERGY,
    MEMORY_USED,
    SM_CLOCK,
    THROTTLE[0],
    THROTTLE[1],
];

/// One scrape of a DCGM exporter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuReading {
    /// GPUs in the scrape (series of the utilisation, power or energy family).
    pub gpus: usize,
    /// Mean utilisation over the GPUs, %.
    pub util_pct: Option<f64>,
    /// Power draw of all GPUs, W.
    pub power_w: Option<f64>,
    /// Energy since boot of all GPUs, mJ (counter).
    pub energy_mj: Option<f64>,
    /// Frame-buffer memory used on all GPUs, MiB.
    pub memory_used_mib: Option<f64>,
    /// Mean SM clock, MHz.
    pub sm_clock_mhz: Option<f64>,
    /// The throttle reasons of all GPUs OR-ed together (a bit mask).
    pub throttle_reasons: Option<u64>,
}

impl GpuReading {
    /// `None` when the exposition has none of DCGM's families.
    pub fn read(exposition: &Exposition) -> Option<GpuReading> {
        if !FAMILIES.iter().any(|f| exposition.has(f)) {
            return None;
        }
        let gpus = [UTIL, POWER, ENERGY]
            .iter()
            .map(|f| exposition.numbers(f).count())
            .max()
            .unwrap_or(0);
        let throttle_reasons = THROTTLE.iter().find(|f| exposition.has(f)).map(|f| {
            exposition
                .numbers(f)
                .fold(0u64, |mask, v| mask | (v.max(0.0) as u64))
        });
        Some(GpuReading {
            gpus,
            util_pct: exposition.mean(UTIL),
            power_w: exposition.sum(POWER),
            energy_mj: exposition.sum(ENERGY),
            memory_used_mib: exposition.sum(MEMORY_USED),
            sm_clock_mhz: exposition.mean(SM_CLOCK),
            throttle_reasons,
        })
    }

    /// Held back by power or heat at this scrape.
    pub fn throttled(&self) -> bool {
        self.throttle_reasons
            .is_some_and(|mask| mask & POWER_OR_THERMAL != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_GPUS: &str = "\
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-a\",modelName=\"NVIDIA H100 80GB HBM3\"} 90
DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-b\",modelName=\"NVIDIA H100 80GB HBM3\"} 70
# TYPE DCGM_FI_DEV_POWER_USAGE gauge
DCGM_FI_DEV_POWER_USAGE{gpu=\"0\",UUID=\"GPU-a\"} 400.5
DCGM_FI_DEV_POWER_USAGE{gpu=\"1\",UUID=\"GPU-b\"} 300
# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu=\"0\",UUID=\"GPU-a\"} 1000000
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu=\"1\",UUID=\"GPU-b\"} 2000000
# TYPE DCGM_FI_DEV_CLOCKS_EVENT_REASONS gauge
DCGM_FI_DEV_CLOCKS_EVENT_REASONS{gpu=\"0\",UUID=\"GPU-a\"} 1
DCGM_FI_DEV_CLOCKS_EVENT_REASONS{gpu=\"1\",UUID=\"GPU-b\"} 4
";

    #[test]
    fn gpus_are_summed_or_averaged_and_throttle_bits_or_ed() {
        let r = GpuReading::read(&Exposition::parse(TWO_GPUS).unwrap()).unwrap();
        assert_eq!(r.gpus, 2);
        assert_eq!(r.util_pct, Some(80.0));
        assert_eq!(r.power_w, Some(700.5));
        assert_eq!(r.energy_mj, Some(3_000_000.0));
        assert_eq!(r.throttle_reasons, Some(5));
        assert!(r.throttled(), "GPU 1 is at its power cap");
        assert_eq!(r.memory_used_mib, None);
    }

    #[test]
    fn a_reason_two_gpus_share_stays_set() {
        let both = TWO_GPUS.replace("GPU-a\"} 1", "GPU-a\"} 4");
        let r = GpuReading::read(&Exposition::parse(&both).unwrap()).unwrap();
        assert_eq!(r.throttle_reasons, Some(4));
    }

    #[test]
    fn idle_or_sync_boost_is_not_throttling() {
        let r = GpuReading {
            throttle_reasons: Some(0x1 | 0x2 | 0x10),
            ..GpuReading::default()
        };
        assert!(!r.throttled());
        for bit in [0x4, 0x8, 0x20, 0x40, 0x80] {
            let r = GpuReading {
                throttle_reasons: Some(bit),
                ..GpuReading::default()
            };
            assert!(r.throttled(), "{bit:#x}");
        }
    }

    #[test]
    fn an_exposition_without_dcgm_families_is_no_gpu() {
        let e = Exposition::parse("vllm:num_requests_running 1\n").unwrap();
        assert_eq!(GpuReading::read(&e), None);
    }
}
