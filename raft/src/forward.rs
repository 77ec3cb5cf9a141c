//! Requests a follower sends to the leader on a client's behalf: a prepared command to
//! commit (so a write may arrive at any node) and the read index of a linearizable read.
//! Both ride the Raft gRPC service (over mutual TLS when the node has it, like its Raft
//! traffic); channels are dialled lazily and kept per address.

use std::collections::HashMap;
use std::time::Duration;

use sightline_storage::{ApplyOutcome, Command};
use tokio::sync::Mutex;
use tonic::transport::Channel;
use tonic::Code;

use crate::error::{Error, Result};
use crate::pb::raft_service_client::RaftServiceClient;
use crate::pb::RaftRequest;
use crate::tls::PeerTls;
use crate::types::{Node, NodeId};

/// Sends forwarded requests to whichever node leads.
pub(crate) struct Forwarder {
    connect_timeout: Duration,
    max_message_bytes: usize,
    tls: Option<PeerTls>,
    clients: Mutex<HashMap<String, RaftServiceClient<Channel>>>,
}

impl Forwarder {
    pub(crate) fn new(
        connect_timeout: Duration,
        max_message_bytes: usize,
        tls: Option<PeerTls>,
    ) -> Self {
        Forwarder {
            connect_timeout,
            max_message_bytes,
            tls,
            clients: Mutex::new(HashMap::new()),
        }
    }

    async fn client(&self, node: &Node) -> Result<RaftServiceClient<Channel>> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(&node.raft_addr) {
            return Ok(client.clone());
        }
        let endpoint = crate::tls::endpoint(&node.raft_addr, self.tls.as_ref())
            .map_err(|e| {
                Error::Transport(format!(
                    "raft address {:?}: no channel: {e}",
                    node.raft_addr
                ))
            })?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        let client = RaftServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes);
        clients.insert(node.raft_addr.clone(), client.clone());
        Ok(client)
    }

    async fn forget(&self, node: &Node) {
        self.clients.lock().await.remove(&node.raft_addr);
    }

    fn map_status(&self, status: tonic::Status) -> Error {
        match status.code() {
            // The node we thought led no longer does: the caller retries on the new leader.
            Code::FailedPrecondition => Error::ForwardToLeader {
                leader_id: None,
                leader: None,
            },
            _ => Error::Transport(status.message().to_string()),
        }
    }

    /// Commits `command` through the leader and returns its outcome.
    pub(crate) async fn propose(
        &self,
        leader_id: NodeId,
        leader: &Node,
        command: &Command,
        timeout: Duration,
    ) -> Result<ApplyOutcome> {
        let mut client = self.client(leader).await?;
        let mut request = tonic::Request::new(RaftRequest {
            target: leader_id,
            body: command.encode(),
        });
        request.set_timeout(timeout);
        match client.propose(request).await {
            Ok(reply) => {
                postcard::from_bytes(&reply.into_inner().body).map_err(|e| Error::Corrupt {
                    what: "forwarded outcome",
                    reason: e.to_string(),
                })
            }
            Err(status) => {
                if status.code() == Code::Unavailable {
                    self.forget(leader).await;
                }
                Err(self.map_status(status))
            }
        }
    }

    /// The leader's read index.
    pub(crate) async fn read_index(
        &self,
        leader_id: NodeId,
        leader: &Node,
        timeout: Duration,
    ) -> Result<u64> {
        let mut client = self.client(leader).await?;
        let mut request = tonic::Request::new(RaftRequest {
            target: leader_id,
            body: Vec::new(),
        });
        request.set_timeout(timeout);
        match client.read_index(request).await {
            Ok(reply) => {
                postcard::from_bytes(&reply.into_inner().body).map_err(|e| Error::Corrupt {
                    what: "read index",
                    reason: e.to_string(),
                })
            }
            Err(status) => {
                if status.code() == Code::Unavailable {
                    self.forget(leader).await;
                }
                Err(self.map_status(status))
            }
        }
    }
}
