//! Fault injection on a node's outgoing Raft traffic, for the chaos harness and tests: drop
//! every message to some peers (a one-way partition; both ways when each side drops the
//! other), or delay every message to some peers (a slow link). Covers everything a node
//! sends over the Raft transport: AppendEntries, votes, snapshots, forwarded proposals and
//! read indexes, clock votes.
//!
//! The rules are always consulted (one atomic load per RPC) and empty unless set; only a node
//! started with `--enable-fault-injection` lets `POST /v1/admin/faults` set them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::types::NodeId;

/// What happens to this node's outgoing Raft messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRules {
    /// Messages to these nodes are dropped: the RPC fails as if the peer were unreachable.
    pub drop_to: BTreeSet<NodeId>,
    /// Messages to these nodes wait `delay_ms` before they are sent, inside the RPC's
    /// deadline (so a delay longer than the deadline makes the RPC time out).
    pub delay_to: BTreeSet<NodeId>,
    /// See `delay_to`.
    pub delay_ms: u64,
    /// Messages to `delay_to` also wait their size divided by this rate (bytes per second; 0
    /// for none): a throttled link, on which a large AppendEntries takes long to arrive.
    pub bytes_per_sec: u64,
}

/// The shared, swappable rules of one node.
#[derive(Debug, Default)]
pub struct Faults {
    rules: ArcSwap<FaultRules>,
}

/// An outgoing message was dropped by a fault rule.
#[derive(Debug, Clone, thiserror::Error)]
#[error("message to node {0} dropped by fault injection")]
pub struct Dropped(pub NodeId);

impl Faults {
    /// No faults.
    pub fn new() -> Arc<Self> {
        Arc::new(Faults::default())
    }

    /// Replaces the rules.
    pub fn set(&self, rules: FaultRules) {
        if rules != FaultRules::default() {
            tracing::warn!(?rules, "fault injection: outgoing raft traffic rules set");
        }
        self.rules.store(Arc::new(rules));
    }

    /// The current rules.
    pub fn rules(&self) -> FaultRules {
        FaultRules::clone(&self.rules.load())
    }

    /// Applies the rules to one message to `target`: waits out a delay, or fails if the
    /// message is dropped.
    pub async fn before_send(&self, target: NodeId) -> Result<(), Dropped> {
        self.before_send_bytes(target, 0).await
    }

    /// [`Faults::before_send`] for a message of `bytes` bytes (a throttled link delays it
    /// by its size too).
    pub async fn before_send_bytes(&self, target: NodeId, bytes: usize) -> Result<(), Dropped> {
        let (drop, delay) = {
            let rules = self.rules.load();
            let throttle = match rules.bytes_per_sec {
                0 => Duration::ZERO,
                rate => Duration::from_secs_f64(bytes as f64 / rate as f64),
            };
            (
                rules.drop_to.contains(&target),
                rules
                    .delay_to
                    .contains(&target)
                    .then(|| Duration::from_millis(rules.delay_ms) + throttle),
            )
        };
        if drop {
            return Err(Dropped(target));
        }
        if let Some(delay) = delay.filter(|d| !d.is_zero()) {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rules_drop_and_delay_only_their_targets() {
        let faults = Faults::new();
        assert!(faults.before_send(2).await.is_ok());
        faults.set(FaultRules {
            drop_to: [2].into(),
            delay_to: [3].into(),
            delay_ms: 50,
            bytes_per_sec: 1_000_000,
        });
        assert!(faults.before_send(2).await.is_err());
        let start = tokio::time::Instant::now();
        faults.before_send(3).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(50));
        let start = tokio::time::Instant::now();
        faults.before_send_bytes(3, 100_000).await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "50 ms + 100 kB at 1 MB/s"
        );
        let start = tokio::time::Instant::now();
        faults.before_send(4).await.unwrap();
        assert!(start.elapsed() < Duration::from_millis(50));
        faults.set(FaultRules::default());
        assert!(faults.before_send(2).await.is_ok());
    }
}
