//! The PostgreSQL side: a throwaway cluster (initdb in a temporary directory, loopback port,
//! `fsync` and `synchronous_commit` on, `shared_buffers` a quarter of the machine's memory),
//! the schema with the indexes a good DBA would build, the load with COPY from several
//! connections (one transaction per batch, so every acknowledged batch is durable, with
//! every index live), `VACUUM ANALYZE`, and what it then holds on disk.
//!
//! The server refuses to run as root, so when this process is root every PostgreSQL program
//! runs as the `postgres` system user (`runuser`), in a directory handed to that user.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use postgres::{Client, NoTls};
use serde::Serialize;
use sightline_storage::time::format_rfc3339_ms;
use tracing::{info, warn};

use super::install::{as_postgres_user, Installation};
use crate::stats::Summary;
use crate::synth::Workload;
use crate::sys::DirSize;

/// The tenant id of every row (Sightline's tenant `compare`).
pub const TENANT: i32 = 1;

/// The schema: one table of reads, its indexes, and three helpers. `ocr_canonical` maps
/// each character to its OCR confusion class's representative (O, D, Q → 0; I, L → 1;
/// Z → 2; S → 5; G → 6; B → 8), exactly as Sightline's fuzzy match treats them.
const SCHEMA: &str = r#"
CREATE EXTENSION postgis;
CREATE EXTENSION pg_trgm;
CREATE EXTENSION btree_gist;
CREATE EXTENSION fuzzystrmatch;
CREATE FUNCTION ocr_canonical(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT translate($1, 'ODQILZSGB', '000112568') $$;
CREATE FUNCTION ms_ts(bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT timestamptz 'epoch' + $1 * interval '1 millisecond' $$;
CREATE FUNCTION ts_ms(timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT (extract(epoch FROM $1) * 1000)::bigint $$;
CREATE TABLE reads (
  id          bigint PRIMARY KEY,
  tenant      integer NOT NULL,
  plate       text NOT NULL,
  plate_raw   text NOT NULL,
  camera      text NOT NULL,
  captured_at timestamptz NOT NULL,
  region      text NOT NULL,
  confidence  real NOT NULL,
  pos         geography(Point, 4326) NOT NULL,
  make        text NOT NULL,
  model       text NOT NULL,
  color       text NOT NULL,
  body_type   text NOT NULL,
  direction   text NOT NULL
);
CREATE INDEX reads_plate ON reads (tenant, plate, captured_at);
CREATE INDEX reads_pos ON reads USING gist (pos, captured_at);
CREATE INDEX reads_camera ON reads (tenant, camera, captured_at);
CREATE INDEX reads_plate_trgm ON reads USING gin (ocr_canonical(plate) gin_trgm_ops);
CREATE INDEX reads_vehicle ON reads (tenant, make, model, color, captured_at);
"#;

/// The indexes of [`SCHEMA`], for the report.
pub const INDEXES: &str = "primary key (id); btree (tenant, plate, captured_at) in the C collation; \
GiST (pos, captured_at) on geography(Point, 4326) with btree_gist; btree (tenant, camera, captured_at); \
trigram GIN on ocr_canonical(plate); btree (tenant, make, model, color, captured_at)";

const COPY: &str = "COPY reads (id, tenant, plate, plate_raw, camera, captured_at, region, \
confidence, pos, make, model, color, body_type, direction) FROM STDIN";

/// A running throwaway PostgreSQL cluster; dropping it stops the server.
pub struct PgCluster {
    install: Installation,
    /// The temporary directory (removed on drop unless kept) and its path.
    root: Option<tempfile::TempDir>,
    root_path: PathBuf,
    data: PathBuf,
    /// Loopback port.
    pub port: u16,
    running: bool,
    /// The settings written to `postgresql.conf`, for the report.
    pub settings: Vec<(String, String)>,
}

/// The settings of the throwaway cluster for a machine of `mem_bytes`.
fn settings(port: u16, socket_dir: &Path, mem_bytes: u64) -> Vec<(String, String)> {
    let mib = (mem_bytes >> 20).max(1024);
    let quote = |s: &str| format!("'{s}'");
    [
        ("listen_addresses", quote("127.0.0.1")),
        ("port", port.to_string()),
        (
            "unix_socket_directories",
            quote(&socket_dir.display().to_string()),
        ),
        ("fsync", "on".into()),
        ("synchronous_commit", "on".into()),
        ("full_page_writes", "on".into()),
        // A quarter of RAM, as PostgreSQL's documentation suggests for a dedicated server.
        ("shared_buffers", quote(&format!("{}MB", mib / 4))),
        ("effective_cache_size", quote(&format!("{}MB", mib / 2))),
        (
            "maintenance_work_mem",
            quote(&format!("{}MB", (mib / 16).min(2048))),
        ),
        ("work_mem", quote("64MB")),
        // Bulk ingest: fewer checkpoints (and full-page writes after each).
        ("max_wal_size", quote("4GB")),
        ("checkpoint_timeout", quote("15min")),
        // An SSD-backed virtual disk.
        ("random_page_cost", "1.1".into()),
        ("effective_io_concurrency", "200".into()),
        // Short queries: compiling them would cost more than running them.
        ("jit", "off".into()),
        ("log_min_messages", "warning".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl PgCluster {
    fn command(&self, program: &str) -> Command {
        let path = self.install.program(program);
        if as_postgres_user() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let out = self
            .command(program)
            .args(args)
            .current_dir(&self.root_path)
            .output()
            .with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            bail!(
                "{program} {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Creates a cluster under `parent` (a real disk: fsync must mean something) and starts
    /// it on a free loopback port.
    pub fn start(install: Installation, parent: &Path, mem_bytes: u64) -> Result<PgCluster> {
        let root = tempfile::Builder::new()
            .prefix("sightline-compare-pg-")
            .tempdir_in(parent)
            .with_context(|| format!("creating a directory under {}", parent.display()))?;
        if as_postgres_user() {
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(root.path())
                .status()
                .context("chown")?;
            ensure!(
                status.success(),
                "chown postgres {} failed",
                root.path().display()
            );
        }
        let port = sightline_chaos::free_port()?;
        let data = root.path().join("data");
        let mut cluster = PgCluster {
            settings: settings(port, root.path(), mem_bytes),
            install,
            data,
            port,
            root_path: root.path().to_path_buf(),
            root: Some(root),
            running: false,
        };
        let data = cluster.data.display().to_string();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "--username=bench",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )?;
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(cluster.data.join("postgresql.conf"))
            .context("opening postgresql.conf")?;
        writeln!(conf, "\n# sightline-bench compare")?;
        for (key, value) in &cluster.settings {
            writeln!(conf, "{key} = {value}")?;
        }
        drop(conf);
        let log = cluster.root_path.join("postgres.log").display().to_string();
        cluster.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-t", "120", "start"],
        )?;
        cluster.running = true;
        info!(port, dir = %cluster.root_path.display(), "PostgreSQL started");
        Ok(cluster)
    }

    /// Its data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// A new connection, with the session settings every connection of the benchmark uses.
    pub fn connect(&self) -> Result<Client> {
        let mut client = postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("bench")
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(10))
            .connect(NoTls)
            .with_context(|| format!("connecting to PostgreSQL on port {}", self.port))?;
        // Custom plans: the planner sees each pattern and point (a prefix LIKE can then use
        // the btree), as an application sending literals would have it.
        client.batch_execute(
            "SET TIME ZONE 'UTC'; SET plan_cache_mode = force_custom_plan; \
             SET pg_trgm.similarity_threshold = 0.3;",
        )?;
        Ok(client)
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])
    }

    /// Stops the server and keeps its directory; returns where it is.
    pub fn keep(&mut self) -> Result<PathBuf> {
        self.stop()?;
        Ok(self
            .root
            .take()
            .map_or_else(|| self.root_path.clone(), tempfile::TempDir::keep))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            warn!("stopping PostgreSQL: {e:#}");
        }
    }
}

/// Creates the schema and every index (before the load: ingest is measured with every index
/// live).
pub fn create_schema(client: &mut Client) -> Result<()> {
    client.batch_execute(SCHEMA).context("creating the schema")
}

/// The workload as COPY text bodies of at most `batch` rows each, in order. The plate is
/// normalized by the loader (as an ETL job would); the raw text is kept beside it.
pub fn copy_bodies(w: &Workload, batch: usize) -> Vec<String> {
    let batch = batch.max(1);
    (0..w.len())
        .step_by(batch)
        .map(|first| {
            let mut out = String::with_capacity(batch * 180);
            for i in first..(first + batch).min(w.len()) {
                let r = w.read(i);
                out.push_str(&format!(
                    "{i}\t{TENANT}\t{}\t{}\t{}\t{}\tUS-IL\t{}\tSRID=4326;POINT({} {})\t{}\t{}\t{}\t{}\t{}\n",
                    r.plate,
                    r.plate_raw(),
                    r.camera.id,
                    format_rfc3339_ms(r.ts),
                    r.confidence,
                    r.camera.lon,
                    r.camera.lat,
                    r.vehicle.0,
                    r.vehicle.1,
                    r.color,
                    r.vehicle.2,
                    r.direction,
                ));
            }
            out
        })
        .collect()
}

/// What the load measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    /// Rows loaded.
    pub rows: u64,
    /// Wall seconds from the first COPY to the last commit.
    pub seconds: f64,
    /// Durable rows per second.
    pub rows_per_s: f64,
    /// Latency of one batch's COPY and commit, ms.
    pub batch_p50_ms: f64,
    /// Its 99th percentile, ms.
    pub batch_p99_ms: f64,
}

/// COPYs every body from `clients` connections, one transaction (and one durable commit)
/// per body, taking bodies in order from a shared counter.
pub fn load(cluster: &PgCluster, bodies: &[String], clients: usize) -> Result<LoadResult> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let started = Instant::now();
    let results: Vec<Result<(u64, Vec<Duration>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(u64, Vec<Duration>)> {
                    let mut client = cluster.connect()?;
                    let (mut rows, mut latencies) = (0, Vec::new());
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let t = Instant::now();
                        let copied = (|| -> Result<u64> {
                            let mut writer = client.copy_in(COPY)?;
                            writer.write_all(body.as_bytes())?;
                            Ok(writer.finish()?)
                        })();
                        match copied {
                            Ok(n) if n == body.lines().count() as u64 => rows += n,
                            Ok(n) => {
                                failed.store(true, Ordering::Relaxed);
                                bail!("batch {i}: COPY wrote {n} rows of {}", body.lines().count());
                            }
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e.context(format!("COPY of batch {i}")));
                            }
                        }
                        latencies.push(t.elapsed());
                    }
                    Ok((rows, latencies))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow!("COPY client panicked")))
            })
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let (mut rows, mut latencies) = (0, Vec::new());
    for r in results {
        let (n, l) = r?;
        rows += n;
        latencies.extend(l);
    }
    let batches = Summary::of(&mut latencies).context("no batches")?;
    Ok(LoadResult {
        rows,
        seconds,
        rows_per_s: rows as f64 / seconds.max(1e-9),
        batch_p50_ms: batches.p50_ms,
        batch_p99_ms: batches.p99_ms,
    })
}

/// `VACUUM ANALYZE` of the table (every index too), then a checkpoint; returns the seconds.
pub fn vacuum(client: &mut Client) -> Result<f64> {
    let t = Instant::now();
    // Each on its own: a multi-statement string is one transaction, which VACUUM refuses.
    client.batch_execute("VACUUM (ANALYZE) reads")?;
    client.batch_execute("CHECKPOINT")?;
    Ok(t.elapsed().as_secs_f64())
}

/// What PostgreSQL holds on disk for the reads.
#[derive(Debug, Clone, Serialize)]
pub struct PgBytes {
    /// Heap, TOAST, free-space and visibility maps (`pg_table_size`).
    pub table: u64,
    /// Every index (`pg_indexes_size`).
    pub indexes: u64,
    /// Each index by name.
    pub by_index: Vec<(String, u64)>,
    /// The WAL directory (`pg_wal`) after the checkpoint.
    pub wal: u64,
    /// The whole data directory (catalogs, extensions, ... included).
    pub data_dir: u64,
}

impl PgBytes {
    /// Table, indexes and WAL: the figure compared.
    pub fn compared(&self) -> u64 {
        self.table + self.indexes + self.wal
    }
}

/// Measures [`PgBytes`] (after [`vacuum`]).
pub fn bytes(client: &mut Client, cluster: &PgCluster) -> Result<PgBytes> {
    let row = client.query_one(
        "SELECT pg_table_size('reads')::int8, pg_indexes_size('reads')::int8",
        &[],
    )?;
    let by_index = client
        .query(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid)::int8 FROM pg_index \
             WHERE indrelid = 'reads'::regclass ORDER BY 2 DESC",
            &[],
        )?
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .collect();
    Ok(PgBytes {
        table: row.get::<_, i64>(0) as u64,
        indexes: row.get::<_, i64>(1) as u64,
        by_index,
        wal: DirSize::of(&cluster.data_dir().join("pg_wal"))?.total,
        data_dir: DirSize::of(cluster.data_dir())?.total,
    })
}

/// `version()` and PostGIS's library version.
pub fn versions(client: &mut Client) -> Result<(String, String)> {
    let row = client.query_one("SELECT version(), postgis_lib_version()", &[])?;
    Ok((row.get(0), row.get(1)))
}
