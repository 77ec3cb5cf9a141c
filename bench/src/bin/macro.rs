//! The macro benchmark: Sightline end to end against the design's targets and the plain
//! RocksDB loop, in one run on one machine. `docs/benchmarks.md` has the figures.
//!
//! ```sh
//! export CARGO_TARGET_DIR=$HOME/.cache/sightline-target
//! cargo build --release -p sightline-node
//! cargo run --release -p sightline-bench --bin macro -- [--reads 1000000] [--binary PATH] [--out PATH]
//! ```
//!
//! 1. generates the synthetic workload (`sightline_bench::synth`) as NDJSON bodies of
//!    10,000 reads, before anything is timed;
//! 2. copies the `sightline` binary into a temporary directory (a concurrent build cannot
//!    swap it mid-run), starts `sightline serve` there, creates tenant `bench` (30-day
//!    retention) and ingests every body from 2 client threads; each batch is acknowledged
//!    only once durable, so reads/s is durable ingest;
//! 3. runs exact plate searches (random plates that have reads, the target plates and some
//!    absent plates; 30-day range, limit 100, case number and reason set) one after the
//!    other from one keep-alive client, timing each request until its body is read, and
//!    checks every answer (total, page size, plate, order, cursor) against the workload;
//! 4. compacts (`POST /v1/admin/compact`), measures the data directory, searches again
//!    (also with `"consistency": "follower"`), runs the search mix (`search_mix`: exact,
//!    wildcard, fuzzy, area, co-location, convoy, frequency, `--mix-searches` each, every
//!    answer checked against the workload), stops the server, measures its RocksDB
//!    databases and runs the searches in-process on its engine (cold, then warm cache);
//! 5. runs the baseline loop on the same reads (fsync'd WAL; without sync; fsync'd with each
//!    batch sorted by key), then times Sightline's write path phase by phase in-process;
//! 6. prints a table and writes the same figures as JSON to `--out` (default
//!    `$CARGO_TARGET_DIR/macro-bench.json`, i.e. `macro-bench.json` beside the `release`
//!    directory holding this binary).
//!
//! Around every phase it measures how much CPU other processes used (`/proc/stat`), and with
//! `--wait-quiet` it waits for them to go quiet first: the machine is shared.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sightline_bench::baseline::{self, BaselineOptions, BaselineResult};
use sightline_bench::phases;
use sightline_bench::search_mix::{self, MixConfig, MixResult};
use sightline_bench::server::{agent, respond, PerfRecord, Server, MASTER_KEY_HEX};
use sightline_bench::stats::{fmt_int, round3, Summary};
use sightline_bench::synth::{absent_plate, Workload, WorkloadParams};
use sightline_bench::sys::{
    family_sizes_json, find_rocksdb_dirs, load_average, process_cpu_seconds, process_io_bytes,
    rocksdb_family_sizes, wait_until_quiet, CpuMeter, CpuUse, DirSize, FamilySize, Machine,
};
use sightline_query::{search_reads, PlateMatch, ReadQuery};
use sightline_storage::time::{format_rfc3339_ms, now_ms, DAY_MS};
use sightline_storage::{Engine, EngineConfig, MasterKey};

/// Targets of design.md ("Targets") and what PostgreSQL did on this machine.
const TARGET_INGEST: f64 = 130_000.0;
const TARGET_P99_MS: f64 = 1.4;
const TARGET_BYTES_PER_READ: f64 = 200.0;
const PG_INGEST_COPY: f64 = 13_400.0;
const PG_P50_MS: f64 = 1.1;
const PG_P99_MS: f64 = 7.1;
const PG_BYTES_PER_READ: f64 = 408.0;

const TENANT: &str = "bench";
const PAGE: u64 = 100;

#[derive(Parser, Debug)]
#[command(about = "Sightline macro benchmark: ingest, exact plate search, bytes on disk, baseline")]
struct Args {
    /// Reads to ingest.
    #[arg(long, default_value_t = 1_000_000)]
    reads: usize,
    /// Reads per HTTP batch (NDJSON).
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Concurrent ingest clients.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Measured exact plate searches per round (rounds: after ingest, after compaction, after
    /// compaction with follower consistency, in-process cold and warm).
    #[arg(long, default_value_t = 2_000)]
    searches: usize,
    /// Unmeasured searches before each round.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Measured searches per class of the search mix after compaction (bench/src/search_mix.rs).
    #[arg(long, default_value_t = 500)]
    mix_searches: usize,
    /// Reads per baseline `WriteBatch`.
    #[arg(long, default_value_t = 2_000)]
    baseline_batch: usize,
    /// Reads timed phase by phase in-process (0 skips).
    #[arg(long, default_value_t = 100_000)]
    phase_reads: usize,
    /// Skip the baseline loop.
    #[arg(long)]
    no_baseline: bool,
    /// The `sightline` binary (default: beside this one, then
    /// $CARGO_TARGET_DIR/release/sightline, then target/release/sightline).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Where to write the JSON report (default: $CARGO_TARGET_DIR/macro-bench.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory to create the temporary data directories in (default: the system's
    /// temporary directory; it must be on a real disk for fsync to mean anything).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Profile the server with `perf record` during ingest and during the search rounds
    /// before and after compaction; the top symbols are written beside the JSON report
    /// (`*.perf-ingest.txt`, `*.perf-search.txt`, `*.perf-search-compacted.txt`).
    /// Sampling costs a little throughput: do not publish figures from a profiled run.
    #[arg(long)]
    perf: bool,
    /// Before ingest, each search round and the baseline, wait (at most this many seconds)
    /// until other processes keep less than a tenth of a core busy; 0 does not wait. What
    /// was waited, and whether it became quiet, is in the report.
    #[arg(long, default_value_t = 0)]
    wait_quiet: u64,
    /// The server's RocksDB block cache (its `block_cache` config key; the product's
    /// default is 256MiB). PostgreSQL's guidance sizes shared_buffers at a quarter of RAM.
    #[arg(long, default_value = "256MiB")]
    block_cache: String,
    /// Keep the temporary directory (server data, logs, baseline databases) and print
    /// where it is.
    #[arg(long)]
    keep: bool,
    /// Seed of the workload and of the search plan.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn resolve_binary(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = arg {
        ensure!(path.is_file(), "--binary {} is not a file", path.display());
        return Ok(path);
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()?.parent() {
        candidates.push(dir.join("sightline"));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(target).join("release/sightline"));
    }
    candidates.push(PathBuf::from("target/release/sightline"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        anyhow!(
            "no sightline binary found: build it with `cargo build --release -p sightline-node` \
             (same CARGO_TARGET_DIR) or pass --binary PATH"
        )
    })
}

/// What was measured: the server binary and the workspace it was built from.
struct Source {
    binary: PathBuf,
    sha256: String,
    modified: String,
    /// `git describe --always --dirty` of the workspace.
    git: String,
    /// Paths with uncommitted changes (`git status --porcelain`), outside `bench/`.
    dirty: Vec<String>,
}

impl Source {
    fn describe(binary: &Path) -> Result<Source> {
        use sha2::{Digest, Sha256};
        let bytes = std::fs::read(binary)?;
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let modified = std::fs::metadata(binary)?
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or("?".into(), |d| format_rfc3339_ms(d.as_millis() as i64));
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let git = |args: &[&str]| -> Option<String> {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&workspace)
                .args(args)
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let dirty = git(&["status", "--porcelain"])
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.get(3..))
            .filter(|p| !p.starts_with("bench/") && !p.starts_with("docs/benchmarks.md"))
            .map(str::to_string)
            .collect();
        Ok(Source {
            binary: binary.to_path_buf(),
            sha256,
            modified,
            git: git(&["describe", "--always", "--dirty"])
                .map_or("unknown".into(), |s| s.trim().to_string()),
            dirty,
        })
    }

    fn to_json(&self) -> Value {
        json!({"binary": self.binary.display().to_string(), "sha256": self.sha256,
               "binary_modified": self.modified, "git": self.git,
               "uncommitted_outside_bench": self.dirty})
    }
}

fn default_out() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("macro-bench.json")))
        .unwrap_or_else(|| std::env::temp_dir().join("macro-bench.json"))
}

/// Writes the top of a profile beside the JSON report.
fn save_profile(profile: Option<PerfRecord>, name: &str, args: &Args) -> Result<()> {
    let Some(profile) = profile else {
        return Ok(());
    };
    let text = profile.finish(60)?;
    let out = args.out.clone().unwrap_or_else(default_out);
    let path = out.with_extension(format!("perf-{name}.txt"));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    progress(&format!(
        "profile of the server during {name}: {}",
        path.display()
    ));
    Ok(())
}

/// Waits for the machine to be quiet before `phase` when `--wait-quiet` asks for it.
/// `pids` are ours besides this process.
fn settle(args: &Args, phase: &str, pids: &[u32]) {
    if args.wait_quiet == 0 {
        return;
    }
    let mut ours = vec![std::process::id()];
    ours.extend_from_slice(pids);
    let (waited, quiet) = wait_until_quiet(
        &ours,
        0.1,
        Duration::from_secs(5),
        Duration::from_secs(args.wait_quiet),
    );
    progress(&format!(
        "before {phase}: waited {waited:.0} s, machine {}",
        if quiet {
            "quiet"
        } else {
            "still busy; measuring anyway"
        }
    ));
}

fn progress(text: &str) {
    eprintln!("[macro] {text}");
}

// ---------------------------------------------------------------------------------------
// Ingest

struct IngestResult {
    cpu: Option<CpuUse>,
    reads: usize,
    elapsed: Duration,
    batches: Summary,
    server_cpu_s: Option<f64>,
    server_io: Option<(u64, u64)>,
}

impl IngestResult {
    fn reads_per_s(&self) -> f64 {
        self.reads as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn ingest(server: &Server, bodies: &[String], clients: usize) -> Result<IngestResult> {
    let sizes: Vec<usize> = bodies.iter().map(|b| b.lines().count()).collect();
    let url = server.url(&format!("/v1/tenants/{TENANT}/reads"));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let pid = server.pid();
    let (cpu0, io0) = (process_cpu_seconds(pid), process_io_bytes(pid));
    let meter = CpuMeter::start(&[std::process::id(), pid]);
    let started = Instant::now();
    let per_client: Vec<Result<Vec<Duration>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<Vec<Duration>> {
                    let client = agent(Duration::from_secs(600));
                    let mut latencies = Vec::new();
                    // Each index is taken once, so this ends after bodies.len() batches.
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let t = Instant::now();
                        let answer = client
                            .post(&url)
                            .set("Content-Type", "application/x-ndjson")
                            .send_string(body);
                        let checked = respond(answer).and_then(|(status, answer)| {
                            let accepted = answer["accepted"].as_u64();
                            let duplicates = answer["duplicates"].as_u64();
                            let ids = answer["ids"].as_array().map(Vec::len);
                            if status == 200
                                && accepted == Some(sizes[i] as u64)
                                && duplicates == Some(0)
                                && ids == Some(sizes[i])
                            {
                                Ok(())
                            } else {
                                let text = answer.to_string();
                                Err(anyhow!("batch {i}: {status} {:.300}", text))
                            }
                        });
                        if let Err(e) = checked {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                        latencies.push(t.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow!("ingest client panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let (cpu1, io1) = (process_cpu_seconds(pid), process_io_bytes(pid));
    let cpu = meter.stop(&[std::process::id(), pid]);
    let mut latencies = Vec::new();
    for client in per_client {
        latencies.extend(client?);
    }
    ensure!(
        latencies.len() == bodies.len(),
        "{} of {} batches acknowledged",
        latencies.len(),
        bodies.len()
    );
    Ok(IngestResult {
        cpu,
        reads: sizes.iter().sum(),
        elapsed,
        batches: Summary::of(&mut latencies).context("no batches")?,
        server_cpu_s: cpu0.zip(cpu1).map(|(a, b)| b - a),
        server_io: io0
            .zip(io1)
            .map(|((r0, w0), (r1, w1))| (r1.saturating_sub(r0), w1.saturating_sub(w0))),
    })
}

// ---------------------------------------------------------------------------------------
// Search

struct SearchResult {
    latency: Summary,
    /// Latency by the size of the first page: up to 20 hits, 21 to 99, a full page.
    by_hits: Vec<(&'static str, Option<Summary>)>,
    /// Every search run and checked, warm-up included.
    checked: usize,
    /// Hits returned over the measured searches.
    hits: u64,
    /// Measured searches whose total exceeded one page.
    multi_page: usize,
    /// Measured searches of plates with no reads.
    absent: usize,
    /// CPU use of everything else while the measured searches ran.
    cpu: Option<CpuUse>,
}

/// One planned search: the plate as sent, the normalized plate, the expected total.
type Planned = (String, String, u64);

fn plan_searches(workload: &Workload, warmup: usize, count: usize, seed: u64) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let with_reads = workload.plates_with_reads();
    let targets = workload.targets();
    let plates = workload.plates();
    let mut plan = Vec::with_capacity(warmup + count);
    for k in 0..warmup + count {
        let measured = k.checked_sub(warmup);
        let (plate, expected) = match measured {
            // Every 50th measured search is a target plate, every 200th an absent one.
            Some(m) if m % 50 == 7 && !targets.is_empty() => {
                let (p, c) = targets[(m / 50) % targets.len()];
                (plates[p].clone(), c)
            }
            Some(m) if m % 200 == 11 => (absent_plate(m), 0),
            _ => {
                let p = with_reads[rng.random_range(0..with_reads.len())];
                (plates[p].clone(), workload.count(p))
            }
        };
        // A third of the searches spell the plate as a person would type it.
        let sent = if rng.random_range(0..3) == 0 {
            let split = plate.len() / 2;
            format!("{}-{}", plate[..split].to_lowercase(), &plate[split..])
        } else {
            plate.clone()
        };
        plan.push((sent, plate, expected));
    }
    plan
}

fn check_answer(plate: &str, expected: u64, status: u16, answer: &Value) -> Result<u64> {
    ensure!(status == 200, "search for {plate}: {status} {answer}");
    let total = answer["total"].as_u64().context("total missing")?;
    ensure!(
        total == expected,
        "search for {plate}: total {total}, but {expected} reads were ingested"
    );
    let hits = answer["hits"].as_array().context("hits missing")?;
    ensure!(
        hits.len() as u64 == expected.min(PAGE),
        "search for {plate}: {} hits on the first page of {expected}",
        hits.len()
    );
    let mut last: Option<&str> = None;
    for hit in hits {
        ensure!(
            hit["plate"].as_str() == Some(plate),
            "search for {plate} returned {}",
            hit["plate"]
        );
        let at = hit["captured_at"].as_str().context("captured_at missing")?;
        ensure!(
            last.is_none_or(|l| l >= at),
            "search for {plate}: hits not newest first"
        );
        last = Some(at);
    }
    ensure!(
        answer["next_cursor"].is_string() == (expected > PAGE),
        "search for {plate}: next_cursor {} with {expected} hits",
        answer["next_cursor"]
    );
    Ok(hits.len() as u64)
}

/// Runs `plan` one search at a time through `one` (which checks the answer and returns the
/// latency and the hits of the first page); the first `warmup` are not measured.
fn search_loop(
    plan: &[Planned],
    warmup: usize,
    pids: &[u32],
    mut one: impl FnMut(&Planned) -> Result<(Duration, u64)>,
) -> Result<SearchResult> {
    let mut latencies = Vec::with_capacity(plan.len().saturating_sub(warmup));
    let mut buckets: [Vec<Duration>; 3] = Default::default();
    let (mut checked, mut hits_returned, mut multi_page, mut absent) = (0, 0, 0, 0);
    let mut meter = None;
    for (k, planned) in plan.iter().enumerate() {
        if k == warmup {
            meter = Some(CpuMeter::start(pids));
        }
        let (latency, hits) = one(planned)?;
        checked += 1;
        if k >= warmup {
            latencies.push(latency);
            buckets[match hits {
                0..=20 => 0,
                21..=99 => 1,
                _ => 2,
            }]
            .push(latency);
            hits_returned += hits;
            multi_page += usize::from(planned.2 > PAGE);
            absent += usize::from(planned.2 == 0);
        }
    }
    let [few, some, full] = buckets;
    Ok(SearchResult {
        latency: Summary::of(&mut latencies).context("no measured searches")?,
        by_hits: vec![
            ("0-20 hits", Summary::of(&mut few.clone())),
            ("21-99 hits", Summary::of(&mut some.clone())),
            ("100 hits", Summary::of(&mut full.clone())),
        ],
        checked,
        hits: hits_returned,
        multi_page,
        absent,
        cpu: meter.and_then(|m| m.stop(pids)),
    })
}

fn run_searches(
    server: &Server,
    workload: &Workload,
    args: &Args,
    seed: u64,
    consistency: Option<&str>,
) -> Result<SearchResult> {
    let url = server.url(&format!("/v1/tenants/{TENANT}/search/plates"));
    let client = agent(Duration::from_secs(10));
    let plan = plan_searches(workload, args.warmup, args.searches, seed);
    let pids = [std::process::id(), server.pid()];
    search_loop(&plan, args.warmup, &pids, |(sent, plate, expected)| {
        let now = now_ms();
        let mut body = json!({
            "plate": sent, "from": format_rfc3339_ms(now - 30 * DAY_MS), "to": format_rfc3339_ms(now),
            "limit": PAGE, "case_number": "BENCH-0001", "reason": "macro benchmark",
        });
        if let Some(consistency) = consistency {
            body["consistency"] = consistency.into();
        }
        let body = body.to_string();
        let t = Instant::now();
        let answer = client
            .post(&url)
            .set("Content-Type", "application/json")
            .send_string(&body);
        let (status, text) = match answer {
            Ok(r) => (r.status(), r.into_string()?),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string()?),
            Err(e) => return Err(e.into()),
        };
        let latency = t.elapsed();
        let answer: Value = serde_json::from_str(&text)
            .with_context(|| format!("search answer is not JSON: {text:.300}"))?;
        let hits = check_answer(plate, *expected, status, &answer)?;
        Ok((latency, hits))
    })
}

impl SearchResult {
    fn to_json(&self) -> Value {
        let by_hits: serde_json::Map<String, Value> = self
            .by_hits
            .iter()
            .map(|(name, s)| (name.to_string(), s.map_or(Value::Null, |s| s.to_json())))
            .collect();
        json!({
            "latency": self.latency.to_json(),
            "latency_by_first_page_hits": by_hits,
            "checked_answers": self.checked,
            "hits_returned": self.hits,
            "searches_with_more_than_one_page": self.multi_page,
            "searches_of_absent_plates": self.absent,
            "cpu": self.cpu.map(|c| c.to_json()),
        })
    }
}

/// The live storage engine under a node's data directory: the one `{data}/ENGINE` names,
/// else `engine-0` (nodes running through Raft), else `db` (the single-node layout).
fn engine_dir(data: &Path) -> Result<PathBuf> {
    if let Ok(name) = std::fs::read_to_string(data.join("ENGINE")) {
        return Ok(data.join(name.trim()));
    }
    ["engine-0", "db"]
        .iter()
        .map(|name| data.join(name))
        .find(|dir| dir.join("CURRENT").is_file())
        .with_context(|| format!("no storage engine under {}", data.display()))
}

/// The same kind of searches, run in this process straight on the engine (after the
/// server has stopped, on its data directory): what a search costs without HTTP, JSON and
/// the async runtime. Two rounds: the first on a cold block cache, the second warm.
fn in_process_searches(
    db: &Path,
    workload: &Workload,
    args: &Args,
) -> Result<(SearchResult, SearchResult)> {
    let engine = Engine::open(&EngineConfig::new(db), MasterKey::from_hex(MASTER_KEY_HEX)?)?;
    let tenant = engine.tenant(TENANT).context("tenant missing")?;
    let pids = [std::process::id()];
    let round = |seed: u64| {
        let plan = plan_searches(workload, args.warmup, args.searches, seed);
        search_loop(&plan, args.warmup, &pids, |(_, plate, expected)| {
            let now = now_ms();
            let query = ReadQuery {
                tenant: tenant.id,
                plate: Some(PlateMatch::Exact(plate.clone())),
                area: None,
                cameras: Vec::new(),
                vehicle: None,
                from: now - 30 * DAY_MS,
                to: now,
                limit: PAGE as usize,
                cursor: None,
            };
            let t = Instant::now();
            let page = search_reads(&engine, &query)?;
            let latency = t.elapsed();
            ensure!(
                page.total == *expected && page.hits.len() as u64 == (*expected).min(PAGE),
                "in-process search for {plate}: total {} and {} hits, expected {expected}",
                page.total,
                page.hits.len()
            );
            ensure!(
                page.hits.iter().all(|h| &h.plate == plate),
                "in-process search for {plate}: wrong plate"
            );
            Ok((latency, page.hits.len() as u64))
        })
    };
    let cold = round(args.seed ^ 3)?;
    let warm = round(args.seed ^ 4)?;
    Ok((cold, warm))
}

// ---------------------------------------------------------------------------------------
// Sightline end to end

struct SightlineResult {
    /// `GET /healthz` from the same kind of client: the floor any request pays.
    healthz: Summary,
    ingest: IngestResult,
    search: SearchResult,
    compact: Duration,
    /// The whole data directory after compaction.
    disk: DirSize,
    /// Its top-level entries (engine, Raft log, snapshots, ...), each measured alone.
    disk_parts: Vec<(String, DirSize)>,
    /// Every RocksDB database under the data directory with its column families, measured
    /// after the server stopped.
    databases: Vec<(String, Vec<FamilySize>)>,
    /// The storage engine's directory, relative to the data directory.
    engine_dir: String,
    search_compacted: SearchResult,
    /// After compaction, with `"consistency": "follower"` (no read barrier).
    search_follower: SearchResult,
    search_in_process: SearchResult,
    search_in_process_warm: SearchResult,
    mix: MixResult,
}

fn run_sightline(
    binary: &Path,
    dir: &Path,
    workload: &Workload,
    bodies: &[String],
    args: &Args,
) -> Result<SightlineResult> {
    let mut server = Server::start(binary, dir, &args.block_cache)?;
    progress(&format!(
        "server pid {} at {}",
        server.pid(),
        server.url("")
    ));
    server.create_tenant(TENANT, 30)?;
    let healthz = server.healthz_floor(1_000)?;

    progress(&format!(
        "ingesting {} reads in {} batches from {} clients",
        workload.len(),
        bodies.len(),
        args.clients
    ));
    let perf = |name: &str| -> Result<Option<PerfRecord>> {
        if !args.perf {
            return Ok(None);
        }
        Ok(Some(PerfRecord::start(
            server.pid(),
            &dir.join(format!("perf-{name}.data")),
        )?))
    };
    settle(args, "ingest", &[server.pid()]);
    let profile = perf("ingest")?;
    let ingest = ingest(&server, bodies, args.clients)?;
    save_profile(profile, "ingest", args)?;
    progress(&format!(
        "ingest: {:.0} reads/s ({:.1} s)",
        ingest.reads_per_s(),
        ingest.elapsed.as_secs_f64()
    ));

    progress(&format!(
        "{} + {} exact plate searches",
        args.warmup, args.searches
    ));
    settle(args, "the searches", &[server.pid()]);
    let profile = perf("search")?;
    let search = run_searches(&server, workload, args, args.seed ^ 1, None)?;
    save_profile(profile, "search", args)?;
    progress(&format!(
        "search: p50 {:.3} ms, p99 {:.3} ms",
        search.latency.p50_ms, search.latency.p99_ms
    ));

    progress("compacting");
    let t = Instant::now();
    let (status, answer) = server.call("POST", "/v1/admin/compact", None)?;
    ensure!(status == 200, "compact answered {status} {answer}");
    let compact = t.elapsed();
    let data_dir = server.data_dir();
    let disk = DirSize::of(&data_dir)?;
    let mut disk_parts = Vec::new();
    for entry in std::fs::read_dir(&data_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            disk_parts.push((name, DirSize::of(&entry.path())?));
        } else {
            let len = entry.metadata()?.len();
            disk_parts.push((
                name,
                DirSize {
                    total: len,
                    other: len,
                    files: 1,
                    ..DirSize::default()
                },
            ));
        }
    }
    disk_parts.sort_by_key(|part| std::cmp::Reverse(part.1.total));
    progress(&format!(
        "compacted in {:.1} s: {} bytes ({:.1} B/read)",
        compact.as_secs_f64(),
        disk.total,
        disk.total as f64 / workload.len().max(1) as f64
    ));

    settle(args, "the searches after compaction", &[server.pid()]);
    let profile = perf("search-compacted")?;
    let search_compacted = run_searches(&server, workload, args, args.seed ^ 2, None)?;
    save_profile(profile, "search-compacted", args)?;
    settle(args, "the follower-read searches", &[server.pid()]);
    let search_follower = run_searches(&server, workload, args, args.seed ^ 5, Some("follower"))?;
    progress(&format!(
        "search after compaction with \"consistency\": \"follower\": p50 {:.3} ms, p99 {:.3} ms",
        search_follower.latency.p50_ms, search_follower.latency.p99_ms
    ));
    progress(&format!(
        "search after compaction: p50 {:.3} ms, p99 {:.3} ms",
        search_compacted.latency.p50_ms, search_compacted.latency.p99_ms
    ));
    settle(args, "the search mix", &[server.pid()]);
    let profile = args
        .perf
        .then(|| args.out.clone().unwrap_or_else(default_out));
    let (warmup, seed) = (args.warmup.min(args.mix_searches), args.seed);
    let config = MixConfig {
        measured: args.mix_searches,
        warmup,
        seed,
        profile,
    };
    let mix = search_mix::run(&server, TENANT, workload, &config, now_ms())?;
    server.stop()?;

    let engine = engine_dir(&data_dir)?;
    let mut databases = Vec::new();
    for db in find_rocksdb_dirs(&data_dir)? {
        let name = db
            .strip_prefix(&data_dir)
            .unwrap_or(&db)
            .display()
            .to_string();
        databases.push((name, rocksdb_family_sizes(&db)?));
    }
    let (search_in_process, search_in_process_warm) = in_process_searches(&engine, workload, args)?;
    progress(&format!(
        "search in-process on the engine: p50 {:.3} ms, p99 {:.3} ms cold; {:.3} / {:.3} ms warm",
        search_in_process.latency.p50_ms,
        search_in_process.latency.p99_ms,
        search_in_process_warm.latency.p50_ms,
        search_in_process_warm.latency.p99_ms
    ));
    Ok(SightlineResult {
        healthz,
        ingest,
        search,
        compact,
        disk,
        disk_parts,
        databases,
        engine_dir: engine
            .strip_prefix(&data_dir)
            .unwrap_or(&engine)
            .display()
            .to_string(),
        search_compacted,
        search_follower,
        search_in_process,
        search_in_process_warm,
        mix,
    })
}

// ---------------------------------------------------------------------------------------
// Report

fn row(out: &mut String, figure: &str, measured: &str, target: &str, postgres: &str) {
    out.push_str(&format!(
        "{figure:<44} {measured:>26}  {target:>12}  {postgres:>15}\n"
    ));
}

struct Report<'a> {
    source: Source,
    args: &'a Args,
    machine: Machine,
    date: String,
    load_before: Option<[f64; 3]>,
    load_after: Option<[f64; 3]>,
    reads: usize,
    sightline: SightlineResult,
    baseline: Option<(BaselineResult, BaselineResult, BaselineResult)>,
    baseline_opts: (BaselineOptions, BaselineOptions, BaselineOptions),
    phases: Option<phases::PhaseReport>,
    /// Other processes' CPU over the whole run and over the baseline loops.
    run_cpu: Option<CpuUse>,
    baseline_cpu: Option<CpuUse>,
}

impl Report<'_> {
    fn bytes_per_read(&self) -> f64 {
        self.sightline.disk.total as f64 / self.reads.max(1) as f64
    }

    fn ratio(&self) -> Option<f64> {
        self.baseline
            .as_ref()
            .map(|(sync, _, _)| self.sightline.ingest.reads_per_s() / sync.reads_per_s())
    }

    /// How busy everything else kept the machine while each figure was taken.
    fn contention(&self) -> String {
        let s = &self.sightline;
        let phases = [
            ("ingest", s.ingest.cpu),
            ("search", s.search.cpu),
            ("search after compaction", s.search_compacted.cpu),
            ("follower search", s.search_follower.cpu),
            ("search mix, busiest class", s.mix.busiest()),
            ("baseline", self.baseline_cpu),
            ("whole run", self.run_cpu),
        ];
        let parts: Vec<String> = phases
            .iter()
            .filter_map(|(name, cpu)| {
                cpu.map(|c| format!("{name} {:.2} (steal {:.1} s)", c.others_cores(), c.steal))
            })
            .collect();
        format!(
            "other processes' CPU, in cores busy on average: {}",
            parts.join(", ")
        )
    }

    fn table(&self) -> String {
        let s = &self.sightline;
        let load = |l: Option<[f64; 3]>| {
            l.map_or("?".into(), |l| {
                format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])
            })
        };
        let mut out = format!(
            "Sightline macro benchmark, {} reads, {}\nserver {} (sha256 {:.16}), workspace {}{}\n{} ({} CPUs, AES-NI+CLMUL {}), {:.1} GiB\n\
             load average (1/5/15 min) before {}, after {} (the run's own work included)\n{}\n\n",
            fmt_int(self.reads as f64),
            self.date,
            self.source.binary.display(),
            self.source.sha256,
            self.source.git,
            if self.source.dirty.is_empty() {
                String::new()
            } else {
                format!(" (uncommitted: {})", self.source.dirty.join(", "))
            },
            self.machine.cpu_model,
            self.machine.cpus,
            if self.machine.aes_ni { "yes" } else { "no" },
            self.machine.mem_bytes as f64 / (1u64 << 30) as f64,
            load(self.load_before),
            load(self.load_after),
            self.contention(),
        );
        row(&mut out, "figure", "measured", "target", "PostgreSQL");
        row(
            &mut out,
            &format!(
                "durable ingest, HTTP, {} clients × {}-read batches",
                self.args.clients,
                fmt_int(self.args.batch as f64)
            ),
            &format!("{} reads/s", fmt_int(s.ingest.reads_per_s())),
            "≥ 130,000",
            "13,400 (COPY)",
        );
        if let Some((sync, nosync, sorted)) = &self.baseline {
            row(
                &mut out,
                "baseline loop, fsync'd WAL",
                &format!("{} reads/s", fmt_int(sync.reads_per_s())),
                "",
                "",
            );
            row(
                &mut out,
                "baseline loop, no WAL sync",
                &format!("{} reads/s", fmt_int(nosync.reads_per_s())),
                "",
                "",
            );
            row(
                &mut out,
                "baseline loop, fsync'd, batches sorted by key",
                &format!("{} reads/s", fmt_int(sorted.reads_per_s())),
                "",
                "",
            );
        }
        if let Some(ratio) = self.ratio() {
            row(
                &mut out,
                "ingest ratio Sightline / baseline (fsync)",
                &format!("{ratio:.2}×"),
                "",
                "",
            );
        }
        for (name, r, target, postgres) in [
            (
                "exact plate p50/p99/max, HTTP",
                &s.search,
                "p99 ≤ 1.4 ms",
                "1.1 / 7.1 ms",
            ),
            ("  same, after compaction", &s.search_compacted, "", ""),
            (
                "  after compaction, consistency follower",
                &s.search_follower,
                "",
                "",
            ),
            (
                "  in-process, no HTTP, cold cache",
                &s.search_in_process,
                "",
                "",
            ),
            (
                "  in-process, no HTTP, warm cache",
                &s.search_in_process_warm,
                "",
                "",
            ),
        ] {
            row(
                &mut out,
                name,
                &format!(
                    "{:.3} / {:.3} / {:.3} ms",
                    r.latency.p50_ms, r.latency.p99_ms, r.latency.max_ms
                ),
                target,
                postgres,
            );
        }
        for (name, r) in [
            ("HTTP", &s.search),
            ("HTTP after compaction", &s.search_compacted),
            ("HTTP follower", &s.search_follower),
            ("in-process cold", &s.search_in_process),
            ("in-process warm", &s.search_in_process_warm),
        ] {
            let parts: Vec<String> = r
                .by_hits
                .iter()
                .filter_map(|(bucket, summary)| {
                    summary
                        .map(|x| format!("{bucket} ×{}: {:.3}/{:.3}", x.count, x.p50_ms, x.p99_ms))
                })
                .collect();
            out.push_str(&format!(
                "    p50/p99 ms by first-page size, {name}: {}\n",
                parts.join("; ")
            ));
        }
        row(
            &mut out,
            "  HTTP floor: GET /healthz p50/p99/max",
            &format!(
                "{:.3} / {:.3} / {:.3} ms",
                s.healthz.p50_ms, s.healthz.p99_ms, s.healthz.max_ms
            ),
            "",
            "",
        );
        row(
            &mut out,
            "bytes on disk per read (after compaction)",
            &format!("{:.1} B", self.bytes_per_read()),
            "≤ 200 B",
            "408 B",
        );
        row(
            &mut out,
            "  of which SST files",
            &format!("{:.1} B", s.disk.sst as f64 / self.reads.max(1) as f64),
            "",
            "",
        );
        let per_read = |bytes: u64| bytes as f64 / self.reads.max(1) as f64;
        let parts: Vec<String> = s
            .disk_parts
            .iter()
            .filter(|(_, size)| per_read(size.total) >= 0.05)
            .map(|(name, size)| format!("{name} {:.1}", per_read(size.total)))
            .collect();
        out.push_str(&format!(
            "  bytes per read by directory: {}\n",
            parts.join(", ")
        ));
        for (db, families) in &s.databases {
            let families: Vec<String> = families
                .iter()
                .filter(|f| f.sst_bytes > 0)
                .map(|f| format!("{} {:.1}", f.name, per_read(f.sst_bytes)))
                .collect();
            if !families.is_empty() {
                out.push_str(&format!(
                    "  SST bytes per read in {db}: {}\n",
                    families.join(", ")
                ));
            }
        }
        out.push_str(&format!(
            "\ningest: {:.1} s; batch latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            s.ingest.elapsed.as_secs_f64(),
            s.ingest.batches.p50_ms,
            s.ingest.batches.p99_ms,
            s.ingest.batches.max_ms
        ));
        if let Some(cpu) = s.ingest.server_cpu_s {
            out.push_str(&format!(
                "; server CPU {:.1} s = {:.2} cores busy, {:.1} µs/read",
                cpu,
                cpu / s.ingest.elapsed.as_secs_f64().max(1e-9),
                cpu * 1e6 / s.ingest.reads.max(1) as f64
            ));
        }
        if let Some((_, written)) = s.ingest.server_io {
            out.push_str(&format!(
                "; {:.0} B/read written to disk during ingest",
                written as f64 / s.ingest.reads.max(1) as f64
            ));
        }
        out.push_str(&format!(
            "\nsearch: {} answers checked (total, page, plate, order, cursor), {} multi-page, {} absent plates; compaction took {:.1} s\n",
            s.search.checked + s.search_compacted.checked + s.search_follower.checked,
            s.search.multi_page + s.search_compacted.multi_page + s.search_follower.multi_page,
            s.search.absent + s.search_compacted.absent + s.search_follower.absent,
            s.compact.as_secs_f64()
        ));
        if let Some((sync, nosync, sorted)) = &self.baseline {
            out.push_str(&format!(
                "baseline: fsync'd {:.1} s ({:.1} s in write), unsynced {:.1} s ({:.1} s in write), sorted {:.1} s ({:.1} s in write); {:.1} B/read on disk (SST {})\n",
                sync.elapsed.as_secs_f64(),
                sync.write_time.as_secs_f64(),
                nosync.elapsed.as_secs_f64(),
                nosync.write_time.as_secs_f64(),
                sorted.elapsed.as_secs_f64(),
                sorted.write_time.as_secs_f64(),
                sync.disk.total as f64 / sync.reads.max(1) as f64,
                sync.families
                    .iter()
                    .filter(|f| f.sst_bytes > 0)
                    .map(|f| format!("{} {:.1}", f.name, f.sst_bytes as f64 / sync.reads.max(1) as f64))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(p) = &self.phases {
            out.push_str(&format!(
                "\nSightline write path in-process, one thread, {} reads in {} commands (µs per read):\n",
                fmt_int(p.reads as f64),
                p.batches
            ));
            for (name, us) in p.per_read() {
                out.push_str(&format!("  {name:<22} {us:>8.3}\n"));
            }
            out.push_str(&format!(
                "  {:<22} {:>8.3}  (one core: {} reads/s; apply alone: {} reads/s)\n",
                "before apply",
                p.cpu_micros_per_read(),
                fmt_int(1e6 / p.cpu_micros_per_read().max(1e-9)),
                fmt_int(p.reads as f64 / p.apply.as_secs_f64().max(1e-9))
            ));
            out.push_str(&format!(
                "  NDJSON {} B/read, sealed value {} B/read\n",
                p.json_bytes / p.reads.max(1) as u64,
                p.sealed_bytes / p.reads.max(1) as u64
            ));
        }
        out + &s.mix.table()
    }

    fn to_json(&self) -> Value {
        let s = &self.sightline;
        let ingest = &s.ingest;
        json!({
            "date": self.date,
            "machine": self.machine.to_json(),
            "load_average": {"before": self.load_before, "after": self.load_after},
            "other_processes_cpu": {
                "whole_run": self.run_cpu.map(|c| c.to_json()),
                "ingest": s.ingest.cpu.map(|c| c.to_json()),
                "search": s.search.cpu.map(|c| c.to_json()),
                "search_after_compaction": s.search_compacted.cpu.map(|c| c.to_json()),
                "search_follower": s.search_follower.cpu.map(|c| c.to_json()),
                "baseline": self.baseline_cpu.map(|c| c.to_json()),
            },
            "config": {
                "reads": self.reads, "batch": self.args.batch, "clients": self.args.clients,
                "searches_per_round": self.args.searches, "warmup": self.args.warmup,
                "seed": self.args.seed, "wait_quiet_s": self.args.wait_quiet,
            },
            "source": self.source.to_json(),
            "sightline": {
                "ingest": {
                    "reads": ingest.reads,
                    "seconds": round3(ingest.elapsed.as_secs_f64()),
                    "reads_per_s": ingest.reads_per_s().round(),
                    "batch_latency": ingest.batches.to_json(),
                    "server_cpu_seconds": ingest.server_cpu_s.map(round3),
                    "server_read_bytes": ingest.server_io.map(|io| io.0),
                    "server_write_bytes": ingest.server_io.map(|io| io.1),
                    "cpu": ingest.cpu.map(|c| c.to_json()),
                },
                "healthz": s.healthz.to_json(),
                "search": s.search.to_json(),
                "search_after_compaction": s.search_compacted.to_json(),
                "search_after_compaction_follower_consistency": s.search_follower.to_json(),
                "search_in_process_cold_cache": s.search_in_process.to_json(),
                "search_in_process_warm_cache": s.search_in_process_warm.to_json(),
                "search_mix": s.mix.to_json(),
                "compaction_seconds": round3(s.compact.as_secs_f64()),
                "disk_after_compaction": s.disk.to_json(self.reads),
                "disk_by_directory": s.disk_parts.iter()
                    .map(|(name, size)| (name.clone(), size.to_json(self.reads)))
                    .collect::<serde_json::Map<String, Value>>(),
                "databases": s.databases.iter()
                    .map(|(name, families)| (name.clone(), family_sizes_json(families, self.reads)))
                    .collect::<serde_json::Map<String, Value>>(),
                "engine_dir": s.engine_dir,
            },
            "baseline": self.baseline.as_ref().map(|(sync, nosync, sorted)| json!({
                "fsync_wal": sync.to_json(&self.baseline_opts.0),
                "no_wal_sync": nosync.to_json(&self.baseline_opts.1),
                "fsync_wal_sorted_batches": sorted.to_json(&self.baseline_opts.2),
            })),
            "ratio_ingest_sightline_over_baseline": self.ratio().map(round3),
            "phases": self.phases.as_ref().map(phases::PhaseReport::to_json),
            "targets": {
                "ingest_reads_per_s": TARGET_INGEST,
                "exact_plate_p99_ms": TARGET_P99_MS,
                "bytes_per_read": TARGET_BYTES_PER_READ,
                "met": {
                    "ingest": ingest.reads_per_s() >= TARGET_INGEST,
                    "exact_plate_p99": s.search.latency.p99_ms <= TARGET_P99_MS,
                    "bytes_per_read": self.bytes_per_read() <= TARGET_BYTES_PER_READ,
                },
            },
            "postgresql_here": {
                "ingest_copy_reads_per_s": PG_INGEST_COPY,
                "exact_plate_p50_ms": PG_P50_MS,
                "exact_plate_p99_ms": PG_P99_MS,
                "bytes_per_read": PG_BYTES_PER_READ,
            },
        })
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.reads > 0 && args.batch > 0,
        "--reads and --batch must be positive"
    );
    ensure!(args.searches > 0, "--searches must be positive");
    let machine = Machine::detect();
    let load_before = load_average();
    let run_meter = CpuMeter::start(&[std::process::id()]);
    let date = format_rfc3339_ms(now_ms());
    let binary = resolve_binary(args.binary.clone())?;
    let out_path = args.out.clone().unwrap_or_else(default_out);
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = tempfile::Builder::new()
        .prefix("sightline-macro-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a directory under {}", parent.display()))?;
    // Other builds may replace the binary while this runs: measure a copy of it.
    let source = Source::describe(&binary)?;
    std::fs::create_dir_all(root.path().join("bin"))?;
    let binary = root.path().join("bin/sightline");
    std::fs::copy(&source.binary, &binary)
        .with_context(|| format!("copying {}", source.binary.display()))?;
    progress(&format!(
        "binary {} (sha256 {:.16}, built {}), workspace {}; data under {}",
        source.binary.display(),
        source.sha256,
        source.modified,
        source.git,
        root.path().display()
    ));

    let t = Instant::now();
    // The newest read is a minute old, the oldest 29.5 days: inside the tenant's 30-day
    // retention and the searches' 30-day range for the next 12 hours.
    let workload = Workload::generate(WorkloadParams {
        seed: args.seed,
        ..WorkloadParams::new(args.reads, now_ms() - 60_000)
    });
    let bodies = workload.ndjson_batches(args.batch);
    progress(&format!(
        "generated {} reads of {} plates ({} MiB of NDJSON) in {:.1} s",
        workload.len(),
        workload.plates_with_reads().len(),
        bodies.iter().map(String::len).sum::<usize>() >> 20,
        t.elapsed().as_secs_f64()
    ));

    let sightline = run_sightline(
        &binary,
        &root.path().join("sightline"),
        &workload,
        &bodies,
        &args,
    )?;

    let plain = BaselineOptions {
        batch: args.baseline_batch,
        sync: true,
        sort_keys: false,
    };
    let baseline_opts = (
        plain,
        BaselineOptions {
            sync: false,
            ..plain
        },
        BaselineOptions {
            sort_keys: true,
            ..plain
        },
    );
    if !args.no_baseline {
        settle(&args, "the baseline", &[]);
    }
    let baseline_meter = CpuMeter::start(&[std::process::id()]);
    let baseline = if args.no_baseline {
        None
    } else {
        progress("baseline loop, fsync'd WAL");
        let sync = baseline::run(
            &root.path().join("baseline-sync"),
            &workload,
            baseline_opts.0,
        )?;
        progress(&format!("baseline: {:.0} reads/s", sync.reads_per_s()));
        progress("baseline loop, no WAL sync");
        let nosync = baseline::run(
            &root.path().join("baseline-nosync"),
            &workload,
            baseline_opts.1,
        )?;
        progress(&format!("baseline: {:.0} reads/s", nosync.reads_per_s()));
        progress("baseline loop, fsync'd WAL, each batch sorted by key");
        let sorted = baseline::run(
            &root.path().join("baseline-sorted"),
            &workload,
            baseline_opts.2,
        )?;
        progress(&format!("baseline: {:.0} reads/s", sorted.reads_per_s()));
        Some((sync, nosync, sorted))
    };
    let baseline_cpu = baseline_meter.stop(&[std::process::id()]);

    let phases = if args.phase_reads == 0 {
        None
    } else {
        let n = args.phase_reads.div_ceil(args.batch).min(bodies.len());
        progress(&format!("write path phase by phase over {n} bodies"));
        Some(phases::measure(
            &root.path().join("phases"),
            &bodies[..n],
            true,
        )?)
    };

    let report = Report {
        source,
        args: &args,
        machine,
        date,
        load_before,
        load_after: load_average(),
        run_cpu: run_meter.stop(&[std::process::id()]),
        baseline_cpu,
        reads: workload.len(),
        sightline,
        baseline,
        baseline_opts,
        phases,
    };
    println!("{}", report.table());
    if let Some(parent) = out_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(
        &out_path,
        serde_json::to_string_pretty(&report.to_json())? + "\n",
    )
    .with_context(|| format!("writing {}", out_path.display()))?;
    println!("JSON report: {}", out_path.display());
    if args.keep {
        let kept = root.keep();
        println!("kept {}", kept.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> Workload {
        Workload::generate(WorkloadParams::new(20_000, 1_795_000_000_000))
    }

    #[test]
    fn the_plan_covers_targets_and_absent_plates_with_exact_counts() {
        let w = workload();
        let plan = plan_searches(&w, 10, 1_000, 1);
        assert_eq!(plan.len(), 1_010);
        assert!(plan.iter().any(|p| p.2 == 0 && p.1.starts_with("ZZZ")));
        assert!(plan.iter().any(|p| p.2 == 1_000 && p.1.starts_with("TG")));
        let index: std::collections::HashMap<&str, usize> = w
            .plates()
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i))
            .collect();
        for (sent, plate, expected) in &plan {
            assert_eq!(
                sightline_storage::record::normalize_plate(sent).as_deref(),
                Ok(plate.as_str())
            );
            assert_eq!(
                index.get(plate.as_str()).map_or(0, |&i| w.count(i)),
                *expected
            );
        }
    }

    #[test]
    fn wrong_answers_are_refused() {
        let hit = |at: &str| json!({"plate": "ABC1234", "captured_at": at});
        let page = |total: u64, hits: Vec<Value>, cursor: Value| json!({"total": total, "hits": hits, "next_cursor": cursor});
        let two = vec![
            hit("2026-01-02T00:00:00.000Z"),
            hit("2026-01-01T00:00:00.000Z"),
        ];
        assert_eq!(
            check_answer("ABC1234", 2, 200, &page(2, two.clone(), Value::Null)).ok(),
            Some(2)
        );
        assert!(check_answer("ABC1234", 3, 200, &page(2, two.clone(), Value::Null)).is_err());
        assert!(check_answer("ABC1234", 2, 500, &page(2, two.clone(), Value::Null)).is_err());
        assert!(check_answer("ABC1234", 2, 200, &page(2, two.clone(), json!("c"))).is_err());
        let reversed: Vec<Value> = two.iter().rev().cloned().collect();
        assert!(check_answer("ABC1234", 2, 200, &page(2, reversed, Value::Null)).is_err());
        let other = vec![json!({"plate": "XYZ1", "captured_at": "2026-01-01T00:00:00.000Z"})];
        assert!(check_answer("ABC1234", 1, 200, &page(1, other, Value::Null)).is_err());
        let full: Vec<Value> = (0..100).map(|_| hit("2026-01-01T00:00:00.000Z")).collect();
        assert!(check_answer("ABC1234", 150, 200, &page(150, full.clone(), json!("c"))).is_ok());
        assert!(check_answer("ABC1234", 150, 200, &page(150, full, Value::Null)).is_err());
    }
}
