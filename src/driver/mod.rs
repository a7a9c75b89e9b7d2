//! The sweep driver: engines × levels, workers holding C requests in flight, the control
//! channel (pause, skip, abort), the recorder and the results writer.

pub mod arrivals;
mod clock;
mod open_loop;
mod sweep;
mod worker;

pub use sweep::{run, RunOptions, RunOutcome};
