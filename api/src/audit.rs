//! The audit trail of searches: every investigator search goes through [`search`] with
//! the caller, the tenant, what was asked, the case number, the reason and the hit count.
//! Admin actions and denied requests go through [`request`]. Until the hash-chained audit
//! store lands each is a structured `tracing` event on the `sightline::audit` target.
//!
//! A plate in a query never appears in the clear: it is logged as the tenant's keyed token
//! of the plate (or of the pattern text), which an auditor holding the tenant's keys can
//! recompute for a plate they are asked about, and nobody else can invert. The text of a
//! manifest search is logged the same way.

use serde::Serialize;
use sightline_storage::prepare::plate_token;
use sightline_storage::Engine;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::AppState;

/// What a search asked, with plates tokenized.
#[derive(Debug, Default, Serialize)]
pub struct Terms {
    /// Search kind: `plates`, `area`, `co-location`, `convoy`, `frequency`, `hotlist`,
    /// `manifests`.
    pub kind: &'static str,
    /// Match mode, for plate searches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#match: Option<&'static str>,
    /// The hotlist whose plates were searched (a hotlist's look back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotlist: Option<String>,
    /// Keyed token (hex) of the plate or pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plate_token: Option<String>,
    /// Keyed token (hex) of a full-text query's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_token: Option<String>,
    /// Area shapes named (`circle`, `polygon`, ...), not their coordinates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<&'static str>,
    /// Cameras filtered on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cameras: Vec<String>,
    /// Whether vehicle attributes were filtered on.
    pub vehicle: bool,
    /// Time range, UTC ms (None when open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    /// Time range end, UTC ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
}

/// The keyed token (hex) of a plate or pattern text for the audit record.
pub fn token_of(engine: &Engine, tenant: u32, text: &str) -> Option<String> {
    let keys = engine.tenant_keys(tenant).ok()?;
    Some(hex::encode(plate_token(&keys, text)))
}

/// Records one search by `caller`. Until the hash-chained audit store lands it cannot
/// fail; its signature is the store's (a search answers only once its record is kept).
pub async fn search(
    _state: &AppState,
    caller: &Principal,
    tenant: &str,
    terms: &Terms,
    case_number: &str,
    reason: &str,
    hits: u64,
) -> Result<(), ApiError> {
    let terms = serde_json::to_string(terms).unwrap_or_default();
    tracing::info!(
        target: "sightline::audit",
        subject = %caller.claims.sub,
        token_id = %caller.claims.jti,
        role = caller.claims.role.as_str(),
        tenant,
        terms = %terms,
        case_number,
        reason,
        hits,
        "search"
    );
    Ok(())
}

/// Records an admin action or a denied request (`outcome` is the HTTP status answered):
/// called by the access middleware ([`crate::routes::authorize`]); never fails the request.
pub async fn request(
    _state: &AppState,
    caller: Option<&Principal>,
    tenant: Option<&str>,
    action: &str,
    outcome: u16,
) {
    tracing::info!(
        target: "sightline::audit",
        subject = caller.map(|c| c.claims.sub.as_str()).unwrap_or("anonymous"),
        token_id = caller.map(|c| c.claims.jti.as_str()).unwrap_or(""),
        role = caller.map(|c| c.claims.role.as_str()).unwrap_or(""),
        tenant = tenant.unwrap_or(""),
        action,
        outcome,
        "request"
    );
}
