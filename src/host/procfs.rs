//! Parsers for the three `/proc` files the host sampler reads: `/proc/stat` (the machine's
//! CPU time), `/proc/<pid>/stat` (a process's) and `/proc/net/tcp{,6}` (listening sockets).
//! Pure functions of the files' text, so they are tested on fixed text.

/// The machine's CPU time since boot, in clock ticks, summed over every CPU
/// (`/proc/stat`'s `cpu` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    /// Ticks a CPU did anything: user, nice, system, irq and softirq (guest time is inside
    /// user and nice already).
    pub busy: u64,
    /// Ticks idle or waiting for I/O.
    pub idle: u64,
    /// Ticks the hypervisor ran something else while this machine wanted to run.
    pub steal: u64,
}

impl CpuTimes {
    pub fn total(&self) -> u64 {
        self.busy + self.idle + self.steal
    }
}

/// `/proc/stat`: the summed `cpu` line and the number of `cpuN` lines (logical CPUs
/// online). `None` when there is no `cpu` line.
pub fn parse_stat(text: &str) -> Option<(CpuTimes, u32)> {
    let mut times = None;
    let mut cpus = 0;
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        match fields.next() {
            Some("cpu") => {
                let v: Vec<u64> = fields.map(|f| f.parse().unwrap_or(0)).collect();
                let at = |i: usize| v.get(i).copied().unwrap_or(0);
                // user nice system idle iowait irq softirq steal guest guest_nice
                times = Some(CpuTimes {
                    busy: at(0) + at(1) + at(2) + at(5) + at(6),
                    idle: at(3) + at(4),
                    steal: at(7),
                });
            }
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    times.map(|t| (t, cpus.max(1)))
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// The command name (`comm`, at most 15 bytes; may hold spaces and parentheses).
    pub command: String,
    pub ppid: u32,
    /// User + system time of all its threads, clock ticks (its children's not included).
    pub ticks: u64,
    /// When it started, clock ticks after boot: with the pid, a key no later process
    /// reusing the pid shares.
    pub start: u64,
}

/// Parses one `/proc/<pid>/stat` line; `None` when it is not one.
pub fn parse_pid_stat(text: &str) -> Option<ProcStat> {
    // `pid (comm) state ppid ...`: comm may contain ") ", so the last ')' ends it.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let command = text[open + 1..close].to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_ascii_whitespace().collect();
    // After comm, fields count from 3 (state): ppid is field 4, utime 14, stime 15,
    // starttime 22.
    let field = |n: usize| rest.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat {
        command,
        ppid: u32::try_from(field(4)?).ok()?,
        ticks: field(14)? + field(15)?,
        start: field(22)?,
    })
}

/// Inodes of the sockets listening on `port` in a `/proc/net/tcp` or `/proc/net/tcp6`
/// table (any local address).
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            let local_port = u16::from_str_radix(local_port, 16).ok()?;
            (local_port == port && *f.get(3)? == LISTEN)
                .then(|| f.get(9)?.parse().ok())
                .flatten()
        })
        .filter(|&inode| inode != 0)
        .collect()
}

/// The inode of a socket file descriptor's link target (`socket:[12345]`).
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  4705 150 1120 16250 520 10 25 30 7 0\n\
                        cpu0 2000 100 500 8000 300 5 10 15 0 0\n\
                        cpu1 2705 50 620 8250 220 5 15 15 7 0\n\
                        intr 123 0 0\nctxt 999\nbtime 1700000000\n";

    #[test]
    fn the_cpu_line_splits_into_busy_idle_and_steal_and_cpus_are_counted() {
        let (times, cpus) = parse_stat(STAT).unwrap();
        assert_eq!(cpus, 2);
        assert_eq!(
            times,
            CpuTimes {
                busy: 4705 + 150 + 1120 + 10 + 25,
                idle: 16250 + 520,
                steal: 30,
            }
        );
        assert_eq!(
            times.total(),
            4705 + 150 + 1120 + 10 + 25 + 16250 + 520 + 30
        );
        assert_eq!(parse_stat("intr 1\n"), None);
        // An old kernel without steal (7 fields): no steal, no panic.
        let (old, cpus) = parse_stat("cpu 1 2 3 4 5 6 7\n").unwrap();
        assert_eq!(
            (old.busy, old.idle, old.steal, cpus),
            (1 + 2 + 3 + 6 + 7, 9, 0, 1)
        );
    }

    #[test]
    fn a_pid_stat_line_gives_command_parent_cpu_ticks_and_start() {
        // A command with a space and a parenthesis, as `comm` allows.
        let line = "4242 (python3 (x) y) R 17 4242 17 34816 4242 4194304 1000 0 0 0 \
                    1234 567 8 9 20 0 12 0 987654 123456789 2048 18446744073709551615";
        let stat = parse_pid_stat(line).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                command: "python3 (x) y".into(),
                ppid: 17,
                ticks: 1234 + 567,
                start: 987654,
            }
        );
        assert_eq!(parse_pid_stat("4242 (cut short) R 17"), None);
        // A closing parenthesis before the opening one: no command, and no panic.
        assert_eq!(parse_pid_stat("4242 ) R ( 17"), None);
        assert_eq!(parse_pid_stat("garbage"), None);
    }

    #[test]
    fn listening_sockets_are_found_by_port_and_state_in_both_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55501 1 0000000000000000 100 0 0 10 0\n\
           1: 0100007F:1F40 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 55502 1 0000000000000000 20 4 30 10 -1\n\
           2: 00000000:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55503 1 0000000000000000 100 0 0 10 0\n";
        // 0x1F40 = 8000: the listener, not the established connection to it.
        assert_eq!(listening_inodes(tcp, 8000), [55501]);
        assert_eq!(listening_inodes(tcp, 8001), [55503]);
        assert!(listening_inodes(tcp, 9000).is_empty());
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 66601 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(tcp6, 8000), [66601]);
    }

    #[test]
    fn socket_links_give_their_inode() {
        assert_eq!(socket_inode("socket:[55501]"), Some(55501));
        assert_eq!(socket_inode("pipe:[55501]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }
}
