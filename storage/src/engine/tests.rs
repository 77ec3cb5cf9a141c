use serde_json::json;

use super::*;
use crate::keyring::generate_tenant_keys;
use crate::prepare::{plate_token, prepare_reads};
use crate::record::validate_read;
use crate::time::{format_rfc3339_ms, now_ms, DAY_MS};

fn open(dir: &Path) -> Engine {
    Engine::open(&EngineConfig::new(dir), MasterKey::from_bytes(&[5; 32])).unwrap()
}

fn pos(index: u64) -> LogPosition {
    LogPosition {
        term: 1,
        leader: 1,
        index,
    }
}

fn create_tenant(engine: &Engine, index: u64, name: &str, retention_days: u32) -> u32 {
    let keys = generate_tenant_keys(&engine.wrapping_key(), name);
    let policy = TenantPolicy {
        retention_days,
        hot_days: 1,
    };
    let cmd = Command::UpsertTenant {
        name: name.into(),
        policy,
        keys,
    };
    match engine.apply(pos(index), &cmd).unwrap() {
        ApplyOutcome::Tenant { id, .. } => id,
        other => panic!("{other:?}"),
    }
}

fn reads_command(engine: &Engine, tenant: u32, plates: &[(&str, Option<&str>, i64)]) -> Command {
    let now = now_ms();
    let inputs = plates
        .iter()
        .enumerate()
        .map(|(i, (plate, id, ts))| {
            let mut value = json!({"camera_id": format!("cam-{}", i % 3), "captured_at": format_rfc3339_ms(*ts),
                "plate": plate, "lat": 41.88, "lon": -87.63});
            if let Some(id) = id {
                value["id"] = json!(id);
            }
            let mut errors = Vec::new();
            validate_read(i, &value, now, &mut errors).unwrap()
        })
        .collect();
    let keys = engine.tenant_keys(tenant).unwrap();
    prepare_reads(tenant, &keys, inputs, now, &mut rand::rng())
        .unwrap()
        .0
}

fn plate_hits(engine: &Engine, tenant: u32, plate: &str) -> Vec<IndexKey> {
    let token = plate_token(&engine.tenant_keys(tenant).unwrap(), plate);
    let mut hits = Vec::new();
    engine
        .scan_index_newest_first(
            ReadIndex::Plate,
            tenant,
            &token,
            0,
            (i64::MAX, u128::MAX),
            |k, _| {
                hits.push(*k);
                true
            },
        )
        .unwrap();
    hits
}

#[test]
fn apply_writes_reads_and_indexes_newest_first_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let tenant;
    {
        let engine = open(dir.path());
        tenant = create_tenant(&engine, 1, "acme", 30);
        let cmd = reads_command(
            &engine,
            tenant,
            &[
                ("ab 123", None, now - 3000),
                ("AB-123", None, now - 1000),
                ("ZZ9", None, now),
            ],
        );
        assert_eq!(
            engine.apply(pos(2), &cmd).unwrap(),
            ApplyOutcome::Written {
                written: 3,
                duplicates: 0,
                expired: 0
            }
        );
        assert_eq!(engine.applied().unwrap(), Some(pos(2)));
    }
    let engine = open(dir.path());
    assert_eq!(engine.tenant("acme").unwrap().id, tenant);
    assert_eq!(engine.applied().unwrap(), Some(pos(2)));
    let hits = plate_hits(&engine, tenant, "AB123");
    assert_eq!(
        hits.iter().map(|h| h.ts).collect::<Vec<_>>(),
        vec![now - 1000, now - 3000]
    );
    let reads = engine
        .get_reads(
            tenant,
            &hits.iter().map(IndexKey::record).collect::<Vec<_>>(),
        )
        .unwrap();
    let raw: Vec<_> = reads
        .iter()
        .map(|r| r.as_ref().unwrap().plate_raw.as_str())
        .collect();
    assert_eq!(raw, vec!["AB-123", "ab 123"]);
    assert!(plate_hits(&engine, tenant, "NOPE").is_empty());
}

#[test]
fn client_ids_make_resends_idempotent_within_and_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let tenant = create_tenant(&engine, 1, "acme", 30);
    let now = now_ms();
    let batch = [
        ("AAA1", Some("r-1"), now),
        ("AAA1", Some("r-1"), now),
        ("AAA1", Some("r-2"), now),
    ];
    let cmd = reads_command(&engine, tenant, &batch);
    assert_eq!(
        engine.apply(pos(2), &cmd).unwrap(),
        ApplyOutcome::Written {
            written: 2,
            duplicates: 1,
            expired: 0
        }
    );
    let again = reads_command(&engine, tenant, &batch);
    assert_eq!(
        engine.apply(pos(3), &again).unwrap(),
        ApplyOutcome::Written {
            written: 0,
            duplicates: 3,
            expired: 0
        }
    );
    assert_eq!(plate_hits(&engine, tenant, "AAA1").len(), 2);
}

#[test]
fn replicas_applying_the_same_commands_hold_identical_bytes() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open(a_dir.path()), open(b_dir.path()));
    let keys = generate_tenant_keys(a.master_key(), "acme");
    let create = Command::UpsertTenant {
        name: "acme".into(),
        policy: TenantPolicy::default(),
        keys,
    };
    a.apply(pos(1), &create).unwrap();
    b.apply(pos(1), &create).unwrap();
    let cmd = reads_command(
        &a,
        1,
        &[("X1", None, now_ms()), ("X2", Some("c"), now_ms())],
    );
    a.apply(pos(2), &cmd).unwrap();
    b.apply(pos(2), &cmd).unwrap();
    for name in cf::all() {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        a.for_each_raw(name, |k, v| ea.push((k.to_vec(), v.to_vec())))
            .unwrap();
        b.for_each_raw(name, |k, v| eb.push((k.to_vec(), v.to_vec())))
            .unwrap();
        assert_eq!(ea, eb, "{name}");
    }
}

#[test]
fn commands_for_unknown_tenants_are_rejected_but_advance_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let outcome = engine
        .apply(
            pos(7),
            &Command::PutSamples {
                tenant: 42,
                rows: vec![],
            },
        )
        .unwrap();
    assert!(matches!(outcome, ApplyOutcome::Rejected { .. }));
    assert_eq!(engine.applied().unwrap(), Some(pos(7)));
}

#[test]
fn compaction_drops_expired_entries_from_every_family() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let tenant = create_tenant(&engine, 1, "short", 1);
    let keep = create_tenant(&engine, 2, "long", 30);
    let now = now_ms();
    let old = now - 3 * DAY_MS;
    engine
        .apply(
            pos(3),
            &reads_command(
                &engine,
                tenant,
                &[("OLD1", Some("o"), old), ("NEW1", None, now)],
            ),
        )
        .unwrap();
    engine
        .apply(
            pos(4),
            &reads_command(&engine, keep, &[("OLD2", Some("o"), old)]),
        )
        .unwrap();
    // Nothing expires until the cluster clock says so.
    engine.compact_all().unwrap();
    assert_eq!(plate_hits(&engine, tenant, "OLD1").len(), 1);
    engine
        .apply(pos(5), &Command::AdvanceClock { now_ms: now })
        .unwrap();
    assert_eq!(engine.retention_cutoff(tenant), Some(now - DAY_MS));
    engine.compact_all().unwrap();
    let cutoff = now - DAY_MS;
    let mut per_tenant = HashMap::new();
    for name in cf::DATA {
        let loc = keys::time_location(name).unwrap();
        engine
            .for_each_raw(name, |k, v| {
                let (t, ts) = keys::tenant_and_time(loc, k, v).unwrap();
                assert!(t != tenant || ts >= cutoff, "{name} kept an expired entry");
                *per_tenant.entry((name, t)).or_insert(0) += 1;
            })
            .unwrap();
    }
    assert_eq!(
        per_tenant.get(&(cf::READS, tenant)),
        Some(&1),
        "fresh read kept"
    );
    assert_eq!(
        per_tenant.get(&(cf::READ_IDS, keep)),
        Some(&1),
        "other tenant untouched"
    );
    assert_eq!(per_tenant.get(&(cf::READS_BY_PLATE, keep)), Some(&1));
}

#[test]
fn checksums_agree_across_replicas_and_change_with_state() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open(a_dir.path()), open(b_dir.path()));
    let keys = generate_tenant_keys(a.master_key(), "acme");
    let create = Command::UpsertTenant {
        name: "acme".into(),
        policy: TenantPolicy::default(),
        keys,
    };
    a.apply(pos(1), &create).unwrap();
    b.apply(pos(1), &create).unwrap();
    let now = now_ms();
    assert_eq!(a.checksum().unwrap(), b.checksum().unwrap());
    let cmd = reads_command(&a, 1, &[("X1", None, now)]);
    a.apply(pos(2), &cmd).unwrap();
    assert_ne!(a.checksum().unwrap().1, b.checksum().unwrap().1);
    b.apply(pos(2), &cmd).unwrap();
    let (applied, sum) = a.checksum().unwrap();
    assert_eq!(applied, Some(pos(2)));
    assert_eq!((applied, sum), b.checksum().unwrap());
    // A checkpoint opens as an engine with the same state.
    let cp = a_dir.path().join("checkpoint");
    a.checkpoint(&cp).unwrap();
    drop(a);
    let c = open(&cp);
    assert_eq!(c.checksum().unwrap(), b.checksum().unwrap());
}

/// Finding 3 of issue 14, at the engine: expiry is a function of the replicated log alone.
/// Two replicas apply the same commands; one compacts and the other does not; a client id
/// is re-sent after its first copy expired; retention is raised again. At every step both
/// answer the same (applied index, checksum), the same cutoff and the same outcome.
#[test]
fn replicas_agree_on_expiry_whatever_they_compacted() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open(a_dir.path()), open(b_dir.path()));
    let both = |index: u64, cmd: &Command| {
        let (x, y) = (
            a.apply(pos(index), cmd).unwrap(),
            b.apply(pos(index), cmd).unwrap(),
        );
        assert_eq!(x, y, "same outcome at {index}");
        assert_eq!(
            a.checksum().unwrap(),
            b.checksum().unwrap(),
            "checksum at {index}"
        );
        x
    };
    let keys = generate_tenant_keys(a.master_key(), "acme");
    let policy = |retention_days| TenantPolicy {
        retention_days,
        hot_days: 1,
    };
    let upsert = |days| Command::UpsertTenant {
        name: "acme".into(),
        policy: policy(days),
        keys: keys.clone(),
    };
    both(1, &upsert(30));
    let t = now_ms();
    both(2, &Command::AdvanceClock { now_ms: t });
    assert_eq!(a.retention_cutoff(1), Some(t - 30 * DAY_MS));
    let old = reads_command(&a, 1, &[("OLD1", Some("r-old"), t - 10 * DAY_MS)]);
    let fresh = reads_command(&a, 1, &[("NEW1", Some("r-new"), t - DAY_MS)]);
    both(3, &old);
    both(4, &fresh);
    // Retention drops to 5 days: the 10-day-old read expires on both, whether compacted
    // (a) or not (b).
    both(5, &upsert(5));
    assert_eq!(b.retention_cutoff(1), Some(t - 5 * DAY_MS));
    a.compact_all().unwrap();
    assert_eq!(
        a.checksum().unwrap(),
        b.checksum().unwrap(),
        "after a compacted"
    );
    // The same client id again: a has compacted its id away, b has not; both drop it.
    let outcome = both(6, &old);
    assert_eq!(
        outcome,
        ApplyOutcome::Written {
            written: 0,
            duplicates: 0,
            expired: 1
        }
    );
    assert!(plate_hits(&a, 1, "OLD1").is_empty());
    // Raising retention revives nothing, anywhere.
    both(7, &upsert(30));
    assert_eq!(a.retention_cutoff(1), Some(t - 5 * DAY_MS));
    assert_eq!(b.retention_cutoff(1), Some(t - 5 * DAY_MS));
    // A clock that goes backwards (a new leader's majority lags) moves nothing.
    both(8, &Command::AdvanceClock { now_ms: t - DAY_MS });
    assert_eq!(a.cluster_clock(), Some(t));
    // The clock moves the watermark on once the (now 30-day) retention passes it, and it
    // survives a reopen.
    both(9, &Command::AdvanceClock { now_ms: t + DAY_MS });
    assert_eq!(a.retention_cutoff(1), Some(t - 5 * DAY_MS));
    both(
        10,
        &Command::AdvanceClock {
            now_ms: t + 26 * DAY_MS,
        },
    );
    assert_eq!(a.retention_cutoff(1), Some(t - 4 * DAY_MS));
    drop(a);
    let a = open(a_dir.path());
    assert_eq!(a.retention_cutoff(1), Some(t - 4 * DAY_MS));
    assert_eq!(a.cluster_clock(), Some(t + 26 * DAY_MS));
    assert_eq!(a.checksum().unwrap(), b.checksum().unwrap());
}

#[test]
fn manifest_client_ids_are_idempotent_too() {
    use crate::prepare::prepare_manifests;
    use crate::record::validate_manifest;
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let tenant = create_tenant(&engine, 1, "acme", 30);
    let now = now_ms();
    let manifest = |id: &str| {
        json!({"id": id, "device_id": "bodycam-1", "kind": "video", "started_at": format_rfc3339_ms(now),
               "duration_ms": 1000, "object_key": "v.mp4", "sha256": "ab".repeat(32), "bytes": 10})
    };
    let command = || {
        let mut errors = Vec::new();
        let inputs = ["m-1", "m-1", "m-2"]
            .iter()
            .enumerate()
            .map(|(i, id)| validate_manifest(i, &manifest(id), now, &mut errors).unwrap())
            .collect();
        let keys = engine.tenant_keys(tenant).unwrap();
        prepare_manifests(tenant, &keys, inputs, now, &mut rand::rng())
            .unwrap()
            .0
    };
    assert_eq!(
        engine.apply(pos(2), &command()).unwrap(),
        ApplyOutcome::Written {
            written: 2,
            duplicates: 1,
            expired: 0
        }
    );
    assert_eq!(
        engine.apply(pos(3), &command()).unwrap(),
        ApplyOutcome::Written {
            written: 0,
            duplicates: 3,
            expired: 0
        }
    );
    let mut stored = 0;
    engine
        .for_each_raw(cf::MANIFESTS, |_, _| stored += 1)
        .unwrap();
    assert_eq!(stored, 2);
}

fn dictionary_plates(engine: &Engine, tenant: u32) -> Vec<(String, i64)> {
    engine.with_dictionary(tenant, |d| {
        let mut all: Vec<(String, i64)> = (0..d.len() as u32)
            .filter_map(|id| Some((d.plate(id)?.to_string(), d.last_seen(id)?)))
            .collect();
        all.sort();
        all
    })
}

#[test]
fn the_plate_dictionary_holds_each_plate_once_with_its_newest_time_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let want = vec![
        ("AB123".to_string(), now - 1000),
        ("ZZ9".to_string(), now - 500),
    ];
    {
        let engine = open(dir.path());
        let tenant = create_tenant(&engine, 1, "acme", 30);
        let first = reads_command(
            &engine,
            tenant,
            &[("ab 123", None, now - 3000), ("ZZ9", None, now - 500)],
        );
        engine.apply(pos(2), &first).unwrap();
        let second = reads_command(
            &engine,
            tenant,
            &[("AB-123", None, now - 1000), ("zz9", None, now - 9000)],
        );
        engine.apply(pos(3), &second).unwrap();
        assert_eq!(dictionary_plates(&engine, tenant), want);
        // Replaying a batch changes no dictionary entry.
        let mut before = Vec::new();
        engine
            .for_each_raw(cf::PLATES, |k, v| before.push((k.to_vec(), v.to_vec())))
            .unwrap();
        engine.apply(pos(4), &second).unwrap();
        let mut after = Vec::new();
        engine
            .for_each_raw(cf::PLATES, |k, v| after.push((k.to_vec(), v.to_vec())))
            .unwrap();
        assert_eq!(before, after);
        assert_eq!(before.len(), 2);
        // No plate text in the clear in the family.
        for (k, v) in &before {
            for plate in [&b"AB123"[..], b"ZZ9"] {
                assert!(!k
                    .windows(plate.len())
                    .chain(v.windows(plate.len()))
                    .any(|w| w == plate));
            }
        }
    }
    let engine = open(dir.path());
    assert_eq!(dictionary_plates(&engine, 1), want);
}

/// Issue 14, finding 5: a proposal that is re-proposed (a retry after a timeout, a forward
/// resent) applies at most once, so a late copy cannot undo a newer change nor duplicate a
/// batch without client ids. Replica `raw` applies the same sequence as bare commands (what
/// the propose path sent before proposals carried ids) and shows the hazard.
#[test]
fn a_retried_proposal_applies_once_and_cannot_undo_a_newer_change() {
    let (dir, raw_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (engine, raw) = (open(dir.path()), open(raw_dir.path()));
    let keys = generate_tenant_keys(engine.master_key(), "acme");
    let upsert = |days| Command::UpsertTenant {
        name: "acme".into(),
        policy: TenantPolicy {
            retention_days: days,
            hot_days: 1,
        },
        keys: keys.clone(),
    };
    let wrap = |id: u128, command: Command| Command::Proposal {
        id,
        command: Box::new(command),
    };
    let t = now_ms();
    let clock = Command::AdvanceClock { now_ms: t };
    let (ten, twenty) = (wrap(1, upsert(10)), wrap(2, upsert(20)));
    for (index, cmd) in [(1, &clock), (2, &ten), (3, &twenty)] {
        engine.apply(pos(index), cmd).unwrap();
    }
    // The first proposal's late copy: same outcome as the first time, no effect.
    let late = engine.apply(pos(4), &ten).unwrap();
    assert_eq!(
        late,
        ApplyOutcome::Tenant {
            id: 1,
            created: true
        }
    );
    assert_eq!(engine.tenant("acme").unwrap().policy.retention_days, 20);
    for (index, cmd) in [
        (1, &clock),
        (2, &upsert(10)),
        (3, &upsert(20)),
        (4, &upsert(10)),
    ] {
        raw.apply(pos(index), cmd).unwrap();
    }
    assert_eq!(
        raw.tenant("acme").unwrap().policy.retention_days,
        10,
        "a bare re-proposal undoes the newer change"
    );

    // A batch without client ids, proposed twice: written once.
    let batch = wrap(
        3,
        reads_command(&engine, 1, &[("DUP1", None, t), ("DUP1", None, t - 5)]),
    );
    let first = engine.apply(pos(5), &batch).unwrap();
    assert_eq!(engine.apply(pos(6), &batch).unwrap(), first);
    assert_eq!(plate_hits(&engine, 1, "DUP1").len(), 2);
    assert_eq!(engine.applied().unwrap(), Some(pos(6)));

    // Ids are remembered for an hour of cluster clock, then pruned.
    let count_ids = |engine: &Engine| {
        let mut n = 0;
        engine
            .for_each_raw(cf::META, |k, _| {
                n += usize::from(k.starts_with(meta::PROPOSAL_PREFIX))
            })
            .unwrap();
        n
    };
    assert_eq!(count_ids(&engine), 3);
    let later = Command::AdvanceClock {
        now_ms: t + PROPOSAL_DEDUPE_MS + 1,
    };
    engine.apply(pos(7), &later).unwrap();
    assert_eq!(count_ids(&engine), 0);
}

mod rotation;
