//! Token administration (admin only; a tenant's admin for its own tenant): `POST /v1/admin/tokens` mints a signed token for a
//! named person or service, `DELETE /v1/admin/tokens/{id}` revokes one on every node (a
//! replicated `Command::RevokeToken`). Minting needs no consensus: the token is signed with
//! the replicated key and stored nowhere; what it grants is in the token itself, bounded by
//! the node's maximum lifetime ([`crate::AppState::max_token_ttl_ms`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use sightline_storage::time::format_rfc3339_ms;
use sightline_storage::{ApplyOutcome, Command};

use crate::admin::valid_tenant_name;
use crate::auth::{self, Claims, Principal, Role};
use crate::body::parse_request;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// `POST /v1/admin/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Who the token is for (a person or a service), as the audit log names them.
    pub subject: String,
    /// A tenant name, or `*`.
    pub tenant: String,
    /// One of the five roles.
    pub role: String,
    /// Lifetime: `90s`, `15m`, `1h`, `1d` (at most the node's maximum).
    pub ttl: String,
}

/// Parses `90s`, `15m`, `8h`, `1d` into ms.
pub fn parse_ttl(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    (n > 0).then(|| n.checked_mul(ms)).flatten()
}

/// Signs a token with this node's copy of the cluster's signing key (503 until it has one).
pub fn mint(
    state: &AppState,
    subject: &str,
    tenant: &str,
    role: Role,
    ttl_ms: Option<i64>,
) -> Result<(String, Claims), ApiError> {
    let key = state
        .engine()
        .signing_key()
        .ok_or(auth::TokenError::NoKey)?;
    Ok(auth::issue(&key, subject, tenant, role, ttl_ms))
}

/// `POST /v1/admin/tokens`.
pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request: TokenRequest = parse_request(body)?;
    // A tenant's admin mints tokens for that tenant only; `*` takes a cluster admin.
    if !caller.covers(&request.tenant) || (request.tenant == "*" && caller.claims.tenant != "*") {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this token may mint tokens for its own tenant only",
        ));
    }
    let subject = request.subject.trim();
    if subject.is_empty() || subject.len() > 128 {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "subject",
            "must name the person or service, 1-128 bytes",
        ));
    }
    let role = Role::parse(&request.role).ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidRequest,
            "role",
            "must be ingest, investigator, analyst, auditor or admin",
        )
    })?;
    if request.tenant != "*" {
        if !valid_tenant_name(&request.tenant) {
            return Err(ApiError::field(
                ErrorCode::InvalidRequest,
                "tenant",
                "must be a tenant name or *",
            ));
        }
        if state.engine().tenant(&request.tenant).is_none() {
            // Maybe created a moment ago through another node: catch up, then look again.
            state.cluster.read_barrier().await?;
            if state.engine().tenant(&request.tenant).is_none() {
                return Err(ApiError::tenant_not_found(&request.tenant));
            }
        }
    }
    let ttl = parse_ttl(&request.ttl).ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidRequest,
            "ttl",
            "must be a positive duration such as 90s, 15m, 1h or 1d",
        )
    })?;
    if ttl > state.max_token_ttl_ms {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "ttl",
            format!(
                "may be at most {} s on this cluster",
                state.max_token_ttl_ms / 1_000
            ),
        ));
    }
    let (token, claims) = mint(&state, subject, &request.tenant, role, Some(ttl))?;
    tracing::info!(target: "sightline::audit", action = "token_create", by = %caller.claims.sub,
        id = %claims.jti, subject = %claims.sub, tenant = %claims.tenant, role = role.as_str(), "token issued");
    Ok((StatusCode::CREATED, Json(token_json(&token, &claims))))
}

/// The answer describing a freshly signed token (`POST /v1/admin/tokens`, and `sightline
/// token create --output json`).
pub fn token_json(token: &str, claims: &Claims) -> Value {
    json!({
        "token": token,
        "id": claims.jti,
        "subject": claims.sub,
        "tenant": claims.tenant,
        "role": claims.role.as_str(),
        "expires_at": claims.exp.map(format_rfc3339_ms),
    })
}

/// `DELETE /v1/admin/tokens/{id}`: replicated, so every node refuses the token from the
/// moment it applies the revocation.
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let bytes: [u8; 16] = hex::decode(&id)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            ApiError::field(ErrorCode::InvalidRequest, "id", "must be 32 hex characters")
        })?;
    let outcome = state
        .cluster
        .propose(Command::RevokeToken { id: bytes })
        .await?;
    // Applied on the leader; make this node refuse the token too before answering.
    state.cluster.read_barrier().await?;
    let already = match outcome {
        ApplyOutcome::Revoked { already } => already,
        other => {
            return Err(ApiError::internal(format!(
                "revocation applied as {other:?}"
            )))
        }
    };
    tracing::info!(target: "sightline::audit", action = "token_revoke", by = %caller.claims.sub, id = %id, "token revoked");
    Ok(Json(
        json!({"id": id, "revoked": true, "already_revoked": already}),
    ))
}

/// Makes sure the cluster has a signing key, proposing one (wrapped by the master key) if
/// none is applied here; returns once this node holds it. Any node may call it: the first
/// key applied wins, and a second proposal is rejected without effect.
pub async fn ensure_signing_key(state: &AppState) -> Result<[u8; 32], ApiError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(key) = state.engine().signing_key() {
            return Ok(key);
        }
        let wrapped =
            sightline_storage::keyring::generate_signing_key(&state.engine().wrapping_key());
        match state
            .cluster
            .propose(Command::SetSigningKey { wrapped })
            .await
        {
            Ok(_) => {
                // Applied on the leader; wait for this node to apply it too.
                let _ = state.cluster.read_barrier().await;
            }
            Err(e) if std::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "signing key not proposed yet; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
        if std::time::Instant::now() >= deadline {
            return state
                .engine()
                .signing_key()
                .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "no signing key"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90s"), Some(90_000));
        assert_eq!(parse_ttl("15m"), Some(900_000));
        assert_eq!(parse_ttl("1h"), Some(3_600_000));
        assert_eq!(parse_ttl("2d"), Some(172_800_000));
        for bad in ["", "h", "0h", "-1h", "1w", "1.5h", "99999999999999999d"] {
            assert_eq!(parse_ttl(bad), None, "{bad}");
        }
    }
}
