//! Series aggregation against a brute-force computation over the same samples (issue 13,
//! acceptance 4): random samples of three series of two tenants are prepared and applied
//! through a real engine on a temporary directory, in random batches (a later write of the
//! same series and time replaces the earlier one), and every random query (range, step,
//! aggregation) must answer exactly the epoch-aligned, non-empty buckets the brute force
//! computes, or refuse `step_s` when the range spans more than the bucket bound. Times sit
//! on a one-second grid with millisecond jitter, so bucket edges and range ends are hit.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sightline_query::series::{series, Aggregation, Point, SeriesQuery, MAX_BUCKETS};
use sightline_query::QueryError;
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::prepare::prepare_samples;
use sightline_storage::record::SensorSample;
use sightline_storage::time::DAY_MS;
use sightline_storage::{Command, Engine, EngineConfig, LogPosition, MasterKey};

/// Midnight UTC, 2026-11-17.
const BASE: i64 = 20_774 * DAY_MS;
/// (sensor id, metric) of the series; 0 and 1 share a sensor, 0 and 2 a metric.
const SERIES: [(&str, &str); 3] = [("s-1", "temp"), ("s-1", "humidity"), ("s-2", "temp")];

fn pos(index: u64) -> LogPosition {
    LogPosition {
        term: 1,
        leader: 1,
        index,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    /// Tenant id, by name ("a" is queried, "b" holds look-alike series).
    tenants: [u32; 2],
    index: u64,
}

impl Fixture {
    fn new(retention_days: u32) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            &EngineConfig::new(dir.path()),
            MasterKey::from_bytes(&[5; 32]),
        )
        .unwrap();
        let mut fixture = Fixture {
            _dir: dir,
            engine,
            tenants: [0, 0],
            index: 0,
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
                sightline_storage::ApplyOutcome::Tenant { id, .. } => id,
                other => panic!("{other:?}"),
            };
        }
        fixture
    }

    fn apply(&mut self, command: &Command) -> sightline_storage::ApplyOutcome {
        self.index += 1;
        self.engine.apply(pos(self.index), command).unwrap()
    }

    fn write(&mut self, tenant: u32, samples: Vec<SensorSample>) {
        let keys = self.engine.tenant_keys(tenant).unwrap();
        let command = prepare_samples(tenant, &keys, samples).unwrap();
        self.apply(&command);
    }

    fn query(
        &self,
        series_idx: usize,
        from: i64,
        to: i64,
        step_ms: i64,
        agg: Aggregation,
    ) -> SeriesQuery {
        SeriesQuery {
            tenant: self.tenants[0],
            sensor_id: SERIES[series_idx].0.into(),
            metric: SERIES[series_idx].1.into(),
            from,
            to,
            step_ms,
            agg,
        }
    }
}

fn sample(series_idx: usize, ts: i64, value: f64) -> SensorSample {
    let (sensor_id, metric) = SERIES[series_idx];
    SensorSample {
        sensor_id: sensor_id.into(),
        metric: metric.into(),
        ts,
        value,
        // Some samples carry tags, so the payload with tags is read too.
        tags: if ts % 3 == 0 {
            vec![("site".into(), "north".into())]
        } else {
            vec![]
        },
    }
}

/// The brute force: every stored value of the series in `[from, to]`, grouped by
/// `ts - ts mod step`, each group reduced by the aggregation over its values in time order.
fn brute_force(
    stored: &BTreeMap<(usize, i64), f64>,
    series_idx: usize,
    from: i64,
    to: i64,
    step_ms: i64,
    agg: Aggregation,
) -> Vec<Point> {
    let mut groups: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for (&(s, ts), &value) in stored {
        if s == series_idx && from <= ts && ts <= to {
            groups
                .entry(ts - ts.rem_euclid(step_ms))
                .or_default()
                .push((ts, value));
        }
    }
    groups
        .into_iter()
        .map(|(start, mut values)| {
            values.sort_by_key(|(ts, _)| *ts);
            let vs: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
            let sum: f64 = vs.iter().sum();
            let value = match agg {
                Aggregation::Avg => sum / vs.len() as f64,
                Aggregation::Min => vs.iter().copied().fold(f64::INFINITY, f64::min),
                Aggregation::Max => vs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Aggregation::Sum => sum,
                Aggregation::Count => vs.len() as f64,
                Aggregation::Last => values
                    .iter()
                    .max_by_key(|(ts, _)| *ts)
                    .map(|(_, v)| *v)
                    .unwrap(),
            };
            Point { ts: start, value }
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// A time on the one-second grid within `span_s` of [`BASE`], often exactly on a second,
/// sometimes a millisecond either side.
fn grid_time(span_s: i64) -> impl Strategy<Value = i64> {
    (
        0..span_s,
        prop::sample::select(vec![0i64, 0, 0, 1, -1, 500]),
    )
        .prop_map(|(s, jitter)| BASE + s * 1_000 + jitter)
}

fn aggregation() -> impl Strategy<Value = Aggregation> {
    prop::sample::select(Aggregation::ALL.iter().map(|(_, a)| *a).collect::<Vec<_>>())
}

/// Steps in seconds: small ones (with many buckets, some past the bound over long ranges),
/// the usual ones, and odd ones that divide nothing.
fn step_s() -> impl Strategy<Value = i64> {
    prop_oneof![
        1i64..=10,
        prop::sample::select(vec![15i64, 30, 60, 300, 900, 3_600, 86_400]),
        11i64..=20_000,
    ]
}

#[derive(Debug, Clone)]
struct Case {
    /// (series, ts, value) in write order, split into batches at these lengths.
    writes: Vec<(usize, i64, f64)>,
    batch: usize,
    queries: Vec<(usize, i64, i64, i64, Aggregation)>,
}

fn case() -> impl Strategy<Value = Case> {
    // A short span makes repeated times (overwrites) and crowded buckets likely.
    prop::sample::select(vec![600i64, 7_200, 86_400, 3 * 86_400]).prop_flat_map(|span| {
        let write = (0..SERIES.len(), grid_time(span), -1_000.0f64..1_000.0);
        let query = (
            0..SERIES.len(),
            grid_time(span + 120),
            grid_time(span + 120),
            step_s(),
            aggregation(),
        )
            .prop_map(|(s, a, b, step, agg)| {
                // Ranges may start before the first sample and end after the last.
                let (from, to) = (a.min(b) - 60_000, a.max(b));
                (s, from, to, step * 1_000, agg)
            });
        (
            prop::collection::vec(write, 0..400),
            1usize..200,
            prop::collection::vec(query, 1..12),
        )
            .prop_map(|(writes, batch, queries)| Case {
                writes,
                batch,
                queries,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn series_aggregations_equal_brute_force(case in case()) {
        let mut fixture = Fixture::new(3_650);
        let mut stored = BTreeMap::new();
        for chunk in case.writes.chunks(case.batch) {
            let samples: Vec<SensorSample> = chunk.iter().map(|&(s, ts, v)| sample(s, ts, v)).collect();
            // The other tenant writes the same series names with other values at the same times.
            let decoys: Vec<SensorSample> = chunk.iter().map(|&(s, ts, v)| sample(s, ts, v + 1e6)).collect();
            fixture.write(fixture.tenants[0], samples);
            fixture.write(fixture.tenants[1], decoys);
            for &(s, ts, v) in chunk {
                stored.insert((s, ts), v);
            }
        }
        for &(s, from, to, step_ms, agg) in &case.queries {
            let query = fixture.query(s, from, to, step_ms, agg);
            let buckets = to.div_euclid(step_ms) - from.div_euclid(step_ms) + 1;
            match series(&fixture.engine, &query) {
                Ok(points) => {
                    prop_assert!(buckets <= MAX_BUCKETS, "{buckets} buckets answered: {query:?}");
                    let want = brute_force(&stored, s, from, to, step_ms, agg);
                    prop_assert_eq!(points.len(), want.len(), "{:?}\n got {:?}\nwant {:?}", query, points, want);
                    for (got, want) in points.iter().zip(&want) {
                        prop_assert_eq!(got.ts, want.ts, "{:?}", query);
                        prop_assert!(close(got.value, want.value), "{:?}: {:?} vs {:?}", query, got, want);
                    }
                }
                Err(QueryError::Invalid { field, .. }) => {
                    prop_assert_eq!(field, "step_s");
                    prop_assert!(buckets > MAX_BUCKETS, "refused {buckets} buckets: {query:?}");
                }
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }
}

#[test]
fn samples_below_the_retention_watermark_are_never_answered() {
    let mut fixture = Fixture::new(1);
    let now = BASE + 10 * DAY_MS;
    let tenant = fixture.tenants[0];
    fixture.write(
        tenant,
        vec![
            sample(0, now - 3 * DAY_MS, 1.0),
            sample(0, now - DAY_MS - 1, 2.0),
            sample(0, now - DAY_MS, 3.0),
            sample(0, now, 4.0),
        ],
    );
    let query = fixture.query(0, now - 5 * DAY_MS, now, DAY_MS, Aggregation::Count);
    let count = |f: &Fixture| -> f64 {
        series(&f.engine, &query)
            .unwrap()
            .iter()
            .map(|p| p.value)
            .sum()
    };
    assert_eq!(
        count(&fixture),
        4.0,
        "nothing expires before the clock ticks"
    );
    fixture.apply(&Command::AdvanceClock { now_ms: now });
    assert_eq!(fixture.engine.retention_cutoff(tenant), Some(now - DAY_MS));
    assert_eq!(count(&fixture), 2.0, "hidden before compaction");
    fixture.engine.compact_all().unwrap();
    assert_eq!(count(&fixture), 2.0, "and gone after it");
    let last = fixture.query(0, now - 5 * DAY_MS, now, 5 * DAY_MS, Aggregation::Min);
    let points = series(&fixture.engine, &last).unwrap();
    assert_eq!(points.iter().map(|p| p.value).collect::<Vec<_>>(), [3.0]);
}

#[test]
fn an_unknown_series_answers_no_points() {
    let fixture = Fixture::new(30);
    let mut query = fixture.query(0, BASE, BASE + DAY_MS, 60_000, Aggregation::Avg);
    query.sensor_id = "nobody".into();
    assert_eq!(series(&fixture.engine, &query).unwrap(), vec![]);
}
