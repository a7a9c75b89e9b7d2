//! The client's own health during a level: event-loop lag and process CPU. A benchmark that
//! lies about the engine is worse than none, so a level where llmsweep itself may have been
//! the limit says so (results, and a warning on screen).

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::results::host::{ClientState, HostProcess, HostReport};
use crate::results::model::LevelSummary;

/// How often the lag probe wakes.
const PROBE: Duration = Duration::from_millis(10);
/// Loop lag p99 above this suggests requests were stamped late or started late.
pub const LAG_LIMIT_MS: f64 = 5.0;
/// The client's CPU above this share of a core per runtime thread (or of the machine's
/// cores, when fewer) says the client itself was busy: it may have been the limit.
pub const CPU_SHARE_LIMIT: f64 = 0.85;
/// The machine's busy and stolen cores at or above this share of its cores: it was busy,
/// so a late loop was starved rather than unlucky.
pub const HOST_BUSY_SHARE: f64 = 0.8;
/// A process is named in a starved level's warning from this many cores up.
const NAMED_PROCESS_CORES: f64 = 0.1;
/// Fewer lag probes than this (a level under 0.1 s) say nothing either way.
const MIN_PROBES: u64 = 10;

/// What the monitor saw over a level.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClientHealth {
    /// CPU the llmsweep process used, cores.
    pub cpu_cores: f64,
    /// How late the 10 ms probe timer fired, p99, ms.
    pub loop_lag_p99_ms: f64,
    /// Probes that fired.
    pub probes: u64,
    /// The async runtime's worker threads.
    pub runtime_threads: usize,
    /// The machine's logical CPUs.
    pub cores: usize,
}

impl ClientHealth {
    /// Which of the cases the level was: the client busy, starved by a busy box, late for
    /// a reason it cannot see, or fine. `host` is the level's host report, when there is one.
    pub fn state(&self, host: Option<&HostReport>) -> ClientState {
        if self.probes < MIN_PROBES {
            return ClientState::Fine;
        }
        let threads = self.runtime_threads.clamp(1, self.cores.max(1)) as f64;
        if self.cpu_cores > CPU_SHARE_LIMIT * threads {
            return ClientState::Busy;
        }
        if self.loop_lag_p99_ms <= LAG_LIMIT_MS {
            return ClientState::Fine;
        }
        match host {
            Some(h) if h.busy_cores + h.steal_cores >= HOST_BUSY_SHARE * f64::from(h.cores) => {
                ClientState::Starved
            }
            _ => ClientState::Late,
        }
    }

    /// Copies the readings and the state into a level's summary.
    pub fn apply(&self, state: ClientState, summary: &mut LevelSummary) {
        summary.client_cpu_cores = self.cpu_cores;
        summary.client_loop_lag_p99_ms = self.loop_lag_p99_ms;
        summary.client_state = state;
        summary.client_limited = state != ClientState::Fine;
    }

    /// The warning for a level whose client timings may be off: who is to blame and what to
    /// do about it. `None` when the state is fine.
    pub fn warning(
        &self,
        state: ClientState,
        host: Option<&HostReport>,
        level_label: &str,
    ) -> Option<String> {
        let lag = late_by(self.loop_lag_p99_ms);
        Some(match state {
            ClientState::Fine => return None,
            ClientState::Busy => format!(
                "{level_label}: the client may be the limit: it used {:.2} cores with {} runtime thread{} (event-loop lag p99 {lag}): add threads (--threads) or a shard; the engine's numbers are understated",
                self.cpu_cores,
                self.runtime_threads,
                if self.runtime_threads == 1 { "" } else { "s" },
            ),
            ClientState::Starved => {
                let h = host?;
                let mut text = format!(
                    "{level_label}: the box was busy: {:.2} of {} cores in use",
                    h.busy_cores, h.cores
                );
                // The busiest processes (at most 3, each with a tenth of a core or more).
                let busiest: Vec<String> = h
                    .top
                    .iter()
                    .filter(|p| p.cores >= NAMED_PROCESS_CORES)
                    .map(|p| process_phrase(p, h))
                    .collect();
                if !busiest.is_empty() {
                    text.push_str(&format!(", the most by {}", busiest.join(", then ")));
                }
                if h.steal_cores >= 0.05 {
                    text.push_str(&format!(
                        ", and the hypervisor took {:.2} cores (steal)",
                        h.steal_cores
                    ));
                }
                text.push_str(&format!(
                    "; llmsweep itself used {:.2}: timings may be late by up to {lag} (event-loop lag p99)",
                    self.cpu_cores
                ));
                text
            }
            ClientState::Late => match host {
                Some(h) => format!(
                    "{level_label}: the client's event loop ran late (p99 {lag}) though it used {:.2} cores and the box was not busy ({:.2} of {} cores): timings may be late by up to {lag}; look for a CPU quota (cgroup) or throttling",
                    self.cpu_cores, h.busy_cores, h.cores
                ),
                None => format!(
                    "{level_label}: the client's event loop ran late (p99 {lag}) while it used {:.2} cores: other processes may have taken the CPU (this machine has no /proc to tell); timings may be late by up to {lag}",
                    self.cpu_cores
                ),
            },
        })
    }
}

/// `python3 (pid 4242, vLLM max-num-seqs 4, idle) with 1.70 cores`.
pub fn process_phrase(p: &HostProcess, host: &HostReport) -> String {
    let whose = match &p.engine {
        Some(name) => {
            let under_test = host
                .engines
                .iter()
                .any(|e| &e.engine == name && e.under_test);
            let role = if under_test { "under test" } else { "idle" };
            format!(", {name}, {role}")
        }
        None => String::new(),
    };
    format!(
        "{} (pid {}{whose}) with {:.2} cores",
        p.command, p.pid, p.cores
    )
}

/// A lateness for a sentence: `12.3 ms`, or `1.8 s` from a second on.
fn late_by(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1e3)
    } else {
        format!("{ms:.1} ms")
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
        ClientHealth {
            cpu_cores,
            loop_lag_p99_ms: lag_p99_ms(&lag),
            probes: lag.len(),
            runtime_threads: tokio::runtime::Handle::current().metrics().num_workers(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
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
    use crate::results::host::{EngineCpu, EngineLocation};

    /// 100 probes, 2 runtime threads on a 2-core box.
    fn health(cpu_cores: f64, lag_ms: f64) -> ClientHealth {
        ClientHealth {
            cpu_cores,
            loop_lag_p99_ms: lag_ms,
            probes: 100,
            runtime_threads: 2,
            cores: 2,
        }
    }

    /// A 2-core box `busy` cores busy, the busiest other process an idle engine's.
    fn host(busy: f64, steal: f64) -> HostReport {
        HostReport {
            cores: 2,
            busy_cores: busy,
            steal_cores: steal,
            client_cores: 0.05,
            other_cores: 0.0,
            top: vec![HostProcess {
                pid: 4242,
                command: "python3".into(),
                cores: 1.7,
                engine: Some("vLLM max-num-seqs 4".into()),
            }],
            engines: vec![
                EngineCpu {
                    engine: "vLLM default".into(),
                    under_test: true,
                    location: EngineLocation::Local,
                    ..EngineCpu::default()
                },
                EngineCpu {
                    engine: "vLLM max-num-seqs 4".into(),
                    under_test: false,
                    location: EngineLocation::Local,
                    ..EngineCpu::default()
                },
            ],
            samples: 3,
            sampling_cpu_ms: 0.0,
        }
    }

    #[test]
    fn a_client_near_a_core_per_runtime_thread_is_busy() {
        // 85 % of 2 threads = 1.7 cores: at it is not busy, above it is, lag or not.
        assert_eq!(health(1.7, 0.5).state(None), ClientState::Fine);
        assert_eq!(health(1.71, 0.5).state(None), ClientState::Busy);
        assert_eq!(
            health(1.71, 50.0).state(Some(&host(2.0, 0.0))),
            ClientState::Busy
        );
        // One runtime thread: 0.85 of a core is the limit, however many cores the box has.
        let one = ClientHealth {
            runtime_threads: 1,
            cores: 8,
            ..health(0.9, 0.5)
        };
        assert_eq!(one.state(None), ClientState::Busy);
        // More threads than cores: the cores are the limit.
        let many = ClientHealth {
            runtime_threads: 16,
            cores: 2,
            ..health(1.8, 0.5)
        };
        assert_eq!(many.state(None), ClientState::Busy);
        let text = one.warning(ClientState::Busy, None, "C=8").unwrap();
        assert_eq!(
            text,
            "C=8: the client may be the limit: it used 0.90 cores with 1 runtime thread (event-loop lag p99 0.5 ms): add threads (--threads) or a shard; the engine's numbers are understated"
        );
    }

    #[test]
    fn a_late_loop_on_a_busy_box_is_starved_and_names_the_busiest_process() {
        // 80 % of 2 cores busy (steal counts: the hypervisor took them) = starved.
        assert_eq!(
            health(0.05, 5.01).state(Some(&host(1.6, 0.0))),
            ClientState::Starved
        );
        assert_eq!(
            health(0.05, 5.01).state(Some(&host(1.5, 0.1))),
            ClientState::Starved
        );
        assert_eq!(
            health(0.05, 5.01).state(Some(&host(1.59, 0.0))),
            ClientState::Late
        );
        assert_eq!(
            health(0.05, 5.0).state(Some(&host(2.0, 0.0))),
            ClientState::Fine,
            "5 ms is the limit, not above it"
        );
        let mut h = host(1.95, 0.0);
        // Named after the busiest, from a tenth of a core up.
        h.top.push(HostProcess {
            pid: 17,
            command: "yes".into(),
            cores: 0.1,
            engine: None,
        });
        h.top.push(HostProcess {
            pid: 18,
            command: "sshd".into(),
            cores: 0.09,
            engine: None,
        });
        let text = health(0.02, 1800.0)
            .warning(ClientState::Starved, Some(&h), "C=8")
            .unwrap();
        assert_eq!(
            text,
            "C=8: the box was busy: 1.95 of 2 cores in use, the most by python3 (pid 4242, vLLM max-num-seqs 4, idle) with 1.70 cores, then yes (pid 17) with 0.10 cores; llmsweep itself used 0.02: timings may be late by up to 1.8 s (event-loop lag p99)"
        );
        let stolen = health(0.02, 12.0)
            .warning(ClientState::Starved, Some(&host(1.0, 0.7)), "C=8")
            .unwrap();
        assert!(
            stolen.contains(", and the hypervisor took 0.70 cores (steal); "),
            "{stolen}"
        );
        assert!(
            stolen.ends_with("late by up to 12.0 ms (event-loop lag p99)"),
            "{stolen}"
        );
    }

    #[test]
    fn a_late_loop_on_a_quiet_box_or_without_proc_is_late() {
        let quiet = host(0.4, 0.0);
        assert_eq!(health(0.1, 12.0).state(Some(&quiet)), ClientState::Late);
        assert_eq!(health(0.1, 12.0).state(None), ClientState::Late);
        assert_eq!(
            health(0.1, 12.0).warning(ClientState::Late, Some(&quiet), "2 req/s").unwrap(),
            "2 req/s: the client's event loop ran late (p99 12.0 ms) though it used 0.10 cores and the box was not busy (0.40 of 2 cores): timings may be late by up to 12.0 ms; look for a CPU quota (cgroup) or throttling"
        );
        assert!(health(0.1, 12.0)
            .warning(ClientState::Late, None, "C=8")
            .unwrap()
            .contains(
                "other processes may have taken the CPU (this machine has no /proc to tell)"
            ));
    }

    #[test]
    fn fine_levels_and_short_ones_say_nothing() {
        assert_eq!(
            health(0.3, 0.2).state(Some(&host(2.0, 0.0))),
            ClientState::Fine
        );
        assert_eq!(
            health(0.3, 0.2).warning(ClientState::Fine, None, "C=8"),
            None
        );
        // Too few probes to say: never flagged.
        let short = ClientHealth {
            probes: 9,
            ..health(4.0, 50.0)
        };
        assert_eq!(short.state(Some(&host(2.0, 0.0))), ClientState::Fine);
        assert_eq!(
            ClientHealth {
                probes: 10,
                ..short
            }
            .state(None),
            ClientState::Busy
        );
    }

    #[test]
    fn apply_copies_every_reading_and_the_state_into_the_summary() {
        let mut summary = LevelSummary::default();
        health(0.75, 6.5).apply(ClientState::Late, &mut summary);
        assert_eq!(
            (
                summary.client_cpu_cores,
                summary.client_loop_lag_p99_ms,
                summary.client_limited,
                summary.client_state
            ),
            (0.75, 6.5, true, ClientState::Late)
        );
        health(0.75, 6.5).apply(ClientState::Fine, &mut summary);
        assert!(!summary.client_limited);
    }

    #[test]
    fn the_engine_under_test_is_named_as_such() {
        let mut h = host(2.0, 0.0);
        h.top[0].engine = Some("vLLM default".into());
        assert_eq!(
            process_phrase(&h.top[0], &h),
            "python3 (pid 4242, vLLM default, under test) with 1.70 cores"
        );
        h.top[0].engine = None;
        assert_eq!(
            process_phrase(&h.top[0], &h),
            "python3 (pid 4242) with 1.70 cores"
        );
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
}
