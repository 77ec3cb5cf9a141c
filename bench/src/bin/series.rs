//! The series query in process (storage + query, no HTTP), issue 13 acceptance 7: one day of
//! 1-second samples of the queried series (86,400), beside `--other-series` more series of
//! the same day (so the column family holds ~10 M samples with `--other-series 115`),
//! ingested hour by hour across all series as live sensors would send them
//! (`prepare_samples`, `Engine::apply`), then flushed and compacted. It prints the bytes per
//! sample on disk and p50/p99 of each query shape as JSON.
//!
//! ```sh
//! cargo build --release --workspace --bin series
//! $CARGO_TARGET_DIR/release/series --iterations 200 --other-series 115
//! ```

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::json;
use sightline_bench::stats::Summary;
use sightline_bench::sys::{rocksdb_family_sizes, Machine};
use sightline_query::series::{series, Aggregation, SeriesQuery};
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::prepare::prepare_samples;
use sightline_storage::record::SensorSample;
use sightline_storage::time::DAY_MS;
use sightline_storage::{ApplyOutcome, Command, Engine, EngineConfig, LogPosition, MasterKey};

#[derive(Parser)]
struct Args {
    /// Timed runs of each query shape (after 3 untimed ones).
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Series of the same day besides the queried one.
    #[arg(long, default_value_t = 0)]
    other_series: usize,
}

/// Midnight UTC, 2026-11-17.
const DAY: i64 = 20_774 * DAY_MS;
const HOUR_S: i64 = 3_600;

fn open_engine(dir: &std::path::Path) -> Result<Engine> {
    let mut config = EngineConfig::new(dir);
    // As under Raft: the replicated log is the durable record.
    config.sync_writes = false;
    Ok(Engine::open(&config, MasterKey::from_bytes(&[9; 32]))?)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine");
    let engine = open_engine(&path)?;
    let mut index = 0;
    let mut apply = |engine: &Engine, command: &Command| -> Result<ApplyOutcome> {
        index += 1;
        let at = LogPosition {
            term: 1,
            leader: 1,
            index,
        };
        Ok(engine.apply(at, command)?)
    };
    let outcome = apply(
        &engine,
        &Command::UpsertTenant {
            name: "bench".into(),
            policy: TenantPolicy {
                retention_days: 3_650,
                hot_days: 7,
            },
            keys: generate_tenant_keys(engine.master_key(), "bench"),
        },
    )?;
    let ApplyOutcome::Tenant { id: tenant, .. } = outcome else {
        bail!("tenant not created: {outcome:?}");
    };
    let keys = engine.tenant_keys(tenant)?;
    let sensors = 1 + args.other_series;
    let started = Instant::now();
    for hour in 0..24 {
        for sensor in 0..sensors {
            let samples = (0..HOUR_S)
                .map(|s| {
                    let second = hour * HOUR_S + s;
                    SensorSample {
                        sensor_id: format!("noise-{sensor}"),
                        metric: "db".into(),
                        ts: DAY + second * 1_000,
                        // A daily cycle with a little noise.
                        value: 50.0
                            + 20.0 * (second as f64 / 86_400.0 * std::f64::consts::TAU).sin()
                            + (second % 7) as f64,
                        tags: Vec::new(),
                    }
                })
                .collect();
            let command = prepare_samples(tenant, &keys, samples).context("no data key")?;
            apply(&engine, &command)?;
        }
    }
    let ingest_s = started.elapsed().as_secs_f64();
    engine.compact_all()?;
    drop(engine);
    let total = sensors as u64 * 86_400;
    let families = rocksdb_family_sizes(&path)?;
    let series_bytes = families
        .iter()
        .find(|f| f.name == "series")
        .map_or(0, |f| f.sst_bytes);
    let engine = open_engine(&path)?;

    let query = |from: i64, to: i64, step_s: i64, agg| SeriesQuery {
        tenant,
        sensor_id: "noise-0".into(),
        metric: "db".into(),
        from,
        to,
        step_ms: step_s * 1_000,
        agg,
    };
    let end = DAY + DAY_MS - 1;
    let shapes = [
        (
            "day, step 60 s (1,440 buckets), avg",
            query(DAY, end, 60, Aggregation::Avg),
            1_440,
        ),
        (
            "day, step 60 s, last",
            query(DAY, end, 60, Aggregation::Last),
            1_440,
        ),
        (
            "day, step 3600 s (24 buckets), max",
            query(DAY, end, 3_600, Aggregation::Max),
            24,
        ),
        (
            "day, step 10 s (8,640 buckets), count",
            query(DAY, end, 10, Aggregation::Count),
            8_640,
        ),
        (
            "one hour, step 1 s (3,600 buckets), avg",
            query(
                DAY + 12 * 3_600_000,
                DAY + 13 * 3_600_000 - 1,
                1,
                Aggregation::Avg,
            ),
            3_600,
        ),
    ];
    let mut report = Vec::new();
    for (name, query, buckets) in shapes {
        let mut times: Vec<Duration> = Vec::with_capacity(args.iterations);
        for i in 0..args.iterations + 3 {
            let started = Instant::now();
            let points = series(&engine, &query)?;
            let took = started.elapsed();
            if points.len() != buckets {
                bail!("{name}: {} buckets, expected {buckets}", points.len());
            }
            if i >= 3 {
                times.push(took);
            }
        }
        let summary = Summary::of(&mut times).context("no runs")?;
        report.push(json!({"query": name, "latency": summary.to_json()}));
    }
    let answer = json!({
        "date": sightline_storage::time::format_rfc3339_ms(sightline_storage::time::now_ms()),
        "machine": Machine::detect().to_json(),
        "samples_total": total,
        "samples_queried_series": 86_400,
        "ingest_s": (ingest_s * 10.0).round() / 10.0,
        "series_sst_bytes": series_bytes,
        "bytes_per_sample": (series_bytes as f64 / total as f64 * 100.0).round() / 100.0,
        "queries": report,
    });
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
