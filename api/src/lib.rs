//! `sightline-api` owns the public HTTP surface of api.md: routing, request parsing and
//! validation into storage and query types, the error format, hotlists and their SSE alerts,
//! and (later) auth and OpenAPI.
//!
//! It must not know how commands are ordered or replicated: it hands a prepared
//! [`sightline_storage::Command`] to a [`Cluster`] and answers once the cluster says the
//! command is applied. Nor does it know RocksDB: reads go through `sightline-query`.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod body;
pub mod error;
pub mod faults;
pub mod hotlists;
pub mod ingest;
pub mod json;
pub mod proposer;
pub mod search;
pub mod series;
pub mod space;
pub mod stats;
pub mod tokens;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use sightline_storage::{Engine, SharedEngine};

pub use error::{ApiError, ErrorCode};
pub use proposer::{Cluster, ProposeError};

/// Largest request body accepted (an ingest batch).
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// This node's storage engine (read side); swapped when a snapshot is installed.
    pub engine: SharedEngine,
    /// Orders and applies commands; membership (write side).
    pub cluster: Arc<dyn Cluster>,
    /// Whether `POST /v1/admin/faults` is served (`--enable-fault-injection`).
    pub fault_injection: bool,
    /// Refuses writes when the data directory is nearly full.
    pub space: space::SpaceGuard,
    /// This node's hotlist alerts (the engine's alert sink), for the SSE streams.
    pub alerts: Arc<alerts::AlertHub>,
    /// Longest lifetime `POST /v1/admin/tokens` grants (config `max_token_ttl`).
    pub max_token_ttl_ms: i64,
}

impl AppState {
    /// The current engine.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.load_full()
    }
}

/// The HTTP router of api.md.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(admin::healthz))
        .route("/readyz", get(admin::readyz))
        .route(
            "/v1/admin/tenants/{tenant}",
            put(admin::put_tenant).get(admin::get_tenant),
        )
        .route("/v1/admin/compact", post(admin::compact))
        .route("/v1/admin/checksum", get(admin::checksum))
        .route("/v1/admin/faults", post(faults::post_faults))
        .route("/v1/admin/cluster", get(admin::cluster_status))
        .route("/v1/admin/tokens", post(tokens::create_token))
        .route(
            "/v1/admin/tokens/{id}",
            axum::routing::delete(tokens::revoke_token),
        )
        .route("/v1/admin/cluster/nodes", post(admin::add_node))
        .route(
            "/v1/admin/cluster/nodes/{id}",
            axum::routing::delete(admin::remove_node),
        )
        .route("/v1/tenants/{tenant}/reads", post(ingest::post_reads))
        .route(
            "/v1/tenants/{tenant}/manifests",
            post(ingest::post_manifests),
        )
        .route("/v1/tenants/{tenant}/series", post(ingest::post_series))
        .route(
            "/v1/tenants/{tenant}/hotlists",
            get(hotlists::list_hotlists),
        )
        .route(
            "/v1/tenants/{tenant}/hotlists/{name}",
            put(hotlists::put_hotlist)
                .get(hotlists::get_hotlist)
                .delete(hotlists::delete_hotlist),
        )
        .route("/v1/tenants/{tenant}/alerts", get(alerts::get_alerts))
        .route(
            "/v1/tenants/{tenant}/series/query",
            post(series::query_series),
        )
        .route("/v1/tenants/{tenant}/stats/reads", post(stats::reads))
        .route(
            "/v1/tenants/{tenant}/search/plates",
            post(search::search_plates),
        )
        .route(
            "/v1/tenants/{tenant}/search/area",
            post(search::search_area),
        )
        .route(
            "/v1/tenants/{tenant}/search/co-location",
            post(search::analysis::search_co_location),
        )
        .route(
            "/v1/tenants/{tenant}/search/convoy",
            post(search::analysis::search_convoy),
        )
        .route(
            "/v1/tenants/{tenant}/search/frequency",
            post(search::analysis::search_frequency),
        )
        .route(
            "/v1/tenants/{tenant}/search/manifests",
            post(search::manifests::search_manifests),
        )
        .fallback(admin::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
