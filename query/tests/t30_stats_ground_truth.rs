//! Read statistics (issue 15, the analyst's aggregate) against a brute-force count over the
//! planted reads: seeded random reads (cameras, plates sent in several spellings of one
//! normalized plate, positions over many resolution-7 cells, times on a one-second grid with
//! millisecond jitter so bucket edges are hit) are prepared and applied through a real engine
//! on a temporary directory, beside a decoy tenant with look-alike reads and a re-sent batch
//! (client ids, so nothing is counted twice). Every random query (range, step, both
//! groupings) must answer exactly the epoch-aligned, non-empty (bucket, key) groups of the
//! brute force with their read and distinct normalized plate counts, in (ts, key) order, or
//! refuse `step_s` when the range spans more than the bucket bound.

use std::collections::{BTreeMap, BTreeSet};

use h3o::{LatLng, Resolution};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sightline_query::stats::{read_stats, GroupBy, StatsBucket, StatsQuery, MAX_BUCKETS, MAX_ROWS};
use sightline_query::QueryError;
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::prepare::prepare_reads;
use sightline_storage::record::{normalize_plate, validate_read};
use sightline_storage::time::{format_rfc3339_ms, DAY_MS};
use sightline_storage::{ApplyOutcome, Command, Engine, EngineConfig, LogPosition, MasterKey};

/// Midnight UTC, 2026-11-17.
const BASE: i64 = 20_774 * DAY_MS;
/// The planted reads span three days from [`BASE`].
const SPAN_S: i64 = 3 * 86_400;
const CENTER: (f64, f64) = (41.8819, -87.6278);

fn pos(index: u64) -> LogPosition {
    LogPosition {
        term: 1,
        leader: 1,
        index,
    }
}

/// One planted read as the brute force sees it.
#[derive(Debug, Clone)]
struct Planted {
    camera_id: String,
    ts: i64,
    /// As sent (the engine normalizes it).
    plate_raw: String,
    lat: f64,
    lon: f64,
}

impl Planted {
    fn json(&self, client_id: &str) -> Value {
        json!({"id": client_id, "camera_id": self.camera_id, "captured_at": format_rfc3339_ms(self.ts),
            "plate": self.plate_raw, "lat": self.lat, "lon": self.lon})
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    /// Tenant ids: "a" is queried, "b" holds decoys.
    tenants: [u32; 2],
    index: u64,
    now: i64,
    /// Every distinct read of tenant "a".
    reads: Vec<Planted>,
}

impl Fixture {
    fn new(retention_days: u32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            &EngineConfig::new(dir.path()),
            MasterKey::from_bytes(&[6; 32]),
        )
        .unwrap();
        let mut fixture = Fixture {
            _dir: dir,
            engine,
            tenants: [0, 0],
            index: 0,
            now: BASE + SPAN_S * 1_000,
            reads: Vec::new(),
        };
        for (i, name) in ["a", "b"].into_iter().enumerate() {
            let keys = generate_tenant_keys(fixture.engine.master_key(), name);
            let outcome = fixture.apply(&Command::UpsertTenant {
                name: name.into(),
                policy: TenantPolicy {
                    retention_days,
                    hot_days: 1,
                },
                keys,
            });
            fixture.tenants[i] = match outcome {
                ApplyOutcome::Tenant { id, .. } => id,
                other => panic!("{other:?}"),
            };
        }
        fixture
    }

    fn apply(&mut self, command: &Command) -> ApplyOutcome {
        self.index += 1;
        self.engine.apply(pos(self.index), command).unwrap()
    }

    /// Validates, prepares and applies one batch of reads of `tenant` (client ids `ids`).
    fn write(&mut self, tenant: u32, reads: &[Planted], ids: &[String], rng: &mut StdRng) {
        let mut errors = Vec::new();
        let inputs: Vec<_> = reads
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(i, (read, id))| validate_read(i, &read.json(id), self.now, &mut errors).unwrap())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        let keys = self.engine.tenant_keys(tenant).unwrap();
        let (command, _) = prepare_reads(tenant, &keys, inputs, self.now, rng).unwrap();
        self.apply(&command);
    }

    fn query(&self, from: i64, to: i64, step_ms: i64, group_by: GroupBy) -> StatsQuery {
        StatsQuery {
            tenant: self.tenants[0],
            from,
            to,
            step_ms,
            group_by,
        }
    }
}

/// A time on the one-second grid within the span (and an hour either side), often on a whole
/// hour, sometimes a millisecond either side of a second.
fn grid_time(rng: &mut StdRng) -> i64 {
    let s = if rng.random_bool(0.3) {
        rng.random_range(-1..=SPAN_S / 3_600 + 1) * 3_600
    } else {
        rng.random_range(-3_600..SPAN_S + 3_600)
    };
    let jitter = [0i64, 0, 0, 1, -1, 500][rng.random_range(0..6)];
    BASE + s * 1_000 + jitter
}

/// `n` reads of 40 plates (each sent in several spellings), 12 cameras (one with a
/// non-ASCII id), positions over about 20 by 20 km, plus a few fixed places.
fn plant(fixture: &mut Fixture, seed: u64, n: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let plates: Vec<String> = (0..40u8)
        .map(|i| {
            let (first, second) = ((b'A' + i % 26) as char, (b'K' + i / 26) as char);
            format!("{first}{second}{:03}", u32::from(i) * 7)
        })
        .collect();
    let mut cameras: Vec<String> = (0..11).map(|i| format!("cam-{i:02}")).collect();
    cameras.push("càmera-ü".into());
    let places = [(41.8819, -87.6278), (41.9, -87.7), (41.85, -87.6)];
    let planted: Vec<Planted> = (0..n)
        .map(|_| {
            let plate = &plates[rng.random_range(0..plates.len())];
            let plate_raw = match rng.random_range(0..4) {
                0 => plate.to_lowercase(),
                1 => format!("{}-{}", &plate[..2], &plate[2..]),
                2 => format!("{} {}", &plate[..3], &plate[3..]),
                _ => plate.clone(),
            };
            let (lat, lon) = if rng.random_bool(0.2) {
                places[rng.random_range(0..places.len())]
            } else {
                (
                    CENTER.0 + rng.random_range(-0.09..0.09),
                    CENTER.1 + rng.random_range(-0.12..0.12),
                )
            };
            Planted {
                camera_id: cameras[rng.random_range(0..cameras.len())].clone(),
                ts: grid_time(&mut rng).clamp(BASE - 3_600_000, fixture.now),
                plate_raw,
                lat,
                lon,
            }
        })
        .collect();
    let ids: Vec<String> = (0..n).map(|i| format!("r-{seed}-{i}")).collect();
    let [a, b] = fixture.tenants;
    let mut start = 0;
    while start < n {
        let end = (start + rng.random_range(1..400)).min(n);
        fixture.write(a, &planted[start..end], &ids[start..end], &mut rng);
        // The decoy tenant: the same cameras and plates at the same times, elsewhere.
        let decoys: Vec<Planted> = planted[start..end]
            .iter()
            .map(|p| Planted {
                lat: p.lat + 0.5,
                ..p.clone()
            })
            .collect();
        fixture.write(b, &decoys, &ids[start..end], &mut rng);
        start = end;
    }
    // A re-sent batch (same client ids): stored once, counted once.
    let again = n.min(300);
    fixture.write(a, &planted[..again], &ids[..again], &mut rng);
    fixture.reads.extend(planted);
}

fn cell_r7(lat: f64, lon: f64) -> String {
    let cell = LatLng::new(lat, lon).unwrap().to_cell(Resolution::Seven);
    format!("{:x}", u64::from(cell))
}

/// The brute force: every planted read of tenant "a" in `[from, to]`, grouped by
/// `ts - ts mod step` and key, counting reads and distinct normalized plates.
fn brute_force(
    reads: &[Planted],
    from: i64,
    to: i64,
    step_ms: i64,
    group_by: GroupBy,
) -> Vec<StatsBucket> {
    let mut groups: BTreeMap<(i64, String), (u64, BTreeSet<String>)> = BTreeMap::new();
    for read in reads {
        if read.ts < from || read.ts > to {
            continue;
        }
        let key = match group_by {
            GroupBy::Camera => read.camera_id.clone(),
            GroupBy::H3R7 => cell_r7(read.lat, read.lon),
        };
        let group = groups
            .entry((read.ts - read.ts.rem_euclid(step_ms), key))
            .or_default();
        group.0 += 1;
        group.1.insert(normalize_plate(&read.plate_raw).unwrap());
    }
    groups
        .into_iter()
        .map(|((ts, key), (reads, plates))| StatsBucket {
            ts,
            key,
            reads,
            distinct_vehicles: plates.len() as u64,
        })
        .collect()
}

/// Steps in seconds: tiny ones (many buckets; some ranges past the bound), the usual ones,
/// and odd ones that divide nothing.
fn step_s(rng: &mut StdRng) -> i64 {
    match rng.random_range(0..3) {
        0 => rng.random_range(1..=10),
        1 => [15, 60, 300, 900, 3_600, 7_200, 86_400][rng.random_range(0..7)],
        _ => rng.random_range(11..=50_000),
    }
}

#[test]
fn read_stats_equal_brute_force() {
    let mut checked = [0usize; 2];
    for seed in 0..3u64 {
        let mut fixture = Fixture::new(3_650);
        plant(&mut fixture, seed, 2_500);
        let mut rng = StdRng::seed_from_u64(1_000 + seed);
        for _ in 0..60 {
            let (a, b) = (grid_time(&mut rng), grid_time(&mut rng));
            // Sometimes the whole span, sometimes a single instant.
            let (from, to) = match rng.random_range(0..6) {
                0 => (BASE - 7_200_000, fixture.now + 1),
                1 => (a, a),
                _ => (a.min(b), a.max(b)),
            };
            let step_ms = step_s(&mut rng) * 1_000;
            let buckets = to.div_euclid(step_ms) - from.div_euclid(step_ms) + 1;
            for (g, group_by) in [GroupBy::Camera, GroupBy::H3R7].into_iter().enumerate() {
                let query = fixture.query(from, to, step_ms, group_by);
                match read_stats(&fixture.engine, &query) {
                    Ok(got) => {
                        assert!(
                            buckets <= MAX_BUCKETS,
                            "{buckets} buckets answered: {query:?}"
                        );
                        let want = brute_force(&fixture.reads, from, to, step_ms, group_by);
                        assert_eq!(got, want, "{query:?}");
                        checked[g] += usize::from(!want.is_empty());
                    }
                    Err(QueryError::Invalid { field, .. }) => {
                        assert_eq!(field, "step_s", "{query:?}");
                        assert!(
                            buckets > MAX_BUCKETS,
                            "refused {buckets} buckets: {query:?}"
                        );
                    }
                    Err(other) => panic!("{query:?}: {other:?}"),
                }
            }
        }
    }
    // The cases were not vacuous: most queries found reads under both groupings.
    assert!(checked.iter().all(|&n| n >= 60), "{checked:?}");
}

#[test]
fn reads_below_the_retention_watermark_are_never_counted() {
    let mut fixture = Fixture::new(1);
    let mut rng = StdRng::seed_from_u64(7);
    let read = |ts: i64, plate: &str| Planted {
        camera_id: "cam-1".into(),
        ts,
        plate_raw: plate.into(),
        lat: CENTER.0,
        lon: CENTER.1,
    };
    let now = fixture.now;
    let reads = [
        read(now - 2 * DAY_MS, "AAA111"),
        read(now - DAY_MS - 1, "AAA111"),
        read(now - DAY_MS, "BBB222"),
        read(now, "bbb-222"),
    ];
    let ids: Vec<String> = (0..reads.len()).map(|i| format!("x-{i}")).collect();
    let tenant = fixture.tenants[0];
    fixture.write(tenant, &reads, &ids, &mut rng);
    let count = |f: &Fixture, group_by| -> (u64, u64) {
        let query = f.query(now - 5 * DAY_MS, now, 10 * DAY_MS, group_by);
        let buckets = read_stats(&f.engine, &query).unwrap();
        assert!(buckets.len() <= 1, "{buckets:?}");
        buckets
            .first()
            .map_or((0, 0), |b| (b.reads, b.distinct_vehicles))
    };
    for group_by in [GroupBy::Camera, GroupBy::H3R7] {
        assert_eq!(count(&fixture, group_by), (4, 2), "before the clock ticks");
    }
    fixture.apply(&Command::AdvanceClock { now_ms: now });
    assert_eq!(fixture.engine.retention_cutoff(tenant), Some(now - DAY_MS));
    for group_by in [GroupBy::Camera, GroupBy::H3R7] {
        assert_eq!(
            count(&fixture, group_by),
            (2, 1),
            "hidden before compaction"
        );
    }
    fixture.engine.compact_all().unwrap();
    for group_by in [GroupBy::Camera, GroupBy::H3R7] {
        assert_eq!(count(&fixture, group_by), (2, 1), "and gone after it");
    }
}

#[test]
fn a_tenant_without_reads_answers_no_buckets() {
    let fixture = Fixture::new(30);
    for group_by in [GroupBy::Camera, GroupBy::H3R7] {
        let query = fixture.query(BASE, BASE + DAY_MS, 3_600_000, group_by);
        assert_eq!(read_stats(&fixture.engine, &query).unwrap(), vec![]);
    }
}

#[test]
fn an_answer_past_max_rows_is_refused_naming_step_s() {
    let mut fixture = Fixture::new(3_650);
    let mut rng = StdRng::seed_from_u64(9);
    // 11 cameras, each in its own resolution-7 cell, one read a second for 9,500 seconds:
    // 104,500 (second, key) pairs in 9,500 one-second buckets.
    let seconds = 9_500i64;
    let planted: Vec<Planted> = (0..seconds)
        .flat_map(|s| {
            (0..11).map(move |c| Planted {
                camera_id: format!("cam-{c:02}"),
                ts: BASE + s * 1_000,
                plate_raw: format!("RW{c}{s}"),
                lat: CENTER.0 + 0.1 * f64::from(c),
                lon: CENTER.1,
            })
        })
        .collect();
    let ids: Vec<String> = (0..planted.len()).map(|i| format!("m-{i}")).collect();
    let tenant = fixture.tenants[0];
    for (reads, ids) in planted.chunks(10_000).zip(ids.chunks(10_000)) {
        fixture.write(tenant, reads, ids, &mut rng);
    }
    assert!(planted.len() > MAX_ROWS);
    let to = BASE + (seconds - 1) * 1_000;
    for group_by in [GroupBy::Camera, GroupBy::H3R7] {
        match read_stats(&fixture.engine, &fixture.query(BASE, to, 1_000, group_by)) {
            Err(QueryError::Invalid { field, .. }) => assert_eq!(field, "step_s"),
            other => panic!("{group_by:?}: {:?}", other.map(|b| b.len())),
        }
        // Two-second buckets halve the answer, under the bound.
        let buckets =
            read_stats(&fixture.engine, &fixture.query(BASE, to, 2_000, group_by)).unwrap();
        assert_eq!(buckets.len(), 11 * 4_750, "{group_by:?}");
        assert!(buckets
            .iter()
            .all(|b| b.reads == 2 && b.distinct_vehicles == 2));
    }
}
