//! `sightline-query` owns query types, their planning and execution over the storage
//! engine, and pagination cursors:
//!
//! - [`reads`]: plate (exact, wildcard, fuzzy) and area search with camera and vehicle
//!   filters, one executor over the access path the [`plan`]ner picks;
//! - [`colocation`]: plates seen in at least k of n place-time windows (roaring bitmaps of
//!   dense plate ids);
//! - [`convoy`]: plates read by the same camera within a window of a target's reads;
//! - [`frequency`]: where and when a plate is usually seen;
//! - [`series`]: a sensor series in epoch-aligned buckets, reduced by avg, min, max, sum,
//!   count or last;
//! - [`stats`]: reads counted per epoch-aligned time bucket and camera or H3 resolution-7
//!   cell, with distinct vehicles (the analyst's aggregate: counts only, never a plate);
//! - [`manifests`]: full-text search over media manifests (Tantivy), filtered by time, kind
//!   and area;
//! - [`cursor`]: opaque `search_after` cursors.
//!
//! It must not know about HTTP or JSON bodies (the api crate turns requests into these
//! types) nor about Raft (the caller decides which replica answers and how fresh it is).

pub mod across;
pub mod colocation;
pub mod convoy;
pub mod filter;
pub mod frequency;
pub mod manifests;
pub mod plan;
pub mod reads;
pub mod series;
pub mod stats;

pub use across::{search_reads_across, MergedPage};
// Cursors are decoded from caller text, so they live in the RocksDB-free `sightline-wire`
// (which `fuzz/` builds); this is their old path.
pub use sightline_wire::cursor;

pub use cursor::Cursor;
pub use filter::VehicleFilter;
pub use manifests::{search_manifests, ManifestPage, ManifestQuery};
pub use plan::Explain;
pub use reads::{search_reads, PlateMatch, ReadPage, ReadQuery, TotalRelation};

use thiserror::Error;

/// Result alias for the query crate.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

/// What can go wrong running a query.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The caller's cursor is not one we issued.
    #[error("cursor is malformed or from another query")]
    BadCursor,
    /// The query is valid JSON but cannot be run as asked (the caller's mistake).
    #[error("{field} {reason}")]
    Invalid {
        /// The request field at fault.
        field: String,
        /// Why.
        reason: String,
    },
    /// Storage failed underneath the query.
    #[error(transparent)]
    Storage(#[from] sightline_storage::StorageError),
}

impl From<cursor::BadCursor> for QueryError {
    fn from(_: cursor::BadCursor) -> Self {
        QueryError::BadCursor
    }
}

impl QueryError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        QueryError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The retention-raised start of a time range.
pub(crate) fn live_from(engine: &sightline_storage::Engine, tenant: u32, from: i64) -> i64 {
    match engine.retention_cutoff(tenant) {
        Some(cutoff) => from.max(cutoff),
        None => from,
    }
}
