//! The per-level sampler: a thread of its own reads `/proc` when the level starts, about
//! once a second while it runs (less often where a reading costs more than 2.5 ms of CPU,
//! so sampling stays under a quarter of a percent of a core), and when it ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::engines::{holders, listening, locate, EngineHost};
use super::procfs::parse_pid_stat;
use super::snapshot::Snapshot;
use super::usage::{Found, Usage};
use crate::results::host::HostReport;

/// Shortest gap between two readings.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// A reading may take at most 1/400 of the gap after it (0.25 % of a core).
const COST_SHARE: u32 = 400;

/// The run's engines, as the sampler needs them: names, where each one's URL points, and
/// the processes last found listening on the local ones' ports.
#[derive(Debug)]
pub struct Targets {
    pub root: PathBuf,
    pub names: Vec<String>,
    pub hosts: Vec<EngineHost>,
    /// Per local engine, who held its listening socket when last looked for: the costly
    /// search runs again only when they are gone (the engine restarted) or were not found.
    known: Mutex<HashMap<usize, Holders>>,
}

impl Targets {
    /// Decides for every engine whether its URL is on this machine, and finds the local
    /// ones' processes, so a level's sampling only checks they are the same. Blocking (host
    /// names are resolved, `/proc` is searched): call it off the runtime, once per run.
    pub fn locate(names: Vec<String>, urls: &[String]) -> Targets {
        let targets = Targets {
            root: PathBuf::from("/proc"),
            names,
            hosts: urls.iter().map(|u| locate(u)).collect(),
            known: Mutex::new(HashMap::new()),
        };
        targets.find(std::process::id());
        targets
    }

    /// Every engine's processes now. Reading the socket tables costs ≈ 8 ms here whatever
    /// their size (the kernel walks its whole hash table) and searching every process's fds
    /// ≈ 10 ms, so a level only checks that the holders found before are still alive (one
    /// `/proc/<pid>/stat` each, with the same start time); the tables and the fds are read
    /// again for engines whose holder is gone (restarted) or was never found.
    fn find(&self, own: u32) -> Vec<Found> {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let stale: Vec<(usize, u16)> = self
            .hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| match h {
                EngineHost::Local { port } => Some((i, *port)),
                EngineHost::Remote => None,
            })
            .filter(|&(i, _)| match known.get(&i) {
                Some(Holders::InProcess) => false,
                Some(Holders::Alive(pids)) => !pids
                    .iter()
                    .all(|&(pid, start)| self.start_of(pid) == Some(start)),
                Some(Holders::None) | None => true,
            })
            .collect();
        if !stale.is_empty() {
            let ports: Vec<u16> = stale.iter().map(|&(_, port)| port).collect();
            let sockets = listening(&self.root, &ports);
            for (&(i, _), pids) in stale.iter().zip(holders(&self.root, &sockets)) {
                let holders = if pids.contains(&own) {
                    Holders::InProcess
                } else {
                    let alive: Vec<(u32, u64)> = pids
                        .iter()
                        .filter_map(|&pid| Some((pid, self.start_of(pid)?)))
                        .collect();
                    if alive.is_empty() {
                        Holders::None
                    } else {
                        Holders::Alive(alive)
                    }
                };
                known.insert(i, holders);
            }
        }
        (0..self.hosts.len())
            .map(|i| match known.get(&i) {
                None => Found::Remote,
                Some(Holders::None) => Found::NotFound,
                Some(Holders::InProcess) => Found::InProcess,
                Some(Holders::Alive(pids)) => {
                    Found::Local(pids.iter().map(|&(pid, _)| pid).collect())
                }
            })
            .collect()
    }

    /// When `pid` started (clock ticks after boot), if it is alive.
    fn start_of(&self, pid: u32) -> Option<u64> {
        let text = std::fs::read_to_string(self.root.join(pid.to_string()).join("stat")).ok()?;
        parse_pid_stat(&text).map(|s| s.start)
    }
}

/// Who held an engine's listening socket when last looked for.
#[derive(Debug)]
enum Holders {
    /// Processes (pid, start time) that are still checked for at each level.
    Alive(Vec<(u32, u64)>),
    /// llmsweep itself: never looked for again.
    InProcess,
    /// Nobody visible: looked for again at each level.
    None,
}

/// Sampling one level; [`HostSampler::finish`] stops it and returns the report.
pub struct HostSampler {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Option<HostReport>>,
}

impl HostSampler {
    /// Starts sampling for a level of engine `under_test`.
    pub fn start(targets: Arc<Targets>, under_test: usize) -> std::io::Result<HostSampler> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("llmsweep-host".into())
            .spawn(move || sample(&targets, under_test, &stopped))?;
        Ok(HostSampler { stop, thread })
    }

    /// Takes the last reading and returns the level's report (`None` without `/proc`).
    pub async fn finish(self) -> Option<HostReport> {
        let HostSampler { stop, thread } = self;
        // The thread may have ended already (no /proc): then the send fails, harmlessly.
        let _ = stop.send(());
        tokio::task::spawn_blocking(move || thread.join().ok().flatten())
            .await
            .ok()
            .flatten()
    }
}

fn sample(
    targets: &Targets,
    under_test: usize,
    stopped: &mpsc::Receiver<()>,
) -> Option<HostReport> {
    let own = std::process::id();
    let cpu_before = thread_cpu_ms();
    let first = Snapshot::read(&targets.root)?;
    let cost = cpu_since(cpu_before);
    let found = targets.find(own);
    let mut usage = Usage::new(first, found);
    // Finding the listeners (once per level) is not part of the periodic cost.
    let mut gap = next_gap(cost);
    // Until stopped (or the level's side is gone): a reading per gap.
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(gap) {
        let cpu_before = thread_cpu_ms();
        usage.add(Snapshot::read(&targets.root)?);
        gap = next_gap(cpu_since(cpu_before));
    }
    usage.add(Snapshot::read(&targets.root)?);
    let mut report = usage.report(&targets.names, under_test, own, clock_ticks_per_second())?;
    report.sampling_cpu_ms = thread_cpu_ms();
    Some(report)
}

/// CPU time this thread has used, ms (0 where the clock is unavailable).
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec into the pointer we own; the clock id is valid.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return 0.0;
    }
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

/// This thread's CPU time since `before_ms` (a [`thread_cpu_ms`] reading). CPU, not wall
/// time: on a busy box a reading waits for a core, which costs nothing.
fn cpu_since(before_ms: f64) -> Duration {
    Duration::from_secs_f64(((thread_cpu_ms() - before_ms) / 1e3).max(0.0))
}

/// The gap before the next reading, after one that cost `cost` of CPU.
fn next_gap(cost: Duration) -> Duration {
    MIN_INTERVAL.max(cost * COST_SHARE)
}

/// The kernel's clock ticks per second (`/proc`'s unit of process CPU time).
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn readings_are_a_second_apart_or_400_times_their_cost() {
        assert_eq!(next_gap(Duration::from_millis(1)), Duration::from_secs(1));
        assert_eq!(
            next_gap(Duration::from_micros(2500)),
            Duration::from_secs(1)
        );
        assert_eq!(next_gap(Duration::from_millis(5)), Duration::from_secs(2));
    }

    /// A fake `/proc`: LISTEN sockets `(port, inode)`, and processes `(pid, start, inodes
    /// held)`, each a child of pid 1.
    fn fake_proc(root: &std::path::Path, sockets: &[(u16, u64)], procs: &[(u32, u64, &[u64])]) {
        let _ = std::fs::remove_dir_all(root);
        std::fs::create_dir_all(root.join("net")).unwrap();
        let mut tcp = String::from("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
        for (i, (port, inode)) in sockets.iter().enumerate() {
            tcp.push_str(&format!(
                "{i}: 0100007F:{port:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 {inode} 1\n"
            ));
        }
        std::fs::write(root.join("net/tcp"), tcp).unwrap();
        for (pid, start, held) in procs {
            let fd = root.join(format!("{pid}/fd"));
            std::fs::create_dir_all(&fd).unwrap();
            for (n, inode) in held.iter().enumerate() {
                std::os::unix::fs::symlink(format!("socket:[{inode}]"), fd.join(n.to_string()))
                    .unwrap();
            }
            std::os::unix::fs::symlink("/dev/null", fd.join("99")).unwrap();
            std::fs::write(
                root.join(format!("{pid}/stat")),
                format!("{pid} (vllm) S 1 {pid} 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 {start} 0 0"),
            )
            .unwrap();
        }
    }

    #[test]
    fn engines_are_found_by_port_once_and_again_when_their_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proc");
        fake_proc(&root, &[(8000, 555)], &[(123, 77, &[555])]);
        let targets = Targets {
            root: root.clone(),
            names: vec!["A".into(), "B".into(), "far".into()],
            hosts: vec![
                EngineHost::Local { port: 8000 },
                EngineHost::Local { port: 8001 },
                EngineHost::Remote,
            ],
            known: Mutex::new(HashMap::new()),
        };
        let found = targets.find(999);
        assert_eq!(
            found,
            [Found::Local(vec![123]), Found::NotFound, Found::Remote]
        );
        // The holder still runs: not searched again (its fds are gone, the answer stays).
        fake_proc(&root, &[(8000, 555)], &[(123, 77, &[])]);
        assert_eq!(targets.find(999)[0], Found::Local(vec![123]));
        // The engine restarted (the pid reused by a later process): searched again.
        fake_proc(&root, &[(8000, 556)], &[(123, 90, &[]), (124, 91, &[556])]);
        assert_eq!(targets.find(999)[0], Found::Local(vec![124]));
        // Gone, and nobody else holds the port: not found.
        fake_proc(&root, &[], &[(125, 92, &[])]);
        assert_eq!(targets.find(999)[0], Found::NotFound);
        // Not found is looked for again: B came up, and A too; B's socket is llmsweep's own.
        fake_proc(
            &root,
            &[(8000, 557), (8001, 558)],
            &[(126, 93, &[557]), (999, 94, &[558])],
        );
        assert_eq!(
            targets.find(999),
            [Found::Local(vec![126]), Found::InProcess, Found::Remote]
        );
        // llmsweep's own socket is never looked for again.
        fake_proc(&root, &[], &[]);
        assert_eq!(targets.find(999)[1], Found::InProcess);
    }

    #[test]
    fn thread_cpu_time_grows_with_this_threads_work_only() {
        // (Another thread's spin is by wall time: under load it may get little CPU, which
        // only makes the first bound easier.)
        let before = thread_cpu_ms();
        // Another thread's work is not this one's.
        std::thread::spawn(|| {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(60) {
                std::hint::black_box(0u64);
            }
        })
        .join()
        .unwrap();
        let after_other = thread_cpu_ms();
        assert!(after_other - before < 20.0, "{before} → {after_other}");
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(60) {
            std::hint::black_box(0u64);
        }
        assert!(thread_cpu_ms() > after_other, "spinning here counts");
    }

    /// This thread's user + system time from `/proc/thread-self/stat`, ms (clock ticks of
    /// 10 ms): another clock than the one under test. `None` without `/proc`.
    fn proc_thread_cpu_ms() -> Option<f64> {
        let text = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        let stat = parse_pid_stat(&text)?;
        Some(stat.ticks as f64 * 1e3 / clock_ticks_per_second())
    }

    /// Spins until `/proc` says this thread used `ms` more of CPU (a loaded box gives a spin
    /// less CPU than its wall time).
    fn spin_cpu(ms: f64) {
        let start = proc_thread_cpu_ms().unwrap();
        while proc_thread_cpu_ms().unwrap() - start < ms {
            for _ in 0..10_000 {
                std::hint::black_box(0u64);
            }
        }
    }

    #[test]
    fn a_readings_cost_is_this_threads_cpu_since_before_it() {
        if proc_thread_cpu_ms().is_none() {
            return;
        }
        // A fresh thread: under a second of CPU, so the seconds field is 0 and the
        // milliseconds must come out of the nanoseconds right.
        std::thread::spawn(|| {
            let started = Instant::now();
            spin_cpu(40.0);
            let ms = thread_cpu_ms();
            let wall_ms = started.elapsed().as_secs_f64() * 1e3;
            // /proc counts whole ticks: 40 ms by it is at least 30 by the exact clock; CPU
            // time never exceeds wall time.
            assert!(
                ms >= 30.0 && ms <= wall_ms + 15.0,
                "{ms} ms CPU in {wall_ms} ms"
            );
            let before = thread_cpu_ms();
            let started = Instant::now();
            spin_cpu(30.0);
            let cost = cpu_since(before);
            assert!(
                cost >= Duration::from_millis(20)
                    && cost <= started.elapsed() + Duration::from_millis(15),
                "{cost:?} for 30 ms of CPU in {:?}",
                started.elapsed()
            );
            // Nothing done since: about nothing, never negative.
            assert!(cpu_since(thread_cpu_ms() + 5.0) == Duration::ZERO);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn clock_ticks_are_positive() {
        assert!(clock_ticks_per_second() >= 1.0);
    }
}
