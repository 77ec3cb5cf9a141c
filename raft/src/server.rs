//! The server side of the Raft transport: the tonic service that hands peers' messages to
//! the local `Raft`, and receives streamed snapshots onto disk.
//!
//! Everything in a request is untrusted: bodies are decoded with errors reported as
//! `InvalidArgument`, snapshot file names must be plain names, and a file's chunks must
//! arrive in order. A request meant for another node id is refused with
//! `FailedPrecondition`; a stopped Raft answers `Unavailable`. Both make the sender back off.
//!
//! With TLS configured, the server only completes handshakes with clients presenting a
//! certificate signed by the cluster CA (see [`crate::tls`]): nothing reaches the service
//! from a peer without one.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use openraft::error::Fatal;
use openraft::raft::{AppendEntriesRequest, SnapshotResponse, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status, Streaming};

use crate::error::Error;

use crate::layout;
use crate::pb::raft_service_server::{RaftService, RaftServiceServer};
use crate::pb::{snapshot_frame, RaftReply, RaftRequest, SnapshotFrame};
use crate::snapshot::SnapshotFiles;
use crate::state_machine::SnapshotReceiver;
use crate::tls::PeerTls;
use crate::types::typ::{Raft, Snapshot, SnapshotMeta, Vote};
use crate::types::{NodeId, TypeConfig};

/// The gRPC service of one node.
pub(crate) struct RaftGrpc {
    id: NodeId,
    raft: Raft,
    /// Stores received snapshots before openraft installs them.
    receiver: SnapshotReceiver,
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Status> {
    postcard::from_bytes(bytes)
        .map_err(|e| Status::invalid_argument(format!("{what} does not decode: {e}")))
}

fn reply<T: Serialize>(value: &T) -> Result<Response<RaftReply>, Status> {
    let body = postcard::to_allocvec(value).map_err(|e| Error::corrupt("reply", e).to_status())?;
    Ok(Response::new(RaftReply { body }))
}

fn fatal(e: Fatal<NodeId>) -> Status {
    Error::Stopped(e.to_string()).to_status()
}

impl RaftGrpc {
    pub(crate) fn new(id: NodeId, raft: Raft, receiver: SnapshotReceiver) -> Self {
        RaftGrpc { id, raft, receiver }
    }

    fn check_target(&self, target: NodeId) -> Result<(), Status> {
        if target == self.id {
            return Ok(());
        }
        // The sender's view of the cluster is stale; nothing was done (ABORTED, as for a
        // node that no longer leads).
        Err(Status::aborted(format!(
            "this is node {}, not node {target}",
            self.id
        )))
    }
}

#[tonic::async_trait]
impl RaftService for RaftGrpc {
    async fn append_entries(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        let request = request.into_inner();
        self.check_target(request.target)?;
        let rpc: AppendEntriesRequest<TypeConfig> =
            decode("append entries request", &request.body)?;
        match self.raft.append_entries(rpc).await {
            Ok(response) => reply(&response),
            Err(e) => match e.into_fatal() {
                Some(f) => Err(fatal(f)),
                None => Err(Status::internal("append entries failed")),
            },
        }
    }

    async fn propose(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let request = request.into_inner();
        self.check_target(request.target)?;
        let command: sightline_storage::Command = decode("forwarded command", &request.body)?;
        // A peer may forward client commands only: a membership command applied as data
        // would overwrite the stored membership on every replica.
        if !command.is_client_command() {
            return Err(Status::invalid_argument(
                "propose orders client commands only; membership changes use the membership API",
            ));
        }
        match self.raft.client_write(command).await {
            Ok(response) => reply(&response.data),
            Err(e) => Err(crate::node::write_error(e).to_status()),
        }
    }

    async fn read_index(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        let request = request.into_inner();
        self.check_target(request.target)?;
        match self.raft.ensure_linearizable().await {
            Ok(log_id) => reply(&log_id.map(|l| l.index).unwrap_or(0)),
            Err(e) => Err(crate::node::leadership_error(e).to_status()),
        }
    }

    async fn clock(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        self.check_target(request.into_inner().target)?;
        reply(&sightline_storage::time::now_ms())
    }

    async fn vote(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        let request = request.into_inner();
        self.check_target(request.target)?;
        let rpc: VoteRequest<NodeId> = decode("vote request", &request.body)?;
        match self.raft.vote(rpc).await {
            Ok(response) => reply(&response),
            Err(e) => match e.into_fatal() {
                Some(f) => Err(fatal(f)),
                None => Err(Status::internal("vote failed")),
            },
        }
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<SnapshotFrame>>,
    ) -> Result<Response<RaftReply>, Status> {
        let mut stream = request.into_inner();
        let header = match stream.message().await? {
            Some(SnapshotFrame {
                frame: Some(snapshot_frame::Frame::Header(header)),
            }) => header,
            _ => {
                return Err(Status::invalid_argument(
                    "a snapshot stream must start with its header",
                ))
            }
        };
        self.check_target(header.target)?;
        let (vote, meta): (Vote, SnapshotMeta) = decode("snapshot header", &header.body)?;

        // Refuse a snapshot from a leader of an older term before receiving any file. (Only
        // the term is compared here: comparing whole votes from the network is openraft's job,
        // done again when the snapshot is installed.)
        let my_vote = self.raft.metrics().borrow().vote;
        if vote.leader_id.term < my_vote.leader_id.term {
            tracing::info!(from = %vote, mine = %my_vote, "refusing snapshot from an older term");
            return reply(&SnapshotResponse::new(my_vote));
        }

        let files =
            self.raft
                .begin_receiving_snapshot()
                .await
                .map_err(|e| match e.into_fatal() {
                    Some(f) => fatal(f),
                    None => Status::internal("cannot receive a snapshot"),
                })?;
        tracing::info!(snapshot = %meta, dir = %files.dir().display(), "receiving snapshot");
        let (count, bytes) = receive_files(&mut stream, &files).await?;
        tracing::info!(snapshot = %meta, files = count, bytes, "snapshot received");
        // Durable before openraft hears of it: it purges the log as soon as it hands the
        // install over (issue 14, finding 2).
        let files = self.receiver.persist(&meta, files).await.map_err(|e| {
            tracing::error!(snapshot = %meta, error = %e, "storing a received snapshot");
            Status::internal("cannot store the received snapshot")
        })?;

        let snapshot = Snapshot {
            meta,
            snapshot: files,
        };
        let response = self
            .raft
            .install_full_snapshot(vote, snapshot)
            .await
            .map_err(fatal)?;
        reply(&response)
    }
}

/// Writes the streamed files into `files.dir()` and returns how many files and bytes
/// arrived. On error the caller drops `files`, which removes the partial directory.
async fn receive_files(
    stream: &mut Streaming<SnapshotFrame>,
    files: &SnapshotFiles,
) -> Result<(u64, u64), Status> {
    let mut writer = FrameWriter::new(files.dir().to_path_buf());
    loop {
        let frame = match stream.message().await? {
            Some(SnapshotFrame { frame: Some(frame) }) => frame,
            Some(SnapshotFrame { frame: None }) => {
                return Err(Status::invalid_argument("empty snapshot frame"))
            }
            None => {
                return Err(Status::invalid_argument(
                    "snapshot stream ended before its end frame",
                ))
            }
        };
        if let Some(done) = writer.accept(frame).await? {
            return Ok(done);
        }
    }
}

/// Turns the frames after a snapshot's header back into files in `dir`.
pub(crate) struct FrameWriter {
    dir: PathBuf,
    seen: HashSet<String>,
    open: Option<(String, tokio::fs::File, u64)>,
    total: u64,
}

fn write_failed(e: std::io::Error) -> Status {
    Error::io("a received snapshot file", e).to_status()
}

impl FrameWriter {
    pub(crate) fn new(dir: PathBuf) -> Self {
        FrameWriter {
            dir,
            seen: HashSet::new(),
            open: None,
            total: 0,
        }
    }

    /// Takes one frame; returns the number of files and bytes once the end frame arrived
    /// and everything is on disk.
    pub(crate) async fn accept(
        &mut self,
        frame: snapshot_frame::Frame,
    ) -> Result<Option<(u64, u64)>, Status> {
        match frame {
            snapshot_frame::Frame::Header(_) => {
                Err(Status::invalid_argument("second snapshot header"))
            }
            snapshot_frame::Frame::Chunk(chunk) => {
                let continues = matches!(&self.open, Some((name, _, _)) if *name == chunk.name);
                if !continues {
                    self.close_file().await?;
                    if !layout::is_plain_file_name(&chunk.name) {
                        return Err(Status::invalid_argument(format!(
                            "bad snapshot file name {:?}",
                            chunk.name
                        )));
                    }
                    if !self.seen.insert(chunk.name.clone()) {
                        return Err(Status::invalid_argument(format!(
                            "snapshot file {} sent twice",
                            chunk.name
                        )));
                    }
                    let file = tokio::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(self.dir.join(&chunk.name))
                        .await
                        .map_err(write_failed)?;
                    self.open = Some((chunk.name.clone(), file, 0));
                }
                let Some((name, file, written)) = self.open.as_mut() else {
                    return Err(Status::internal("no open snapshot file"));
                };
                if chunk.offset != *written {
                    return Err(Status::invalid_argument(format!(
                        "snapshot file {name}: chunk at offset {} but {} bytes written",
                        chunk.offset, written
                    )));
                }
                file.write_all(&chunk.data).await.map_err(write_failed)?;
                *written += chunk.data.len() as u64;
                self.total += chunk.data.len() as u64;
                Ok(None)
            }
            snapshot_frame::Frame::End(end) => {
                self.close_file().await?;
                let files = self.seen.len() as u64;
                if end.files != files || end.bytes != self.total {
                    return Err(Status::invalid_argument(format!(
                        "snapshot incomplete: sender sent {} files / {} bytes, received {files} / {}",
                        end.files, end.bytes, self.total
                    )));
                }
                let dir = self.dir.clone();
                match tokio::task::spawn_blocking(move || layout::fsync_dir(&dir)).await {
                    Ok(Ok(())) => Ok(Some((files, self.total))),
                    Ok(Err(e)) => Err(e.to_status()),
                    Err(e) => Err(Error::Stopped(e.to_string()).to_status()),
                }
            }
        }
    }

    async fn close_file(&mut self) -> Result<(), Status> {
        if let Some((_, file, _)) = self.open.take() {
            file.sync_all().await.map_err(write_failed)?;
        }
        Ok(())
    }
}

/// The transport's server: plain, or with `tls` presenting this node's certificate and
/// requiring a client certificate signed by the cluster CA (see [`crate::tls`]).
pub(crate) fn builder(tls: Option<&PeerTls>) -> Result<Server, tonic::transport::Error> {
    match tls {
        None => Ok(Server::builder()),
        Some(tls) => Server::builder().tls_config(tls.server()),
    }
}

/// Serves `service` on `listener` with `server` (from [`builder`]) until `shutdown`
/// resolves.
pub(crate) async fn serve(
    mut server: Server,
    listener: TcpListener,
    service: RaftGrpc,
    max_message_bytes: usize,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?addr, node = service.id, "raft transport listening");
    let service = RaftServiceServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(max_message_bytes);
    server
        .add_service(service)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{send_frames, SNAPSHOT_FRAME_BYTES};
    use crate::types::typ::SnapshotMeta;

    fn content(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Files around the frame size arrive byte for byte: empty, one byte short of, exactly,
    /// and just over one frame, and several frames long.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_of_any_size_survive_framing() {
        let sizes = [
            ("a-empty", 0),
            ("b-short", SNAPSHOT_FRAME_BYTES - 1),
            ("c-exact", SNAPSHOT_FRAME_BYTES),
            ("d-over", SNAPSHOT_FRAME_BYTES + 1),
            ("e-long", SNAPSHOT_FRAME_BYTES * 5 / 2),
        ];
        let source = tempfile::tempdir().unwrap();
        let sent = source.path().join("sent");
        std::fs::create_dir(&sent).unwrap();
        for (i, (name, len)) in sizes.iter().enumerate() {
            std::fs::write(sent.join(name), content(i as u8, *len)).unwrap();
        }
        let received = tempfile::tempdir().unwrap();

        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let snapshot = crate::types::typ::Snapshot {
            meta: SnapshotMeta::default(),
            snapshot: Box::new(SnapshotFiles::owned(sent)),
        };
        let header = crate::pb::SnapshotHeader {
            target: 1,
            body: Vec::new(),
        };
        let sender = tokio::spawn(send_frames(
            tx,
            header,
            snapshot,
            std::time::Duration::from_secs(5),
        ));

        let mut writer = FrameWriter::new(received.path().to_path_buf());
        let mut frames = 0;
        let mut done = None;
        while let Some(SnapshotFrame { frame: Some(frame) }) = rx.recv().await {
            frames += 1;
            if matches!(frame, snapshot_frame::Frame::Header(_)) {
                continue;
            }
            done = writer.accept(frame).await.unwrap();
        }
        sender.await.unwrap().unwrap();

        let total: usize = sizes.iter().map(|(_, len)| len).sum();
        assert_eq!(done, Some((sizes.len() as u64, total as u64)));
        // header + 1 + 1 + 1 + 2 + 3 chunks + end
        assert_eq!(frames, 10);
        for (i, (name, len)) in sizes.iter().enumerate() {
            let got = std::fs::read(received.path().join(name)).unwrap();
            assert!(
                got == content(i as u8, *len),
                "{name} differs after transfer"
            );
        }
    }

    #[tokio::test]
    async fn chunks_out_of_order_or_repeated_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = |name: &str, offset: u64| {
            snapshot_frame::Frame::Chunk(crate::pb::FileChunk {
                name: name.to_string(),
                offset,
                data: vec![1; 10],
            })
        };
        let mut writer = FrameWriter::new(dir.path().to_path_buf());
        writer.accept(chunk("f", 0)).await.unwrap();
        let gap = writer.accept(chunk("f", 20)).await.unwrap_err();
        assert_eq!(gap.code(), tonic::Code::InvalidArgument);

        let mut writer = FrameWriter::new(dir.path().join("x"));
        std::fs::create_dir(dir.path().join("x")).unwrap();
        writer.accept(chunk("g", 0)).await.unwrap();
        writer.accept(chunk("h", 0)).await.unwrap();
        let again = writer.accept(chunk("g", 0)).await.unwrap_err();
        assert_eq!(again.code(), tonic::Code::InvalidArgument);

        let short = writer
            .accept(snapshot_frame::Frame::End(crate::pb::SnapshotEnd {
                files: 2,
                bytes: 99,
            }))
            .await
            .unwrap_err();
        assert_eq!(short.code(), tonic::Code::InvalidArgument);
    }
}
