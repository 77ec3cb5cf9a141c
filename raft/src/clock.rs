//! The cluster clock: the time the replicated state machine lives by.
//!
//! No replica reads its own clock in `apply`; retention (the per-tenant watermark that the
//! compaction filter, queries, dedupe and the checksum use) moves only when a
//! `Command::AdvanceClock` is applied. This module is the one place that proposes it: on
//! the leader, every [`RaftConfig::clock_interval`](crate::RaftConfig), it asks each voter
//! for its wall clock (the `Clock` RPC), and proposes the newest time that a majority of
//! voters' clocks have reached: the `q`-th highest of the answers, `q` being the quorum
//! size (in a joint configuration, the lowest such time over both halves). So one node whose
//! clock runs fast (leader or follower) cannot move the cluster clock ahead of the others,
//! and one slow node cannot hold it back. The state machine keeps the clock monotonic.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sightline_storage::{Command, SharedEngine};
use tokio::time::Instant;

use crate::forward::Forwarder;
use crate::types::typ::Raft;
use crate::types::{Node, NodeId};

/// The newest time at least `quorum` of `clocks` have reached; `None` with fewer answers.
pub fn agreed_time(mut clocks: Vec<i64>, quorum: usize) -> Option<i64> {
    if quorum == 0 || clocks.len() < quorum {
        return None;
    }
    clocks.sort_unstable_by(|a, b| b.cmp(a));
    Some(clocks[quorum - 1])
}

/// The time a majority of every configuration of a (possibly joint) membership agrees on,
/// from each voter's answer (`None` for voters that did not answer).
pub fn agreed_time_of(configs: &[BTreeSet<NodeId>], answers: &[(NodeId, i64)]) -> Option<i64> {
    let per_config = configs
        .iter()
        .map(|voters| {
            let clocks = answers
                .iter()
                .filter(|(id, _)| voters.contains(id))
                .map(|(_, ms)| *ms)
                .collect();
            agreed_time(clocks, voters.len() / 2 + 1)
        })
        .collect::<Option<Vec<i64>>>()?;
    per_config.into_iter().min()
}

/// Runs until the node stops: proposes `AdvanceClock` when this node leads and the last
/// proposal is `interval` old (at once after winning an election, so a new cluster's clock
/// starts within one poll).
pub(crate) async fn run_ticker(
    id: NodeId,
    raft: Raft,
    engine: SharedEngine,
    forwarder: Arc<Forwarder>,
    interval: Duration,
) {
    let mut poll = tokio::time::interval(Duration::from_millis(100).min(interval));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When this node last proposed; `None` while it does not lead, so a new term proposes
    // at once.
    let mut last: Option<Instant> = None;
    loop {
        poll.tick().await;
        let (leads, configs, nodes) = {
            let metrics = raft.metrics();
            let m = metrics.borrow();
            let membership = m.membership_config.membership();
            let nodes: Vec<(NodeId, Node)> = membership
                .nodes()
                .map(|(id, node)| (*id, node.clone()))
                .collect();
            (
                m.current_leader == Some(id) && m.state.is_leader(),
                membership.get_joint_config().clone(),
                nodes,
            )
        };
        if !leads {
            last = None;
            continue;
        }
        if last.is_some_and(|at| at.elapsed() < interval) {
            continue;
        }
        last = Some(Instant::now());
        let voters: BTreeSet<NodeId> = configs.iter().flatten().copied().collect();
        let ask = Duration::from_millis(500).min(interval);
        let answers = futures::future::join_all(
            nodes
                .iter()
                .filter(|(node_id, _)| voters.contains(node_id))
                .map(|(node_id, node)| {
                    let forwarder = forwarder.clone();
                    async move {
                        if *node_id == id {
                            return Some((id, sightline_storage::time::now_ms()));
                        }
                        match tokio::time::timeout(ask, forwarder.clock(*node_id, node, ask)).await
                        {
                            Ok(Ok(ms)) => Some((*node_id, ms)),
                            _ => None,
                        }
                    }
                }),
        )
        .await;
        let answers: Vec<(NodeId, i64)> = answers.into_iter().flatten().collect();
        let Some(agreed) = agreed_time_of(&configs, &answers) else {
            tracing::debug!(answers = answers.len(), "clock vote: no majority answered");
            continue;
        };
        if engine.load().cluster_clock().is_some_and(|c| agreed <= c) {
            continue;
        }
        if let Err(e) = raft
            .client_write(Command::AdvanceClock { now_ms: agreed })
            .await
        {
            tracing::debug!(error = %e, "clock vote: proposing the agreed time failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn one_skewed_clock_cannot_move_the_agreed_time() {
        let t = 1_800_000_000_000;
        // Three voters, one an hour fast (leader or follower alike): the agreed time is a
        // correct clock's.
        assert_eq!(agreed_time(vec![t + H, t, t - 5], 2), Some(t));
        assert_eq!(agreed_time(vec![t, t + H, t - 5], 2), Some(t));
        // One an hour slow holds nothing back.
        assert_eq!(agreed_time(vec![t, t - H, t - 5], 2), Some(t - 5));
        // Two of three answering is a majority; one is not.
        assert_eq!(agreed_time(vec![t + H, t], 2), Some(t));
        assert_eq!(agreed_time(vec![t + H], 2), None);
        // A single-node cluster agrees with itself.
        assert_eq!(agreed_time(vec![t], 1), Some(t));
    }

    #[test]
    fn a_joint_configuration_needs_a_majority_of_both_halves() {
        let t = 1_800_000_000_000;
        let old: BTreeSet<NodeId> = [1, 2, 3].into();
        let new: BTreeSet<NodeId> = [3, 4, 5].into();
        let answers = [(1, t + H), (2, t + H), (3, t), (4, t), (5, t)];
        assert_eq!(
            agreed_time_of(std::slice::from_ref(&old), &answers),
            Some(t + H)
        );
        assert_eq!(
            agreed_time_of(&[old.clone(), new.clone()], &answers),
            Some(t)
        );
        // The new half has no majority answering: no agreed time.
        assert_eq!(agreed_time_of(&[old, new], &answers[..3]), None);
    }
}
