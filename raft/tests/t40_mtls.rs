//! Mutual TLS on the Raft transport, with a CA and node certificates made at test time:
//! three nodes elect, replicate, forward and stream a snapshot over TLS; a client without a
//! certificate from the cluster CA gets nothing accepted; a node does not talk to a server
//! whose certificate another CA signed; bad files fail the start, naming the file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use openraft::error::RPCError;
use openraft::network::RPCOption;
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use openraft::{RaftNetwork, RaftNetworkFactory, Vote};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sightline_raft::pb::raft_service_client::RaftServiceClient;
use sightline_raft::pb::RaftRequest;
use sightline_raft::{
    current_engine_dir, Error, NetworkConfig, NetworkFactory, Node, PeerTls, RaftConfig, RaftNode,
    TlsFiles, TypeConfig, TLS_SERVER_NAME,
};
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::{ApplyOutcome, Command, Engine, EngineConfig, MasterKey};
use tempfile::TempDir;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn master() -> MasterKey {
    MasterKey::from_bytes(&[42; 32])
}

fn upsert_tenant(name: &str) -> Command {
    Command::UpsertTenant {
        name: name.to_string(),
        policy: TenantPolicy::default(),
        keys: generate_tenant_keys(&master(), name),
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

// ---- certificates ----

/// A certificate authority made for the test.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate and key for `cn`, with the DNS names `sans` and the given extended key
    /// usages: (certificate PEM, key PEM).
    fn issue(
        &self,
        cn: &str,
        sans: &[&str],
        usages: &[ExtendedKeyUsagePurpose],
    ) -> (String, String) {
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<String>>())
                .expect("certificate params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = usages.to_vec();
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("node key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("node certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// A node certificate as operators are told to make it: the DNS name `sightline-node`,
    /// usable as server and client.
    fn node(&self, cn: &str) -> (String, String) {
        self.issue(
            cn,
            &[TLS_SERVER_NAME],
            &[
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        )
    }

    /// Writes a node's certificate, its key and this CA into `dir` as `name.{crt,key}` and
    /// `name-ca.crt`.
    fn files(&self, dir: &Path, name: &str, (cert, key): &(String, String)) -> TlsFiles {
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            ca: dir.join(format!("{name}-ca.crt")),
        };
        std::fs::write(&files.cert, cert).expect("write certificate");
        std::fs::write(&files.key, key).expect("write key");
        std::fs::write(&files.ca, self.pem()).expect("write CA");
        files
    }

    fn node_files(&self, dir: &Path, name: &str) -> TlsFiles {
        self.files(dir, name, &self.node(name))
    }
}

// ---- nodes ----

struct TestNode {
    node: RaftNode,
    info: Node,
    _dir: TempDir,
}

impl TestNode {
    fn has_tenant(&self, name: &str) -> bool {
        self.node.engine().load().tenant(name).is_some()
    }

    fn term(&self) -> u64 {
        self.node.metrics().borrow().current_term
    }
}

fn engine_in(dir: &Path) -> (EngineConfig, Arc<ArcSwap<Engine>>) {
    let mut engine_config = EngineConfig::new(current_engine_dir(dir).expect("engine dir"));
    engine_config.block_cache_bytes = 8 << 20;
    engine_config.sync_writes = false;
    let engine = Engine::open(&engine_config, master()).expect("engine opens");
    (engine_config, Arc::new(ArcSwap::from_pointee(engine)))
}

fn config(engine_config: EngineConfig, tls: Option<TlsFiles>) -> RaftConfig {
    let mut config = RaftConfig::new(engine_config);
    config.heartbeat_interval = Duration::from_millis(50);
    config.election_timeout_min = Duration::from_millis(300);
    config.election_timeout_max = Duration::from_millis(600);
    config.snapshot_after_bytes = None;
    config.snapshot_after_entries = 10;
    config.entries_kept_after_snapshot = 0;
    config.tls = tls;
    config
}

async fn start(id: u64, tls: TlsFiles) -> TestNode {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine_config, engine) = engine_in(dir.path());
    let node = RaftNode::start(
        id,
        dir.path(),
        "127.0.0.1:0",
        engine,
        config(engine_config, Some(tls)),
    )
    .await
    .expect("raft node starts with TLS");
    let info = Node::new(
        node.raft_addr().to_string(),
        format!("127.0.0.1:{}", 18100 + id),
    );
    TestNode {
        node,
        info,
        _dir: dir,
    }
}

/// Polls `check` until it holds, failing the test with `what` after `timeout`.
async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn agreed_leader(nodes: &[TestNode]) -> usize {
    let mut leader = None;
    eventually(
        "the nodes to agree on a leader",
        Duration::from_secs(15),
        || {
            let seen: Vec<Option<u64>> = nodes
                .iter()
                .map(|n| n.node.metrics().borrow().current_leader)
                .collect();
            leader = match seen.first() {
                Some(Some(first)) if seen.iter().all(|s| *s == Some(*first)) => {
                    nodes.iter().position(|n| n.node.id() == *first)
                }
                _ => None,
            };
            leader.is_some()
        },
    )
    .await;
    leader.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_elect_replicate_forward_and_snapshot_over_mutual_tls() {
    init_tracing();
    let pki = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("sightline test cluster CA");

    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(id, ca.node_files(pki.path(), &format!("node-{id}"))).await);
    }
    let members: BTreeMap<u64, Node> = nodes
        .iter()
        .map(|n| (n.node.id(), n.info.clone()))
        .collect();
    nodes[0]
        .node
        .initialize(members)
        .await
        .expect("cluster initializes");
    let leader = agreed_leader(&nodes).await;
    let follower = (leader + 1) % 3;

    // Replication: AppendEntries over TLS.
    let outcome = nodes[leader]
        .node
        .propose(upsert_tenant("acme"))
        .await
        .expect("leader accepts a write");
    assert_eq!(
        outcome,
        ApplyOutcome::Tenant {
            id: 1,
            created: true
        }
    );
    eventually(
        "every engine to apply the write",
        Duration::from_secs(10),
        || nodes.iter().all(|n| n.has_tenant("acme")),
    )
    .await;

    // Forwarding: a follower's Propose and ReadIndex to the leader over TLS.
    let outcome = nodes[follower]
        .node
        .propose_anywhere(upsert_tenant("forwarded"), Duration::from_secs(10))
        .await
        .expect("a follower forwards a write to the leader");
    assert_eq!(
        outcome,
        ApplyOutcome::Tenant {
            id: 2,
            created: true
        }
    );
    nodes[follower]
        .node
        .read_barrier(Duration::from_secs(10))
        .await
        .expect("a follower gets the leader's read index");
    assert!(nodes[follower].has_tenant("forwarded"));

    // Snapshots: enough writes for the leader to snapshot and purge its log, then a new
    // member can only catch up through a streamed snapshot, over TLS too.
    let names: Vec<String> = (0..12).map(|i| format!("tenant-{i:02}")).collect();
    for name in &names {
        nodes[leader]
            .node
            .propose(upsert_tenant(name))
            .await
            .expect("leader accepts a write");
    }
    let mut purged = 0;
    eventually(
        "the leader to snapshot and purge its log",
        Duration::from_secs(15),
        || {
            let m = nodes[leader].node.metrics().borrow().clone();
            if let (Some(_), Some(p)) = (m.snapshot, m.purged) {
                purged = p.index;
            }
            purged > 0
        },
    )
    .await;
    let learner = start(4, ca.node_files(pki.path(), "node-4")).await;
    tokio::time::timeout(
        Duration::from_secs(15),
        nodes[leader]
            .node
            .add_learner(4, learner.info.clone(), true),
    )
    .await
    .expect("the learner catches up in time")
    .expect("learner is added");
    let metrics = learner.node.metrics().borrow().clone();
    assert!(
        matches!(metrics.snapshot, Some(s) if s.index >= purged),
        "the learner must have installed a snapshot, metrics: {metrics:?}"
    );
    eventually(
        "the learner to hold every tenant",
        Duration::from_secs(10),
        || names.iter().all(|name| learner.has_tenant(name)) && learner.has_tenant("acme"),
    )
    .await;

    learner.node.shutdown().await.expect("learner shuts down");
    for n in &nodes {
        n.node.shutdown().await.expect("node shuts down");
    }
}

// ---- refusing strangers ----

/// A Vote for `term` addressed to node `target`, as raw gRPC.
fn vote_request(target: u64, term: u64) -> tonic::Request<RaftRequest> {
    let vote: VoteRequest<u64> = VoteRequest::new(Vote::new(term, 9), None);
    tonic::Request::new(RaftRequest {
        target,
        body: postcard::to_allocvec(&vote).expect("encode vote"),
    })
}

/// Sends a Vote for `term` to `target` at `addr` through `endpoint`.
async fn raw_vote(
    endpoint: Endpoint,
    target: u64,
    term: u64,
) -> Result<tonic::Response<sightline_raft::pb::RaftReply>, String> {
    let channel = endpoint
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect_lazy();
    let mut client = RaftServiceClient::new(channel);
    match tokio::time::timeout(
        Duration::from_secs(5),
        client.vote(vote_request(target, term)),
    )
    .await
    {
        Err(_) => Err("no answer within 5 s".to_string()),
        Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
        Ok(Ok(reply)) => Ok(reply),
    }
}

fn https(addr: &str, tls: ClientTlsConfig) -> Endpoint {
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .tls_config(tls)
        .expect("client TLS config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_a_certificate_from_the_cluster_ca_are_refused() {
    init_tracing();
    let pki = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("sightline test cluster CA");
    let rogue = Ca::new("some other CA");
    let node = start(1, ca.node_files(pki.path(), "node-1")).await;
    let addr = node.info.raft_addr.clone();
    let term_before = node.term();

    let cluster_ca = Certificate::from_pem(ca.pem());
    let trusting = || {
        ClientTlsConfig::new()
            .ca_certificate(cluster_ca.clone())
            .domain_name(TLS_SERVER_NAME)
    };
    let identity = |(cert, key): (String, String)| Identity::from_pem(cert, key);

    // Plain HTTP/2 to the TLS port.
    let plain = raw_vote(
        Endpoint::from_shared(format!("http://{addr}")).expect("endpoint"),
        1,
        50,
    )
    .await;
    assert!(plain.is_err(), "plain http must be refused, got {plain:?}");

    // TLS that trusts the cluster CA but has no client certificate.
    let anonymous = raw_vote(https(&addr, trusting()), 1, 50).await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate must be refused, got {anonymous:?}"
    );

    // A client certificate with the right name from another CA.
    let stranger = raw_vote(
        https(&addr, trusting().identity(identity(rogue.node("intruder")))),
        1,
        50,
    )
    .await;
    assert!(
        stranger.is_err(),
        "a client certificate from another CA must be refused, got {stranger:?}"
    );

    // None of them reached Raft: a vote for a higher term would have moved the node's term.
    assert_eq!(node.term(), term_before, "a refused vote changed the term");

    // The same client with a certificate from the cluster CA is heard: the check above is
    // about certificates, not about a request that could never work.
    let member = raw_vote(
        https(&addr, trusting().identity(identity(ca.node("node-9")))),
        1,
        50,
    )
    .await;
    assert!(
        member.is_ok(),
        "a client with a cluster certificate must reach Raft, got {member:?}"
    );
    eventually(
        "the accepted vote to move the term",
        Duration::from_secs(5),
        || node.term() == 50,
    )
    .await;

    node.node.shutdown().await.expect("node shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_does_not_talk_to_a_server_from_another_ca() {
    init_tracing();
    let pki = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("sightline test cluster CA");
    let rogue = Ca::new("some other CA");
    // A server holding a certificate for the right name, signed by another CA.
    let impostor = start(2, rogue.node_files(pki.path(), "impostor")).await;
    let term_before = impostor.term();

    let tls = PeerTls::load(&ca.node_files(pki.path(), "node-1"), Duration::from_secs(1))
        .expect("cluster TLS loads");
    let mut client = NetworkFactory::new(
        1,
        NetworkConfig {
            connect_timeout: Duration::from_secs(1),
            snapshot_frame_timeout: Duration::from_secs(2),
            snapshot_install_timeout: Duration::from_secs(10),
            max_message_bytes: 16 << 20,
            tls: Some(tls),
            faults: sightline_raft::faults::Faults::new(),
        },
    )
    .new_client(2, &impostor.info)
    .await;
    let heartbeat = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(7, 1),
        prev_log_id: None,
        leader_commit: None,
        entries: Vec::new(),
    };
    let result = client
        .append_entries(heartbeat, RPCOption::new(Duration::from_secs(3)))
        .await;
    assert!(
        matches!(result, Err(RPCError::Unreachable(_))),
        "a server from another CA must be unreachable, got {result:?}"
    );
    assert_eq!(
        impostor.term(),
        term_before,
        "the impostor heard the leader"
    );

    impostor.node.shutdown().await.expect("node shuts down");
}

// ---- bad files ----

fn config_error(result: Result<PeerTls, Error>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_tls_files_are_refused_naming_the_file() {
    let pki = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new("sightline test cluster CA");
    let good = ca.node_files(pki.path(), "good");
    let load = |files: &TlsFiles| PeerTls::load(files, Duration::from_secs(1));
    load(&good).expect("good files load");

    let missing = pki.path().join("missing.crt");
    for files in [
        TlsFiles {
            cert: missing.clone(),
            ..good.clone()
        },
        TlsFiles {
            key: missing.clone(),
            ..good.clone()
        },
        TlsFiles {
            ca: missing.clone(),
            ..good.clone()
        },
    ] {
        let message = config_error(load(&files));
        assert!(
            message.contains(&missing.display().to_string()),
            "{message}"
        );
    }

    let garbage = pki.path().join("garbage.pem");
    std::fs::write(&garbage, "not a PEM file\n").unwrap();
    for (files, what) in [
        (
            TlsFiles {
                cert: garbage.clone(),
                ..good.clone()
            },
            "certificate",
        ),
        (
            TlsFiles {
                key: garbage.clone(),
                ..good.clone()
            },
            "key",
        ),
        (
            TlsFiles {
                ca: garbage.clone(),
                ..good.clone()
            },
            "CA certificate",
        ),
    ] {
        let message = config_error(load(&files));
        assert!(
            message.contains(&format!("TLS {what} {}", garbage.display())),
            "{message}"
        );
    }

    // A key that is not the certificate's.
    let other = ca.node_files(pki.path(), "other");
    let message = config_error(load(&TlsFiles {
        key: other.key.clone(),
        ..good.clone()
    }));
    assert!(
        message.contains(&other.key.display().to_string()),
        "{message}"
    );

    // A certificate another CA signed.
    let rogue = Ca::new("some other CA");
    let foreign = rogue.node_files(pki.path(), "foreign");
    let message = config_error(load(&TlsFiles {
        ca: good.ca.clone(),
        ..foreign.clone()
    }));
    assert!(
        message.contains(&foreign.cert.display().to_string()),
        "{message}"
    );

    // A certificate without the name peers check, or only usable as a server.
    let wrong_name = ca.files(
        pki.path(),
        "wrong-name",
        &ca.issue(
            "node-x",
            &["127.0.0.1", "node-x.example"],
            &[
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        ),
    );
    let message = config_error(load(&wrong_name));
    assert!(message.contains("as a server certificate"), "{message}");
    let server_only = ca.files(
        pki.path(),
        "server-only",
        &ca.issue(
            "node-y",
            &[TLS_SERVER_NAME],
            &[ExtendedKeyUsagePurpose::ServerAuth],
        ),
    );
    let message = config_error(load(&server_only));
    assert!(message.contains("as a client certificate"), "{message}");

    // RaftNode::start checks the files before anything else.
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine_config, engine) = engine_in(dir.path());
    let started = RaftNode::start(
        1,
        dir.path(),
        "127.0.0.1:0",
        engine,
        config(
            engine_config,
            Some(TlsFiles {
                cert: missing.clone(),
                ..good.clone()
            }),
        ),
    )
    .await;
    match started {
        Err(Error::Config(message)) => {
            assert!(
                message.contains(&missing.display().to_string()),
                "{message}"
            )
        }
        Err(other) => panic!("expected a config error, got {other}"),
        Ok(node) => panic!("a node with a missing certificate started: {node:?}"),
    }
}
