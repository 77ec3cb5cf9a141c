//! Time in Sightline: UTC milliseconds since the Unix epoch as `i64` in memory, RFC 3339 at
//! the edges. Keys store `ts + 2^63` big-endian so that byte order equals time order even
//! for (rejected, but representable) pre-1970 values.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 timestamp with any offset into UTC milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .map_err(|e| format!("not an RFC 3339 timestamp ({e})"))
}

/// Formats UTC milliseconds as RFC 3339 with millisecond precision and `Z`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("{ms}"),
    }
}

/// Offset added to this process's wall clock: zero unless fault injection skews it (a node
/// started with `--enable-fault-injection` takes `clock_skew_ms` from `POST
/// /v1/admin/faults`). Nothing replicated reads the wall clock, so a skewed node can only
/// vote a different time into the cluster clock (see `sightline-raft`'s clock ticker),
/// validate ingest against its own "now", and resolve date math (`now-24h`) differently.
static CLOCK_SKEW_MS: AtomicI64 = AtomicI64::new(0);

/// The wall clock in UTC milliseconds (plus any injected skew).
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis() + CLOCK_SKEW_MS.load(Ordering::Relaxed)
}

/// Skews this process's [`now_ms`] by `ms` (fault injection).
pub fn set_clock_skew_ms(ms: i64) {
    CLOCK_SKEW_MS.store(ms, Ordering::Relaxed);
}

/// The skew set by [`set_clock_skew_ms`].
pub fn clock_skew_ms() -> i64 {
    CLOCK_SKEW_MS.load(Ordering::Relaxed)
}

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_normalizes_offsets() {
        let cases = [
            ("2026-11-20T14:03:12.512Z", "2026-11-20T14:03:12.512Z"),
            ("2026-11-20T15:03:12.512+01:00", "2026-11-20T14:03:12.512Z"),
            ("2026-11-20T14:03:12Z", "2026-11-20T14:03:12.000Z"),
            ("2026-11-20T14:03:12.512999Z", "2026-11-20T14:03:12.512Z"),
        ];
        for (input, want) in cases {
            let ms = parse_rfc3339_ms(input).unwrap();
            assert_eq!(format_rfc3339_ms(ms), want, "{input}");
        }
    }

    #[test]
    fn rejects_non_rfc3339() {
        for bad in [
            "",
            "yesterday",
            "2026-11-20",
            "2026-11-20 14:03:12",
            "1700000000",
        ] {
            assert!(parse_rfc3339_ms(bad).is_err(), "{bad}");
        }
    }
}
