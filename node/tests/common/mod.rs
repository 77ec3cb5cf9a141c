//! Shared helpers of the end-to-end tests. Processes, clusters and the HTTP client come
//! from the one harness, `sightline-chaos`; only what these tests alone need lives here.

#![allow(dead_code, unused_imports)]

pub mod demo;
pub mod plaintext;

pub use sightline_chaos::process::{Launch, NodeConfig};
pub use sightline_chaos::{free_port, ndjson, now_ms, read_json, Cluster, Node, Settings};
