//! The storage error type. User mistakes (bad records) are reported as
//! [`crate::FieldError`] lists by validation, never through this enum.

use thiserror::Error;

/// Result alias for the storage crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// What can go wrong inside the storage engine.
#[derive(Debug, Error)]
pub enum StorageError {
    /// RocksDB reported an error (I/O, corruption, options).
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A sealed value failed authentication: wrong key or tampered bytes.
    #[error("decryption failed for {what}")]
    Decrypt {
        /// What was being opened.
        what: &'static str,
    },
    /// The master key could not be loaded or is malformed.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A wrapped key names a master key this node was not given.
    #[error(
        "{what} is wrapped by master key {fingerprint}, which this node was not given: \
         configure that key's file as master_key_file or in previous_master_key_files"
    )]
    MasterKeyMissing {
        /// The key slot (its wrap context).
        what: String,
        /// The fingerprint of the master key it needs.
        fingerprint: String,
    },
    /// A stored or replicated byte string did not decode.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A tenant named in a command or query does not exist.
    #[error("tenant {0} does not exist")]
    UnknownTenant(String),
    /// The in-memory manifest text index failed.
    #[error("text index: {0}")]
    Text(#[from] tantivy::TantivyError),
    /// File-system error outside RocksDB (key files, directories).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl StorageError {
    pub(crate) fn corrupt(what: &'static str, reason: impl ToString) -> Self {
        StorageError::Corrupt {
            what,
            reason: reason.to_string(),
        }
    }
}
