//! Keeping the Raft log by bytes (issue 14, finding 6). Entries carry whole batches, from
//! one read to [`crate::RaftConfig::max_entry_bytes`], so counting entries says little: 500
//! entries may be 50 KB or 4 GB. In byte mode ([`crate::RaftConfig::snapshot_after_bytes`])
//! openraft's own policy is off and this task, every half second:
//!
//! - asks for a snapshot once the entries applied since the last snapshot hold
//!   `snapshot_after_bytes`;
//! - purges the log below the snapshot, keeping the newest `log_kept_bytes` of it, so a
//!   follower that fell that far behind catches up from the log, not from a whole snapshot.
//!
//! [`LogSizes`] is the log store's record of each entry's encoded size, kept as entries
//! are appended, truncated and purged, and rebuilt by a scan when the log is opened.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::types::typ::Raft;

/// Encoded size of every entry in the log, by index.
#[derive(Debug, Clone, Default)]
pub struct LogSizes(Arc<Mutex<BTreeMap<u64, u64>>>);

impl LogSizes {
    pub(crate) fn appended(&self, entries: impl IntoIterator<Item = (u64, u64)>) {
        if let Ok(mut sizes) = self.0.lock() {
            sizes.extend(entries);
        }
    }

    /// Entries at `index` and above were removed.
    pub(crate) fn truncated(&self, index: u64) {
        if let Ok(mut sizes) = self.0.lock() {
            sizes.split_off(&index);
        }
    }

    /// Entries up to and including `index` were removed.
    pub(crate) fn purged(&self, index: u64) {
        if let Ok(mut sizes) = self.0.lock() {
            *sizes = sizes.split_off(&(index.saturating_add(1)));
        }
    }

    /// Bytes of the entries with an index in `(after, upto]`.
    pub fn bytes_in(&self, after: u64, upto: u64) -> u64 {
        if upto <= after {
            return 0;
        }
        self.0
            .lock()
            .map(|s| s.range(after + 1..=upto).map(|(_, b)| *b).sum())
            .unwrap_or(0)
    }

    /// Bytes of the whole log.
    #[cfg(test)]
    fn total(&self) -> u64 {
        self.0.lock().map(|s| s.values().sum()).unwrap_or(0)
    }

    /// The highest index at or below `snapshot` that can be purged while the newest `keep`
    /// bytes of log stay: `None` if the log holds less than `keep` above the first entry.
    pub fn purge_point(&self, snapshot: u64, keep: u64) -> Option<u64> {
        let sizes = self.0.lock().ok()?;
        let mut kept = 0u64;
        for (index, bytes) in sizes.iter().rev() {
            if kept >= keep {
                return Some((*index).min(snapshot)).filter(|p| *p > 0);
            }
            kept += bytes;
        }
        None
    }
}

/// Byte thresholds of the keeper.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByteRetention {
    pub(crate) snapshot_after: u64,
    pub(crate) keep: u64,
}

/// Runs until Raft stops.
pub(crate) async fn run(raft: Raft, sizes: LogSizes, policy: ByteRetention) {
    let mut asked_at: Option<(u64, Instant)> = None;
    let mut purge_asked = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let (applied, snapshot, purged) = {
            let m = raft.metrics();
            let m = m.borrow();
            if m.running_state.is_err() {
                return;
            }
            (
                m.last_applied.map_or(0, |l| l.index),
                m.snapshot.map_or(0, |l| l.index),
                m.purged.map_or(0, |l| l.index),
            )
        };
        // One request per snapshot index, repeated only if nothing came of it for 30 s.
        let waiting = asked_at
            .is_some_and(|(at, when)| at == snapshot && when.elapsed() < Duration::from_secs(30));
        if !waiting && sizes.bytes_in(snapshot, applied) >= policy.snapshot_after {
            tracing::debug!(applied, snapshot, "log past snapshot_after_bytes: snapshot");
            if raft.trigger().snapshot().await.is_err() {
                return;
            }
            asked_at = Some((snapshot, Instant::now()));
        }
        if let Some(upto) = sizes.purge_point(snapshot, policy.keep) {
            if upto > purged && upto > purge_asked {
                tracing::debug!(upto, "log past log_kept_bytes below the snapshot: purge");
                if raft.trigger().purge_log(upto).await.is_err() {
                    return;
                }
                purge_asked = upto;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_appends_truncates_and_purges() {
        let sizes = LogSizes::default();
        sizes.appended((1..=10).map(|i| (i, 100)));
        assert_eq!(sizes.total(), 1_000);
        assert_eq!(sizes.bytes_in(4, 10), 600);
        assert_eq!(sizes.bytes_in(10, 4), 0);
        // Keep the newest 300 bytes (entries 8, 9, 10): up to 7 may go, if the snapshot
        // covers it.
        assert_eq!(sizes.purge_point(10, 300), Some(7));
        assert_eq!(sizes.purge_point(5, 300), Some(5));
        assert_eq!(sizes.purge_point(10, 5_000), None);
        sizes.truncated(9);
        assert_eq!(sizes.total(), 800);
        sizes.purged(3);
        assert_eq!(sizes.total(), 500);
        assert_eq!(sizes.bytes_in(0, 100), 500);
    }
}
