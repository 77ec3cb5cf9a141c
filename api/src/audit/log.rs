//! The group-committing audit appender: entries (already sealed by their request) wait in
//! one queue; a single flusher task proposes everything queued as one
//! `Command::AppendAudit`, and while that proposal is in flight the next batch gathers. So
//! concurrent searches share one Raft round trip, and each learns when its own entry is
//! committed.
//!
//! Two kinds of entries:
//!
//! - **awaited** ([`AuditLog::append`], searches): the caller waits for the commit and
//!   fails with the proposal's error (a search answers nothing without its audit record);
//! - **background** ([`AuditLog::record`], admin actions and denied requests): the caller
//!   waits at most [`RECORD_WAIT`] and never fails. While the cluster is unavailable they
//!   stay queued and are retried (at most [`MAX_QUEUED`] of them; beyond that the oldest
//!   are dropped, counted, logged, and the count is itself appended to the cluster log,
//!   action `audit.dropped`, once the cluster takes writes again). One whose proposal's
//!   outcome is unknown (504) is not retried, since it may be committed: it is logged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sightline_storage::command::SealedAuditEntry;
use sightline_storage::{ApplyOutcome, Command};
use tokio::sync::oneshot;

use crate::error::{ApiError, ErrorCode};
use crate::proposer::{Cluster, ProposeError};

/// Background entries kept while the cluster cannot take them (about 4 MB).
pub const MAX_QUEUED: usize = 10_000;
/// Entries per proposal.
pub const MAX_BATCH_ENTRIES: usize = 1_000;
/// Bytes of sealed entries per proposal.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// How long [`AuditLog::record`] waits for the commit before returning anyway.
pub const RECORD_WAIT: Duration = Duration::from_secs(2);
/// The longest pause between retries of background entries.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Why an awaited entry was not committed (cloned to every waiter of a batch).
#[derive(Debug, Clone)]
enum Failure {
    Unavailable(String),
    OutcomeUnknown(String),
    TooLarge(String),
    Internal(String),
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unavailable(why) => ApiError::new(
                ErrorCode::Unavailable,
                format!("the audit record could not be written: {why}"),
            ),
            Failure::OutcomeUnknown(why) => ApiError::new(
                ErrorCode::OutcomeUnknown,
                format!("the audit record may not have been written: {why}"),
            ),
            Failure::TooLarge(why) => ApiError::new(ErrorCode::PayloadTooLarge, why),
            Failure::Internal(why) => ApiError::internal(why),
        }
    }
}

type Done = oneshot::Sender<Result<(), Failure>>;

struct Pending {
    entry: SealedAuditEntry,
    /// Awaited entries only fail; background ones may be retried.
    background: bool,
    /// For the entry that records lost ones: how many it records.
    records_lost: u64,
    done: Option<Done>,
    /// For the log line if a background entry is lost (never a plate or a token).
    summary: String,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Pending>,
    background: usize,
    flushing: bool,
    dropped: u64,
    /// Whether the last proposal failed: the count of lost entries is only proposed once
    /// one succeeds again, so it is never itself dropped.
    failing: bool,
}

/// The appender held in [`crate::AppState::audit`].
pub struct AuditLog {
    cluster: Arc<dyn Cluster>,
    queue: Mutex<Queue>,
    /// Background entries kept at most ([`MAX_QUEUED`]).
    capacity: usize,
    /// Seals the `audit.dropped` entry: a closure over the engine, since the queue knows
    /// no keys.
    seal_dropped: Box<dyn Fn(u64) -> Option<SealedAuditEntry> + Send + Sync>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog(..)")
    }
}

impl AuditLog {
    /// An appender proposing through `cluster`; `seal_dropped(n)` makes the cluster-log
    /// entry that records `n` lost background entries (`None`: cannot seal yet).
    pub fn new(
        cluster: Arc<dyn Cluster>,
        seal_dropped: impl Fn(u64) -> Option<SealedAuditEntry> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Self::with_capacity(cluster, MAX_QUEUED, seal_dropped)
    }

    /// The same, keeping at most `capacity` background entries.
    pub fn with_capacity(
        cluster: Arc<dyn Cluster>,
        capacity: usize,
        seal_dropped: impl Fn(u64) -> Option<SealedAuditEntry> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(AuditLog {
            cluster,
            queue: Mutex::new(Queue::default()),
            capacity: capacity.max(1),
            seal_dropped: Box::new(seal_dropped),
        })
    }

    /// Appends `entry` and waits until it is committed (an error if it was not).
    pub async fn append(self: &Arc<Self>, entry: SealedAuditEntry) -> Result<(), ApiError> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(Pending {
            entry,
            background: false,
            records_lost: 0,
            done: Some(tx),
            summary: String::new(),
        });
        match rx.await {
            Ok(result) => result.map_err(ApiError::from),
            Err(_) => Err(ApiError::internal("the audit flusher stopped")),
        }
    }

    /// Queues `entry` and waits for its commit at most [`RECORD_WAIT`]; never fails.
    pub async fn record(self: &Arc<Self>, entry: SealedAuditEntry, summary: String) {
        let (tx, rx) = oneshot::channel();
        self.enqueue(Pending {
            entry,
            background: true,
            records_lost: 0,
            done: Some(tx),
            summary,
        });
        let _ = tokio::time::timeout(RECORD_WAIT, rx).await;
    }

    /// Background entries lost so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.queue.lock().map_or(0, |q| q.dropped)
    }

    fn enqueue(self: &Arc<Self>, pending: Pending) {
        let Ok(mut queue) = self.queue.lock() else {
            return;
        };
        if pending.background && queue.background >= self.capacity {
            const FULL: &str = "the queue is full (the cluster takes no writes)";
            // The oldest waiting one goes; if all are in the proposal in flight, this one.
            match queue.pending.iter().position(|p| p.background) {
                Some(at) => {
                    if let Some(lost) = queue.pending.remove(at) {
                        queue.background -= 1;
                        queue.dropped += 1;
                        lost_sometimes(queue.dropped, &lost.summary, FULL);
                    }
                }
                None => {
                    queue.dropped += 1;
                    lost_sometimes(queue.dropped, &pending.summary, FULL);
                    return;
                }
            }
        }
        if pending.background {
            queue.background += 1;
        }
        queue.pending.push_back(pending);
        if !queue.flushing {
            queue.flushing = true;
            let this = self.clone();
            tokio::spawn(async move { this.flush().await });
        }
    }

    /// Takes the next batch, or ends the flusher (under the lock, so an entry queued after
    /// the last batch always finds a flusher).
    fn next_batch(&self) -> Option<Vec<Pending>> {
        let mut queue = self.queue.lock().ok()?;
        let mut batch = Vec::new();
        let mut bytes = 0;
        if queue.dropped > 0 && !queue.failing {
            if let Some(entry) = (self.seal_dropped)(queue.dropped) {
                bytes += entry.value.len();
                batch.push(Pending {
                    entry,
                    background: false,
                    records_lost: queue.dropped,
                    done: None,
                    summary: String::new(),
                });
                queue.dropped = 0;
            }
        }
        if queue.pending.is_empty() && batch.is_empty() {
            queue.flushing = false;
            return None;
        }
        while let Some(next) = queue.pending.front() {
            if !batch.is_empty()
                && (batch.len() >= MAX_BATCH_ENTRIES
                    || bytes + next.entry.value.len() > MAX_BATCH_BYTES)
            {
                break;
            }
            let Some(next) = queue.pending.pop_front() else {
                break;
            };
            bytes += next.entry.value.len();
            batch.push(next);
        }
        Some(batch)
    }

    async fn flush(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(50);
        while let Some(batch) = self.next_batch() {
            let command = Command::AppendAudit {
                entries: batch.iter().map(|p| p.entry.clone()).collect(),
            };
            let result = match self.cluster.propose(command).await {
                Ok(ApplyOutcome::Audited { seqs }) if seqs.iter().all(Option::is_some) => {
                    crate::metrics::METRICS
                        .audit_appends
                        .inc_by(seqs.len() as u64);
                    Ok(())
                }
                Ok(ApplyOutcome::Audited { .. }) => {
                    // Only an entry of a tenant unknown at apply is skipped; the tenant
                    // existed when it was sealed, and tenants are never removed.
                    Err(Failure::Internal("an audit entry's tenant is gone".into()))
                }
                Ok(other) => Err(Failure::Internal(format!(
                    "audit append applied as {other:?}"
                ))),
                Err(e) => Err(match e {
                    ProposeError::Unavailable(why) => Failure::Unavailable(why),
                    ProposeError::OutcomeUnknown(why) => Failure::OutcomeUnknown(why),
                    ProposeError::TooLarge(why) => Failure::TooLarge(why),
                    other => Failure::Internal(other.to_string()),
                }),
            };
            let retry = matches!(result, Err(Failure::Unavailable(_)));
            let mut requeue = Vec::new();
            let mut settled = 0;
            let mut recount = 0;
            for mut pending in batch {
                if pending.records_lost > 0 && result.is_err() {
                    // The record of lost entries was not written: they count as lost again.
                    recount += pending.records_lost;
                    continue;
                }
                if let Some(done) = pending.done.take() {
                    let _ = done.send(result.clone());
                }
                match (&result, pending.background) {
                    (_, false) => {}
                    (Ok(()), true) => settled += 1,
                    (Err(_), true) if retry => requeue.push(pending),
                    (Err(failure), true) => {
                        settled += 1;
                        lost_entry(&pending.summary, &format!("{failure:?}"));
                    }
                }
            }
            if let Ok(mut queue) = self.queue.lock() {
                queue.failing = result.is_err();
                queue.dropped += recount;
                queue.background = queue.background.saturating_sub(settled);
                // Back at the front, in order; the queue bound still holds, since these
                // were counted all along.
                for pending in requeue.into_iter().rev() {
                    queue.pending.push_front(pending);
                }
            }
            if retry && waiting_retry(&self.queue) {
                tracing::warn!(
                    retry_in_ms = backoff.as_millis() as u64,
                    "audit entries not written: the cluster takes no writes; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            } else {
                backoff = Duration::from_millis(50);
            }
        }
    }
}

/// Whether background entries wait for a retry (otherwise no pause is needed).
fn waiting_retry(queue: &Mutex<Queue>) -> bool {
    queue.lock().is_ok_and(|q| q.background > 0)
}

/// [`lost_entry`] for the first and then every thousandth of a run of drops, so a flood of
/// refused requests while the cluster is down does not flood the log too.
fn lost_sometimes(dropped: u64, summary: &str, why: &str) {
    if dropped == 1 || dropped % 1_000 == 0 {
        tracing::error!(target: "sightline::audit", entry = %summary, why, dropped,
            "audit entries lost (this one and others, counted)");
    }
}

/// A background entry that will not be written: the log line is all that is left of it.
fn lost_entry(summary: &str, why: &str) {
    tracing::error!(target: "sightline::audit", entry = %summary, why, "audit entry lost");
}

#[cfg(test)]
mod tests;
