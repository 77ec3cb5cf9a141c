//! Every search against a brute-force scan of what was written: an in-process engine holds
//! seeded random reads around downtown Chicago (a few hundred plates, many near-misses of
//! each other, vehicles, cameras), and each query's pages together must equal the reads the
//! brute force selects, newest first, each once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sightline_index::area::Area;
use sightline_index::pattern::{Fuzzy, Wildcard};
use sightline_query::colocation::{co_location, CoLocationQuery, Place};
use sightline_query::convoy::{convoy, ConvoyQuery};
use sightline_query::frequency::{frequency, FrequencyQuery};
use sightline_query::{search_reads, Cursor, PlateMatch, ReadQuery, TotalRelation, VehicleFilter};
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::prepare::prepare_reads;
use sightline_storage::record::{validate_read, PlateRead};
use sightline_storage::time::{format_rfc3339_ms, now_ms};
use sightline_storage::{Command, Engine, EngineConfig, LogPosition, MasterKey};

const CENTER: (f64, f64) = (41.8819, -87.6278);
const HOUR: i64 = 3_600_000;

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    now: i64,
    /// Every read as stored (with its public id).
    reads: Vec<PlateRead>,
}

fn pos(index: u64) -> LogPosition {
    LogPosition {
        term: 1,
        leader: 1,
        index,
    }
}

fn random_plate(rng: &mut StdRng) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNOPRSTUVWXYZ";
    let mut p = String::new();
    for _ in 0..3 {
        p.push(LETTERS[rng.random_range(0..LETTERS.len())] as char);
    }
    for _ in 0..rng.random_range(2..5) {
        p.push((b'0' + rng.random_range(0..10u8)) as char);
    }
    p
}

/// `n` reads over two days of `plates` distinct plates (plus OCR look-alikes of some),
/// within about 4 km of the centre, from 40 cameras each at a fixed place.
fn fixture(seed: u64, n: usize, plates: usize) -> Fixture {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(
        &EngineConfig::new(dir.path()),
        MasterKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let keys = generate_tenant_keys(engine.master_key(), "t");
    engine
        .apply(
            pos(1),
            &Command::UpsertTenant {
                name: "t".into(),
                policy: TenantPolicy {
                    retention_days: 30,
                    hot_days: 7,
                },
                keys,
            },
        )
        .unwrap();
    let mut pool: Vec<String> = (0..plates).map(|_| random_plate(&mut rng)).collect();
    // Look-alikes: OCR confusions and one-edit neighbours of some plates.
    for i in 0..plates / 4 {
        let p = pool[i]
            .replace('O', "0")
            .replace('B', "8")
            .replace('S', "5");
        let mut q = pool[i].clone();
        q.push('7');
        pool.push(p);
        pool.push(q);
    }
    let cameras: Vec<(String, f64, f64)> = (0..40)
        .map(|i| {
            (
                format!("cam-{i:02}"),
                CENTER.0 + rng.random_range(-0.03..0.03),
                CENTER.1 + rng.random_range(-0.04..0.04),
            )
        })
        .collect();
    let colors = ["silver", "Silver", "black", "white", "red"];
    let models = [("Toyota", "Camry"), ("Honda", "Civic"), ("Ford", "Transit")];
    let now = now_ms();
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let plate = &pool[rng.random_range(0..pool.len())];
        let ts = now - rng.random_range(0..48 * HOUR);
        let (lat, lon) = if i % 3 == 0 {
            // a camera's fixed place
            let c = &cameras[rng.random_range(0..cameras.len())];
            (c.1, c.2)
        } else {
            (
                CENTER.0 + rng.random_range(-0.035..0.035),
                CENTER.1 + rng.random_range(-0.045..0.045),
            )
        };
        let camera = &cameras[rng.random_range(0..cameras.len())].0;
        let (make, model) = models[rng.random_range(0..models.len())];
        values.push(json!({"camera_id": camera, "captured_at": format_rfc3339_ms(ts),
            "plate": plate, "lat": lat, "lon": lon,
            "vehicle": {"make": make, "model": model, "color": colors[rng.random_range(0..colors.len())]}}));
    }
    let tenant_keys = engine.tenant_keys(1).unwrap();
    let mut reads = Vec::with_capacity(n);
    for (b, chunk) in values.chunks(2_000).enumerate() {
        let mut errors = Vec::new();
        let inputs: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| validate_read(i, v, now, &mut errors).unwrap())
            .collect();
        let mut batch: Vec<PlateRead> = inputs.iter().map(|i| i.read.clone()).collect();
        let (cmd, ids) = prepare_reads(1, &tenant_keys, inputs, now, &mut rng).unwrap();
        for (read, id) in batch.iter_mut().zip(ids) {
            read.id = id;
        }
        reads.extend(batch);
        engine.apply(pos(2 + b as u64), &cmd).unwrap();
    }
    Fixture {
        _dir: dir,
        engine,
        now,
        reads,
    }
}

fn base_query(f: &Fixture) -> ReadQuery {
    ReadQuery {
        tenant: 1,
        plate: None,
        area: None,
        cameras: vec![],
        vehicle: None,
        from: f.now - 48 * HOUR,
        to: f.now,
        limit: 37,
        cursor: None,
    }
}

/// Reads every page; returns the ids in order and checks order, uniqueness and totals.
fn all_pages(f: &Fixture, mut q: ReadQuery) -> Vec<String> {
    let mut ids = Vec::new();
    let mut last: Option<i64> = None;
    let mut first_total = None;
    loop {
        let page = search_reads(&f.engine, &q).unwrap();
        if first_total.is_none() {
            first_total = Some((page.total, page.total_relation));
        }
        for hit in &page.hits {
            assert!(last.is_none_or(|l| hit.captured_at <= l), "newest first");
            last = Some(hit.captured_at);
            ids.push(hit.id.clone());
        }
        match page.next_cursor {
            Some(c) => q.cursor = Some(Cursor::decode(&c.encode(7), 7).unwrap()),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a hit appeared twice");
    if let Some((total, relation)) = first_total {
        match relation {
            TotalRelation::Eq => assert_eq!(total as usize, ids.len(), "exact total"),
            TotalRelation::Gte => assert!(total as usize <= ids.len(), "lower bound"),
        }
    }
    ids
}

fn brute(f: &Fixture, q: &ReadQuery) -> Vec<String> {
    let mut hits: Vec<&PlateRead> = f
        .reads
        .iter()
        .filter(|r| r.captured_at >= q.from && r.captured_at <= q.to)
        .filter(|r| q.plate.as_ref().is_none_or(|p| p.matches(&r.plate)))
        .filter(|r| q.area.as_ref().is_none_or(|a| a.contains(r.lat, r.lon)))
        .filter(|r| q.cameras.is_empty() || q.cameras.contains(&r.camera_id))
        .filter(|r| q.vehicle.as_ref().is_none_or(|v| v.matches(r)))
        .collect();
    hits.sort_by_key(|r| std::cmp::Reverse(r.captured_at));
    hits.into_iter().map(|r| r.id.clone()).collect()
}

/// Same set, and the order by time agrees (ids at equal times may come in any order).
fn assert_same(f: &Fixture, got: &[String], want: &[String], what: &str) {
    let g: BTreeSet<&String> = got.iter().collect();
    let w: BTreeSet<&String> = want.iter().collect();
    assert_eq!(g, w, "{what}: {} got vs {} expected", got.len(), want.len());
    let time: HashMap<&String, i64> = f.reads.iter().map(|r| (&r.id, r.captured_at)).collect();
    let gt: Vec<i64> = got.iter().map(|id| time[id]).collect();
    let wt: Vec<i64> = want.iter().map(|id| time[id]).collect();
    assert_eq!(gt, wt, "{what}: order");
}

fn shared() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| fixture(7, 30_000, 600))
}

fn arb_area() -> impl Strategy<Value = Area> {
    let circle = (-0.02..0.02f64, -0.03..0.03f64, 50.0..2500.0f64)
        .prop_map(|(a, b, r)| Area::circle(CENTER.0 + a, CENTER.1 + b, r).unwrap());
    let bbox = (
        -0.03..0.02f64,
        -0.04..0.03f64,
        0.001..0.02f64,
        0.001..0.02f64,
    )
        .prop_map(|(a, b, h, w)| {
            Area::bbox(
                CENTER.0 + a,
                CENTER.1 + b,
                CENTER.0 + a + h,
                CENTER.1 + b + w,
            )
            .unwrap()
        });
    // Star-shaped polygons: vertices at increasing angles, random radii (never crossing).
    let polygon = (
        -0.02..0.02f64,
        -0.02..0.02f64,
        prop::collection::vec(0.002..0.015f64, 3..9),
    )
        .prop_map(|(a, b, radii)| {
            let n = radii.len();
            let pts = radii
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let t = i as f64 / n as f64 * std::f64::consts::TAU;
                    (CENTER.0 + a + r * t.sin(), CENTER.1 + b + r * 1.3 * t.cos())
                })
                .collect();
            Area::polygon(pts).unwrap()
        });
    let cells = (-0.02..0.02f64, -0.03..0.03f64, 7u8..11).prop_map(|(a, b, res)| {
        let res = h3o::Resolution::try_from(res).unwrap();
        let cell = h3o::LatLng::new(CENTER.0 + a, CENTER.1 + b)
            .unwrap()
            .to_cell(res);
        let mut cells: Vec<String> = cell
            .grid_disk::<Vec<_>>(1)
            .iter()
            .take(3)
            .map(|c| c.to_string())
            .collect();
        cells.sort();
        Area::cells(&cells).unwrap()
    });
    prop_oneof![circle, bbox, polygon, cells]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn area_search_equals_a_brute_force_scan(area in arb_area(), hours in 1i64..48, vehicle in 0u8..3) {
        let f = shared();
        let mut q = base_query(f);
        q.from = f.now - hours * HOUR;
        q.area = Some(area);
        q.vehicle = match vehicle {
            1 => VehicleFilter::new(None, Some("camry"), Some("SILVER"), None),
            2 => VehicleFilter::new(Some("ford"), None, None, None),
            _ => None,
        };
        let want = brute(f, &q);
        let got = all_pages(f, q);
        assert_same(f, &got, &want, "area");
    }

    #[test]
    fn wildcard_and_fuzzy_searches_equal_a_brute_force_scan(pick in 0usize..10_000, kind in 0u8..6, hours in 1i64..48) {
        let f = shared();
        let plate = f.reads[pick % f.reads.len()].plate.clone();
        let mut q = base_query(f);
        q.from = f.now - hours * HOUR;
        let mid = plate.len() / 2;
        q.plate = Some(match kind {
            0 => PlateMatch::Wildcard(Wildcard::parse(&format!("{}*", &plate[..3])).unwrap()),
            1 => PlateMatch::Wildcard(Wildcard::parse(&format!("*{}", &plate[mid..])).unwrap()),
            2 => PlateMatch::Wildcard(Wildcard::parse(&format!("{}?{}", &plate[..mid], &plate[mid + 1..])).unwrap()),
            3 => PlateMatch::Fuzzy(Fuzzy::new(&plate, 1).unwrap()),
            4 => PlateMatch::Fuzzy(Fuzzy::new(&plate, 2).unwrap()),
            _ => PlateMatch::Exact(plate.clone()),
        });
        let want = brute(f, &q);
        let got = all_pages(f, q);
        assert_same(f, &got, &want, "plate");
    }
}

#[test]
fn plate_with_area_and_cameras_picks_a_path_and_still_equals_brute_force() {
    let f = shared();
    let mut q = base_query(f);
    q.plate = Some(PlateMatch::Wildcard(Wildcard::parse("*1*").unwrap()));
    q.area = Some(Area::circle(CENTER.0, CENTER.1, 800.0).unwrap());
    let want = brute(f, &q);
    let page = search_reads(&f.engine, &q).unwrap();
    assert_eq!(page.explain.candidates.len(), 2, "{:?}", page.explain);
    assert_same(f, &all_pages(f, q.clone()), &want, "plate+area");
    q.area = None;
    q.cameras = vec!["cam-03".into(), "cam-17".into()];
    let want = brute(f, &q);
    assert_same(f, &all_pages(f, q), &want, "plate+cameras");
}

#[test]
fn a_large_answer_reports_a_lower_bound_total() {
    let f = shared();
    let mut q = base_query(f);
    q.area = Some(Area::circle(CENTER.0, CENTER.1, 4000.0).unwrap());
    let page = search_reads(&f.engine, &q).unwrap();
    assert_eq!(page.total_relation, TotalRelation::Gte);
    assert!(brute(f, &q).len() as u64 > page.total);
    assert_eq!(page.hits.len(), 37);
}

#[test]
fn co_location_convoy_and_frequency_equal_brute_force() {
    let f = shared();
    // Co-location: three circles around busy cameras' places, one hour windows.
    let mut rng = StdRng::seed_from_u64(11);
    for round in 0..6 {
        let places: Vec<(f64, f64, f64, i64)> = (0..3)
            .map(|_| {
                let r = &f.reads[rng.random_range(0..f.reads.len())];
                (r.lat, r.lon, rng.random_range(100.0..1500.0), r.captured_at)
            })
            .collect();
        let spans: Vec<Place> = places
            .iter()
            .map(|(lat, lon, radius, at)| Place {
                area: Area::circle(*lat, *lon, *radius).unwrap(),
                from: at - 6 * HOUR,
                to: at + 6 * HOUR,
            })
            .collect();
        for min_places in 1..=3 {
            let query = CoLocationQuery {
                tenant: 1,
                places: spans.clone(),
                min_places,
                limit: 100_000,
            };
            let answer = co_location(&f.engine, &query).unwrap();
            let mut want: BTreeMap<String, (BTreeSet<usize>, BTreeSet<String>)> = BTreeMap::new();
            for (i, p) in spans.iter().enumerate() {
                for r in &f.reads {
                    if r.captured_at >= p.from
                        && r.captured_at <= p.to
                        && p.area.contains(r.lat, r.lon)
                    {
                        let e = want.entry(r.plate.clone()).or_default();
                        e.0.insert(i);
                        e.1.insert(r.id.clone());
                    }
                }
            }
            want.retain(|_, (places, _)| places.len() >= min_places);
            let got: BTreeMap<String, (BTreeSet<usize>, BTreeSet<String>)> = answer
                .plates
                .iter()
                .map(|p| {
                    (
                        p.plate.clone(),
                        (
                            p.places.iter().copied().collect(),
                            p.read_ids.iter().cloned().collect(),
                        ),
                    )
                })
                .collect();
            assert_eq!(got, want, "co-location round {round} k={min_places}");
            assert_eq!(answer.total, want.len());
        }
    }
    // Convoy and frequency for a few plates.
    for pick in [5usize, 500, 5000, 12_345] {
        let target = f.reads[pick].plate.clone();
        let window = 600i64;
        let query = ConvoyQuery {
            tenant: 1,
            plate: target.clone(),
            from: f.now - 48 * HOUR,
            to: f.now,
            window_s: window as u32,
            min_co_occurrences: 1,
            limit: 100_000,
        };
        let answer = convoy(&f.engine, &query).unwrap();
        let targets: Vec<&PlateRead> = f.reads.iter().filter(|r| r.plate == target).collect();
        let mut want: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
        for r in f.reads.iter().filter(|r| r.plate != target) {
            for t in &targets {
                if t.camera_id == r.camera_id
                    && (t.captured_at - r.captured_at).abs() <= window * 1000
                {
                    want.entry(r.plate.clone())
                        .or_default()
                        .1
                        .insert(r.id.clone());
                }
            }
        }
        for (plate, (count, _)) in want.iter_mut() {
            *count = targets
                .iter()
                .filter(|t| {
                    f.reads.iter().any(|r| {
                        &r.plate == plate
                            && r.camera_id == t.camera_id
                            && (t.captured_at - r.captured_at).abs() <= window * 1000
                    })
                })
                .count();
        }
        let got: BTreeMap<String, (usize, BTreeSet<String>)> = answer
            .plates
            .iter()
            .map(|p| {
                (
                    p.plate.clone(),
                    (p.co_occurrences, p.read_ids.iter().cloned().collect()),
                )
            })
            .collect();
        assert_eq!(got, want, "convoy of {target}");

        let freq = frequency(
            &f.engine,
            &FrequencyQuery {
                tenant: 1,
                plate: target.clone(),
                from: f.now - 48 * HOUR,
                to: f.now,
            },
        )
        .unwrap();
        assert_eq!(freq.total as usize, targets.len());
        let mut by_camera: BTreeMap<&str, u64> = BTreeMap::new();
        for t in &targets {
            *by_camera.entry(&t.camera_id).or_default() += 1;
        }
        let got: BTreeMap<&str, u64> = freq
            .by_camera
            .iter()
            .map(|c| (c.camera_id.as_str(), c.count))
            .collect();
        assert_eq!(got, by_camera);
        assert_eq!(freq.by_hour.iter().sum::<u64>() as usize, targets.len());
        assert_eq!(freq.by_weekday.iter().sum::<u64>() as usize, targets.len());
    }
}
