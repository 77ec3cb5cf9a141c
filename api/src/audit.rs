//! The audit trail: every search ([`search`]), admin action and denied request
//! ([`request`]) becomes an entry of the hash-chained audit store
//! (`sightline_storage::audit`), appended through Raft by the group-committing
//! [`log::AuditLog`]; `GET /v1/admin/audit` and `GET /v1/admin/audit/verify` read it
//! ([`route`]).
//!
//! An entry is sealed here, on the node that answers the request, before it is proposed:
//! with the tenant's current data key, or for the cluster log (requests that name no
//! existing tenant, cluster administration) with the key derived from the cluster's
//! signing key. Its time is this node's clock. The Raft log and the disk hold only the
//! sealed bytes.
//!
//! A plate in a query never appears in the clear: [`Terms`] names it as the tenant's keyed
//! token of the plate (or of the pattern text), which an auditor holding the tenant's keys
//! can recompute for a plate they are asked about, and nobody else can invert. The text of
//! a manifest search is tokenized the same way.

pub mod log;
pub mod route;

use std::sync::Arc;

use serde::Serialize;
use sightline_storage::audit::{self as store, AuditEntry, CLUSTER_LOG};
use sightline_storage::command::SealedAuditEntry;
use sightline_storage::prepare::plate_token;
use sightline_storage::time::now_ms;
use sightline_storage::{Engine, SharedEngine};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::{AppState, Cluster};

pub use log::AuditLog;

/// What a search asked, with plates tokenized.
#[derive(Debug, Default, Clone, Serialize)]
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
    /// The other tenants searched under their grants (in the searching tenant's entry).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
    /// The tenant that searched this one's data under a grant (in the owner's entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grantee: Option<String>,
}

/// The keyed token (hex) of a plate or pattern text for the audit record.
pub fn token_of(engine: &Engine, tenant: u32, text: &str) -> Option<String> {
    let keys = engine.tenant_keys(tenant).ok()?;
    Some(hex::encode(plate_token(&keys, text)))
}

/// The longest text an entry keeps of a caller-supplied field (an action or an unknown
/// tenant's name from a path): enough for any route, bounded for a hostile one.
const MAX_FIELD: usize = 256;

fn bounded(text: &str) -> String {
    let mut end = text.len().min(MAX_FIELD);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Seals `entry` for `log` with this node's clock and a fresh id; `None` when the log has
/// no key here yet (the cluster log before the signing key exists).
pub fn seal(
    engine: &Engine,
    log: u32,
    entry: &AuditEntry,
) -> Result<Option<SealedAuditEntry>, ApiError> {
    let key = engine.audit_sealing_key(log).map_err(ApiError::internal)?;
    Ok(key.map(|key| store::seal(&key, log, now_ms(), rand::random(), entry)))
}

/// The appender for [`AppState::audit`]: proposes through `cluster`, and seals the
/// cluster-log record of lost background entries with `engine`'s keys.
pub fn audit_log(engine: SharedEngine, cluster: Arc<dyn Cluster>) -> Arc<AuditLog> {
    AuditLog::new(cluster, move |dropped| {
        let entry = AuditEntry {
            action: "audit.dropped".into(),
            hits: Some(dropped),
            outcome: 0,
            ..AuditEntry::default()
        };
        seal(&engine.load(), CLUSTER_LOG, &entry).ok().flatten()
    })
}

fn caller_fields(entry: &mut AuditEntry, caller: &Principal) {
    entry.subject = Some(caller.claims.sub.clone());
    entry.token_id = Some(caller.id);
    entry.role = Some(caller.claims.role.as_str().to_string());
}

/// Records one search in `tenant`'s log and waits until the record is committed: a search
/// answers nothing without its audit record (an error here fails the search).
pub async fn search(
    state: &AppState,
    caller: &Principal,
    tenant: &str,
    terms: &Terms,
    case_number: &str,
    reason: &str,
    hits: u64,
) -> Result<(), ApiError> {
    let engine = state.engine();
    let info = engine
        .tenant(tenant)
        .ok_or_else(|| ApiError::tenant_not_found(tenant))?;
    let mut entry = AuditEntry {
        tenant: Some(tenant.to_string()),
        action: format!("search.{}", terms.kind),
        terms: Some(serde_json::to_string(terms).map_err(ApiError::internal)?),
        case_number: Some(case_number.to_string()),
        reason: Some(reason.to_string()),
        hits: Some(hits),
        outcome: 200,
        ..AuditEntry::default()
    };
    caller_fields(&mut entry, caller);
    let sealed = seal(&engine, info.id, &entry)?
        .ok_or_else(|| ApiError::internal(format!("tenant {} has no data key", info.id)))?;
    state.audit.append(sealed).await
}

/// Records an admin action or a denied request (`outcome`: the HTTP status answered) in
/// `tenant`'s log, or the cluster log when it names no existing tenant. Never fails the
/// request: it waits for the commit at most [`log::RECORD_WAIT`]; while the cluster takes
/// no writes the entry stays queued (bounded, see [`log`]); an entry that cannot be sealed
/// yet (the cluster log before the signing key exists, when every token is refused with
/// 503 anyway) is logged instead.
pub async fn request(
    state: &AppState,
    caller: Option<&Principal>,
    tenant: Option<&str>,
    action: &str,
    outcome: u16,
) {
    let engine = state.engine();
    let log = tenant
        .and_then(|t| engine.tenant(t))
        .map_or(CLUSTER_LOG, |info| info.id);
    let mut entry = AuditEntry {
        tenant: tenant.map(bounded),
        action: bounded(action),
        outcome,
        ..AuditEntry::default()
    };
    if let Some(caller) = caller {
        caller_fields(&mut entry, caller);
    }
    let summary = format!(
        "{} outcome={outcome} subject={} token={}",
        entry.action,
        entry.subject.as_deref().unwrap_or("-"),
        caller.map_or("-", |c| c.claims.jti.as_str()),
    );
    match seal(&engine, log, &entry) {
        Ok(Some(sealed)) => state.audit.record(sealed, summary).await,
        Ok(None) => tracing::warn!(target: "sightline::audit", entry = %summary,
            "audit entry not stored: the cluster has no signing key yet"),
        Err(e) => tracing::error!(target: "sightline::audit", entry = %summary,
            error = %e.message, "audit entry not stored"),
    }
}
