//! Investigator search endpoints. Every search must name a case number and a reason (the
//! audit trail of api.md); exact plate search is served today, the other match modes and
//! filters answer 501 until their indexes land.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use sightline_query::{exact_plate_search, Cursor, PlateQuery};
use sightline_storage::record::{normalize_plate, MAX_FUTURE_MS};
use sightline_storage::time::now_ms;

use crate::error::{ApiError, ErrorCode};
use crate::json::{Fields, Hit};
use crate::AppState;

/// Default page size.
pub const DEFAULT_LIMIT: u64 = 100;
/// Largest page size.
pub const MAX_LIMIT: u64 = 1000;

const PLATE_SEARCH_FIELDS: &[&str] = &[
    "plate",
    "match",
    "max_edits",
    "from",
    "to",
    "area",
    "vehicle",
    "cameras",
    "limit",
    "cursor",
    "case_number",
    "reason",
    "tenants",
    "consistency",
];

/// Checks the audit fields every search must carry.
pub fn require_audit_fields(fields: &Fields) -> Result<(String, String), ApiError> {
    let case_number = fields.opt_str("case_number")?.map(str::trim).unwrap_or("");
    let reason = fields.opt_str("reason")?.map(str::trim).unwrap_or("");
    let mut missing = Vec::new();
    if case_number.is_empty() {
        missing.push(json!({"field": "case_number", "reason": "is required for every search"}));
    }
    if reason.is_empty() {
        missing.push(json!({"field": "reason", "reason": "is required for every search"}));
    }
    if !missing.is_empty() {
        let mut err = ApiError::new(
            ErrorCode::AuditFieldsRequired,
            "every search must carry a case_number and a reason for the audit log",
        );
        err.details = missing;
        return Err(err);
    }
    Ok((case_number.to_string(), reason.to_string()))
}

/// One page of a plate search as the API answers it.
#[derive(Serialize)]
struct PageJson<'a> {
    hits: Vec<Hit<'a>>,
    total: u64,
    next_cursor: Option<String>,
    took_ms: u64,
}

/// `POST /v1/tenants/{tenant}/search/plates`
pub async fn search_plates(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let body = crate::ingest::body_bytes(body)?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("body is not JSON: {e}")))?;
    let fields = Fields::new(&body, PLATE_SEARCH_FIELDS)?;
    let (case_number, reason) = require_audit_fields(&fields)?;
    match fields.opt_str("consistency")?.unwrap_or("linearizable") {
        "linearizable" => state.cluster.read_barrier().await?,
        "follower" => {}
        _ => {
            return Err(ApiError::field(
                ErrorCode::InvalidRequest,
                "consistency",
                "must be linearizable or follower",
            ))
        }
    }
    let tenant = state
        .engine()
        .tenant(&tenant_name)
        .ok_or_else(|| ApiError::tenant_not_found(&tenant_name))?;

    let raw_plate = fields
        .opt_str("plate")?
        .ok_or_else(|| ApiError::field(ErrorCode::InvalidRequest, "plate", "is required"))?;
    match fields.opt_str("match")?.unwrap_or("exact") {
        "exact" => {}
        "wildcard" | "fuzzy" => {
            return Err(ApiError::field(
                ErrorCode::NotImplemented,
                "match",
                "wildcard and fuzzy matching arrive with the plate dictionary; use exact",
            ))
        }
        _ => {
            return Err(ApiError::field(
                ErrorCode::InvalidRequest,
                "match",
                "must be one of exact, wildcard, fuzzy",
            ))
        }
    }
    for unsupported in ["area", "vehicle", "tenants"] {
        if fields.get(unsupported).is_some() {
            return Err(ApiError::field(
                ErrorCode::NotImplemented,
                unsupported,
                "is not supported on this version yet",
            ));
        }
    }
    let plate = normalize_plate(raw_plate)
        .map_err(|reason| ApiError::field(ErrorCode::InvalidRequest, "plate", reason))?;
    let now = now_ms();
    let from = fields.opt_time("from")?.unwrap_or(i64::MIN);
    let to = fields.opt_time("to")?.unwrap_or(now + MAX_FUTURE_MS);
    if from > to {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "from",
            "must not be after to",
        ));
    }
    let limit = fields
        .opt_u64("limit", 1, MAX_LIMIT)?
        .unwrap_or(DEFAULT_LIMIT) as usize;
    let cursor = match fields.opt_str("cursor")? {
        Some(text) => Some(Cursor::decode(text)?),
        None => None,
    };
    let query = PlateQuery {
        tenant: tenant.id,
        plate,
        from,
        to,
        cameras: fields.opt_str_list("cameras")?,
        limit,
        cursor,
    };
    let engine = state.engine();
    // Query and render off the async runtime: both are CPU work proportional to the page.
    let (total, body) = tokio::task::spawn_blocking(move || -> Result<(u64, Vec<u8>), ApiError> {
        let page = exact_plate_search(&engine, &query, now)?;
        let answer = PageJson {
            hits: page.hits.iter().map(Hit::of).collect(),
            total: page.total,
            next_cursor: page.next_cursor.map(|c| c.encode()),
            took_ms: started.elapsed().as_millis() as u64,
        };
        let body = serde_json::to_vec(&answer).map_err(ApiError::internal)?;
        Ok((page.total, body))
    })
    .await
    .map_err(ApiError::internal)??;
    tracing::info!(
        tenant = %tenant_name, case_number = %case_number, reason = %reason,
        total, "plate search"
    );
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
