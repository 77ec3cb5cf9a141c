//! The audit logs in the engine (format and chain: `crate::audit`): `apply` appends the
//! entries of `Command::AppendAudit` with the next seq and chained hash of each log, and
//! prunes each log from its oldest end as the cluster clock advances; readers get pages by
//! time (opened with the log's key) and a chain verification, each from one RocksDB
//! snapshot. Nothing is cached in memory: a chain's record is read from `meta` in `apply`
//! (one point read per log per command).

use std::collections::BTreeMap;

use rocksdb::{Direction, IteratorMode, WriteBatch};

use super::Engine;
use crate::audit::{
    self, chain_hash, chain_key, decode_chain, decode_entry, decode_time_key, encode_chain,
    entry_bytes, entry_key, retention_days, stored_value, time_key, AuditEntry, ChainReport,
    ChainState, Hash, StoredEntry, CLUSTER_LOG, MAX_PRUNED_PER_TICK,
};
use crate::command::{ApplyOutcome, SealedAuditEntry};
use crate::crypto::DataKey;
use crate::error::{Result, StorageError};
use crate::keys::cf;
use crate::time::DAY_MS;

/// Which entries of a log a page holds.
#[derive(Debug, Clone, Copy)]
pub struct AuditQuery {
    /// Oldest entry time, UTC ms, inclusive.
    pub from: i64,
    /// Newest entry time, UTC ms, inclusive.
    pub to: i64,
    /// Resume strictly after this (time, seq) in the page's order.
    pub after: Option<(i64, u64)>,
    /// Entries per page.
    pub limit: usize,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

/// One entry of a page, with its place in the chain.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Its seq in the log.
    pub seq: u64,
    /// Its time (the proposing node's clock).
    pub at: i64,
    /// Its stored hash.
    pub hash: Hash,
    /// The hash it is chained to: the previous entry's stored hash (or the chain's base).
    pub prev_hash: Hash,
    /// The opened entry; `Err` if it does not open with the log's key (altered bytes).
    pub entry: std::result::Result<AuditEntry, String>,
}

/// A page of a log.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// The entries, in the query's order.
    pub records: Vec<AuditRecord>,
    /// Where the next page starts, if there is one.
    pub next: Option<(i64, u64)>,
    /// The log's chain record as of the page's snapshot.
    pub chain: ChainState,
}

impl Engine {
    /// The key that seals and opens `log`'s new entries: the tenant's current data key, or
    /// for the cluster log the key derived from the signing key (`None` until the cluster
    /// has one).
    pub fn audit_sealing_key(&self, log: u32) -> Result<Option<DataKey>> {
        if log == CLUSTER_LOG {
            return Ok(self.signing_key().map(|key| audit::cluster_key(&key)));
        }
        Ok(self.tenant_keys(log)?.current().cloned())
    }

    fn open_audit(
        &self,
        log: u32,
        entry: &StoredEntry<'_>,
    ) -> std::result::Result<AuditEntry, String> {
        let aad = entry.aad(log);
        let plain = if log == CLUSTER_LOG {
            let key = self.signing_key().ok_or("the cluster has no signing key")?;
            audit::cluster_key(&key).open(&aad, entry.sealed)
        } else {
            self.tenant_keys(log)
                .and_then(|keys| keys.open(&aad, entry.sealed))
        };
        plain
            .and_then(|plain| decode_entry(&plain))
            .map_err(|_| "the entry does not open with its log's key (altered?)".to_string())
    }

    /// A log's chain record, `None` while nothing was ever appended to it.
    pub fn audit_chain(&self, log: u32) -> Result<Option<ChainState>> {
        match self.db.get_cf(self.cf(cf::META)?, chain_key(log))? {
            Some(bytes) => Ok(Some(decode_chain(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The audit retention of `log`, in days: a year, or its tenant's data retention if
    /// longer (replicated state, so every replica prunes alike).
    pub fn audit_retention_days(&self, log: u32) -> u32 {
        let tenant_days = (log != CLUSTER_LOG)
            .then(|| {
                self.tenants
                    .load()
                    .by_id
                    .get(&log)
                    .map(|t| t.policy.retention_days)
            })
            .flatten();
        retention_days(tenant_days)
    }

    /// Stages `Command::AppendAudit`.
    pub(super) fn stage_audit(
        &self,
        batch: &mut WriteBatch,
        entries: &[SealedAuditEntry],
    ) -> Result<ApplyOutcome> {
        let (audit_cf, time_cf) = (self.cf(cf::AUDIT)?, self.cf(cf::AUDIT_BY_TIME)?);
        let mut chains: BTreeMap<u32, ChainState> = BTreeMap::new();
        let mut seqs = Vec::with_capacity(entries.len());
        let tenants = self.tenants.load();
        for entry in entries {
            if entry.log != CLUSTER_LOG && !tenants.by_id.contains_key(&entry.log) {
                seqs.push(None);
                continue;
            }
            let chain = match chains.entry(entry.log) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(self.audit_chain(entry.log)?.unwrap_or_default())
                }
            };
            let seq = chain.next_seq;
            let bytes = entry_bytes(entry);
            let hash = chain_hash(&chain.head_hash, seq, &bytes);
            batch.put_cf(
                audit_cf,
                entry_key(entry.log, seq),
                stored_value(&hash, &bytes),
            );
            batch.put_cf(time_cf, time_key(entry.log, entry.at, seq), []);
            chain.next_seq = seq + 1;
            chain.head_hash = hash;
            seqs.push(Some(seq));
        }
        let meta_cf = self.cf(cf::META)?;
        for (log, chain) in &chains {
            batch.put_cf(meta_cf, chain_key(*log), encode_chain(chain));
        }
        Ok(ApplyOutcome::Audited { seqs })
    }

    /// Stages the pruning of every log for cluster clock `clock`: from the oldest end,
    /// entries older than the log's retention, at most [`MAX_PRUNED_PER_TICK`] per log,
    /// stopping at the first younger one (so the chain stays contiguous; an entry stamped
    /// by a fast clock holds the ones behind it a little longer).
    pub(super) fn stage_audit_pruning(&self, batch: &mut WriteBatch, clock: i64) -> Result<()> {
        let (meta_cf, audit_cf, time_cf) = (
            self.cf(cf::META)?,
            self.cf(cf::AUDIT)?,
            self.cf(cf::AUDIT_BY_TIME)?,
        );
        let mut chains = Vec::new();
        for item in self.db.prefix_iterator_cf(meta_cf, audit::CHAIN_PREFIX) {
            let (key, value) = item?;
            let Some(log) = audit::chain_key_log(&key) else {
                break;
            };
            chains.push((log, decode_chain(&value)?));
        }
        for (log, mut chain) in chains {
            let days = i64::from(self.audit_retention_days(log));
            let cutoff = clock.saturating_sub(days.saturating_mul(DAY_MS));
            let start = entry_key(log, chain.first_seq);
            let mut pruned = 0;
            let iter = self
                .db
                .iterator_cf(audit_cf, IteratorMode::From(&start, Direction::Forward));
            for item in iter {
                let (key, value) = item?;
                let Some((l, seq)) = audit::decode_entry_key(&key) else {
                    break;
                };
                let Some(entry) = StoredEntry::parse(&value) else {
                    break;
                };
                if l != log
                    || seq != chain.first_seq
                    || seq >= chain.next_seq
                    || entry.at >= cutoff
                    || pruned >= MAX_PRUNED_PER_TICK
                {
                    break;
                }
                batch.delete_cf(audit_cf, key);
                batch.delete_cf(time_cf, time_key(log, entry.at, seq));
                chain.first_seq = seq + 1;
                chain.base_hash = entry.hash;
                pruned += 1;
            }
            if pruned > 0 {
                batch.put_cf(meta_cf, chain_key(log), encode_chain(&chain));
            }
        }
        Ok(())
    }

    /// A page of `log`, by entry time (ties by seq), opened.
    pub fn audit_page(&self, log: u32, query: &AuditQuery) -> Result<AuditPage> {
        let limit = query.limit.max(1);
        let snapshot = self.db.snapshot();
        let (meta_cf, audit_cf, time_cf) = (
            self.cf(cf::META)?,
            self.cf(cf::AUDIT)?,
            self.cf(cf::AUDIT_BY_TIME)?,
        );
        let chain = match snapshot.get_cf(meta_cf, chain_key(log))? {
            Some(bytes) => decode_chain(&bytes)?,
            None => ChainState::new(),
        };
        let (lo, hi) = (
            time_key(log, query.from, 0),
            time_key(log, query.to, u64::MAX),
        );
        let mut hits: Vec<(i64, u64)> = Vec::with_capacity(limit + 1);
        let after = query.after.map(|(at, seq)| time_key(log, at, seq));
        let (start, direction) = match (after, query.newest_first) {
            (Some(after), false) => (after.max(lo), Direction::Forward),
            (None, false) => (lo, Direction::Forward),
            (Some(after), true) => (after.min(hi), Direction::Reverse),
            (None, true) => (hi, Direction::Reverse),
        };
        for item in snapshot.iterator_cf(time_cf, IteratorMode::From(&start, direction)) {
            let (key, _) = item?;
            if *key < lo[..] || *key > hi[..] {
                break;
            }
            if after.is_some_and(|a| a[..] == *key) {
                continue;
            }
            let Some((_, at, seq)) = decode_time_key(&key) else {
                break;
            };
            hits.push((at, seq));
            if hits.len() > limit {
                break;
            }
        }
        let next = (hits.len() > limit).then(|| hits[limit - 1]);
        hits.truncate(limit);
        // Each entry and the one before it (for its prev hash), in one multi_get.
        let mut keys = Vec::with_capacity(hits.len() * 2);
        for (_, seq) in &hits {
            keys.push(entry_key(log, *seq));
            keys.push(entry_key(log, seq.saturating_sub(1)));
        }
        let values: Vec<_> = snapshot
            .multi_get_cf(keys.iter().map(|k| (audit_cf, k)))
            .into_iter()
            .collect::<std::result::Result<_, _>>()?;
        let mut records = Vec::with_capacity(hits.len());
        for (i, (at, seq)) in hits.iter().enumerate() {
            let value = values[2 * i].as_deref().ok_or_else(|| {
                StorageError::corrupt(
                    "audit log",
                    format!("entry {seq} of log {log} is indexed but missing"),
                )
            })?;
            let entry = StoredEntry::parse(value).ok_or_else(|| {
                StorageError::corrupt("audit entry", format!("seq {seq} malformed"))
            })?;
            let prev_hash = if *seq == chain.first_seq {
                chain.base_hash
            } else {
                values[2 * i + 1]
                    .as_deref()
                    .and_then(StoredEntry::parse)
                    .map_or([0; 32], |p| p.hash)
            };
            records.push(AuditRecord {
                seq: *seq,
                at: *at,
                hash: entry.hash,
                prev_hash,
                entry: self.open_audit(log, &entry),
            });
        }
        Ok(AuditPage {
            records,
            next,
            chain,
        })
    }

    /// Verifies `log`'s chain (or every log with `None`), as of one snapshot.
    pub fn verify_audit(&self, log: Option<&str>) -> Result<Vec<ChainReport>> {
        audit::verify::verify_db(&self.db, log)
    }
}

#[cfg(test)]
mod tests;
