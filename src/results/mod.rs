//! Results: the serialisable model and writing it to disk as the run goes.

pub mod confidence;
pub mod conversations;
pub mod fingerprint;
pub mod host;
pub mod model;
pub mod prefix_cache;
pub mod reasoning;
pub mod resume;
pub mod schema;
pub mod search;
pub mod server;
pub mod shard;
pub mod verdict;
pub mod writer;
