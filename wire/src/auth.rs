//! Signed bearer tokens: `Authorization: Bearer <token>` (api.md "Auth").
//!
//! **Format.** `sl1.{claims}.{mac}`: `claims` is the base64url (no padding) of a JSON object
//! `{"sub", "tenant", "role", "jti", "iat", "exp"}` (times in UTC ms, `exp` null only for the
//! bootstrap admin token), and `mac` the base64url of HMAC-SHA-256 over `sl1.{claims}` with
//! the cluster's signing key. The key lives in the replicated state, wrapped by the master
//! key (`Command::SetSigningKey`), so every node verifies every token locally, with no call
//! to another node; a revocation (`Command::RevokeToken`) is refused by each node from the
//! moment it applies it.
//!
//! HMAC rather than Ed25519: only the cluster both signs and verifies, and every node
//! already holds the master key that would protect a private key just as it protects this
//! one, so a public key would buy nothing; HMAC-SHA-256 comes from the `hmac`/`sha2` crates
//! already in the tree. The comparison is the `hmac` crate's constant-time `verify_slice`.
//!
//! **Verification** answers 401 for a missing, malformed, forged, expired or revoked token
//! (one message each, never echoing the token) and yields a [`Principal`]. Expiry is
//! checked against this node's clock: a node whose clock runs behind accepts a token a
//! little past its expiry, by the skew. Token text is never logged: only its id (`jti`).
//!
//! Issuing tokens, reading the `Authorization` header, revocation and role checks are
//! `sightline-api`'s (`auth.rs`), which re-exports this module's items.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Prefix of every token of this format.
const PREFIX: &str = "sl1.";

/// The five roles of api.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Writes records only.
    Ingest,
    /// Searches and alerts.
    Investigator,
    /// Aggregates and series only.
    Analyst,
    /// The audit log only.
    Auditor,
    /// Tenant and cluster administration; reads no records.
    Admin,
}

impl Role {
    /// Every role, for tables and tests.
    pub const ALL: [Role; 5] = [
        Role::Ingest,
        Role::Investigator,
        Role::Analyst,
        Role::Auditor,
        Role::Admin,
    ];

    /// Its name in tokens and requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Investigator => "investigator",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The person or service it was issued to.
    pub sub: String,
    /// A tenant name, or `*` for every tenant.
    pub tenant: String,
    /// Its role.
    pub role: Role,
    /// Token id: 32 hex characters.
    pub jti: String,
    /// Issued at, UTC ms.
    pub iat: i64,
    /// Expires at, UTC ms; `None` only for the bootstrap admin token.
    pub exp: Option<i64>,
}

/// The caller a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The claims.
    pub claims: Claims,
    /// The token id as bytes (what a revocation names).
    pub id: [u8; 16],
}

impl Principal {
    /// Whether this caller may act in `tenant`.
    pub fn covers(&self, tenant: &str) -> bool {
        self.claims.tenant == "*" || self.claims.tenant == tenant
    }
}

/// Why a token was refused (each answers 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("this request needs a token: Authorization: Bearer <token>")]
    Missing,
    /// Not a token of this format.
    #[error("the token is malformed")]
    Malformed,
    /// The signature does not match (forged, altered, or from another cluster).
    #[error("the token's signature is not valid")]
    Forged,
    /// Past its expiry.
    #[error("the token has expired")]
    Expired,
    /// Revoked.
    #[error("the token was revoked")]
    Revoked,
    /// The cluster has no signing key yet (it is still starting).
    #[error("this node cannot verify tokens yet; retry")]
    NoKey,
}

fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes a key of any length"),
    }
}

/// Signs `claims` with `key`.
pub fn sign(key: &[u8; 32], claims: &Claims) -> String {
    let json = match serde_json::to_vec(claims) {
        Ok(json) => json,
        Err(e) => unreachable!("claims always serialize: {e}"),
    };
    let body = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json));
    let mut mac = mac(key);
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Checks `token`'s signature and expiry (at `now_ms`) against `key`; revocation is the
/// caller's (it needs the replicated state).
pub fn verify(key: &[u8; 32], token: &str, now_ms: i64) -> Result<Principal, TokenError> {
    let rest = token.strip_prefix(PREFIX).ok_or(TokenError::Malformed)?;
    let (claims_b64, tag_b64) = rest.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag_b64)
        .map_err(|_| TokenError::Malformed)?;
    let mut mac = mac(key);
    mac.update(&token.as_bytes()[..PREFIX.len() + claims_b64.len()]);
    mac.verify_slice(&tag).map_err(|_| TokenError::Forged)?;
    let json = URL_SAFE_NO_PAD
        .decode(claims_b64)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    let id: [u8; 16] = hex::decode(&claims.jti)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(TokenError::Malformed)?;
    if claims.exp.is_some_and(|exp| exp <= now_ms) {
        return Err(TokenError::Expired);
    }
    Ok(Principal { claims, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: Option<i64>) -> Claims {
        Claims {
            sub: "alice".into(),
            tenant: "demo".into(),
            role: Role::Investigator,
            jti: "0123456789abcdef0123456789abcdef".into(),
            iat: 1_000,
            exp,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let key = [7; 32];
        let c = claims(Some(10_000));
        let token = sign(&key, &c);
        assert_eq!(verify(&key, &token, 9_999).unwrap().claims, c);
        assert_eq!(verify(&key, &token, 10_000), Err(TokenError::Expired));
        let forever = sign(&key, &claims(None));
        assert!(verify(&key, &forever, i64::MAX).is_ok());
    }

    #[test]
    fn altered_or_foreign_tokens_are_forged() {
        let key = [7; 32];
        let token = sign(&key, &claims(Some(10_000)));
        assert_eq!(verify(&[8; 32], &token, 0), Err(TokenError::Forged));
        // Another role, same signature.
        let (body, tag) = token.rsplit_once('.').unwrap();
        let mut c = claims(Some(10_000));
        c.role = Role::Admin;
        let other = sign(&key, &c);
        let (other_body, _) = other.rsplit_once('.').unwrap();
        assert_eq!(
            verify(&key, &format!("{other_body}.{tag}"), 0),
            Err(TokenError::Forged)
        );
        assert!(verify(&key, &format!("{body}.{tag}"), 0).is_ok());
        for bad in [
            "",
            "sl1.",
            "sl1.x",
            "Bearer x",
            "sl1.e30.%%%",
            "sl2.e30.AAAA",
        ] {
            assert!(
                matches!(
                    verify(&key, bad, 0),
                    Err(TokenError::Malformed | TokenError::Forged)
                ),
                "{bad:?}"
            );
        }
    }
}
