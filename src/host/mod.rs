//! Host sampling: what the machine did while a level ran, from Linux's `/proc` (no root
//! needed; without `/proc` there is simply no host report). A level measured while another
//! process, an idle engine or the hypervisor took the CPU says so, by name.
//!
//! # Layout
//! - `procfs`   — parsers of `/proc/stat`, `/proc/<pid>/stat`, `/proc/net/tcp{,6}`.
//! - `snapshot` — one reading of the machine and its processes; process families.
//! - `engines`  — is an engine's URL on this machine; which process listens on its port.
//! - `usage`    — from readings to a level's [`HostReport`](crate::results::host::HostReport).
//! - `sampler`  — the thread that takes the readings during a level.
//! - `warnings` — the lines a reader sees: an idle engine that used CPU, a busy box.

pub mod engines;
pub mod procfs;
pub mod sampler;
pub mod snapshot;
pub mod usage;
pub mod warnings;
