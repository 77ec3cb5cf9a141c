//! Tenant administration, manual compaction, health and readiness.

use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::{ApplyOutcome, Command, TenantInfo};

use crate::error::{ApiError, ErrorCode};
use crate::json::Fields;
use crate::AppState;

/// Longest retention a tenant may ask for (100 years).
pub const MAX_RETENTION_DAYS: u64 = 36_500;

/// Whether `name` is a valid tenant name: 1–63 of `a-z 0-9 _ -`, starting alphanumeric.
pub fn valid_tenant_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn tenant_json(info: &TenantInfo) -> Value {
    json!({"tenant": info.name, "retention_days": info.policy.retention_days, "hot_days": info.policy.hot_days})
}

/// `PUT /v1/admin/tenants/{tenant}`: create a tenant or change its policy. Fields left out
/// keep their current value (defaults for a new tenant: 30 days retention, 7 hot).
pub async fn put_tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !valid_tenant_name(&name) {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "tenant",
            "must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit",
        ));
    }
    let body = crate::ingest::body_bytes(body)?;
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("body is not JSON: {e}")))?
    };
    let fields = Fields::new(&body, &["retention_days", "hot_days"])?;
    let current = state
        .engine()
        .tenant(&name)
        .map(|t| t.policy)
        .unwrap_or_default();
    let retention_days = fields
        .opt_u64("retention_days", 1, MAX_RETENTION_DAYS)?
        .map(|d| d as u32)
        .unwrap_or(current.retention_days);
    let hot_days = fields
        .opt_u64("hot_days", 0, MAX_RETENTION_DAYS)?
        .map(|d| d as u32)
        .unwrap_or(current.hot_days.min(retention_days));
    if hot_days > retention_days {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "hot_days",
            "must not exceed retention_days",
        ));
    }
    let keys = generate_tenant_keys(&state.engine().wrapping_key(), &name);
    let command = Command::UpsertTenant {
        name: name.clone(),
        policy: TenantPolicy {
            retention_days,
            hot_days,
        },
        keys,
    };
    let (id, created) = match state.cluster.propose(command).await? {
        ApplyOutcome::Tenant { id, created } => (id, created),
        other => return Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
    };
    // Answer from what was applied: on a follower the local engine may not have it yet.
    let info = TenantInfo {
        id,
        name,
        policy: TenantPolicy {
            retention_days,
            hot_days,
        },
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut body = tenant_json(&info);
    body["created"] = json!(created);
    Ok((status, Json(body)))
}

/// `GET /v1/admin/tenants/{tenant}[?consistency=follower]`: linearizable by default, like
/// a search (the read-index step first), so a policy change acknowledged by any node is
/// seen here. Also answers `key_version`, the data key version new values are sealed with.
pub async fn get_tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut linearizable = true;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("consistency", "linearizable")) => linearizable = true,
            Some(("consistency", "follower")) => linearizable = false,
            Some(("consistency", _)) => {
                return Err(ApiError::field(
                    ErrorCode::InvalidRequest,
                    "consistency",
                    "must be \"linearizable\" or \"follower\"",
                ))
            }
            _ => {
                return Err(ApiError::field(
                    ErrorCode::InvalidRequest,
                    pair.split('=').next().unwrap_or(pair),
                    "unknown query parameter",
                ))
            }
        }
    }
    if linearizable {
        state.cluster.read_barrier().await?;
    }
    let engine = state.engine();
    let info = engine
        .tenant(&name)
        .ok_or_else(|| ApiError::tenant_not_found(&name))?;
    let mut body = tenant_json(&info);
    // The data key version new values are sealed with (keys.rs rotates it).
    body["key_version"] = json!(engine.key_version(info.id).map_err(ApiError::internal)?);
    Ok(Json(body))
}

/// `POST /v1/admin/compact`: a full compaction now; retention deletes happen here.
pub async fn compact(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let engine = state.engine();
    tokio::task::spawn_blocking(move || engine.compact_all())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"compacted": true, "took_ms": started.elapsed().as_millis() as u64}),
    ))
}

/// `GET /v1/admin/checksum`: a digest of the replicated state and the index it reflects;
/// replicas that applied the same index answer the same checksum.
pub async fn checksum(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let engine = state.engine();
    let (applied, checksum) = tokio::task::spawn_blocking(move || engine.checksum())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"applied_index": applied.map(|p| p.index).unwrap_or(0), "checksum": checksum}),
    ))
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 once the node has joined a cluster with a leader and applied
/// everything that leader has committed; 503 before.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ready = state.cluster.ready().await;
    let applied = state
        .engine()
        .applied()
        .ok()
        .flatten()
        .map(|p| p.index)
        .unwrap_or(0);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"ready": ready, "applied_index": applied})),
    )
}

/// `GET /v1/admin/cluster`
pub async fn cluster_status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.cluster.status().await?))
}

/// `POST /v1/admin/cluster/nodes` `{"id", "addr", "http_addr"?}`: `addr` is the node's Raft
/// address; the node joins as a learner and becomes a voter once caught up.
pub async fn add_node(
    State(state): State<AppState>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = crate::ingest::body_bytes(body)?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("body is not JSON: {e}")))?;
    let fields = Fields::new(&body, &["id", "addr", "http_addr"])?;
    let id = fields
        .opt_u64("id", 1, u64::MAX)?
        .ok_or_else(|| ApiError::field(ErrorCode::InvalidRequest, "id", "is required"))?;
    let addr = fields.opt_str("addr")?.ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidRequest,
            "addr",
            "is required (the node's raft_addr)",
        )
    })?;
    if addr.parse::<std::net::SocketAddr>().is_err() {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "addr",
            "must be host:port",
        ));
    }
    let http_addr = fields.opt_str("http_addr")?.unwrap_or("").to_string();
    Ok(Json(
        state
            .cluster
            .add_node(id, addr.to_string(), http_addr)
            .await?,
    ))
}

/// `DELETE /v1/admin/cluster/nodes/{id}`
pub async fn remove_node(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.cluster.remove_node(id).await?))
}

/// Fallback for unknown routes.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no route for {}", uri.path()))
}
