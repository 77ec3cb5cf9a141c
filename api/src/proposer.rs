//! The seam between the API and whatever orders commands (openraft, in `sightline-raft`,
//! wired by the node). The API needs: "apply this command, durably, and tell me the
//! outcome", "make my next read linearizable", and the cluster's membership operations.

use futures::future::BoxFuture;
use serde_json::Value;
use sightline_storage::{ApplyOutcome, Command, StorageError};
use thiserror::Error;

use crate::faults::OutgoingFaults;

/// Why a cluster operation did not happen.
#[derive(Debug, Error)]
pub enum ProposeError {
    /// The local state machine failed to apply it.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// No leader, no quorum, or shutting down: the caller may retry.
    #[error("{0}")]
    Unavailable(String),
    /// The caller asked for something the cluster refuses (for example removing the last
    /// voter, or adding a node id that is taken).
    #[error("{0}")]
    Refused(String),
    /// The command is larger than one log entry may be (answered 413).
    #[error("{0}")]
    TooLarge(String),
    /// The write may or may not have committed (answered 504 `outcome_unknown`).
    #[error("{0}")]
    OutcomeUnknown(String),
    /// Our failure below the API (the Raft log's storage, corrupt data, I/O): answered 500,
    /// the details logged only.
    #[error("{0}")]
    Internal(String),
}

/// What the API needs from the replication layer.
pub trait Cluster: Send + Sync + 'static {
    /// Orders `command`; resolves once it is committed and applied on this node or the
    /// leader it was forwarded to.
    fn propose(&self, command: Command) -> BoxFuture<'static, Result<ApplyOutcome, ProposeError>>;

    /// Resolves once this node's state reflects every command acknowledged (by any node)
    /// before the call: the read-index step of a linearizable read.
    fn read_barrier(&self) -> BoxFuture<'static, Result<(), ProposeError>>;

    /// `GET /v1/admin/cluster`: leader, term, commit index and members (api.md shape).
    fn status(&self) -> BoxFuture<'static, Result<Value, ProposeError>>;

    /// Adds node `id` as a learner, then promotes it to voter once it has caught up.
    fn add_node(
        &self,
        id: u64,
        raft_addr: String,
        http_addr: String,
    ) -> BoxFuture<'static, Result<Value, ProposeError>>;

    /// Removes node `id` from the voters and the cluster.
    fn remove_node(&self, id: u64) -> BoxFuture<'static, Result<Value, ProposeError>>;

    /// Whether this node has joined a cluster with a leader and applied everything that
    /// leader has committed.
    fn ready(&self) -> BoxFuture<'static, bool>;

    /// Raft's state on this node for `/metrics` (none where there is no Raft).
    fn raft_figures(&self) -> Option<crate::metrics::RaftFigures> {
        None
    }

    /// The fault rules on this node's outgoing replication traffic.
    fn outgoing_faults(&self) -> OutgoingFaults {
        OutgoingFaults::default()
    }

    /// Replaces them (fault injection). A cluster with no network refuses.
    fn set_outgoing_faults(&self, _faults: OutgoingFaults) -> Result<(), ProposeError> {
        Err(ProposeError::Refused(
            "this node has no replication traffic to break".into(),
        ))
    }
}
