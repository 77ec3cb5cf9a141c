//! Time: the 24 h window seen through Chicago wall-clock time, timestamps, and the daily
//! traffic profile.

use chrono::{NaiveDate, Weekday};
use rand::rngs::StdRng;
use rand::Rng;

use super::weighted_index;

pub(super) const SECOND: i64 = 1_000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;
/// Clamp range for `end_ms`: 1970-01-03T00:00:00Z … 9999-12-31T23:59:59.999Z.
pub(super) const MIN_END_MS: i64 = 2 * DAY;
pub(super) const MAX_END_MS: i64 = 253_402_300_799_999;

/// UTC calendar fields of `t`: (year, month, day, hour, minute, second, millisecond).
pub(super) fn utc_fields(t: i64) -> (i64, u32, u32, i64, i64, i64, i64) {
    let days = t.div_euclid(DAY);
    let ms = t.rem_euclid(DAY);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        ms / HOUR,
        ms % HOUR / MINUTE,
        ms % MINUTE / SECOND,
        ms % SECOND,
    )
}

/// `2026-11-20T14:03:12.512Z`
pub(super) fn rfc3339(t: i64) -> String {
    let (y, mo, d, h, mi, s, ms) = utc_fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// Share of a weekday's downtown traffic in each Chicago clock hour (percent; sums to 100).
pub(super) static HOURLY_TRAFFIC: [f64; 24] = [
    1.5, 1.0, 0.7, 0.5, 0.6, 1.3, 3.2, 6.0, 6.8, 5.8, 5.3, 5.6, //
    6.0, 5.9, 6.0, 6.6, 7.2, 7.5, 6.0, 4.5, 3.8, 3.2, 2.8, 2.2,
];

/// Relative traffic intensity at Chicago hour `h` (fractional): 1.0 at the 17:00 peak,
/// under 0.1 around 03:00; hourly shares interpolated between hour midpoints.
pub(super) fn traffic_profile(h: f64) -> f64 {
    let x = (h - 0.5).rem_euclid(24.0);
    let i = x.floor() as usize % 24;
    let f = x - x.floor();
    (HOURLY_TRAFFIC[i] * (1.0 - f) + HOURLY_TRAFFIC[(i + 1) % 24] * f) / 7.5
}

pub(super) fn hour_of(tod: i64) -> f64 {
    tod.rem_euclid(DAY) as f64 / HOUR as f64
}

/// The window `(start, end)` and the Chicago UTC offset used to place wall-clock schedules in it.
pub(super) struct Clock {
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) utc_offset: i64,
}

impl Clock {
    pub(super) fn new(end_ms: i64) -> Clock {
        let end = end_ms.clamp(MIN_END_MS, MAX_END_MS);
        Clock {
            start: end - DAY,
            end,
            utc_offset: chicago_utc_offset(end),
        }
    }

    /// The instant strictly inside the window whose Chicago time of day is `tod`
    /// (milliseconds after local midnight; any value, taken modulo a day).
    pub(super) fn at(&self, tod: i64) -> i64 {
        let start_tod = (self.start + self.utc_offset).rem_euclid(DAY);
        self.start + (tod - start_tod).rem_euclid(DAY).max(1)
    }

    /// Chicago time of day of instant `t`.
    pub(super) fn tod(&self, t: i64) -> i64 {
        (t + self.utc_offset).rem_euclid(DAY)
    }

    /// Whether something starting at `t` and lasting `duration` lies strictly inside the window.
    pub(super) fn contains(&self, t: i64, duration: i64) -> bool {
        t > self.start && t + duration < self.end
    }

    /// `t` moved as little as needed for `[t, t + duration]` to lie strictly inside the window.
    pub(super) fn fit(&self, t: i64, duration: i64) -> i64 {
        t.min(self.end - 1 - duration).max(self.start + 1)
    }
}

/// America/Chicago offset at `t`: CDT (UTC−5) from the second Sunday of March 02:00 local to
/// the first Sunday of November 02:00 local, CST (UTC−6) otherwise.
pub(super) fn chicago_utc_offset(t: i64) -> i64 {
    let year = i32::try_from(utc_fields(t).0).unwrap_or(1970);
    let sunday_utc = |month: u32, nth: u8, hour: u32| {
        NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, nth)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .map(|dt| dt.and_utc().timestamp_millis())
    };
    match (sunday_utc(3, 2, 8), sunday_utc(11, 1, 7)) {
        (Some(dst_on), Some(dst_off)) if t >= dst_on && t < dst_off => -5 * HOUR,
        _ => -6 * HOUR,
    }
}

/// Samples Chicago times of day in proportion to traffic.
pub(super) struct TodSampler {
    pub(super) quarter_hours: Vec<f64>,
}

impl TodSampler {
    pub(super) fn new() -> TodSampler {
        TodSampler {
            quarter_hours: (0..96)
                .map(|q| traffic_profile((f64::from(q) + 0.5) / 4.0))
                .collect(),
        }
    }

    pub(super) fn sample(&self, rng: &mut StdRng) -> i64 {
        let q = weighted_index(rng, &self.quarter_hours) as i64;
        q * 15 * MINUTE + rng.random_range(0..15 * MINUTE)
    }
}
