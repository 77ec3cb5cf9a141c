//! `Engine::apply` of one `Command::PutReads` of 2,000 prepared reads (records, three
//! index entries each, the applied position; one `WriteBatch`) into a temporary engine,
//! with the WAL fsync'd before apply returns (`sync_writes: true`, the single-node
//! setting) and without (the setting once a replicated log is the durable record), and
//! without a synced WAL into a tenant with 1,000 exact and 100 fuzzy hotlist plates (every
//! applied read matched; the ratio to `no_sync` is what matching costs apply). The
//! proposer-side work that precedes it, `validate_read` and `prepare_reads` of the same
//! 2,000 reads, is timed too. Throughput is in reads.

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::Value;
use sightline_bench::synth::{Workload, WorkloadParams};
use sightline_storage::alerts::{AlertSink, AlertSinkHandle};
use sightline_storage::command::HotlistMatch;
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::{generate_tenant_keys, TenantKeys};
use sightline_storage::prepare::{prepare_hotlist, prepare_reads};
use sightline_storage::record::{validate_read, ReadInput};
use sightline_storage::time::now_ms;
use sightline_storage::{Command, Engine, EngineConfig, LogPosition, MasterKey};

const READS: usize = 2_000;

/// 2,000 synthetic reads as JSON values and as validated inputs.
fn inputs(now: i64) -> (Vec<Value>, Vec<ReadInput>) {
    let workload = Workload::generate(WorkloadParams::new(READS, now - 60_000));
    let values: Vec<Value> = (0..READS).map(|i| workload.read(i).to_json()).collect();
    let mut errors = Vec::new();
    let inputs = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| validate_read(i, v, now, &mut errors))
        .collect::<Vec<_>>();
    assert!(errors.is_empty(), "synthetic reads are valid: {errors:?}");
    (values, inputs)
}

/// Counts alerts and drops them.
#[derive(Default)]
struct CountingSink(std::sync::atomic::AtomicUsize);

impl AlertSink for CountingSink {
    fn publish(&self, alerts: Vec<sightline_storage::alerts::Alert>) {
        self.0
            .fetch_add(alerts.len(), std::sync::atomic::Ordering::Relaxed);
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    tenant: u32,
    keys: std::sync::Arc<TenantKeys>,
    index: Cell<u64>,
}

impl Fixture {
    fn new(sync_writes: bool) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = EngineConfig::new(dir.path());
        config.sync_writes = sync_writes;
        config.alerts = Some(AlertSinkHandle(
            std::sync::Arc::new(CountingSink::default()),
        ));
        let engine = Engine::open(&config, MasterKey::from_bytes(&[1; 32])).expect("engine");
        let create = Command::UpsertTenant {
            name: "bench".into(),
            policy: TenantPolicy::default(),
            keys: generate_tenant_keys(engine.master_key(), "bench"),
        };
        let first = LogPosition {
            term: 1,
            leader: 1,
            index: 1,
        };
        engine.apply(first, &create).expect("create tenant");
        let tenant = engine.tenant("bench").expect("tenant").id;
        let keys = engine.tenant_keys(tenant).expect("tenant keys");
        Fixture {
            _dir: dir,
            engine,
            tenant,
            keys,
            index: Cell::new(first.index),
        }
    }

    /// Adds hotlists of 1,000 exact plates and 100 fuzzy ones (one edit).
    fn with_hotlists(self) -> Fixture {
        for (name, matching, plates) in [
            (
                "exact",
                HotlistMatch::Exact,
                (0..1000).map(|i| format!("HX{i:05}")).collect::<Vec<_>>(),
            ),
            (
                "fuzzy",
                HotlistMatch::Fuzzy { max_edits: 1 },
                (0..100).map(|i| format!("FZ{i:04}Q")).collect(),
            ),
        ] {
            let command = prepare_hotlist(self.tenant, &self.keys, name, matching, &plates)
                .expect("data key");
            self.engine
                .apply(self.next(), &command)
                .expect("store hotlist");
        }
        self
    }

    fn next(&self) -> LogPosition {
        self.index.set(self.index.get() + 1);
        LogPosition {
            term: 1,
            leader: 1,
            index: self.index.get(),
        }
    }

    fn command(&self, inputs: &[ReadInput]) -> Command {
        prepare_reads(
            self.tenant,
            &self.keys,
            inputs.to_vec(),
            now_ms(),
            &mut rand::rng(),
        )
        .expect("data key")
        .0
    }
}

fn apply(c: &mut Criterion) {
    let (_, inputs) = inputs(now_ms());
    let mut group = c.benchmark_group("apply_put_reads_2000");
    group.throughput(Throughput::Elements(READS as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for (name, sync, hotlists) in [
        ("sync_wal", true, false),
        ("no_sync", false, false),
        ("no_sync_hotlists", false, true),
    ] {
        let fixture = match hotlists {
            true => Fixture::new(sync).with_hotlists(),
            false => Fixture::new(sync),
        };
        group.bench_function(name, |b| {
            b.iter_batched(
                || fixture.command(&inputs),
                |command| fixture.engine.apply(fixture.next(), &command),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn prepare(c: &mut Criterion) {
    let now = now_ms();
    let (values, inputs) = inputs(now);
    let fixture = Fixture::new(false);
    let mut group = c.benchmark_group("proposer_2000");
    group.throughput(Throughput::Elements(READS as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("validate_read", |b| {
        b.iter(|| {
            let mut errors = Vec::new();
            for (i, value) in values.iter().enumerate() {
                black_box(validate_read(i, value, now, &mut errors));
            }
        })
    });
    group.bench_function("prepare_reads", |b| {
        b.iter_batched(
            || inputs.clone(),
            |inputs| prepare_reads(fixture.tenant, &fixture.keys, inputs, now, &mut rand::rng()),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, apply, prepare);
criterion_main!(benches);
