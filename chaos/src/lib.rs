//! The one multi-process cluster harness of Sightline, and the chaos run built on it.
//!
//! Everything here drives the release `sightline` binary from the outside, over its
//! config file, its HTTP API and signals, the way an operator would:
//!
//! - [`process`]: one node process: its config written from [`process::NodeConfig`] (a
//!   serializable struct, never string templates), started, stopped (SIGTERM), killed
//!   (SIGKILL), paused (SIGSTOP) and resumed;
//! - [`client`]: a typed HTTP client for one node (JSON in and out, status codes kept);
//! - [`cluster`]: N nodes on loopback with their ports, directories and Raft settings; waits
//!   on status (leader agreed, replicas converged), never on sleeps;
//! - [`reads`]: plate reads as a camera sends them;
//! - [`sse`]: a Server-Sent Events client for the alert streams;
//! - [`run`]: `sightline-chaos run`, a seeded concurrent workload under a seeded schedule of
//!   faults, and the checks that decide whether anything acknowledged was lost.
//!
//! Node tests, the benchmarks and the `sightline-chaos` binary all start processes through
//! this crate. It is test tooling, so its errors are `anyhow` like a binary's.

pub mod client;
pub mod cluster;
pub mod process;
pub mod reads;
pub mod run;
pub mod sse;

pub use client::Client;
pub use cluster::{Cluster, Settings};
pub use process::{free_port, sightline_binary, Node, NodeConfig};
pub use reads::{ndjson, now_ms, read_json};
