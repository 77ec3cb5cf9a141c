//! Writing the storage engine's state into a new directory for a snapshot: a RocksDB
//! checkpoint (hard links to the live SST files plus a copy of the MANIFEST), so building a
//! snapshot costs a memtable flush and a few links, not a copy of the state.
//!
//! The caller must keep `apply` from running while this runs, so the checkpoint is one
//! consistent state (the state machine holds its apply gate).
//!
//! The live engine is durable up to the checkpoint when this returns: openraft purges the
//! log up to a snapshot once it is built, and an engine opened with `sync_writes: false`
//! that lost its WAL tail in a crash could otherwise restart with an applied position below
//! the purged log. RocksDB's checkpoint flushes the memtables first (`log_size_for_flush`
//! is 0 by default).

use std::path::Path;

use sightline_storage::Engine;

use crate::error::Result;

/// Writes a checkpoint of `engine` into `dir`, which must not exist yet.
pub(crate) fn checkpoint(engine: &Engine, dir: &Path) -> Result<()> {
    engine.checkpoint(dir)?;
    Ok(())
}
