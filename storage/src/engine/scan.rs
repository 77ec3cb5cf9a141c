//! Read primitives over the token indexes: one token's entries newest first, and the
//! entries of many tokens merged newest first (wildcard and fuzzy plates, the cells of an
//! area), each bounded by time, all from one consistent RocksDB snapshot.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rocksdb::{DBRawIteratorWithThreadMode, ReadOptions, DB};

use super::{Engine, ReadIndex};
use crate::error::{Result, StorageError};
use crate::keys::{IndexKey, Token};

/// One token's iterator, ordered in the heap by the (time, id) of its current entry.
struct Cursor<'a> {
    at: (i64, u128),
    iter: DBRawIteratorWithThreadMode<'a, DB>,
    prefix: [u8; IndexKey::PREFIX_LEN],
}

impl PartialEq for Cursor<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.prefix == other.prefix
    }
}
impl Eq for Cursor<'_> {}
impl PartialOrd for Cursor<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cursor<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at
            .cmp(&other.at)
            .then_with(|| self.prefix.cmp(&other.prefix))
    }
}

/// The current entry of an iterator positioned inside `prefix`, if any, with its value
/// borrowed from the iterator (no copy per entry).
fn current<'a>(
    iter: &'a DBRawIteratorWithThreadMode<'_, DB>,
    prefix: &[u8],
) -> Result<Option<(IndexKey, &'a [u8])>> {
    if !iter.valid() {
        iter.status()?;
        return Ok(None);
    }
    let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
        return Ok(None);
    };
    if !key.starts_with(prefix) {
        return Ok(None);
    }
    let entry = IndexKey::decode(key).ok_or(StorageError::corrupt("index key", "bad length"))?;
    Ok(Some((entry, value)))
}

impl Engine {
    fn index_iterator(
        &self,
        index: ReadIndex,
        tenant: u32,
        token: &Token,
        from: i64,
        before: (i64, u128),
        snapshot: Option<&rocksdb::Snapshot<'_>>,
    ) -> Result<DBRawIteratorWithThreadMode<'_, DB>> {
        let lower = IndexKey {
            tenant,
            token: *token,
            ts: from,
            id: 0,
        }
        .encode();
        let last = IndexKey {
            tenant,
            token: *token,
            ts: before.0,
            id: before.1,
        }
        .encode();
        let mut opts = ReadOptions::default();
        opts.set_prefix_same_as_start(true);
        opts.set_iterate_lower_bound(lower.to_vec());
        if let Some(snapshot) = snapshot {
            opts.set_snapshot(snapshot);
        }
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(index.cf_name())?, opts);
        iter.seek_for_prev(last);
        Ok(iter)
    }

    /// Visits the entries of one token's index newest first, for times in
    /// `[from, before.0]` and, at `before.0`, ids up to `before.1`, until `visit` returns
    /// false. The value is the entry's payload (the camera token for the plate index, the
    /// plate token for the cell and camera indexes).
    pub fn scan_index_newest_first(
        &self,
        index: ReadIndex,
        tenant: u32,
        token: &Token,
        from: i64,
        before: (i64, u128),
        mut visit: impl FnMut(&IndexKey, &[u8]) -> bool,
    ) -> Result<()> {
        if before.0 < from {
            return Ok(());
        }
        let prefix = IndexKey::prefix(tenant, token);
        let mut iter = self.index_iterator(index, tenant, token, from, before, None)?;
        while let Some((entry, value)) = current(&iter, &prefix)? {
            if !visit(&entry, value) {
                return Ok(());
            }
            iter.prev();
        }
        Ok(())
    }

    /// Visits the entries of several tokens of one index merged newest first (by time,
    /// then id), within the same bounds as [`Engine::scan_index_newest_first`], until
    /// `visit` returns false. Every token is read from one snapshot.
    pub fn merge_scan_newest_first(
        &self,
        index: ReadIndex,
        tenant: u32,
        tokens: &[Token],
        from: i64,
        before: (i64, u128),
        mut visit: impl FnMut(&IndexKey, &[u8]) -> bool,
    ) -> Result<()> {
        if before.0 < from || tokens.is_empty() {
            return Ok(());
        }
        if let [token] = tokens {
            return self.scan_index_newest_first(index, tenant, token, from, before, visit);
        }
        let snapshot = self.db.snapshot();
        let mut heap = BinaryHeap::with_capacity(tokens.len());
        for token in tokens {
            let prefix = IndexKey::prefix(tenant, token);
            let iter = self.index_iterator(index, tenant, token, from, before, Some(&snapshot))?;
            if let Some((entry, _)) = current(&iter, &prefix)? {
                heap.push(Cursor {
                    at: (entry.ts, entry.id),
                    iter,
                    prefix,
                });
            }
        }
        while let Some(mut top) = heap.pop() {
            let Some((entry, value)) = current(&top.iter, &top.prefix)? else {
                continue;
            };
            if !visit(&entry, value) {
                return Ok(());
            }
            top.iter.prev();
            if let Some((next, _)) = current(&top.iter, &top.prefix)? {
                top.at = (next.ts, next.id);
                heap.push(top);
            }
        }
        Ok(())
    }
}
