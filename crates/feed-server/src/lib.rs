//! The killswitch feed server (issue #4): signed sightings in, listings on
//! independent evidence, curation with an append-only audit log, and signed
//! static feed files out. docs/feed-server.md describes it.

pub mod api;
pub mod curation;
pub mod engine;
pub mod nettag;
pub mod publish;
pub mod server;
pub mod store;
