//! Cross-agency grants (api.md "Admin and operations"):
//! `PUT /v1/admin/tenants/{tenant}/grants/{grantee}` `{"kinds": ["reads"], "expires_at"}`
//! lets the grantee's investigators search the owner's (`{tenant}`'s) reads with
//! `"tenants": [owner]` in a plate or area search body; `DELETE` revokes it; `GET
//! /v1/admin/tenants/{tenant}/grants` lists what the owner granted. Replicated, and each
//! answer waits until this node has applied the change; a search under a grant first
//! catches up with the leader ([`authorize`]), so a revocation or an expiry takes effect at
//! once on every node.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sightline_storage::command::GrantKind;
use sightline_storage::time::{format_rfc3339_ms, now_ms};
use sightline_storage::{ApplyOutcome, Command, Engine, TenantInfo};

use crate::body::{parse_request, time};
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// The longest a grant may run: a year (renew it to go on).
pub const MAX_GRANT_MS: i64 = 366 * 86_400_000;

/// The most owners one search may name.
pub const MAX_GRANT_TENANTS: usize = 16;

/// `PUT /v1/admin/tenants/{tenant}/grants/{grantee}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// What the grantee may search: `["reads"]`.
    pub kinds: Vec<String>,
    /// When the grant ends: RFC 3339 or date math (`now+30d`), in the future, at most a
    /// year ahead.
    pub expires_at: String,
}

fn tenant(engine: &Engine, name: &str) -> Result<TenantInfo, ApiError> {
    engine
        .tenant(name)
        .ok_or_else(|| ApiError::tenant_not_found(name))
}

/// Proposes the grant change `command(owner id, grantee id)` for two existing tenants and
/// waits until this node has applied it too (it was applied on the leader), so the answer
/// holds on this node from then on.
async fn change_grant(
    state: &AppState,
    owner: &str,
    grantee: &str,
    command: impl FnOnce(u32, u32) -> Command,
) -> Result<ApplyOutcome, ApiError> {
    let engine = state.engine();
    let (owner, grantee) = (tenant(&engine, owner)?, tenant(&engine, grantee)?);
    let outcome = state.cluster.propose(command(owner.id, grantee.id)).await?;
    state.cluster.read_barrier().await?;
    Ok(outcome)
}

/// A grant as answered; `active` by the same clock a search under it is judged by.
fn grant_json(
    engine: &Engine,
    owner: &str,
    grantee: &str,
    kinds: &[GrantKind],
    expires_at: i64,
) -> Value {
    json!({
        "owner": owner,
        "grantee": grantee,
        "kinds": kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "expires_at": format_rfc3339_ms(expires_at),
        "active": expires_at > engine.grant_time(now_ms()),
    })
}

/// `PUT /v1/admin/tenants/{tenant}/grants/{grantee}`: creates or replaces the grant.
pub async fn put_grant(
    State(state): State<AppState>,
    Path((owner_name, grantee_name)): Path<(String, String)>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body: GrantBody = parse_request(body)?;
    if body.kinds.is_empty() {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "kinds",
            "must name at least one kind (\"reads\")",
        ));
    }
    let mut kinds = Vec::with_capacity(body.kinds.len());
    for (i, name) in body.kinds.iter().enumerate() {
        kinds.push(GrantKind::parse(name).ok_or_else(|| {
            ApiError::field(
                ErrorCode::InvalidRequest,
                &format!("kinds[{i}]"),
                format!("{name:?} is not a kind that can be granted (\"reads\")"),
            )
        })?);
    }
    let now = now_ms();
    let expires_at = time("expires_at", Some(&body.expires_at))?.unwrap_or(now);
    if expires_at <= now {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "expires_at",
            "must be in the future",
        ));
    }
    if expires_at - now > MAX_GRANT_MS {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "expires_at",
            "may be at most 366 days ahead",
        ));
    }
    if owner_name == grantee_name {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "grantee",
            "must be another tenant than the owner",
        ));
    }
    let requested = kinds.clone();
    let outcome = change_grant(&state, &owner_name, &grantee_name, |owner, grantee| {
        Command::PutGrant {
            owner,
            grantee,
            kinds: requested,
            expires_at,
        }
    })
    .await?;
    let replaced = match outcome {
        ApplyOutcome::Granted { replaced } => replaced,
        other => return Err(ApiError::internal(format!("grant applied as {other:?}"))),
    };
    kinds.sort();
    kinds.dedup();
    let mut answer = grant_json(
        &state.engine(),
        &owner_name,
        &grantee_name,
        &kinds,
        expires_at,
    );
    answer["replaced"] = json!(replaced);
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(answer)))
}

/// `DELETE /v1/admin/tenants/{tenant}/grants/{grantee}`: 404 `not_found` when there is no
/// grant between them.
pub async fn delete_grant(
    State(state): State<AppState>,
    Path((owner_name, grantee_name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let outcome = change_grant(&state, &owner_name, &grantee_name, |owner, grantee| {
        Command::RevokeGrant { owner, grantee }
    })
    .await?;
    match outcome {
        ApplyOutcome::GrantRevoked { existed: true } => Ok(Json(
            json!({"owner": owner_name, "grantee": grantee_name, "revoked": true}),
        )),
        ApplyOutcome::GrantRevoked { existed: false } => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("tenant {owner_name} has no grant to {grantee_name}"),
        )),
        other => Err(ApiError::internal(format!(
            "grant revocation applied as {other:?}"
        ))),
    }
}

/// `GET /v1/admin/tenants/{tenant}/grants`: what the tenant granted, expired ones included
/// (`"active": false`).
pub async fn list_grants(
    State(state): State<AppState>,
    Path(owner_name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let engine = state.engine();
    let owner = tenant(&engine, &owner_name)?;
    let names: std::collections::HashMap<u32, String> = engine
        .tenants()
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let grants: Vec<Value> = engine
        .grants_of(owner.id)
        .into_iter()
        .filter_map(|(grantee, grant)| {
            let name = names.get(&grantee)?;
            Some(grant_json(
                &engine,
                &owner_name,
                name,
                &grant.kinds,
                grant.expires_at,
            ))
        })
        .collect();
    Ok(Json(json!({"owner": owner_name, "grants": grants})))
}

/// The tenants a search may read for `grantee`: itself first, then each owner named in
/// `tenants` whose grant of `kind` is in force here. A name that is not a tenant and a
/// tenant that granted nothing answer the same 403 naming `tenants[i]`, so the answer says
/// nothing of whether another tenant exists. Takes a read barrier first, so that a grant
/// revoked or expired anywhere is refused here too.
pub async fn authorize(
    state: &AppState,
    grantee: &str,
    tenants: &Option<Vec<String>>,
    kind: GrantKind,
) -> Result<Vec<TenantInfo>, ApiError> {
    let names = match tenants {
        Some(names) if !names.is_empty() => names,
        _ => {
            let engine = state.engine();
            return Ok(vec![tenant(&engine, grantee)?]);
        }
    };
    if names.len() > MAX_GRANT_TENANTS {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "tenants",
            format!("may name at most {MAX_GRANT_TENANTS} tenants"),
        ));
    }
    state.cluster.read_barrier().await?;
    let engine = state.engine();
    let me = tenant(&engine, grantee)?;
    let now = now_ms();
    let mut out = vec![me.clone()];
    for (i, name) in names.iter().enumerate() {
        if name == grantee || out.iter().any(|t| &t.name == name) {
            continue;
        }
        let granted = engine
            .tenant(name)
            .filter(|owner| engine.active_grant(owner.id, me.id, kind, now).is_some());
        match granted {
            Some(owner) => out.push(owner),
            None => {
                return Err(ApiError::field(
                    ErrorCode::Forbidden,
                    &format!("tenants[{i}]"),
                    "has no grant in force to this tenant",
                ))
            }
        }
    }
    Ok(out)
}
