//! Results: the serialisable model and writing it to disk as the run goes.

pub mod fingerprint;
pub mod model;
pub mod resume;
pub mod server;
pub mod writer;
