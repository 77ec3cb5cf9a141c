//! `POST /v1/tenants/{tenant}/search/manifests`: full text over media manifests (labels,
//! transcript, device id), filtered by `started_at`, kind and area, newest first, paged with
//! cursors. The query runs in `sightline_query::manifests`; every problem with the body is a
//! 400 naming its field, including a `q` that is blank or that the query parser refuses.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;
use sightline_query::{search_manifests as run_search, ManifestQuery};
use sightline_storage::record::{Manifest, MediaKind};
use sightline_storage::time::format_rfc3339_ms;

use super::body::{cursor, search_request, ManifestSearchBody, DEFAULT_LIMIT, MAX_LIMIT};
use super::{answer, area_kind, default_to, prepare, render};
use crate::audit::{self, Terms};
use crate::auth::Principal;
use crate::body::{audit_fields, bounded, time_range};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// The longest query text accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 4096;

/// A manifest as the API returns it: as ingested, plus `id` and `ingested_at`.
#[derive(Serialize)]
struct ManifestHit<'a> {
    id: &'a str,
    device_id: &'a str,
    kind: MediaKind,
    started_at: String,
    duration_ms: u64,
    object_key: &'a str,
    sha256: &'a str,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lon: Option<f64>,
    labels: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    transcript: Option<&'a str>,
    read_ids: &'a [String],
    ingested_at: String,
}

impl<'a> ManifestHit<'a> {
    fn of(m: &'a Manifest) -> Self {
        ManifestHit {
            id: &m.id,
            device_id: &m.device_id,
            kind: m.kind,
            started_at: format_rfc3339_ms(m.started_at),
            duration_ms: m.duration_ms,
            object_key: &m.object_key,
            sha256: &m.sha256,
            bytes: m.bytes,
            lat: m.lat,
            lon: m.lon,
            labels: &m.labels,
            transcript: m.transcript.as_deref(),
            read_ids: &m.read_ids,
            ingested_at: format_rfc3339_ms(m.ingested_at),
        }
    }
}

#[derive(Serialize)]
struct PageJson<'a> {
    hits: Vec<ManifestHit<'a>>,
    total: u64,
    total_relation: &'static str,
    next_cursor: Option<String>,
    took_ms: u64,
}

fn query_text(q: Option<&str>) -> Result<String, ApiError> {
    let field = |reason: &str| ApiError::field(ErrorCode::InvalidRequest, "q", reason);
    let q = q.ok_or_else(|| field("is required"))?;
    if q.trim().is_empty() {
        return Err(field("must not be empty"));
    }
    if q.len() > MAX_QUERY_BYTES {
        return Err(field("must be at most 4096 bytes"));
    }
    // Whether the parser accepts it is decided with the query, off the async runtime.
    Ok(q.to_string())
}

/// `POST /v1/tenants/{tenant}/search/manifests`
pub async fn search_manifests(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Principal>,
    Path(tenant_name): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (body, binding): (ManifestSearchBody, u64) = search_request(body, &tenant_name)?;
    let audited = audit_fields(body.case_number.as_deref(), body.reason.as_deref())?;
    let q = query_text(body.q.as_deref())?;
    let (from, to) = time_range("", body.from.as_deref(), body.to.as_deref(), default_to())?;
    let limit = bounded("limit", body.limit, 1, MAX_LIMIT, DEFAULT_LIMIT)? as usize;
    let area = match &body.area {
        Some(a) => Some(a.to_area("area")?),
        None => None,
    };
    let cursor = cursor(body.cursor.as_deref(), binding)?;
    let (engine, tenant) = prepare(&state, body.consistency, &tenant_name).await?;
    let terms = Terms {
        kind: "manifests",
        query_token: audit::token_of(&engine, tenant.id, &q),
        areas: area_kind(&body.area),
        from: (from != i64::MIN).then_some(from),
        to: Some(to),
        ..Terms::default()
    };
    let query = ManifestQuery {
        tenant: tenant.id,
        q,
        from,
        to,
        area,
        kind: body.kind,
        limit,
        cursor,
    };
    answer(&state, &caller, &tenant_name, &terms, &audited, move || {
        let page = run_search(&engine, &query)?;
        let answer = PageJson {
            hits: page.hits.iter().map(ManifestHit::of).collect(),
            total: page.total,
            total_relation: page.total_relation.as_str(),
            next_cursor: page.next_cursor.map(|c| c.encode(binding)),
            took_ms: started.elapsed().as_millis() as u64,
        };
        Ok((page.total, render(&answer)?))
    })
    .await
}
