//! Statistics for an answer with confidence: Student t quantiles, confidence intervals,
//! combining a level's trials, batch means within one run, and the A/B verdicts. Pure
//! functions of numbers and summaries; no I/O, no clocks.

pub mod interval;
pub mod t;
pub mod trials;
pub mod verdict;
