//! Sealing throughput: `DataKey::seal` / `open` (AES-256-GCM-SIV with the record key as
//! associated data and a nonce hashed from it) of a 160-byte record, the size of a plate
//! read, and of larger values, where the per-call fixed cost no longer hides the cipher's
//! bulk speed (GiB/s means AES-NI and CLMUL are in use; a software fallback runs at tens
//! of MB/s). The parts of a small seal are timed separately: the bare AEAD call and the
//! SHA-256 nonce derivation.

use std::hint::black_box;
use std::time::Duration;

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Key, Nonce};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sha2::{Digest, Sha256};
use sightline_storage::crypto::DataKey;
use sightline_storage::keys::RecordKey;

const RECORD: usize = 160;

fn record_key() -> [u8; RecordKey::LEN] {
    RecordKey {
        tenant: 1,
        ts: 1_795_000_000_000,
        id: 0x0001_a1b2_c3d4_e5f6_0718_293a_4b5c_6d7e,
    }
    .encode()
}

fn seal_and_open(c: &mut Criterion) {
    let key = DataKey::new(1, &[7u8; 32]);
    let record_key = record_key();
    let mut group = c.benchmark_group("sealing");
    for len in [RECORD, 4 << 10, 64 << 10] {
        let plain = vec![0xA5u8; len];
        let sealed = key.seal(&record_key, &plain);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("seal", len), &plain, |b, plain| {
            b.iter(|| key.seal(black_box(&record_key), black_box(plain)))
        });
        group.bench_with_input(BenchmarkId::new("open", len), &sealed, |b, sealed| {
            b.iter(|| key.open(black_box(&record_key), black_box(sealed)))
        });
    }
    group.finish();
}

fn seal_parts(c: &mut Criterion) {
    let record_key = record_key();
    let plain = vec![0xA5u8; RECORD];
    let cipher = Aes256GcmSiv::new(&Key::<Aes256GcmSiv>::from([7u8; 32]));
    let nonce = Nonce::from([3u8; 12]);
    let mut group = c.benchmark_group("seal_parts");
    group.throughput(Throughput::Bytes(RECORD as u64));
    group.bench_function("aes_gcm_siv_encrypt/160", |b| {
        b.iter(|| {
            cipher.encrypt(
                black_box(&nonce),
                Payload {
                    msg: black_box(&plain),
                    aad: &record_key,
                },
            )
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("sha256_nonce", |b| {
        b.iter(|| {
            Sha256::new()
                .chain_update(b"sightline nonce v1")
                .chain_update(black_box(&record_key))
                .finalize()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = seal_and_open, seal_parts
}
criterion_main!(benches);
