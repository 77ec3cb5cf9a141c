//! `sightline-raft` will own replication: the openraft type config, the RocksDB log store
//! (entries fsync'd before they are reported written), the state machine over
//! `sightline_storage::Engine::apply`, the tonic network, snapshot streaming from RocksDB
//! checkpoints, and membership changes.
//!
//! It must not know about HTTP or record semantics: it orders opaque
//! `sightline_storage::Command`s. Until it lands, `sightline` orders commands with a
//! single-node log (`node/src/local_log.rs`) in front of the same `apply`.
