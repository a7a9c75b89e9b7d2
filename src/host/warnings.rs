//! The lines a reader must see when the box, not the engine, may have set a level's
//! numbers: an idle engine that used CPU while another was measured, and other processes
//! that kept a large share of the machine busy.

use crate::results::host::HostReport;
#[cfg(doc)]
use crate::results::host::IDLE_ENGINE_CORES;

/// Processes other than llmsweep's and the engines' using more than this many cores are
/// named: half a core, or a quarter of the machine on a larger one.
pub fn other_cores_limit(cores: u32) -> f64 {
    (0.25 * f64::from(cores)).max(0.5)
}

/// One warning per configured engine that was idle during `tested`'s level `label` and used
/// more than [`IDLE_ENGINE_CORES`]: `vLLM max-num-seqs 4 (idle) used 1.7 cores while vLLM
/// default C=8 ran: stop it between runs, or pin them apart`.
pub fn idle_engines(host: &HostReport, tested: &str, label: &str) -> Vec<String> {
    host.busy_idle_engines()
        .filter_map(|e| {
            let cores = e.cores?;
            Some(format!(
                "{} (idle) used {cores:.2} cores while {tested} {label} ran: stop it between runs, or pin them apart (taskset, cpusets)",
                e.engine
            ))
        })
        .collect()
}

/// The warning for a level during which processes that are neither llmsweep nor a
/// configured engine used more than [`other_cores_limit`], naming the busiest of them.
pub fn busy_box(host: &HostReport, label: &str) -> Option<String> {
    if host.other_cores <= other_cores_limit(host.cores) {
        return None;
    }
    let mut text = format!(
        "{label}: other processes used {:.2} of the box's {} cores",
        host.other_cores, host.cores
    );
    if let Some(p) = host.top.iter().find(|p| p.engine.is_none()) {
        text.push_str(&format!(
            " (the most: {} pid {} with {:.2} cores)",
            p.command, p.pid, p.cores
        ));
    }
    text.push_str(": the box was not quiet, so the level's numbers may not repeat");
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::host::{EngineCpu, EngineLocation, HostProcess};

    fn engine(
        name: &str,
        under_test: bool,
        location: EngineLocation,
        cores: Option<f64>,
    ) -> EngineCpu {
        EngineCpu {
            engine: name.into(),
            under_test,
            location,
            pid: None,
            processes: 2,
            cores,
        }
    }

    #[test]
    fn an_idle_local_engine_above_a_quarter_core_is_named() {
        let host = HostReport {
            cores: 2,
            engines: vec![
                engine("vLLM default", true, EngineLocation::Local, Some(1.2)),
                engine(
                    "vLLM max-num-seqs 4",
                    false,
                    EngineLocation::Local,
                    Some(1.7),
                ),
                engine("quiet", false, EngineLocation::Local, Some(0.25)),
                engine("far", false, EngineLocation::Remote, None),
            ],
            ..HostReport::default()
        };
        assert_eq!(
            idle_engines(&host, "vLLM default", "C=8"),
            ["vLLM max-num-seqs 4 (idle) used 1.70 cores while vLLM default C=8 ran: stop it between runs, or pin them apart (taskset, cpusets)"]
        );
    }

    #[test]
    fn other_processes_above_the_limit_are_named_engines_are_not() {
        assert_eq!(other_cores_limit(2), 0.5);
        assert_eq!(other_cores_limit(8), 2.0);
        let mut host = HostReport {
            cores: 2,
            other_cores: 0.5,
            top: vec![
                HostProcess {
                    pid: 10,
                    command: "python3".into(),
                    cores: 1.5,
                    engine: Some("A".into()),
                },
                HostProcess {
                    pid: 4242,
                    command: "yes".into(),
                    cores: 0.98,
                    engine: None,
                },
            ],
            ..HostReport::default()
        };
        assert_eq!(busy_box(&host, "C=4"), None, "at the limit is fine");
        host.other_cores = 1.01;
        assert_eq!(
            busy_box(&host, "C=4").unwrap(),
            "C=4: other processes used 1.01 of the box's 2 cores (the most: yes pid 4242 with 0.98 cores): the box was not quiet, so the level's numbers may not repeat"
        );
        host.top.truncate(1);
        assert_eq!(
            busy_box(&host, "C=4").unwrap(),
            "C=4: other processes used 1.01 of the box's 2 cores: the box was not quiet, so the level's numbers may not repeat"
        );
    }
}
