//! What the workload did and saw, recorded as it happens, for the checks after healing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// What a client knows about one ingest batch once it stopped trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered 200: every read must be present exactly once, on every node.
    Acked,
    /// Timed out, reset, or answered 504 `outcome_unknown`: all reads or none.
    Unknown,
    /// Every attempt was refused before it could apply (503, connection refused): none.
    NotApplied,
}

/// One ingest batch: `size` reads of plate `plate`, read `i` from camera `cam-{i}` at
/// `base_ms - i s`, with client ids `{plate}-{i}` when `client_ids`.
#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    pub plate: String,
    pub size: usize,
    pub client_ids: bool,
    pub base_ms: i64,
    pub attempts: u32,
    pub outcome: Outcome,
    /// When the client saw the outcome (ms since the run started).
    pub done_at_ms: u64,
}

/// An operation on a register (a register tenant's `retention_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RegisterOp {
    Write(u64),
    Read,
}

/// One event of a register's history, in the real-time order the clients saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RegisterEvent {
    /// `thread` invoked `op` (a thread abandons its id after a failed operation, which
    /// stays in flight: it may or may not have taken effect).
    Invoke { thread: u64, op: RegisterOp },
    /// `thread`'s operation returned: `Some(v)` for a read of `v`, `None` for a write.
    Return { thread: u64, read: Option<u64> },
}

/// A register's initial value and history.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegisterHistory {
    pub initial: u64,
    pub events: Vec<RegisterEvent>,
}

/// Everything recorded during a run.
#[derive(Default)]
pub struct History {
    pub batches: Mutex<Vec<Batch>>,
    /// Register name → history.
    pub registers: Mutex<BTreeMap<String, RegisterHistory>>,
    /// Problems seen while the run went on (a stale read, an unexpected status).
    pub live_violations: Mutex<Vec<String>>,
    /// Searches made while faults ran, and how many answered.
    pub searches: Mutex<(u64, u64)>,
}

impl History {
    pub fn batch(&self, batch: Batch) {
        if let Ok(mut b) = self.batches.lock() {
            b.push(batch);
        }
    }

    pub fn violation(&self, what: String) {
        if let Ok(mut v) = self.live_violations.lock() {
            v.push(what);
        }
    }

    /// Starts register `name` with `initial` (before any operation on it).
    pub fn new_register(&self, name: &str, initial: u64) {
        if let Ok(mut r) = self.registers.lock() {
            r.insert(
                name.to_string(),
                RegisterHistory {
                    initial,
                    events: Vec::new(),
                },
            );
        }
    }

    /// Appends `event` to `name`'s history. Called just before a request is sent and just
    /// after its answer arrived, under one lock, so the order is real-time order.
    pub fn register_event(&self, name: &str, event: RegisterEvent) {
        if let Ok(mut r) = self.registers.lock() {
            r.entry(name.to_string()).or_default().events.push(event);
        }
    }
}
