//! `POST /v1/tenants/{tenant}/stats/reads` (api.md): the analyst's aggregate over plate
//! reads. `{"from", "to", "step_s": 3600, "group_by": "camera" | "h3_r7"}` answers
//! `{"buckets": [{"ts", "key", "reads", "distinct_vehicles"}], "took_ms"}`: epoch-aligned,
//! non-empty buckets by start then key, each keyed by a camera id or an H3 resolution-7
//! cell, with counts only (see `sightline_query::stats` for what is read and what it costs).
//!
//! The answer never carries a plate, a plate token or a position finer than resolution 7:
//! the JSON is built from `StatsBucket`, which holds nothing else, and every error is our
//! own sentence naming a request field. The body is typed; every problem is a 400 naming its
//! field, checked before the read barrier. Like the series query, it is not audited and takes
//! no `case_number` or `reason` (they are unknown fields): it names no plate, person or exact
//! position, and the analyst role reads it without working a case (docs/api.md).

use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sightline_query::stats::{read_stats, GroupBy, StatsBucket, StatsQuery};
use sightline_storage::time::format_rfc3339_ms;

use crate::body::{bounded, parse_request, time};
use crate::error::{ApiError, ErrorCode};
use crate::search::body::Consistency;
use crate::search::{blocking, json_response, prepare, render};
use crate::series::MAX_STEP_S;
use crate::AppState;

/// Default bucket width, seconds: one hour.
pub const DEFAULT_STEP_S: u64 = 3_600;

/// `POST /v1/tenants/{tenant}/stats/reads`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadStatsBody {
    /// Earliest capture time (inclusive), RFC 3339 or date math.
    pub from: Option<String>,
    /// Latest capture time (inclusive), RFC 3339 or date math.
    pub to: Option<String>,
    /// Bucket width in seconds (default 3600).
    pub step_s: Option<u64>,
    /// `camera` or `h3_r7`.
    pub group_by: Option<String>,
    /// Read consistency.
    #[serde(default)]
    pub consistency: Consistency,
}

fn required(field: &str) -> ApiError {
    ApiError::field(ErrorCode::InvalidRequest, field, "is required")
}

fn group_by(text: Option<&str>) -> Result<GroupBy, ApiError> {
    let names: Vec<&str> = GroupBy::ALL.iter().map(|(n, _)| *n).collect();
    let expected = || {
        ApiError::field(
            ErrorCode::InvalidRequest,
            "group_by",
            format!("must be one of {}", names.join(", ")),
        )
    };
    let text = text.ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidRequest,
            "group_by",
            format!("is required: one of {}", names.join(", ")),
        )
    })?;
    GroupBy::parse(text).ok_or_else(expected)
}

#[derive(Serialize)]
struct BucketJson {
    ts: String,
    key: String,
    reads: u64,
    distinct_vehicles: u64,
}

#[derive(Serialize)]
struct StatsJson {
    buckets: Vec<BucketJson>,
    took_ms: u64,
}

/// The checked query of a body, for tenant `tenant`.
pub fn to_query(body: &ReadStatsBody, tenant: u32) -> Result<StatsQuery, ApiError> {
    let from = time("from", body.from.as_deref())?.ok_or_else(|| required("from"))?;
    let to = time("to", body.to.as_deref())?.ok_or_else(|| required("to"))?;
    let step_s = bounded("step_s", body.step_s, 1, MAX_STEP_S, DEFAULT_STEP_S)?;
    let query = StatsQuery {
        tenant,
        from,
        to,
        step_ms: step_s as i64 * 1_000,
        group_by: group_by(body.group_by.as_deref())?,
    };
    query.check()?;
    Ok(query)
}

/// `POST /v1/tenants/{tenant}/stats/reads`
pub async fn reads(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let body: ReadStatsBody = parse_request(body)?;
    // Checked before the read barrier: a bad body costs no round trip to the leader.
    let mut query = to_query(&body, 0)?;
    let (engine, tenant) = prepare(&state, body.consistency, &tenant_name).await?;
    query.tenant = tenant.id;
    let body = blocking(move || {
        let buckets = read_stats(&engine, &query)?;
        let answer = StatsJson {
            buckets: buckets.into_iter().map(bucket_json).collect(),
            took_ms: started.elapsed().as_millis() as u64,
        };
        render(&answer)
    })
    .await?;
    Ok(json_response(body))
}

fn bucket_json(bucket: StatsBucket) -> BucketJson {
    BucketJson {
        ts: format_rfc3339_ms(bucket.ts),
        key: bucket.key,
        reads: bucket.reads,
        distinct_vehicles: bucket.distinct_vehicles,
    }
}
