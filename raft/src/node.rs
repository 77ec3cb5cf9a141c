//! [`RaftNode`]: one node's replication, ready to be wired into the `sightline` binary.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use openraft::error::{CheckIsLeaderError, ClientWriteError, Fatal, InitializeError, RaftError};
use openraft::SnapshotPolicy;
use sightline_storage::{ApplyOutcome, Command, Engine, EngineConfig};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Mutex};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::faults::Faults;
use crate::forward::Forwarder;
use crate::log_store::LogStore;
use crate::network::{NetworkConfig, NetworkFactory};
use crate::server::{self, RaftGrpc};
use crate::state_machine::StateMachine;
use crate::tls::{PeerTls, TlsFiles};
use crate::types::typ::{Raft, RaftMetrics};
use crate::types::{Node, NodeId};

/// Default [`RaftConfig::snapshot_after_bytes`]: 128 MiB of log since the last snapshot.
pub const DEFAULT_SNAPSHOT_AFTER_BYTES: u64 = 128 << 20;
/// Default [`RaftConfig::log_kept_bytes`]: the newest 256 MiB of log stay below a snapshot.
pub const DEFAULT_LOG_KEPT_BYTES: u64 = 256 << 20;

/// Default [`RaftConfig::max_entry_bytes`]: 8 MiB, about 20,000 reads.
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 8 << 20;

/// Replication settings of a node.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// Name shared by the cluster's nodes (shows up in logs).
    pub cluster_name: String,
    /// How often the leader sends heartbeats; also the deadline of one AppendEntries.
    pub heartbeat_interval: Duration,
    /// A follower that hears no leader for a random time in `[min, max)` starts an election.
    pub election_timeout_min: Duration,
    /// See `election_timeout_min`.
    pub election_timeout_max: Duration,
    /// Keep the log by bytes (issue 14, finding 6; see [`crate::log_keeper`]): snapshot
    /// once the entries applied since the last snapshot hold this many bytes. `None` uses
    /// the entry counts below instead (tests that want many small snapshots).
    pub snapshot_after_bytes: Option<u64>,
    /// In byte mode, the newest bytes of log kept below the last snapshot, so a follower
    /// that fell this far behind catches up from the log instead of a whole snapshot.
    pub log_kept_bytes: u64,
    /// Without `snapshot_after_bytes`: build a snapshot after this many entries were
    /// applied since the last one.
    pub snapshot_after_entries: u64,
    /// Entries kept in the log below the last snapshot, so a briefly lagging follower can
    /// catch up from the log instead of receiving a whole snapshot.
    pub entries_kept_after_snapshot: u64,
    /// Most entries in one AppendEntries.
    pub max_entries_per_append: u64,
    /// How long dialling a peer may take.
    pub connect_timeout: Duration,
    /// How long one snapshot frame may wait for the receiver.
    pub snapshot_frame_timeout: Duration,
    /// How long a follower may take to install a snapshot once all its files arrived.
    pub snapshot_install_timeout: Duration,
    /// Largest gRPC message sent or accepted (one AppendEntries holds whole commands).
    pub max_message_bytes: usize,
    /// Mutual TLS for the Raft transport (server, peers, forwarding, snapshots): `None`
    /// (the default) keeps it plain `http://`. See [`crate::tls`].
    pub tls: Option<TlsFiles>,
    /// How the node opened its storage engine. When a snapshot is installed, the new engine
    /// is opened the same way (with `path` replaced by a new directory).
    pub engine: EngineConfig,
    /// How often the leader proposes the cluster clock (see [`crate::clock`]): retention
    /// takes effect at most this late.
    pub clock_interval: Duration,
    /// Largest encoded command accepted into the log; a larger one is refused with
    /// [`Error::EntryTooLarge`] (a batch is atomic and is never split).
    pub max_entry_bytes: usize,
    /// Slowest link between nodes the timing must tolerate, in bytes per second: the
    /// heartbeat (which openraft also uses as the deadline of one AppendEntries) is raised
    /// until the largest request ships over such a link in time; see
    /// [`RaftConfig::effective_timing`].
    pub min_link_bytes_per_sec: u64,
}

/// The timing a node runs with, derived from [`RaftConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Heartbeat interval, and the deadline of one AppendEntries.
    pub heartbeat: Duration,
    /// Election timeout range.
    pub election_min: Duration,
    /// See `election_min`.
    pub election_max: Duration,
}

impl RaftConfig {
    /// Defaults for a LAN cluster, for an engine opened with `engine`.
    pub fn new(engine: EngineConfig) -> Self {
        RaftConfig {
            cluster_name: "sightline".to_string(),
            heartbeat_interval: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(500),
            election_timeout_max: Duration::from_millis(1000),
            snapshot_after_bytes: Some(DEFAULT_SNAPSHOT_AFTER_BYTES),
            log_kept_bytes: DEFAULT_LOG_KEPT_BYTES,
            snapshot_after_entries: 5_000,
            entries_kept_after_snapshot: 1_000,
            max_entries_per_append: 64,
            connect_timeout: Duration::from_secs(1),
            snapshot_frame_timeout: Duration::from_secs(10),
            snapshot_install_timeout: Duration::from_secs(300),
            max_message_bytes: 256 << 20,
            tls: None,
            engine,
            clock_interval: Duration::from_secs(5),
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            min_link_bytes_per_sec: 100_000_000,
        }
    }

    /// The largest AppendEntries this node sends: the log is read up to
    /// [`crate::log_store::MAX_READ_BATCH_BYTES`] per request, or one whole entry.
    pub fn max_request_bytes(&self) -> usize {
        self.max_entry_bytes
            .max(crate::log_store::MAX_READ_BATCH_BYTES)
    }

    /// Heartbeat and election timeouts as run: openraft gives one AppendEntries exactly one
    /// heartbeat interval (send, follower fsync, reply) and never shrinks a request that
    /// timed out, so the interval is raised until the largest request ships over the
    /// slowest link in three quarters of it, plus 50 ms for the fsync and the reply; the
    /// election timeouts stay at least 5 and 10 heartbeats.
    pub fn effective_timing(&self) -> Timing {
        let rate = self.min_link_bytes_per_sec.max(1) as f64;
        let ship = Duration::from_secs_f64(self.max_request_bytes() as f64 / rate);
        let heartbeat = self
            .heartbeat_interval
            .max(ship * 4 / 3 + Duration::from_millis(50));
        let election_min = self.election_timeout_min.max(heartbeat * 5);
        let election_max = self.election_timeout_max.max(election_min * 2);
        Timing {
            heartbeat,
            election_min,
            election_max,
        }
    }

    fn openraft(&self) -> Result<openraft::Config> {
        let ms = |d: Duration| d.as_millis().min(u64::MAX as u128) as u64;
        let timing = self.effective_timing();
        let config = openraft::Config {
            cluster_name: self.cluster_name.clone(),
            heartbeat_interval: ms(timing.heartbeat),
            election_timeout_min: ms(timing.election_min),
            election_timeout_max: ms(timing.election_max),
            install_snapshot_timeout: ms(self.snapshot_frame_timeout),
            snapshot_policy: match self.snapshot_after_bytes {
                // The log keeper asks for snapshots and purges (see `log_keeper`).
                Some(_) => SnapshotPolicy::Never,
                None => SnapshotPolicy::LogsSinceLast(self.snapshot_after_entries),
            },
            max_in_snapshot_log_to_keep: match self.snapshot_after_bytes {
                Some(_) => u64::MAX,
                None => self.entries_kept_after_snapshot,
            },
            max_payload_entries: self.max_entries_per_append,
            ..Default::default()
        };
        config.validate().map_err(|e| Error::Config(e.to_string()))
    }

    fn network(&self, tls: Option<PeerTls>, faults: Arc<Faults>) -> NetworkConfig {
        NetworkConfig {
            connect_timeout: self.connect_timeout,
            snapshot_frame_timeout: self.snapshot_frame_timeout,
            snapshot_install_timeout: self.snapshot_install_timeout,
            max_message_bytes: self.max_message_bytes,
            tls,
            faults,
        }
    }
}

type ServerTask = (
    oneshot::Sender<()>,
    JoinHandle<std::result::Result<(), tonic::transport::Error>>,
);

/// One node's Raft: the log store, the state machine over the shared engine, the gRPC
/// transport, and the openraft instance that ties them together.
pub struct RaftNode {
    id: NodeId,
    raft: Raft,
    engine: Arc<ArcSwap<Engine>>,
    raft_addr: SocketAddr,
    server: Mutex<Option<ServerTask>>,
    forwarder: Arc<Forwarder>,
    faults: Arc<Faults>,
    clock_ticker: JoinHandle<()>,
    /// Keeps the log by bytes (byte mode only).
    log_keeper: Option<JoinHandle<()>>,
    max_entry_bytes: usize,
}

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode")
            .field("id", &self.id)
            .field("raft_addr", &self.raft_addr)
            .finish()
    }
}

fn stopped(e: Fatal<NodeId>) -> Error {
    Error::Stopped(e.to_string())
}

pub(crate) fn write_error(e: RaftError<NodeId, ClientWriteError<NodeId, Node>>) -> Error {
    match e {
        RaftError::Fatal(f) => stopped(f),
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => Error::ForwardToLeader {
            leader_id: f.leader_id,
            leader: f.leader_node,
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            Error::Membership(e.to_string())
        }
    }
}

pub(crate) fn leadership_error(e: RaftError<NodeId, CheckIsLeaderError<NodeId, Node>>) -> Error {
    match e {
        RaftError::Fatal(f) => stopped(f),
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => Error::ForwardToLeader {
            leader_id: f.leader_id,
            leader: f.leader_node,
        },
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
            Error::NoQuorum(q.to_string())
        }
    }
}

impl RaftNode {
    /// Starts node `node_id`: opens the Raft log under `dir`, builds the state machine over
    /// `engine` (which must be open at [`crate::current_engine_dir`]`(dir)`), starts openraft,
    /// and serves the Raft gRPC service on `raft_addr` (`host:port`; port 0 picks a free one,
    /// see [`RaftNode::raft_addr`]).
    ///
    /// With [`RaftConfig::tls`], the TLS files are read and checked first; a missing or bad
    /// one fails the start with [`Error::Config`] naming it.
    ///
    /// A new node waits to be told its cluster: call [`RaftNode::initialize`] on one node of a
    /// new cluster, or add it to a running one with [`RaftNode::add_learner`] on the leader.
    pub async fn start(
        node_id: NodeId,
        dir: &Path,
        raft_addr: &str,
        engine: Arc<ArcSwap<Engine>>,
        config: RaftConfig,
    ) -> Result<RaftNode> {
        let openraft_config = Arc::new(config.openraft()?);
        let tls = match config.tls.clone() {
            None => None,
            Some(files) => {
                let handshake_timeout = config.connect_timeout;
                let load = move || PeerTls::load(&files, handshake_timeout);
                let tls = tokio::task::spawn_blocking(load)
                    .await
                    .map_err(|e| Error::Stopped(e.to_string()))??;
                Some(tls)
            }
        };
        let server_builder = server::builder(tls.as_ref())
            .map_err(|e| Error::Transport(format!("raft transport TLS: {e}")))?;
        let state_machine = {
            let (dir, engine, engine_config) =
                (dir.to_path_buf(), engine.clone(), config.engine.clone());
            tokio::task::spawn_blocking(move || StateMachine::new(&dir, engine, engine_config))
                .await
                .map_err(|e| Error::Stopped(e.to_string()))??
        };
        let receiver = state_machine.receiver();
        let log_store = {
            let path = state_machine.log_dir();
            tokio::task::spawn_blocking(move || LogStore::open(&path))
                .await
                .map_err(|e| Error::Stopped(e.to_string()))??
        };
        let log_sizes = log_store.sizes();
        let listener = TcpListener::bind(raft_addr)
            .await
            .map_err(|e| Error::Transport(format!("binding {raft_addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Transport(format!("local address of {raft_addr}: {e}")))?;

        let faults = Faults::new();
        let network = NetworkFactory::new(node_id, config.network(tls.clone(), faults.clone()));
        let raft = openraft::Raft::new(node_id, openraft_config, network, log_store, state_machine)
            .await
            .map_err(stopped)?;

        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let service = RaftGrpc::new(node_id, raft.clone(), receiver);
        let server = tokio::spawn(server::serve(
            server_builder,
            listener,
            service,
            config.max_message_bytes,
            async move {
                let _ = stop_rx.await;
            },
        ));
        tracing::info!(
            node = node_id,
            raft_addr = %bound,
            dir = %dir.display(),
            tls = tls.is_some(),
            "raft node started"
        );
        let forwarder = Arc::new(Forwarder::new(
            config.connect_timeout,
            config.max_message_bytes,
            tls,
            faults.clone(),
        ));
        let clock_ticker = tokio::spawn(crate::clock::run_ticker(
            node_id,
            raft.clone(),
            engine.clone(),
            forwarder.clone(),
            config.clock_interval,
        ));
        let log_keeper = config.snapshot_after_bytes.map(|snapshot_after| {
            tokio::spawn(crate::log_keeper::run(
                raft.clone(),
                log_sizes,
                crate::log_keeper::ByteRetention {
                    snapshot_after,
                    keep: config.log_kept_bytes,
                },
            ))
        });
        Ok(RaftNode {
            id: node_id,
            log_keeper,
            raft,
            engine,
            raft_addr: bound,
            server: Mutex::new(Some((stop_tx, server))),
            forwarder,
            faults,
            clock_ticker,
            max_entry_bytes: config.max_entry_bytes,
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The address the Raft transport listens on.
    pub fn raft_addr(&self) -> SocketAddr {
        self.raft_addr
    }

    /// The fault rules of this node's outgoing Raft traffic (empty unless a test or the
    /// fault-injection endpoint sets them).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// The engine handle this node applies to (it changes when a snapshot is installed).
    pub fn engine(&self) -> &Arc<ArcSwap<Engine>> {
        &self.engine
    }

    /// The openraft handle, for what this facade does not cover (triggering a snapshot,
    /// waiting on metrics).
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Forms a new cluster of `members` (ids and addresses); call it on one node of the
    /// new cluster. Fails with [`Error::Membership`] if this node was already initialized.
    pub async fn initialize(&self, members: BTreeMap<NodeId, Node>) -> Result<()> {
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::Fatal(f)) => Err(stopped(f)),
            Err(RaftError::APIError(InitializeError::NotAllowed(e))) => {
                Err(Error::Membership(e.to_string()))
            }
            Err(RaftError::APIError(InitializeError::NotInMembers(e))) => {
                Err(Error::Config(e.to_string()))
            }
        }
    }

    /// Orders `command` through the log and returns what applying it did, once it is
    /// committed and applied on this node (the leader). On a follower it fails with
    /// [`Error::ForwardToLeader`], naming the leader when known.
    pub async fn propose(&self, command: Command) -> Result<ApplyOutcome> {
        if !command.is_client_command() {
            return Err(Error::NotAClientCommand(
                "propose orders client commands only; membership changes use the membership API"
                    .into(),
            ));
        }
        let size = command.encoded_len();
        if size > self.max_entry_bytes {
            return Err(Error::EntryTooLarge {
                size,
                limit: self.max_entry_bytes,
            });
        }
        match self.raft.client_write(command).await {
            Ok(response) => Ok(response.data),
            Err(e) => Err(write_error(e)),
        }
    }

    /// Commits `command` wherever this node stands: applied here when it leads, otherwise
    /// forwarded to the leader. Retries through elections until `deadline` passes (see
    /// [`retry_through_elections`]). The command is wrapped in a [`Command::Proposal`] with a
    /// fresh id before the first attempt, so every retry is the same proposal and the state
    /// machine applies it at most once, however many copies reach the log.
    ///
    /// When the deadline passes, the answer is [`Error::OutcomeUnknown`] if any attempt
    /// reached a node that could have appended it (this node while it led, or any forward
    /// the receiver did not refuse as a non-leader), and the last retryable error (nothing
    /// was done) otherwise.
    pub async fn propose_anywhere(
        &self,
        command: Command,
        deadline: Duration,
    ) -> Result<ApplyOutcome> {
        let proposal = &Command::Proposal {
            id: rand::random(),
            command: Box::new(command),
        };
        let reached = &std::sync::atomic::AtomicBool::new(false);
        let result = retry_through_elections(deadline, |left| async move {
            let leads = self.raft.metrics().borrow().state.is_leader();
            let local = self.propose(proposal.clone()).await;
            if leads && local.is_err() {
                reached.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            match local {
                Err(Error::ForwardToLeader {
                    leader_id: Some(id),
                    leader: Some(node),
                }) if id != self.id => {
                    let forwarded = self.forwarder.propose(id, &node, proposal, left).await;
                    if !matches!(forwarded, Ok(_) | Err(Error::ForwardToLeader { .. })) {
                        reached.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    forwarded
                }
                other => other,
            }
        })
        .await;
        match result {
            Err(e @ (Error::ForwardToLeader { .. } | Error::Transport(_) | Error::NoQuorum(_)))
                if reached.load(std::sync::atomic::Ordering::Relaxed) =>
            {
                Err(Error::OutcomeUnknown(format!(
                    "no answer within {deadline:?}; the write may still commit ({e})"
                )))
            }
            other => other,
        }
    }

    /// Returns once this node's engine reflects every command committed before the call, so
    /// a read from it is linearizable: the leader confirms its leadership with a quorum; a
    /// follower asks the leader for its read index and waits until it has applied that far.
    pub async fn read_barrier(&self, deadline: Duration) -> Result<()> {
        retry_through_elections(deadline, |left| async move {
            match self.ensure_linearizable().await {
                Err(Error::ForwardToLeader {
                    leader_id: Some(id),
                    leader: Some(node),
                }) if id != self.id => {
                    let index = self.forwarder.read_index(id, &node, left).await?;
                    self.raft
                        .wait(Some(left))
                        .applied_index_at_least(Some(index), "read barrier")
                        .await
                        .map(|_| ())
                        .map_err(|e| {
                            Error::NoQuorum(format!("not caught up to the read index: {e}"))
                        })
                }
                other => other,
            }
        })
        .await
    }

    /// Returns once this node has confirmed with a quorum that it is still the leader and
    /// has applied everything committed before the call: reads from the engine after this
    /// are linearizable.
    pub async fn ensure_linearizable(&self) -> Result<()> {
        self.raft
            .ensure_linearizable()
            .await
            .map(|_| ())
            .map_err(leadership_error)
    }

    /// Adds node `id` at `node` as a learner (it receives the log but does not vote). With
    /// `blocking`, returns only once the learner holds every entry up to the membership change
    /// that added it (directly or through a snapshot). openraft's own blocking mode returns as
    /// soon as the learner is within `replication_lag_threshold` (5,000) entries, which is not
    /// "caught up", so this waits on the leader's replication metrics instead. Wrap the call
    /// in a timeout if the learner may be unreachable.
    pub async fn add_learner(&self, id: NodeId, node: Node, blocking: bool) -> Result<()> {
        let response = self
            .raft
            .add_learner(id, node, false)
            .await
            .map_err(write_error)?;
        if !blocking {
            return Ok(());
        }
        let target = response.log_id.index;
        let mut metrics = self.raft.metrics();
        loop {
            {
                let m = metrics.borrow_and_update();
                match &m.replication {
                    // This node lost leadership: the caller must ask the new leader.
                    None => {
                        return Err(Error::ForwardToLeader {
                            leader_id: m.current_leader,
                            leader: m.current_leader.and_then(|l| {
                                m.membership_config.membership().get_node(&l).cloned()
                            }),
                        })
                    }
                    Some(replication) => {
                        if matches!(replication.get(&id), Some(Some(matched)) if matched.index >= target)
                        {
                            return Ok(());
                        }
                    }
                }
            }
            if metrics.changed().await.is_err() {
                return Err(Error::Stopped(
                    "raft stopped while a learner was catching up".to_string(),
                ));
            }
        }
    }

    /// Makes `voters` the voting members (they must already be members or learners). With
    /// `retain`, removed voters stay as learners.
    pub async fn change_membership(&self, voters: BTreeSet<NodeId>, retain: bool) -> Result<()> {
        self.raft
            .change_membership(voters, retain)
            .await
            .map(|_| ())
            .map_err(write_error)
    }

    /// The current leader's id and addresses, as far as this node knows.
    pub fn leader(&self) -> Option<(NodeId, Node)> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let id = metrics.current_leader?;
        let node = metrics
            .membership_config
            .membership()
            .get_node(&id)?
            .clone();
        Some((id, node))
    }

    /// Live Raft metrics (state, term, leader, log and applied indexes, membership).
    pub fn metrics(&self) -> watch::Receiver<RaftMetrics> {
        self.raft.metrics()
    }

    /// Stops Raft and the transport. Idempotent.
    pub async fn shutdown(&self) -> Result<()> {
        self.clock_ticker.abort();
        if let Some(keeper) = &self.log_keeper {
            keeper.abort();
        }
        let raft = self.raft.shutdown().await;
        let server = self.server.lock().await.take();
        if let Some((stop, task)) = server {
            let _ = stop.send(());
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "raft transport stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "raft transport task failed"),
            }
        }
        raft.map_err(|e| Error::Stopped(format!("raft core task failed: {e}")))?;
        tracing::info!(node = self.id, "raft node stopped");
        Ok(())
    }
}

/// Runs `attempt` (given the time left, at least 100 ms) until it succeeds, fails for a
/// reason an election does not cure, or `deadline` passes. Leader unknown or moved, an
/// unreachable leader and a lost quorum are what elections look like from a client.
async fn retry_through_elections<T, F, Fut>(deadline: Duration, mut attempt: F) -> Result<T>
where
    F: FnMut(Duration) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        let left = give_up.saturating_duration_since(tokio::time::Instant::now());
        match attempt(left.max(Duration::from_millis(100))).await {
            Err(Error::ForwardToLeader { .. } | Error::Transport(_) | Error::NoQuorum(_))
                if tokio::time::Instant::now() < give_up =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}
