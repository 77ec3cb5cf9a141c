//! Raft's figures for `/metrics` (`sightline_api::metrics`): the state read from openraft's
//! metrics when scraped ([`figures`]), and the events counted by watching them ([`watch`]):
//! leader changes and snapshots, which a scrape would miss between two polls.

use std::collections::BTreeSet;
use std::sync::Arc;

use openraft::ServerState;
use sightline_api::metrics::{RaftFigures, METRICS};
use sightline_raft::RaftNode;

/// Raft's state on this node now.
pub fn figures(raft: &RaftNode) -> RaftFigures {
    let metrics = raft.metrics().borrow().clone();
    let last_log_index = metrics.last_log_index.unwrap_or(0);
    let applied_index = metrics.last_applied.map_or(0, |l| l.index);
    let is_leader = metrics.state == ServerState::Leader;
    let voters: BTreeSet<u64> = metrics.membership_config.membership().voter_ids().collect();
    let mut replication_lag = Vec::new();
    let mut commit_index = applied_index;
    if let (true, Some(replication)) = (is_leader, metrics.replication.as_ref()) {
        let mut held: Vec<u64> = vec![last_log_index];
        for (id, matched) in replication.iter() {
            let matched = matched.map_or(0, |l| l.index);
            if *id != metrics.id {
                replication_lag.push((*id, last_log_index.saturating_sub(matched)));
                if voters.contains(id) {
                    held.push(matched);
                }
            }
        }
        // The highest index a majority of voters holds.
        held.sort_unstable_by(|a, b| b.cmp(a));
        let majority = voters.len().max(1) / 2;
        commit_index = held.get(majority).copied().unwrap_or(applied_index);
    }
    RaftFigures {
        term: metrics.current_term,
        is_leader,
        last_log_index,
        applied_index,
        commit_index,
        snapshot_index: metrics.snapshot.map(|l| l.index),
        purged_index: metrics.purged.map(|l| l.index),
        replication_lag,
    }
}

/// Counts leader changes and new snapshots into [`METRICS`] for as long as Raft runs.
pub fn watch(raft: Arc<RaftNode>) {
    let mut receiver = raft.metrics();
    tokio::spawn(async move {
        let (mut leader, mut snapshot) = {
            let now = receiver.borrow();
            (now.current_leader, now.snapshot)
        };
        while receiver.changed().await.is_ok() {
            let now = receiver.borrow_and_update();
            if now.current_leader.is_some() && now.current_leader != leader {
                METRICS.leader_changes.inc();
            }
            if now.snapshot.is_some() && now.snapshot != snapshot {
                METRICS.snapshots.inc();
            }
            leader = now.current_leader;
            snapshot = now.snapshot;
        }
    });
}
