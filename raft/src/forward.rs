//! Requests a follower sends to the leader on a client's behalf: a prepared command to
//! commit (so a write may arrive at any node) and the read index of a linearizable read;
//! and the leader's question to each voter for its clock (`crate::clock`). All ride the
//! Raft gRPC service (over mutual TLS when the node has it, like its Raft
//! traffic); channels are dialled lazily and kept per address.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sightline_storage::{ApplyOutcome, Command};
use tokio::sync::Mutex;
use tonic::transport::Channel;
use tonic::Code;

use crate::error::{Error, Result};
use crate::faults::Faults;
use crate::pb::raft_service_client::RaftServiceClient;
use crate::pb::RaftRequest;
use crate::tls::PeerTls;
use crate::types::{Node, NodeId};

/// Sends forwarded requests to whichever node leads.
pub(crate) struct Forwarder {
    connect_timeout: Duration,
    max_message_bytes: usize,
    tls: Option<PeerTls>,
    faults: Arc<Faults>,
    clients: Mutex<HashMap<String, RaftServiceClient<Channel>>>,
}

impl Forwarder {
    pub(crate) fn new(
        connect_timeout: Duration,
        max_message_bytes: usize,
        tls: Option<PeerTls>,
        faults: Arc<Faults>,
    ) -> Self {
        Forwarder {
            connect_timeout,
            max_message_bytes,
            tls,
            faults,
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

    /// One unary call to node `target` at `node`: `body` in, the decoded reply out.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        target: NodeId,
        node: &Node,
        rpc: Rpc,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<T> {
        if let Err(dropped) = self.faults.before_send(target).await {
            return Err(Error::Transport(dropped.to_string()));
        }
        let mut client = self.client(node).await?;
        let mut request = tonic::Request::new(RaftRequest { target, body });
        request.set_timeout(timeout);
        let reply = match rpc {
            Rpc::Propose => client.propose(request).await,
            Rpc::ReadIndex => client.read_index(request).await,
            Rpc::Clock => client.clock(request).await,
        };
        match reply {
            Ok(reply) => {
                postcard::from_bytes(&reply.into_inner().body).map_err(|e| Error::Corrupt {
                    what: rpc.what(),
                    reason: e.to_string(),
                })
            }
            Err(status) => {
                if status.code() == Code::Unavailable {
                    self.forget(node).await;
                }
                // Not the leader any more (ABORTED): the caller retries on the new one.
                Err(Error::from_status(&status))
            }
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
        self.call(leader_id, leader, Rpc::Propose, command.encode(), timeout)
            .await
    }

    /// The leader's read index.
    pub(crate) async fn read_index(
        &self,
        leader_id: NodeId,
        leader: &Node,
        timeout: Duration,
    ) -> Result<u64> {
        self.call(leader_id, leader, Rpc::ReadIndex, Vec::new(), timeout)
            .await
    }

    /// Node `id`'s wall clock (UTC ms).
    pub(crate) async fn clock(&self, id: NodeId, node: &Node, timeout: Duration) -> Result<i64> {
        self.call(id, node, Rpc::Clock, Vec::new(), timeout).await
    }
}

#[derive(Debug, Clone, Copy)]
enum Rpc {
    Propose,
    ReadIndex,
    Clock,
}

impl Rpc {
    fn what(self) -> &'static str {
        match self {
            Rpc::Propose => "forwarded outcome",
            Rpc::ReadIndex => "read index",
            Rpc::Clock => "peer clock",
        }
    }
}
