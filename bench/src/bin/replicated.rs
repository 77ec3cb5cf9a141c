//! Replicated ingest: the same durable ingest load against a one-node and a three-node
//! cluster of real `sightline` processes on loopback, measured in one run, reported as
//! reads/s and as the ratio three/one.
//!
//! `cargo run --release -p sightline-bench --bin replicated -- [--reads 500000] [--binary PATH] [--out FILE]`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use sightline_chaos::process::Launch;
use sightline_chaos::{Client, Cluster, Settings};

const BATCH: usize = 10_000;
const CLIENTS: usize = 2;

/// NDJSON batches of synthetic reads, made before the clock starts.
fn make_batches(reads: usize, seed: u64) -> Vec<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let now = chrono_now_ms();
    let mut batches = Vec::new();
    let mut current = String::with_capacity(BATCH * 330);
    for i in 0..reads {
        let ts = now - rng.random_range(0..30 * 86_400_000i64);
        let plate = format!(
            "{}{:06}",
            (b'A' + rng.random_range(0..26u8)) as char,
            rng.random_range(0..200_000u32)
        );
        let read = serde_json::json!({
            "camera_id": format!("cam-{:03}", rng.random_range(0..300)),
            "captured_at": rfc3339(ts), "plate": plate, "region": "US-IL",
            "confidence": 0.9, "lat": 41.88 + rng.random_range(-0.05..0.05), "lon": -87.63 + rng.random_range(-0.05..0.05),
            "vehicle": {"make": "Toyota", "model": "Camry", "color": "silver", "type": "sedan"}, "direction": "N"
        });
        current.push_str(&read.to_string());
        current.push('\n');
        if (i + 1) % BATCH == 0 || i + 1 == reads {
            batches.push(std::mem::take(&mut current));
        }
    }
    batches
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339(ms: i64) -> String {
    // Days-from-civil inverse, to avoid a date dependency for one format.
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Sends every batch to `url` from `CLIENTS` threads; returns reads/s.
fn ingest(client: &Client, batches: &Arc<Vec<String>>) -> Result<f64> {
    client.create_tenant("bench", 30)?;
    let (total, took) = sightline_bench::load::send_batches(
        &client.url("/v1/tenants/bench/reads"),
        &client.token_for("bench", "ingest")?,
        batches.clone(),
        CLIENTS,
        Arc::new(|_, _| {}),
    )?;
    Ok(total as f64 / took.as_secs_f64())
}

fn main() -> Result<()> {
    let mut reads = 500_000usize;
    let mut binary: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reads" => reads = args.next().context("--reads N")?.parse()?,
            "--binary" => binary = Some(args.next().context("--binary PATH")?.into()),
            "--out" => out = Some(args.next().context("--out FILE")?.into()),
            other => bail!("unknown argument {other:?}"),
        }
    }
    let binary = match binary {
        Some(binary) => binary,
        None => sightline_chaos::sightline_binary()?,
    };
    anyhow::ensure!(
        binary.exists(),
        "no sightline binary at {} (cargo build --release --workspace)",
        binary.display()
    );
    let launch = Launch {
        binary,
        args: Vec::new(),
        rust_log: "error,openraft=off".into(),
        log_file: None,
        master_key_hex: "42".repeat(32),
        admin_token_file: None,
    };
    let settings = Settings {
        node_defaults: true,
        ..Settings::default()
    };
    let batches = Arc::new(make_batches(reads, 7));
    let mut results = Vec::new();
    for size in [1u64, 3] {
        let cluster = Cluster::start_in(None, size, settings, launch.clone())?;
        let leader = cluster.leader(Duration::from_secs(30))?;
        let rate = ingest(&cluster.node(leader)?.client, &batches)?;
        eprintln!("{size} node(s): {rate:.0} reads/s");
        results.push((size, rate));
        drop(cluster);
    }
    let ratio = results[1].1 / results[0].1;
    println!("| cluster | durable ingest (reads/s) |");
    println!("| --- | --- |");
    for (size, rate) in &results {
        println!("| {size} node(s) | {rate:.0} |");
    }
    println!("3-node / 1-node ratio: {ratio:.2} ({reads} reads, {CLIENTS} clients, {BATCH}-read NDJSON batches, to the leader)");
    if let Some(out) = out {
        let json = serde_json::json!({"reads": reads, "one_node_reads_per_s": results[0].1, "three_node_reads_per_s": results[1].1, "ratio": ratio});
        std::fs::write(out, json.to_string())?;
    }
    Ok(())
}
