//! Wiring: open the engine with the master key, start Raft in front of it, serve the HTTP
//! API (HTTPS when the config has `[tls]`, see `https.rs`) until Ctrl-C or SIGTERM, then
//! stop Raft and close cleanly.

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sightline_api::AppState;
use sightline_raft::{current_engine_dir, Node, RaftConfig, RaftNode};
use sightline_storage::keyring::MASTER_KEY_ENV;
use sightline_storage::{Engine, EngineConfig, MasterKey};
use tokio::net::TcpListener;

use crate::cluster::RaftCluster;
use crate::config::{Config, RaftSettings};

/// Loads the master key: `SIGHTLINE_MASTER_KEY` (64 hex) wins over the key file.
pub fn load_master_key(file: Option<&Path>, create_if_missing: bool) -> Result<MasterKey> {
    if let Ok(hex) = std::env::var(MASTER_KEY_ENV) {
        return MasterKey::from_hex(&hex).context(MASTER_KEY_ENV);
    }
    let file =
        file.with_context(|| format!("no master key: set master_key_file or {MASTER_KEY_ENV}"))?;
    let key = if create_if_missing {
        MasterKey::load_or_create_file(file)
    } else {
        MasterKey::load_file(file)
    };
    key.with_context(|| format!("master key file {}", file.display()))
}

/// Adds the previous master keys (`previous_master_key_files`) to `master`: they unwrap what
/// they wrapped and wrap nothing new. Each file must load; the error names it.
pub fn with_previous_master_keys(master: MasterKey, files: &[PathBuf]) -> Result<MasterKey> {
    let mut previous = Vec::with_capacity(files.len());
    for file in files {
        let key = MasterKey::load_file(file)
            .with_context(|| format!("previous master key file {}", file.display()))?;
        previous.push(key);
    }
    let master = master.with_previous(previous);
    tracing::info!(
        master_key = %master.fingerprint(),
        previous_master_keys = ?master.previous_fingerprints().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "master keys (fingerprints)"
    );
    Ok(master)
}

/// How a node joins its cluster when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// A cluster of one (no peers configured; the demo): form it if it does not exist.
    SingleNode,
    /// `sightline init`: form the cluster of the configured peers (once).
    Peers,
    /// `sightline serve` with peers: wait to be contacted by the leader.
    Join,
}

/// A started node: the API state and its Raft.
pub struct StartedNode {
    pub state: AppState,
    pub raft: Arc<RaftNode>,
}

/// Where and how a node starts.
pub struct NodeSpec<'a> {
    pub node_id: u64,
    pub data_dir: &'a Path,
    /// `host:port` for the Raft transport; port 0 picks a free one.
    pub raft_addr: &'a str,
    /// The HTTP API's bound address, advertised to peers.
    pub http_addr: &'a str,
    pub peers: &'a [crate::config::Peer],
    pub block_cache_bytes: usize,
    pub settings: &'a RaftSettings,
    pub bootstrap: Bootstrap,
    /// Certificates for mutual TLS between nodes; plain gRPC when `None`.
    pub tls: Option<&'a crate::config::TlsConfig>,
    /// Serve `POST /v1/admin/faults` (`--enable-fault-injection`).
    pub fault_injection: bool,
    /// Write the engine's WAL (off only in the power-loss test mode).
    pub engine_wal: bool,
    /// Refuse writes below this much free space in `data_dir` (0: never).
    pub min_free_bytes: u64,
    /// Longest token lifetime `POST /v1/admin/tokens` grants.
    pub max_token_ttl_ms: i64,
    /// Per-token rate limits.
    pub limits: sightline_api::limits::LimitConfig,
}

/// Opens the engine under `spec.data_dir` and starts Raft in front of it.
pub async fn start_node(spec: NodeSpec<'_>, master: MasterKey) -> Result<StartedNode> {
    let NodeSpec {
        node_id,
        data_dir,
        raft_addr,
        http_addr,
        peers,
        block_cache_bytes,
        settings,
        bootstrap,
        tls,
        fault_injection,
        engine_wal,
        min_free_bytes,
        max_token_ttl_ms,
        limits,
    } = spec;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut engine_config = EngineConfig::new(current_engine_dir(data_dir)?);
    engine_config.block_cache_bytes = block_cache_bytes;
    // One durable log: the Raft log is fsync'd before anything is acknowledged, and
    // openraft re-applies committed entries above the engine's applied position on start.
    // The log is purged only up to a snapshot, and a snapshot is a checkpoint, which
    // flushes the engine's memtables first; so the engine's WAL need not be synced.
    engine_config.sync_writes = false;
    engine_config.wal = engine_wal;
    if !engine_wal {
        tracing::warn!(
            "test mode: the storage engine writes no WAL; only the Raft log makes writes durable"
        );
    }
    // Every replica matches applied reads against its tenants' hotlists; the hub serves the
    // alerts to SSE clients (and is kept by engines opened later from this config).
    let alerts = Arc::new(sightline_api::alerts::AlertHub::new(
        sightline_api::alerts::DEFAULT_HELD,
    ));
    engine_config.alerts = Some(sightline_storage::alerts::AlertSinkHandle(alerts.clone()));
    let engine = Engine::open(&engine_config, master)
        .with_context(|| format!("opening storage under {}", data_dir.display()))?;
    let engine = Arc::new(arc_swap::ArcSwap::from_pointee(engine));
    let mut raft_config = RaftConfig::new(engine_config);
    raft_config.heartbeat_interval = Duration::from_millis(settings.heartbeat_ms);
    raft_config.election_timeout_min = Duration::from_millis(settings.election_timeout_min_ms);
    raft_config.election_timeout_max = Duration::from_millis(settings.election_timeout_max_ms);
    match settings.snapshot_after_entries {
        Some(entries) => {
            raft_config.snapshot_after_bytes = None;
            raft_config.snapshot_after_entries = entries;
            raft_config.entries_kept_after_snapshot =
                settings.entries_kept_after_snapshot.unwrap_or(100);
        }
        None => {
            raft_config.snapshot_after_bytes = Some(settings.snapshot_after_mb << 20);
            raft_config.log_kept_bytes = settings.log_kept_mb << 20;
        }
    }
    raft_config.clock_interval = Duration::from_millis(settings.clock_interval_ms.max(1));
    raft_config.max_entry_bytes = settings.max_entry_bytes;
    raft_config.min_link_bytes_per_sec = settings.link_mb_per_s.max(1).saturating_mul(1_000_000);
    let timing = raft_config.effective_timing();
    tracing::info!(
        heartbeat_ms = timing.heartbeat.as_millis() as u64,
        election_timeout_ms = ?(timing.election_min.as_millis(), timing.election_max.as_millis()),
        max_entry_bytes = settings.max_entry_bytes,
        link_mb_per_s = settings.link_mb_per_s,
        "replication timing (derived from the entry bound and the slowest link)"
    );
    raft_config.tls = tls.map(|t| sightline_raft::TlsFiles {
        cert: t.cert.clone(),
        key: t.key.clone(),
        ca: t.ca.clone(),
    });
    let raft = RaftNode::start(node_id, data_dir, raft_addr, engine.clone(), raft_config)
        .await
        .context("starting raft")?;
    let raft = Arc::new(raft);
    let members: BTreeMap<u64, Node> = match bootstrap {
        Bootstrap::SingleNode => {
            [(node_id, Node::new(raft.raft_addr().to_string(), http_addr))].into()
        }
        Bootstrap::Peers => peers
            .iter()
            .map(|p| (p.id, Node::new(&p.raft_addr, &p.http_addr)))
            .collect(),
        Bootstrap::Join => BTreeMap::new(),
    };
    if !members.is_empty() {
        match raft.initialize(members).await {
            Ok(()) => tracing::info!(node_id, "formed a new cluster"),
            Err(sightline_raft::Error::Membership(_)) => {
                tracing::info!(node_id, "cluster already formed")
            }
            Err(e) => return Err(e).context("forming the cluster"),
        }
    }
    crate::raft_metrics::watch(raft.clone());
    let cluster: Arc<dyn sightline_api::Cluster> = Arc::new(RaftCluster::new(raft.clone()));
    let state = AppState {
        audit: sightline_api::audit::audit_log(engine.clone(), cluster.clone()),
        engine,
        cluster,
        fault_injection,
        space: sightline_api::space::SpaceGuard::new(data_dir, min_free_bytes),
        alerts,
        max_token_ttl_ms,
        limits: Arc::new(sightline_api::limits::Limits::new(limits)),
    };
    Ok(StartedNode { state, raft })
}

/// Serves the API on `listener` until a shutdown signal, then stops Raft: over TLS with
/// `tls` (from [`crate::https::load`]), plain HTTP without. If Raft stops on its own (a
/// fatal storage error: the disk is full, an fsync failed), the node exits with an error
/// instead of serving on without replication, so that its supervisor restarts it and it
/// catches up from the others.
pub async fn run_http(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    node: StartedNode,
) -> Result<()> {
    let alerts = node.state.alerts.clone();
    let app = sightline_api::router(node.state);
    // Open alert streams never end by themselves: end them, or the graceful shutdown would
    // wait for them forever.
    let shutdown = async move {
        shutdown_signal().await;
        alerts.close();
    };
    let server: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = match tls {
        None => Box::pin(
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .into_future(),
        ),
        Some(config) => Box::pin(
            axum::serve(crate::https::TlsListener::new(listener, config), app)
                .with_graceful_shutdown(shutdown)
                .into_future(),
        ),
    };
    let mut metrics = node.raft.metrics();
    let fatal = async move {
        loop {
            if let Err(e) = &metrics.borrow().running_state {
                return e.to_string();
            }
            if metrics.changed().await.is_err() {
                return "raft stopped".to_string();
            }
        }
    };
    tokio::select! {
        served = server => served.context("http server")?,
        why = fatal => {
            tracing::error!(error = %why, "raft stopped on a fatal error; exiting so that a supervisor restarts this node");
            anyhow::bail!("raft stopped on a fatal error: {why}");
        }
    }
    if let Err(e) = node.raft.shutdown().await {
        tracing::warn!(error = %e, "raft did not stop cleanly");
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received");
}

/// Writes `{data_dir}/admin-token` (mode 0600) unless it exists: a cluster-wide admin
/// token without expiry (the bootstrap token), signed once the cluster has a signing key
/// (proposed here if it has none). Runs beside the HTTP server: forming a cluster needs the
/// other nodes up.
async fn write_admin_token(data_dir: PathBuf, state: AppState) -> Result<()> {
    let path = data_dir.join("admin-token");
    if path.exists() {
        return Ok(());
    }
    sightline_api::tokens::ensure_signing_key(&state)
        .await
        .map_err(|e| anyhow::anyhow!("creating the token signing key: {}", e.message))?;
    let (token, claims) = sightline_api::tokens::mint(
        &state,
        "bootstrap-admin",
        "*",
        sightline_api::auth::Role::Admin,
        None,
    )
    .map_err(|e| anyhow::anyhow!("minting the bootstrap admin token: {}", e.message))?;
    // Written under a temporary name and renamed, so a reader never sees half a token.
    let partial = data_dir.join("admin-token.partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    writeln!(file, "{token}")?;
    file.sync_all()?;
    std::fs::rename(&partial, &path)?;
    tracing::info!(path = %path.display(), id = %claims.jti, "wrote the bootstrap admin token");
    Ok(())
}

/// `sightline serve --config` (and `init`, which first forms the cluster).
pub async fn serve(config: Config, init: bool, fault_injection: bool) -> Result<()> {
    let master = load_master_key(config.master_key_file.as_deref(), init)?;
    let master = with_previous_master_keys(master, &config.previous_master_key_files)?;
    let bootstrap = match (init, config.peers.len() > 1) {
        (true, _) => Bootstrap::Peers,
        (false, true) => Bootstrap::Join,
        (false, false) => Bootstrap::SingleNode,
    };
    if init && config.peers.is_empty() {
        anyhow::bail!("init needs peers in the config (list at least this node)");
    }
    // Loaded before anything starts, so a bad file fails the start at once, naming it.
    let api_tls = match &config.tls {
        Some(files) => Some(crate::https::load(&files.cert, &files.key)?),
        None => None,
    };
    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding http_addr {}", config.http_addr))?;
    let http_addr = listener.local_addr()?.to_string();
    let raft_addr = config
        .raft_addr
        .clone()
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let spec = NodeSpec {
        node_id: config.node_id,
        data_dir: &config.data_dir,
        raft_addr: &raft_addr,
        http_addr: &http_addr,
        peers: &config.peers,
        block_cache_bytes: config.block_cache_bytes,
        settings: &config.raft,
        bootstrap,
        tls: config.tls.as_ref(),
        fault_injection,
        engine_wal: config.testing.engine_wal,
        min_free_bytes: config.min_free_bytes,
        max_token_ttl_ms: config.max_token_ttl_ms,
        limits: config.limits,
    };
    if fault_injection {
        tracing::warn!("fault injection is enabled: POST /v1/admin/faults can break this node's replication and skew its clock");
    }
    let node = start_node(spec, master).await?;
    if init || bootstrap == Bootstrap::SingleNode {
        let (dir, state) = (config.data_dir.clone(), node.state.clone());
        tokio::spawn(async move {
            if let Err(e) = write_admin_token(dir, state).await {
                tracing::error!(error = %e, "could not write the bootstrap admin token");
            }
        });
    }
    if config.s3.is_some() {
        tracing::warn!("the S3 cold tier is not in this build yet; [s3] is ignored");
    }
    let scheme = match &config.tls {
        Some(files) => {
            tracing::info!(
                cert = %files.cert.display(),
                "mutual TLS between nodes; the HTTP API answers HTTPS only, with this certificate"
            );
            "https"
        }
        None if config.insecure_plaintext => {
            tracing::warn!(
                "insecure_plaintext = true: Raft traffic between nodes and the HTTP API are plaintext; \
                 anyone on the network can read them and reach the Raft port"
            );
            "http"
        }
        None => "http",
    };
    tracing::info!(node_id = config.node_id, http = %http_addr, %scheme, raft = %node.raft.raft_addr(), data_dir = %config.data_dir.display(), object_store = %config.object_store, "serving");
    println!(
        "sightline node {} listening on {scheme}://{http_addr} (raft {})",
        config.node_id,
        node.raft.raft_addr()
    );
    run_http(listener, api_tls, node).await
}
