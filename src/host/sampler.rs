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
    /// Per engine, its listening sockets' inodes when last looked for, and whose they
    /// were: the costly search for their holders runs again only when the sockets change
    /// (the engine restarted).
    known: Mutex<HashMap<usize, (Vec<u64>, Found)>>,
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

    /// Every engine's processes now: reads the socket tables, and searches for the holders
    /// of sockets not seen before.
    fn find(&self, own: u32) -> Vec<Found> {
        let local: Vec<(usize, u16)> = self
            .hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| match h {
                EngineHost::Local { port } => Some((i, *port)),
                EngineHost::Remote => None,
            })
            .collect();
        let ports: Vec<u16> = local.iter().map(|&(_, port)| port).collect();
        let sockets = listening(&self.root, &ports);
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let stale: Vec<usize> = (0..local.len())
            .filter(|&k| known.get(&local[k].0).is_none_or(|(s, _)| *s != sockets[k]))
            .collect();
        if !stale.is_empty() {
            let sets: Vec<Vec<u64>> = stale.iter().map(|&k| sockets[k].clone()).collect();
            for (&k, pids) in stale.iter().zip(holders(&self.root, &sets)) {
                let found = if pids.contains(&own) {
                    Found::InProcess
                } else if pids.is_empty() {
                    Found::NotFound
                } else {
                    Found::Local(pids)
                };
                known.insert(local[k].0, (sockets[k].clone(), found));
            }
        }
        (0..self.hosts.len())
            .map(|i| known.get(&i).map_or(Found::Remote, |(_, f)| f.clone()))
            .collect()
    }
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

    /// A fake `/proc` with a LISTEN socket on 8000 of `inode` held by pid 123 (a child of
    /// pid 1), and nothing on 8001.
    fn fake_proc(root: &std::path::Path, inode: u64) {
        std::fs::create_dir_all(root.join("net")).unwrap();
        std::fs::write(
            root.join("net/tcp"),
            format!(
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                 0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 {inode} 1\n"
            ),
        )
        .unwrap();
        let fd = root.join("123/fd");
        let _ = std::fs::remove_dir_all(&fd);
        std::fs::create_dir_all(&fd).unwrap();
        std::os::unix::fs::symlink(format!("socket:[{inode}]"), fd.join("3")).unwrap();
        std::os::unix::fs::symlink("/dev/null", fd.join("4")).unwrap();
        std::fs::write(
            root.join("123/stat"),
            "123 (vllm) S 1 123 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 77 0 0",
        )
        .unwrap();
    }

    #[test]
    fn engines_are_found_by_port_once_and_again_when_their_socket_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake_proc(root, 555);
        let targets = Targets {
            root: root.to_path_buf(),
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
        // The same socket: the holders are not searched again (the fd is gone, the answer
        // stays).
        std::fs::remove_dir_all(root.join("123/fd")).unwrap();
        assert_eq!(targets.find(999)[0], Found::Local(vec![123]));
        // A new socket (the engine restarted): searched again.
        fake_proc(root, 556);
        assert_eq!(targets.find(999)[0], Found::Local(vec![123]));
        std::fs::remove_dir_all(root.join("123/fd")).unwrap();
        fake_proc(root, 557);
        std::fs::remove_dir_all(root.join("123/fd")).unwrap();
        assert_eq!(
            targets.find(999)[0],
            Found::NotFound,
            "nobody holds socket 557"
        );
        // llmsweep's own socket: the built-in simulator.
        fake_proc(root, 558);
        assert_eq!(targets.find(123)[0], Found::InProcess);
    }

    #[test]
    fn thread_cpu_time_grows_with_this_threads_work_only() {
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

    #[test]
    fn clock_ticks_are_positive() {
        assert!(clock_ticks_per_second() >= 1.0);
    }
}
