//! The window, Chicago time and timestamp formatting.

use chrono::{DateTime, SecondsFormat};

use super::super::generate_day;
use super::super::media::media_key;
use super::super::time::{chicago_utc_offset, rfc3339, Clock, DAY, HOUR, MAX_END_MS};
use super::{END, END_SUMMER};

#[test]
fn chicago_time_follows_us_daylight_saving_rules() {
    let table = [
        (1_795_197_600_000, -6), // 2026-11-20 CST
        (1_783_135_065_123, -5), // 2026-07-04 CDT
        (1_772_956_799_000, -6), // 2026-03-08 01:59:59 CST
        (1_772_956_800_000, -5), // 2026-03-08 03:00:00 CDT
        (1_793_516_399_000, -5), // 2026-11-01 01:59:59 CDT
        (1_793_516_400_000, -6), // 2026-11-01 01:00:00 CST
    ];
    for (t, hours) in table {
        assert_eq!(chicago_utc_offset(t), hours * HOUR, "{t}");
    }
}

#[test]
fn clock_places_every_time_of_day_strictly_inside_the_window() {
    for end in [END, END_SUMMER, END - END.rem_euclid(DAY)] {
        let clock = Clock::new(end);
        for tod in [0, 1, HOUR, DAY - 1, DAY, -1, 3 * DAY + 5] {
            let t = clock.at(tod);
            assert!(t > end - DAY && t < end);
            if t != clock.start + 1 {
                assert_eq!(clock.tod(t), tod.rem_euclid(DAY));
            }
        }
    }
    assert!(Clock::new(i64::MIN).end > 0 && Clock::new(i64::MAX).end < i64::MAX);
    let _ = generate_day(1, i64::MIN);
}

#[test]
fn timestamps_and_media_keys_are_formatted_like_chrono_would() {
    for t in [
        0,
        951_782_400_000,
        1_795_197_600_000,
        1_783_135_065_123,
        4_107_542_399_999,
        MAX_END_MS,
    ] {
        let dt = DateTime::from_timestamp_millis(t).expect("in range");
        assert_eq!(rfc3339(t), dt.to_rfc3339_opts(SecondsFormat::Millis, true));
        let key = format!("media/cam-001/{}.jpg", dt.format("%Y-%m-%d/%H%M%S%3f"));
        assert_eq!(media_key("cam-001", t, "jpg"), key);
    }
    assert_eq!(rfc3339(1_795_197_600_000), "2026-11-20T18:00:00.000Z");
}
