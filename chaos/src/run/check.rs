//! The checks after healing: every batch read back from every node, replicas' checksums,
//! and each register history through stateright's linearizability tester.

use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use stateright::semantics::register::{Register, RegisterOp as Op, RegisterRet as Ret};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};

use super::history::{Batch, Outcome, RegisterEvent, RegisterHistory, RegisterOp};
use super::workload::{tally, TENANT};
use crate::client::Client;
use crate::cluster::Cluster;

/// How long one register's history may take to check before it counts as inconclusive.
const LINEARIZABILITY_BUDGET: Duration = Duration::from_secs(10);
/// Registers found wrong (or undecided) before the rest are left unchecked: one is a
/// violation already, and deciding a wrong history is the checker's slowest case.
const MAX_REGISTER_FAILURES: usize = 3;

/// What one node holds of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Held {
    Whole,
    Absent,
    /// Some reads missing (and none doubled).
    Partial,
    /// A read more than once.
    Duplicated,
    /// A read that was never sent.
    Phantom,
    /// The node did not answer.
    Unanswered(String),
}

/// What `client`'s node holds of `batch`, asking up to `attempts` times.
fn held(client: &Client, batch: &Batch, attempts: u32) -> Held {
    let query = json!({"plate": batch.plate, "limit": 100, "consistency": "follower",
        "case_number": "CHAOS", "reason": "chaos verification"});
    let mut last = String::new();
    for _ in 0..attempts {
        match client.post_json(&format!("/v1/tenants/{TENANT}/search/plates"), &query) {
            Ok((200, page)) => return classify_page(batch, &page),
            Ok((status, body)) => last = format!("{status} {body}"),
            Err(e) => last = format!("{e:#}"),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Held::Unanswered(last)
}

fn classify_page(batch: &Batch, page: &Value) -> Held {
    let t = tally(batch, page);
    if t.phantom > 0 {
        Held::Phantom
    } else if t.doubled > 0 || t.total > batch.size as u64 {
        Held::Duplicated
    } else if t.total == 0 {
        Held::Absent
    } else if t.missing > 0 || t.total < batch.size as u64 {
        Held::Partial
    } else {
        Held::Whole
    }
}

/// Counts over every batch and node.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchVerdict {
    pub batches: usize,
    pub acknowledged_batches: usize,
    pub acknowledged_reads: usize,
    pub unknown_batches: usize,
    pub unknown_present: usize,
    pub not_applied_batches: usize,
    /// Acknowledged reads missing on some node (counted once per read and node).
    pub lost: usize,
    /// Reads present more than once somewhere.
    pub duplicated: usize,
    /// Batches partly present somewhere.
    pub partial: usize,
    /// Reads that were never sent.
    pub phantom: usize,
    /// Batches some node could not answer for.
    pub unanswered: usize,
    /// Batches held differently by different nodes.
    pub divergent: usize,
}

/// Reads every batch back from every running node (one thread per node).
pub fn check_batches(
    cluster: &Cluster,
    batches: &[Batch],
    violations: &mut Vec<String>,
) -> BatchVerdict {
    let clients: Vec<(u64, Client)> = cluster
        .running_ids()
        .into_iter()
        .filter_map(|id| cluster.node(id).ok().map(|n| (id, n.client.clone())))
        .collect();
    let per_node: Vec<(u64, Vec<Held>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = clients
            .iter()
            .map(|(id, client)| {
                scope.spawn(move || {
                    // A node that stopped answering is asked once per batch from then on,
                    // so one dead node cannot stretch the check to hours.
                    let mut failing = 0;
                    let views = batches
                        .iter()
                        .map(|b| {
                            let view = held(client, b, if failing >= 3 { 1 } else { 5 });
                            failing = match view {
                                Held::Unanswered(_) => failing + 1,
                                _ => 0,
                            };
                            view
                        })
                        .collect();
                    (*id, views)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut v = BatchVerdict {
        batches: batches.len(),
        ..BatchVerdict::default()
    };
    for (i, batch) in batches.iter().enumerate() {
        match batch.outcome {
            Outcome::Acked => {
                v.acknowledged_batches += 1;
                v.acknowledged_reads += batch.size;
            }
            Outcome::Unknown => v.unknown_batches += 1,
            Outcome::NotApplied => v.not_applied_batches += 1,
        }
        let views: Vec<(u64, &Held)> = per_node.iter().map(|(id, h)| (*id, &h[i])).collect();
        let mut flagged = false;
        for (node, view) in &views {
            let problem = match (view, batch.outcome) {
                (Held::Whole, Outcome::NotApplied) => {
                    Some("applied though every attempt was refused".to_string())
                }
                (Held::Absent, Outcome::Acked) => {
                    v.lost += batch.size;
                    Some("acknowledged, absent".to_string())
                }
                (Held::Partial, _) => {
                    v.partial += 1;
                    Some("partly present".to_string())
                }
                (Held::Duplicated, _) => {
                    v.duplicated += batch.size;
                    Some("present more than once".to_string())
                }
                (Held::Phantom, _) => {
                    v.phantom += 1;
                    Some("holds a read never sent".to_string())
                }
                (Held::Unanswered(why), _) => {
                    v.unanswered += 1;
                    Some(format!("no answer: {why}"))
                }
                _ => None,
            };
            if let Some(problem) = problem {
                flagged = true;
                if violations.len() < 200 {
                    violations.push(format!(
                        "batch {} ({} reads, {:?}, client ids {}) on node {node}: {problem}",
                        batch.plate, batch.size, batch.outcome, batch.client_ids
                    ));
                }
            }
        }
        let first = views.first().map(|(_, h)| *h);
        if !flagged && views.iter().any(|(_, h)| Some(*h) != first) {
            v.divergent += 1;
            violations.push(format!(
                "batch {} held differently by different nodes: {views:?}",
                batch.plate
            ));
        }
        if batch.outcome == Outcome::Unknown && views.iter().all(|(_, h)| **h == Held::Whole) {
            v.unknown_present += 1;
        }
    }
    v
}

/// The register histories' verdicts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RegisterVerdict {
    pub registers: usize,
    pub operations: usize,
    pub linearizable: usize,
    pub not_linearizable: usize,
    pub inconclusive: usize,
    /// Left unchecked after [`MAX_REGISTER_FAILURES`] failures.
    pub unchecked: usize,
}

/// `history` without the operations that never returned and cannot matter: reads (a read
/// that never answered constrains nothing) and writes of a value no read returned (with
/// unique written values, such a write may always be taken as never having happened: a
/// linearization that placed it has no read between it and the next write, so dropping it
/// leaves a linearization). Each such operation would otherwise multiply the checker's
/// search, since it may be placed anywhere after its invocation; what is left is
/// linearizable exactly when the whole history is.
pub fn without_unobservable_in_flight(history: &RegisterHistory) -> RegisterHistory {
    let returned: std::collections::HashSet<u64> = history
        .events
        .iter()
        .filter_map(|e| match e {
            RegisterEvent::Return { thread, .. } => Some(*thread),
            _ => None,
        })
        .collect();
    let observed: std::collections::HashSet<u64> = history
        .events
        .iter()
        .filter_map(|e| match e {
            RegisterEvent::Return { read, .. } => *read,
            _ => None,
        })
        .collect();
    let events = history
        .events
        .iter()
        .copied()
        .filter(|e| match e {
            RegisterEvent::Invoke { thread, op } if !returned.contains(thread) => match op {
                RegisterOp::Read => false,
                RegisterOp::Write(v) => observed.contains(v),
            },
            _ => true,
        })
        .collect();
    RegisterHistory {
        initial: history.initial,
        events,
    }
}

/// Whether one register history is linearizable (`None`: not decided within the budget).
pub fn linearizable(history: &RegisterHistory) -> Option<bool> {
    let history = without_unobservable_in_flight(history);
    let mut tester = LinearizabilityTester::new(Register(history.initial));
    for event in &history.events {
        let recorded = match *event {
            RegisterEvent::Invoke { thread, op } => tester.on_invoke(
                thread,
                match op {
                    RegisterOp::Write(v) => Op::Write(v),
                    RegisterOp::Read => Op::Read,
                },
            ),
            RegisterEvent::Return { thread, read } => tester.on_return(
                thread,
                match read {
                    Some(v) => Ret::ReadOk(v),
                    None => Ret::WriteOk,
                },
            ),
        };
        if recorded.is_err() {
            return Some(false);
        }
    }
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(tester.is_consistent());
    });
    receive.recv_timeout(LINEARIZABILITY_BUDGET).ok()
}

/// Checks every register history.
pub fn check_registers(
    histories: &[(String, RegisterHistory)],
    violations: &mut Vec<String>,
) -> RegisterVerdict {
    let mut v = RegisterVerdict {
        registers: histories.len(),
        ..RegisterVerdict::default()
    };
    for (name, history) in histories {
        if v.not_linearizable + v.inconclusive >= MAX_REGISTER_FAILURES {
            v.unchecked += 1;
            continue;
        }
        v.operations += history
            .events
            .iter()
            .filter(|e| matches!(e, RegisterEvent::Invoke { .. }))
            .count();
        match linearizable(history) {
            Some(true) => v.linearizable += 1,
            Some(false) => {
                v.not_linearizable += 1;
                violations.push(format!(
                    "register {name}: history not linearizable: {}",
                    serde_json::to_string(history).unwrap_or_default()
                ));
            }
            None => {
                v.inconclusive += 1;
                violations.push(format!(
                    "register {name}: linearizability not decided within {LINEARIZABILITY_BUDGET:?}: {}",
                    serde_json::to_string(history).unwrap_or_default()
                ));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(initial: u64, events: &[RegisterEvent]) -> RegisterHistory {
        RegisterHistory {
            initial,
            events: events.to_vec(),
        }
    }

    #[test]
    fn the_tester_accepts_a_linearizable_history_and_catches_a_stale_read() {
        use RegisterEvent::*;
        let w = |thread, v| Invoke {
            thread,
            op: RegisterOp::Write(v),
        };
        let r = |thread| Invoke {
            thread,
            op: RegisterOp::Read,
        };
        let ok = |thread| Return { thread, read: None };
        let got = |thread, v| Return {
            thread,
            read: Some(v),
        };
        // Write 5 completes, then a read sees 5: fine.
        assert_eq!(
            linearizable(&history(1, &[w(0, 5), ok(0), r(1), got(1, 5)])),
            Some(true)
        );
        // Write 5 completes, then a read sees the old 1: stale.
        assert_eq!(
            linearizable(&history(1, &[w(0, 5), ok(0), r(1), got(1, 1)])),
            Some(false)
        );
        // A read concurrent with the write may see either.
        assert_eq!(
            linearizable(&history(1, &[w(0, 5), r(1), got(1, 1), ok(0)])),
            Some(true)
        );
        // A write that never returned may have happened, or not.
        assert_eq!(
            linearizable(&history(1, &[w(0, 5), r(1), got(1, 5), r(1), got(1, 5)])),
            Some(true)
        );
        assert_eq!(
            linearizable(&history(1, &[w(0, 5), r(1), got(1, 5), r(1), got(1, 1)])),
            Some(false)
        );
        // In-flight operations nobody observed are dropped before checking; an observed one
        // stays and must take effect.
        let h = history(
            1,
            &[w(0, 5), r(2), w(3, 6), r(1), got(1, 6), r(1), got(1, 6)],
        );
        let kept = without_unobservable_in_flight(&h);
        assert_eq!(kept.events.len(), 5, "{kept:?}");
        assert_eq!(linearizable(&h), Some(true));
        let h = history(1, &[w(3, 6), r(1), got(1, 6), r(1), got(1, 1)]);
        assert_eq!(linearizable(&h), Some(false));
    }
}
