//! Shard mode (`run --shard i/N --start-at T`): one sweep split over N client processes that
//! an orchestrator (a Kubernetes Indexed Job, a Slurm array) starts. Shards never talk to
//! each other: every level's window is a fixed offset from the common start time, each shard
//! sends its share of the load, and `llmsweep merge` combines their folders exactly.
//!
//! - `mod`      — [`Shard`]: which shard, from the flag or the orchestrator's environment;
//!   its share of a level's concurrency or rate, and of the request sequence.
//! - `timeline` — the wall-clock schedule of level slots from `--start-at`.
//! - `clock`    — what the kernel says about this machine's clock (NTP sync, error bound).
//! - `hlog`     — HdrHistogram interval logs (`.hlog`) of each level's latencies.
//! - `merge`    — `llmsweep merge`: shard folders → one run.

pub mod clock;
pub mod hlog;
pub mod merge;
pub mod timeline;

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::config::{SweepConfig, DEFAULT_SETTLE_S};
use timeline::Timeline;

/// A shard's part of the plan: which shard, and the common schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardPlan {
    pub shard: Shard,
    pub timeline: Timeline,
}

impl ShardPlan {
    /// Checks that the sweep can be sharded: time-bound levels (shards line up by wall
    /// clock, so every level must last a known time), a fixed list of levels, a warmup by
    /// time.
    pub fn new(shard: Shard, start: SystemTime, sweep: &SweepConfig) -> Result<ShardPlan, String> {
        let Some(duration_s) = sweep.duration_s else {
            return Err("shard mode needs time-bound levels: set `sweep.duration_s` (shards line up by wall clock)".into());
        };
        if sweep.requests_per_level.is_some() {
            return Err("shard mode needs time-bound levels: unset `sweep.requests_per_level` (a count would end shards at different times)".into());
        }
        if sweep.warmup_requests > 0 {
            return Err("shard mode warms up by time: set `sweep.warmup_s` instead of `sweep.warmup_requests`".into());
        }
        if sweep.levels.is_auto() {
            return Err("shard mode needs a fixed list of `sweep.levels`: `auto` decides each level from the last one's results, which a shard alone does not have".into());
        }
        Ok(ShardPlan {
            shard,
            timeline: Timeline {
                start,
                warmup: Duration::from_secs_f64(sweep.warmup_s.unwrap_or(0.0)),
                duration: Duration::from_secs_f64(duration_s),
                settle: Duration::from_secs_f64(sweep.settle_s.unwrap_or(DEFAULT_SETTLE_S)),
            },
        })
    }
}

/// One shard of a sweep: `index` of `count`, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Most shards of one sweep: far beyond any client fleet, and small enough that a level's
/// share arithmetic cannot overflow.
pub const MAX_SHARDS: u32 = 4096;

/// Where `--shard-from-env` reads the shard index, in order, and the shard count.
const INDEX_VARS: [&str; 3] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "RANK"];
const COUNT_VARS: [&str; 3] = [
    "LLMSWEEP_SHARD_COUNT",
    "SLURM_ARRAY_TASK_COUNT",
    "WORLD_SIZE",
];

impl Shard {
    /// Checks `index < count ≤ MAX_SHARDS`.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "the shard count must be 1 to {MAX_SHARDS}, got {count}"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range for {count} shards (indexes are 0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// `--shard i/N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard: expected INDEX/COUNT such as 0/4 (0-based), got {text:?}");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index = index.trim().parse().map_err(|_| bad())?;
        let count = count.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count).map_err(|e| format!("--shard {text}: {e}"))
    }

    /// `--shard-from-env`: the index from `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job),
    /// `SLURM_ARRAY_TASK_ID` (less `SLURM_ARRAY_TASK_MIN`, so `--array=1-4` works) or
    /// `RANK`; the count from `LLMSWEEP_SHARD_COUNT`, `SLURM_ARRAY_TASK_COUNT` or `WORLD_SIZE`.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let number =
            |name: &str| -> Result<Option<u32>, String> {
                match var(name) {
                    None => Ok(None),
                    Some(v) => v.trim().parse().map(Some).map_err(|_| {
                        format!("--shard-from-env: {name}={v:?} is not a whole number")
                    }),
                }
            };
        let mut index = None;
        for name in INDEX_VARS {
            if let Some(i) = number(name)? {
                index = Some((name, i));
                break;
            }
        }
        let Some((index_var, mut index)) = index else {
            return Err(format!(
                "--shard-from-env: none of {} is set",
                INDEX_VARS.join(", ")
            ));
        };
        if index_var == "SLURM_ARRAY_TASK_ID" {
            if let Some(min) = number("SLURM_ARRAY_TASK_MIN")? {
                index = index.checked_sub(min).ok_or_else(|| {
                    format!("--shard-from-env: SLURM_ARRAY_TASK_ID={index} is below SLURM_ARRAY_TASK_MIN={min}")
                })?;
            }
        }
        let mut count = None;
        for name in COUNT_VARS {
            if let Some(n) = number(name)? {
                count = Some(n);
                break;
            }
        }
        let count = count.ok_or_else(|| {
            format!(
                "--shard-from-env: {index_var} is set but none of {} is (Kubernetes does not tell a pod the Job's completions: set LLMSWEEP_SHARD_COUNT to it)",
                COUNT_VARS.join(", ")
            )
        })?;
        Shard::new(index, count).map_err(|e| format!("--shard-from-env ({index_var}): {e}"))
    }

    /// This shard's part of `total` slots (a level's concurrency, or a rate cap): an equal
    /// split, the remainder going to the lowest indexes, so the parts add up to `total`.
    pub fn share(self, total: u64) -> u64 {
        let (n, i) = (u64::from(self.count), u64::from(self.index));
        total / n + u64::from(i < total % n)
    }

    /// This shard's part of a rate, req/s: an equal split (independent Poisson streams of
    /// rate r/N add up to one of rate r).
    pub fn rate_share(self, rate: f64) -> f64 {
        rate / f64::from(self.count)
    }

    /// The position in the single-process request sequence of this shard's `local`-th
    /// request: shards take every N-th, so together they send the sequence one process
    /// would (request `k` goes to shard `k mod N`).
    pub fn global_index(self, local: u64) -> u64 {
        local
            .saturating_mul(u64::from(self.count))
            .saturating_add(u64::from(self.index))
    }

    /// `<run>-shard-<i>-of-<N>`: the shard's results folder.
    pub fn folder_name(self, run_name: &str) -> String {
        format!("{run_name}-shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn parses_index_over_count_and_names_what_is_wrong() {
        assert_eq!(Shard::parse("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(Shard::parse("3/4"), Ok(Shard { index: 3, count: 4 }));
        assert_eq!(Shard::parse("0/1"), Ok(Shard { index: 0, count: 1 }));
        let e = Shard::parse("4/4").unwrap_err();
        assert!(
            e.contains("out of range for 4 shards (indexes are 0 to 3)"),
            "{e}"
        );
        for bad in ["1", "a/4", "1/b", "", "-1/4", "1/4/5"] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.starts_with("--shard"), "{bad}: {e}");
        }
        assert!(Shard::parse("0/0").unwrap_err().contains("1 to 4096"));
        assert!(Shard::parse("0/4097").unwrap_err().contains("1 to 4096"));
        assert!(Shard::parse("0/4096").is_ok());
    }

    #[test]
    fn reads_each_orchestrators_variables() {
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2"), ("LLMSWEEP_SHARD_COUNT", "4")]);
        assert_eq!(Shard::from_env(&k8s), Ok(Shard { index: 2, count: 4 }));
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(Shard::from_env(&slurm), Ok(Shard { index: 2, count: 3 }));
        let slurm0 = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]);
        assert_eq!(Shard::from_env(&slurm0), Ok(Shard { index: 0, count: 2 }));
        let torch = env(&[("RANK", "1"), ("WORLD_SIZE", "8")]);
        assert_eq!(Shard::from_env(&torch), Ok(Shard { index: 1, count: 8 }));
        // The explicit count wins over an orchestrator's.
        let both = env(&[
            ("RANK", "1"),
            ("WORLD_SIZE", "8"),
            ("LLMSWEEP_SHARD_COUNT", "2"),
        ]);
        assert_eq!(Shard::from_env(&both), Ok(Shard { index: 1, count: 2 }));
    }

    #[test]
    fn env_errors_name_the_variable() {
        let none = env(&[]);
        assert!(Shard::from_env(&none)
            .unwrap_err()
            .contains("none of JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, RANK is set"));
        let no_count = env(&[("JOB_COMPLETION_INDEX", "0")]);
        assert!(Shard::from_env(&no_count)
            .unwrap_err()
            .contains("set LLMSWEEP_SHARD_COUNT"));
        let junk = env(&[("JOB_COMPLETION_INDEX", "x"), ("LLMSWEEP_SHARD_COUNT", "2")]);
        assert!(Shard::from_env(&junk)
            .unwrap_err()
            .contains("JOB_COMPLETION_INDEX=\"x\" is not a whole number"));
        let below = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]);
        assert!(Shard::from_env(&below).unwrap_err().contains("below"));
        let out = env(&[("RANK", "8"), ("WORLD_SIZE", "8")]);
        assert!(Shard::from_env(&out).unwrap_err().contains("(RANK)"));
    }

    #[test]
    fn shares_add_up_with_the_remainder_to_the_lowest_indexes() {
        for count in 1..=9u32 {
            for total in 0..=40u64 {
                let shares: Vec<u64> = (0..count)
                    .map(|index| Shard { index, count }.share(total))
                    .collect();
                assert_eq!(shares.iter().sum::<u64>(), total, "{total} over {count}");
                assert!(shares.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1));
            }
        }
        assert_eq!(
            (0..4)
                .map(|index| Shard { index, count: 4 }.share(10))
                .collect::<Vec<_>>(),
            [3, 3, 2, 2]
        );
        assert_eq!(Shard { index: 1, count: 4 }.rate_share(10.0), 2.5);
    }

    #[test]
    fn shards_take_every_nth_request_of_the_single_process_sequence() {
        let count = 3;
        let mut union: Vec<u64> = (0..count)
            .flat_map(|index| (0..5).map(move |local| Shard { index, count }.global_index(local)))
            .collect();
        union.sort_unstable();
        assert_eq!(union, (0..15).collect::<Vec<u64>>());
        assert_eq!(Shard { index: 2, count: 4 }.global_index(3), 14);
        assert_eq!(
            Shard { index: 1, count: 4 }.folder_name("bench-20261201T203000Z"),
            "bench-20261201T203000Z-shard-1-of-4"
        );
    }
}
