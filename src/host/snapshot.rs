//! One reading of the machine: its CPU time and every visible process's, from `/proc`.
//! Blocking file reads: taken on the sampler's own thread, never on the runtime.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use super::procfs::{parse_pid_stat, parse_stat, CpuTimes, ProcStat};

/// The machine and its processes at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub taken: Instant,
    pub cpu: CpuTimes,
    /// Logical CPUs online.
    pub cpus: u32,
    /// Every process that could be read, by pid.
    pub procs: HashMap<u32, ProcStat>,
}

impl Snapshot {
    /// Reads `<root>/stat` and `<root>/<pid>/stat` for every pid; `None` when `<root>/stat`
    /// cannot be read or parsed (no `/proc`: not Linux, or a sandbox hiding it). Processes
    /// that exit while it reads are left out.
    pub fn read(root: &Path) -> Option<Snapshot> {
        let text = std::fs::read_to_string(root.join("stat")).ok()?;
        let (cpu, cpus) = parse_stat(&text)?;
        let taken = Instant::now();
        let mut procs = HashMap::new();
        let mut path = root.to_path_buf();
        for entry in std::fs::read_dir(root).ok()?.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            path.push(&name);
            path.push("stat");
            if let Some(stat) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| parse_pid_stat(&text))
            {
                procs.insert(pid, stat);
            }
            path.pop();
            path.pop();
        }
        Some(Snapshot {
            taken,
            cpu,
            cpus,
            procs,
        })
    }

    /// `pid` and every process below it (children, grandchildren, ...) in this snapshot.
    pub fn family(&self, pid: u32) -> Vec<u32> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for (&p, stat) in &self.procs {
            children.entry(stat.ppid).or_default().push(p);
        }
        let mut family = vec![pid];
        let mut seen = std::collections::HashSet::from([pid]);
        let mut next = 0;
        while let Some(&parent) = family.get(next) {
            // `seen`: pids read at different moments could form a loop; never follow one.
            let kids = children.get(&parent).into_iter().flatten();
            let new: Vec<u32> = kids.filter(|&&k| seen.insert(k)).copied().collect();
            family.extend(new);
            next += 1;
        }
        family
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(command: &str, ppid: u32) -> ProcStat {
        ProcStat {
            command: command.into(),
            ppid,
            ticks: 0,
            start: 0,
        }
    }

    #[test]
    fn a_family_is_the_process_and_all_its_descendants() {
        let snap = Snapshot {
            taken: Instant::now(),
            cpu: CpuTimes::default(),
            cpus: 2,
            procs: HashMap::from([
                (1, stat("init", 0)),
                (10, stat("vllm", 1)),
                (11, stat("EngineCore", 10)),
                (12, stat("worker", 11)),
                (20, stat("other", 1)),
            ]),
        };
        let mut family = snap.family(10);
        family.sort();
        assert_eq!(family, [10, 11, 12]);
        assert_eq!(snap.family(20), [20]);
    }

    #[test]
    fn this_machines_proc_has_this_process_in_it() {
        let Some(snap) = Snapshot::read(Path::new("/proc")) else {
            // Not Linux: nothing to read, and nothing read means no host report.
            assert!(!Path::new("/proc/stat").exists());
            return;
        };
        assert!(snap.cpus >= 1);
        let me = snap
            .procs
            .get(&std::process::id())
            .expect("this test process");
        assert!(me.ppid > 0);
        assert!(snap.cpu.total() > 0);
        assert_eq!(
            Snapshot::read(Path::new("/nonexistent-proc")).map(|s| s.cpus),
            None
        );
    }
}
