//! The client side of the Raft transport: openraft's `RaftNetworkFactory` / `RaftNetwork`
//! over tonic gRPC.
//!
//! Each peer gets a lazily connected channel (nothing is dialled until the first RPC, and a
//! broken connection is re-dialled on the next one) with a connect timeout; every RPC also
//! runs under openraft's per-RPC deadline. Failures are reported the way openraft expects
//! so it backs off instead of hammering a dead peer:
//!
//! | what happened | openraft error |
//! | --- | --- |
//! | cannot connect, connection lost, peer's Raft stopped, wrong node at the address | `Unreachable` (back off, then retry) |
//! | deadline passed | `Timeout` |
//! | anything else (a reply that does not decode, an internal error) | `NetworkError` |
//! | a snapshot file could not be read for sending | `NetworkError` (retried; a storage error would stop the node) |
//!
//! With [`NetworkConfig::tls`] set, every channel is mutual TLS (see [`crate::tls`]); a
//! failed handshake surfaces as a connection failure, so openraft backs off as from a
//! dead peer.
//!
//! Snapshots go through openraft's v2 `full_snapshot`: one client-streaming RPC sends a
//! header, then each file of the snapshot directory in frames of at most
//! [`SNAPSHOT_FRAME_BYTES`], then an end marker; only one frame is in memory at a time.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, ReplicationClosed, StreamingError, Timeout,
    Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, RPCTypes, RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::faults::Faults;
use crate::pb::raft_service_client::RaftServiceClient;
use crate::pb::{
    snapshot_frame, FileChunk, RaftRequest, SnapshotEnd, SnapshotFrame, SnapshotHeader,
};
use crate::tls::PeerTls;
use crate::types::typ::{Snapshot, Vote};
use crate::types::{Node, NodeId, TypeConfig};

/// Size of one snapshot frame's payload.
pub const SNAPSHOT_FRAME_BYTES: usize = 1 << 20;

/// Transport settings shared by every peer connection.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// How long dialling a peer may take.
    pub connect_timeout: Duration,
    /// How long one snapshot frame may wait for the receiver to take it.
    pub snapshot_frame_timeout: Duration,
    /// How long the receiver may take to install a snapshot once every file was sent.
    pub snapshot_install_timeout: Duration,
    /// Largest gRPC message sent or accepted.
    pub max_message_bytes: usize,
    /// Mutual TLS: with it, peers are dialled over `https://` and authenticated (see
    /// [`crate::tls`]); without it, over plain `http://`.
    pub tls: Option<PeerTls>,
    /// Injected faults on this node's outgoing traffic (none unless set).
    pub faults: Arc<Faults>,
}

/// Builds a [`PeerClient`] per target node.
#[derive(Debug, Clone)]
pub struct NetworkFactory {
    id: NodeId,
    config: Arc<NetworkConfig>,
}

impl NetworkFactory {
    /// Connections made by node `id`.
    pub fn new(id: NodeId, config: NetworkConfig) -> Self {
        NetworkFactory {
            id,
            config: Arc::new(config),
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerClient {
        PeerClient {
            id: self.id,
            target,
            addr: node.raft_addr.clone(),
            config: self.config.clone(),
            client: None,
        }
    }
}

/// Raft RPCs to one peer.
#[derive(Debug)]
pub struct PeerClient {
    id: NodeId,
    target: NodeId,
    addr: String,
    config: Arc<NetworkConfig>,
    client: Option<RaftServiceClient<Channel>>,
}

/// Why an RPC failed, before it is shaped into the error type of the calling method.
#[derive(Debug)]
enum Failure {
    Unreachable(Unreachable),
    Timeout(Duration),
    Network(NetworkError),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);

fn unreachable(msg: String) -> Failure {
    Failure::Unreachable(Unreachable::new(&Message(msg)))
}

fn network(msg: String) -> Failure {
    Failure::Network(NetworkError::new(&Message(msg)))
}

/// Maps a gRPC status to how openraft should react to it.
fn classify(target: NodeId, status: &Status) -> Failure {
    let msg = format!("node {target}: {:?}: {}", status.code(), status.message());
    match status.code() {
        // Connection refused or reset, the peer's Raft stopped, or the address now belongs
        // to another node (ABORTED, see `Error::to_status`): retrying at once will not help.
        Code::Unavailable | Code::Aborted | Code::FailedPrecondition => unreachable(msg),
        _ => network(msg),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Failure> {
    postcard::to_allocvec(value).map_err(|e| network(format!("encoding request: {e}")))
}

fn decode<T: DeserializeOwned>(target: NodeId, bytes: &[u8]) -> Result<T, Failure> {
    postcard::from_bytes(bytes).map_err(|e| {
        network(format!(
            "node {target} sent a reply that does not decode: {e}"
        ))
    })
}

impl PeerClient {
    /// The gRPC client, creating the lazily connected channel on first use.
    fn client(&mut self) -> Result<RaftServiceClient<Channel>, Failure> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let endpoint = crate::tls::endpoint(&self.addr, self.config.tls.as_ref())
            .map_err(|e| {
                unreachable(format!(
                    "node {} at raft address {:?}: no channel: {e}",
                    self.target, self.addr
                ))
            })?
            .connect_timeout(self.config.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(20));
        let client = RaftServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(self.config.max_message_bytes)
            .max_encoding_message_size(self.config.max_message_bytes);
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Forgets the channel after a transport failure, so the next RPC dials afresh.
    fn reset_on(&mut self, failure: &Failure) {
        if matches!(failure, Failure::Unreachable(_)) {
            self.client = None;
        }
    }

    async fn unary<Req, Resp>(
        &mut self,
        kind: RPCTypes,
        req: &Req,
        ttl: Duration,
    ) -> Result<Resp, Failure>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let mut client = self.client()?;
        let body = encode(req)?;
        let size = body.len();
        let mut request = tonic::Request::new(RaftRequest {
            target: self.target,
            body,
        });
        request.set_timeout(ttl);
        let (faults, target) = (self.config.faults.clone(), self.target);
        let call = async move {
            // An injected delay counts against the deadline, like a slow link.
            if let Err(dropped) = faults.before_send_bytes(target, size).await {
                return Err(Status::unavailable(dropped.to_string()));
            }
            match kind {
                RPCTypes::Vote => client.vote(request).await,
                _ => client.append_entries(request).await,
            }
        };
        let result = match tokio::time::timeout(ttl, call).await {
            Err(_) => Err(Failure::Timeout(ttl)),
            // tonic enforces the request's deadline itself and reports it as `Cancelled`.
            Ok(Err(status))
                if matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded) =>
            {
                Err(Failure::Timeout(ttl))
            }
            Ok(Err(status)) => Err(classify(self.target, &status)),
            Ok(Ok(reply)) => decode(self.target, &reply.into_inner().body),
        };
        if let Err(failure) = &result {
            tracing::debug!(target_node = self.target, rpc = ?kind, error = ?failure, "raft rpc failed");
            self.reset_on(failure);
        }
        result
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        kind: RPCTypes,
        failure: Failure,
    ) -> RPCError<NodeId, Node, E> {
        match failure {
            Failure::Unreachable(e) => RPCError::Unreachable(e),
            Failure::Network(e) => RPCError::Network(e),
            Failure::Timeout(timeout) => RPCError::Timeout(Timeout {
                action: kind,
                id: self.id,
                target: self.target,
                timeout,
            }),
        }
    }

    fn streaming_error(&self, failure: Failure) -> StreamingError<TypeConfig, Fatal<NodeId>> {
        match failure {
            Failure::Unreachable(e) => StreamingError::Unreachable(e),
            Failure::Network(e) => StreamingError::Network(e),
            Failure::Timeout(timeout) => StreamingError::Timeout(Timeout {
                action: RPCTypes::InstallSnapshot,
                id: self.id,
                target: self.target,
                timeout,
            }),
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.unary(RPCTypes::AppendEntries, &rpc, option.hard_ttl())
            .await
            .map_err(|f| self.rpc_error(RPCTypes::AppendEntries, f))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.unary(RPCTypes::Vote, &rpc, option.hard_ttl())
            .await
            .map_err(|f| self.rpc_error(RPCTypes::Vote, f))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        if let Err(dropped) = self.config.faults.before_send(self.target).await {
            return Err(self.streaming_error(unreachable(dropped.to_string())));
        }
        let mut client = self.client().map_err(|f| self.streaming_error(f))?;
        let header = SnapshotHeader {
            target: self.target,
            body: encode(&(vote, &snapshot.meta)).map_err(|f| self.streaming_error(f))?,
        };
        tracing::info!(target_node = self.target, snapshot = %snapshot.meta, "sending snapshot");

        let (tx, rx) = mpsc::channel::<SnapshotFrame>(2);
        let frames = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|frame| (frame, rx))
        });
        // The producer owns the snapshot (and so its lease on the files) until every frame
        // is sent.
        let mut producer = tokio::spawn(send_frames(
            tx,
            header,
            snapshot,
            self.config.snapshot_frame_timeout,
        ));
        let call = client.install_snapshot(tonic::Request::new(frames));
        tokio::pin!(call);
        tokio::pin!(cancel);

        let install_timeout = self.config.snapshot_install_timeout;
        let mut deadline: Option<tokio::time::Instant> = None;
        let reply = loop {
            tokio::select! {
                closed = &mut cancel => {
                    producer.abort();
                    return Err(StreamingError::Closed(closed));
                }
                reply = &mut call => {
                    producer.abort();
                    break reply;
                }
                produced = &mut producer, if deadline.is_none() => {
                    match produced {
                        Ok(Ok(())) => deadline = Some(tokio::time::Instant::now() + install_timeout),
                        Ok(Err(SendError::Read(e))) => {
                            // Reported as a network failure, so openraft retries the transfer:
                            // as a storage error it would stop this node over one bad read.
                            tracing::warn!(error = %e, target_node = self.target, "reading a snapshot file to send failed");
                            return Err(self.streaming_error(network(format!("reading snapshot: {e}"))));
                        }
                        Ok(Err(SendError::Stalled(after))) => {
                            self.client = None;
                            return Err(self.streaming_error(Failure::Timeout(after)));
                        }
                        Err(join) => return Err(self.streaming_error(network(format!("snapshot sender failed: {join}")))),
                    }
                }
                _ = sleep_until(deadline) => {
                    return Err(self.streaming_error(Failure::Timeout(install_timeout)));
                }
            }
        };
        let reply = match reply {
            Ok(reply) => reply.into_inner(),
            Err(status) => {
                let failure = classify(self.target, &status);
                self.reset_on(&failure);
                return Err(self.streaming_error(failure));
            }
        };
        let response: SnapshotResponse<NodeId> =
            decode(self.target, &reply.body).map_err(|f| self.streaming_error(f))?;
        tracing::info!(target_node = self.target, vote = %response.vote, "snapshot sent");
        Ok(response)
    }

    fn backoff(&self) -> openraft::network::Backoff {
        // 100 ms doubling to 3 s: quick to notice a restarted peer, quiet about a dead one.
        let delays = (0..).map(|i: u32| {
            Duration::from_millis(100u64.saturating_mul(1 << i.min(5))).min(Duration::from_secs(3))
        });
        openraft::network::Backoff::new(delays)
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[derive(Debug)]
pub(crate) enum SendError {
    /// A snapshot file could not be read.
    Read(std::io::Error),
    /// The receiver took no frame for this long.
    Stalled(Duration),
}

/// Sends the header, every file in frames, and the end marker. Stops quietly when the
/// receiver goes away: the RPC's reply (or error) then tells what happened.
pub(crate) async fn send_frames(
    tx: mpsc::Sender<SnapshotFrame>,
    header: SnapshotHeader,
    snapshot: Snapshot,
    frame_timeout: Duration,
) -> Result<(), SendError> {
    let send = |frame: snapshot_frame::Frame| {
        let tx = tx.clone();
        async move {
            match tokio::time::timeout(frame_timeout, tx.send(SnapshotFrame { frame: Some(frame) }))
                .await
            {
                Err(_) => Err(SendError::Stalled(frame_timeout)),
                // The receiver is gone; the call's result explains why.
                Ok(Err(_)) => Ok(false),
                Ok(Ok(())) => Ok(true),
            }
        }
    };
    if !send(snapshot_frame::Frame::Header(header)).await? {
        return Ok(());
    }
    let dir: PathBuf = snapshot.snapshot.dir().to_path_buf();
    let files = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || crate::layout::list_files(&dir))
            .await
            .map_err(|e| SendError::Read(std::io::Error::other(e)))?
            .map_err(|e| SendError::Read(std::io::Error::other(e)))?
    };
    let mut total = 0u64;
    for (name, _) in &files {
        let mut file = tokio::fs::File::open(dir.join(name))
            .await
            .map_err(SendError::Read)?;
        let mut offset = 0u64;
        loop {
            let mut buf = Vec::with_capacity(SNAPSHOT_FRAME_BYTES);
            while buf.len() < SNAPSHOT_FRAME_BYTES {
                let n = (&mut file)
                    .take((SNAPSHOT_FRAME_BYTES - buf.len()) as u64)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(SendError::Read)?;
                if n == 0 {
                    break;
                }
            }
            let len = buf.len() as u64;
            let last = buf.len() < SNAPSHOT_FRAME_BYTES;
            // An empty file is still sent, as one empty chunk, so the receiver creates it.
            if len > 0 || offset == 0 {
                let chunk = FileChunk {
                    name: name.clone(),
                    offset,
                    data: buf,
                };
                if !send(snapshot_frame::Frame::Chunk(chunk)).await? {
                    return Ok(());
                }
            }
            offset += len;
            if last {
                break;
            }
        }
        total += offset;
    }
    let end = SnapshotEnd {
        files: files.len() as u64,
        bytes: total,
    };
    send(snapshot_frame::Frame::End(end)).await?;
    drop(snapshot);
    Ok(())
}
