//! Typed request bodies: every body is a serde struct with `deny_unknown_fields`, parsed
//! through `serde_path_to_error` so a wrong, missing or unknown field is answered with a
//! 400 whose `details` name the field by its path (`area.circle.radius_m`,
//! `places[1].from`), and syntax errors with `invalid_json`.

use serde::de::DeserializeOwned;
use serde_json::json;
use sightline_storage::time::parse_rfc3339_ms;

use crate::error::{ApiError, ErrorCode};

/// Strips serde_json's " at line L column C" suffix.
fn without_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

/// The text between the first pair of backticks.
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn join(path: &str, field: &str) -> String {
    match path {
        "" | "." => field.to_string(),
        _ => format!("{path}.{field}"),
    }
}

/// Reads a request's body (413 past the limit) and parses it into `T`.
pub fn parse_request<T: DeserializeOwned>(
    raw: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<T, ApiError> {
    parse_body(&crate::ingest::body_bytes(raw)?)
}

/// Parses a JSON body into `T`, naming the field of any problem.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = without_position(&inner.to_string()).to_string();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::new(
                    ErrorCode::InvalidJson,
                    format!("body is not JSON: {inner}"),
                ));
            }
            let (field, reason) = if message.starts_with("unknown field") {
                // The path already ends at the unknown field.
                let name = quoted(&message).unwrap_or("?");
                let field = if path.ends_with(name) {
                    path
                } else {
                    join(&path, name)
                };
                (field, "is not a known field".to_string())
            } else if message.starts_with("missing field") {
                let name = quoted(&message).unwrap_or("?");
                (join(&path, name), "is required".to_string())
            } else if path == "." || path.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("the request body must be a JSON object: {message}"),
                ));
            } else {
                (path, message)
            };
            return Err(ApiError::field(ErrorCode::InvalidRequest, &field, reason));
        }
    };
    de.end().map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("body has trailing characters: {e}"),
        )
    })?;
    Ok(value)
}

/// Elasticsearch-style date math relative to `now`: `now`, `now-15m`, `now-24h`,
/// `now+1d` (units `s`, `m`, `h`, `d`, `w`).
fn date_math(text: &str, now: i64) -> Option<Result<i64, String>> {
    let rest = text.strip_prefix("now")?;
    if rest.is_empty() {
        return Some(Ok(now));
    }
    let parse = || -> Result<i64, String> {
        let bad = || format!("{text:?} is neither RFC 3339 nor date math like now-24h");
        let (sign, amount) = match rest.as_bytes().first() {
            Some(b'-') => (-1, &rest[1..]),
            Some(b'+') => (1, &rest[1..]),
            _ => return Err(bad()),
        };
        let unit = amount.chars().last().ok_or_else(bad)?;
        let n: i64 = amount[..amount.len() - unit.len_utf8()]
            .parse()
            .map_err(|_| bad())?;
        let ms = match unit {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return Err(bad()),
        };
        n.checked_mul(ms)
            .and_then(|d| now.checked_add(sign * d))
            .ok_or_else(bad)
    };
    Some(parse())
}

/// An optional time as UTC ms, RFC 3339 or date math (`now-24h`), naming `field` when it
/// is neither.
pub fn time(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    let parsed = match date_math(text.trim(), sightline_storage::time::now_ms()) {
        Some(result) => result,
        None => parse_rfc3339_ms(text),
    };
    parsed
        .map(Some)
        .map_err(|reason| ApiError::field(ErrorCode::InvalidRequest, field, reason))
}

/// A `[from, to]` range with defaults, refusing `from` after `to`; `prefix` names the
/// enclosing object (`places[2].`).
pub fn time_range(
    prefix: &str,
    from: Option<&str>,
    to: Option<&str>,
    default_to: i64,
) -> Result<(i64, i64), ApiError> {
    let from = time(&format!("{prefix}from"), from)?.unwrap_or(i64::MIN);
    let to = time(&format!("{prefix}to"), to)?.unwrap_or(default_to);
    if from > to {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            &format!("{prefix}from"),
            "must not be after to",
        ));
    }
    Ok((from, to))
}

/// An optional integer in `[min, max]` with a default.
pub fn bounded(
    field: &str,
    value: Option<u64>,
    min: u64,
    max: u64,
    default: u64,
) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field(
            ErrorCode::InvalidRequest,
            field,
            format!("must be an integer from {min} to {max}"),
        )),
    }
}

/// The audit fields every search must carry: 400 `audit_fields_required` naming each
/// missing one.
pub fn audit_fields(
    case_number: Option<&str>,
    reason: Option<&str>,
) -> Result<(String, String), ApiError> {
    let case_number = case_number.map(str::trim).unwrap_or("");
    let reason = reason.map(str::trim).unwrap_or("");
    let mut missing = Vec::new();
    if case_number.is_empty() {
        missing.push(json!({"field": "case_number", "reason": "is required for every search"}));
    }
    if reason.is_empty() {
        missing.push(json!({"field": "reason", "reason": "is required for every search"}));
    }
    if !missing.is_empty() {
        let mut err = ApiError::new(
            ErrorCode::AuditFieldsRequired,
            "every search must carry a case_number and a reason for the audit log",
        );
        err.details = missing;
        return Err(err);
    }
    Ok((case_number.to_string(), reason.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        radius_m: f64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        limit: Option<u64>,
        circle: Option<Inner>,
    }

    fn field_of(body: &str) -> (String, String) {
        let err = parse_body::<Outer>(body.as_bytes()).unwrap_err();
        let field = err
            .details
            .first()
            .and_then(|d| d["field"].as_str())
            .unwrap_or("");
        (err.code.as_str().to_string(), field.to_string())
    }

    #[test]
    fn every_problem_names_its_field() {
        assert_eq!(
            field_of(r#"{"nope": 1}"#),
            ("invalid_request".into(), "nope".into())
        );
        assert_eq!(
            field_of(r#"{"circle": {"radius_m": 1, "x": 2}}"#),
            ("invalid_request".into(), "circle.x".into())
        );
        assert_eq!(
            field_of(r#"{"circle": {}}"#),
            ("invalid_request".into(), "circle.radius_m".into())
        );
        assert_eq!(
            field_of(r#"{"limit": "ten"}"#),
            ("invalid_request".into(), "limit".into())
        );
        assert_eq!(
            field_of(r#"{"limit": -1}"#),
            ("invalid_request".into(), "limit".into())
        );
        assert_eq!(field_of(r#"{"limit": 1"#).0, "invalid_json");
        assert_eq!(field_of(r#"[1]"#).0, "invalid_request");
        assert!(parse_body::<Outer>(br#"{"limit": 5, "circle": {"radius_m": 2.5}}"#).is_ok());
    }

    #[test]
    fn date_math_is_relative_to_now() {
        let now = 1_800_000_000_000;
        assert_eq!(date_math("now", now), Some(Ok(now)));
        assert_eq!(date_math("now-24h", now), Some(Ok(now - 86_400_000)));
        assert_eq!(date_math("now+15m", now), Some(Ok(now + 900_000)));
        assert_eq!(date_math("now-2w", now), Some(Ok(now - 14 * 86_400_000)));
        assert!(matches!(date_math("now-h", now), Some(Err(_))));
        assert!(matches!(date_math("now*2d", now), Some(Err(_))));
        assert_eq!(date_math("2026-01-01T00:00:00Z", now), None);
        assert!(time("from", Some("yesterday")).is_err());
    }
}
