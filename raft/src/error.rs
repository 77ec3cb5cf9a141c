//! The raft crate's error type. Callers' mistakes (proposing to a follower, a bad membership
//! change, a bad config) and internal failures (I/O, a stopped Raft) are separate variants,
//! so the node can map them to different answers.

use std::path::PathBuf;

use thiserror::Error;

use crate::types::{Node, NodeId};

/// Result alias for the raft crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in replication.
#[derive(Debug, Error)]
pub enum Error {
    /// This node is not the leader; the caller should retry on `leader`.
    #[error("not the leader; leader is {}", describe_leader(*.leader_id, .leader.as_ref()))]
    ForwardToLeader {
        /// The leader's id, if this node knows it.
        leader_id: Option<NodeId>,
        /// The leader's addresses, if this node knows them.
        leader: Option<Node>,
    },
    /// The leader could not reach a quorum to confirm its leadership.
    #[error("no quorum: {0}")]
    NoQuorum(String),
    /// A membership change or initialization was refused (for example a change is already
    /// in progress, or the node was already initialized).
    #[error("membership change refused: {0}")]
    Membership(String),
    /// A proposal that is not a client command (membership changes go through the
    /// membership API, never through `propose`).
    #[error("refused: {0}")]
    NotAClientCommand(String),
    /// A command whose encoded size exceeds the entry bound ([`crate::RaftConfig::max_entry_bytes`]):
    /// refused before it reaches the log, since a batch is atomic and cannot be split.
    #[error("a command of {size} bytes exceeds the largest log entry, {limit} bytes; send smaller batches")]
    EntryTooLarge {
        /// Encoded size of the command.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// The command may or may not have committed: an attempt reached a node that could have
    /// appended it, and no answer came before the deadline. Retrying is safe only for
    /// commands that are idempotent on their own (records with client ids).
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// The configuration is invalid.
    #[error("invalid raft config: {0}")]
    Config(String),
    /// Raft has stopped on this node (shut down, or a fatal storage error).
    #[error("raft stopped: {0}")]
    Stopped(String),
    /// The storage engine failed.
    #[error("storage: {0}")]
    Storage(#[from] sightline_storage::StorageError),
    /// The Raft log's RocksDB failed.
    #[error("raft log: {0}")]
    LogStore(#[from] rocksdb::Error),
    /// File-system error on a path this crate manages.
    #[error("io on {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Something stored on disk or received from a peer did not decode.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The gRPC transport could not be set up (binding the listener, a bad address).
    #[error("transport: {0}")]
    Transport(String),
    /// A peer refused a request as the sender's mistake (its gRPC answer's class).
    #[error("refused by a peer: {0}")]
    RefusedByPeer(String),
    /// A peer failed internally (its gRPC answer's class; the details are in its log).
    #[error("a peer failed: {0}")]
    PeerFailed(String),
}

fn describe_leader(id: Option<NodeId>, node: Option<&Node>) -> String {
    match (id, node) {
        (Some(id), Some(node)) => format!("node {id} ({node})"),
        (Some(id), None) => format!("node {id}"),
        _ => "unknown".to_string(),
    }
}

/// How a caller must treat an [`Error`]: the one classification the node maps to HTTP
/// status codes (and that a gRPC surface maps to status codes the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Nothing was done and trying again (perhaps elsewhere, after an election) may work.
    Retryable,
    /// The write may or may not have committed.
    OutcomeUnknown,
    /// The caller asked for something this cluster refuses; retrying will not help.
    Refused,
    /// Our failure (storage, corrupt data, I/O): the details belong in the log, not in an
    /// answer.
    Internal,
}

impl ErrorClass {
    /// The gRPC code a class travels as between nodes (the HTTP side maps the same classes
    /// in `sightline-node`'s `cluster.rs`): retryable → `UNAVAILABLE` (as etcd answers "not
    /// leader"), unknown outcome → `DEADLINE_EXCEEDED` (gRPC's own "may have completed"),
    /// refused → `INVALID_ARGUMENT`, internal → `INTERNAL`.
    pub fn grpc_code(self) -> tonic::Code {
        match self {
            ErrorClass::Retryable => tonic::Code::Unavailable,
            ErrorClass::OutcomeUnknown => tonic::Code::DeadlineExceeded,
            ErrorClass::Refused => tonic::Code::InvalidArgument,
            ErrorClass::Internal => tonic::Code::Internal,
        }
    }

    /// The class of a gRPC code received from a peer (or made by the client library: a
    /// cancelled or timed-out call is retryable as far as the answer goes).
    pub fn of_grpc_code(code: tonic::Code) -> ErrorClass {
        use tonic::Code;
        match code {
            Code::Ok
            | Code::Unavailable
            | Code::Aborted
            | Code::Cancelled
            | Code::ResourceExhausted => ErrorClass::Retryable,
            Code::DeadlineExceeded => ErrorClass::OutcomeUnknown,
            Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Unimplemented => ErrorClass::Refused,
            Code::Internal | Code::DataLoss | Code::Unknown => ErrorClass::Internal,
        }
    }
}

impl Error {
    /// This error's class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::ForwardToLeader { .. }
            | Error::NoQuorum(_)
            | Error::Stopped(_)
            | Error::Transport(_) => ErrorClass::Retryable,
            Error::OutcomeUnknown(_) => ErrorClass::OutcomeUnknown,
            Error::Membership(_)
            | Error::NotAClientCommand(_)
            | Error::EntryTooLarge { .. }
            | Error::RefusedByPeer(_)
            | Error::Config(_) => ErrorClass::Refused,
            Error::Storage(_)
            | Error::LogStore(_)
            | Error::Io { .. }
            | Error::Corrupt { .. }
            | Error::PeerFailed(_) => ErrorClass::Internal,
        }
    }

    /// This error as a gRPC answer to a peer: its class's code, and for an internal error
    /// a fixed message (the details go to this node's log, not over the wire).
    pub fn to_status(&self) -> tonic::Status {
        // "Not the leader" is retryable like the rest of its class, and also certain that
        // nothing was done: it travels as ABORTED so the sender can tell it apart.
        if let Error::ForwardToLeader { .. } = self {
            return tonic::Status::aborted(self.to_string());
        }
        let class = self.class();
        let message = match class {
            ErrorClass::Internal => {
                tracing::error!(error = %self, "internal error answering a peer");
                "internal error; see the peer's log".to_string()
            }
            _ => self.to_string(),
        };
        tonic::Status::new(class.grpc_code(), message)
    }

    /// The error a gRPC answer from a peer stands for, by the class its code carries.
    /// A retryable or unknown outcome stays a transport error: whether the command may have
    /// committed is decided by the caller, which knows whether the request was sent.
    pub fn from_status(status: &tonic::Status) -> Error {
        let message = status.message().to_string();
        if status.code() == tonic::Code::Aborted {
            return Error::ForwardToLeader {
                leader_id: None,
                leader: None,
            };
        }
        match ErrorClass::of_grpc_code(status.code()) {
            ErrorClass::Retryable | ErrorClass::OutcomeUnknown => Error::Transport(message),
            ErrorClass::Refused => Error::RefusedByPeer(message),
            ErrorClass::Internal => Error::PeerFailed(message),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(what: &'static str, reason: impl ToString) -> Self {
        Error::Corrupt {
            what,
            reason: reason.to_string(),
        }
    }
}

/// Wraps an I/O result with the path it was about.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod grpc_tests {
    use super::*;

    #[test]
    fn each_class_travels_as_one_grpc_code_and_comes_back_as_itself() {
        for class in [
            ErrorClass::Retryable,
            ErrorClass::OutcomeUnknown,
            ErrorClass::Refused,
            ErrorClass::Internal,
        ] {
            assert_eq!(ErrorClass::of_grpc_code(class.grpc_code()), class);
        }
        let samples = [
            Error::NoQuorum("q".into()),
            Error::OutcomeUnknown("u".into()),
            Error::EntryTooLarge { size: 9, limit: 8 },
            Error::io(
                "/var/lib/sightline/secret-path",
                std::io::Error::other("disk"),
            ),
        ];
        for error in &samples {
            let status = error.to_status();
            assert_eq!(
                ErrorClass::of_grpc_code(status.code()),
                error.class(),
                "{error}"
            );
        }
        // An internal error's details stay home.
        let status = samples[3].to_status();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(
            !status.message().contains("secret-path"),
            "{}",
            status.message()
        );
        assert_eq!(Error::from_status(&status).class(), ErrorClass::Internal);
        // "Not the leader" is told apart from other retryable answers: nothing was done.
        let moved = Error::ForwardToLeader {
            leader_id: Some(2),
            leader: None,
        }
        .to_status();
        assert_eq!(moved.code(), tonic::Code::Aborted);
        assert!(matches!(
            Error::from_status(&moved),
            Error::ForwardToLeader { .. }
        ));
        assert!(matches!(
            Error::from_status(&tonic::Status::unavailable("down")),
            Error::Transport(_)
        ));
        assert!(matches!(
            Error::from_status(&tonic::Status::invalid_argument("bad")),
            Error::RefusedByPeer(_)
        ));
    }
}
