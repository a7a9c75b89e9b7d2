//! What the machine llmsweep ran on did during a level: whose CPU it was, so a level where
//! the box (another process, an idle engine, the hypervisor) set the numbers says so.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One level's view of the host, from `/proc` at the level's start, its end and every
/// second or so between (Linux only; absent elsewhere).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostReport {
    /// Logical CPUs the machine has (cores below are out of these).
    pub cores: u32,
    /// Cores busy on average over the level, every process and the kernel (1.0 = one core
    /// busy all level); steal time not included.
    pub busy_cores: f64,
    /// Cores' worth of time the hypervisor ran something else while this machine wanted to
    /// run (`steal` in `/proc/stat`); 0 on bare metal.
    pub steal_cores: f64,
    /// Cores llmsweep's own process used (the client; in `demo` the simulated engines too).
    pub client_cores: f64,
    /// Cores used by neither llmsweep nor any configured engine's processes: the rest of
    /// the box (`busy_cores` minus those), never below 0.
    pub other_cores: f64,
    /// The busiest processes other than llmsweep over the level, most first (at most 3).
    pub top: Vec<HostProcess>,
    /// Every configured engine's processes over the level, in the run's engine order.
    pub engines: Vec<EngineCpu>,
    /// `/proc` snapshots the level's figures come from (start and end included).
    pub samples: u32,
    /// CPU time the sampling itself took over the level (its thread's), ms: divided by the
    /// level's wall time, its share of a core.
    #[serde(default)]
    pub sampling_cpu_ms: f64,
}

/// An engine idle during another's level is named when its processes used more than this
/// many cores.
pub const IDLE_ENGINE_CORES: f64 = 0.25;

impl HostReport {
    /// The engine the level measured, as the host saw it.
    pub fn engine_under_test(&self) -> Option<&EngineCpu> {
        self.engines.iter().find(|e| e.under_test)
    }

    /// The engine under test's cores: `Some` only when its processes were found here.
    pub fn engine_under_test_cores(&self) -> Option<f64> {
        self.engine_under_test()
            .filter(|e| e.location == EngineLocation::Local)
            .and_then(|e| e.cores)
    }

    /// The engines idle during the level whose processes used more than
    /// [`IDLE_ENGINE_CORES`], in the run's engine order.
    pub fn busy_idle_engines(&self) -> impl Iterator<Item = &EngineCpu> {
        self.engines.iter().filter(|e| {
            !e.under_test
                && e.location == EngineLocation::Local
                && e.cores.is_some_and(|c| c > IDLE_ENGINE_CORES)
        })
    }
}

/// A process's CPU over a level.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostProcess {
    pub pid: u32,
    /// The kernel's command name (`/proc/<pid>/comm`, at most 15 bytes).
    pub command: String,
    /// Cores it used on average over the level (its children not included).
    pub cores: f64,
    /// The configured engine whose processes it belongs to, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// Where an engine's processes were looked for, and what was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngineLocation {
    /// Its URL is on this host and the process listening on its port was found: its CPU
    /// (with its child processes') is accounted.
    Local,
    /// Its URL is on this host but no visible process listens on the port (another user's
    /// process, or the port is forwarded): not accounted.
    #[default]
    NotFound,
    /// llmsweep itself listens on the port (the built-in simulator in `demo`): its CPU is
    /// the client's.
    InProcess,
    /// Its URL is on another host: not sampled.
    Remote,
}

impl EngineLocation {
    /// How tables and warnings say it.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineLocation::Local => "local",
            EngineLocation::NotFound => "local: listener not found",
            EngineLocation::InProcess => "in llmsweep",
            EngineLocation::Remote => "remote: not sampled",
        }
    }
}

/// One configured engine's processes during a level (the engine under test's or another's).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineCpu {
    /// The engine's name, as configured.
    pub engine: String,
    /// True for the engine the level measured; false for an engine idle during it.
    pub under_test: bool,
    pub location: EngineLocation,
    /// The process listening on the engine's port (`Local` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Its processes: the listener and its descendants, seen during the level.
    #[serde(default)]
    pub processes: u32,
    /// Cores they used on average over the level (`Local` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<f64>,
}

/// How the client fared during a level: whether its timings can be trusted, and if not,
/// whose fault it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientState {
    /// The event loop kept time and the client had CPU to spare.
    #[default]
    Fine,
    /// The client used nearly a full core per runtime thread: it may have been the limit.
    Busy,
    /// The event loop ran late while the client used little CPU and the box was busy: the
    /// client was starved by other processes (or the engine under test), not busy itself.
    Starved,
    /// The event loop ran late, the client used little CPU and the box was not busy (or its
    /// load is unknown): the cause is outside what llmsweep can see (e.g. steal, a cgroup
    /// quota).
    Late,
}

impl ClientState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientState::Fine => "fine",
            ClientState::Busy => "busy",
            ClientState::Starved => "starved",
            ClientState::Late => "late",
        }
    }

    /// Severity for combining trials: the worst trial's state is the level's.
    pub fn rank(self) -> u8 {
        match self {
            ClientState::Fine => 0,
            ClientState::Late => 1,
            ClientState::Busy => 2,
            ClientState::Starved => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_locations_have_their_results_keys() {
        for (state, key) in [
            (ClientState::Fine, "fine"),
            (ClientState::Busy, "busy"),
            (ClientState::Starved, "starved"),
            (ClientState::Late, "late"),
        ] {
            assert_eq!(state.as_str(), key);
            assert_eq!(serde_json::to_value(state).unwrap(), key);
        }
        assert_eq!(
            serde_json::to_value(EngineLocation::InProcess).unwrap(),
            "in_process"
        );
        assert_eq!(
            serde_json::to_value(EngineLocation::NotFound).unwrap(),
            "not_found"
        );
        assert_eq!(EngineLocation::Remote.as_str(), "remote: not sampled");
    }

    #[test]
    fn starved_is_the_worst_state_and_fine_the_best() {
        let mut states = [
            ClientState::Starved,
            ClientState::Fine,
            ClientState::Busy,
            ClientState::Late,
        ];
        states.sort_by_key(|s| s.rank());
        assert_eq!(
            states,
            [
                ClientState::Fine,
                ClientState::Late,
                ClientState::Busy,
                ClientState::Starved
            ]
        );
    }
}
