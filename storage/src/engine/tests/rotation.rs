//! Tenant data key rotation and master key rotation in the engine.

use super::*;
use crate::crypto::sealed_key_version;
use crate::keyring::{generate_data_key, generate_signing_key, wrapped_by, Fingerprint};
use crate::keys::RecordKey;

const A: [u8; 32] = [0xa1; 32];
const B: [u8; 32] = [0xb2; 32];

fn open_with(dir: &Path, master: MasterKey) -> Result<Engine> {
    Engine::open(&EngineConfig::new(dir), master)
}

fn rotate(engine: &Engine, index: u64, tenant: u32, version: u32) -> ApplyOutcome {
    let wrapped = generate_data_key(&engine.wrapping_key(), "acme", version);
    let cmd = Command::RotateTenantKey {
        tenant,
        version,
        wrapped,
    };
    engine.apply(pos(index), &cmd).unwrap()
}

/// Every read of `tenant` on disk: (capture time, key version of its sealed value).
fn read_versions(engine: &Engine, tenant: u32) -> Vec<(i64, u32)> {
    let mut out = Vec::new();
    engine
        .for_each_raw(cf::READS, |k, v| {
            let key = RecordKey::decode(k).unwrap();
            if key.tenant == tenant {
                out.push((key.ts, sealed_key_version(v).unwrap()));
            }
        })
        .unwrap();
    out
}

/// Every entry of every data column family (everything but `meta`).
fn data_bytes(engine: &Engine) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for name in cf::DATA {
        engine
            .for_each_raw(name, |k, v| out.push((k.to_vec(), v.to_vec())))
            .unwrap();
    }
    out
}

fn all_reads_open(engine: &Engine, tenant: u32) -> usize {
    let keys: Vec<RecordKey> = read_versions(engine, tenant)
        .iter()
        .map(|_| ())
        .zip(
            plate_hits(engine, tenant, "ROT1")
                .into_iter()
                .chain(plate_hits(engine, tenant, "ROT2")),
        )
        .map(|(_, hit)| hit.record())
        .collect();
    let opened = engine.get_reads(tenant, &keys).unwrap();
    assert!(opened.iter().all(Option::is_some));
    opened.len()
}

#[test]
fn a_rotation_seals_new_values_with_the_new_version_and_old_ones_still_open() {
    let (dir, replica_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = open(dir.path());
    let replica = open(replica_dir.path());
    let t = now_ms();
    let mut log = vec![Command::UpsertTenant {
        name: "acme".into(),
        policy: TenantPolicy::default(),
        keys: generate_tenant_keys(&engine.wrapping_key(), "acme"),
    }];
    engine.apply(pos(1), &log[0]).unwrap();
    assert_eq!(engine.key_version(1).unwrap(), 1);
    log.push(reads_command(
        &engine,
        1,
        &[("ROT1", None, t - 10_000), ("ROT2", Some("c1"), t - 9_000)],
    ));
    engine.apply(pos(2), &log[1]).unwrap();

    let wrapped = generate_data_key(&engine.wrapping_key(), "acme", 2);
    log.push(Command::RotateTenantKey {
        tenant: 1,
        version: 2,
        wrapped: wrapped.clone(),
    });
    assert_eq!(
        engine.apply(pos(3), &log[2]).unwrap(),
        ApplyOutcome::KeyRotated { version: 2 }
    );
    assert_eq!(engine.key_version(1).unwrap(), 2);
    // A second rotation to the same version (a race) is refused, and so is a skipped one.
    for version in [2, 4] {
        let racing = Command::RotateTenantKey {
            tenant: 1,
            version,
            wrapped: generate_data_key(&engine.wrapping_key(), "acme", version),
        };
        assert!(matches!(
            engine.apply(pos(4), &racing).unwrap(),
            ApplyOutcome::Rejected { .. }
        ));
    }
    log.push(Command::Noop);
    log.push(reads_command(
        &engine,
        1,
        &[("ROT1", None, t - 1_000), ("ROT2", None, t)],
    ));
    engine.apply(pos(5), &log[4]).unwrap();

    let versions = read_versions(&engine, 1);
    assert_eq!(versions.len(), 4);
    for (ts, version) in &versions {
        let want = if *ts <= t - 9_000 { 1 } else { 2 };
        assert_eq!(*version, want, "read at {ts}");
    }
    // Tokens do not depend on the data key: one plate token finds reads of both versions.
    assert_eq!(plate_hits(&engine, 1, "ROT1").len(), 2);
    assert_eq!(all_reads_open(&engine, 1), 4);

    // A replica applying the same log holds the same bytes; a reopened engine reads all.
    for (i, cmd) in log.iter().enumerate() {
        replica.apply(pos(i as u64 + 1), cmd).unwrap();
    }
    assert_eq!(engine.checksum().unwrap(), replica.checksum().unwrap());
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(engine.key_version(1).unwrap(), 2);
    assert_eq!(all_reads_open(&engine, 1), 4);
    assert_eq!(plate_hits(&engine, 1, "ROT2").len(), 2);
}

#[test]
fn a_master_rotation_rewraps_every_key_and_leaves_every_value_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (MasterKey::from_bytes(&A), MasterKey::from_bytes(&B));
    let t = now_ms();
    let engine = open_with(dir.path(), a.clone()).unwrap();
    create_tenant(&engine, 1, "acme", 30);
    engine
        .apply(pos(2), &reads_command(&engine, 1, &[("ROT1", None, t - 5)]))
        .unwrap();
    rotate(&engine, 3, 1, 2);
    engine
        .apply(pos(4), &reads_command(&engine, 1, &[("ROT2", None, t)]))
        .unwrap();
    let signing = Command::SetSigningKey {
        wrapped: generate_signing_key(&engine.wrapping_key()),
    };
    assert_eq!(engine.apply(pos(5), &signing).unwrap(), ApplyOutcome::Done);
    let signing_key = engine.signing_key().unwrap();
    let before = data_bytes(&engine);
    assert_eq!(engine.cluster_master(), Some(a.fingerprint()));
    drop(engine);

    // Only the new key: the start fails, naming the old one.
    let err = open_with(dir.path(), b.clone()).unwrap_err().to_string();
    assert!(err.contains(&a.fingerprint().to_string()), "{err}");

    // The new key with the old one as previous: it wraps under the cluster's (old) key
    // until the rewrap, so tenants created meanwhile are admitted.
    let engine = open_with(dir.path(), b.clone().with_previous([a.clone()])).unwrap();
    assert_eq!(
        wrapped_by(&engine.wrapping_key().wrap("ctx", &[0; 32])),
        Some(a.fingerprint())
    );
    create_tenant(&engine, 6, "other", 30);
    let rewrap = engine
        .prepare_rewrap()
        .unwrap()
        .expect("something to rewrap");
    let Command::RewrapKeys { keys, .. } = &rewrap else {
        panic!("{rewrap:?}")
    };
    assert_eq!(
        keys.len(),
        5,
        "acme's token key and two data keys, other's two"
    );
    assert_eq!(
        engine.apply(pos(7), &rewrap).unwrap(),
        ApplyOutcome::Rewrapped { keys: 6 }
    );
    assert_eq!(engine.cluster_master(), Some(b.fingerprint()));
    let census = engine.wrapped_keys().unwrap();
    assert_eq!(census.len(), 6);
    assert!(
        census.iter().all(|k| k.master == Some(b.fingerprint())),
        "{census:?}"
    );
    assert_eq!(data_bytes(&engine), before, "no sealed value was rewritten");
    assert!(engine.prepare_rewrap().unwrap().is_none(), "nothing left");
    drop(engine);

    // Only the new key now: everything opens, the signing key is the same key.
    let engine = open_with(dir.path(), b.clone()).unwrap();
    assert_eq!(engine.signing_key(), Some(signing_key));
    assert_eq!(engine.key_version(1).unwrap(), 2);
    assert_eq!(all_reads_open(&engine, 1), 2);
    assert_eq!(data_bytes(&engine), before);
    drop(engine);
    // And the old key alone no longer opens it, naming the new one.
    let err = open_with(dir.path(), a.clone()).unwrap_err().to_string();
    assert!(err.contains(&b.fingerprint().to_string()), "{err}");
    assert!(err.contains("previous_master_key_files"), "{err}");
    // A wrong key fails as clearly.
    let wrong = MasterKey::from_bytes(&[0xcc; 32]);
    let err = open_with(dir.path(), wrong).unwrap_err().to_string();
    assert!(err.contains(&b.fingerprint().to_string()), "{err}");
}

#[test]
fn a_rewrap_prepared_before_a_change_or_naming_another_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (MasterKey::from_bytes(&A), MasterKey::from_bytes(&B));
    // The cluster's master key is fixed by the first key admitted.
    let engine = open_with(dir.path(), a.clone()).unwrap();
    create_tenant(&engine, 1, "acme", 30);
    assert_eq!(engine.cluster_master(), Some(a.fingerprint()));
    drop(engine);
    let engine = open_with(dir.path(), b.clone().with_previous([a.clone()])).unwrap();
    let stale = engine.prepare_rewrap().unwrap().unwrap();
    rotate(&engine, 2, 1, 2);
    let before = engine.wrapped_keys().unwrap();
    assert!(matches!(
        engine.apply(pos(3), &stale).unwrap(),
        ApplyOutcome::Rejected { .. }
    ));
    assert_eq!(engine.wrapped_keys().unwrap(), before, "nothing rewrapped");
    assert_eq!(engine.cluster_master(), Some(a.fingerprint()));
    // A rewrap whose copies do not all name its master key.
    let Some(Command::RewrapKeys { keys, .. }) = engine.prepare_rewrap().unwrap() else {
        panic!("a rewrap")
    };
    let forged = Command::RewrapKeys {
        master: Fingerprint([9; 8]),
        keys,
        signing_key: None,
    };
    assert!(matches!(
        engine.apply(pos(4), &forged).unwrap(),
        ApplyOutcome::Rejected { .. }
    ));
    // Keys wrapped by another master key than the cluster's are refused, on every replica
    // alike (the decision reads only the replicated state).
    let c = MasterKey::from_bytes(&[0xcc; 32]);
    let foreign = Command::UpsertTenant {
        name: "foreign".into(),
        policy: TenantPolicy::default(),
        keys: generate_tenant_keys(&c, "foreign"),
    };
    assert!(matches!(
        engine.apply(pos(5), &foreign).unwrap(),
        ApplyOutcome::Rejected { .. }
    ));
    assert!(engine.tenant("foreign").is_none());
    let foreign_signing = Command::SetSigningKey {
        wrapped: generate_signing_key(&c),
    };
    assert!(matches!(
        engine.apply(pos(6), &foreign_signing).unwrap(),
        ApplyOutcome::Rejected { .. }
    ));
    assert_eq!(engine.signing_key(), None);
    let rotation = Command::RotateTenantKey {
        tenant: 1,
        version: 3,
        wrapped: generate_data_key(&c, "acme", 3),
    };
    assert!(matches!(
        engine.apply(pos(7), &rotation).unwrap(),
        ApplyOutcome::Rejected { .. }
    ));
    assert_eq!(engine.key_version(1).unwrap(), 2);
}

/// The wrapped format of builds before fingerprints: nonce, then the sealed key.
fn legacy_wrap(master: &[u8; 32], context: &str, key: &[u8; 32]) -> Vec<u8> {
    use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
    use aes_gcm_siv::{Aes256GcmSiv, Key, Nonce};
    let cipher = Aes256GcmSiv::new(&Key::<Aes256GcmSiv>::from(*master));
    let nonce = [7u8; 12];
    let payload = Payload {
        msg: key,
        aad: context.as_bytes(),
    };
    let sealed = cipher.encrypt(&Nonce::from(nonce), payload).unwrap();
    [nonce.as_slice(), &sealed].concat()
}

#[test]
fn keys_wrapped_by_an_earlier_build_are_admitted_opened_and_rewrapped() {
    use crate::keyring::wrap_context;
    let dir = tempfile::tempdir().unwrap();
    let engine = open_with(dir.path(), MasterKey::from_bytes(&A)).unwrap();
    // A log entry written by an earlier build, replayed.
    let legacy = Command::UpsertTenant {
        name: "acme".into(),
        policy: TenantPolicy::default(),
        keys: WrappedTenantKeys {
            token_key: legacy_wrap(&A, &wrap_context("acme", 0), &[1; 32]),
            data_key: legacy_wrap(&A, &wrap_context("acme", 1), &[2; 32]),
        },
    };
    assert!(matches!(
        engine.apply(pos(1), &legacy).unwrap(),
        ApplyOutcome::Tenant { created: true, .. }
    ));
    assert_eq!(engine.cluster_master(), None);
    engine
        .apply(
            pos(2),
            &reads_command(&engine, 1, &[("ROT1", None, now_ms())]),
        )
        .unwrap();
    let census = engine.wrapped_keys().unwrap();
    assert!(census.iter().all(|k| k.master.is_none()), "{census:?}");
    // A rotation to the same master key rewrites them in the format that names it.
    let rewrap = engine
        .prepare_rewrap()
        .unwrap()
        .expect("legacy keys to rewrite");
    assert!(matches!(
        engine.apply(pos(3), &rewrap).unwrap(),
        ApplyOutcome::Rewrapped { keys: 2 }
    ));
    let a = MasterKey::from_bytes(&A).fingerprint();
    assert!(engine
        .wrapped_keys()
        .unwrap()
        .iter()
        .all(|k| k.master == Some(a)));
    drop(engine);
    let engine = open_with(dir.path(), MasterKey::from_bytes(&A)).unwrap();
    assert_eq!(engine.cluster_master(), Some(a));
    assert_eq!(all_reads_open(&engine, 1), 1);
}
