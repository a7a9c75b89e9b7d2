//! Measurement aggregation: one [`sample::Sample`] per request in, histograms per level,
//! [`crate::events::Snapshot`]s and [`crate::results::model::LevelSummary`]s out.

pub mod batches;
pub mod checks;
pub mod conversations;
pub mod dist;
pub mod fairness;
pub mod health;
pub mod prefix_cache;
pub mod reasoning;
pub mod recorder;
pub mod sample;
pub mod slo;
pub mod steady;
pub mod window;
