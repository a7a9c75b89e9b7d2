//! The client's own health during a level: event-loop lag and process CPU. A benchmark that
//! lies about the engine is worse than none, so a level where llmsweep itself may have been
//! the limit says so (results, and a warning on screen).

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::results::model::LevelSummary;

/// How often the lag probe wakes.
const PROBE: Duration = Duration::from_millis(10);
/// Loop lag p99 above this suggests requests were stamped late or started late.
pub const LAG_LIMIT_MS: f64 = 5.0;
/// CPU above this share of the machine's cores suggests the client competed for CPU.
pub const CPU_SHARE_LIMIT: f64 = 0.85;

/// What the monitor saw over a level.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClientHealth {
    pub cpu_cores: f64,
    pub loop_lag_p99_ms: f64,
    pub limited: bool,
}

impl ClientHealth {
    /// Copies the readings into a level's summary.
    pub fn apply(&self, summary: &mut LevelSummary) {
        summary.client_cpu_cores = self.cpu_cores;
        summary.client_loop_lag_p99_ms = self.loop_lag_p99_ms;
        summary.client_limited = self.limited;
    }

    /// The warning to show when the client may have been the limit.
    pub fn warning(&self, level_label: &str) -> Option<String> {
        self.limited.then(|| {
            format!(
                "client may be the bottleneck at {level_label}: its event loop ran late (p99 {:.1} ms) using {:.2} cores — if that is low, other processes are competing for this machine's CPU; timings are inflated",
                self.loop_lag_p99_ms, self.cpu_cores
            )
        })
    }
}

/// A running monitor; [`HealthMonitor::finish`] stops it and returns the readings.
pub struct HealthMonitor {
    lag_us: Arc<Mutex<Histogram<u64>>>,
    probe: JoinHandle<()>,
    started: Instant,
    cpu_start_s: f64,
}

impl HealthMonitor {
    pub fn start() -> HealthMonitor {
        // 1 µs .. 1 h, valid constants.
        let lag_us = Arc::new(Mutex::new(
            Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid histogram bounds"),
        ));
        let probe = {
            let lag_us = lag_us.clone();
            tokio::spawn(async move {
                let mut deadline = Instant::now() + PROBE;
                loop {
                    tokio::time::sleep_until(deadline).await;
                    let late = Instant::now().saturating_duration_since(deadline);
                    lag_us
                        .lock()
                        .await
                        .saturating_record(late.as_micros().max(1) as u64);
                    deadline = Instant::now() + PROBE;
                }
            })
        };
        HealthMonitor {
            lag_us,
            probe,
            started: Instant::now(),
            cpu_start_s: process_cpu_seconds(),
        }
    }

    pub async fn finish(self) -> ClientHealth {
        self.probe.abort();
        let wall_s = self.started.elapsed().as_secs_f64();
        let cpu_cores = cores_used(self.cpu_start_s, process_cpu_seconds(), wall_s);
        let lag = self.lag_us.lock().await;
        let loop_lag_p99_ms = lag_p99_ms(&lag);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        ClientHealth {
            cpu_cores,
            loop_lag_p99_ms,
            limited: limited(loop_lag_p99_ms, cpu_cores, cores, lag.len()),
        }
    }
}

/// The probe's lateness p99, ms (0 with no probe yet).
fn lag_p99_ms(lag_us: &Histogram<u64>) -> f64 {
    if lag_us.is_empty() {
        0.0
    } else {
        lag_us.value_at_quantile(0.99) as f64 / 1e3
    }
}

/// Cores the process used on average between two readings of its CPU time, `wall_s` apart.
fn cores_used(cpu_before_s: f64, cpu_after_s: f64, wall_s: f64) -> f64 {
    if wall_s > 0.0 {
        ((cpu_after_s - cpu_before_s) / wall_s).max(0.0)
    } else {
        0.0
    }
}

/// The client may have been the limit: its loop ran late (p99 above [`LAG_LIMIT_MS`]) or it
/// used more than [`CPU_SHARE_LIMIT`] of the machine's cores. A level shorter than ten probes
/// says nothing either way.
fn limited(loop_lag_p99_ms: f64, cpu_cores: f64, cores: f64, probes: u64) -> bool {
    probes >= 10 && (loop_lag_p99_ms > LAG_LIMIT_MS || cpu_cores > CPU_SHARE_LIMIT * cores)
}

/// User + system CPU time of this process so far, seconds (0 where unavailable).
pub fn process_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer we own; RUSAGE_SELF is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: getrusage returned 0, so the struct is initialised.
    let usage = unsafe { usage.assume_init() };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_limited_above_5_ms_of_lag_or_85_percent_of_the_cores() {
        assert!(
            !limited(5.0, 1.0, 2.0, 100),
            "5.0 ms is the limit, not above it"
        );
        assert!(limited(5.01, 1.0, 2.0, 100));
        assert!(
            !limited(1.0, 1.7, 2.0, 100),
            "1.7 of 2 cores is exactly 85 %"
        );
        assert!(limited(1.0, 1.71, 2.0, 100));
        assert!(limited(1.0, 3.5, 4.0, 100));
        assert!(!limited(1.0, 3.4, 4.0, 100));
        // Too few probes to say: never limited.
        assert!(!limited(50.0, 4.0, 2.0, 9));
        assert!(limited(50.0, 0.1, 2.0, 10));
    }

    #[test]
    fn lag_p99_is_in_milliseconds() {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 2).unwrap();
        assert_eq!(lag_p99_ms(&h), 0.0);
        for _ in 0..100 {
            h.record(7_000).unwrap();
        }
        let p99 = lag_p99_ms(&h);
        assert!((p99 - 7.0).abs() < 0.1, "{p99}");
    }

    #[test]
    fn cores_used_is_cpu_time_over_wall_time() {
        assert_eq!(cores_used(2.0, 5.0, 2.0), 1.5);
        assert_eq!(
            cores_used(5.0, 4.0, 2.0),
            0.0,
            "a clock going back is no use"
        );
        assert_eq!(cores_used(1.0, 2.0, 0.0), 0.0);
    }

    #[test]
    fn apply_copies_every_reading_into_the_summary() {
        let mut summary = LevelSummary::default();
        ClientHealth {
            cpu_cores: 0.75,
            loop_lag_p99_ms: 6.5,
            limited: true,
        }
        .apply(&mut summary);
        assert_eq!(
            (
                summary.client_cpu_cores,
                summary.client_loop_lag_p99_ms,
                summary.client_limited
            ),
            (0.75, 6.5, true)
        );
    }

    #[test]
    fn cpu_seconds_grow_with_work() {
        let before = process_cpu_seconds();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(process_cpu_seconds() > before);
    }

    /// utime + stime of this process from /proc, s (Linux; clock ticks of 1/100 s).
    fn proc_cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields[i - 3].parse::<f64>().expect("ticks");
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(14) + ticks(15)) / hz
    }

    #[test]
    fn cpu_seconds_are_user_plus_system_time() {
        // Spend system time too (syscalls), so user − system or user × system stand out.
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(150) {
            let _ = std::hint::black_box(std::fs::metadata("/"));
        }
        let low = proc_cpu_seconds();
        let ours = process_cpu_seconds();
        let high = proc_cpu_seconds();
        assert!(
            ours >= low - 0.03 && ours <= high + 0.03,
            "getrusage {ours:.3} s, /proc {low:.3}–{high:.3} s"
        );
    }

    #[test]
    fn warning_only_when_limited() {
        let ok = ClientHealth {
            cpu_cores: 0.3,
            loop_lag_p99_ms: 0.2,
            limited: false,
        };
        assert_eq!(ok.warning("C=8"), None);
        let busy = ClientHealth {
            cpu_cores: 1.9,
            loop_lag_p99_ms: 12.0,
            limited: true,
        };
        assert!(busy
            .warning("C=8")
            .unwrap()
            .contains("client may be the bottleneck at C=8"));
    }
}
