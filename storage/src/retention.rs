//! Retention: each tenant's *watermark*, the oldest capture time still live, held in a
//! shared, atomically swapped table that the RocksDB compaction filter of every data column
//! family (which drops older entries for good), queries (which never return them, compacted
//! or not), `apply` (which drops re-sent or late rows below it) and the checksum all read.
//!
//! The watermark is replicated state, never a node's clock: `apply` moves it when the
//! cluster clock advances (`Command::AdvanceClock`, a time a majority of voters agreed on)
//! or a tenant's retention changes, always forward ([`next_watermark`]). So replicas at the
//! same applied index hide and delete exactly the same entries, a node whose clock runs
//! fast deletes nothing early, and raising retention revives nothing anywhere.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rocksdb::compaction_filter::Decision;

use crate::keys::{tenant_and_time, TimeLocation};
use crate::time::DAY_MS;

/// The watermark after the cluster clock reads `clock` under a retention of
/// `retention_days`, given the current watermark: never lower than `current` (raising
/// retention later cannot revive what one replica may already have compacted away), and
/// unknown while the cluster clock is.
pub fn next_watermark(
    current: Option<i64>,
    clock: Option<i64>,
    retention_days: u32,
) -> Option<i64> {
    let from_clock = clock.map(|now| now.saturating_sub(i64::from(retention_days) * DAY_MS));
    match (current, from_clock) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Each tenant's watermark, as of the engine's last applied command.
#[derive(Clone, Default)]
pub struct RetentionTable {
    watermarks: Arc<ArcSwap<HashMap<u32, i64>>>,
}

impl RetentionTable {
    /// Replaces the whole table (after `apply`, or on open).
    pub fn replace(&self, watermarks: HashMap<u32, i64>) {
        self.watermarks.store(Arc::new(watermarks));
    }

    /// The whole table.
    pub fn all(&self) -> HashMap<u32, i64> {
        HashMap::clone(&self.watermarks.load())
    }

    /// The oldest timestamp still live for `tenant`; `None` while it has no watermark (the
    /// cluster clock has not ticked yet, or the tenant is unknown): nothing is expired.
    pub fn cutoff(&self, tenant: u32) -> Option<i64> {
        self.watermarks.load().get(&tenant).copied()
    }

    /// A compaction filter for a column family whose entries keep their time at `loc`.
    pub fn compaction_filter(
        &self,
        loc: TimeLocation,
    ) -> impl FnMut(u32, &[u8], &[u8]) -> Decision + Send + 'static {
        let table = self.clone();
        move |_level, key, value| {
            let Some((tenant, ts)) = tenant_and_time(loc, key, value) else {
                // Not our layout: never delete what we cannot parse.
                return Decision::Keep;
            };
            match table.cutoff(tenant) {
                Some(cutoff) if ts < cutoff => Decision::Remove,
                _ => Decision::Keep,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RecordKey;

    #[test]
    fn filter_drops_only_expired_entries_of_known_tenants() {
        let table = RetentionTable::default();
        let now = 1_800_000_000_000;
        table.replace([(1, now - DAY_MS)].into());
        let mut filter = table.compaction_filter(TimeLocation::KeyAt4);
        let old = RecordKey {
            tenant: 1,
            ts: now - 3 * DAY_MS,
            id: 1,
        }
        .encode();
        let fresh = RecordKey {
            tenant: 1,
            ts: now - 3_600_000,
            id: 2,
        }
        .encode();
        let other = RecordKey {
            tenant: 2,
            ts: now - 300 * DAY_MS,
            id: 3,
        }
        .encode();
        assert!(matches!(filter(0, &old, b""), Decision::Remove));
        assert!(matches!(filter(0, &fresh, b""), Decision::Keep));
        assert!(matches!(filter(0, &other, b""), Decision::Keep));
        assert!(matches!(filter(0, b"short", b""), Decision::Keep));
    }

    #[test]
    fn the_watermark_only_moves_forward() {
        let day = DAY_MS;
        assert_eq!(
            next_watermark(None, None, 30),
            None,
            "no clock yet: nothing expires"
        );
        assert_eq!(next_watermark(None, Some(100 * day), 30), Some(70 * day));
        // Raising retention does not lower it; lowering retention raises it.
        assert_eq!(
            next_watermark(Some(70 * day), Some(100 * day), 60),
            Some(70 * day)
        );
        assert_eq!(
            next_watermark(Some(70 * day), Some(100 * day), 1),
            Some(99 * day)
        );
        // A clock that went backwards (a new leader's majority is behind) moves nothing.
        assert_eq!(
            next_watermark(Some(70 * day), Some(90 * day), 30),
            Some(70 * day)
        );
        assert_eq!(next_watermark(Some(70 * day), None, 30), Some(70 * day));
    }
}
