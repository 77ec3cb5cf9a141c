//! Retention: a shared, atomically swapped table of tenant retention periods, read by the
//! RocksDB compaction filter of every data column family (which drops expired entries for
//! good) and by queries (which never return an expired entry, compacted or not).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rocksdb::compaction_filter::Decision;

use crate::keys::{tenant_and_time, TimeLocation};
use crate::time::{now_ms, DAY_MS};

/// Retention period per tenant id, in milliseconds.
#[derive(Clone, Default)]
pub struct RetentionTable {
    periods: Arc<ArcSwap<HashMap<u32, i64>>>,
}

impl RetentionTable {
    /// Replaces one tenant's retention.
    pub fn set(&self, tenant: u32, retention_days: u32) {
        self.periods.rcu(|old| {
            let mut next = HashMap::clone(old);
            next.insert(tenant, i64::from(retention_days) * DAY_MS);
            next
        });
    }

    /// The oldest timestamp still live for `tenant` at `now`; `None` for unknown tenants,
    /// whose data is kept.
    pub fn cutoff(&self, tenant: u32, now: i64) -> Option<i64> {
        self.periods.load().get(&tenant).map(|period| now - period)
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
            match table.cutoff(tenant, now_ms()) {
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
        table.set(1, 1);
        let mut filter = table.compaction_filter(TimeLocation::KeyAt4);
        let now = now_ms();
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
}
