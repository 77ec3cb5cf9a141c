//! The Raft transport at its edges: how failures reach openraft (so it backs off from dead
//! peers), and how a node treats malformed or misdirected requests from the network.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use openraft::error::RPCError;
use openraft::network::RPCOption;
use openraft::raft::AppendEntriesRequest;
use openraft::{RaftNetwork, RaftNetworkFactory, SnapshotMeta, Vote};
use sightline_raft::pb::raft_service_client::RaftServiceClient;
use sightline_raft::pb::{snapshot_frame, FileChunk, RaftRequest, SnapshotFrame, SnapshotHeader};
use sightline_raft::{
    current_engine_dir, NetworkConfig, NetworkFactory, Node, RaftConfig, RaftNode, TypeConfig,
};
use sightline_storage::{Engine, EngineConfig, MasterKey};
use tonic::Code;

fn network_config() -> NetworkConfig {
    NetworkConfig {
        connect_timeout: Duration::from_millis(500),
        snapshot_frame_timeout: Duration::from_secs(2),
        snapshot_install_timeout: Duration::from_secs(10),
        max_message_bytes: 16 << 20,
        tls: None,
        faults: sightline_raft::faults::Faults::new(),
    }
}

fn heartbeat() -> AppendEntriesRequest<TypeConfig> {
    AppendEntriesRequest {
        vote: Vote::new_committed(1, 1),
        prev_log_id: None,
        leader_commit: None,
        entries: Vec::new(),
    }
}

async fn peer(addr: String) -> sightline_raft::network::PeerClient {
    NetworkFactory::new(1, network_config())
        .new_client(2, &Node::new(addr, "127.0.0.1:1"))
        .await
}

#[tokio::test]
async fn a_peer_that_refuses_connections_is_unreachable() {
    // A port nobody listens on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);

    let mut client = peer(addr).await;
    let result = client
        .append_entries(heartbeat(), RPCOption::new(Duration::from_secs(2)))
        .await;
    assert!(
        matches!(result, Err(RPCError::Unreachable(_))),
        "openraft must back off from a dead peer, got {result:?}"
    );
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out_within_the_deadline() {
    // Accepts TCP connections but never speaks HTTP/2.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let _hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });

    let mut client = peer(addr).await;
    let started = Instant::now();
    let result = client
        .append_entries(heartbeat(), RPCOption::new(Duration::from_millis(300)))
        .await;
    assert!(
        matches!(result, Err(RPCError::Timeout(_))),
        "got {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_peer_with_an_unparsable_address_is_unreachable_not_a_panic() {
    let mut client = peer("not an address".to_string()).await;
    let result = client
        .append_entries(heartbeat(), RPCOption::new(Duration::from_secs(1)))
        .await;
    assert!(
        matches!(result, Err(RPCError::Unreachable(_))),
        "got {result:?}"
    );
}

struct Running {
    node: RaftNode,
    dir: tempfile::TempDir,
}

async fn running_node() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut engine_config = EngineConfig::new(current_engine_dir(dir.path()).unwrap());
    engine_config.block_cache_bytes = 8 << 20;
    let engine = Engine::open(&engine_config, MasterKey::from_bytes(&[5; 32])).unwrap();
    let node = RaftNode::start(
        7,
        dir.path(),
        "127.0.0.1:0",
        Arc::new(ArcSwap::from_pointee(engine)),
        RaftConfig::new(engine_config),
    )
    .await
    .unwrap();
    Running { node, dir }
}

async fn grpc(node: &RaftNode) -> RaftServiceClient<tonic::transport::Channel> {
    RaftServiceClient::connect(format!("http://{}", node.raft_addr()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_another_node_or_with_garbage_bodies_are_refused() {
    let running = running_node().await;
    let mut client = grpc(&running.node).await;

    let body = postcard::to_allocvec(&heartbeat()).unwrap();
    let misdirected = client
        .append_entries(RaftRequest { target: 8, body })
        .await
        .unwrap_err();
    // Nothing was done and the sender should look elsewhere: ABORTED, as for a former leader.
    assert_eq!(misdirected.code(), Code::Aborted);
    assert!(
        misdirected.message().contains("not node 8"),
        "{misdirected:?}"
    );

    let garbage = client
        .vote(RaftRequest {
            target: 7,
            body: vec![0xff; 9],
        })
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), Code::InvalidArgument);

    running.node.shutdown().await.unwrap();
    // Shutting down twice is harmless, and the port is closed afterwards.
    running.node.shutdown().await.unwrap();
    let closed = client
        .vote(RaftRequest {
            target: 7,
            body: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::Unavailable);
}

/// Finding 4 of the engine review: the propose call applied any command as data,
/// membership included, which could leave every replica unable to restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_refuses_a_membership_command_from_a_peer_and_locally() {
    let running = running_node().await;
    let mut client = grpc(&running.node).await;
    let forged = sightline_storage::Command::Membership {
        config: b"{\"log_id\":null,\"membership\":{}}".to_vec(),
    };
    let body = forged.encode();
    let refused = client
        .propose(RaftRequest { target: 7, body })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        matches!(
            running.node.propose(forged).await,
            Err(sightline_raft::Error::NotAClientCommand(_))
        ),
        "a local propose of a membership command is refused too"
    );
    running.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_file_name_that_escapes_the_directory_is_refused() {
    let running = running_node().await;
    let mut client = grpc(&running.node).await;

    let header = SnapshotHeader {
        target: 7,
        body: postcard::to_allocvec(&(
            Vote::<u64>::new_committed(3, 1),
            SnapshotMeta::<u64, Node>::default(),
        ))
        .unwrap(),
    };
    let frames = vec![
        SnapshotFrame {
            frame: Some(snapshot_frame::Frame::Header(header)),
        },
        SnapshotFrame {
            frame: Some(snapshot_frame::Frame::Chunk(FileChunk {
                name: "../escaped".to_string(),
                offset: 0,
                data: b"not yours".to_vec(),
            })),
        },
    ];
    let refused = client
        .install_snapshot(futures::stream::iter(frames))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("file name"),
        "refused for another reason: {refused:?}"
    );

    let snapshots = running.dir.path().join("snapshots");
    assert!(!snapshots.join("escaped").exists());
    assert!(!running.dir.path().join("escaped").exists());
    // The half-received snapshot directory is cleaned up.
    let started = Instant::now();
    loop {
        let leftovers: Vec<_> = std::fs::read_dir(&snapshots)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tmp-recv"))
            .collect();
        if leftovers.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "left behind: {leftovers:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    running.node.shutdown().await.unwrap();
}
