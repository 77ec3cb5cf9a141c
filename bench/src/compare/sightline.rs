//! The Sightline side: a fresh one-node cluster of the release binary started through the
//! chaos harness (`server::Server`), durable ingest over the HTTP NDJSON path, compaction
//! (`POST /v1/admin/compact`), what the data directory then holds, and the search mix over
//! HTTP, every answer also checked against the workload's truth.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde::Serialize;
use serde_json::Value;
use tracing::info;

use super::answer::Answer;
use super::Timed;
use crate::load::send_batches;
use crate::search_mix::{Class, Planned};
use crate::server::{agent, timed_post, Server};
use crate::sys::DirSize;

/// The tenant both systems hold the reads under (id 1 on the PostgreSQL side).
pub const TENANT: &str = "compare";

/// What Sightline holds on disk after compaction.
#[derive(Debug, Clone, Serialize)]
pub struct SightlineBytes {
    /// The storage engine (`engine-*`).
    pub engine: u64,
    /// The Raft log (`raft-log/`).
    pub raft_log: u64,
    /// Everything else under the data directory (retained snapshots, keys, config).
    pub other: u64,
    /// Each top-level entry of the data directory.
    pub parts: Vec<(String, u64)>,
}

impl SightlineBytes {
    /// Engine and Raft log: the figure compared.
    pub fn compared(&self) -> u64 {
        self.engine + self.raft_log
    }

    /// The whole data directory.
    pub fn total(&self) -> u64 {
        self.engine + self.raft_log + self.other
    }
}

/// What ingest measured.
#[derive(Debug, Clone, Serialize)]
pub struct IngestResult {
    /// Reads acknowledged.
    pub reads: u64,
    /// Wall seconds from the first request to the last acknowledgement.
    pub seconds: f64,
    /// Durable reads per second.
    pub reads_per_s: f64,
}

/// One Sightline run: ingest, compaction, bytes, and every answer of the plan.
pub struct SightlineRun {
    pub ingest: IngestResult,
    pub compact_seconds: f64,
    pub bytes: SightlineBytes,
    /// Per class (plan order), every request's latency and answer.
    pub answers: Vec<(Class, Vec<Timed>)>,
}

fn measure(data_dir: &Path) -> Result<SightlineBytes> {
    let mut bytes = SightlineBytes {
        engine: 0,
        raft_log: 0,
        other: 0,
        parts: Vec::new(),
    };
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let size = if entry.file_type()?.is_dir() {
            DirSize::of(&entry.path())?.total
        } else {
            entry.metadata()?.len()
        };
        if name.starts_with("engine-") || name == "db" {
            bytes.engine += size;
        } else if name == "raft-log" {
            bytes.raft_log += size;
        } else {
            bytes.other += size;
        }
        bytes.parts.push((name, size));
    }
    bytes.parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    ensure!(
        bytes.engine > 0 && bytes.raft_log > 0,
        "no engine or Raft log under {}: {:?}",
        data_dir.display(),
        bytes.parts
    );
    Ok(bytes)
}

/// Runs `plan` against `server`, one request at a time from one keep-alive client, each
/// timed from sending it to having read the whole answer; each answer is checked against
/// the workload before it is kept.
pub fn search(server: &Server, plan: &[(Class, Vec<Planned>)]) -> Result<Vec<(Class, Vec<Timed>)>> {
    let client = agent(Duration::from_secs(60));
    let bearer = server.bearer(TENANT, "investigator")?;
    let mut out = Vec::new();
    for (class, planned) in plan {
        let url = server.url(&format!("/v1/tenants/{TENANT}/search/{}", class.path()));
        let mut answers = Vec::with_capacity(planned.len());
        for (k, p) in planned.iter().enumerate() {
            let mut body = p.body().clone();
            body["case_number"] = "BENCH-0017".into();
            body["reason"] = "comparison with PostgreSQL".into();
            let body = body.to_string();
            let (status, text, latency) = timed_post(&client, &url, &bearer, &body)
                .with_context(|| format!("{} request {k}", class.name()))?;
            let json: Value = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} request {k}: answer is not JSON: {text:.300}",
                    class.name()
                )
            })?;
            p.check(status, &json).with_context(|| {
                format!(
                    "Sightline's answer to {} request {k} {body:.400} is not the workload's truth: {text:.400}",
                    class.name()
                )
            })?;
            answers.push(Timed {
                latency,
                answer: Answer::from_sightline(class.path(), &json)
                    .with_context(|| format!("{} request {k}", class.name()))?,
            });
        }
        info!(
            class = class.name(),
            requests = answers.len(),
            "Sightline answered"
        );
        out.push((*class, answers));
    }
    Ok(out)
}

/// Starts `binary` in `dir`, ingests `bodies` from `clients` threads, compacts, measures
/// the data directory, runs `plan`, and stops the server.
pub fn run(
    binary: &Path,
    dir: &Path,
    block_cache: &str,
    bodies: Vec<String>,
    clients: usize,
    plan: &[(Class, Vec<Planned>)],
) -> Result<SightlineRun> {
    let mut server = Server::start(binary, dir, block_cache)?;
    info!(pid = server.pid(), url = %server.url(""), "Sightline started");
    server.create_tenant(TENANT, 30)?;
    let token = server.bearer(TENANT, "ingest")?;
    let token = token.trim_start_matches("Bearer ").to_string();
    let batches = bodies.len();
    let (reads, elapsed) = send_batches(
        &server.url(&format!("/v1/tenants/{TENANT}/reads")),
        &token,
        Arc::new(bodies),
        clients,
        Arc::new(|_: usize, _: Instant| {}),
    )?;
    let ingest = IngestResult {
        reads: reads as u64,
        seconds: elapsed.as_secs_f64(),
        reads_per_s: reads as f64 / elapsed.as_secs_f64().max(1e-9),
    };
    info!(
        reads,
        batches,
        reads_per_s = ingest.reads_per_s.round(),
        "Sightline ingest"
    );

    let t = Instant::now();
    let (status, answer) = server.call("POST", "/v1/admin/compact", None)?;
    ensure!(status == 200, "compact answered {status} {answer}");
    let compact_seconds = t.elapsed().as_secs_f64();
    let bytes = measure(&server.data_dir())?;
    info!(
        compact_seconds,
        bytes_per_read = bytes.compared() as f64 / reads.max(1) as f64,
        "Sightline compacted"
    );

    let answers = search(&server, plan)?;
    server.stop()?;
    Ok(SightlineRun {
        ingest,
        compact_seconds,
        bytes,
        answers,
    })
}
