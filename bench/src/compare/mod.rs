//! `sightline-bench compare`: Sightline against PostgreSQL + PostGIS + pg_trgm on the same
//! reads, the same requests and the same machine, in one run.
//!
//! 1. PostgreSQL and PostGIS are found, or installed from Debian's packages ([`install`]).
//! 2. One seeded workload ([`crate::synth::Workload`], the macro benchmark's and the
//!    alerts benchmark's generator) and one plan of requests ([`crate::search_mix::plan`],
//!    the macro benchmark's search mix, each request with the answer the workload says it
//!    must get) are made before anything is timed.
//! 3. **Sightline** ([`sightline`]): a fresh node of the release binary through the chaos
//!    harness; durable ingest over HTTP NDJSON; `POST /v1/admin/compact`; bytes on disk;
//!    the plan over HTTP, every answer checked against the workload. The node is stopped.
//! 4. **PostgreSQL** ([`pg`], [`pg_query`]): a throwaway cluster; the schema and every
//!    index; durable ingest with COPY; `VACUUM ANALYZE` and a checkpoint; bytes on disk; the
//!    plan, each request translated to SQL. The cluster is stopped.
//! 5. Every answer pair is checked for agreement ([`answer::agree`]); a disagreement fails
//!    the run naming the request, after the JSON report is written.
//! 6. The report ([`report`]): one table, both systems side by side with the ratio per row,
//!    JSON from one serializable struct, and the marked section of docs/benchmarks.md.
//!
//! The two systems run one after the other, each alone on the machine, and each request
//! class is sent from one client: warm-up requests first, then the measured ones.

pub mod answer;
pub mod install;
pub mod pg;
pub mod pg_query;
pub mod report;
pub mod sightline;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tracing::{error, info};

use crate::search_mix::{self, Class, Planned};
use crate::synth::{Workload, WorkloadParams};
use crate::sys::{load_average, wait_until_quiet, CpuMeter, Machine};
use answer::{agree, Answer};
use report::{ClassRow, Report};
use sightline_storage::time::{format_rfc3339_ms, now_ms};

/// One request's latency and answer.
#[derive(Debug, Clone)]
pub struct Timed {
    pub latency: Duration,
    pub answer: Answer,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Reads of the workload.
    pub reads: usize,
    /// Seed of the workload and of the plan.
    pub seed: u64,
    /// Reads per ingest batch (NDJSON body, COPY transaction).
    pub batch: usize,
    /// Concurrent ingest clients, each system.
    pub clients: usize,
    /// Measured requests per class.
    pub measured: usize,
    /// Unmeasured requests per class before the measured ones.
    pub warmup: usize,
    /// The `sightline` binary (copied before it is started).
    pub binary: PathBuf,
    /// Where the temporary directories go (a real disk).
    pub dir: PathBuf,
    /// Sightline's block cache.
    pub block_cache: String,
    /// Where to write the JSON report, if anywhere.
    pub out: Option<PathBuf>,
    /// The document whose comparison section to rewrite, if any.
    pub doc: Option<PathBuf>,
    /// The command line, as the report shows it.
    pub command: String,
    /// Keep both systems' directories.
    pub keep: bool,
    /// Before each system, wait at most this long for other processes to keep less than a
    /// tenth of a core busy (0: do not wait).
    pub wait_quiet: Duration,
}

/// How busy other processes kept the machine just before a system started: waits (at most
/// `limit`) for them to go quiet, then samples them for three seconds. Returns (seconds
/// waited, cores they kept busy).
fn settle(what: &str, limit: Duration) -> (f64, Option<f64>) {
    let me = [std::process::id()];
    let (waited, _) = if limit.is_zero() {
        (0.0, false)
    } else {
        wait_until_quiet(&me, 0.1, Duration::from_secs(5), limit)
    };
    let meter = CpuMeter::start(&me);
    std::thread::sleep(Duration::from_secs(3));
    let cores = meter.stop(&me).map(|c| c.others_cores());
    info!(what, waited, others_cores = ?cores, "before the run of one system");
    (waited, cores)
}

/// Runs the plan on PostgreSQL: one connection, prepared statements, each request timed
/// from sending it to having decoded every row.
fn pg_search(
    cluster: &pg::PgCluster,
    plan: &[(Class, Vec<Planned>)],
) -> Result<Vec<(Class, Vec<Timed>)>> {
    let mut search = pg_query::PgSearch::prepare(cluster.connect()?)?;
    let mut out = Vec::new();
    for (class, planned) in plan {
        let mut answers = Vec::with_capacity(planned.len());
        for (k, p) in planned.iter().enumerate() {
            let t = Instant::now();
            let answer = search.run(*class, p.body()).with_context(|| {
                format!("PostgreSQL, {} request {k}: {}", class.name(), p.body())
            })?;
            answers.push(Timed {
                latency: t.elapsed(),
                answer,
            });
        }
        info!(
            class = class.name(),
            requests = answers.len(),
            "PostgreSQL answered"
        );
        out.push((*class, answers));
    }
    Ok(out)
}

/// The PostgreSQL half of the run.
pub struct PgRun {
    pub version: String,
    pub postgis: String,
    pub settings: Vec<(String, String)>,
    pub load: pg::LoadResult,
    pub vacuum_seconds: f64,
    pub bytes: pg::PgBytes,
    pub answers: Vec<(Class, Vec<Timed>)>,
    pub kept: Option<PathBuf>,
}

fn run_pg(
    install: install::Installation,
    cfg: &Config,
    w: &Workload,
    mem_bytes: u64,
    plan: &[(Class, Vec<Planned>)],
) -> Result<PgRun> {
    let mut cluster = pg::PgCluster::start(install, &cfg.dir, mem_bytes)?;
    let mut client = cluster.connect()?;
    pg::create_schema(&mut client)?;
    let (version, postgis) = pg::versions(&mut client)?;
    let bodies = pg::copy_bodies(w, cfg.batch);
    info!(batches = bodies.len(), "PostgreSQL: COPY");
    let load = pg::load(&cluster, &bodies, cfg.clients)?;
    drop(bodies);
    info!(rows_per_s = load.rows_per_s.round(), "PostgreSQL ingest");
    let vacuum_seconds = pg::vacuum(&mut client)?;
    let bytes = pg::bytes(&mut client, &cluster)?;
    info!(
        vacuum_seconds,
        bytes_per_read = bytes.compared() as f64 / w.len() as f64,
        "PostgreSQL vacuumed"
    );
    drop(client);
    let answers = pg_search(&cluster, plan)?;
    let kept = if cfg.keep {
        Some(cluster.keep()?)
    } else {
        cluster.stop()?;
        None
    };
    Ok(PgRun {
        version,
        postgis,
        settings: cluster.settings.clone(),
        load,
        vacuum_seconds,
        bytes,
        answers,
        kept,
    })
}

/// Every disagreement between the two systems' answers, naming the request.
pub fn disagreements(
    plan: &[(Class, Vec<Planned>)],
    sightline: &[(Class, Vec<Timed>)],
    postgres: &[(Class, Vec<Timed>)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (((class, planned), (_, s)), (_, p)) in plan.iter().zip(sightline).zip(postgres) {
        for (k, ((request, s), p)) in planned.iter().zip(s).zip(p).enumerate() {
            if let Err(e) = agree(&s.answer, &p.answer) {
                out.push(format!(
                    "{} request {k} {}: {e:#}",
                    class.name(),
                    request.body()
                ));
            }
        }
    }
    out
}

/// Runs the comparison and returns its report; fails on any disagreement (after writing
/// the JSON report, when asked for one).
pub fn run(cfg: &Config) -> Result<Report> {
    let started = Instant::now();
    let install = install::ensure()?;
    let machine = Machine::detect();
    let load_before = load_average();
    let meter = CpuMeter::start(&[std::process::id()]);
    let date = format_rfc3339_ms(now_ms());
    let root = tempfile::Builder::new()
        .prefix("sightline-compare-")
        .tempdir_in(&cfg.dir)
        .with_context(|| format!("creating a directory under {}", cfg.dir.display()))?;
    // A concurrent build may replace the binary while this runs: start a copy of it.
    std::fs::create_dir_all(root.path().join("bin"))?;
    let binary = root.path().join("bin/sightline");
    std::fs::copy(&cfg.binary, &binary)
        .with_context(|| format!("copying {}", cfg.binary.display()))?;

    let t = Instant::now();
    let w = Workload::generate(WorkloadParams {
        seed: cfg.seed,
        ..WorkloadParams::new(cfg.reads, now_ms() - 60_000)
    });
    let plan = search_mix::plan(&w, cfg.warmup, cfg.measured, cfg.seed, now_ms());
    let plan_seconds = t.elapsed().as_secs_f64();
    info!(reads = w.len(), plan_seconds, "workload and plan ready");

    let bodies = w.ndjson_batches(cfg.batch);
    let sl_settle = settle("Sightline", cfg.wait_quiet);
    let sl = sightline::run(
        &binary,
        &root.path().join("sightline"),
        &cfg.block_cache,
        bodies,
        cfg.clients,
        &plan,
    )?;
    let pg_settle = settle("PostgreSQL", cfg.wait_quiet);
    let pg = run_pg(install, cfg, &w, machine.mem_bytes, &plan)?;

    let problems = disagreements(&plan, &sl.answers, &pg.answers);
    let classes = plan
        .iter()
        .zip(&sl.answers)
        .zip(&pg.answers)
        .map(|(((class, planned), (_, s)), (_, p))| {
            ClassRow::new(*class, planned, s, p, cfg.warmup)
        })
        .collect();
    let report = Report {
        command: cfg.command.clone(),
        date,
        git: report::git_describe(),
        machine: report::MachineInfo::from(&machine),
        load_before,
        load_after: load_average(),
        other_processes_cores: meter.stop(&[std::process::id()]).map(|c| c.others_cores()),
        others_before: vec![
            report::Settled::new("Sightline", sl_settle),
            report::Settled::new("PostgreSQL", pg_settle),
        ],
        reads: w.len(),
        seed: cfg.seed,
        batch: cfg.batch,
        clients: cfg.clients,
        measured: cfg.measured,
        warmup: cfg.warmup,
        block_cache: cfg.block_cache.clone(),
        postgres_version: pg.version.clone(),
        postgis_version: pg.postgis.clone(),
        postgres_settings: pg.settings.clone(),
        postgres_indexes: pg::INDEXES.to_string(),
        sightline_ingest: sl.ingest.clone(),
        postgres_ingest: pg.load.clone(),
        sightline_compact_seconds: sl.compact_seconds,
        postgres_vacuum_seconds: pg.vacuum_seconds,
        sightline_bytes: sl.bytes.clone(),
        postgres_bytes: pg.bytes.clone(),
        classes,
        answers_checked: sl.answers.iter().map(|(_, a)| a.len()).sum(),
        disagreements: problems.clone(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    if let Some(out) = &cfg.out {
        report.write_json(out)?;
    }
    if cfg.keep {
        info!(sightline = %root.keep().display(), postgres = ?pg.kept, "kept the data directories");
    }
    if !problems.is_empty() {
        for p in problems.iter().take(20) {
            error!("disagreement: {p}");
        }
        bail!(
            "Sightline and PostgreSQL disagree on {} of {} answers; first: {}",
            problems.len(),
            report.answers_checked,
            problems[0]
        );
    }
    if let Some(doc) = &cfg.doc {
        report.rewrite_doc(doc)?;
    }
    Ok(report)
}
