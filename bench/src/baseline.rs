//! The baseline of the design notes: the plain single-threaded loop any engineer would
//! write first. For every read it fills a 160-byte record, seals it with AES-256-GCM-SIV
//! (nonce from the read's id), derives three HMAC-SHA-256 tokens (plate, H3 cell, camera)
//! truncated to 8 bytes, and puts the record plus three index keys into four column
//! families of a RocksDB opened with default options, one `WriteBatch` per 2,000 reads,
//! each written with an fsync'd WAL (`sync`) or without.
//!
//! A variant ([`BaselineOptions::sort_keys`]) collects each batch's entries per column
//! family and sorts them by key before they go into the `WriteBatch`: the same bytes,
//! inserted into the memtables in order. It exists to measure what the memtable insertion
//! order costs (the plate, cell and camera keys of a batch otherwise land at random
//! positions of each skip list).
//!
//! It uses the same key layout as Sightline (28-byte record keys, 36-byte index keys, the
//! camera token as the plate index's value), so the comparison measures how Sightline
//! runs the work, not different work. It skips what the product must also do: HTTP, JSON
//! parsing, validation and normalization, computing the H3 cell (a camera's cell is looked
//! up), id hashing of the nonce, and the applied-position bookkeeping.

use std::path::Path;
use std::time::{Duration, Instant};

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Key, Nonce};
use anyhow::{anyhow, Context, Result};
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rocksdb::{ColumnFamily, Options, WriteBatch, WriteOptions, DB};
use serde_json::{json, Value};
use sha2::Sha256;
use sightline_storage::keys::encode_ts;
use sightline_storage::prepare::{index_cell, server_id};

use crate::synth::Workload;
use crate::sys::{family_sizes_json, rocksdb_family_sizes, DirSize, FamilySize};

/// Plaintext bytes of a baseline record.
pub const RECORD_LEN: usize = 160;
/// The four column families.
const FAMILIES: [&str; 4] = ["reads", "by_plate", "by_cell", "by_camera"];
const TENANT: u32 = 1;

/// How to run the baseline.
#[derive(Debug, Clone, Copy)]
pub struct BaselineOptions {
    /// Reads per `WriteBatch`.
    pub batch: usize,
    /// fsync the WAL on every batch.
    pub sync: bool,
    /// Sort each batch's entries by key, per column family, before writing them.
    pub sort_keys: bool,
}

/// What a baseline run measured.
#[derive(Debug, Clone)]
pub struct BaselineResult {
    /// Reads written.
    pub reads: usize,
    /// Wall time of the whole loop, including the last batch.
    pub elapsed: Duration,
    /// Time inside `DB::write_opt` (the rest is the CPU work of the loop).
    pub write_time: Duration,
    /// `WriteBatch`es written.
    pub batches: usize,
    /// The database directory after a full compaction.
    pub disk: DirSize,
    /// Its column families after the compaction.
    pub families: Vec<FamilySize>,
}

impl BaselineResult {
    /// Reads per second.
    pub fn reads_per_s(&self) -> f64 {
        self.reads as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// As JSON.
    pub fn to_json(&self, opts: &BaselineOptions) -> Value {
        json!({
            "reads": self.reads, "batch": opts.batch, "sync_wal": opts.sync,
            "sorted_batches": opts.sort_keys,
            "seconds": crate::stats::round3(self.elapsed.as_secs_f64()),
            "reads_per_s": self.reads_per_s().round(),
            "write_seconds": crate::stats::round3(self.write_time.as_secs_f64()),
            "batches": self.batches,
            "disk_after_compaction": self.disk.to_json(self.reads),
            "families": family_sizes_json(&self.families, self.reads),
        })
    }
}

type HmacSha256 = Hmac<Sha256>;

fn token(mac: &HmacSha256, domain: u8, value: &[u8]) -> [u8; 8] {
    let mut mac = mac.clone();
    mac.update(&[domain]);
    mac.update(value);
    let digest = mac.finalize().into_bytes();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn index_key(token: &[u8; 8], record: &[u8; 28]) -> [u8; 36] {
    let mut key = [0u8; 36];
    key[0..4].copy_from_slice(&record[0..4]);
    key[4..12].copy_from_slice(token);
    key[12..36].copy_from_slice(&record[4..28]);
    key
}

/// Fills `out` with exactly [`RECORD_LEN`] bytes describing read `i`: length-prefixed
/// fields, zero-padded (or cut) to the fixed length.
fn fill_record(out: &mut Vec<u8>, workload: &Workload, i: usize) {
    let read = workload.read(i);
    out.clear();
    for text in [
        read.camera.id.as_str(),
        read.plate,
        read.vehicle.0,
        read.vehicle.1,
        read.vehicle.2,
        read.color,
        read.direction,
        "US-IL",
    ] {
        out.push(text.len() as u8);
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(&read.ts.to_be_bytes());
    out.extend_from_slice(&read.camera.lat.to_be_bytes());
    out.extend_from_slice(&read.camera.lon.to_be_bytes());
    out.extend_from_slice(&(read.confidence as f32).to_be_bytes());
    out.resize(RECORD_LEN, 0);
}

fn families(db: &DB) -> Result<[&ColumnFamily; 4]> {
    let get = |name: &str| {
        db.cf_handle(name)
            .with_context(|| format!("column family {name} missing"))
    };
    Ok([
        get(FAMILIES[0])?,
        get(FAMILIES[1])?,
        get(FAMILIES[2])?,
        get(FAMILIES[3])?,
    ])
}

/// Runs the loop over every read of `workload` into a new database at `dir`, then
/// compacts it and measures its size.
pub fn run(dir: &Path, workload: &Workload, opts: BaselineOptions) -> Result<BaselineResult> {
    let mut db_opts = Options::default();
    db_opts.create_if_missing(true);
    db_opts.create_missing_column_families(true);
    let db = DB::open_cf(&db_opts, dir, FAMILIES)?;
    let [reads_cf, plate_cf, cell_cf, camera_cf] = families(&db)?;
    let cipher = Aes256GcmSiv::new(&Key::<Aes256GcmSiv>::from([0x42u8; 32]));
    let mac = <HmacSha256 as KeyInit>::new_from_slice(&[0x24u8; 32])
        .map_err(|e| anyhow!("HMAC key: {e}"))?;
    // A camera does not move: its cell is computed once, as a plain loop would.
    let cells: Vec<u64> = workload
        .cameras()
        .iter()
        .map(|c| index_cell(c.lat, c.lon).unwrap_or(0))
        .collect();
    let mut write_opts = WriteOptions::default();
    write_opts.set_sync(opts.sync);
    let batch_size = opts.batch.max(1);
    let mut rng = StdRng::seed_from_u64(7);
    let mut record = Vec::with_capacity(RECORD_LEN);
    let mut batch = WriteBatch::default();
    // Entries of the current batch per column family, when they are sorted before writing.
    let mut pending: [Vec<(Vec<u8>, Vec<u8>)>; 4] = Default::default();
    let mut in_batch = 0;
    let mut result = BaselineResult {
        reads: workload.len(),
        elapsed: Duration::ZERO,
        write_time: Duration::ZERO,
        batches: 0,
        disk: DirSize::default(),
        families: Vec::new(),
    };

    let started = Instant::now();
    for i in 0..workload.len() {
        let read = workload.read(i);
        fill_record(&mut record, workload, i);
        let id = server_id(read.ts, &mut rng);
        let mut key = [0u8; 28];
        key[0..4].copy_from_slice(&TENANT.to_be_bytes());
        key[4..12].copy_from_slice(&encode_ts(read.ts));
        key[12..28].copy_from_slice(&id.to_be_bytes());
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&key[16..28]);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &record,
                    aad: &key,
                },
            )
            .map_err(|_| anyhow!("sealing read {i} failed"))?;
        let plate = token(&mac, 1, read.plate.as_bytes());
        let cell = token(&mac, 2, &cells[read.camera_index].to_be_bytes());
        let camera = token(&mac, 3, read.camera.id.as_bytes());
        if opts.sort_keys {
            pending[0].push((key.to_vec(), sealed));
            pending[1].push((index_key(&plate, &key).to_vec(), camera.to_vec()));
            pending[2].push((index_key(&cell, &key).to_vec(), Vec::new()));
            pending[3].push((index_key(&camera, &key).to_vec(), Vec::new()));
        } else {
            batch.put_cf(reads_cf, key, &sealed);
            batch.put_cf(plate_cf, index_key(&plate, &key), camera);
            batch.put_cf(cell_cf, index_key(&cell, &key), []);
            batch.put_cf(camera_cf, index_key(&camera, &key), []);
        }
        in_batch += 1;
        if in_batch == batch_size || i + 1 == workload.len() {
            for (cf, entries) in [reads_cf, plate_cf, cell_cf, camera_cf]
                .into_iter()
                .zip(pending.iter_mut())
            {
                entries.sort_unstable();
                for (k, v) in entries.drain(..) {
                    batch.put_cf(cf, k, v);
                }
            }
            let write_started = Instant::now();
            db.write_opt(std::mem::take(&mut batch), &write_opts)?;
            result.write_time += write_started.elapsed();
            result.batches += 1;
            in_batch = 0;
        }
    }
    result.elapsed = started.elapsed();

    for cf in [reads_cf, plate_cf, cell_cf, camera_cf] {
        db.flush_cf(cf)?;
        db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
    }
    drop(db);
    result.disk = DirSize::of(dir)?;
    result.families = rocksdb_family_sizes(dir)?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::WorkloadParams;

    #[test]
    fn writes_a_record_and_three_index_entries_per_read() {
        let dir = tempfile::tempdir().unwrap();
        let workload = Workload::generate(WorkloadParams::new(4_500, 1_795_000_000_000));
        let opts = BaselineOptions {
            batch: 2_000,
            sync: false,
            sort_keys: false,
        };
        let result = run(dir.path(), &workload, opts).unwrap();
        assert_eq!((result.reads, result.batches), (4_500, 3));
        assert_eq!(
            crate::sys::find_rocksdb_dirs(dir.path()).unwrap(),
            vec![dir.path().to_path_buf()]
        );
        let db = DB::open_cf(&Options::default(), dir.path(), FAMILIES).unwrap();
        for name in FAMILIES {
            let cf = db.cf_handle(name).unwrap();
            let entries = db.iterator_cf(cf, rocksdb::IteratorMode::Start).count();
            assert_eq!(entries, 4_500, "{name}");
        }
        let reads = db.cf_handle("reads").unwrap();
        let (_, value) = db
            .iterator_cf(reads, rocksdb::IteratorMode::Start)
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            value.len(),
            RECORD_LEN + 16,
            "160-byte record plus the GCM tag"
        );
        assert!(result.disk.sst > 0);
        let keys: Vec<u64> = result.families.iter().map(|f| f.keys).collect();
        assert_eq!(keys.len(), 5, "default and the four families: {keys:?}");
        drop(db);

        // Sorting the batches writes the same number of entries.
        let sorted_dir = tempfile::tempdir().unwrap();
        let sorted = BaselineOptions {
            sort_keys: true,
            ..opts
        };
        let result = run(sorted_dir.path(), &workload, sorted).unwrap();
        let keys: Vec<u64> = result.families.iter().map(|f| f.keys).collect();
        assert_eq!(keys, vec![0, 4_500, 4_500, 4_500, 4_500]);
    }
}
