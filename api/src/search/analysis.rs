//! Co-location, convoy and frequency: the analyses of api.md that answer plates rather than
//! reads.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;
use sightline_query::colocation::{co_location, CoLocationQuery, Place, MAX_PLACES};
use sightline_query::convoy::{convoy, ConvoyQuery};
use sightline_query::frequency::{frequency, FrequencyQuery};
use sightline_storage::time::format_rfc3339_ms;

use super::body::{exact_plate, CoLocationBody, ConvoyBody, FrequencyBody};
use super::{answer, default_to, prepare, render};
use crate::audit::{self, Terms};
use crate::auth::Principal;
use crate::body::{audit_fields, bounded, parse_request, time_range};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// Most plates an analysis returns by default, and at most.
const DEFAULT_PLATES: u64 = 100;
const MAX_PLATES: u64 = 1000;
/// Widest convoy window: one hour.
const MAX_WINDOW_S: u64 = 3600;

type RawBody = Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>;

#[derive(Serialize)]
struct PlatesJson<T> {
    plates: Vec<T>,
    total: usize,
    took_ms: u64,
}

/// `POST /v1/tenants/{tenant}/search/co-location`
pub async fn search_co_location(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Principal>,
    Path(tenant_name): Path<String>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let body: CoLocationBody = parse_request(body)?;
    let audited = audit_fields(body.case_number.as_deref(), body.reason.as_deref())?;
    let bodies = body
        .places
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::field(
                ErrorCode::InvalidRequest,
                "places",
                "must list at least one place",
            )
        })?;
    if bodies.len() > MAX_PLACES {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "places",
            format!("must list at most {MAX_PLACES} places"),
        ));
    }
    let mut places = Vec::with_capacity(bodies.len());
    for (i, place) in bodies.iter().enumerate() {
        let field = format!("places[{i}].area");
        let area = place
            .area
            .as_ref()
            .ok_or_else(|| ApiError::field(ErrorCode::InvalidRequest, &field, "is required"))?
            .to_area(&field)?;
        let (from, to) = time_range(
            &format!("places[{i}]."),
            place.from.as_deref(),
            place.to.as_deref(),
            default_to(),
        )?;
        places.push(Place { area, from, to });
    }
    let n = places.len() as u64;
    let min_places = bounded("min_places", body.min_places, 1, n, n).map_err(|_| {
        ApiError::field(
            ErrorCode::InvalidRequest,
            "min_places",
            format!("must be from 1 to the number of places ({n})"),
        )
    })? as usize;
    let limit = bounded("limit", body.limit, 1, MAX_PLATES, DEFAULT_PLATES)? as usize;
    let (engine, tenant) = prepare(&state, body.consistency, &tenant_name).await?;
    let terms = Terms {
        kind: "co-location",
        areas: bodies
            .iter()
            .filter_map(|p| p.area.as_ref().map(|a| a.kind()))
            .collect(),
        ..Terms::default()
    };
    let query = CoLocationQuery {
        tenant: tenant.id,
        places,
        min_places,
        limit,
    };
    answer(&state, &caller, &tenant_name, &terms, &audited, move || {
        let answer = co_location(&engine, &query)?;
        let json = PlatesJson {
            total: answer.total,
            plates: answer.plates,
            took_ms: started.elapsed().as_millis() as u64,
        };
        Ok((json.total as u64, render(&json)?))
    })
    .await
}

/// `POST /v1/tenants/{tenant}/search/convoy`
pub async fn search_convoy(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Principal>,
    Path(tenant_name): Path<String>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let body: ConvoyBody = parse_request(body)?;
    let audited = audit_fields(body.case_number.as_deref(), body.reason.as_deref())?;
    let plate = exact_plate(body.plate.as_deref())?;
    let (from, to) = time_range("", body.from.as_deref(), body.to.as_deref(), default_to())?;
    let window_s = bounded("window_s", body.window_s, 1, MAX_WINDOW_S, 60)? as u32;
    let min_co = bounded("min_co_occurrences", body.min_co_occurrences, 1, 10_000, 2)? as usize;
    let limit = bounded("limit", body.limit, 1, MAX_PLATES, DEFAULT_PLATES)? as usize;
    let (engine, tenant) = prepare(&state, body.consistency, &tenant_name).await?;
    let terms = Terms {
        kind: "convoy",
        plate_token: audit::token_of(&engine, tenant.id, &plate),
        from: (from != i64::MIN).then_some(from),
        to: Some(to),
        ..Terms::default()
    };
    let query = ConvoyQuery {
        tenant: tenant.id,
        plate,
        from,
        to,
        window_s,
        min_co_occurrences: min_co,
        limit,
    };
    answer(&state, &caller, &tenant_name, &terms, &audited, move || {
        let answer = convoy(&engine, &query)?;
        let json = PlatesJson {
            total: answer.total,
            plates: answer.plates,
            took_ms: started.elapsed().as_millis() as u64,
        };
        Ok((json.total as u64, render(&json)?))
    })
    .await
}

#[derive(Serialize)]
struct CameraJson {
    camera_id: String,
    count: u64,
    first: String,
    last: String,
}

#[derive(Serialize)]
struct FrequencyJson {
    total: u64,
    by_camera: Vec<CameraJson>,
    by_hour: [u64; 24],
    by_weekday: [u64; 7],
    took_ms: u64,
}

/// `POST /v1/tenants/{tenant}/search/frequency`
pub async fn search_frequency(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Principal>,
    Path(tenant_name): Path<String>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let body: FrequencyBody = parse_request(body)?;
    let audited = audit_fields(body.case_number.as_deref(), body.reason.as_deref())?;
    let plate = exact_plate(body.plate.as_deref())?;
    let (from, to) = time_range("", body.from.as_deref(), body.to.as_deref(), default_to())?;
    let (engine, tenant) = prepare(&state, body.consistency, &tenant_name).await?;
    let terms = Terms {
        kind: "frequency",
        plate_token: audit::token_of(&engine, tenant.id, &plate),
        from: (from != i64::MIN).then_some(from),
        to: Some(to),
        ..Terms::default()
    };
    let query = FrequencyQuery {
        tenant: tenant.id,
        plate,
        from,
        to,
    };
    answer(&state, &caller, &tenant_name, &terms, &audited, move || {
        let answer = frequency(&engine, &query)?;
        let json = FrequencyJson {
            total: answer.total,
            by_camera: answer
                .by_camera
                .into_iter()
                .map(|c| CameraJson {
                    camera_id: c.camera_id,
                    count: c.count,
                    first: format_rfc3339_ms(c.first),
                    last: format_rfc3339_ms(c.last),
                })
                .collect(),
            by_hour: answer.by_hour,
            by_weekday: answer.by_weekday,
            took_ms: started.elapsed().as_millis() as u64,
        };
        Ok((json.total, render(&json)?))
    })
    .await
}
