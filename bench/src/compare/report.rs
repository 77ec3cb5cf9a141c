//! The comparison's report: one serializable struct, rendered as the side-by-side table
//! (printed, and written into the marked section of docs/benchmarks.md) and as JSON.

use std::path::Path;

use anyhow::{bail, Context, Result};
use comfy_table::{presets, Table};
use serde::Serialize;

use super::pg::{LoadResult, PgBytes};
use super::sightline::{IngestResult, SightlineBytes};
use super::Timed;
use crate::search_mix::{Class, Planned};
use crate::stats::{fmt_int, round3, Summary};
use crate::sys::Machine;

/// The markers of the section of docs/benchmarks.md this report rewrites.
pub const BEGIN: &str = "<!-- compare:begin (written by `sightline-bench compare`; edits between the markers are lost) -->";
/// The end marker.
pub const END: &str = "<!-- compare:end -->";

/// Sightline's target against PostgreSQL at p99 (issue 17, acceptance 3).
pub const TARGET_P99_RATIO: f64 = 5.0;
/// Below this PostgreSQL p99 (ms) the target is parity: an HTTP round trip costs ~0.1 ms.
pub const PARITY_BELOW_MS: f64 = 1.0;
/// Sightline's target against PostgreSQL's durable ingest.
pub const TARGET_INGEST_RATIO: f64 = 10.0;

/// The machine, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct MachineInfo {
    pub cpus: usize,
    pub cpu_model: String,
    pub aes_ni_and_clmul: bool,
    pub mem_bytes: u64,
    pub kernel: String,
}

impl From<&Machine> for MachineInfo {
    fn from(m: &Machine) -> Self {
        MachineInfo {
            cpus: m.cpus,
            cpu_model: m.cpu_model.clone(),
            aes_ni_and_clmul: m.aes_ni,
            mem_bytes: m.mem_bytes,
            kernel: m.kernel.clone(),
        }
    }
}

/// A latency distribution of the measured requests, ms.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    fn of(timed: &[Timed], warmup: usize) -> Option<Latency> {
        let mut samples: Vec<_> = timed.iter().skip(warmup).map(|t| t.latency).collect();
        let s = Summary::of(&mut samples)?;
        Some(Latency {
            count: s.count,
            p50_ms: round3(s.p50_ms),
            p90_ms: round3(s.p90_ms),
            p99_ms: round3(s.p99_ms),
            max_ms: round3(s.max_ms),
            mean_ms: round3(s.mean_ms),
        })
    }
}

/// One class of request, both systems.
#[derive(Debug, Clone, Serialize)]
pub struct ClassRow {
    pub class: &'static str,
    pub request: &'static str,
    pub sightline: Option<Latency>,
    pub postgres: Option<Latency>,
    /// PostgreSQL's p99 over Sightline's (above 1: Sightline is faster).
    pub p99_ratio: Option<f64>,
    /// The same at p50.
    pub p50_ratio: Option<f64>,
    /// Whether the target is met: 5× at p99, parity where PostgreSQL's p99 is under 1 ms.
    pub met: Option<bool>,
    /// Answer pairs compared (warm-up included).
    pub compared: usize,
    /// Median answer size over the requests (hits on the first page, plates, cameras).
    pub median_answer_size: Option<usize>,
}

impl ClassRow {
    /// The row of `class` from both systems' answers.
    pub fn new(
        class: Class,
        planned: &[Planned],
        sightline: &[Timed],
        postgres: &[Timed],
        warmup: usize,
    ) -> ClassRow {
        let (s, p) = (
            Latency::of(sightline, warmup),
            Latency::of(postgres, warmup),
        );
        let ratio = |f: fn(&Latency) -> f64| s.zip(p).map(|(s, p)| round3(f(&p) / f(&s).max(1e-9)));
        let p99_ratio = ratio(|l| l.p99_ms);
        let met = s.zip(p).map(|(s, p)| {
            if p.p99_ms < PARITY_BELOW_MS {
                s.p99_ms <= p.p99_ms
            } else {
                p.p99_ms / s.p99_ms.max(1e-9) >= TARGET_P99_RATIO
            }
        });
        let mut sizes: Vec<usize> = sightline.iter().map(|t| t.answer.size()).collect();
        sizes.sort_unstable();
        ClassRow {
            class: class.name(),
            request: class.describe(),
            sightline: s,
            postgres: p,
            p99_ratio,
            p50_ratio: ratio(|l| l.p50_ms),
            met,
            compared: planned.len().min(sightline.len()).min(postgres.len()),
            median_answer_size: sizes.get(sizes.len().saturating_sub(1) / 2).copied(),
        }
    }
}

/// How busy other processes kept the machine just before one system ran.
#[derive(Debug, Clone, Serialize)]
pub struct Settled {
    pub system: &'static str,
    /// Seconds waited for them to go quiet (`--wait-quiet`).
    pub waited_s: f64,
    /// Cores they kept busy over the three seconds after.
    pub others_cores: Option<f64>,
}

impl Settled {
    /// From what `settle` measured.
    pub fn new(system: &'static str, (waited_s, others_cores): (f64, Option<f64>)) -> Settled {
        Settled {
            system,
            waited_s: round3(waited_s),
            others_cores: others_cores.map(round3),
        }
    }
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub command: String,
    pub date: String,
    pub git: String,
    pub machine: MachineInfo,
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
    /// Cores other processes kept busy on average over the run.
    pub other_processes_cores: Option<f64>,
    /// Other processes just before each system ran.
    pub others_before: Vec<Settled>,
    pub reads: usize,
    pub seed: u64,
    pub batch: usize,
    pub clients: usize,
    pub measured: usize,
    pub warmup: usize,
    pub block_cache: String,
    pub postgres_version: String,
    pub postgis_version: String,
    pub postgres_settings: Vec<(String, String)>,
    pub postgres_indexes: String,
    pub sightline_ingest: IngestResult,
    pub postgres_ingest: LoadResult,
    pub sightline_compact_seconds: f64,
    pub postgres_vacuum_seconds: f64,
    pub sightline_bytes: SightlineBytes,
    pub postgres_bytes: PgBytes,
    pub classes: Vec<ClassRow>,
    /// Answer pairs compared.
    pub answers_checked: usize,
    /// Each disagreement, naming the request (empty when the systems agree).
    pub disagreements: Vec<String>,
    pub wall_seconds: f64,
}

/// `git describe --always --dirty` of the workspace this was built from.
pub fn git_describe() -> String {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::process::Command::new("git")
        .arg("-C")
        .arg(&workspace)
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".into(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
}

fn ms(l: Option<Latency>) -> String {
    l.map_or("-".into(), |l| format!("{:.2} / {:.2}", l.p50_ms, l.p99_ms))
}

fn verdict(met: Option<bool>, ratio: Option<f64>, target: f64, parity: bool) -> String {
    match (met, ratio) {
        (Some(true), _) => "met".into(),
        (Some(false), Some(r)) if parity => format!("MISS: {r:.2}× (parity needed)"),
        (Some(false), Some(r)) => format!(
            "MISS: {r:.2}× of {target}×, short {:.1}×",
            target / r.max(1e-9)
        ),
        _ => "-".into(),
    }
}

impl Report {
    fn per_read(&self, bytes: u64) -> f64 {
        bytes as f64 / self.reads.max(1) as f64
    }

    /// Sightline's durable ingest over PostgreSQL's.
    pub fn ingest_ratio(&self) -> f64 {
        self.sightline_ingest.reads_per_s / self.postgres_ingest.rows_per_s.max(1e-9)
    }

    /// The side-by-side table (Markdown, so the same text prints and goes into the doc).
    pub fn table(&self) -> String {
        let mut t = Table::new();
        t.load_preset(presets::ASCII_MARKDOWN);
        t.set_header(vec![
            "figure",
            "Sightline",
            "PostgreSQL",
            "ratio",
            "target",
            "verdict",
        ]);
        let ingest = self.ingest_ratio();
        t.add_row(vec![
            format!(
                "durable ingest, reads/s ({} clients × {}-read batches)",
                self.clients,
                fmt_int(self.batch as f64)
            ),
            fmt_int(self.sightline_ingest.reads_per_s),
            fmt_int(self.postgres_ingest.rows_per_s),
            format!("{ingest:.2}×"),
            format!("≥ {TARGET_INGEST_RATIO}×"),
            verdict(
                Some(ingest >= TARGET_INGEST_RATIO),
                Some(ingest),
                TARGET_INGEST_RATIO,
                false,
            ),
        ]);
        for c in &self.classes {
            let parity = c.postgres.is_some_and(|p| p.p99_ms < PARITY_BELOW_MS);
            t.add_row(vec![
                format!("{}: {}, p50 / p99 ms", c.class, c.request),
                ms(c.sightline),
                ms(c.postgres),
                c.p99_ratio.map_or("-".into(), |r| {
                    format!("{r:.2}× (p50 {:.2}×)", c.p50_ratio.unwrap_or(0.0))
                }),
                if parity {
                    "parity (PG p99 < 1 ms)".into()
                } else {
                    format!("≥ {TARGET_P99_RATIO}× at p99")
                },
                verdict(c.met, c.p99_ratio, TARGET_P99_RATIO, parity),
            ]);
        }
        let (s, p) = (
            self.sightline_bytes.compared(),
            self.postgres_bytes.compared(),
        );
        t.add_row(vec![
            "bytes on disk per read: engine + Raft log / table + indexes + WAL".into(),
            format!("{:.1}", self.per_read(s)),
            format!("{:.1}", self.per_read(p)),
            format!("{:.2}×", p as f64 / s.max(1) as f64),
            "≤ 200 B (not in this run's scope)".into(),
            "measured only".into(),
        ]);
        t.add_row(vec![
            "whole data directory per read".into(),
            format!("{:.1}", self.per_read(self.sightline_bytes.total())),
            format!("{:.1}", self.per_read(self.postgres_bytes.data_dir)),
            format!(
                "{:.2}×",
                self.postgres_bytes.data_dir as f64 / self.sightline_bytes.total().max(1) as f64
            ),
            String::new(),
            String::new(),
        ]);
        t.to_string()
    }

    /// The context lines above the table.
    pub fn header(&self) -> String {
        let load = |l: Option<[f64; 3]>| {
            l.map_or("?".into(), |l| {
                format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])
            })
        };
        let sb = &self.sightline_bytes;
        let pb = &self.postgres_bytes;
        let parts: Vec<String> = sb
            .parts
            .iter()
            .map(|(n, b)| format!("{n} {:.1}", self.per_read(*b)))
            .collect();
        let indexes: Vec<String> = pb
            .by_index
            .iter()
            .map(|(n, b)| format!("{n} {:.1}", self.per_read(*b)))
            .collect();
        let settings: Vec<String> = self
            .postgres_settings
            .iter()
            .filter(|(k, _)| {
                ![
                    "listen_addresses",
                    "port",
                    "unix_socket_directories",
                    "log_min_messages",
                ]
                .contains(&k.as_str())
            })
            .map(|(k, v)| format!("{k}={}", v.trim_matches('\'')))
            .collect();
        format!(
            "- **Command**: `{}`\n\
             - **Date**: {} (the run took {:.0} s)\n\
             - **Machine**: {}, {} CPUs (AES-NI+CLMUL {}), {:.1} GiB, Linux {}; load average (1/5/15 min) before {}, after {} (the run's own work included); other processes kept {} cores busy on average over the run ({})\n\
             - **Code**: `{}`\n\
             - **Workload**: {} reads (seed {}), {} measured requests per class after {} warm-up, one client per system; every one of {} answer pairs compared: {}\n\
             - **Sightline**: one node of the release binary through the chaos harness, block cache {}; ingest {:.1} s; `POST /v1/admin/compact` {:.1} s; on disk per read: {}\n\
             - **PostgreSQL**: {}; PostGIS {}; {}; indexes: {}; COPY {:.1} s (batch p50 {:.0} ms, p99 {:.0} ms); `VACUUM ANALYZE` + `CHECKPOINT` {:.1} s; on disk per read: table {:.1}, indexes {:.1} ({}), WAL {:.1}\n",
            self.command,
            self.date,
            self.wall_seconds,
            self.machine.cpu_model,
            self.machine.cpus,
            if self.machine.aes_ni_and_clmul { "yes" } else { "no" },
            self.machine.mem_bytes as f64 / (1u64 << 30) as f64,
            self.machine.kernel,
            load(self.load_before),
            load(self.load_after),
            self.other_processes_cores.map_or("?".into(), |c| format!("{c:.2}")),
            self.others_before
                .iter()
                .map(|s| format!(
                    "{} cores just before {}{}",
                    s.others_cores.map_or("?".into(), |c| format!("{c:.2}")),
                    s.system,
                    if s.waited_s > 0.0 { format!(", after waiting {:.0} s", s.waited_s) } else { String::new() }
                ))
                .collect::<Vec<_>>()
                .join("; "),
            self.git,
            fmt_int(self.reads as f64),
            self.seed,
            self.measured,
            self.warmup,
            self.answers_checked,
            if self.disagreements.is_empty() { "all agree".to_string() } else { format!("{} DISAGREE", self.disagreements.len()) },
            self.block_cache,
            self.sightline_ingest.seconds,
            self.sightline_compact_seconds,
            parts.join(", "),
            self.postgres_version.split(" on ").next().unwrap_or(&self.postgres_version),
            self.postgis_version,
            settings.join(", "),
            super::pg::INDEXES,
            self.postgres_ingest.seconds,
            self.postgres_ingest.batch_p50_ms,
            self.postgres_ingest.batch_p99_ms,
            self.postgres_vacuum_seconds,
            self.per_read(pb.table),
            self.per_read(pb.indexes),
            indexes.join(", "),
            self.per_read(pb.wal),
        )
    }

    /// Writes the report as JSON.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Replaces what lies between [`BEGIN`] and [`END`] in `doc` with this run.
    pub fn rewrite_doc(&self, doc: &Path) -> Result<()> {
        let text =
            std::fs::read_to_string(doc).with_context(|| format!("reading {}", doc.display()))?;
        let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
            bail!("{} has no section marked {BEGIN} … {END}", doc.display());
        };
        if b < a {
            bail!(
                "{}: the end marker comes before the begin marker",
                doc.display()
            );
        }
        let section = format!("{BEGIN}\n{}\n{}\n{END}", self.header(), self.table());
        let out = format!("{}{section}{}", &text[..a], &text[b + END.len()..]);
        std::fs::write(doc, out).with_context(|| format!("writing {}", doc.display()))
    }
}
