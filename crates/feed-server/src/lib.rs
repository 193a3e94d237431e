//! The killswitch feed server (issue #4): signed sightings in, listings on
//! independent evidence, curation with an append-only audit log, and signed
//! static feed files out. docs/feed-server.md describes it. The registry of
//! threat models and test reports, with public device pages, is in
//! `registry` and `registry_http` (docs/registry.md).

pub mod api;
pub mod curation;
pub mod engine;
pub mod nettag;
pub mod publish;
pub mod registry;
pub mod registry_http;
pub mod server;
pub mod store;
