//! The sweep driver: engines × levels, workers holding C requests in flight, the control
//! channel (pause, skip, abort), the recorder and the results writer.

mod clock;
mod sweep;
mod worker;

pub use sweep::{run, RunOptions, RunOutcome};
