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
use sightline_bench::server::{agent, respond, timed_post, PerfRecord, Server, MASTER_KEY_HEX};
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

mod ingest;
mod report;
mod run;
mod search;

use ingest::*;
use report::*;
use run::*;
use search::*;

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
