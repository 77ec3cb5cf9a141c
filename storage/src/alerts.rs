//! Hotlist alerts as the engine produces them: every replica matches each read it applies
//! against its tenant's hotlists (`engine/hotlists.rs`) and hands the hits, once the batch
//! is durable, to the [`AlertSink`] its [`crate::EngineConfig`] names. The sink (the API's
//! alert hub) fans them out to Server-Sent Events streams.
//!
//! Alerts are derived, not replicated state: nothing about them is written to disk, and
//! they depend only on the applied command and the replicated hotlists, so every replica
//! raises the same alerts with the same ids. An alert's id is the log index of the batch
//! that carried the read and the read's position among the batch's hits, so a client that
//! reconnects to any node with the last id it saw resumes exactly where it stopped.

use std::sync::Arc;

use crate::command::HotlistMatch;
use crate::record::PlateRead;

/// Where an alert sits in the stream of one tenant: ordered by (log index, hit number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertId {
    /// Log index of the batch that carried the read.
    pub index: u64,
    /// The hit's position among that batch's hits.
    pub seq: u32,
}

impl AlertId {
    /// The id as SSE carries it: `{index}-{seq}`.
    pub fn encode(&self) -> String {
        format!("{}-{}", self.index, self.seq)
    }

    /// Inverse of [`AlertId::encode`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<AlertId> {
        let (index, seq) = text.trim().split_once('-')?;
        Some(AlertId {
            index: index.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// One read that hit one hotlist entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Tenant id.
    pub tenant: u32,
    /// Its place in the tenant's alert stream.
    pub id: AlertId,
    /// The hotlist hit.
    pub hotlist: String,
    /// The plate as the hotlist lists it.
    pub listed_plate: String,
    /// How that hotlist matches.
    pub matching: HotlistMatch,
    /// The read, opened.
    pub read: PlateRead,
}

/// Receives the alerts of each applied batch, in log order. Called on the apply path after
/// the batch is durable: it must not block.
pub trait AlertSink: Send + Sync {
    /// The hits of one batch (never empty).
    fn publish(&self, alerts: Vec<Alert>);
}

/// A shareable [`AlertSink`], as an engine config holds it.
#[derive(Clone)]
pub struct AlertSinkHandle(pub Arc<dyn AlertSink>);

impl std::fmt::Debug for AlertSinkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertSinkHandle")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_order_by_index_then_seq() {
        let a = AlertId { index: 9, seq: 3 };
        assert_eq!(AlertId::parse(&a.encode()), Some(a));
        assert!(AlertId { index: 10, seq: 0 } > a);
        assert!(AlertId { index: 9, seq: 4 } > a);
        for bad in ["", "9", "9-", "-3", "x-1", "9-3-1", "-1-2"] {
            assert_eq!(AlertId::parse(bad), None, "{bad}");
        }
    }
}
