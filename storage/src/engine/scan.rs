//! Read primitives over the token indexes: one token's entries newest first, and the
//! entries of many tokens merged newest first (wildcard and fuzzy plates, the cells of an
//! area), each bounded by time, all from one consistent RocksDB snapshot. For the
//! aggregates (`sightline_query::stats`): every token of a tenant's index, token by token,
//! within a time range ([`Engine::scan_index_by_token`]), and a tenant's reads in a time
//! range oldest first, opened ([`Engine::scan_reads`]).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rocksdb::{DBRawIteratorWithThreadMode, ReadOptions, DB};

use super::{decode_meta, Engine, ReadIndex};
use crate::error::{Result, StorageError};
use crate::keys::{cf, IndexKey, RecordKey, Token};
use crate::record::PlateRead;

/// The token after `token` in byte order; `None` after the greatest.
fn next_token(token: &Token) -> Option<Token> {
    u64::from_be_bytes(*token)
        .checked_add(1)
        .map(u64::to_be_bytes)
}

/// Read options for a scan of one tenant's keys in a column family keyed `tenant u32 · ...`,
/// across token prefixes (total order), leaving the block cache to the searches.
fn tenant_scan_options(tenant: u32) -> ReadOptions {
    let mut opts = ReadOptions::default();
    opts.set_total_order_seek(true);
    opts.fill_cache(false);
    opts.set_iterate_lower_bound(tenant.to_be_bytes().to_vec());
    if let Some(next) = tenant.checked_add(1) {
        opts.set_iterate_upper_bound(next.to_be_bytes().to_vec());
    }
    opts
}

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

impl Engine {
    /// Visits every entry of one tenant's index with `from <= ts <= to`, token by token (in
    /// the tokens' byte order) and oldest first within a token (by time, then id), until
    /// `visit` returns false; all from one iterator, so from one consistent view. Entries
    /// outside the range are skipped by seeking (at most two seeks per token), so the cost
    /// is the entries in range plus a seek or two per token of the tenant, never the
    /// entries outside the range. The value is the entry's payload, as for
    /// [`Engine::scan_index_newest_first`]. Retention is the caller's.
    pub fn scan_index_by_token(
        &self,
        index: ReadIndex,
        tenant: u32,
        from: i64,
        to: i64,
        mut visit: impl FnMut(&IndexKey, &[u8]) -> bool,
    ) -> Result<()> {
        if from > to {
            return Ok(());
        }
        let start = |token: Token| {
            IndexKey {
                tenant,
                token,
                ts: from,
                id: 0,
            }
            .encode()
        };
        let opts = tenant_scan_options(tenant);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(index.cf_name())?, opts);
        iter.seek(start([0; 8]));
        loop {
            if !iter.valid() {
                iter.status()?;
                return Ok(());
            }
            let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                return Ok(());
            };
            let entry =
                IndexKey::decode(key).ok_or(StorageError::corrupt("index key", "bad length"))?;
            if entry.tenant != tenant {
                return Ok(());
            }
            if entry.ts < from {
                // Landed at the start of a token after the one sought: skip to its range.
                iter.seek(start(entry.token));
                continue;
            }
            if entry.ts > to {
                match next_token(&entry.token) {
                    Some(next) => {
                        iter.seek(start(next));
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            if !visit(&entry, value) {
                return Ok(());
            }
            iter.next();
        }
    }

    /// Visits one tenant's plate reads with `from <= captured_at <= to` oldest first (by
    /// time, then id), each opened, until `visit` returns false; all from one iterator. One
    /// AEAD open and one decode per read. Retention is the caller's: it raises `from` to
    /// the tenant's watermark (reads below it may still be on disk until compaction).
    pub fn scan_reads(
        &self,
        tenant: u32,
        from: i64,
        to: i64,
        mut visit: impl FnMut(PlateRead) -> bool,
    ) -> Result<()> {
        if from > to {
            return Ok(());
        }
        let keys = self.tenant_keys(tenant)?;
        let opts = tenant_scan_options(tenant);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(cf::READS)?, opts);
        iter.seek(
            RecordKey {
                tenant,
                ts: from,
                id: 0,
            }
            .encode(),
        );
        while iter.valid() {
            let (Some(key), Some(sealed)) = (iter.key(), iter.value()) else {
                break;
            };
            let record =
                RecordKey::decode(key).ok_or(StorageError::corrupt("read key", "bad length"))?;
            if record.tenant != tenant || record.ts > to {
                return Ok(());
            }
            let plain = keys.open(key, sealed)?;
            if !visit(decode_meta::<PlateRead>("plate read", &plain)?) {
                return Ok(());
            }
            iter.next();
        }
        iter.status()?;
        Ok(())
    }
}
