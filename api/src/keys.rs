//! Key administration: tenant data key rotation, master key rotation and the key status.
//!
//! Access (for the RBAC route table): `POST /v1/admin/tenants/{tenant}/keys/rotate` is for
//! an admin of that tenant or a cluster admin; `POST /v1/admin/keys/rotate-master` and
//! `GET /v1/admin/keys` for a cluster admin (tenant `*`) only.
//!
//! Both rotations are prepared on the node that receives the request, after a read barrier
//! (so it sees every key applied before the call): the new data key, or every wrapped key
//! wrapped again, is fixed before the command is proposed, so `apply` stays deterministic.
//! A command prepared against state that changed before it applied (two rotations racing, a
//! tenant created during a rewrap) is rejected by `apply` on every replica alike and
//! prepared again here, a few times at most.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use sightline_storage::keyring::generate_data_key;
use sightline_storage::{ApplyOutcome, Command, Engine, StorageError};

use crate::error::{ApiError, ErrorCode};
use crate::json::Fields;
use crate::AppState;

/// How often a rotation is prepared again after `apply` rejected a stale one.
const ATTEMPTS: usize = 5;

/// Accepts an empty body or `{}`.
fn no_fields(body: Result<axum::body::Bytes, BytesRejection>) -> Result<(), ApiError> {
    let body = crate::ingest::body_bytes(body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("body is not JSON: {e}")))?;
    Fields::new(&value, &[]).map(|_| ())
}

/// A storage error while preparing a rotation: a missing master key is this node's
/// configuration, named (503: nothing was done; another node, or this one configured, can
/// do it); anything else is ours.
fn preparing(e: StorageError) -> ApiError {
    match e {
        StorageError::MasterKeyMissing { .. } => ApiError::new(
            ErrorCode::Unavailable,
            format!("this node cannot prepare the rotation: {e}"),
        ),
        other => ApiError::internal(other),
    }
}

/// Refuses to wrap on a node that does not hold the cluster's master key: `apply` would
/// reject what it wrapped.
fn check_wrapping(engine: &Engine) -> Result<(), ApiError> {
    match engine.cluster_master() {
        Some(cluster) if !engine.master_key().holds(cluster) => Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "this node was not given the cluster's master key {cluster}; configure it or \
                 send the request to another node"
            ),
        )),
        _ => Ok(()),
    }
}

/// What a rotation's preparation decided.
enum Step {
    /// Propose this command.
    Propose(Command),
    /// Nothing to propose: answer this.
    Done(Value),
}

/// The loop both rotations share: after a read barrier, `prepare` builds the command from
/// the state this node sees (off the async runtime); it is proposed, and `accepted` turns the outcome into the
/// answer once this node has applied it too. A command `apply` rejected as stale (another
/// key change won the race) is prepared again, [`ATTEMPTS`] times at most.
async fn until_applied(
    state: &AppState,
    what: &str,
    prepare: impl Fn(Arc<Engine>) -> Result<Step, ApiError> + Clone + Send + 'static,
    accepted: impl Fn(ApplyOutcome) -> Option<Value>,
) -> Result<Value, ApiError> {
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        state.cluster.read_barrier().await?;
        let (prepare, engine) = (prepare.clone(), state.engine());
        // Reading and wrapping keys is storage and CPU work: off the async runtime.
        let command = match crate::search::blocking(move || prepare(engine)).await? {
            Step::Propose(command) => command,
            Step::Done(answer) => return Ok(answer),
        };
        match state.cluster.propose(command).await? {
            ApplyOutcome::Rejected { reason } => {
                tracing::debug!(%reason, "{what} rejected; preparing it again");
                last = reason;
            }
            outcome => {
                let shown = format!("{outcome:?}");
                let Some(answer) = accepted(outcome) else {
                    return Err(ApiError::internal(format!("{what} applied as {shown}")));
                };
                // Applied on the leader; this node acts on it once it has applied it too.
                state.cluster.read_barrier().await?;
                return Ok(answer);
            }
        }
    }
    Err(ApiError::new(
        ErrorCode::Unavailable,
        format!("the {what} kept racing other key changes ({last}); retry"),
    ))
}

/// `POST /v1/admin/tenants/{tenant}/keys/rotate`: a new data key version for the tenant.
/// From its apply on, a node seals the tenant's new values with it (the answering node as
/// soon as it answers, the others within their replication lag); values sealed under earlier
/// versions stay readable until they expire. Tokens (plate, cell, camera, series, client
/// ids) keep the tenant's token key, so searches find old and new data alike. Answers
/// `{"tenant", "key_version"}`.
pub async fn rotate_tenant_key(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    no_fields(body)?;
    let tenant = name.clone();
    let answer = until_applied(
        &state,
        "rotation",
        move |engine: Arc<Engine>| {
            let name = &tenant;
            let info = engine
                .tenant(name)
                .ok_or_else(|| ApiError::tenant_not_found(name))?;
            check_wrapping(&engine)?;
            let current = engine.key_version(info.id).map_err(preparing)?;
            let version = current.checked_add(1).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "the tenant has no key version left",
                )
            })?;
            let wrapped = generate_data_key(&engine.wrapping_key(), name, version);
            Ok(Step::Propose(Command::RotateTenantKey {
                tenant: info.id,
                version,
                wrapped,
            }))
        },
        |outcome| match outcome {
            ApplyOutcome::KeyRotated { version } => {
                tracing::info!(target: "sightline::audit", action = "tenant_key_rotate", tenant = %name, key_version = version, "tenant data key rotated");
                Some(json!({"tenant": name, "key_version": version}))
            }
            _ => None,
        },
    )
    .await?;
    Ok(Json(answer))
}

/// `POST /v1/admin/keys/rotate-master`: every wrapped key (each tenant's key versions and
/// the token signing key) wrapped again by this node's current master key (`master_key_file`),
/// unwrapped with the key that wrapped it (`previous_master_key_files`). No sealed value
/// changes. Answers `{"master_key", "rewrapped", "changed"}`: the fingerprint every wrapped
/// key now names, how many there are, and whether anything had to change.
pub async fn rotate_master_key(
    State(state): State<AppState>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    no_fields(body)?;
    let master = state.engine().master_key().fingerprint().to_string();
    let answer = until_applied(
        &state,
        "rewrap",
        {
            let master = master.clone();
            move |engine: Arc<Engine>| match engine.prepare_rewrap().map_err(preparing)? {
                Some(command) => Ok(Step::Propose(command)),
                None => {
                    let keys = engine.wrapped_keys().map_err(ApiError::internal)?.len();
                    let answer = json!({"master_key": master, "rewrapped": keys, "changed": false});
                    Ok(Step::Done(answer))
                }
            }
        },
        |outcome| match outcome {
            ApplyOutcome::Rewrapped { keys } => {
                tracing::info!(target: "sightline::audit", action = "master_key_rotate", master_key = %master, keys, "every wrapped key rewrapped by the new master key");
                Some(json!({"master_key": master, "rewrapped": keys, "changed": true}))
            }
            _ => None,
        },
    )
    .await?;
    Ok(Json(answer))
}

/// `GET /v1/admin/keys`: this node's master keys (fingerprints only), the cluster's, and
/// every wrapped key with the master key that wrapped it, read linearizably. Before removing
/// a previous master key from the configs, check that no wrapped key names it.
pub async fn key_status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.cluster.read_barrier().await?;
    let engine = state.engine();
    let master = engine.master_key();
    let wrapped = engine.wrapped_keys().map_err(ApiError::internal)?;
    let keys: Vec<Value> = wrapped
        .iter()
        .map(|k| json!({"slot": k.slot, "master_key": k.master.map(|m| m.to_string())}))
        .collect();
    Ok(Json(json!({
        "master_key": master.fingerprint().to_string(),
        "previous_master_keys": master
            .previous_fingerprints()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        "cluster_master_key": engine.cluster_master().map(|m| m.to_string()),
        "wrapped_keys": keys,
    })))
}
