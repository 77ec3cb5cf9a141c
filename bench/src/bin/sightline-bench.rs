//! `sightline-bench`: benchmarks that measure Sightline against another system.
//!
//! ```sh
//! export CARGO_TARGET_DIR=$HOME/.cache/sightline-target
//! cargo build --release --workspace --bin sightline-bench --bin sightline
//! $CARGO_TARGET_DIR/release/sightline-bench compare --reads 10000000
//! ```
//!
//! `compare` runs Sightline and PostgreSQL + PostGIS + pg_trgm (installed from Debian's
//! packages when missing) on the same seeded reads and the same requests, checks that every
//! answer pair agrees, prints one side-by-side table, writes JSON, and rewrites the marked
//! section of docs/benchmarks.md (`sightline_bench::compare`).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, ensure, Result};
use clap::{Parser, Subcommand};
use sightline_bench::compare::{self, Config};

#[derive(Parser, Debug)]
#[command(
    name = "sightline-bench",
    about = "Sightline measured against other systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sightline against PostgreSQL + PostGIS + pg_trgm: same reads, same requests, one run.
    Compare(CompareArgs),
}

#[derive(Parser, Debug)]
struct CompareArgs {
    /// Reads of the workload.
    #[arg(long, default_value_t = 1_000_000)]
    reads: usize,
    /// Seed of the workload and of the requests.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Reads per ingest batch (one NDJSON body; one COPY transaction).
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Concurrent ingest clients, each system.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Measured requests per class.
    #[arg(long, default_value_t = 500)]
    measured: usize,
    /// Unmeasured requests per class before the measured ones.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// The `sightline` binary (default: beside this one).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Directory for both systems' temporary data (a real disk, for fsync to mean anything).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Sightline's RocksDB block cache (the product's default).
    #[arg(long, default_value = "256MiB")]
    block_cache: String,
    /// The JSON report (default: compare.json beside the `release` directory of this binary).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The document whose marked comparison section is rewritten (default: the workspace's
    /// docs/benchmarks.md).
    #[arg(long)]
    doc: Option<PathBuf>,
    /// Leave the document alone.
    #[arg(long)]
    no_doc: bool,
    /// Keep both systems' data directories and say where they are.
    #[arg(long)]
    keep: bool,
    /// Before each system, wait at most this many seconds for other processes to keep less
    /// than a tenth of a core busy (0: do not wait); the report says what it found.
    #[arg(long, default_value_t = 0)]
    wait_quiet: u64,
}

fn beside_me(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.join(name);
    path.is_file().then_some(path)
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Compare(args) = Cli::parse().command;
    ensure!(
        args.reads > 0 && args.batch > 0,
        "--reads and --batch must be positive"
    );
    ensure!(args.measured > 0, "--measured must be positive");
    let binary = match args.binary {
        Some(path) => path,
        None => beside_me("sightline").ok_or_else(|| {
            anyhow!("no sightline binary beside this one: build it (cargo build --release --workspace) or pass --binary")
        })?,
    };
    let out = args.out.or_else(|| {
        let exe = std::env::current_exe().ok()?;
        Some(exe.parent()?.parent()?.join("compare.json"))
    });
    let doc = (!args.no_doc).then(|| {
        args.doc
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md"))
    });
    let doc = doc.map(|d| std::fs::canonicalize(&d).unwrap_or(d));
    let mut words: Vec<String> = std::env::args().collect();
    if let Some(first) = words.first_mut() {
        *first = "sightline-bench".into();
    }
    let config = Config {
        reads: args.reads,
        seed: args.seed,
        batch: args.batch,
        clients: args.clients,
        measured: args.measured,
        warmup: args.warmup,
        binary,
        dir: args.dir.unwrap_or_else(std::env::temp_dir),
        block_cache: args.block_cache,
        out: out.clone(),
        doc: doc.clone(),
        command: words.join(" "),
        keep: args.keep,
        wait_quiet: std::time::Duration::from_secs(args.wait_quiet),
    };
    let report = compare::run(&config)?;
    println!("{}\n{}", report.header(), report.table());
    if let Some(out) = out {
        println!("JSON report: {}", out.display());
    }
    if let Some(doc) = doc {
        println!("rewrote the comparison section of {}", doc.display());
    }
    Ok(())
}
