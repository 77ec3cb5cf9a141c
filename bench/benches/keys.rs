//! Key encoding and tokens: the fixed-width record and index keys every read writes four
//! of, and the keyed tokens (truncated HMAC-SHA-256) every read derives three of, plus the
//! H3 cell lookup the cell token needs.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sightline_storage::crypto::{DataKey, TokenKey};
use sightline_storage::keyring::TenantKeys;
use sightline_storage::keys::{IndexKey, RecordKey};
use sightline_storage::prepare::{camera_token, cell_token, index_cell, plate_token};

fn keys(c: &mut Criterion) {
    let record = RecordKey {
        tenant: 7,
        ts: 1_795_000_000_000,
        id: 0x0001_a1b2_c3d4_e5f6_0718_293a_4b5c_6d7e,
    };
    let index = IndexKey {
        tenant: 7,
        token: [0x5a; 8],
        ts: record.ts,
        id: record.id,
    };
    let encoded = index.encode();
    let mut group = c.benchmark_group("keys");
    group.throughput(Throughput::Elements(1));
    group.bench_function("record_key_encode", |b| {
        b.iter(|| black_box(&record).encode())
    });
    group.bench_function("index_key_encode", |b| {
        b.iter(|| black_box(&index).encode())
    });
    group.bench_function("index_key_decode", |b| {
        b.iter(|| IndexKey::decode(black_box(&encoded)))
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let keys = TenantKeys {
        token: TokenKey::new(&[9u8; 32]),
        data: BTreeMap::from([(1, DataKey::new(1, &[8u8; 32]))]),
    };
    let cell = index_cell(41.8819, -87.6278).unwrap_or(0);
    let mut group = c.benchmark_group("tokens");
    group.throughput(Throughput::Elements(1));
    group.bench_function("plate_token", |b| {
        b.iter(|| plate_token(&keys, black_box("ABC1234")))
    });
    group.bench_function("camera_token", |b| {
        b.iter(|| camera_token(&keys, black_box("cam-0123")))
    });
    group.bench_function("cell_token", |b| {
        b.iter(|| cell_token(&keys, black_box(cell)))
    });
    group.bench_function("h3_index_cell", |b| {
        b.iter(|| index_cell(black_box(41.8819), black_box(-87.6278)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = keys, tokens
}
criterion_main!(benches);
