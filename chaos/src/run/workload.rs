//! The concurrent workload of a chaos run, one thread per client:
//!
//! - **writers** ingest batches of 1–20 reads of a plate of their own, half of them with
//!   client ids, each to a node picked at random (forwarded to the leader). A batch with
//!   client ids is retried after any failure, because its ids make a retry harmless; a
//!   batch without them is retried only when the answer proves it was not applied (503, or
//!   a connection refused before anything was sent), as a careful client would;
//! - **register clients** write and read a register tenant's `retention_days` through
//!   random nodes, recording each invocation and return for the linearizability check;
//!   a register is retired after [`OPS_PER_REGISTER`] operations for a fresh one, so each
//!   history stays small enough to check exhaustively (Jepsen's independent keys);
//! - **a searcher** asks random nodes, linearizably, for batches already acknowledged: each
//!   must be there, whole and once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::history::{Batch, History, Outcome, RegisterEvent, RegisterOp};
use crate::client::Client;
use crate::reads::{ndjson, now_ms, read_json};

/// The tenant the writers ingest into.
pub const TENANT: &str = "chaos";
/// Operations on one register before the clients move to a fresh one.
pub const OPS_PER_REGISTER: u64 = 30;
/// The `retention_days` a register starts with.
pub const REGISTER_INITIAL: u64 = 1_000;
/// Attempts at one batch before the writer gives up on it.
const MAX_ATTEMPTS: u32 = 8;

/// What every workload thread shares.
pub struct Shared {
    /// One client per member (index = node id - 1); ports do not change across restarts.
    pub clients: Vec<Client>,
    pub history: Arc<History>,
    pub stop: AtomicBool,
    pub started: Instant,
    pub seed: u64,
    /// The register the clients use now: (number, operations on it so far, being replaced).
    register: Mutex<(u64, u64, bool)>,
    next_value: AtomicU64,
    next_thread: AtomicU64,
}

impl Shared {
    pub fn new(clients: Vec<Client>, history: Arc<History>, seed: u64) -> Shared {
        Shared {
            clients,
            history,
            stop: AtomicBool::new(false),
            started: Instant::now(),
            seed,
            register: Mutex::new((0, 0, false)),
            next_value: AtomicU64::new(REGISTER_INITIAL + 1),
            next_thread: AtomicU64::new(0),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn client(&self, rng: &mut StdRng) -> &Client {
        &self.clients[rng.random_range(0..self.clients.len())]
    }

    fn rng(&self, stream: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ (stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }

    /// Creates register 0 (before the clients start).
    pub fn create_first_register(&self) -> anyhow::Result<()> {
        let name = register_name(0);
        create_register(self, &name)?;
        self.history.new_register(&name, REGISTER_INITIAL);
        Ok(())
    }
}

/// The tenant that holds register `n`.
pub fn register_name(n: u64) -> String {
    format!("reg-{n}")
}

/// How an answer to a write is read.
enum Answer {
    Ok(Value),
    /// Known not applied: retry freely.
    Refused,
    /// May or may not apply.
    Unknown,
    /// A 4xx the workload should never cause.
    Unexpected(u16, Value),
}

fn classify(result: anyhow::Result<(u16, Value)>) -> Answer {
    match result {
        Ok((200 | 201, body)) => Answer::Ok(body),
        Ok((503 | 507, _)) => Answer::Refused,
        Ok((504, _)) => Answer::Unknown,
        Ok((status, _)) if status >= 500 => Answer::Unknown,
        Ok((status, body)) => Answer::Unexpected(status, body),
        Err(e) => match e.downcast_ref::<ureq::Error>() {
            Some(ureq::Error::Transport(t)) if t.kind() == ureq::ErrorKind::ConnectionFailed => {
                Answer::Refused
            }
            _ => Answer::Unknown,
        },
    }
}

/// The reads of a batch (see [`Batch`]).
pub fn batch_reads(plate: &str, size: usize, client_ids: bool, base_ms: i64) -> Vec<Value> {
    (0..size)
        .map(|i| {
            let id = client_ids.then(|| format!("{plate}-{i}"));
            read_json(
                id.as_deref(),
                &format!("cam-{i}"),
                base_ms - i as i64 * 1000,
                plate,
            )
        })
        .collect()
}

/// Writer `w`: batches until told to stop.
pub fn writer(shared: &Shared, w: u64) {
    let mut rng = shared.rng(100 + w);
    let mut seq = 0u64;
    while !shared.stopped() {
        seq += 1;
        let plate = format!("W{w}S{seq:05}");
        let size = rng.random_range(1..=20usize);
        let client_ids = rng.random_bool(0.5);
        let base_ms = now_ms() - 60_000;
        let body = ndjson(&batch_reads(&plate, size, client_ids, base_ms));
        let mut attempts = 0;
        let mut maybe_applied = false;
        let mut outcome = None;
        while attempts < MAX_ATTEMPTS && outcome.is_none() {
            attempts += 1;
            match classify(shared.client(&mut rng).ingest(TENANT, &body)) {
                Answer::Ok(answer) => {
                    // `accepted` counts the batch's records; `duplicates` those whose
                    // client id was already applied (a retry whose first attempt landed).
                    let accepted = answer["accepted"].as_u64().unwrap_or(0);
                    let duplicates = answer["duplicates"].as_u64().unwrap_or(0);
                    let most = if client_ids { size as u64 } else { 0 };
                    if accepted != size as u64 || duplicates > most {
                        shared.history.violation(format!(
                            "batch {plate} of {size} reads acknowledged as {answer}"
                        ));
                    }
                    outcome = Some(Outcome::Acked);
                }
                Answer::Refused => {}
                Answer::Unknown if client_ids => maybe_applied = true,
                Answer::Unknown => outcome = Some(Outcome::Unknown),
                Answer::Unexpected(status, answer) => {
                    shared
                        .history
                        .violation(format!("batch {plate} answered {status}: {answer}"));
                    maybe_applied = true;
                    break;
                }
            }
            if outcome.is_none() {
                std::thread::sleep(Duration::from_millis(rng.random_range(100..400)));
            }
        }
        let outcome = outcome.unwrap_or(match maybe_applied {
            true => Outcome::Unknown,
            false => Outcome::NotApplied,
        });
        shared.history.batch(Batch {
            plate,
            size,
            client_ids,
            base_ms,
            attempts,
            outcome,
            done_at_ms: shared.elapsed_ms(),
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(5..30)));
    }
}

fn create_register(shared: &Shared, name: &str) -> anyhow::Result<()> {
    let mut rng = shared.rng(7_000 + name.len() as u64);
    for _ in 0..100 {
        let answer = shared.client(&mut rng).put_json(
            &format!("/v1/admin/tenants/{name}"),
            &json!({"retention_days": REGISTER_INITIAL, "hot_days": 0}),
        );
        if let Answer::Ok(_) = classify(answer) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    anyhow::bail!("could not create register tenant {name}")
}

/// The register to use now; moves to a fresh one (created by this caller) once the
/// current one has had its share of operations.
fn current_register(shared: &Shared) -> String {
    let (number, replace) = {
        let Ok(mut r) = shared.register.lock() else {
            return register_name(0);
        };
        r.1 += 1;
        let replace = r.1 >= OPS_PER_REGISTER && !r.2;
        if replace {
            r.2 = true;
        }
        (r.0, replace)
    };
    if replace {
        let next = register_name(number + 1);
        if create_register(shared, &next).is_ok() {
            shared.history.new_register(&next, REGISTER_INITIAL);
            if let Ok(mut r) = shared.register.lock() {
                *r = (number + 1, 0, false);
            }
            return next;
        }
        if let Ok(mut r) = shared.register.lock() {
            r.2 = false;
        }
    }
    register_name(number)
}

/// Register client `c`: reads and writes until told to stop.
pub fn register_client(shared: &Shared, c: u64) {
    let mut rng = shared.rng(200 + c);
    let mut thread = shared.next_thread.fetch_add(1, Ordering::Relaxed);
    while !shared.stopped() {
        let name = current_register(shared);
        let client = shared.client(&mut rng);
        let path = format!("/v1/admin/tenants/{name}");
        let completed = if rng.random_bool(0.5) {
            let value = shared.next_value.fetch_add(1, Ordering::Relaxed);
            let op = RegisterOp::Write(value);
            shared
                .history
                .register_event(&name, RegisterEvent::Invoke { thread, op });
            let answer = client.put_json(&path, &json!({"retention_days": value, "hot_days": 0}));
            match classify(answer) {
                Answer::Ok(_) => {
                    shared
                        .history
                        .register_event(&name, RegisterEvent::Return { thread, read: None });
                    true
                }
                _ => false,
            }
        } else {
            let op = RegisterOp::Read;
            shared
                .history
                .register_event(&name, RegisterEvent::Invoke { thread, op });
            match client.get(&path) {
                Ok((200, body)) => match body["retention_days"].as_u64() {
                    Some(v) => {
                        shared.history.register_event(
                            &name,
                            RegisterEvent::Return {
                                thread,
                                read: Some(v),
                            },
                        );
                        true
                    }
                    None => false,
                },
                _ => false,
            }
        };
        if !completed {
            // The operation stays in flight for ever; this client goes on as a new thread.
            thread = shared.next_thread.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(10..60)));
    }
}

/// The searcher: acknowledged batches, read back linearizably from random nodes.
pub fn searcher(shared: &Shared) {
    let mut rng = shared.rng(300);
    while !shared.stopped() {
        std::thread::sleep(Duration::from_millis(rng.random_range(20..80)));
        let batch = {
            let Ok(batches) = shared.history.batches.lock() else {
                return;
            };
            let acked: Vec<&Batch> = batches
                .iter()
                .rev()
                .take(200)
                .filter(|b| b.outcome == Outcome::Acked)
                .collect();
            if acked.is_empty() {
                continue;
            }
            acked[rng.random_range(0..acked.len())].clone()
        };
        let client = shared.client(&mut rng);
        let query = json!({"plate": batch.plate, "limit": 100, "case_number": "CHAOS", "reason": "chaos check"});
        let answer = client.post_json(&format!("/v1/tenants/{TENANT}/search/plates"), &query);
        if let Ok(mut s) = shared.history.searches.lock() {
            s.0 += 1;
        }
        let Ok((200, page)) = answer else {
            continue;
        };
        if let Ok(mut s) = shared.history.searches.lock() {
            s.1 += 1;
        }
        if let Err(problem) = check_hits(&batch, &page) {
            shared.history.violation(format!(
                "linearizable search on {} for acknowledged batch {}: {problem}",
                client.url, batch.plate
            ));
        }
    }
}

/// What a search page for a batch holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// The page's `total`.
    pub total: u64,
    /// Reads of the batch not on the page.
    pub missing: usize,
    /// Reads of the batch on the page more than once.
    pub doubled: usize,
    /// Hits that are no read of the batch.
    pub phantom: usize,
}

/// Counts `page`'s hits against `batch` (the page must hold every hit: `limit` ≥ 100).
pub fn tally(batch: &Batch, page: &Value) -> Tally {
    let hits = page["hits"].as_array().cloned().unwrap_or_default();
    let mut seen = vec![0u32; batch.size];
    let mut phantom = 0;
    for hit in &hits {
        let camera = hit["camera_id"].as_str().unwrap_or("");
        let i: Option<usize> = camera.strip_prefix("cam-").and_then(|n| n.parse().ok());
        let at = hit["captured_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis());
        match i {
            Some(i) if i < batch.size && at == Some(batch.base_ms - i as i64 * 1000) => {
                seen[i] += 1
            }
            _ => phantom += 1,
        }
    }
    Tally {
        total: page["total"].as_u64().unwrap_or(0),
        missing: seen.iter().filter(|n| **n == 0).count(),
        doubled: seen.iter().filter(|n| **n > 1).count(),
        phantom,
    }
}

/// Whether a search page for `batch` holds exactly its reads, each once.
pub fn check_hits(batch: &Batch, page: &Value) -> Result<(), String> {
    let t = tally(batch, page);
    if t.total != batch.size as u64 || t.missing > 0 || t.doubled > 0 || t.phantom > 0 {
        return Err(format!(
            "total {} of {} reads, {} missing, {} more than once, {} never sent",
            t.total, batch.size, t.missing, t.doubled, t.phantom
        ));
    }
    Ok(())
}
