//! Manifest full text at scale, in process: loads N synthetic manifests (detector labels,
//! transcripts of 5–30 words from a 5,000-word vocabulary drawn with a Zipf-like skew,
//! devices, positions around a city) into an engine batch by batch (each batch indexed
//! after it is applied, as on a node), then reopens the engine and reports what the
//! in-memory index costs at start-up (time to rebuild it from the sealed rows, memory:
//! the index's bytes in RAM and the process's resident set) and the latency of text
//! searches of several shapes (p50/p99 of first pages of 100, with exact totals).
//!
//! `cargo run --release -p sightline-bench --bin text -- [--manifests 1000000] [--queries 200]`

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sightline_bench::stats::Summary;
use sightline_bench::sys::{load_average, Machine};
use sightline_index::area::Area;
use sightline_query::{search_manifests, ManifestQuery};
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::prepare::prepare_manifests;
use sightline_storage::record::{validate_manifest, MediaKind};
use sightline_storage::time::{format_rfc3339_ms, now_ms};
use sightline_storage::{Command, Engine, EngineConfig, LogPosition, MasterKey};

const DAY: i64 = 86_400_000;
const CENTER: (f64, f64) = (41.8819, -87.6278);
const LABELS: &[&str] = &[
    "gunshot",
    "glass_break",
    "scream",
    "siren",
    "dog_bark",
    "vehicle_crash",
    "person",
    "vehicle",
    "fire",
    "smoke",
    "alarm",
    "crowd",
    "explosion",
    "horn",
    "tire_screech",
    "motorcycle",
    "bicycle",
    "weapon",
    "running",
    "fight",
    "child",
    "door_slam",
    "helicopter",
    "speech",
    "music",
    "engine",
    "brake",
    "license_plate",
    "face",
    "backpack",
];

#[derive(Parser)]
struct Args {
    /// Manifests to load.
    #[arg(long, default_value_t = 1_000_000)]
    manifests: usize,
    /// Queries per shape.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Manifests per applied batch.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
}

fn pos(index: u64) -> LogPosition {
    LogPosition {
        term: 1,
        leader: 1,
        index,
    }
}

/// Resident set size of this process, bytes.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Pronounceable words, `n` of them, distinct.
fn vocabulary(n: usize) -> Vec<String> {
    const C: &[&str] = &[
        "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
    ];
    const V: &[&str] = &["a", "e", "i", "o", "u"];
    let mut out = Vec::with_capacity(n);
    let mut i = 0usize;
    while out.len() < n {
        let mut w = String::new();
        let mut k = i;
        loop {
            w.push_str(C[k % C.len()]);
            k /= C.len();
            w.push_str(V[k % V.len()]);
            k /= V.len();
            if k == 0 {
                break;
            }
        }
        out.push(w);
        i += 1;
    }
    out
}

/// An index into `0..n` skewed to small values (roughly Zipf).
fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.random_range(0.0..1.0);
    ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
}

fn open(dir: &std::path::Path) -> Result<Engine> {
    let mut config = EngineConfig::new(dir);
    config.sync_writes = false;
    Engine::open(&config, MasterKey::from_bytes(&[9; 32])).context("opening the engine")
}

fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let words = vocabulary(5_000);
    let mut rng = StdRng::seed_from_u64(13);
    let now = now_ms();
    let load_started = Instant::now();
    {
        let engine = open(dir.path())?;
        let keys = generate_tenant_keys(engine.master_key(), "bench");
        engine.apply(
            pos(1),
            &Command::UpsertTenant {
                name: "bench".into(),
                policy: TenantPolicy {
                    retention_days: 30,
                    hot_days: 7,
                },
                keys,
            },
        )?;
        let tenant_keys = engine.tenant_keys(1)?;
        let mut index = 2;
        let mut done = 0;
        while done < args.manifests {
            let n = args.batch.min(args.manifests - done);
            let mut errors = Vec::new();
            let mut inputs = Vec::with_capacity(n);
            for i in 0..n {
                let labels: Vec<&str> = (0..rng.random_range(0..4))
                    .map(|_| LABELS[skewed(&mut rng, LABELS.len())])
                    .collect();
                let transcript: Vec<&str> = (0..rng.random_range(5..30))
                    .map(|_| words[skewed(&mut rng, words.len())].as_str())
                    .collect();
                let kind = ["image", "video", "audio"][i % 3];
                let mut v = json!({"device_id": format!("cam-{}", rng.random_range(0..2_000)),
                    "kind": kind,
                    "started_at": format_rfc3339_ms(now - rng.random_range(0..28 * DAY)),
                    "duration_ms": 30_000, "object_key": format!("media/{done}/{i}.mp4"),
                    "sha256": "ab".repeat(32), "bytes": 1_000_000, "labels": labels});
                if rng.random_bool(0.6) {
                    v["transcript"] = json!(transcript.join(" "));
                }
                if rng.random_bool(0.8) {
                    v["lat"] = json!(CENTER.0 + rng.random_range(-0.1..0.1));
                    v["lon"] = json!(CENTER.1 + rng.random_range(-0.1..0.1));
                }
                inputs.push(
                    validate_manifest(i, &v, now, &mut errors)
                        .with_context(|| format!("{errors:?}"))?,
                );
            }
            let (cmd, _) =
                prepare_manifests(1, &tenant_keys, inputs, now, &mut rng).context("no data key")?;
            engine.apply(pos(index), &cmd)?;
            index += 1;
            done += n;
        }
        engine.flush()?;
        println!(
            "loaded {} manifests in {:.1} s (apply and index batch by batch, {} per batch); index {:.1} MiB",
            args.manifests,
            load_started.elapsed().as_secs_f64(),
            args.batch,
            mib(engine.manifest_index_bytes() as u64)
        );
    }
    let rss_closed = rss_bytes();
    let opened = Instant::now();
    let engine = open(dir.path())?;
    let rebuild = opened.elapsed();
    let rss_open = rss_bytes();
    let index_bytes = engine.manifest_index_bytes() as u64;
    println!(
        "reopen (rebuild of {} documents): {:.2} s; index in RAM {:.1} MiB ({:.0} B/manifest); RSS {:.0} MiB after (was {:.0} MiB with no engine open)",
        engine.manifest_index_docs(1),
        rebuild.as_secs_f64(),
        mib(index_bytes),
        index_bytes as f64 / args.manifests.max(1) as f64,
        mib(rss_open.unwrap_or(0)),
        mib(rss_closed.unwrap_or(0)),
    );

    let area = Area::circle(CENTER.0, CENTER.1, 2_000.0)?;
    type Shape = (&'static str, Box<dyn Fn(&mut StdRng) -> ManifestQuery>);
    let base = move |q: String| ManifestQuery {
        tenant: 1,
        q,
        from: i64::MIN,
        to: i64::MAX,
        area: None,
        kind: None,
        limit: 100,
        cursor: None,
    };
    let w = words.clone();
    let w2 = words.clone();
    let w3 = words.clone();
    let shapes: Vec<Shape> = vec![
        (
            "common label (gunshot)",
            Box::new(move |_| base("gunshot".into())),
        ),
        (
            "label, random",
            Box::new(move |r| base(LABELS[r.random_range(0..LABELS.len())].replace('_', " "))),
        ),
        (
            "transcript word, mid-frequency",
            Box::new(move |r| base(w[r.random_range(20..200)].clone())),
        ),
        (
            "transcript word, rare",
            Box::new(move |r| base(w2[r.random_range(1_000..5_000)].clone())),
        ),
        (
            "two words AND",
            Box::new(move |r| {
                base(format!(
                    "{} {}",
                    LABELS[r.random_range(0..8)],
                    w3[r.random_range(0..100)]
                ))
            }),
        ),
        (
            "label, 1 day, video",
            Box::new(move |r| {
                let mut q = base(LABELS[r.random_range(0..LABELS.len())].replace('_', " "));
                let to = now - r.random_range(0..27 * DAY);
                (q.from, q.to, q.kind) = (to - DAY, to, Some(MediaKind::Video));
                q
            }),
        ),
        (
            "label, 2 km circle",
            Box::new(move |r| {
                let mut q = base(LABELS[r.random_range(0..LABELS.len())].replace('_', " "));
                q.area = Some(area.clone());
                q
            }),
        ),
    ];
    println!(
        "| query at {} manifests | p50 ms | p99 ms | mean total |",
        args.manifests
    );
    println!("| --- | ---: | ---: | ---: |");
    for (name, make) in &shapes {
        let mut times: Vec<Duration> = Vec::with_capacity(args.queries);
        let mut totals = 0u64;
        for _ in 0..args.queries {
            let q = make(&mut rng);
            let t = Instant::now();
            let page = search_manifests(&engine, &q)?;
            times.push(t.elapsed());
            totals += page.total;
        }
        let s = Summary::of(&mut times).context("no samples")?;
        println!(
            "| {name} | {:.2} | {:.2} | {} |",
            s.p50_ms,
            s.p99_ms,
            totals / args.queries as u64
        );
    }
    let m = Machine::detect();
    println!(
        "machine: {} CPUs ({}), {:.1} GiB; load average after {:?}",
        m.cpus,
        m.cpu_model,
        m.mem_bytes as f64 / (1u64 << 30) as f64,
        load_average()
    );
    Ok(())
}
