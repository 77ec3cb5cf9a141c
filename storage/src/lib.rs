//! `sightline-storage` owns everything Sightline keeps on one node's disk: the record types
//! (plate reads, media manifests, sensor samples) with their validation and normalization
//! and the [`Command`] (both defined in `sightline-wire`, re-exported here as [`record`]
//! and [`command`]), the fixed-width key layout, the keyring and AES-GCM-SIV envelope
//! encryption, the RocksDB engine with its column families, the deterministic [`Engine::apply`] of a [`Command`],
//! and the retention (TTL) compaction filter.
//!
//! It must not know about HTTP, Raft or cluster membership: a [`Command`] arrives with a
//! [`LogPosition`] from whatever orders commands (a single-node log today, openraft next),
//! and `apply` turns it into exactly one RocksDB `WriteBatch`. Every replica that applies the
//! same commands in the same order writes the same bytes, because all randomness (ids,
//! wrapped keys) is fixed by the proposer in [`prepare`] before the command is ordered.
//!
//! No plaintext plate or exact position ever reaches a key or a value: values are sealed
//! with the tenant's data key, and index keys carry keyed tokens (HMAC) instead. The
//! full-text index of manifest text ([`engine::text`]) lives in memory only, rebuilt from
//! the sealed rows on open.
//!
//! The audit logs ([`audit`]) are replicated state too: hash-chained per tenant, sealed by
//! the proposer like records, pruned only by `apply`.

pub mod alerts;
pub mod audit;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod keyring;
pub mod keys;
pub mod prepare;
pub mod retention;

// The record types, times and the command are parsed from untrusted bytes, so they live in
// the RocksDB-free `sightline-wire` (which `fuzz/` builds); these are their old paths.
pub use sightline_wire::{command, record, time};

pub use command::{ApplyOutcome, Command, LogPosition};
pub use engine::{Engine, EngineConfig, TenantInfo};
pub use error::{Result, StorageError};
pub use keyring::MasterKey;
pub use record::FieldError;

/// The node's current engine. Installing a snapshot swaps in an engine opened on the
/// snapshot's files; readers holding the previous one finish on it undisturbed.
pub type SharedEngine = std::sync::Arc<arc_swap::ArcSwap<Engine>>;
