//! Finding an engine's processes: is its URL on this machine, and which process listens on
//! its port (`/proc/net/tcp{,6}` gives the socket's inode, `/proc/<pid>/fd` the process
//! holding it). Only processes llmsweep may inspect are found (its own user's, without root).

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::path::Path;

use super::procfs::{listening_inodes, socket_inode};

/// Where an engine's URL points, decided once per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineHost {
    /// This machine: the process listening on `port` is looked for.
    Local { port: u16 },
    /// Another machine (or a name that does not resolve here): not sampled.
    Remote,
}

/// Decides whether `url` is served from this machine. Blocking: a host name is resolved.
pub fn locate(url: &str) -> EngineHost {
    let Ok(url) = reqwest::Url::parse(url) else {
        return EngineHost::Remote;
    };
    let Some(port) = url.port_or_known_default() else {
        return EngineHost::Remote;
    };
    let Some(host) = url.host_str() else {
        return EngineHost::Remote;
    };
    // An IPv6 literal comes bracketed.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let local = match bare.parse::<IpAddr>() {
        Ok(ip) => is_local_ip(ip),
        Err(_) => {
            bare.eq_ignore_ascii_case("localhost")
                || (bare, port)
                    .to_socket_addrs()
                    .is_ok_and(|mut addrs| addrs.any(|a| is_local_ip(a.ip())))
        }
    };
    if local {
        EngineHost::Local { port }
    } else {
        EngineHost::Remote
    }
}

/// Loopback, unspecified, or an address of one of this machine's interfaces (binding a UDP
/// socket to it succeeds only then).
fn is_local_ip(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind((ip, 0)).is_ok()
}

/// The inodes of the sockets listening on each of `ports` (`/proc/net/tcp` and `tcp6`,
/// each read once).
pub fn listening(root: &Path, ports: &[u16]) -> Vec<Vec<u64>> {
    let tables: Vec<String> = ["net/tcp", "net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(root.join(t)).ok())
        .collect();
    ports
        .iter()
        .map(|&port| {
            tables
                .iter()
                .flat_map(|t| listening_inodes(t, port))
                .collect()
        })
        .collect()
}

/// For each set of socket inodes, the processes holding one of them, topmost first: a
/// process whose parent holds it too (a forked worker sharing the socket) is left out. One
/// pass over every visible process's file descriptors, the costly part (≈ 10 ms with 70
/// processes here), so the sampler does it only when an engine's socket changed.
pub fn holders(root: &Path, sockets: &[Vec<u64>]) -> Vec<Vec<u32>> {
    let mut found = vec![Vec::new(); sockets.len()];
    if sockets.iter().all(Vec::is_empty) {
        return found;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Another user's process: permission denied, skipped.
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Some(inode) = std::fs::read_link(fd.path())
                .ok()
                .and_then(|link| link.to_str().and_then(socket_inode))
            else {
                continue;
            };
            for (set, pids) in sockets.iter().zip(&mut found) {
                if set.contains(&inode) && !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
        }
    }
    let parent = |pid: u32| -> Option<u32> {
        let text = std::fs::read_to_string(root.join(pid.to_string()).join("stat")).ok()?;
        super::procfs::parse_pid_stat(&text).map(|s| s.ppid)
    };
    for pids in &mut found {
        let all = pids.clone();
        pids.retain(|&pid| parent(pid).is_none_or(|p| !all.contains(&p)));
        pids.sort_unstable();
    }
    found
}

/// The topmost processes listening on `port` (see [`holders`]).
pub fn listeners(root: &Path, port: u16) -> Vec<u32> {
    holders(root, &listening(root, &[port])).remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_this_machines_names_are_local_others_remote() {
        let local = |url: &str| locate(url);
        assert_eq!(
            local("http://127.0.0.1:8000/v1/chat/completions"),
            EngineHost::Local { port: 8000 }
        );
        assert_eq!(local("http://localhost/v1"), EngineHost::Local { port: 80 });
        assert_eq!(local("https://[::1]/v1"), EngineHost::Local { port: 443 });
        assert_eq!(
            local("http://0.0.0.0:9000/v1"),
            EngineHost::Local { port: 9000 }
        );
        // TEST-NET-3 (RFC 5737): never an address of this machine; no lookup needed.
        assert_eq!(local("http://203.0.113.7:8000/v1"), EngineHost::Remote);
        assert_eq!(local("not a url"), EngineHost::Remote);
    }

    #[test]
    fn an_address_of_one_of_this_machines_interfaces_is_local() {
        // The address this machine would send from: connecting a UDP socket sends nothing.
        let Ok(probe) = UdpSocket::bind("0.0.0.0:0") else {
            return;
        };
        if probe.connect("203.0.113.7:9").is_err() {
            return; // no route off the machine: no interface address to try
        }
        let ip = probe.local_addr().unwrap().ip();
        assert!(!ip.is_loopback(), "{ip}");
        assert_eq!(
            locate(&format!("http://{ip}:8000/v1/chat/completions")),
            EngineHost::Local { port: 8000 }
        );
    }

    #[test]
    fn the_process_listening_on_a_port_is_found_and_a_closed_port_has_none() {
        let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:0") else {
            return;
        };
        let port = listener.local_addr().unwrap().port();
        if !Path::new("/proc/net/tcp").exists() {
            assert!(listeners(Path::new("/proc"), port).is_empty());
            return;
        }
        assert_eq!(listeners(Path::new("/proc"), port), [std::process::id()]);
        drop(listener);
        assert!(listeners(Path::new("/proc"), port).is_empty());
    }
}
