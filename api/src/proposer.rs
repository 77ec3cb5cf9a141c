//! The seam between the API and whatever orders commands: a single-node log today, an
//! openraft leader next. The API only needs "apply this command, durably, and tell me the
//! outcome".

use futures::future::BoxFuture;
use sightline_storage::{ApplyOutcome, Command, StorageError};
use thiserror::Error;

/// Why a command was not applied.
#[derive(Debug, Error)]
pub enum ProposeError {
    /// The local state machine failed to apply it.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// No leader, no quorum, or shutting down: the caller may retry.
    #[error("{0}")]
    Unavailable(String),
}

/// Orders a command, waits until it is durable and applied, and returns its outcome.
pub trait Proposer: Send + Sync + 'static {
    /// Proposes `command`.
    fn propose(&self, command: Command) -> BoxFuture<'static, Result<ApplyOutcome, ProposeError>>;

    /// Resolves once this node's state reflects every command acknowledged (by any node)
    /// before the call: the read-index step of a linearizable read.
    fn read_barrier(&self) -> BoxFuture<'static, Result<(), ProposeError>>;
}
