//! The Raft log: its own RocksDB at `{dir}/raft-log`, separate from the storage engine.
//!
//! Column family `log` holds entries keyed by their big-endian index (so key order is log
//! order); `meta` holds the vote, the last committed log id and the last purged log id.
//! Values are postcard-encoded openraft types. Commands are sealed before they are
//! proposed, so nothing in this database is plaintext record data.
//!
//! Every RocksDB call runs on tokio's blocking pool, because an fsync can take milliseconds.

// openraft's `StorageError` is ~224 bytes, and it is what every storage trait method
// returns; the helpers below produce it directly rather than boxing it only to unbox it at
// the trait boundary.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, ErrorSubject, ErrorVerb, OptionalSend, RaftLogReader, StorageIOError};
use rocksdb::{
    ColumnFamilyDescriptor, Direction, IteratorMode, Options, ReadOptions, WriteBatch,
    WriteOptions, DB,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::log_keeper::LogSizes;
use crate::types::typ::{Entry, LogId, StorageError, Vote};
use crate::types::TypeConfig;

const CF_LOG: &str = "log";
const CF_META: &str = "meta";
const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// `limited_get_log_entries` stops adding entries once this many encoded bytes are
/// collected (it always returns at least one). openraft gives one AppendEntries no more than
/// `heartbeat_interval` to complete (send, follower fsync, reply) and does not shrink a
/// request that timed out, so a request must stay small enough to ship within one heartbeat
/// even when every entry is a large batch of records: 4 MiB is ~35 ms on 1 Gbit/s.
pub const MAX_READ_BATCH_BYTES: usize = 4 << 20;

/// THE durable write option of the Raft log: `sync` makes RocksDB fsync its WAL before
/// `write` returns. openraft's correctness depends on it twice: an appended entry must be
/// on disk before the append callback reports it flushed (a leader counts it towards a
/// quorum, a follower acknowledges it), and a vote must be on disk before `save_vote`
/// returns (or a restarted node could vote twice in one term). RocksDB's default options do
/// not sync, and several Raft deployments lost acknowledged entries that way, so every
/// write that needs durability goes through this one function.
fn durable() -> WriteOptions {
    let mut opts = WriteOptions::default();
    opts.set_sync(true);
    opts
}

/// The Raft log store. Cloning shares the database; openraft uses clones as log readers
/// for its replication tasks.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    /// Each entry's encoded size (for keeping the log by bytes).
    sizes: LogSizes,
}

impl Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("path", &self.db.path())
            .finish()
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn key_index(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

fn encode<T: Serialize>(value: &T) -> std::result::Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(value)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

fn io_err(subject: ErrorSubject<u64>, verb: ErrorVerb, e: impl Into<AnyError>) -> StorageError {
    StorageIOError::new(subject, verb, e).into()
}

/// Runs blocking RocksDB work off the async runtime.
async fn blocking<T, F>(
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    f: F,
) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(join) => Err(io_err(subject, verb, &join)),
    }
}

impl LogStore {
    /// Opens (creating if needed) the log database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(5);
        // The small `meta` family (vote, purge point) is rarely written and so rarely
        // flushed; without a cap, its unflushed entries pin every WAL file since, and the
        // WAL grows as large as the log itself. Past this size RocksDB flushes the families
        // holding the oldest WAL so it can be deleted.
        opts.set_max_total_wal_size(64 << 20);
        let families =
            [CF_LOG, CF_META].map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, families)?;
        let sizes = LogSizes::default();
        if let Some(cf) = db.cf_handle(CF_LOG) {
            let mut found = Vec::new();
            for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
                let (key, value) = item?;
                if let Some(index) = key_index(&key) {
                    found.push((index, value.len() as u64));
                }
            }
            sizes.appended(found);
        }
        Ok(LogStore {
            db: Arc::new(db),
            sizes,
        })
    }

    /// Each entry's encoded size, kept up to date as the log changes.
    pub fn sizes(&self) -> LogSizes {
        self.sizes.clone()
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StorageError> {
        self.db.cf_handle(name).ok_or_else(|| {
            io_err(
                ErrorSubject::Store,
                ErrorVerb::Read,
                AnyError::error(format!("column family {name} missing")),
            )
        })
    }

    fn get_meta<T: DeserializeOwned>(
        &self,
        key: &[u8],
        subject: ErrorSubject<u64>,
    ) -> Result<Option<T>, StorageError> {
        let bytes = self
            .db
            .get_cf(self.cf(CF_META)?, key)
            .map_err(|e| io_err(subject.clone(), ErrorVerb::Read, &e))?;
        match bytes {
            None => Ok(None),
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|e| io_err(subject, ErrorVerb::Read, &e)),
        }
    }

    /// Reads entries with indexes in `range`, stopping after `max_bytes` of encoded entries
    /// (but always returning the first one found).
    fn read_entries(
        &self,
        range: (Bound<u64>, Bound<u64>),
        max_bytes: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.0 {
            Bound::Included(i) => i,
            Bound::Excluded(i) => match i.checked_add(1) {
                Some(i) => i,
                None => return Ok(Vec::new()),
            },
            Bound::Unbounded => 0,
        };
        let mut opts = ReadOptions::default();
        match range.1 {
            Bound::Included(i) => {
                if let Some(end) = i.checked_add(1) {
                    opts.set_iterate_upper_bound(index_key(end).to_vec());
                }
            }
            Bound::Excluded(i) => opts.set_iterate_upper_bound(index_key(i).to_vec()),
            Bound::Unbounded => {}
        }
        let read_err = |e: &dyn std::fmt::Display| {
            io_err(ErrorSubject::Logs, ErrorVerb::Read, AnyError::error(e))
        };
        let mut entries = Vec::new();
        let mut bytes = 0;
        let from = index_key(start);
        let iter = self.db.iterator_cf_opt(
            self.cf(CF_LOG)?,
            opts,
            IteratorMode::From(&from, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item.map_err(|e| read_err(&e))?;
            let index = key_index(&key).ok_or_else(|| read_err(&"log key is not 8 bytes"))?;
            if !range.contains(&index) {
                break;
            }
            let entry: Entry = decode(&value).map_err(|e| read_err(&e))?;
            if entry.log_id.index != index {
                return Err(read_err(&format!(
                    "entry at key {index} has index {}",
                    entry.log_id.index
                )));
            }
            // Never past the cap, except with the first entry (one entry is never split);
            // so one request is at most max(cap, the largest entry) bytes.
            if !entries.is_empty() && bytes + value.len() > max_bytes {
                break;
            }
            bytes += value.len();
            entries.push(entry);
        }
        Ok(entries)
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, StorageError> {
        let mut iter = self.db.iterator_cf(self.cf(CF_LOG)?, IteratorMode::End);
        match iter.next() {
            None => Ok(None),
            Some(item) => {
                let (_, value) =
                    item.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
                let entry: Entry =
                    decode(&value).map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
                Ok(Some(entry.log_id))
            }
        }
    }
}

fn owned_bounds<RB: RangeBounds<u64>>(range: &RB) -> (Bound<u64>, Bound<u64>) {
    (range.start_bound().cloned(), range.end_bound().cloned())
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let this = self.clone();
        let bounds = owned_bounds(&range);
        blocking(ErrorSubject::Logs, ErrorVerb::Read, move || {
            this.read_entries(bounds, usize::MAX)
        })
        .await
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        let this = self.clone();
        let bounds = (Bound::Included(start), Bound::Excluded(end));
        blocking(ErrorSubject::Logs, ErrorVerb::Read, move || {
            this.read_entries(bounds, MAX_READ_BATCH_BYTES)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let this = self.clone();
        blocking(ErrorSubject::Logs, ErrorVerb::Read, move || {
            let last_purged_log_id: Option<LogId> =
                this.get_meta(KEY_LAST_PURGED, ErrorSubject::Logs)?;
            let last_log_id = this.last_entry_id()?.or(last_purged_log_id);
            Ok(LogState {
                last_purged_log_id,
                last_log_id,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let this = self.clone();
        let vote = *vote;
        blocking(ErrorSubject::Vote, ErrorVerb::Write, move || {
            let bytes =
                encode(&vote).map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, &e))?;
            let mut batch = WriteBatch::default();
            batch.put_cf(this.cf(CF_META)?, KEY_VOTE, bytes);
            // Durable: the vote must be on disk before save_vote returns.
            this.db
                .write_opt(batch, &durable())
                .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, &e))
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        let this = self.clone();
        blocking(ErrorSubject::Vote, ErrorVerb::Read, move || {
            this.get_meta(KEY_VOTE, ErrorSubject::Vote)
        })
        .await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let this = self.clone();
        blocking(ErrorSubject::Store, ErrorVerb::Write, move || {
            let bytes = encode(&committed)
                .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, &e))?;
            // Not synced on purpose: the committed id only tells a restarting node how far it
            // may re-apply without waiting for the leader. Losing the latest value in a crash
            // just means re-applying less; the state machine persists its own applied id.
            this.db
                .put_cf(this.cf(CF_META)?, KEY_COMMITTED, bytes)
                .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, &e))
        })
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let this = self.clone();
        blocking(ErrorSubject::Store, ErrorVerb::Read, move || {
            Ok(this
                .get_meta::<Option<LogId>>(KEY_COMMITTED, ErrorSubject::Store)?
                .flatten())
        })
        .await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let this = self.clone();
        let result = blocking(ErrorSubject::Logs, ErrorVerb::Write, move || {
            let log_cf = this.cf(CF_LOG)?;
            let mut batch = WriteBatch::default();
            let mut sizes = Vec::with_capacity(entries.len());
            for entry in &entries {
                let bytes =
                    encode(entry).map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
                sizes.push((entry.log_id.index, bytes.len() as u64));
                batch.put_cf(log_cf, index_key(entry.log_id.index), bytes);
            }
            // Durable: the entries are fsync'd before the callback below reports them
            // flushed, which is when openraft counts them towards a quorum.
            #[cfg(not(feature = "planted-ack-before-fsync"))]
            let options = durable();
            // PLANTED BUG: the entries go to the memtable only, so a SIGKILL before the
            // next flush loses entries this node already acknowledged.
            #[cfg(feature = "planted-ack-before-fsync")]
            let options = {
                let mut options = WriteOptions::default();
                options.disable_wal(true);
                options
            };
            fail::fail_point!("log-append-before-fsync", |_| Err(io_err(
                ErrorSubject::Logs,
                ErrorVerb::Write,
                AnyError::error("failpoint log-append-before-fsync")
            )));
            this.db
                .write_opt(batch, &options)
                .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
            fail::fail_point!("log-append-after-fsync", |_| Err(io_err(
                ErrorSubject::Logs,
                ErrorVerb::Write,
                AnyError::error("failpoint log-append-after-fsync")
            )));
            this.sizes.appended(sizes);
            Ok(())
        })
        .await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(from = %log_id, "truncating raft log");
        let this = self.clone();
        blocking(ErrorSubject::Logs, ErrorVerb::Write, move || {
            let mut batch = WriteBatch::default();
            batch.delete_range_cf(
                this.cf(CF_LOG)?,
                index_key(log_id.index),
                index_key(u64::MAX),
            );
            batch.delete_cf(this.cf(CF_LOG)?, index_key(u64::MAX));
            // Durable: conflicting entries must not come back after a crash and be
            // acknowledged again as if they were the leader's.
            this.db
                .write_opt(batch, &durable())
                .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
            this.sizes.truncated(log_id.index);
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(upto = %log_id, "purging raft log");
        let this = self.clone();
        blocking(ErrorSubject::Logs, ErrorVerb::Write, move || {
            let bytes =
                encode(&log_id).map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
            let mut batch = WriteBatch::default();
            // The purge marker and the deletion go in one batch, so the log never has a
            // hole below a marker that does not cover it.
            batch.put_cf(this.cf(CF_META)?, KEY_LAST_PURGED, bytes);
            match log_id.index.checked_add(1) {
                Some(end) => batch.delete_range_cf(this.cf(CF_LOG)?, index_key(0), index_key(end)),
                None => {
                    batch.delete_range_cf(this.cf(CF_LOG)?, index_key(0), index_key(u64::MAX));
                    batch.delete_cf(this.cf(CF_LOG)?, index_key(u64::MAX));
                }
            }
            // Durable: last_purged must never go backwards after a crash, or the node would
            // report entries it no longer has.
            this.db
                .write_opt(batch, &durable())
                .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
            this.sizes.purged(log_id.index);
            Ok(())
        })
        .await
    }
}
