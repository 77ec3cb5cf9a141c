//! Sightline's write path timed phase by phase, in-process and on one thread, over the same
//! NDJSON bodies the macro benchmark sends: parse (NDJSON to JSON values, as
//! `api::ingest::parse_batch` does), validate (`record::validate_read`), prepare
//! (`prepare::prepare_reads`: ids, H3 cell, three tokens, postcard, seal) and apply
//! (`Engine::apply`, one command per body, fsync'd WAL). The steps inside prepare are then
//! timed again one by one over the same inputs, so the report says where a read's
//! microseconds go without a profiler. HTTP, the async runtime and the command log's lock
//! are not in these figures; the difference to the end-to-end rate is their cost plus
//! whatever the two cores fail to overlap.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::keys::RecordKey;
use sightline_storage::prepare::{
    camera_token, cell_token, format_server_id, index_cell, plate_token, prepare_reads, server_id,
};
use sightline_storage::record::{validate_read, PlateRead, ReadInput};
use sightline_storage::time::now_ms;
use sightline_storage::{Command, Engine, EngineConfig, LogPosition, MasterKey};

/// Time spent in each phase over all bodies.
#[derive(Debug, Clone, Default)]
pub struct PhaseReport {
    /// Reads processed.
    pub reads: usize,
    /// Bodies (commands) processed.
    pub batches: usize,
    /// Whether apply fsync'd the WAL.
    pub sync_writes: bool,
    /// NDJSON bytes.
    pub json_bytes: u64,
    /// Sealed value bytes written to `reads`.
    pub sealed_bytes: u64,
    /// NDJSON → `serde_json::Value`.
    pub parse: Duration,
    /// `validate_read`.
    pub validate: Duration,
    /// `prepare_reads` as a whole.
    pub prepare: Duration,
    /// `Engine::apply`.
    pub apply: Duration,
    /// Inside prepare: server ids.
    pub ids: Duration,
    /// Inside prepare: H3 cell of each position.
    pub h3_cell: Duration,
    /// Inside prepare: plate, cell and camera tokens.
    pub tokens: Duration,
    /// Inside prepare: postcard encoding of the record.
    pub encode: Duration,
    /// Inside prepare: sealing (nonce hash + AES-GCM-SIV).
    pub seal: Duration,
}

fn micros_per_read(d: Duration, reads: usize) -> f64 {
    crate::stats::round3(d.as_secs_f64() * 1e6 / reads.max(1) as f64)
}

impl PhaseReport {
    /// Microseconds per read of each phase, in pipeline order.
    pub fn per_read(&self) -> Vec<(&'static str, f64)> {
        [
            ("parse", self.parse),
            ("validate", self.validate),
            ("prepare", self.prepare),
            ("  ids", self.ids),
            ("  h3_cell", self.h3_cell),
            ("  tokens (3)", self.tokens),
            ("  encode (postcard)", self.encode),
            ("  seal", self.seal),
            ("apply", self.apply),
        ]
        .into_iter()
        .map(|(name, d)| (name, micros_per_read(d, self.reads)))
        .collect()
    }

    /// CPU microseconds per read before apply (parse + validate + prepare).
    pub fn cpu_micros_per_read(&self) -> f64 {
        micros_per_read(self.parse + self.validate + self.prepare, self.reads)
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        let per: serde_json::Map<String, Value> = self
            .per_read()
            .into_iter()
            .map(|(name, us)| (name.trim().to_string(), json!(us)))
            .collect();
        json!({
            "reads": self.reads, "batches": self.batches, "sync_writes": self.sync_writes,
            "json_bytes_per_read": self.json_bytes / self.reads.max(1) as u64,
            "sealed_bytes_per_read": self.sealed_bytes / self.reads.max(1) as u64,
            "micros_per_read": per,
            "cpu_micros_per_read_before_apply": self.cpu_micros_per_read(),
        })
    }
}

fn parse_ndjson(body: &str) -> Result<Vec<Value>> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).context("NDJSON line"))
        .collect()
}

/// Runs every body of `bodies` through the write path into a fresh engine at `dir`.
pub fn measure(dir: &Path, bodies: &[String], sync_writes: bool) -> Result<PhaseReport> {
    let mut config = EngineConfig::new(dir);
    config.sync_writes = sync_writes;
    let engine = Engine::open(&config, MasterKey::from_bytes(&[0x33; 32]))?;
    let mut index = 0;
    let mut pos = || {
        index += 1;
        LogPosition {
            term: 1,
            leader: 1,
            index,
        }
    };
    let create = Command::UpsertTenant {
        name: "bench".into(),
        policy: TenantPolicy::default(),
        keys: generate_tenant_keys(engine.master_key(), "bench"),
    };
    engine.apply(pos(), &create)?;
    let tenant = engine
        .tenant("bench")
        .context("tenant missing after apply")?;
    let keys = engine.tenant_keys(tenant.id)?;
    let data_key = keys.current().context("no data key")?;
    let mut rng = rand::rng();
    let mut report = PhaseReport {
        sync_writes,
        ..PhaseReport::default()
    };

    for body in bodies {
        let now = now_ms();
        report.json_bytes += body.len() as u64;
        let t = Instant::now();
        let values = parse_ndjson(body)?;
        report.parse += t.elapsed();

        let t = Instant::now();
        let mut errors = Vec::new();
        let inputs: Vec<ReadInput> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| validate_read(i, v, now, &mut errors))
            .collect();
        report.validate += t.elapsed();
        if !errors.is_empty() {
            bail!("synthetic reads failed validation: {:?}", &errors[..1]);
        }

        // The steps of prepare, one at a time over a copy of the inputs.
        let mut ids = Vec::with_capacity(inputs.len());
        let t = Instant::now();
        for input in &inputs {
            ids.push(server_id(input.read.captured_at, &mut rng));
        }
        report.ids += t.elapsed();
        let mut cells = Vec::with_capacity(inputs.len());
        let t = Instant::now();
        for input in &inputs {
            cells.push(index_cell(input.read.lat, input.read.lon).unwrap_or(0));
        }
        report.h3_cell += t.elapsed();
        let t = Instant::now();
        for (input, cell) in inputs.iter().zip(&cells) {
            std::hint::black_box((
                plate_token(&keys, &input.read.plate),
                cell_token(&keys, *cell),
                camera_token(&keys, &input.read.camera_id),
            ));
        }
        report.tokens += t.elapsed();
        // The record as prepare seals it: with its public id and ingest time (untimed).
        let records: Vec<PlateRead> = inputs
            .iter()
            .zip(&ids)
            .map(|(input, id)| PlateRead {
                id: format_server_id(*id),
                ingested_at: now,
                ..input.read.clone()
            })
            .collect();
        let mut encoded = Vec::with_capacity(inputs.len());
        let t = Instant::now();
        for record in &records {
            encoded.push(postcard::to_allocvec(record)?);
        }
        report.encode += t.elapsed();
        let t = Instant::now();
        for ((input, id), plain) in inputs.iter().zip(&ids).zip(&encoded) {
            let key = RecordKey {
                tenant: tenant.id,
                ts: input.read.captured_at,
                id: *id,
            }
            .encode();
            std::hint::black_box(data_key.seal(&key, plain));
        }
        report.seal += t.elapsed();

        let reads = inputs.len();
        let t = Instant::now();
        let (command, _) =
            prepare_reads(tenant.id, &keys, inputs, now, &mut rng).context("no data key")?;
        report.prepare += t.elapsed();
        if let Command::PutReads { rows, .. } = &command {
            report.sealed_bytes += rows.iter().map(|r| r.value.len() as u64).sum::<u64>();
        }

        let t = Instant::now();
        engine.apply(pos(), &command)?;
        report.apply += t.elapsed();
        report.reads += reads;
        report.batches += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Workload, WorkloadParams};

    #[test]
    fn every_phase_is_timed_and_every_read_written() {
        let dir = tempfile::tempdir().unwrap();
        let workload = Workload::generate(WorkloadParams::new(3_000, now_ms()));
        let bodies = workload.ndjson_batches(1_000);
        let report = measure(dir.path(), &bodies, false).unwrap();
        assert_eq!((report.reads, report.batches), (3_000, 3));
        for (name, us) in report.per_read() {
            assert!(us > 0.0, "{name}");
        }
        assert!(report.sealed_bytes / 3_000 > 100);
    }
}
