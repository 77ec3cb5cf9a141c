//! `POST /v1/admin/faults` (api.md): fault injection for chaos testing, answered only by a
//! node started with `--enable-fault-injection` (404 `not_found` otherwise, as if the route
//! did not exist). It drops or delays this node's outgoing Raft traffic to chosen peers and,
//! as extensions, throttles it (`bytes_per_s`: a message waits its size over that rate) and
//! skews this process's wall clock. The body is one of `{"drop_to": [ids]}`,
//! `{"delay_ms": n, "bytes_per_s": m, "to": [ids]}` (either or both of the first two),
//! `{"clock_skew_ms": n}` (or several at once; fields left out keep their current rule), or
//! `{"clear": true}`. The answer is the rules now in force.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::body::parse_request;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

/// The largest delay or skew accepted: one day.
pub const MAX_FAULT_MS: u64 = 86_400_000;

/// Rules for this node's outgoing Raft traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutgoingFaults {
    /// Messages to these node ids are dropped.
    pub drop_to: Vec<u64>,
    /// Messages to these node ids wait `delay_ms` first.
    pub delay_to: Vec<u64>,
    /// See `delay_to`.
    pub delay_ms: u64,
    /// Messages to `delay_to` also wait their size over this rate (0: no throttle).
    pub bytes_per_s: u64,
}

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsBody {
    drop_to: Option<Vec<u64>>,
    delay_ms: Option<u64>,
    bytes_per_s: Option<u64>,
    to: Option<Vec<u64>>,
    clock_skew_ms: Option<i64>,
    clear: Option<bool>,
}

fn answer(faults: &OutgoingFaults) -> Value {
    json!({
        "drop_to": faults.drop_to,
        "delay_ms": faults.delay_ms,
        "delay_to": faults.delay_to,
        "bytes_per_s": faults.bytes_per_s,
        "clock_skew_ms": sightline_storage::time::clock_skew_ms(),
    })
}

/// `POST /v1/admin/faults`.
pub async fn post_faults(
    State(state): State<AppState>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    if !state.fault_injection {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "no route POST /v1/admin/faults: this node was not started with --enable-fault-injection",
        ));
    }
    let body: FaultsBody = parse_request(body)?;
    let invalid =
        |field: &str, reason: &str| ApiError::field(ErrorCode::InvalidRequest, field, reason);
    let mut rules = state.cluster.outgoing_faults();
    match body {
        FaultsBody {
            clear: Some(true),
            drop_to: None,
            delay_ms: None,
            bytes_per_s: None,
            to: None,
            clock_skew_ms: None,
        } => {
            rules = OutgoingFaults::default();
            sightline_storage::time::set_clock_skew_ms(0);
        }
        FaultsBody { clear: Some(_), .. } => {
            return Err(invalid(
                "clear",
                "must be true, and alone in the body (it removes every rule)",
            ))
        }
        FaultsBody {
            drop_to,
            delay_ms,
            bytes_per_s,
            to,
            clock_skew_ms,
            clear: None,
        } => {
            let slow = delay_ms.is_some() || bytes_per_s.is_some();
            if drop_to.is_none() && !slow && to.is_none() && clock_skew_ms.is_none() {
                return Err(invalid(
                    "drop_to",
                    "is required: give drop_to, delay_ms (or bytes_per_s) with to, clock_skew_ms, or clear",
                ));
            }
            if delay_ms.is_some_and(|ms| ms > MAX_FAULT_MS) {
                return Err(invalid(
                    "delay_ms",
                    &format!("must be at most {MAX_FAULT_MS}"),
                ));
            }
            match (slow, to) {
                (true, Some(to)) => {
                    rules.delay_ms = delay_ms.unwrap_or(0);
                    rules.bytes_per_s = bytes_per_s.unwrap_or(0);
                    rules.delay_to = to;
                }
                (true, None) => {
                    return Err(invalid("to", "is required with delay_ms and bytes_per_s"))
                }
                (false, Some(_)) => {
                    return Err(invalid("delay_ms", "(or bytes_per_s) is required with to"))
                }
                (false, None) => {}
            }
            if let Some(drop_to) = drop_to {
                rules.drop_to = drop_to;
            }
            if let Some(skew) = clock_skew_ms {
                if skew.unsigned_abs() > MAX_FAULT_MS {
                    return Err(invalid(
                        "clock_skew_ms",
                        &format!("must be within ±{MAX_FAULT_MS}"),
                    ));
                }
                sightline_storage::time::set_clock_skew_ms(skew);
            }
        }
    }
    state.cluster.set_outgoing_faults(rules.clone())?;
    Ok(Json(answer(&rules)))
}
