//! Bearer tokens on requests (api.md "Auth"): issuing them, reading `Authorization: Bearer
//! <token>`, refusing revoked ones, and the role check of every route.
//!
//! The token format, its signing and its verification are `sightline_wire::auth`'s, whose
//! docs give the format and why it is HMAC-SHA-256: they parse untrusted text, so they live
//! in that RocksDB-free crate, which `fuzz/` builds, and are re-exported here.
//!
//! **Verification** answers 401 for a missing, malformed, forged, expired or revoked token
//! (one message each, never echoing the token) and yields a [`Principal`]. Expiry is
//! checked against this node's clock: a node whose clock runs behind accepts a token a
//! little past its expiry, by the skew. Token text is never logged: only its id (`jti`).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use sightline_storage::Engine;
pub use sightline_wire::auth::{sign, verify, Claims, Principal, Role, TokenError};

use crate::error::{ApiError, ErrorCode};

/// Longest lifetime `POST /v1/admin/tokens` grants by default (24 h).
pub const DEFAULT_MAX_TTL_MS: i64 = 24 * 3_600_000;

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NoKey => ApiError::new(ErrorCode::Unavailable, e.to_string()),
            _ => ApiError::new(ErrorCode::Unauthorized, e.to_string()),
        }
    }
}

/// UTC ms now, from this node's clock (never in `apply`).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A fresh random token id, hex.
pub fn new_token_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A new token for `subject`, signed with `key`, issued now and living `ttl_ms` (`None`:
/// no expiry, the bootstrap admin token only).
pub fn issue(
    key: &[u8; 32],
    subject: &str,
    tenant: &str,
    role: Role,
    ttl_ms: Option<i64>,
) -> (String, Claims) {
    let now = now_ms();
    let claims = Claims {
        sub: subject.to_string(),
        tenant: tenant.to_string(),
        role,
        jti: new_token_id(),
        iat: now,
        exp: ttl_ms.map(|ttl| now.saturating_add(ttl)),
    };
    (sign(key, &claims), claims)
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verifies the request's token against this node's replicated state.
pub fn authenticate(engine: &Engine, headers: &HeaderMap) -> Result<Principal, TokenError> {
    let token = bearer(headers).ok_or(TokenError::Missing)?;
    let key = engine.signing_key().ok_or(TokenError::NoKey)?;
    let principal = verify(&key, token, now_ms())?;
    if engine.is_revoked(&principal.id) {
        return Err(TokenError::Revoked);
    }
    Ok(principal)
}

/// 403 unless `principal` has one of `roles` (and, with `tenant`, covers it).
pub fn require(
    principal: &Principal,
    roles: &[Role],
    tenant: Option<&str>,
) -> Result<(), ApiError> {
    if !roles.contains(&principal.claims.role) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the {} role may not do this",
                principal.claims.role.as_str()
            ),
        ));
    }
    if let Some(tenant) = tenant {
        if !principal.covers(tenant) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this token is not for that tenant",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_parsed() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert("authorization", "Bearer abc ".parse().unwrap());
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
