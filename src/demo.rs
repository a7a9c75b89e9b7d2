//! `llmsweep demo`: two simulated engines with different scaling, started in-process on
//! ephemeral loopback ports, and a sweep against them. Everything is labelled simulated.

use crate::config::{Config, Sources};
use crate::plan::Plan;
use crate::sim::{self, Faults, Profile, SimConfig, SimServer};

/// The simulated engines: (display name, profile).
pub const ENGINES: [(&str, &str); 2] = [
    ("sim fast-prefill", "fast-prefill"),
    ("sim big-batch", "big-batch"),
];

/// Starts the simulators and builds the demo plan; `overrides` are the command-line flags.
/// The servers stop when the returned handles drop.
pub async fn start(overrides: Vec<(String, String)>) -> anyhow::Result<(Plan, Vec<SimServer>)> {
    let mut servers = Vec::new();
    // `--levels auto` climbs to 256 in flight: levels of 1.5 s each, not 48 requests (a
    // level with fewer requests than its concurrency never runs at it). The built-in prompts
    // repeat: busted, so a simulator's prefix cache never answers one request from another's.
    let auto = overrides
        .iter()
        .any(|(k, v)| k == "sweep.levels" && v.trim().eq_ignore_ascii_case("auto"));
    let length = if auto {
        "duration_s = 1.5"
    } else {
        "requests_per_level = 48"
    };
    let mut toml = format!(
        "[run]\nname = \"demo\"\n\n[sweep]\n{length}\nwarmup_requests = 2\n\n[request]\nmax_tokens = 48\n\n[prompts]\ncache = \"bust\"\n\n",
    );
    for (i, (name, profile)) in ENGINES.iter().enumerate() {
        let profile = Profile::by_name(profile)
            .ok_or_else(|| anyhow::anyhow!("no simulator profile {profile}"))?;
        let server = sim::spawn(SimConfig {
            profile,
            faults: Faults::default(),
            seed: i as u64,
            timing_log: None,
        })
        .await?;
        toml.push_str(&format!(
            "[[engines]]\nname = \"{name}\"\nurl = \"{}\"\nmodel = \"sim\"\n\n",
            server.chat_url()
        ));
        servers.push(server);
    }
    let config = Config::load(&Sources {
        file: None,
        text: Some(("demo".into(), toml)),
        env: Some(Default::default()),
        overrides,
    })?;
    let mut plan = Plan::new(config, &|_| None).map_err(anyhow::Error::msg)?;
    for engine in &mut plan.engines {
        engine.simulated = true;
    }
    Ok((plan, servers))
}
