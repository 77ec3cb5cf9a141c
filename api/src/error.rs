//! The error format of api.md: `{"error": {"code", "message", "details"}}`, a 4xx for the
//! caller's mistake and a 5xx only for ours. Codes are a small closed set so clients (and,
//! later, other nodes over gRPC) can branch on them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sightline_storage::FieldError;

/// Every error code the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The body is not valid JSON / NDJSON.
    InvalidJson,
    /// One or more records of a batch failed validation; nothing was written.
    InvalidRecords,
    /// A request field is missing or wrong.
    InvalidRequest,
    /// A search lacks `case_number` or `reason`.
    AuditFieldsRequired,
    /// A pagination cursor was not issued by us.
    InvalidCursor,
    /// The batch holds no records.
    EmptyBatch,
    /// Too many records or bytes in one request.
    PayloadTooLarge,
    /// Content-Type is neither JSON nor NDJSON.
    UnsupportedMediaType,
    /// No valid token: missing, malformed, forged, expired or revoked.
    Unauthorized,
    /// A valid token whose role or tenant does not allow the request.
    Forbidden,
    /// The token is over its rate (429, with `Retry-After`).
    RateLimited,
    /// The tenant does not exist.
    TenantNotFound,
    /// No such route.
    NotFound,
    /// A documented feature this node does not offer yet.
    NotImplemented,
    /// The cluster cannot accept the request right now; nothing was done; retry.
    Unavailable,
    /// A write may or may not have committed; retry only with client ids.
    OutcomeUnknown,
    /// This node's disk is nearly full: it refuses writes; nothing was done.
    InsufficientStorage,
    /// Our bug or a storage failure.
    Internal,
}

impl ErrorCode {
    /// The snake_case code in the body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRecords => "invalid_records",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::AuditFieldsRequired => "audit_fields_required",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::EmptyBatch => "empty_batch",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TenantNotFound => "tenant_not_found",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotImplemented => "not_implemented",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::OutcomeUnknown => "outcome_unknown",
            ErrorCode::InsufficientStorage => "insufficient_storage",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status it maps to.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidJson
            | ErrorCode::InvalidRecords
            | ErrorCode::InvalidRequest
            | ErrorCode::AuditFieldsRequired
            | ErrorCode::InvalidCursor
            | ErrorCode::EmptyBatch => StatusCode::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TenantNotFound | ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::OutcomeUnknown => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// Code.
    pub code: ErrorCode,
    /// Human sentence.
    pub message: String,
    /// Structured details (field errors).
    pub details: Vec<Value>,
    /// Seconds a `rate_limited` caller should wait (the `Retry-After` header).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after_s: None,
        }
    }

    /// A request field problem.
    pub fn field(code: ErrorCode, field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ApiError {
            code,
            message: format!("{field} {reason}"),
            details: vec![json!({"field": field, "reason": reason})],
            retry_after_s: None,
        }
    }

    /// A batch whose records failed validation.
    pub fn records(errors: Vec<FieldError>) -> Self {
        let records: std::collections::BTreeSet<usize> = errors.iter().map(|e| e.index).collect();
        let message = format!(
            "{} of the batch's records {} invalid; nothing was written",
            records.len(),
            if records.len() == 1 { "is" } else { "are" }
        );
        let details = errors
            .into_iter()
            .map(|e| json!({"index": e.index, "field": e.field, "reason": e.reason}))
            .collect();
        ApiError {
            code: ErrorCode::InvalidRecords,
            message,
            details,
            retry_after_s: None,
        }
    }

    /// A failure on our side; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(ErrorCode::Internal, "internal error; see the node's log")
    }

    /// A tenant that does not exist.
    pub fn tenant_not_found(tenant: &str) -> Self {
        ApiError::new(
            ErrorCode::TenantNotFound,
            format!("tenant {tenant:?} does not exist"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code.as_str(), "message": self.message, "details": self.details}});
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<sightline_query::QueryError> for ApiError {
    fn from(e: sightline_query::QueryError) -> Self {
        match e {
            sightline_query::QueryError::BadCursor => ApiError::field(
                ErrorCode::InvalidCursor,
                "cursor",
                "is not a cursor this cluster issued",
            ),
            sightline_query::QueryError::Invalid { field, reason } => {
                ApiError::field(ErrorCode::InvalidRequest, &field, reason)
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<sightline_query::cursor::BadCursor> for ApiError {
    fn from(e: sightline_query::cursor::BadCursor) -> Self {
        sightline_query::QueryError::from(e).into()
    }
}

impl From<crate::ProposeError> for ApiError {
    fn from(e: crate::ProposeError) -> Self {
        match e {
            crate::ProposeError::Unavailable(why) => ApiError::new(ErrorCode::Unavailable, why),
            crate::ProposeError::Refused(why) => ApiError::new(ErrorCode::InvalidRequest, why),
            crate::ProposeError::TooLarge(why) => ApiError::new(ErrorCode::PayloadTooLarge, why),
            crate::ProposeError::OutcomeUnknown(why) => {
                ApiError::new(ErrorCode::OutcomeUnknown, why)
            }
            other => ApiError::internal(other),
        }
    }
}
