//! The openraft type configuration: which types Raft orders, answers with, and identifies
//! nodes and snapshots by.

use std::fmt;

use serde::{Deserialize, Serialize};
use sightline_storage::{ApplyOutcome, Command};

use crate::snapshot::SnapshotFiles;

/// A node's id in the cluster.
pub type NodeId = u64;

/// What the cluster knows about a member: where its Raft transport and its HTTP API listen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Node {
    /// `host:port` of the node's Raft gRPC service.
    pub raft_addr: String,
    /// `host:port` of the node's HTTP API, for forwarding clients to the leader.
    pub http_addr: String,
}

impl Node {
    /// A node listening on `raft_addr` for Raft and `http_addr` for HTTP.
    pub fn new(raft_addr: impl Into<String>, http_addr: impl Into<String>) -> Self {
        Node {
            raft_addr: raft_addr.into(),
            http_addr: http_addr.into(),
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raft={} http={}", self.raft_addr, self.http_addr)
    }
}

openraft::declare_raft_types!(
    /// Sightline's Raft types: commands are [`Command`]s, answers are [`ApplyOutcome`]s, and a
    /// snapshot is a directory of files (a RocksDB checkpoint of the storage engine).
    pub TypeConfig:
        D = Command,
        R = ApplyOutcome,
        NodeId = NodeId,
        Node = Node,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = SnapshotFiles,
        AsyncRuntime = openraft::TokioRuntime,
);

/// Shorthands for openraft's generic types instantiated with [`TypeConfig`].
pub mod typ {
    use super::{NodeId, TypeConfig};

    /// A log entry.
    pub type Entry = openraft::Entry<TypeConfig>;
    /// A log id.
    pub type LogId = openraft::LogId<NodeId>;
    /// A vote.
    pub type Vote = openraft::Vote<NodeId>;
    /// Snapshot metadata.
    pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, super::Node>;
    /// A snapshot.
    pub type Snapshot = openraft::Snapshot<TypeConfig>;
    /// A membership configuration with the log id that introduced it.
    pub type StoredMembership = openraft::StoredMembership<NodeId, super::Node>;
    /// openraft's storage error.
    pub type StorageError = openraft::StorageError<NodeId>;
    /// The Raft handle.
    pub type Raft = openraft::Raft<TypeConfig>;
    /// Raft metrics.
    pub type RaftMetrics = openraft::RaftMetrics<NodeId, super::Node>;
}
