//! Investigator search endpoints (api.md "Investigator search"): plate (exact, wildcard,
//! fuzzy) and area search here, co-location, convoy and frequency in [`analysis`], manifest
//! full text in [`manifests`]. Every search names a case number and a reason and goes
//! through [`crate::audit::search`]. Bodies are typed ([`body`]); queries and rendering run
//! off the async runtime.

pub mod analysis;
pub mod body;
pub mod manifests;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sightline_query::{search_reads, search_reads_across, Explain, PlateMatch, ReadQuery};
use sightline_storage::command::GrantKind;
use sightline_storage::record::MAX_FUTURE_MS;
use sightline_storage::time::now_ms;
use sightline_storage::{Engine, TenantInfo};

use crate::audit::{self, Terms};
use crate::auth::Principal;
use crate::body::{audit_fields, bounded, time_range};
use crate::error::{ApiError, ErrorCode};
use crate::grants;
use crate::json::Hit;
use crate::AppState;
use body::{
    cursor, plate_match, search_request, AreaBody, AreaSearchBody, Consistency, PlateSearchBody,
    DEFAULT_LIMIT, MAX_LIMIT,
};

pub use body::MatchMode;

/// One page of a read search as the API answers it.
#[derive(Serialize)]
struct PageJson<'a> {
    hits: Vec<Hit<'a>>,
    total: u64,
    total_relation: &'static str,
    next_cursor: Option<String>,
    took_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<&'a Explain>,
}

/// A hit of a search across tenants: the read and whose it is.
#[derive(Serialize)]
struct TenantHit<'a> {
    tenant: &'a str,
    #[serde(flatten)]
    hit: Hit<'a>,
}

/// One page of a read search across tenants (under grants).
#[derive(Serialize)]
struct MergedPageJson<'a> {
    hits: Vec<TenantHit<'a>>,
    total: u64,
    total_relation: &'static str,
    next_cursor: Option<String>,
    took_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Vec<&'a Explain>>,
}

/// The tenants a read search covers: the path's, and with `tenants` the owners whose
/// grants are in force ([`grants::authorize`], which catches up with the leader first);
/// without, the barrier the consistency asks for.
async fn scope(
    state: &AppState,
    consistency: Consistency,
    tenant: &str,
    tenants: &Option<Vec<String>>,
) -> Result<(Arc<Engine>, Vec<TenantInfo>), ApiError> {
    if tenants.as_ref().is_some_and(|t| !t.is_empty()) {
        let scope = grants::authorize(state, tenant, tenants, GrantKind::Reads).await?;
        return Ok((state.engine(), scope));
    }
    let (engine, info) = prepare(state, consistency, tenant).await?;
    Ok((engine, vec![info]))
}

/// Runs a read search over `scope` (one tenant, or several under grants) and audits it:
/// in the searching tenant's log with the tenants searched, and under grants also in each
/// owner's log with that owner's hits.
#[allow(clippy::too_many_arguments)]
async fn run_reads(
    state: &AppState,
    caller: &Principal,
    engine: Arc<Engine>,
    scope: Vec<TenantInfo>,
    query: ReadQuery,
    plate_text: Option<String>,
    mut terms: Terms,
    audited: &(String, String),
    (explain, binding): (bool, u64),
    started: Instant,
) -> Result<Response, ApiError> {
    terms.plate_token = plate_text
        .as_deref()
        .and_then(|text| audit::token_of(&engine, scope[0].id, text));
    if scope.len() == 1 {
        let tenant = scope[0].name.clone();
        return answer(
            state,
            caller,
            &tenant,
            &terms,
            audited,
            read_page(engine, query, (explain, binding), started),
        )
        .await;
    }
    let queries: Vec<ReadQuery> = scope
        .iter()
        .map(|t| ReadQuery {
            tenant: t.id,
            ..query.clone()
        })
        .collect();
    let names: Vec<String> = scope.iter().map(|t| t.name.clone()).collect();
    let work_engine = engine.clone();
    let (per_tenant, body) = blocking(move || {
        let page = search_reads_across(&work_engine, &queries)?;
        let answer = MergedPageJson {
            hits: page
                .hits
                .iter()
                .map(|(i, read)| TenantHit {
                    tenant: &names[*i],
                    hit: Hit::of(read),
                })
                .collect(),
            total: page.total(),
            total_relation: page.relation().as_str(),
            next_cursor: page.next_cursor.map(|c| c.encode(binding)),
            took_ms: started.elapsed().as_millis() as u64,
            explain: explain.then(|| page.explains.iter().collect()),
        };
        Ok((page.totals.clone(), render(&answer)?))
    })
    .await?;
    let (case_number, reason) = audited;
    let grantee = scope[0].name.clone();
    terms.tenants = scope[1..].iter().map(|t| t.name.clone()).collect();
    let mut records = vec![(grantee.clone(), terms.clone(), per_tenant.iter().sum())];
    for (owner, hits) in scope.iter().zip(&per_tenant).skip(1) {
        let mut owner_terms = terms.clone();
        owner_terms.tenants.clear();
        owner_terms.grantee = Some(grantee.clone());
        owner_terms.plate_token = plate_text
            .as_deref()
            .and_then(|text| audit::token_of(&engine, owner.id, text));
        records.push((owner.name.clone(), owner_terms, *hits));
    }
    futures::future::try_join_all(records.iter().map(|(tenant, terms, hits)| {
        audit::search(state, caller, tenant, terms, case_number, reason, *hits)
    }))
    .await?;
    Ok(json_response(body))
}

/// Takes the read barrier the consistency asks for, then finds the tenant.
pub(crate) async fn prepare(
    state: &AppState,
    consistency: Consistency,
    tenant: &str,
) -> Result<(Arc<Engine>, TenantInfo), ApiError> {
    if consistency == Consistency::Linearizable {
        state.cluster.read_barrier().await?;
    }
    let engine = state.engine();
    let info = engine
        .tenant(tenant)
        .ok_or_else(|| ApiError::tenant_not_found(tenant))?;
    Ok((engine, info))
}

/// Runs CPU and storage work off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}

/// A JSON answer from bytes already rendered.
pub(crate) fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Renders an answer body.
pub(crate) fn render<T: Serialize>(answer: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(answer).map_err(ApiError::internal)
}

/// The tail every search shares: runs `work` (query and render, returning the hit count and
/// the body) off the async runtime, then writes the search to the audit trail with the hit
/// count, then answers.
pub(crate) async fn answer(
    state: &AppState,
    caller: &Principal,
    tenant: &str,
    terms: &Terms,
    (case_number, reason): &(String, String),
    work: impl FnOnce() -> Result<(u64, Vec<u8>), ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let (hits, body) = blocking(work).await?;
    audit::search(state, caller, tenant, terms, case_number, reason, hits).await?;
    Ok(json_response(body))
}

/// The latest time a search range may end by default.
pub(crate) fn default_to() -> i64 {
    now_ms() + MAX_FUTURE_MS
}

pub(crate) fn area_kind(area: &Option<AreaBody>) -> Vec<&'static str> {
    area.as_ref().map(AreaBody::kind).into_iter().collect()
}

/// A read query's work: runs it and renders its page; the hit count is its total.
fn read_page(
    engine: Arc<Engine>,
    query: ReadQuery,
    (explain, binding): (bool, u64),
    started: Instant,
) -> impl FnOnce() -> Result<(u64, Vec<u8>), ApiError> + Send + 'static {
    move || {
        let page = search_reads(&engine, &query)?;
        let answer = PageJson {
            hits: page.hits.iter().map(Hit::of).collect(),
            total: page.total,
            total_relation: page.total_relation.as_str(),
            next_cursor: page.next_cursor.map(|c| c.encode(binding)),
            took_ms: started.elapsed().as_millis() as u64,
            explain: explain.then_some(&page.explain),
        };
        Ok((page.total, render(&answer)?))
    }
}

/// `POST /v1/tenants/{tenant}/search/plates`
pub async fn search_plates(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Principal>,
    Path(tenant_name): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (body, binding): (PlateSearchBody, u64) = search_request(body, &tenant_name)?;
    let audited = audit_fields(body.case_number.as_deref(), body.reason.as_deref())?;
    let plate = plate_match(&body)?;
    let (from, to) = time_range("", body.from.as_deref(), body.to.as_deref(), default_to())?;
    let limit = bounded("limit", body.limit, 1, MAX_LIMIT, DEFAULT_LIMIT)? as usize;
    let area = match &body.area {
        Some(a) => Some(a.to_area("area")?),
        None => None,
    };
    let cursor = cursor(body.cursor.as_deref(), binding)?;
    let (engine, scope) = scope(&state, body.consistency, &tenant_name, &body.tenants).await?;
    let terms = Terms {
        kind: "plates",
        r#match: Some(match body.match_mode {
            MatchMode::Exact => "exact",
            MatchMode::Wildcard => "wildcard",
            MatchMode::Fuzzy => "fuzzy",
        }),
        areas: area_kind(&body.area),
        cameras: body.cameras.clone().unwrap_or_default(),
        vehicle: body.vehicle.is_some(),
        from: (from != i64::MIN).then_some(from),
        to: Some(to),
        ..Terms::default()
    };
    let plate_text = match &plate {
        PlateMatch::Exact(p) => p.clone(),
        PlateMatch::Wildcard(w) => w.text().to_string(),
        PlateMatch::Fuzzy(f) => f.text().to_string(),
    };
    let query = ReadQuery {
        tenant: scope[0].id,
        plate: Some(plate),
        area,
        cameras: body.cameras.unwrap_or_default(),
        vehicle: body.vehicle.as_ref().and_then(|v| v.to_filter()),
        from,
        to,
        limit,
        cursor,
    };
    run_reads(
        &state,
        &caller,
        engine,
        scope,
        query,
        Some(plate_text),
        terms,
        &audited,
        (body.explain, binding),
        started,
    )
    .await
}

/// `POST /v1/tenants/{tenant}/search/area`
pub async fn search_area(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Principal>,
    Path(tenant_name): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (body, binding): (AreaSearchBody, u64) = search_request(body, &tenant_name)?;
    let audited = audit_fields(body.case_number.as_deref(), body.reason.as_deref())?;
    let area = body
        .area
        .as_ref()
        .ok_or_else(|| ApiError::field(ErrorCode::InvalidRequest, "area", "is required"))?
        .to_area("area")?;
    let (from, to) = time_range("", body.from.as_deref(), body.to.as_deref(), default_to())?;
    let limit = bounded("limit", body.limit, 1, MAX_LIMIT, DEFAULT_LIMIT)? as usize;
    let cursor = cursor(body.cursor.as_deref(), binding)?;
    let (engine, scope) = scope(&state, body.consistency, &tenant_name, &body.tenants).await?;
    let terms = Terms {
        kind: "area",
        areas: area_kind(&body.area),
        cameras: body.cameras.clone().unwrap_or_default(),
        vehicle: body.vehicle.is_some(),
        from: (from != i64::MIN).then_some(from),
        to: Some(to),
        ..Terms::default()
    };
    let query = ReadQuery {
        tenant: scope[0].id,
        plate: None,
        area: Some(area),
        cameras: body.cameras.unwrap_or_default(),
        vehicle: body.vehicle.as_ref().and_then(|v| v.to_filter()),
        from,
        to,
        limit,
        cursor,
    };
    run_reads(
        &state,
        &caller,
        engine,
        scope,
        query,
        None,
        terms,
        &audited,
        (body.explain, binding),
        started,
    )
    .await
}
