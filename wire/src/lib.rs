//! `sightline-wire` owns the forms in which values cross a trust boundary, parsed and
//! checked without I/O:
//!
//! - [`auth`]: signed bearer tokens, their signing and verification;
//! - [`cursor`]: opaque pagination cursors;
//! - [`batch`]: an ingest body split into records (a JSON array or NDJSON);
//! - [`record`]: the record types, their validation and normalization (plates included);
//! - [`time`]: RFC 3339 at the edges, UTC milliseconds inside;
//! - [`command`]: the replicated [`command::Command`] and its postcard encoding, with the
//!   opaque values it carries ([`opaque`]).
//!
//! It must not know about RocksDB, HTTP or Raft. It exists so that the code that first
//! touches untrusted bytes builds without RocksDB's C++, which is what lets `fuzz/` run it
//! under libFuzzer (docs/security.md, "Fuzzing"). The crates that own these concepts
//! re-export them from their old places (`sightline_storage::{record, time, command}`,
//! `sightline_query::cursor`, `sightline_api::auth`), so callers name them as before.

pub mod auth;
pub mod batch;
pub mod command;
pub mod cursor;
pub mod opaque;
pub mod record;
pub mod time;
