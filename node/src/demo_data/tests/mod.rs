//! Tests of the whole day; the planted scenarios' answers are checked in [`scenarios`].

mod clock;
mod scenarios;

use super::grid::*;
use super::scenarios::*;
use super::sensors::*;
use super::time::*;
use super::vehicles::*;
use super::*;
use chrono::DateTime;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// 2026-11-20T18:00:00Z (noon in Chicago, CST).
const END: i64 = 1_795_197_600_000;
/// 2026-07-04T03:17:45.123Z (late evening in Chicago, CDT): an unaligned end in summer.
const END_SUMMER: i64 = 1_783_135_065_123;

fn day42() -> &'static DemoData {
    static DAY: OnceLock<DemoData> = OnceLock::new();
    DAY.get_or_init(|| generate_day(42, END))
}

/// The same day before it is turned into JSON, with the ground truth behind every read.
fn truth42() -> &'static Day {
    static DAY: OnceLock<Day> = OnceLock::new();
    DAY.get_or_init(|| simulate(42, END))
}

fn ms(v: &Value) -> i64 {
    let s = v.as_str().expect("timestamp is a string");
    assert!(
        s.ends_with('Z') && s.len() == 24,
        "not RFC 3339 UTC millis: {s}"
    );
    DateTime::parse_from_rfc3339(s)
        .expect("valid RFC 3339")
        .timestamp_millis()
}

fn plate(r: &Value) -> String {
    normalize(r["plate"].as_str().expect("plate"))
}

fn reads_of<'a>(d: &'a DemoData, normalized: &str) -> Vec<&'a Value> {
    d.reads.iter().filter(|r| plate(r) == normalized).collect()
}

fn chicago_hour(t: i64) -> f64 {
    hour_of(Clock::new(END).tod(t))
}

fn matches_format(text: &str, format: &str) -> bool {
    text.len() == format.len()
        && text.chars().zip(format.chars()).all(|(c, f)| match f {
            'L' => PLATE_LETTERS.contains(&(c as u8)),
            'D' => c.is_ascii_digit(),
            'N' => ('7'..='9').contains(&c),
            lit => c == lit,
        })
}

fn region_formats(code: &str) -> &'static [(&'static str, f64)] {
    REGIONS
        .iter()
        .find(|r| r.code == code)
        .map(|r| r.formats)
        .expect("known region")
}

/// Some one-character OCR confusion of `text` that is a well-formed plate of `region`.
fn corrected(text: &str, region: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).find_map(|i| {
        let mut fixed = chars.clone();
        fixed[i] = ocr_confusion(chars[i])?;
        let fixed: String = fixed.into_iter().collect();
        region_formats(region)
            .iter()
            .any(|(f, _)| matches_format(&fixed, f))
            .then_some(fixed)
    })
}

fn counts_by_plate(d: &DemoData) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in &d.reads {
        *counts.entry(plate(r)).or_insert(0) += 1;
    }
    counts
}

#[test]
fn same_seed_and_end_give_identical_output() {
    let again = generate_day(42, END);
    let first = day42();
    assert!(first.reads == again.reads);
    assert!(first.manifests == again.manifests);
    assert!(first.series == again.series);
}

#[test]
fn a_different_seed_gives_a_different_day() {
    let other = generate_day(43, END);
    assert_ne!(counts_by_plate(day42()), counts_by_plate(&other));
}

#[test]
fn read_counts_per_plate_depend_only_on_the_seed() {
    let summer = generate_day(42, END_SUMMER);
    assert_eq!(counts_by_plate(day42()), counts_by_plate(&summer));
    assert_eq!(day42().manifests.len(), summer.manifests.len());
    assert_eq!(day42().series.len(), summer.series.len());
}

#[test]
fn every_timestamp_is_strictly_inside_the_24h_window() {
    for (end, d) in [(END, day42()), (END_SUMMER, &generate_day(7, END_SUMMER))] {
        let inside = |t: i64| t > end - DAY && t < end;
        for r in &d.reads {
            assert!(inside(ms(&r["captured_at"])), "{r}");
        }
        for m in &d.manifests {
            let start = ms(&m["started_at"]);
            let duration = m["duration_ms"].as_i64().expect("duration");
            assert!(inside(start) && inside(start + duration), "{m}");
        }
        for s in &d.series {
            assert!(inside(ms(&s["ts"])), "{s}");
        }
    }
}

#[test]
fn reads_have_every_field_with_the_right_type() {
    type Check = fn(&Value) -> bool;
    let table: [(&str, Check); 12] = [
        ("id", |v| {
            v.as_str()
                .is_some_and(|s| s.starts_with("demo-r-") && s.len() == 14)
        }),
        ("camera_id", |v| {
            v.as_str()
                .is_some_and(|s| s.starts_with("cam-") && s.len() == 7 || s == FACTS.mobile_unit)
        }),
        ("captured_at", |v| {
            v.as_str()
                .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok())
        }),
        ("plate", |v| {
            v.as_str().is_some_and(|s| (6..=8).contains(&s.len()))
        }),
        ("region", |v| {
            v.as_str()
                .is_some_and(|s| ["US-IL", "US-IN", "US-WI", "US-MI", "US-CA"].contains(&s))
        }),
        ("confidence", |v| {
            v.as_f64().is_some_and(|c| (0.5..=0.99).contains(&c))
        }),
        ("lat", |v| {
            v.as_f64().is_some_and(|x| (41.84..41.92).contains(&x))
        }),
        ("lon", |v| {
            v.as_f64().is_some_and(|x| (-87.67..-87.59).contains(&x))
        }),
        ("vehicle", |v| {
            ["make", "model", "color", "type"]
                .iter()
                .all(|k| v[*k].is_string())
                && v.as_object().is_some_and(|o| o.len() == 4)
        }),
        ("vehicle.type", |v| {
            ["sedan", "suv", "pickup", "van", "hatchback"]
                .contains(&v["type"].as_str().unwrap_or(""))
        }),
        ("direction", |v| {
            v.as_str()
                .is_some_and(|s| ["N", "S", "E", "W"].contains(&s))
        }),
        ("image_key", |v| {
            v.as_str()
                .is_some_and(|s| s.starts_with("media/") && s.ends_with(".jpg"))
        }),
    ];
    for r in &day42().reads {
        assert_eq!(r.as_object().map(|o| o.len()), Some(11), "{r}");
        for (field, ok) in &table {
            let v = match *field {
                "vehicle.type" => &r["vehicle"],
                f => &r[f],
            };
            assert!(ok(v), "bad {field} in {r}");
        }
        let key = r["image_key"].as_str().unwrap_or("");
        assert!(key.starts_with(&format!("media/{}/", r["camera_id"].as_str().unwrap_or(""))));
        let v = &r["vehicle"];
        assert!(
            MODELS
                .iter()
                .any(|m| v["make"] == m.0 && v["model"] == m.1 && v["type"] == m.2),
            "make, model and body type must be a known combination: {r}"
        );
    }
}

#[test]
fn reads_are_sorted_by_time_with_sequential_unique_ids() {
    let reads = &day42().reads;
    for (i, r) in reads.iter().enumerate() {
        assert_eq!(r["id"], json!(format!("demo-r-{:07}", i + 1)));
    }
    assert!(reads
        .windows(2)
        .all(|w| ms(&w[0]["captured_at"]) <= ms(&w[1]["captured_at"])));
    let keys: HashSet<&str> = reads
        .iter()
        .filter_map(|r| r["image_key"].as_str())
        .collect();
    assert_eq!(keys.len(), reads.len(), "image keys are unique");
}

#[test]
fn volumes_match_a_realistic_downtown_day() {
    let d = day42();
    let day = truth42();
    let distinct_vehicles: HashSet<&str> = day.vehicles.iter().map(|v| v.plate.as_str()).collect();
    let cameras: HashSet<&str> = d
        .reads
        .iter()
        .filter_map(|r| r["camera_id"].as_str())
        .filter(|id| id.starts_with("cam-"))
        .collect();
    let sensors: HashSet<&str> = d
        .series
        .iter()
        .filter_map(|s| s["sensor_id"].as_str())
        .collect();
    let table: [(&str, usize, std::ops::RangeInclusive<usize>); 6] = [
        ("reads", d.reads.len(), 80_000..=120_000),
        (
            "distinct vehicles",
            distinct_vehicles.len(),
            19_000..=21_000,
        ),
        ("cameras", cameras.len(), 60..=100),
        ("manifests", d.manifests.len(), 1_800..=2_200),
        ("sensors", sensors.len(), 18..=22),
        ("sensor samples", d.series.len(), 28 * 288..=28 * 288),
    ];
    for (what, n, range) in table {
        assert!(range.contains(&n), "{what}: {n} not in {range:?}");
    }
    assert_eq!(cameras.len(), FACTS.camera_count);
}

#[test]
fn plates_follow_their_region_format_up_to_one_ocr_confusion() {
    let examples = [
        ("US-IL", "AB 12345"),
        ("US-IL", "A12 3456"),
        ("US-IN", "123ABC"),
        ("US-WI", "ABC-1234"),
        ("US-MI", "ABC 1234"),
        ("US-CA", "7ABC123"),
    ];
    for (region, example) in examples {
        assert!(
            region_formats(region)
                .iter()
                .any(|(f, _)| matches_format(example, f)),
            "{region} {example}"
        );
    }
    let mut by_region: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &day42().reads {
        let region = r["region"].as_str().unwrap_or("");
        let text = r["plate"].as_str().unwrap_or("");
        *by_region.entry(region).or_insert(0) += 1;
        let well_formed = region_formats(region)
            .iter()
            .any(|(f, _)| matches_format(text, f));
        assert!(well_formed || corrected(text, region).is_some(), "{r}");
    }
    let total = day42().reads.len() as f64;
    assert!(by_region["US-IL"] as f64 / total > 0.8, "{by_region:?}");
    for region in ["US-IN", "US-WI", "US-MI", "US-CA"] {
        assert!(
            by_region.get(region).is_some_and(|&n| n > 100),
            "{by_region:?}"
        );
    }
}

#[test]
fn facts_everywhere_plate_is_read_154_times_at_every_camera_never_misread() {
    let reads = reads_of(day42(), FACTS.everywhere_plate);
    let cameras: BTreeSet<&str> = reads
        .iter()
        .filter_map(|r| r["camera_id"].as_str())
        .collect();
    assert_eq!(reads.len(), 154);
    assert_eq!(cameras.len(), 77);
    assert!(reads.len() >= 60 && cameras.len() >= 60);
    assert!(reads
        .iter()
        .all(|r| r["confidence"].as_f64().unwrap_or(0.0) >= 0.69));
    assert!(reads.iter().all(|r| r["plate"] == json!("KD 40917")));
    // No misread of the van exists under some other spelling.
    let day = truth42();
    assert!(day
        .reads
        .iter()
        .filter(|r| r.vehicle == 0)
        .all(|r| !r.misread));
    assert_eq!(normalize(EVERYWHERE[0].plate), FACTS.everywhere_plate);
}

#[test]
fn facts_commuter_drives_in_each_morning_and_out_each_evening() {
    let reads = reads_of(day42(), FACTS.commuter_plate);
    let variant = reads_of(day42(), FACTS.ocr_variant_of_commuter);
    assert_eq!(reads.len(), 9);
    assert_eq!(variant.len(), 1);
    assert!(variant[0]["confidence"].as_f64().unwrap_or(1.0) < 0.75);
    assert_eq!(variant[0]["vehicle"], reads[0]["vehicle"]);
    let hours: Vec<f64> = reads
        .iter()
        .chain(&variant)
        .map(|r| chicago_hour(ms(&r["captured_at"])))
        .collect();
    let morning = hours.iter().filter(|h| (7.0..9.5).contains(*h)).count();
    let evening = hours.iter().filter(|h| (16.0..19.0).contains(*h)).count();
    assert_eq!((morning, evening), (5, 5), "{hours:?}");
    assert_eq!(normalize(COMMUTER.plate), FACTS.commuter_plate);
    assert_eq!(normalize(COMMUTER_MISREAD), FACTS.ocr_variant_of_commuter);
    assert_eq!(
        corrected(COMMUTER_MISREAD, "US-IL"),
        Some(COMMUTER.plate.to_string())
    );
}

#[test]
fn facts_hold_for_other_seeds_too() {
    for seed in [0, 1, 7, u64::MAX] {
        let day = simulate(seed, END_SUMMER);
        let count = |p: &str| day.reads.iter().filter(|r| normalize(&r.text) == p).count();
        let table = [
            (FACTS.everywhere_plate, 154),
            (FACTS.commuter_plate, 9),
            (FACTS.ocr_variant_of_commuter, 1),
        ];
        for (plate, n) in table {
            assert_eq!(count(plate), n, "seed {seed}: {plate}");
        }
    }
}

#[test]
fn about_two_percent_of_reads_are_misread_with_low_confidence() {
    let day = truth42();
    let misread = day.reads.iter().filter(|r| r.misread).count();
    let fraction = misread as f64 / day.reads.len() as f64;
    assert!((0.015..0.025).contains(&fraction), "{fraction}");
    for r in &day.reads {
        let truth = &day.vehicles[r.vehicle].plate;
        assert_eq!(r.misread, &r.text != truth);
        if r.misread {
            assert!(r.confidence < 0.75);
            let diff: Vec<(char, char)> = r
                .text
                .chars()
                .zip(truth.chars())
                .filter(|(a, b)| a != b)
                .collect();
            assert_eq!(diff.len(), 1);
            assert_eq!(ocr_confusion(diff[0].1), Some(diff[0].0));
        }
    }
}

#[test]
fn a_plate_always_belongs_to_the_same_vehicle_and_region() {
    let mut seen: HashMap<String, (Value, Value)> = HashMap::new();
    for r in &day42().reads {
        let who = (r["vehicle"].clone(), r["region"].clone());
        let first = seen.entry(plate(r)).or_insert_with(|| who.clone());
        assert_eq!(*first, who, "{r}");
    }
}

#[test]
fn cameras_sit_on_a_regular_grid_centred_near_state_and_madison() {
    let cams = cameras();
    assert!((60..=100).contains(&cams.len()));
    let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
    let (mut sum_x, mut sum_y) = (0.0, 0.0);
    for (i, c) in cams.iter().enumerate() {
        assert_eq!(c.id, format!("cam-{:03}", i + 1));
        let x = (c.lon - CENTER_LON) * m_per_deg_lon;
        let y = (c.lat - CENTER_LAT) * M_PER_DEG_LAT;
        // On a street every other block: odd blocks east–west, even blocks north–south.
        let (bx, by) = (x / BLOCK_M, y / BLOCK_M);
        assert!(
            (bx - bx.round()).abs() < 1e-6 && bx.round() as i64 % 2 != 0,
            "{}",
            c.corner()
        );
        assert!(
            (by - by.round()).abs() < 1e-6 && by.round() as i64 % 2 == 0,
            "{}",
            c.corner()
        );
        sum_x += x;
        sum_y += y;
    }
    let n = cams.len() as f64;
    assert!(
        (sum_x / n).hypot(sum_y / n) < 300.0,
        "centroid off by too much"
    );
    assert_eq!(cams[0].corner(), "Union Ave & Oak St");
    assert_eq!(cams[cam_index((3, 5))].spoken(), "Clark and Madison");
}

#[test]
fn read_positions_are_within_5m_of_their_camera() {
    let cams: HashMap<String, (f64, f64)> = cameras()
        .into_iter()
        .map(|c| (c.id, (c.lat, c.lon)))
        .collect();
    let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
    let metres = |r: &Value, (lat, lon): (f64, f64)| {
        let dy = (r["lat"].as_f64().unwrap_or(0.0) - lat) * M_PER_DEG_LAT;
        let dx = (r["lon"].as_f64().unwrap_or(0.0) - lon) * m_per_deg_lon;
        dx.hypot(dy)
    };
    let mut mobile = 0;
    for r in &day42().reads {
        match cams.get(r["camera_id"].as_str().unwrap_or("")) {
            Some(&camera) => assert!(metres(r, camera) < 5.0, "{r}"),
            None => {
                // The mobile reader: parked cars within 45 m of one of the places.
                assert_eq!(r["camera_id"], json!(FACTS.mobile_unit), "{r}");
                let near = FACTS
                    .co_location_places
                    .iter()
                    .any(|&p| metres(r, p) < 45.0);
                assert!(near, "{r}");
                mobile += 1;
            }
        }
    }
    assert_eq!(mobile, 3 + 2 + 3 * 4, "prowler, lookout, parked cars");
}

#[test]
fn traffic_is_heavy_at_rush_hour_and_light_at_3am() {
    assert!((HOURLY_TRAFFIC.iter().sum::<f64>() - 100.0).abs() < 1e-9);
    assert!((traffic_profile(17.5) - 1.0).abs() < 1e-9);
    let mut per_hour = [0usize; 24];
    for r in &day42().reads {
        per_hour[chicago_hour(ms(&r["captured_at"])) as usize] += 1;
    }
    assert!(per_hour[3] * 5 < per_hour[8], "{per_hour:?}");
    assert!(per_hour[3] * 5 < per_hour[17], "{per_hour:?}");
    assert!(per_hour[12] > per_hour[22], "{per_hour:?}");
}

#[test]
fn manifests_are_well_formed_and_reference_their_cameras_reads() {
    let d = day42();
    let reads: HashMap<&str, &Value> = d
        .reads
        .iter()
        .filter_map(|r| Some((r["id"].as_str()?, r)))
        .collect();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (i, m) in d.manifests.iter().enumerate() {
        assert_eq!(m["id"], json!(format!("demo-m-{:06}", i + 1)));
        let kind = m["kind"].as_str().unwrap_or("");
        let device = m["device_id"].as_str().unwrap_or("");
        *kinds
            .entry(format!("{}:{kind}", device.split('-').next().unwrap_or("")))
            .or_insert(0) += 1;
        assert!(["image", "video", "audio"].contains(&kind), "{m}");
        let sha = m["sha256"].as_str().unwrap_or("");
        assert!(
            sha.len() == 64
                && sha
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(m["bytes"].as_u64().is_some_and(|b| b > 0));
        assert!(m["object_key"]
            .as_str()
            .is_some_and(|k| k.starts_with(&format!("media/{device}/"))));
        assert!(m["lat"].is_f64() && m["lon"].is_f64() && m["labels"].is_array());
        if m.get("transcript").is_some() {
            assert!(kind != "image" && !device.starts_with("acoustic"), "{m}");
        }
        let ids = m["read_ids"].as_array().expect("read_ids");
        if device.starts_with("cam-") {
            assert!((1..=2).contains(&ids.len()), "{m}");
            let start = ms(&m["started_at"]);
            let end = start + m["duration_ms"].as_i64().unwrap_or(0);
            for id in ids {
                let r = reads[id.as_str().unwrap_or("")];
                assert_eq!(r["camera_id"], m["device_id"]);
                assert!((start..=end).contains(&ms(&r["captured_at"])));
                if kind == "image" {
                    assert_eq!(r["image_key"], m["object_key"]);
                }
            }
        }
        for id in ids {
            assert!(reads.contains_key(id.as_str().unwrap_or("")));
        }
    }
    let expected = [
        ("cam:image", 1_200),
        ("cam:video", 300),
        ("bodycam:video", 300),
        ("bodycam:audio", 100),
        ("acoustic:audio", 100),
    ];
    assert_eq!(
        kinds,
        expected.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    );
    let two_reads = d
        .manifests
        .iter()
        .filter(|m| m["read_ids"].as_array().is_some_and(|a| a.len() == 2))
        .count();
    assert!(two_reads > 30, "{two_reads}");
}

#[test]
fn gunshot_clips_come_from_detectors_near_the_school() {
    let school = blocks_to_lat_lon(SCHOOL_BLOCKS.0, SCHOOL_BLOCKS.1);
    let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
    let gunshots: Vec<&Value> = day42()
        .manifests
        .iter()
        .filter(|m| {
            m["labels"]
                .as_array()
                .is_some_and(|l| l.contains(&json!("gunshot")))
        })
        .collect();
    assert!(gunshots.len() >= 5, "{}", gunshots.len());
    for m in gunshots {
        assert_eq!(m["kind"], json!("audio"));
        let dy = (m["lat"].as_f64().unwrap_or(0.0) - school.0) * M_PER_DEG_LAT;
        let dx = (m["lon"].as_f64().unwrap_or(0.0) - school.1) * m_per_deg_lon;
        assert!(dx.hypot(dy) < 600.0, "{m}");
    }
}

#[test]
fn sensor_series_sample_every_5_minutes_with_daily_cycles() {
    let mut series: BTreeMap<(String, String), Vec<(i64, f64)>> = BTreeMap::new();
    for s in &day42().series {
        let key = (
            s["sensor_id"].as_str().unwrap_or("").to_string(),
            s["metric"].as_str().unwrap_or("").to_string(),
        );
        series
            .entry(key)
            .or_default()
            .push((ms(&s["ts"]), s["value"].as_f64().expect("value")));
        assert!(s["tags"]["site"].is_string() && s["tags"]["unit"].is_string());
    }
    assert_eq!(series.len(), 28);
    let mean_at = |points: &[(i64, f64)], from: f64, to: f64| {
        let v: Vec<f64> = points
            .iter()
            .filter(|(t, _)| (from..to).contains(&chicago_hour(*t)))
            .map(|p| p.1)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    for ((sensor, metric), points) in &series {
        assert_eq!(points.len(), 288, "{sensor} {metric}");
        assert!(points.windows(2).all(|w| w[1].0 - w[0].0 == SAMPLE_PERIOD));
        let (night, rush, afternoon, dawn) = (
            mean_at(points, 2.0, 4.0),
            mean_at(points, 17.0, 18.0),
            mean_at(points, 14.0, 16.0),
            mean_at(points, 5.0, 7.0),
        );
        match metric.as_str() {
            "traffic_count" => assert!(rush > 4.0 * night, "{sensor}: {rush} vs {night}"),
            "noise_db" => assert!(rush > night + 8.0, "{sensor}: {rush} vs {night}"),
            "pm25" => assert!(rush > night, "{sensor}: {rush} vs {night}"),
            "temp_c" => assert!(afternoon > dawn + 3.0, "{sensor}: {afternoon} vs {dawn}"),
            other => panic!("unexpected metric {other}"),
        }
    }
}
