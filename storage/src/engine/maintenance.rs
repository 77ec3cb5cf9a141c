//! Whole-engine maintenance outside `apply`: flush, full compaction (which runs the retention
//! filter over every entry), consistent checkpoints for snapshots, and a raw visit of a column
//! family for diagnostics and tests.

use std::path::Path;

use rocksdb::{BottommostLevelCompaction, ColumnFamily, CompactOptions, ReadOptions};

use super::Engine;
use crate::error::Result;
use crate::keys::cf;

impl Engine {
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
