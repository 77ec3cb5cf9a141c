//! The engine's replicated bookkeeping beside the data: the retention watermarks that the
//! cluster clock moves (see `crate::retention`), the ids of applied proposals that make a
//! re-proposed command apply at most once (`Command::Proposal`), and the checksum that
//! proves replicas at the same applied index hold the same state. The first two live in
//! `meta` and change only in `apply`, so replicas agree on them too.

use std::collections::HashMap;

use rocksdb::WriteBatch;

use rocksdb::ReadOptions;

use super::{decode_meta, encode_meta, Engine, TenantInfo};
use crate::command::{ApplyOutcome, LogPosition, PROPOSAL_DEDUPE_MS};
use crate::error::{Result, StorageError};
use crate::keys::{self, cf, meta};
use crate::retention::next_watermark;

impl Engine {
    /// A digest of the replicated state, with the position it reflects: SHA-256 over every
    /// live (key, value) of every column family in order, skipping entries below their
    /// tenant's watermark as of that position (whether or not this replica has compacted
    /// them yet), so replicas that applied the same commands agree. Reads no clock.
    pub fn checksum(&self) -> Result<(Option<LogPosition>, String)> {
        use sha2::{Digest, Sha256};
        let snapshot = self.db.snapshot();
        let meta_cf = self.cf(cf::META)?;
        let watermarks = read_watermarks(|prefix| {
            snapshot.iterator_cf(
                meta_cf,
                rocksdb::IteratorMode::From(prefix, rocksdb::Direction::Forward),
            )
        })?;
        let mut hasher = Sha256::new();
        let mut applied = None;
        for name in cf::all() {
            let loc = keys::time_location(name);
            let mut opts = ReadOptions::default();
            opts.set_total_order_seek(true);
            let mut iter = snapshot.raw_iterator_cf_opt(self.cf(name)?, opts);
            iter.seek_to_first();
            hasher.update(name.as_bytes());
            while iter.valid() {
                let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
                    break;
                };
                let expired = loc
                    .and_then(|loc| keys::tenant_and_time(loc, key, value))
                    .is_some_and(|(tenant, ts)| watermarks.get(&tenant).is_some_and(|c| ts < *c));
                if name == cf::META && key == meta::APPLIED {
                    applied = Some(decode_meta::<LogPosition>("applied position", value)?);
                }
                if !expired {
                    hasher.update((key.len() as u32).to_be_bytes());
                    hasher.update(key);
                    hasher.update((value.len() as u32).to_be_bytes());
                    hasher.update(value);
                }
                iter.next();
            }
            iter.status()?;
        }
        let digest = hasher.finalize();
        let mut hex = String::with_capacity(64);
        for byte in digest.iter() {
            hex.push_str(&format!("{byte:02x}"));
        }
        Ok((applied, hex))
    }

    /// The stored outcome of proposal `id`, if it was applied within the dedupe window.
    pub(super) fn applied_proposal(&self, id: u128) -> Result<Option<ApplyOutcome>> {
        let Some(bytes) = self.db.get_cf(self.cf(cf::META)?, meta::proposal(id))? else {
            return Ok(None);
        };
        let (at, outcome): (i64, ApplyOutcome) = decode_meta("applied proposal", &bytes)?;
        let window_start = self
            .cluster_clock()
            .map_or(i64::MIN, |c| c.saturating_sub(PROPOSAL_DEDUPE_MS));
        Ok((at >= window_start).then_some(outcome))
    }

    /// Deletes the proposal ids applied before `cutoff` (cluster clock).
    pub(super) fn stage_proposal_pruning(&self, batch: &mut WriteBatch, cutoff: i64) -> Result<()> {
        let meta_cf = self.cf(cf::META)?;
        let end = meta::proposal_at(cutoff, 0);
        for item in self
            .db
            .prefix_iterator_cf(meta_cf, meta::PROPOSAL_AT_PREFIX)
        {
            let (key, _) = item?;
            if !key.starts_with(meta::PROPOSAL_AT_PREFIX) || *key >= *end {
                break;
            }
            let id_bytes: [u8; 16] = key[key.len() - 16..]
                .try_into()
                .map_err(|_| StorageError::corrupt("proposal key", "bad length"))?;
            batch.delete_cf(meta_cf, &key);
            batch.delete_cf(meta_cf, meta::proposal(u128::from_be_bytes(id_bytes)));
        }
        Ok(())
    }

    /// The oldest capture time a row of `tenant` may have to be written: its watermark.
    /// Rows below it are dropped on every replica alike, so a client id re-sent after its
    /// first copy was compacted away is not written again on some replicas only.
    pub(super) fn live_from(&self, tenant: u32) -> i64 {
        self.retention.cutoff(tenant).unwrap_or(i64::MIN)
    }

    /// Moves the watermarks of `tenants` forward for cluster clock `clock` and their
    /// current retention ([`next_watermark`]); returns the whole new table if any moved.
    pub(super) fn stage_watermarks(
        &self,
        batch: &mut WriteBatch,
        clock: Option<i64>,
        tenants: &[TenantInfo],
    ) -> Result<Option<HashMap<u32, i64>>> {
        let mut table = self.retention.all();
        let mut moved = false;
        let meta_cf = self.cf(cf::META)?;
        for info in tenants {
            let current = table.get(&info.id).copied();
            let next = next_watermark(current, clock, info.policy.retention_days);
            if let Some(next) = next.filter(|n| Some(*n) != current) {
                batch.put_cf(meta_cf, meta::watermark(info.id), encode_meta(&next));
                table.insert(info.id, next);
                moved = true;
            }
        }
        Ok(moved.then_some(table))
    }
}

/// Every `watermark/{tenant}` entry that `iter` (a prefix iterator over `meta`) yields.
pub(super) fn read_watermarks<'a, I>(iter: impl FnOnce(&'a [u8]) -> I) -> Result<HashMap<u32, i64>>
where
    I: Iterator<Item = std::result::Result<(Box<[u8]>, Box<[u8]>), rocksdb::Error>>,
{
    let mut out = HashMap::new();
    for item in iter(meta::WATERMARK_PREFIX) {
        let (key, value) = item?;
        let Some(id) = key.strip_prefix(meta::WATERMARK_PREFIX) else {
            break;
        };
        let id: [u8; 4] = id
            .try_into()
            .map_err(|_| StorageError::corrupt("watermark key", "bad length"))?;
        out.insert(
            u32::from_be_bytes(id),
            decode_meta::<i64>("watermark", &value)?,
        );
    }
    Ok(out)
}
