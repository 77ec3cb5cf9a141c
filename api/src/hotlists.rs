//! Hotlists (api.md "Alerts"): `PUT`, `GET` and `DELETE /v1/tenants/{tenant}/hotlists/{name}`
//! and `GET /v1/tenants/{tenant}/hotlists`. A hotlist is replicated state (its plates
//! sealed): once its `PUT` is acknowledged, every replica matches each read it applies
//! against it and raises alerts (`alerts.rs`). With `lookback_days`, `case_number` and
//! `reason`, the `PUT` also answers the reads of the last `lookback_days` days that match,
//! audited like a search.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sightline_index::pattern::Fuzzy;
use sightline_query::{search_reads, PlateMatch, ReadQuery};
use sightline_storage::command::HotlistMatch;
use sightline_storage::prepare::prepare_hotlist;
use sightline_storage::record::{normalize_plate, PlateRead};
use sightline_storage::time::now_ms;
use sightline_storage::{ApplyOutcome, Command, Engine};

use crate::audit::{self, Terms};
use crate::auth::Principal;
use crate::body::{audit_fields, bounded, parse_request};
use crate::error::{ApiError, ErrorCode};
use crate::ingest::tenant_for_write;
use crate::json::Hit;
use crate::search::body::Consistency;
use crate::search::{blocking, default_to, prepare, render, MatchMode};
use crate::AppState;

/// Most plates in one hotlist.
pub const MAX_PLATES: usize = 10_000;
/// Longest look back, in days.
pub const MAX_LOOKBACK_DAYS: u64 = 3_650;
/// Most historical hits one `PUT` answers; past it `historical_total_relation` is `gte`.
pub const MAX_HISTORICAL_HITS: usize = 10_000;
/// Longest hotlist name.
pub const MAX_NAME_LEN: usize = 64;

/// `PUT /v1/tenants/{tenant}/hotlists/{name}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HotlistBody {
    /// The plates (normalized on receipt).
    pub plates: Option<Vec<String>>,
    /// `exact` (default) or `fuzzy`.
    #[serde(rename = "match", default)]
    pub match_mode: MatchMode,
    /// Fuzzy only: 0, 1 (default) or 2.
    pub max_edits: Option<u8>,
    /// Also answer the matching reads of this many past days.
    pub lookback_days: Option<u64>,
    /// Audit (required with `lookback_days`): case number.
    pub case_number: Option<String>,
    /// Audit (required with `lookback_days`): reason.
    pub reason: Option<String>,
}

fn invalid(field: &str, reason: impl Into<String>) -> ApiError {
    ApiError::field(ErrorCode::InvalidRequest, field, reason)
}

/// A hotlist name: 1 to 64 of `A-Z a-z 0-9 _ . -`.
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    match ok {
        true => Ok(()),
        false => Err(invalid(
            "name",
            format!("must be 1 to {MAX_NAME_LEN} letters, digits, '_', '.' or '-'"),
        )),
    }
}

/// The checked body: plates normalized and deduplicated, in the order first given.
struct Checked {
    plates: Vec<String>,
    matching: HotlistMatch,
    lookback: Option<(u64, (String, String))>,
}

fn check(body: &HotlistBody) -> Result<Checked, ApiError> {
    let matching = match (body.match_mode, body.max_edits) {
        (MatchMode::Exact, None) => HotlistMatch::Exact,
        (MatchMode::Fuzzy, max_edits) => {
            let max_edits = max_edits.unwrap_or(1);
            if max_edits > 2 {
                return Err(invalid("max_edits", "must be 0, 1 or 2"));
            }
            HotlistMatch::Fuzzy { max_edits }
        }
        (MatchMode::Wildcard, _) => {
            return Err(invalid("match", "must be \"exact\" or \"fuzzy\""));
        }
        (MatchMode::Exact, Some(_)) => {
            return Err(invalid("max_edits", "applies only to \"match\": \"fuzzy\""));
        }
    };
    let listed = body
        .plates
        .as_ref()
        .ok_or_else(|| invalid("plates", "is required"))?;
    if listed.is_empty() {
        return Err(invalid("plates", "must list at least one plate"));
    }
    if listed.len() > MAX_PLATES {
        return Err(invalid(
            "plates",
            format!("lists {} plates; at most {MAX_PLATES}", listed.len()),
        ));
    }
    let mut plates: Vec<String> = Vec::with_capacity(listed.len());
    for (i, raw) in listed.iter().enumerate() {
        let field = format!("plates[{i}]");
        let plate = normalize_plate(raw).map_err(|reason| invalid(&field, reason))?;
        if let HotlistMatch::Fuzzy { max_edits } = matching {
            Fuzzy::new(&plate, max_edits).map_err(|e| invalid(&field, e.to_string()))?;
        }
        if !plates.contains(&plate) {
            plates.push(plate);
        }
    }
    let lookback = match body.lookback_days {
        None => {
            if body.case_number.is_some() || body.reason.is_some() {
                audit_fields(body.case_number.as_deref(), body.reason.as_deref())?;
            }
            None
        }
        Some(days) => {
            let audited = audit_fields(body.case_number.as_deref(), body.reason.as_deref())?;
            let days = bounded("lookback_days", Some(days), 1, MAX_LOOKBACK_DAYS, 1)?;
            Some((days, audited))
        }
    };
    Ok(Checked {
        plates,
        matching,
        lookback,
    })
}

fn match_name(matching: HotlistMatch) -> (&'static str, Option<u8>) {
    match matching {
        HotlistMatch::Exact => ("exact", None),
        HotlistMatch::Fuzzy { max_edits } => ("fuzzy", Some(max_edits)),
    }
}

/// The `PUT` answer.
#[derive(Serialize)]
struct PutAnswer<'a> {
    name: &'a str,
    created: bool,
    plates: usize,
    #[serde(rename = "match")]
    matching: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_edits: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    historical_hits: Option<Vec<Hit<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    historical_total: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    historical_total_relation: Option<&'static str>,
}

/// The reads since `from` that any of `plates` matches, newest first, each once, at most
/// [`MAX_HISTORICAL_HITS`]; and whether there may be more.
pub fn historical_hits(
    engine: &Engine,
    tenant: u32,
    plates: &[String],
    matching: HotlistMatch,
    from: i64,
    to: i64,
) -> Result<(Vec<PlateRead>, bool), ApiError> {
    let mut found: HashMap<String, PlateRead> = HashMap::new();
    let mut more = false;
    for plate in plates {
        let plate_match = match matching {
            HotlistMatch::Exact => PlateMatch::Exact(plate.clone()),
            HotlistMatch::Fuzzy { max_edits } => PlateMatch::Fuzzy(
                Fuzzy::new(plate, max_edits).map_err(|e| invalid("plates", e.to_string()))?,
            ),
        };
        let mut query = ReadQuery {
            tenant,
            plate: Some(plate_match),
            area: None,
            cameras: Vec::new(),
            vehicle: None,
            from,
            to,
            limit: 1000,
            cursor: None,
        };
        loop {
            let page = search_reads(engine, &query)?;
            for read in page.hits {
                found.entry(read.id.clone()).or_insert(read);
            }
            if found.len() > MAX_HISTORICAL_HITS {
                more = true;
                break;
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        if more {
            break;
        }
    }
    let mut reads: Vec<PlateRead> = found.into_values().collect();
    reads.sort_by(|a, b| {
        b.captured_at
            .cmp(&a.captured_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    if reads.len() > MAX_HISTORICAL_HITS {
        reads.truncate(MAX_HISTORICAL_HITS);
        more = true;
    }
    Ok((reads, more))
}

/// `PUT /v1/tenants/{tenant}/hotlists/{name}`: 201 when created, 200 when replaced.
pub async fn put_hotlist(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<Principal>,
    Path((tenant_name, name)): Path<(String, String)>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    state.space.check()?;
    check_name(&name)?;
    let body: HotlistBody = parse_request(body)?;
    let checked = check(&body)?;
    let tenant = tenant_for_write(&state, &tenant_name).await?;
    let keys = state
        .engine()
        .tenant_keys(tenant.id)
        .map_err(ApiError::internal)?;
    let command = prepare_hotlist(tenant.id, &keys, &name, checked.matching, &checked.plates)
        .ok_or_else(|| ApiError::internal("tenant has no data key"))?;
    let created = match state.cluster.propose(command).await? {
        ApplyOutcome::Hotlist { existed } => !existed,
        ApplyOutcome::Rejected { reason } => {
            return Err(ApiError::new(ErrorCode::TenantNotFound, reason))
        }
        other => return Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
    };
    let (matching, max_edits) = match_name(checked.matching);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let Some((days, audited)) = checked.lookback else {
        let answer = PutAnswer {
            name: &name,
            created,
            plates: checked.plates.len(),
            matching,
            max_edits,
            historical_hits: None,
            historical_total: None,
            historical_total_relation: None,
        };
        return Ok((status, Json(json!(answer))).into_response());
    };
    // The search runs on this node's engine: take the read barrier so it holds every read
    // acknowledged before the hotlist was.
    let (engine, _) = prepare(&state, Consistency::Linearizable, &tenant_name).await?;
    let from = now_ms().saturating_sub((days as i64).saturating_mul(86_400_000));
    let to = default_to();
    let terms = Terms {
        kind: "hotlist",
        r#match: Some(matching),
        hotlist: Some(name.clone()),
        from: Some(from),
        to: Some(to),
        ..Terms::default()
    };
    let plates = checked.plates.clone();
    let matching_mode = checked.matching;
    let tenant_id = tenant.id;
    let (hits, body) = blocking(move || {
        let (reads, more) = historical_hits(&engine, tenant_id, &plates, matching_mode, from, to)?;
        let answer = PutAnswer {
            name: &name,
            created,
            plates: plates.len(),
            matching,
            max_edits,
            historical_total: Some(reads.len()),
            historical_total_relation: Some(if more { "gte" } else { "eq" }),
            historical_hits: Some(reads.iter().map(Hit::of).collect()),
        };
        Ok((reads.len() as u64, render(&answer)?))
    })
    .await?;
    audit::search(
        &state,
        &caller,
        &tenant_name,
        &terms,
        &audited.0,
        &audited.1,
        hits,
    )
    .await?;
    tracing::debug!(
        took_ms = started.elapsed().as_millis() as u64,
        "hotlist stored with its look back"
    );
    Ok((
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

fn hotlist_json(list: &sightline_storage::engine::Hotlist) -> Value {
    let (matching, max_edits) = match_name(list.matching);
    let mut body = json!({"name": list.name, "match": matching, "plates": list.plates});
    if let Some(k) = max_edits {
        body["max_edits"] = json!(k);
    }
    body
}

/// `GET /v1/tenants/{tenant}/hotlists/{name}`: its plates and match mode.
pub async fn get_hotlist(
    State(state): State<AppState>,
    Path((tenant_name, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    let (engine, tenant) = prepare(&state, Consistency::Linearizable, &tenant_name).await?;
    let lists = blocking(move || engine.hotlists(tenant.id).map_err(ApiError::internal)).await?;
    lists
        .iter()
        .find(|l| l.name == name)
        .map(|l| Json(hotlist_json(l)))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("tenant {tenant_name:?} has no hotlist {name:?}"),
            )
        })
}

/// `GET /v1/tenants/{tenant}/hotlists`: every hotlist's name, match mode and plate count.
pub async fn list_hotlists(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (engine, tenant) = prepare(&state, Consistency::Linearizable, &tenant_name).await?;
    let lists = blocking(move || engine.hotlists(tenant.id).map_err(ApiError::internal)).await?;
    let hotlists: Vec<Value> = lists
        .iter()
        .map(|l| {
            let mut body = hotlist_json(l);
            body["plates"] = json!(l.plates.len());
            body
        })
        .collect();
    Ok(Json(json!({ "hotlists": hotlists })))
}

/// `DELETE /v1/tenants/{tenant}/hotlists/{name}`: 200, or 404 when there is none.
pub async fn delete_hotlist(
    State(state): State<AppState>,
    Path((tenant_name, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    let tenant = tenant_for_write(&state, &tenant_name).await?;
    let command = Command::DeleteHotlist {
        tenant: tenant.id,
        name: name.clone(),
    };
    match state.cluster.propose(command).await? {
        ApplyOutcome::Hotlist { existed: true } => Ok(Json(json!({"name": name, "deleted": true}))),
        ApplyOutcome::Hotlist { existed: false } => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("tenant {tenant_name:?} has no hotlist {name:?}"),
        )),
        ApplyOutcome::Rejected { reason } => Err(ApiError::new(ErrorCode::TenantNotFound, reason)),
        other => Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> HotlistBody {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn plates_are_normalized_and_deduplicated() {
        let checked = check(&body(json!({"plates": ["abc 123", "ABC-123", "xyz9"]}))).unwrap();
        assert_eq!(checked.plates, ["ABC123", "XYZ9"]);
        assert_eq!(checked.matching, HotlistMatch::Exact);
        assert!(checked.lookback.is_none());
    }

    #[test]
    fn names_are_checked() {
        for good in ["stolen", "amber-2026.11", "a_b"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "has space", "slash/name", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
