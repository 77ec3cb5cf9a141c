//! `sightline-api` owns the public HTTP surface of api.md: routing, request parsing and
//! validation into storage and query types, the error format, hotlists and their SSE alerts,
//! tokens and the access rule of every route ([`routes`]), and (later) OpenAPI.
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
pub mod grants;
pub mod hotlists;
pub mod ingest;
pub mod json;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod proposer;
pub mod routes;
pub mod search;
pub mod series;
pub mod space;
pub mod stats;
pub mod tokens;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
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
    /// Per-token rate limits (config `[limits]`).
    pub limits: Arc<limits::Limits>,
    /// The group-committing audit appender ([`audit::audit_log`]).
    pub audit: Arc<audit::AuditLog>,
}

impl AppState {
    /// The current engine.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.load_full()
    }
}

/// The HTTP router of api.md: every route of [`routes::ENDPOINTS`] behind its access rule.
pub fn router(state: AppState) -> Router {
    routes::router(state.clone())
        .fallback(admin::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
