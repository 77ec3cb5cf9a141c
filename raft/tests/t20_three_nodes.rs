//! Three Raft nodes in one process on loopback ports: election, replication to every
//! engine, fail-over after the leader stops, and a late learner catching up through a
//! streamed snapshot after the leader purged its log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use sightline_raft::{current_engine_dir, Error, Node, RaftConfig, RaftNode};
use sightline_storage::command::{SealedRead, TenantPolicy};
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::{ApplyOutcome, Command, Engine, EngineConfig, MasterKey};
use tempfile::TempDir;

/// Every node of a cluster shares the master key.
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

/// A batch of `rows` plate reads of tenant 1 with 1 KiB incompressible values (the engine
/// stores values as they are; these stand in for sealed records).
fn reads_batch(batch: u64, rows: u64) -> Command {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut state = batch.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next_byte = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    let rows = (0..rows)
        .map(|i| SealedRead {
            ts: now - i as i64,
            id: (u128::from(batch) << 64) | u128::from(i),
            client_id: false,
            plate: [i as u8; 8],
            cell: [batch as u8; 8],
            camera: [7; 8],
            value: (0..1024).map(|_| next_byte()).collect(),
        })
        .collect();
    Command::PutReads {
        tenant: 1,
        rows,
        plates: vec![],
    }
}

struct TestNode {
    node: RaftNode,
    info: Node,
    dir: TempDir,
}

impl TestNode {
    fn has_tenant(&self, name: &str) -> bool {
        self.node.engine().load().tenant(name).is_some()
    }

    /// Number of stored reads and a digest of their raw keys and values: replicas that
    /// applied the same commands hold byte-identical data.
    fn reads_digest(&self) -> (usize, u64) {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let mut count = 0;
        self.node
            .engine()
            .load()
            .for_each_raw("reads", |k, v| {
                count += 1;
                (k, v).hash(&mut hasher);
            })
            .expect("reads scan");
        (count, hasher.finish())
    }
}

async fn start(id: u64, tune: impl Fn(&mut RaftConfig)) -> TestNode {
    start_in(
        id,
        tempfile::tempdir().expect("temp dir"),
        "127.0.0.1:0",
        tune,
    )
    .await
}

/// Starts node `id` on `dir`, opening its engine where the raft directory says it is.
async fn start_in(
    id: u64,
    dir: TempDir,
    raft_addr: &str,
    tune: impl Fn(&mut RaftConfig),
) -> TestNode {
    let mut engine_config = EngineConfig::new(current_engine_dir(dir.path()).expect("engine dir"));
    engine_config.block_cache_bytes = 8 << 20;
    engine_config.sync_writes = false;
    // A node that was just stopped may still be closing its databases.
    let started = Instant::now();
    let engine = loop {
        match Engine::open(&engine_config, master()) {
            Ok(engine) => break engine,
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                tracing::debug!(error = %e, "engine still locked, retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("engine does not open: {e}"),
        }
    };
    let mut config = RaftConfig::new(engine_config);
    config.heartbeat_interval = Duration::from_millis(50);
    config.election_timeout_min = Duration::from_millis(300);
    config.election_timeout_max = Duration::from_millis(600);
    tune(&mut config);
    let engine = Arc::new(ArcSwap::from_pointee(engine));
    let node = loop {
        match RaftNode::start(id, dir.path(), raft_addr, engine.clone(), config.clone()).await {
            Ok(node) => break node,
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                tracing::debug!(error = %e, "raft log still locked, retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("raft node does not start: {e}"),
        }
    };
    let info = Node::new(
        node.raft_addr().to_string(),
        format!("127.0.0.1:{}", 18000 + id),
    );
    TestNode { node, info, dir }
}

async fn start_cluster(tune: impl Fn(&mut RaftConfig) + Copy) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(id, tune).await);
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
    nodes
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

/// Waits until every node in `nodes` names the same leader, and returns its index.
async fn agreed_leader(nodes: &[&TestNode]) -> usize {
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

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_elect_replicate_and_fail_over() {
    init_tracing();
    let nodes = start_cluster(|_| {}).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = agreed_leader(&all).await;
    let follower = (leader + 1) % 3;

    // A write through the leader is answered with what applying it did...
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
    // ...and reaches every node's engine.
    eventually(
        "every engine to apply the write",
        Duration::from_secs(10),
        || nodes.iter().all(|n| n.has_tenant("acme")),
    )
    .await;

    // A follower refuses writes and linearizable reads, naming the leader's addresses.
    match nodes[follower].node.propose(Command::Noop).await {
        Err(Error::ForwardToLeader {
            leader_id,
            leader: Some(node),
        }) => {
            assert_eq!(leader_id, Some(nodes[leader].node.id()));
            assert_eq!(node, nodes[leader].info);
        }
        other => panic!("a follower must forward writes to the leader, got {other:?}"),
    }
    assert!(matches!(
        nodes[follower].node.ensure_linearizable().await,
        Err(Error::ForwardToLeader { .. })
    ));
    nodes[leader]
        .node
        .ensure_linearizable()
        .await
        .expect("the leader confirms its leadership");

    // Stop the leader: the other two elect a new one, which accepts writes.
    let old_leader_id = nodes[leader].node.id();
    nodes[leader]
        .node
        .shutdown()
        .await
        .expect("leader shuts down");
    let survivors: Vec<&TestNode> = nodes
        .iter()
        .filter(|n| n.node.id() != old_leader_id)
        .collect();
    let new_leader = agreed_leader(&survivors).await;
    assert_ne!(survivors[new_leader].node.id(), old_leader_id);
    let outcome = survivors[new_leader]
        .node
        .propose(upsert_tenant("beta"))
        .await
        .expect("new leader accepts a write");
    assert_eq!(
        outcome,
        ApplyOutcome::Tenant {
            id: 2,
            created: true
        }
    );
    eventually(
        "both survivors to apply the write",
        Duration::from_secs(10),
        || {
            survivors
                .iter()
                .all(|n| n.has_tenant("acme") && n.has_tenant("beta"))
        },
    )
    .await;

    for n in &survivors {
        n.node.shutdown().await.expect("node shuts down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn learner_added_after_purge_catches_up_through_a_snapshot() {
    init_tracing();
    let tune = |c: &mut RaftConfig| {
        c.snapshot_after_bytes = None;
        c.snapshot_after_entries = 10;
        c.entries_kept_after_snapshot = 0;
    };
    let nodes = start_cluster(tune).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader = &nodes[agreed_leader(&all).await];

    // Tenant 1 and a few MiB of reads (so the snapshot's files span several 1 MiB frames),
    // then enough small entries to trigger snapshots.
    let outcome = leader
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
    for batch in 0..6 {
        let outcome = leader
            .node
            .propose(reads_batch(batch, 500))
            .await
            .expect("leader accepts reads");
        assert_eq!(
            outcome,
            ApplyOutcome::Written {
                written: 500,
                duplicates: 0,
                expired: 0
            }
        );
    }
    let names: Vec<String> = (0..25).map(|i| format!("tenant-{i:02}")).collect();
    for name in &names {
        leader
            .node
            .propose(upsert_tenant(name))
            .await
            .expect("leader accepts a write");
    }
    // The leader snapshots and purges its log, so the first entries are gone and a new member
    // can only be brought up to date with a snapshot.
    let mut purged = 0;
    eventually(
        "the leader to snapshot and purge its log",
        Duration::from_secs(20),
        || {
            let m = leader.node.metrics().borrow().clone();
            if let (Some(_), Some(p)) = (m.snapshot, m.purged) {
                purged = p.index;
            }
            purged > 0
        },
    )
    .await;

    let learner = start(4, tune).await;
    leader
        .node
        .add_learner(4, learner.info.clone(), true)
        .await
        .expect("learner is added and catches up");

    let metrics = learner.node.metrics().borrow().clone();
    assert!(
        matches!(metrics.snapshot, Some(s) if s.index >= purged),
        "the learner must have installed a snapshot, metrics: {metrics:?}"
    );
    eventually(
        "the learner to hold every tenant",
        Duration::from_secs(10),
        || names.iter().all(|name| learner.has_tenant(name)),
    )
    .await;
    let (count, digest) = leader.reads_digest();
    assert_eq!(count, 3000);
    assert_eq!(
        learner.reads_digest(),
        (count, digest),
        "learner's reads differ from the leader's"
    );
    // Installing moved the learner's engine to a new directory, recorded in its pointer file.
    let engine_dir = learner.node.engine().load().path().to_path_buf();
    assert_eq!(
        engine_dir,
        current_engine_dir(learner.dir.path()).expect("engine dir")
    );
    assert!(
        engine_dir.ends_with("engine-1"),
        "engine moved to {}",
        engine_dir.display()
    );
    eventually(
        "the replaced engine directory to be removed",
        Duration::from_secs(10),
        || !learner.dir.path().join("engine-0").exists(),
    )
    .await;

    // Later writes reach the learner through the log.
    leader
        .node
        .propose(upsert_tenant("after-join"))
        .await
        .expect("leader accepts a write");
    eventually(
        "the learner to apply a write made after it joined",
        Duration::from_secs(10),
        || learner.has_tenant("after-join"),
    )
    .await;

    // Restarted on its directories, the learner opens the engine the snapshot installed
    // (through the ENGINE pointer), keeps what it had, and follows the log again.
    let TestNode { node, info, dir } = learner;
    node.shutdown().await.expect("learner shuts down");
    drop(node);
    let learner = start_in(4, dir, &info.raft_addr, tune).await;
    assert!(learner.node.engine().load().path().ends_with("engine-1"));
    assert!(names.iter().all(|name| learner.has_tenant(name)) && learner.has_tenant("after-join"));
    leader
        .node
        .propose(upsert_tenant("after-restart"))
        .await
        .expect("leader accepts a write");
    eventually(
        "the restarted learner to apply a new write",
        Duration::from_secs(15),
        || learner.has_tenant("after-restart"),
    )
    .await;

    learner.node.shutdown().await.expect("learner shuts down");
    for n in &nodes {
        n.node.shutdown().await.expect("node shuts down");
    }
}
