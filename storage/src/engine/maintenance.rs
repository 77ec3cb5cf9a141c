//! Whole-engine maintenance outside `apply`: flush, full compaction (which runs the retention
//! filter over every entry), consistent checkpoints for snapshots, a raw visit of a column
//! family for diagnostics and tests, and RocksDB's own figures for `/metrics`.

use std::path::Path;

use rocksdb::{BottommostLevelCompaction, ColumnFamily, CompactOptions, ReadOptions};

use super::Engine;
use crate::error::Result;
use crate::keys::cf;

/// RocksDB's figures for monitoring, summed over the engine's column families where
/// RocksDB keeps them per family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RocksFigures {
    /// Bytes of every SST file (`rocksdb.total-sst-files-size`), obsolete ones included.
    pub sst_bytes: u64,
    /// Estimated bytes of live data (`rocksdb.estimate-live-data-size`).
    pub live_data_bytes: u64,
    /// Bytes in memtables, active and immutable (`rocksdb.cur-size-all-mem-tables`).
    pub memtable_bytes: u64,
    /// Bytes compaction still has to rewrite (`rocksdb.estimate-pending-compaction-bytes`).
    pub pending_compaction_bytes: u64,
    /// Column families that need a compaction (`rocksdb.compaction-pending`).
    pub families_pending_compaction: u64,
    /// Compactions running now (`rocksdb.num-running-compactions`).
    pub running_compactions: u64,
    /// Flushes running now (`rocksdb.num-running-flushes`).
    pub running_flushes: u64,
    /// Whether writes are stopped (`rocksdb.is-write-stopped`): a write stall.
    pub write_stopped: bool,
    /// The rate writes are slowed to, bytes/s, 0 when not slowed
    /// (`rocksdb.actual-delayed-write-rate`).
    pub delayed_write_rate: u64,
}

impl Engine {
    /// RocksDB's figures now ([`RocksFigures`]); a property RocksDB does not answer counts 0.
    pub fn rocks_figures(&self) -> Result<RocksFigures> {
        let mut figures = RocksFigures::default();
        for handle in self.all_families()? {
            let property = |name: &str| -> Result<u64> {
                Ok(self.db.property_int_value_cf(handle, name)?.unwrap_or(0))
            };
            figures.sst_bytes += property("rocksdb.total-sst-files-size")?;
            figures.live_data_bytes += property("rocksdb.estimate-live-data-size")?;
            figures.memtable_bytes += property("rocksdb.cur-size-all-mem-tables")?;
            figures.pending_compaction_bytes +=
                property("rocksdb.estimate-pending-compaction-bytes")?;
            figures.families_pending_compaction += property("rocksdb.compaction-pending")?;
        }
        let db_wide =
            |name: &str| -> Result<u64> { Ok(self.db.property_int_value(name)?.unwrap_or(0)) };
        figures.running_compactions = db_wide("rocksdb.num-running-compactions")?;
        figures.running_flushes = db_wide("rocksdb.num-running-flushes")?;
        figures.write_stopped = db_wide("rocksdb.is-write-stopped")? != 0;
        figures.delayed_write_rate = db_wide("rocksdb.actual-delayed-write-rate")?;
        Ok(figures)
    }

    /// Flushes memtables and compacts every column family down to the bottom level, which
    /// runs the retention filter over every entry.
    pub fn compact_all(&self) -> Result<()> {
        self.flush()?;
        let mut opts = CompactOptions::default();
        opts.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        opts.set_exclusive_manual_compaction(true);
        for handle in self.all_families()? {
            self.db
                .compact_range_cf_opt(handle, None::<&[u8]>, None::<&[u8]>, &opts);
        }
        Ok(())
    }

    /// Visits every raw (key, value) of a column family, for diagnostics and tests that
    /// must see exactly what is on disk.
    pub fn for_each_raw(&self, cf_name: &str, mut visit: impl FnMut(&[u8], &[u8])) -> Result<()> {
        let mut opts = ReadOptions::default();
        opts.set_total_order_seek(true);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(cf_name)?, opts);
        iter.seek_to_first();
        while iter.valid() {
            if let (Some(k), Some(v)) = (iter.key(), iter.value()) {
                visit(k, v);
            }
            iter.next();
        }
        iter.status()?;
        Ok(())
    }

    /// Writes a consistent RocksDB checkpoint (hard-linked SST files plus the files needed
    /// to open it) into `dir`, which must not exist yet. Used for snapshots.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.db)?;
        checkpoint.create_checkpoint(dir)?;
        Ok(())
    }

    /// Flushes memtables so everything written is in SST files.
    pub fn flush(&self) -> Result<()> {
        let handles = self.all_families()?;
        self.db
            .flush_cfs_opt(&handles, &rocksdb::FlushOptions::default())?;
        Ok(())
    }

    fn all_families(&self) -> Result<Vec<&ColumnFamily>> {
        cf::all().map(|name| self.cf(name)).collect()
    }
}
