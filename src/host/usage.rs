//! From snapshots to a level's [`HostReport`]: each process's CPU between the first and the
//! last time it was seen, the machine's busy and steal cores, and which processes are whose
//! engine's. Pure: the sampler feeds it snapshots.

use std::collections::HashMap;

use super::snapshot::Snapshot;
use crate::results::host::{EngineCpu, EngineLocation, HostProcess, HostReport};

/// Processes kept in [`HostReport::top`].
pub const TOP: usize = 3;
/// Below this a process is not worth naming, cores.
const NAMED_MIN_CORES: f64 = 0.005;

/// An engine's processes, as found at the level's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The topmost processes holding its listening socket.
    Local(Vec<u32>),
    NotFound,
    InProcess,
    Remote,
}

/// What is known of a process over the level.
#[derive(Debug, Clone)]
struct Seen {
    command: String,
    /// Its CPU ticks when first seen: 0 for a process that started during the level.
    first_ticks: u64,
    last_ticks: u64,
    /// The engine whose processes it was among, when it was.
    engine: Option<usize>,
}

/// Every process seen over a level, keyed by (pid, start time) so a reused pid is another
/// process.
pub struct Usage {
    first: Snapshot,
    last: Option<Snapshot>,
    seen: HashMap<(u32, u64), Seen>,
    found: Vec<Found>,
    samples: u32,
}

impl Usage {
    /// Starts from the level's first snapshot and each engine's processes found then.
    pub fn new(first: Snapshot, found: Vec<Found>) -> Usage {
        let mut usage = Usage {
            first: first.clone(),
            last: None,
            seen: HashMap::new(),
            found,
            samples: 0,
        };
        usage.fold(&first, true);
        usage
    }

    /// Adds a later snapshot.
    pub fn add(&mut self, snap: Snapshot) {
        self.fold(&snap, false);
        self.last = Some(snap);
    }

    fn fold(&mut self, snap: &Snapshot, first: bool) {
        self.samples += 1;
        let mut owner: HashMap<u32, usize> = HashMap::new();
        for (engine, found) in self.found.iter().enumerate() {
            if let Found::Local(roots) = found {
                for &root in roots {
                    for pid in snap.family(root) {
                        owner.insert(pid, engine);
                    }
                }
            }
        }
        for (&pid, stat) in &snap.procs {
            let seen = self.seen.entry((pid, stat.start)).or_insert_with(|| Seen {
                command: stat.command.clone(),
                first_ticks: if first { stat.ticks } else { 0 },
                last_ticks: stat.ticks,
                engine: None,
            });
            seen.last_ticks = seen.last_ticks.max(stat.ticks);
            if let Some(&engine) = owner.get(&pid) {
                seen.engine = Some(engine);
            }
        }
    }

    /// The level's report: `names` are the configured engines', `under_test` the measured
    /// one's index, `own` llmsweep's pid, `hz` the kernel's clock ticks per second. `None`
    /// before a second snapshot.
    pub fn report(
        &self,
        names: &[String],
        under_test: usize,
        own: u32,
        hz: f64,
    ) -> Option<HostReport> {
        let last = self.last.as_ref()?;
        let wall_s = last.taken.duration_since(self.first.taken).as_secs_f64();
        let cores_of = |s: &Seen| {
            if wall_s > 0.0 && hz > 0.0 {
                s.last_ticks.saturating_sub(s.first_ticks) as f64 / hz / wall_s
            } else {
                0.0
            }
        };
        let total = last.cpu.total().saturating_sub(self.first.cpu.total());
        let share = |ticks: u64| {
            if total == 0 {
                0.0
            } else {
                f64::from(last.cpus) * ticks as f64 / total as f64
            }
        };
        let busy_cores = share(last.cpu.busy.saturating_sub(self.first.cpu.busy));
        let steal_cores = share(last.cpu.steal.saturating_sub(self.first.cpu.steal));
        let client_cores: f64 = self
            .seen
            .iter()
            .filter(|((pid, _), _)| *pid == own)
            .map(|(_, s)| cores_of(s))
            .sum();
        let engines: Vec<EngineCpu> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let found = self.found.get(i).unwrap_or(&Found::Remote);
                let mine = || self.seen.values().filter(move |s| s.engine == Some(i));
                let (location, pid, processes, cores) = match found {
                    Found::Local(roots) => (
                        EngineLocation::Local,
                        roots.first().copied(),
                        mine().count() as u32,
                        Some(mine().map(cores_of).sum()),
                    ),
                    Found::NotFound => (EngineLocation::NotFound, None, 0, None),
                    Found::InProcess => (EngineLocation::InProcess, Some(own), 0, None),
                    Found::Remote => (EngineLocation::Remote, None, 0, None),
                };
                EngineCpu {
                    engine: name.clone(),
                    under_test: i == under_test,
                    location,
                    pid,
                    processes,
                    cores,
                }
            })
            .collect();
        let engines_cores: f64 = engines.iter().filter_map(|e| e.cores).sum();
        let mut top: Vec<HostProcess> = self
            .seen
            .iter()
            .filter(|((pid, _), _)| *pid != own)
            .map(|((pid, _), s)| HostProcess {
                pid: *pid,
                command: s.command.clone(),
                cores: cores_of(s),
                engine: s.engine.and_then(|e| names.get(e).cloned()),
            })
            .filter(|p| p.cores >= NAMED_MIN_CORES)
            .collect();
        top.sort_by(|a, b| b.cores.total_cmp(&a.cores).then(a.pid.cmp(&b.pid)));
        top.truncate(TOP);
        Some(HostReport {
            cores: last.cpus,
            busy_cores,
            steal_cores,
            client_cores,
            other_cores: (busy_cores - client_cores - engines_cores).max(0.0),
            top,
            engines,
            samples: self.samples,
            // The sampler fills it in: only it knows its thread's CPU time.
            sampling_cpu_ms: 0.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::host::procfs::{CpuTimes, ProcStat};

    const OWN: u32 = 100;

    fn proc(command: &str, ppid: u32, ticks: u64) -> ProcStat {
        ProcStat {
            command: command.into(),
            ppid,
            ticks,
            start: 7,
        }
    }

    /// A 2-CPU box at `at_s` with `busy`/`idle`/`steal` ticks so far and these processes.
    fn snap(t0: Instant, at_s: u64, cpu: (u64, u64, u64), procs: &[(u32, ProcStat)]) -> Snapshot {
        Snapshot {
            taken: t0 + Duration::from_secs(at_s),
            cpu: CpuTimes {
                busy: cpu.0,
                idle: cpu.1,
                steal: cpu.2,
            },
            cpus: 2,
            procs: procs.iter().cloned().collect(),
        }
    }

    fn names() -> Vec<String> {
        vec!["A".into(), "B".into(), "C".into()]
    }

    #[test]
    fn cores_are_ticks_over_the_wall_time_and_the_box_is_shared_out() {
        let t0 = Instant::now();
        // 2 s, hz 100: 200 ticks = 1 core. The box: 400 ticks of 2 CPUs over 2 s = 800.
        let first = snap(
            t0,
            0,
            (1000, 1000, 10),
            &[
                (OWN, proc("llmsweep", 1, 50)),
                (200, proc("vllm", 1, 1000)),
                (201, proc("EngineCore", 200, 5000)),
                (300, proc("yes", 1, 0)),
                (400, proc("idle", 1, 9)),
            ],
        );
        let last = snap(
            t0,
            2,
            (1000 + 700, 1000 + 60, 10 + 40),
            &[
                (OWN, proc("llmsweep", 1, 50 + 40)),        // 0.2 core
                (200, proc("vllm", 1, 1000 + 20)),          // 0.1
                (201, proc("EngineCore", 200, 5000 + 300)), // 1.5
                (300, proc("yes", 1, 190)),                 // 0.95
                (400, proc("idle", 1, 9)),                  // 0
                // Started during the level, a child of the engine: all its ticks count.
                (202, proc("worker", 201, 10)), // 0.05
            ],
        );
        let mut usage = Usage::new(
            first,
            vec![Found::Local(vec![200]), Found::Remote, Found::InProcess],
        );
        assert!(
            usage.report(&names(), 0, OWN, 100.0).is_none(),
            "one snapshot is no interval"
        );
        usage.add(last);
        let r = usage.report(&names(), 1, OWN, 100.0).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(r.cores, 2);
        // 800 ticks over 2 CPUs: 700 busy = 1.75 cores, 40 steal = 0.1.
        assert!(close(r.busy_cores, 1.75), "{}", r.busy_cores);
        assert!(close(r.steal_cores, 0.1), "{}", r.steal_cores);
        assert!(close(r.client_cores, 0.2), "{}", r.client_cores);
        let a = &r.engines[0];
        assert_eq!(
            (
                a.engine.as_str(),
                a.under_test,
                a.location,
                a.pid,
                a.processes
            ),
            ("A", false, EngineLocation::Local, Some(200), 3)
        );
        assert!(close(a.cores.unwrap(), 0.1 + 1.5 + 0.05), "{a:?}");
        assert_eq!(r.engines[1].location, EngineLocation::Remote);
        assert!(r.engines[1].under_test);
        assert_eq!(r.engines[1].cores, None);
        assert_eq!(r.engines[2].location, EngineLocation::InProcess);
        // 1.75 − 0.2 (client) − 1.65 (A) = −0.1: never below 0.
        assert_eq!(r.other_cores, 0.0);
        let top: Vec<(u32, &str, Option<&str>)> = r
            .top
            .iter()
            .map(|p| (p.pid, p.command.as_str(), p.engine.as_deref()))
            .collect();
        assert_eq!(
            top,
            [
                (201, "EngineCore", Some("A")),
                (300, "yes", None),
                (200, "vllm", Some("A"))
            ],
            "the busiest three, llmsweep itself left out"
        );
        assert!(close(r.top[1].cores, 0.95));
        assert_eq!(r.samples, 2);
    }

    #[test]
    fn other_cores_are_what_neither_the_client_nor_an_engine_used() {
        let t0 = Instant::now();
        let first = snap(t0, 0, (0, 0, 0), &[(OWN, proc("llmsweep", 1, 0))]);
        let mid = snap(
            t0,
            1,
            (150, 50, 0),
            &[(OWN, proc("llmsweep", 1, 30)), (300, proc("spin", 1, 80))],
        );
        // The spinner exited before the end: it still counts up to when it was last seen.
        let last = snap(t0, 2, (300, 100, 0), &[(OWN, proc("llmsweep", 1, 60))]);
        let mut usage = Usage::new(first, vec![Found::NotFound]);
        usage.add(mid);
        usage.add(last);
        let r = usage.report(&["A".into()], 0, OWN, 100.0).unwrap();
        // 300 of 400 ticks busy on 2 CPUs = 1.5 cores; client 0.3; spin 0.4.
        assert!((r.busy_cores - 1.5).abs() < 1e-9);
        assert!((r.client_cores - 0.3).abs() < 1e-9);
        assert!((r.other_cores - 1.2).abs() < 1e-9, "{}", r.other_cores);
        assert_eq!(r.top[0].command, "spin");
        assert!((r.top[0].cores - 0.4).abs() < 1e-9);
        assert_eq!(r.engines[0].location, EngineLocation::NotFound);
        assert_eq!(r.samples, 3);
    }

    #[test]
    fn two_readings_at_one_instant_give_zero_cores_not_infinity() {
        let t0 = Instant::now();
        let first = snap(t0, 0, (100, 100, 0), &[(OWN, proc("llmsweep", 1, 10))]);
        let same = snap(t0, 0, (100, 100, 0), &[(OWN, proc("llmsweep", 1, 20))]);
        let mut usage = Usage::new(first, Vec::new());
        usage.add(same);
        let r = usage.report(&[], 0, OWN, 100.0).unwrap();
        assert_eq!(
            (r.client_cores, r.busy_cores, r.steal_cores),
            (0.0, 0.0, 0.0)
        );
        // No clock ticks known: no cores either.
        let first = snap(t0, 0, (0, 0, 0), &[(OWN, proc("llmsweep", 1, 10))]);
        let later = snap(t0, 1, (100, 100, 0), &[(OWN, proc("llmsweep", 1, 20))]);
        let mut usage = Usage::new(first, Vec::new());
        usage.add(later);
        assert_eq!(usage.report(&[], 0, OWN, 0.0).unwrap().client_cores, 0.0);
    }

    #[test]
    fn a_reused_pid_is_another_process() {
        let t0 = Instant::now();
        let mut old = proc("old", 1, 500);
        old.start = 1;
        let mut new = proc("new", 1, 20);
        new.start = 99;
        let first = snap(t0, 0, (0, 0, 0), &[(300, old)]);
        let last = snap(t0, 1, (100, 100, 0), &[(300, new)]);
        let mut usage = Usage::new(first, Vec::new());
        usage.add(last);
        let r = usage.report(&[], 0, OWN, 100.0).unwrap();
        // The new process's 20 ticks, not 20 − 500 (nor 0).
        assert_eq!(r.top.len(), 1);
        assert_eq!(r.top[0].command, "new");
        assert!((r.top[0].cores - 0.2).abs() < 1e-9);
    }
}
