//! The planted scenarios, checked by brute force over the generated JSON: each search's
//! answer is computed the slow way, for several seeds and window ends, and must be exactly
//! the planted one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value;

use super::super::grid::{cam_index, cameras};
use super::super::scenarios::{ocr_distance, CAMRY_CELL};
use super::super::time::{Clock, HOUR};
use super::super::{generate_day, DemoData, FACTS};
use super::{ms, plate, END, END_SUMMER};

/// The demo's seed (`demo::DEMO_SEED`) and a few others.
const SEEDS: [u64; 4] = [42, 0, 7, u64::MAX];

/// (seed, end, day): the demo seed at several window ends, the other seeds at one.
fn days() -> &'static [(u64, i64, DemoData)] {
    static DAYS: OnceLock<Vec<(u64, i64, DemoData)>> = OnceLock::new();
    DAYS.get_or_init(|| {
        let ends = [END, END_SUMMER, END + 5 * HOUR + 1_234, END - 11 * HOUR];
        let mut cases: Vec<(u64, i64)> = ends.iter().map(|&e| (SEEDS[0], e)).collect();
        cases.extend(SEEDS[1..].iter().map(|&s| (s, END_SUMMER)));
        std::thread::scope(|scope| {
            let handles: Vec<_> = cases
                .iter()
                .map(|&(seed, end)| scope.spawn(move || (seed, end, generate_day(seed, end))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("generates"))
                .collect()
        })
    })
}

/// Great-circle distance in metres.
fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let (dla, dlo) = ((b.0 - a.0).to_radians(), (b.1 - a.1).to_radians());
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().asin()
}

fn position(r: &Value) -> (f64, f64) {
    (
        r["lat"].as_f64().expect("lat"),
        r["lon"].as_f64().expect("lon"),
    )
}

/// `*` any run, `?` one character, compared with the normalized plate.
fn wildcard(pattern: &[u8], plate: &[u8]) -> bool {
    match (pattern.split_first(), plate.split_first()) {
        (None, _) => plate.is_empty(),
        (Some((b'*', rest)), _) => {
            wildcard(rest, plate) || (!plate.is_empty() && wildcard(pattern, &plate[1..]))
        }
        (Some((&p, rest)), Some((&c, tail))) => (p == b'?' || p == c) && wildcard(rest, tail),
        (Some(_), None) => false,
    }
}

#[test]
fn co_location_only_the_prowler_was_near_all_three_places() {
    for c in cameras() {
        for &place in &FACTS.co_location_places {
            assert!(distance_m((c.lat, c.lon), place) > 250.0, "{}", c.id);
        }
    }
    let places = &FACTS.co_location_places;
    assert!(distance_m(places[0], places[1]) > 2_000.0);
    for (seed, end, day) in days() {
        let mut seen: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for r in &day.reads {
            for (i, &place) in places.iter().enumerate() {
                if distance_m(position(r), place) <= FACTS.co_location_radius_m {
                    seen.entry(plate(r)).or_default().insert(i);
                }
            }
        }
        let at_least = |n: usize| -> BTreeMap<&str, Vec<usize>> {
            seen.iter()
                .filter(|(_, p)| p.len() >= n)
                .map(|(plate, p)| (plate.as_str(), p.iter().copied().collect()))
                .collect()
        };
        let all = BTreeMap::from([(FACTS.co_location_plate, vec![0, 1, 2])]);
        assert_eq!(at_least(3), all, "seed {seed}, end {end}");
        let two = BTreeMap::from([
            (FACTS.co_location_plate, vec![0, 1, 2]),
            (FACTS.co_location_partial_plate, vec![0, 2]),
        ]);
        assert_eq!(at_least(2), two, "seed {seed}, end {end}");
        assert!(seen.len() >= 3 * 4 + 2, "other parked cars near the places");
    }
}

#[test]
fn convoy_only_the_follower_travels_with_the_lead() {
    let window_ms = 60_000;
    for (seed, end, day) in days() {
        let lead: Vec<&Value> = day
            .reads
            .iter()
            .filter(|r| plate(r) == FACTS.convoy_lead_plate)
            .collect();
        assert_eq!(lead.len(), FACTS.convoy_cameras);
        let mut co: BTreeMap<String, usize> = BTreeMap::new();
        for target in &lead {
            let t = ms(&target["captured_at"]);
            let near: BTreeSet<String> = day
                .reads
                .iter()
                .filter(|r| r["camera_id"] == target["camera_id"])
                .filter(|r| (ms(&r["captured_at"]) - t).abs() <= window_ms)
                .map(plate)
                .filter(|p| p != FACTS.convoy_lead_plate)
                .collect();
            for p in near {
                *co.entry(p).or_insert(0) += 1;
            }
        }
        co.retain(|_, n| *n >= 4);
        let want = BTreeMap::from([(FACTS.convoy_follower_plate.to_string(), 7)]);
        assert_eq!(co, want, "seed {seed}, end {end}");
        // The follower is 10–40 s behind at every camera.
        for target in &lead {
            let t = ms(&target["captured_at"]);
            let lag: Vec<i64> = day
                .reads
                .iter()
                .filter(|r| plate(r) == FACTS.convoy_follower_plate)
                .filter(|r| r["camera_id"] == target["camera_id"])
                .map(|r| ms(&r["captured_at"]) - t)
                .collect();
            assert!(
                lag.len() == 1 && (10_000..=40_000).contains(&lag[0]),
                "{lag:?}"
            );
        }
    }
}

#[test]
fn misread_family_fuzzy_finds_every_read_and_the_wildcard_a_known_few() {
    assert_eq!(ocr_distance("BGL5521", "8GL5521"), 0);
    assert_eq!(ocr_distance("BGL5521", "BGL5S21"), 0);
    assert_eq!(ocr_distance("BGL5521", "BGL552"), 1);
    assert_eq!(ocr_distance("BGL5521", "XGL5521"), 1);
    assert_eq!(ocr_distance("KD40917", "K040917"), 0);
    assert_eq!(ocr_distance("ABC", "CBA"), 2);
    let mut variants = FACTS.misread_variants.to_vec();
    variants.sort_unstable();
    for (seed, end, day) in days() {
        for max_edits in [1, 2] {
            let fuzzy: Vec<&Value> = day
                .reads
                .iter()
                .filter(|r| ocr_distance(&plate(r), FACTS.misread_plate) <= max_edits)
                .collect();
            assert_eq!(fuzzy.len(), FACTS.misread_reads, "seed {seed}, end {end}");
            assert!(fuzzy.iter().all(|r| r["vehicle"] == fuzzy[0]["vehicle"]));
            let mut wrong: Vec<String> = fuzzy
                .iter()
                .map(|r| plate(r))
                .filter(|p| p != FACTS.misread_plate)
                .collect();
            wrong.sort_unstable();
            assert_eq!(wrong, variants, "each variant once");
            for r in &fuzzy {
                let low = r["confidence"].as_f64().unwrap_or(1.0) < 0.75;
                assert_eq!(low, plate(r) != FACTS.misread_plate, "{r}");
            }
        }
        let pattern = FACTS.misread_wildcard.as_bytes();
        let hits: Vec<String> = day
            .reads
            .iter()
            .map(plate)
            .filter(|p| wildcard(pattern, p.as_bytes()))
            .collect();
        assert_eq!(
            hits.len(),
            FACTS.misread_wildcard_hits,
            "seed {seed}: {hits:?}"
        );
        assert!(hits
            .iter()
            .all(|p| ocr_distance(p, FACTS.misread_plate) == 0));
    }
    assert!(wildcard(b"?GL55*", b"8GL5521") && !wildcard(b"?GL55*", b"B6L5521"));
}

#[test]
fn area_and_vehicle_only_one_silver_camry_near_michigan_and_ohio() {
    let cams = cameras();
    let camera = &cams[cam_index(CAMRY_CELL)];
    assert_eq!(camera.id, FACTS.camry_camera);
    assert_eq!(camera.corner(), "Michigan Ave & Ohio St");
    let is = |v: &Value, field: &str, want: &str| {
        v[field]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(want))
    };
    for (seed, end, day) in days() {
        let hits: Vec<&Value> = day
            .reads
            .iter()
            .filter(|r| distance_m(position(r), (camera.lat, camera.lon)) <= 150.0)
            .filter(|r| is(&r["vehicle"], "color", "silver") && is(&r["vehicle"], "model", "camry"))
            .collect();
        assert_eq!(hits.len(), 1, "seed {seed}, end {end}");
        assert_eq!(plate(hits[0]), FACTS.camry_plate);
        assert_eq!(hits[0]["camera_id"], FACTS.camry_camera);
        let hour = Clock::new(*end).tod(ms(&hits[0]["captured_at"])) / HOUR;
        assert_eq!(hour, 23, "late at night");
        // Other silver Camrys are about: the answer is not empty by accident.
        let others = day
            .reads
            .iter()
            .filter(|r| is(&r["vehicle"], "color", "silver") && is(&r["vehicle"], "model", "camry"))
            .count();
        assert!(others > 100, "{others}");
    }
}
