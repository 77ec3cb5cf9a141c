//! Wiring: open the engine with the master key, put the command log in front of it, serve
//! the HTTP API until Ctrl-C or SIGTERM, then close cleanly.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use sightline_api::AppState;
use sightline_storage::keyring::MASTER_KEY_ENV;
use sightline_storage::{Engine, EngineConfig, MasterKey};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::local_log::LocalLog;

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

/// Opens the engine under `data_dir/db`.
pub fn open_engine(
    data_dir: &Path,
    master: MasterKey,
    block_cache_bytes: usize,
) -> Result<Arc<Engine>> {
    let mut config = EngineConfig::new(data_dir.join("db"));
    config.block_cache_bytes = block_cache_bytes;
    let engine = Engine::open(&config, master)
        .with_context(|| format!("opening storage under {}", data_dir.display()))?;
    Ok(Arc::new(engine))
}

/// The API state for a single-node engine.
pub fn app_state(engine: Arc<Engine>, node_id: u64) -> Result<AppState> {
    let log = LocalLog::new(engine.clone(), node_id)?;
    Ok(AppState {
        engine: Arc::new(arc_swap::ArcSwap::new(engine)),
        proposer: Arc::new(log),
    })
}

/// Serves the API on `listener` until a shutdown signal.
pub async fn run_http(listener: TcpListener, state: AppState) -> Result<()> {
    let app = sightline_api::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("http server")?;
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

/// `sightline serve --config`.
pub async fn serve(config: Config) -> Result<()> {
    let master = load_master_key(config.master_key_file.as_deref(), false)?;
    let engine = open_engine(&config.data_dir, master, config.block_cache_bytes)?;
    let state = app_state(engine, config.node_id)?;
    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding http_addr {}", config.http_addr))?;
    tracing::info!(node_id = config.node_id, http = %config.http_addr, data_dir = %config.data_dir.display(), object_store = %config.object_store, "serving");
    if config.peers.len() > 1
        || config.raft_addr.is_some()
        || config.tls.is_some()
        || config.s3.is_some()
    {
        tracing::warn!(
            peers = config.peers.len(),
            "replication, TLS and the S3 cold tier are not in this build yet; serving as a single node"
        );
    }
    println!(
        "sightline node {} listening on http://{}",
        config.node_id,
        listener.local_addr()?
    );
    run_http(listener, state).await
}
