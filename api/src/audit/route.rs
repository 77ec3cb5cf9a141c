//! `GET /v1/admin/audit?tenant=&from=&to=&limit=&cursor=&order=`: a log's entries with
//! their hash chain, opened; `GET /v1/admin/audit/verify[?tenant=]`: the chain recomputed
//! on this node. Both for an `auditor` of the tenant or an `admin` (the cluster log,
//! `tenant=_cluster`, and verifying every log need a token for every tenant, `*`): the
//! route table admits the two roles (`Access::Handler`) and the handler checks the tenant
//! the query names against the caller the middleware attached. Each answers after a read
//! barrier, so an entry committed through any node is seen.
//!
//! Pages go by entry time (the proposing node's clock), ties by seq, **oldest first**
//! unless `order=newest`; `next_cursor` resumes after the page's last entry and is bound to
//! its log. Each entry carries its `seq`, `hash` and `prev_hash` (the previous entry's
//! stored hash), so a reader can follow the links; `verify` recomputes the hashes.

use axum::extract::{RawQuery, State};
use axum::{Extension, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sightline_storage::audit::{ChainReport, CLUSTER_LOG, CLUSTER_LOG_NAME};
use sightline_storage::engine::{AuditQuery, AuditRecord};
use sightline_storage::time::format_rfc3339_ms;

use crate::auth::{self, Principal, Role};
use crate::body::{bounded, time};
use crate::error::{ApiError, ErrorCode};
use crate::search::blocking;
use crate::AppState;

/// Entries per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u64 = 100;
/// The largest `limit`.
pub const MAX_LIMIT: u64 = 1_000;

/// The query parameters, each at most once, unknown ones refused by name.
fn params<'a>(
    query: &'a Option<String>,
    known: &[&str],
) -> Result<Vec<(&'a str, String)>, ApiError> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !known.contains(&name) {
            return Err(ApiError::field(
                ErrorCode::InvalidRequest,
                name,
                "unknown query parameter",
            ));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::field(
                ErrorCode::InvalidRequest,
                name,
                "is given twice",
            ));
        }
        let value = percent_decode(value).ok_or_else(|| {
            ApiError::field(
                ErrorCode::InvalidRequest,
                name,
                "is not valid percent-encoded UTF-8",
            )
        })?;
        out.push((name, value));
    }
    Ok(out)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn get<'a>(params: &'a [(&str, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// 403 unless `caller` may read `tenant`'s log (or, with `None`, every log).
fn check_access(caller: &Principal, tenant: Option<&str>) -> Result<(), ApiError> {
    auth::require(caller, &[Role::Auditor, Role::Admin], tenant)?;
    if tenant.is_none() && caller.claims.tenant != "*" {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "verifying every log needs a token for every tenant",
        ));
    }
    Ok(())
}

/// The log a tenant name designates (404 for an unknown tenant).
fn log_of(state: &AppState, tenant: &str) -> Result<u32, ApiError> {
    if tenant == CLUSTER_LOG_NAME {
        return Ok(CLUSTER_LOG);
    }
    state
        .engine()
        .tenant(tenant)
        .map(|t| t.id)
        .ok_or_else(|| ApiError::tenant_not_found(tenant))
}

fn encode_cursor(log: u32, (at, seq): (i64, u64)) -> String {
    let bytes = [
        &log.to_be_bytes()[..],
        &at.to_be_bytes(),
        &seq.to_be_bytes(),
    ]
    .concat();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_cursor(log: u32, text: &str) -> Result<(i64, u64), ApiError> {
    let bad = || {
        ApiError::field(
            ErrorCode::InvalidCursor,
            "cursor",
            "was not issued for this log's audit entries",
        )
    };
    let bytes: [u8; 20] = URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let (l, rest) = bytes.split_at(4);
    if l != log.to_be_bytes() {
        return Err(bad());
    }
    let at = i64::from_be_bytes(rest[0..8].try_into().map_err(|_| bad())?);
    let seq = u64::from_be_bytes(rest[8..16].try_into().map_err(|_| bad())?);
    Ok((at, seq))
}

fn record_json(record: &AuditRecord) -> Value {
    let mut out = json!({
        "seq": record.seq,
        "hash": hex::encode(record.hash),
        "prev_hash": hex::encode(record.prev_hash),
        "time": format_rfc3339_ms(record.at),
    });
    match &record.entry {
        Ok(entry) => {
            let terms = entry
                .terms
                .as_deref()
                .map(|t| serde_json::from_str::<Value>(t).unwrap_or(Value::String(t.to_string())));
            let fields = json!({
                "subject": entry.subject,
                "token_id": entry.token_id.map(hex::encode),
                "role": entry.role,
                "tenant": entry.tenant,
                "action": entry.action,
                "terms": terms,
                "case_number": entry.case_number,
                "reason": entry.reason,
                "hits": entry.hits,
                "outcome": entry.outcome,
            });
            if let (Some(out), Some(fields)) = (out.as_object_mut(), fields.as_object()) {
                out.extend(fields.clone());
            }
        }
        Err(why) => out["error"] = json!(why),
    }
    out
}

/// `GET /v1/admin/audit`.
pub async fn get_audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = params(
        &query,
        &["tenant", "from", "to", "limit", "cursor", "order"],
    )?;
    let tenant = get(&params, "tenant")
        .ok_or_else(|| ApiError::field(ErrorCode::InvalidRequest, "tenant", "is required"))?
        .to_string();
    check_access(&caller, Some(&tenant))?;
    let from = time("from", get(&params, "from"))?.unwrap_or(i64::MIN);
    let to = time("to", get(&params, "to"))?.unwrap_or(i64::MAX);
    if from > to {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "from",
            "must not be after to",
        ));
    }
    let limit = match get(&params, "limit") {
        None => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            ApiError::field(
                ErrorCode::InvalidRequest,
                "limit",
                format!("must be an integer from 1 to {MAX_LIMIT}"),
            )
        })?),
    };
    let limit = bounded("limit", limit, 1, MAX_LIMIT, DEFAULT_LIMIT)? as usize;
    let newest_first = match get(&params, "order") {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(_) => {
            return Err(ApiError::field(
                ErrorCode::InvalidRequest,
                "order",
                "must be \"oldest\" or \"newest\"",
            ))
        }
    };
    state.cluster.read_barrier().await?;
    let log = log_of(&state, &tenant)?;
    let after = get(&params, "cursor")
        .map(|c| decode_cursor(log, c))
        .transpose()?;
    let engine = state.engine();
    let query = AuditQuery {
        from,
        to,
        after,
        limit,
        newest_first,
    };
    let page = blocking(move || engine.audit_page(log, &query).map_err(ApiError::internal)).await?;
    Ok(Json(json!({
        "tenant": tenant,
        "order": if newest_first { "newest" } else { "oldest" },
        "entries": page.records.iter().map(record_json).collect::<Vec<_>>(),
        "next_cursor": page.next.map(|n| encode_cursor(log, n)),
        "chain": {
            "first_seq": page.chain.first_seq,
            "next_seq": page.chain.next_seq,
            "head_hash": hex::encode(page.chain.head_hash),
        },
    })))
}

/// A chain report as JSON.
pub fn report_json(report: &ChainReport) -> Value {
    json!({
        "tenant": report.name,
        "ok": report.ok(),
        "entries": report.entries,
        "first_seq": report.chain.map(|c| c.first_seq),
        "next_seq": report.chain.map(|c| c.next_seq),
        "head_hash": report.chain.map(|c| hex::encode(c.head_hash)),
        "broken": report.broken.map(|b| json!({
            "seq": b.seq,
            "problem": b.problem,
            "message": b.problem.to_string(),
        })),
    })
}

/// `GET /v1/admin/audit/verify[?tenant=]`: recomputes the chain of one log, or of every
/// log, on this node.
pub async fn verify_audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = params(&query, &["tenant"])?;
    let tenant = get(&params, "tenant").map(str::to_string);
    check_access(&caller, tenant.as_deref())?;
    state.cluster.read_barrier().await?;
    if let Some(tenant) = &tenant {
        log_of(&state, tenant)?;
    }
    let engine = state.engine();
    let reports = blocking(move || {
        engine
            .verify_audit(tenant.as_deref())
            .map_err(ApiError::internal)
    })
    .await?;
    Ok(Json(json!({
        "ok": reports.iter().all(ChainReport::ok),
        "logs": reports.iter().map(report_json).collect::<Vec<_>>(),
    })))
}
