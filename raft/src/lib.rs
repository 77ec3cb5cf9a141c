//! `sightline-raft` replicates Sightline's state: it orders [`sightline_storage::Command`]s
//! with [openraft](https://docs.rs/openraft/0.9) and applies them on every node through the
//! storage engine's deterministic [`sightline_storage::Engine::apply`].
//!
//! What it owns:
//!
//! - the openraft type config ([`TypeConfig`]: commands in, [`sightline_storage::ApplyOutcome`]
//!   out, `u64` node ids, [`Node`] with Raft and HTTP addresses, snapshots as directories);
//! - the durable Raft log ([`LogStore`], its own RocksDB at `{dir}/raft-log`, every
//!   acknowledged entry and vote fsync'd);
//! - the state machine over the shared engine ([`StateMachine`]), with snapshots built as
//!   RocksDB checkpoints, streamed as files, and installed by switching the node's engine
//!   to a new directory ([`current_engine_dir`] tells the node where to open it);
//! - the tonic gRPC transport (`proto/raft.proto`; [`NetworkFactory`] and the server),
//!   plain or mutual TLS ([`TlsFiles`] in [`RaftConfig::tls`]; see [`tls`]);
//! - membership and the facade the node wires: [`RaftNode`];
//! - the cluster clock ([`clock`]): the leader proposes the time a majority of voters'
//!   clocks agree on, the only time the state machine (retention) lives by;
//! - fault injection on outgoing traffic ([`faults`]), for the chaos harness.
//!
//! What it must not know: HTTP (the node maps [`Error::ForwardToLeader`] to a redirect),
//! and record semantics: commands are opaque here, ordered and handed to storage as they are.
//! Commands carry only sealed values and keyed tokens, so the Raft log holds no plaintext.
//!
//! ```no_run
//! # async fn example() -> sightline_raft::Result<()> {
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//!
//! use arc_swap::ArcSwap;
//! use sightline_raft::{current_engine_dir, Node, RaftConfig, RaftNode};
//! use sightline_storage::{Command, Engine, EngineConfig, MasterKey};
//!
//! let dir = std::path::Path::new("/var/lib/sightline/raft");
//! let engine_config = EngineConfig::new(current_engine_dir(dir)?);
//! let engine = Engine::open(&engine_config, MasterKey::from_bytes(&[7; 32]))?;
//! let engine = Arc::new(ArcSwap::from_pointee(engine));
//!
//! let node = RaftNode::start(1, dir, "127.0.0.1:7001", engine, RaftConfig::new(engine_config)).await?;
//! node.initialize(BTreeMap::from([(1, Node::new("127.0.0.1:7001", "127.0.0.1:8080"))])).await?;
//! let outcome = node.propose(Command::Noop).await?;
//! # let _ = outcome;
//! node.shutdown().await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod checkpoint;
pub mod clock;
pub mod error;
pub mod faults;
mod forward;
mod layout;
pub mod log_keeper;
pub mod log_store;
pub mod network;
mod node;
mod server;
pub mod snapshot;
pub mod state_machine;
pub mod tls;
pub mod types;

/// Generated gRPC code for `proto/raft.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("sightline.raft.v1");
}

pub use error::{Error, Result};
pub use layout::current_engine_dir;
pub use log_store::LogStore;
pub use network::{NetworkConfig, NetworkFactory};
pub use node::{
    RaftConfig, RaftNode, Timing, DEFAULT_LOG_KEPT_BYTES, DEFAULT_MAX_ENTRY_BYTES,
    DEFAULT_SNAPSHOT_AFTER_BYTES,
};
pub use snapshot::SnapshotFiles;
pub use state_machine::StateMachine;
pub use tls::{PeerTls, TlsFiles, TLS_SERVER_NAME};
pub use types::{typ, Node, NodeId, TypeConfig};
