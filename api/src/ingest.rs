//! The three ingest endpoints. A batch is parsed (JSON array or NDJSON), every record is
//! validated, and only a fully valid batch is prepared (ids, tokens, sealing) and proposed
//! as one command, so a batch is written entirely or not at all.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use serde_json::{json, Value};
use sightline_storage::prepare::{prepare_manifests, prepare_reads, prepare_samples};
use sightline_storage::record::{validate_manifest, validate_read, validate_sample};
use sightline_storage::time::now_ms;
use sightline_storage::{ApplyOutcome, Command, FieldError, TenantInfo};
use sightline_wire::batch::{split_batch, BatchError, BatchFormat};

use crate::auth::Principal;

use crate::error::{ApiError, ErrorCode};
use crate::AppState;

pub use sightline_wire::batch::MAX_BATCH_RECORDS;

/// Splits a body into records: a JSON array, or NDJSON (one object per line) when the
/// content type says so (the split itself is [`split_batch`]'s).
pub fn parse_batch(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let format = if content_type.starts_with("application/x-ndjson")
        || content_type.starts_with("application/jsonl")
    {
        BatchFormat::Ndjson
    } else if content_type.starts_with("application/json") {
        BatchFormat::JsonArray
    } else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "Content-Type {content_type:?} is not application/json or application/x-ndjson"
            ),
        ));
    };
    split_batch(format, body).map_err(|e| {
        let code = match e {
            BatchError::Empty => ErrorCode::EmptyBatch,
            BatchError::TooMany => ErrorCode::PayloadTooLarge,
            _ => ErrorCode::InvalidJson,
        };
        let mut err = ApiError::new(code, e.to_string());
        if let BatchError::BadLine {
            index,
            line,
            reason,
        } = e
        {
            err.details
                .push(json!({"index": index, "line": line, "field": "", "reason": reason}));
        }
        err
    })
}

/// Validates every record, collecting all problems.
fn validate_all<T>(
    records: &[Value],
    now: i64,
    validate: impl Fn(usize, &Value, i64, &mut Vec<FieldError>) -> Option<T>,
) -> Result<Vec<T>, ApiError> {
    let mut errors = Vec::new();
    let mut valid = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        if let Some(v) = validate(index, record, now, &mut errors) {
            valid.push(v);
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(ApiError::records(errors))
    }
}

/// The tenant a write names, as this replica knows it. A write is ordered by the leader, so
/// it needs no read barrier; only a tenant this replica has not applied yet (created through
/// another node a moment ago) costs one before it is refused as unknown.
pub async fn tenant_for_write(state: &AppState, tenant_name: &str) -> Result<TenantInfo, ApiError> {
    if let Some(tenant) = state.engine().tenant(tenant_name) {
        return Ok(tenant);
    }
    state.cluster.read_barrier().await?;
    state
        .engine()
        .tenant(tenant_name)
        .ok_or_else(|| ApiError::tenant_not_found(tenant_name))
}

/// The kinds of record the ingest endpoints take.
#[derive(Debug, Clone, Copy)]
pub enum RecordKind {
    /// Plate reads.
    Reads,
    /// Media manifests.
    Manifests,
    /// Sensor samples.
    Series,
}

/// Parses, validates, prepares and proposes one batch; returns the public ids (empty for
/// series, which have none) and the outcome. Shared by the HTTP handlers and the demo loader.
pub async fn ingest(
    state: &AppState,
    tenant_name: &str,
    kind: RecordKind,
    records: Vec<Value>,
) -> Result<(Vec<String>, ApplyOutcome), ApiError> {
    let tenant = tenant_for_write(state, tenant_name).await?;
    let engine = state.engine();
    // Validation, tokens and sealing are CPU work: keep them off the async runtime.
    let prepared =
        tokio::task::spawn_blocking(move || -> Result<(Command, Vec<String>), ApiError> {
            let now = now_ms();
            let keys = engine.tenant_keys(tenant.id).map_err(ApiError::internal)?;
            let mut rng = rand::rng();
            let prepared = match kind {
                RecordKind::Reads => {
                    let inputs = validate_all(&records, now, validate_read)?;
                    prepare_reads(tenant.id, &keys, inputs, now, &mut rng)
                }
                RecordKind::Manifests => {
                    let inputs = validate_all(&records, now, validate_manifest)?;
                    prepare_manifests(tenant.id, &keys, inputs, now, &mut rng)
                }
                RecordKind::Series => {
                    let inputs = validate_all(&records, now, validate_sample)?;
                    prepare_samples(tenant.id, &keys, inputs).map(|cmd| (cmd, Vec::new()))
                }
            };
            prepared.ok_or_else(|| ApiError::internal("tenant has no data key"))
        })
        .await
        .map_err(ApiError::internal)??;
    let (command, ids) = prepared;
    let outcome = state.cluster.propose(command).await?;
    match outcome {
        ApplyOutcome::Rejected { reason } => Err(ApiError::new(ErrorCode::TenantNotFound, reason)),
        outcome => Ok((ids, outcome)),
    }
}

/// Maps axum's body rejection (too large, unreadable) into our error format.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "request bodies are limited to {} MiB; split the batch",
                    crate::MAX_BODY_BYTES >> 20
                ),
            )
        } else {
            ApiError::new(ErrorCode::InvalidRequest, rejection.body_text())
        }
    })
}

async fn handle(
    state: AppState,
    caller: Principal,
    tenant: String,
    kind: RecordKind,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    state.space.check()?;
    let body = body_bytes(body)?;
    let bytes = body.len() as u64;
    let records = tokio::task::spawn_blocking(move || parse_batch(&headers, &body))
        .await
        .map_err(ApiError::internal)??;
    let accepted = records.len();
    state.limits.ingest(&caller, accepted)?;
    #[cfg(feature = "planted-double-apply")]
    let again = records.clone();
    let (ids, outcome) = ingest(&state, &tenant, kind, records).await?;
    #[cfg(feature = "planted-double-apply")]
    {
        // PLANTED BUG: every 20th batch of reads is applied a second time, prepared afresh
        // (new ids for rows without client ids), as a non-idempotent retry would.
        static BATCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = BATCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if matches!(kind, RecordKind::Reads) && n % 20 == 19 {
            let _ = ingest(&state, &tenant, kind, again).await;
        }
    }
    let (duplicates, expired) = match outcome {
        ApplyOutcome::Written {
            duplicates,
            expired,
            ..
        } => (duplicates, expired),
        _ => (0, 0),
    };
    let metric_kind = match kind {
        RecordKind::Reads => "reads",
        RecordKind::Manifests => "manifests",
        RecordKind::Series => "samples",
    };
    let metrics = &crate::metrics::METRICS;
    metrics
        .ingest_records
        .with_label_values(&[metric_kind])
        .inc_by(accepted as u64);
    metrics
        .ingest_bytes
        .with_label_values(&[metric_kind])
        .inc_by(bytes);
    let mut body = json!({"accepted": accepted, "duplicates": duplicates});
    if expired > 0 {
        // Older than the tenant's retention watermark when the batch was applied: dropped
        // on every replica alike (a late re-send of data already expired).
        body["expired"] = json!(expired);
    }
    if !matches!(kind, RecordKind::Series) {
        body["ids"] = json!(ids);
    }
    Ok(Json(body))
}

/// `POST /v1/tenants/{tenant}/reads`
pub async fn post_reads(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    handle(state, caller, tenant, RecordKind::Reads, headers, body).await
}

/// `POST /v1/tenants/{tenant}/manifests`
pub async fn post_manifests(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    handle(state, caller, tenant, RecordKind::Manifests, headers, body).await
}

/// `POST /v1/tenants/{tenant}/series`
pub async fn post_series(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    handle(state, caller, tenant, RecordKind::Series, headers, body).await
}
