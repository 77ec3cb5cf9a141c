//! Alert delay under ingest: a cluster of real `sightline` processes takes durable ingest as
//! fast as two clients can send it, first into a tenant with no hotlists (the baseline),
//! then into one with 1,000 exact and 100 fuzzy hotlist plates, each batch carrying hits,
//! while an SSE client listens on a node (a follower, with three nodes). It reports both
//! ingest rates, their ratio (what matching costs), and the delay from each hit's ingest
//! acknowledgement to its alert (p50, p99, max).
//!
//! `alerts [--reads 1000000] [--nodes 3] [--batch 10000] [--clients 2] [--out FILE]`

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use serde_json::json;
use sightline_bench::load::send_batches;
use sightline_bench::stats::Summary;
use sightline_bench::synth::{Workload, WorkloadParams};
use sightline_chaos::process::Launch;
use sightline_chaos::{Client, Cluster, Settings};
use sightline_storage::time::{now_ms, DAY_MS};

const HITS_PER_BATCH: usize = 2;
const EXACT_PLATES: usize = 1_000;
const FUZZY_PLATES: usize = 100;

/// One NDJSON batch and the client ids of its hits.
struct Batch {
    body: String,
    hits: Vec<String>,
}

fn exact_plate(i: usize) -> String {
    format!("HX{i:05}")
}

fn fuzzy_plate(i: usize) -> String {
    format!("FZ{i:04}Q")
}

/// `reads` reads of the macro benchmark's workload (one day ending now, time-ordered, about
/// 30 reads per plate), in batches; with `hits`, the first [`HITS_PER_BATCH`] reads of each
/// batch become hotlist hits (alternating an exact plate and an OCR misread of a fuzzy one),
/// at the same camera and time. Made before the clock starts.
fn make_batches(reads: usize, batch: usize, hits: bool, seed: u64) -> Vec<Batch> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let workload = Workload::generate(WorkloadParams {
        reads,
        end_ms: now_ms(),
        span_ms: DAY_MS,
        seed,
    });
    let mut batches = Vec::new();
    for (b, first) in (0..workload.len()).step_by(batch).enumerate() {
        let last = (first + batch).min(workload.len());
        let mut body = String::with_capacity((last - first) * 300);
        let mut ids = Vec::new();
        for (i, n) in (first..last).enumerate() {
            let mut read = workload.read(n).to_json();
            if hits && i < HITS_PER_BATCH {
                let id = format!("hit-{seed}-{b}-{i}");
                read["plate"] = match i % 2 {
                    0 => exact_plate(rng.random_range(0..EXACT_PLATES)),
                    // `0` read as `O`: a free OCR confusion of the listed plate.
                    _ => fuzzy_plate(rng.random_range(0..FUZZY_PLATES)).replace('0', "O"),
                }
                .into();
                read["id"] = id.clone().into();
                ids.push(id);
            }
            body.push_str(&read.to_string());
            body.push('\n');
        }
        batches.push(Batch { body, hits: ids });
    }
    batches
}

/// Sends every batch to `url` from `clients` threads; returns (reads/s, when each hit's
/// batch was acknowledged).
fn ingest(
    client: &Client,
    tenant: &str,
    batches: &Arc<Vec<Batch>>,
    clients: usize,
) -> Result<(f64, HashMap<String, Instant>)> {
    let bodies: Arc<Vec<String>> = Arc::new(batches.iter().map(|b| b.body.clone()).collect());
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let (record, hits) = (acked.clone(), batches.clone());
    let (total, took) = send_batches(
        &client.url(&format!("/v1/tenants/{tenant}/reads")),
        &client.token_for(tenant, "ingest")?,
        bodies,
        clients,
        Arc::new(move |i: usize, at: Instant| {
            if let (Ok(mut acked), Some(batch)) = (record.lock(), hits.get(i)) {
                for id in &batch.hits {
                    acked.insert(id.clone(), at);
                }
            }
        }),
    )?;
    let rate = total as f64 / took.as_secs_f64();
    let acked = std::mem::take(&mut *acked.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    Ok((rate, acked))
}

fn put(client: &Client, path: &str, body: serde_json::Value) -> Result<()> {
    let (status, answer) = client.put_json(path, &body)?;
    if !(200..300).contains(&status) {
        bail!("PUT {path} answered {status}: {answer}");
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut reads = 1_000_000usize;
    let mut nodes = 3u64;
    let mut batch = 10_000usize;
    let mut clients = 2usize;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reads" => reads = args.next().context("--reads N")?.parse()?,
            "--nodes" => nodes = args.next().context("--nodes N")?.parse()?,
            "--batch" => {
                batch = args
                    .next()
                    .context("--batch N")?
                    .parse::<usize>()?
                    .max(HITS_PER_BATCH)
            }
            "--clients" => clients = args.next().context("--clients N")?.parse::<usize>()?.max(1),
            "--out" => out = Some(args.next().context("--out FILE")?.into()),
            other => bail!("unknown argument {other:?}"),
        }
    }
    let launch = Launch {
        binary: sightline_chaos::sightline_binary()?,
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
    let plain = Arc::new(make_batches(reads, batch, false, 1));
    let hot = Arc::new(make_batches(reads, batch, true, 2));
    let cluster = Cluster::start_in(None, nodes, settings, launch)?;
    let leader = cluster.leader(Duration::from_secs(30))?;
    let client = cluster.node(leader)?.client.clone();
    let listen_on = (1..=nodes).find(|id| *id != leader).unwrap_or(leader);
    for tenant in ["plain", "hot"] {
        put(
            &client,
            &format!("/v1/admin/tenants/{tenant}"),
            json!({"retention_days": 30}),
        )?;
    }
    put(
        &client,
        "/v1/tenants/hot/hotlists/exact",
        json!({"plates": (0..EXACT_PLATES).map(exact_plate).collect::<Vec<_>>()}),
    )?;
    put(
        &client,
        "/v1/tenants/hot/hotlists/fuzzy",
        json!({"plates": (0..FUZZY_PLATES).map(fuzzy_plate).collect::<Vec<_>>(), "match": "fuzzy"}),
    )?;

    let (plain_rate, _) = ingest(&client, "plain", &plain, clients)?;
    eprintln!("no hotlists: {plain_rate:.0} reads/s");

    let stream = cluster.node(listen_on)?.alerts("hot", None)?;
    let want: usize = hot.iter().map(|b| b.hits.len()).sum();
    let listener = std::thread::spawn(move || -> Result<HashMap<String, Instant>> {
        let mut seen = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(3600);
        while seen.len() < want && Instant::now() < deadline {
            let Some(event) = stream.next(Duration::from_secs(120))? else {
                bail!("no alert for two minutes ({} of {want})", seen.len());
            };
            if event.event != "hotlist_hit" {
                continue;
            }
            let body: serde_json::Value = serde_json::from_str(&event.data)?;
            // Random plates may be real fuzzy hits too; only the planted ones are timed.
            if let Some(id) = body["read"]["id"]
                .as_str()
                .filter(|id| id.starts_with("hit-"))
            {
                seen.insert(id.to_string(), event.received);
            }
        }
        Ok(seen)
    });
    let (hot_rate, acked) = ingest(&client, "hot", &hot, clients)?;
    eprintln!("with hotlists: {hot_rate:.0} reads/s");
    let seen = listener
        .join()
        .map_err(|_| anyhow::anyhow!("listener panicked"))??;
    let mut delays: Vec<Duration> = Vec::with_capacity(acked.len());
    let mut missing = 0;
    for (id, at) in &acked {
        match seen.get(id) {
            // An alert can arrive before the client has read its acknowledgement: 0.
            Some(received) => delays.push(received.saturating_duration_since(*at)),
            None => missing += 1,
        }
    }
    if missing > 0 {
        bail!("{missing} of {} hits raised no alert", acked.len());
    }
    let summary = Summary::of(&mut delays).context("no hits")?;
    println!(
        "| ingest into | reads/s |\n| --- | --- |\n| a tenant with no hotlists | {plain_rate:.0} |\n| a tenant with {EXACT_PLATES} exact + {FUZZY_PLATES} fuzzy hotlist plates, SSE client on node {listen_on} | {hot_rate:.0} |"
    );
    println!(
        "matching cost: {:.3} (with / without); alert delay after the ingest acknowledgement over {} hits: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({reads} reads per phase, {nodes} node(s), {clients} clients, {batch}-read batches with {HITS_PER_BATCH} hits)",
        hot_rate / plain_rate,
        summary.count,
        summary.p50_ms,
        summary.p99_ms,
        summary.max_ms
    );
    if let Some(out) = out {
        let report = json!({
            "reads_per_phase": reads, "nodes": nodes, "clients": clients, "batch": batch,
            "hits_per_batch": HITS_PER_BATCH, "exact_plates": EXACT_PLATES, "fuzzy_plates": FUZZY_PLATES,
            "plain_reads_per_s": plain_rate, "hot_reads_per_s": hot_rate,
            "ratio": hot_rate / plain_rate, "delay": summary.to_json(),
        });
        std::fs::write(out, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
