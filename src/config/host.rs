//! `[host]`: sampling the machine llmsweep runs on during each level.

use serde::{Deserialize, Serialize};

/// `[host]`: what the machine did during each level (Linux `/proc`): busy cores, the
/// busiest processes, local engines' processes found by port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// `false`: no host report and no host warnings (the client-health state then cannot
    /// tell a starved client from a late one).
    pub sample: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig { sample: true }
    }
}
