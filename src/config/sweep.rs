//! `[sweep]` and `[sweep.auto]`: the levels (a list or `"auto"`), how long each runs, how load
//! is applied, the order, trials and timeouts.

use serde::{Deserialize, Deserializer, Serialize};

/// `[sweep]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    /// `concurrency` (closed loop, the default) or `rate` (open loop, req/s).
    pub mode: SweepMode,
    /// The levels, run in this order: requests in flight (whole numbers) or req/s in rate
    /// mode; or `"auto"`: search for each engine's knee (`[sweep.auto]`).
    pub levels: Levels,
    /// Times each (engine, level) is measured (each trial with its own warmup); above 1, a
    /// level's numbers are the trials' means with 95 % confidence intervals.
    pub trials: u32,
    /// `levels = "auto"`: the adaptive search.
    pub auto: AutoConfig,
    /// Measured requests per level. With `duration_s` too, whichever comes first ends the
    /// level; with neither, `max(50, 4 × C)` per level (50 in rate mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_level: Option<u64>,
    /// Measured seconds per level (paused time excluded): no new request starts after it,
    /// in-flight ones finish and count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Unmeasured requests before each level (at the level's concurrency or rate).
    pub warmup_requests: u64,
    /// Seconds of unmeasured load before each level (with `warmup_requests` too, whichever
    /// comes first ends the warmup). Shard mode's warmup: its slots are times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    /// Shard mode (`run --shard`): seconds between a level's measured window and the next
    /// level's slot, in which requests still in flight finish [default: 5].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settle_s: Option<f64>,
    /// Whole-request timeout, seconds.
    pub timeout_s: f64,
    /// Connect timeout, seconds.
    pub connect_timeout_s: f64,
    /// Send → first output token (response headers included), seconds; unset = only
    /// `timeout_s` applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_token_timeout_s: Option<f64>,
    /// Longest gap between chunks once output has started, seconds; unset = only
    /// `timeout_s` applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_s: Option<f64>,
    /// Rate mode: shape of the gamma inter-arrival distribution; 1.0 = Poisson arrivals.
    /// Lower is burstier (CV = 1/sqrt(burstiness)).
    pub burstiness: f64,
    /// Rate mode: cap on requests in flight (0 = none). A request that finds the cap full
    /// waits in the client and is counted as a late start.
    pub max_concurrency: u32,
    /// `sequential` (every level of an engine, then the next engine) or `interleaved`
    /// (level 1 on every engine, then level 2, ...).
    pub order: SweepOrder,
}

/// Shard mode's gap after each level's measured window when `settle_s` is not set, s.
pub const DEFAULT_SETTLE_S: f64 = 5.0;

/// Used when neither `requests_per_level` nor `duration_s` is set: at least this many...
pub const DEFAULT_REQUESTS_PER_LEVEL: u64 = 50;
/// ...and, in concurrency mode, this many per request in flight, so a level is several
/// waves long and its steady state outweighs ramp-up and drain.
pub const DEFAULT_REQUESTS_PER_SLOT: u64 = 4;

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            mode: SweepMode::Concurrency,
            levels: Levels::fixed(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0]),
            trials: 1,
            auto: AutoConfig::default(),
            requests_per_level: None,
            duration_s: None,
            warmup_requests: 0,
            warmup_s: None,
            settle_s: None,
            timeout_s: 300.0,
            connect_timeout_s: 10.0,
            first_token_timeout_s: None,
            idle_timeout_s: None,
            burstiness: 1.0,
            max_concurrency: 0,
            order: SweepOrder::Sequential,
        }
    }
}

impl SweepConfig {
    /// Measured requests at level value `level`: the configured count, unlimited when only
    /// `duration_s` is set, and when neither is `max(50, 4 × C)` (50 in rate mode).
    pub fn request_limit(&self, level: f64) -> Option<u64> {
        match (self.requests_per_level, self.duration_s) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) if self.mode == SweepMode::Concurrency => {
                Some(DEFAULT_REQUESTS_PER_LEVEL.max(DEFAULT_REQUESTS_PER_SLOT * level as u64))
            }
            (None, None) => Some(DEFAULT_REQUESTS_PER_LEVEL),
        }
    }

    /// True when the request count follows the default `max(50, 4 × C)` rule.
    pub fn requests_scale_with_concurrency(&self) -> bool {
        self.mode == SweepMode::Concurrency
            && self.requests_per_level.is_none()
            && self.duration_s.is_none()
    }
}

/// How load is applied at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SweepMode {
    /// Closed loop: the level's number of requests always in flight.
    #[default]
    Concurrency,
    /// Open loop: requests sent at the level's rate (req/s) on a seeded arrival schedule.
    Rate,
}

impl SweepMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepMode::Concurrency => "concurrency",
            SweepMode::Rate => "rate",
        }
    }
}

/// The order (engine, level) pairs run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SweepOrder {
    #[default]
    Sequential,
    Interleaved,
}

impl SweepOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepOrder::Sequential => "sequential",
            SweepOrder::Interleaved => "interleaved",
        }
    }
}

/// `[sweep] levels`: a fixed list, or `"auto"` (the list then grows as the search runs and
/// is empty here). Derefs to the list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Levels {
    values: Vec<f64>,
    auto: bool,
}

impl Levels {
    pub fn fixed(values: Vec<f64>) -> Levels {
        Levels {
            values,
            auto: false,
        }
    }

    pub fn auto() -> Levels {
        Levels {
            values: Vec::new(),
            auto: true,
        }
    }

    /// `levels = "auto"`.
    pub fn is_auto(&self) -> bool {
        self.auto
    }
}

impl From<Vec<f64>> for Levels {
    fn from(values: Vec<f64>) -> Levels {
        Levels::fixed(values)
    }
}

impl PartialEq<Vec<f64>> for Levels {
    fn eq(&self, other: &Vec<f64>) -> bool {
        !self.auto && &self.values == other
    }
}

impl std::ops::Deref for Levels {
    type Target = Vec<f64>;
    fn deref(&self) -> &Vec<f64> {
        &self.values
    }
}

impl Serialize for Levels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.auto {
            s.serialize_str("auto")
        } else {
            self.values.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Levels, D::Error> {
        levels_from_list_or_text(de)
    }
}

/// `[sweep.auto]`: double the level from `start` until a stop condition holds, then bisect
/// between the last level that passed and the first that failed, per engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoConfig {
    /// The first level (concurrency, or req/s in rate mode).
    pub start: f64,
    /// No level above this.
    pub max: f64,
    /// The conditions that stop the doubling: `plateau`, `slo`, `errors` (any of them).
    pub stop: Vec<AutoStop>,
    /// `plateau`: output throughput grew less than this, %, over each of two doublings.
    pub plateau_pct: f64,
    /// `slo`: a level fails when fewer than this share, %, of its attempted requests met
    /// every `[slo]` objective (goodput under this share of throughput).
    pub slo_goodput_pct: f64,
    /// `errors`: a level fails above this error rate, 0..1.
    pub max_error_rate: f64,
    /// Bisection ends when the failing and passing levels are within this fraction of the
    /// passing one (and, in concurrency mode, 1 apart at least).
    pub resolution: f64,
}

impl Default for AutoConfig {
    fn default() -> Self {
        AutoConfig {
            start: 1.0,
            max: 1024.0,
            stop: vec![AutoStop::Plateau, AutoStop::Slo, AutoStop::Errors],
            plateau_pct: 5.0,
            slo_goodput_pct: 90.0,
            max_error_rate: 0.05,
            resolution: 0.10,
        }
    }
}

/// A condition that ends an auto sweep's doubling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoStop {
    Plateau,
    Slo,
    Errors,
}

/// Accepts `[1, 2, 4]`, `"auto"` or, from an environment variable or flag, `"1,2,4"`.
/// Whole numbers are checked later, in concurrency mode only (rate mode takes fractional
/// req/s).
fn levels_from_list_or_text<'de, D: Deserializer<'de>>(de: D) -> Result<Levels, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<LevelItem>),
        Text(String),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum LevelItem {
        Number(f64),
        Text(String),
    }
    let parse = |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                serde::de::Error::custom(format!("invalid level {text:?} (expected a number)"))
            })
    };
    let values = match Given::deserialize(de)? {
        Given::List(items) => items
            .into_iter()
            .map(|item| match item {
                LevelItem::Number(n) => Ok(n),
                LevelItem::Text(t) => parse(&t),
            })
            .collect::<Result<_, _>>()?,
        Given::Text(text) if text.trim().eq_ignore_ascii_case("auto") => return Ok(Levels::auto()),
        Given::Text(text) if text.trim().is_empty() => Vec::new(),
        Given::Text(text) => text.split(',').map(parse).collect::<Result<_, _>>()?,
    };
    Ok(Levels::fixed(values))
}
