//! `sightline-query` owns query types, their planning and execution over the storage
//! engine, and pagination cursors. Today: exact plate search with a time range, a camera
//! filter, a total and cursor pagination, newest first.
//!
//! It must not know about HTTP or JSON bodies (the api crate turns requests into these
//! types) nor about Raft (the caller decides which replica answers and how fresh it is).

pub mod cursor;
pub mod plate;

pub use cursor::Cursor;
pub use plate::{exact_plate_search, PlatePage, PlateQuery};

use thiserror::Error;

/// Result alias for the query crate.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

/// What can go wrong running a query.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The caller's cursor is not one we issued.
    #[error("cursor is malformed or from another query")]
    BadCursor,
    /// Storage failed underneath the query.
    #[error(transparent)]
    Storage(#[from] sightline_storage::StorageError),
}
