//! `POST /v1/tenants/{tenant}/series/query` (api.md): one sensor series in epoch-aligned
//! buckets, reduced by `avg`, `min`, `max`, `sum`, `count` or `last`, answered as
//! `{"points": [["2026-11-26T10:00:00.000Z", 21.5], ...]}` (non-empty buckets, oldest
//! first). The body is typed; every problem is a 400 naming its field. It reads behind the
//! same read barrier as the searches and runs the scan off the async runtime. It is not
//! audited and takes no `case_number`: samples name no person, plate or position (docs/api.md).

use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sightline_query::series::{series, Aggregation, SeriesQuery};
use sightline_storage::record::MAX_NAME_LEN;
use sightline_storage::time::format_rfc3339_ms;

use crate::body::{bounded, parse_request, time};
use crate::error::{ApiError, ErrorCode};
use crate::search::body::Consistency;
use crate::search::{blocking, json_response, prepare, render};
use crate::AppState;

/// Default bucket width, seconds.
pub const DEFAULT_STEP_S: u64 = 60;
/// Widest bucket: 366 days.
pub const MAX_STEP_S: u64 = 366 * 86_400;

/// `POST /v1/tenants/{tenant}/series/query`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQueryBody {
    /// Sensor id, as ingested.
    pub sensor_id: Option<String>,
    /// Metric, as ingested.
    pub metric: Option<String>,
    /// Earliest sample time (inclusive).
    pub from: Option<String>,
    /// Latest sample time (inclusive).
    pub to: Option<String>,
    /// Bucket width in seconds (default 60).
    pub step_s: Option<u64>,
    /// `avg` (default), `min`, `max`, `sum`, `count` or `last`.
    pub agg: Option<String>,
    /// Read consistency.
    #[serde(default)]
    pub consistency: Consistency,
}

fn required(field: &str) -> ApiError {
    ApiError::field(ErrorCode::InvalidRequest, field, "is required")
}

/// A required sensor id or metric, checked as ingest checks it.
fn name(field: &str, value: Option<String>) -> Result<String, ApiError> {
    let value = value.ok_or_else(|| required(field))?;
    if value.trim().is_empty() {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            field,
            "must not be empty",
        ));
    }
    if value.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(value)
}

fn aggregation(agg: Option<&str>) -> Result<Aggregation, ApiError> {
    let Some(text) = agg else {
        return Ok(Aggregation::Avg);
    };
    Aggregation::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Aggregation::ALL.iter().map(|(n, _)| *n).collect();
        ApiError::field(
            ErrorCode::InvalidRequest,
            "agg",
            format!("must be one of {}", names.join(", ")),
        )
    })
}

/// A bucket's value: `count` as an integer, the others as numbers.
#[derive(Serialize)]
#[serde(untagged)]
enum Number {
    Whole(u64),
    Real(f64),
}

#[derive(Serialize)]
struct SeriesJson {
    points: Vec<(String, Number)>,
    took_ms: u64,
}

/// The checked query of a body, for tenant `tenant`.
pub fn to_query(body: SeriesQueryBody, tenant: u32) -> Result<SeriesQuery, ApiError> {
    let sensor_id = name("sensor_id", body.sensor_id)?;
    let metric = name("metric", body.metric)?;
    let from = time("from", body.from.as_deref())?.ok_or_else(|| required("from"))?;
    let to = time("to", body.to.as_deref())?.ok_or_else(|| required("to"))?;
    let step_s = bounded("step_s", body.step_s, 1, MAX_STEP_S, DEFAULT_STEP_S)?;
    let query = SeriesQuery {
        tenant,
        sensor_id,
        metric,
        from,
        to,
        step_ms: step_s as i64 * 1_000,
        agg: aggregation(body.agg.as_deref())?,
    };
    query.check()?;
    Ok(query)
}

/// `POST /v1/tenants/{tenant}/series/query`
pub async fn query_series(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let body: SeriesQueryBody = parse_request(body)?;
    let consistency = body.consistency;
    // Checked before the read barrier: a bad body costs no round trip to the leader.
    let mut query = to_query(body, 0)?;
    let (engine, tenant) = prepare(&state, consistency, &tenant_name).await?;
    query.tenant = tenant.id;
    let body = blocking(move || {
        let points = series(&engine, &query)?;
        let answer = SeriesJson {
            points: points
                .into_iter()
                .map(|p| {
                    let value = match query.agg {
                        Aggregation::Count => Number::Whole(p.value as u64),
                        _ => Number::Real(p.value),
                    };
                    (format_rfc3339_ms(p.ts), value)
                })
                .collect(),
            took_ms: started.elapsed().as_millis() as u64,
        };
        render(&answer)
    })
    .await?;
    Ok(json_response(body))
}
