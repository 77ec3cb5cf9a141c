//! The audit logs in the engine: appends chain and verify, every kind of tampering is named
//! at its seq, replicas agree, pruning keeps the chain verifiable, pages by time.

use std::path::Path;

use super::*;
use crate::audit::{Problem, CLUSTER_LOG_NAME};
use crate::command::{Command, LogPosition, TenantPolicy};
use crate::engine::EngineConfig;
use crate::keyring::{generate_signing_key, generate_tenant_keys, MasterKey};

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

/// An engine with tenants `a` (id 1) and `b` (id 2), and the signing key.
fn setup(dir: &Path) -> Engine {
    let engine = open(dir);
    for (i, name) in ["a", "b"].iter().enumerate() {
        let keys = generate_tenant_keys(engine.master_key(), name);
        let cmd = Command::UpsertTenant {
            name: name.to_string(),
            policy: TenantPolicy {
                retention_days: 30,
                hot_days: 1,
            },
            keys,
        };
        engine.apply(pos(i as u64 + 1), &cmd).unwrap();
    }
    let wrapped = generate_signing_key(engine.master_key());
    engine
        .apply(pos(3), &Command::SetSigningKey { wrapped })
        .unwrap();
    engine
}

fn entry(action: &str, n: u64) -> AuditEntry {
    AuditEntry {
        subject: Some(format!("det-{n}")),
        token_id: Some([n as u8; 16]),
        role: Some("investigator".into()),
        tenant: Some("a".into()),
        action: action.into(),
        terms: Some(r#"{"kind":"plates"}"#.into()),
        case_number: Some(format!("CASE-{n}")),
        reason: Some("stolen vehicle".into()),
        hits: Some(n),
        outcome: 200,
    }
}

fn sealed(engine: &Engine, log: u32, at: i64, n: u64) -> SealedAuditEntry {
    let key = engine.audit_sealing_key(log).unwrap().unwrap();
    audit::seal(
        &key,
        log,
        at,
        u128::from(n) + 1_000 * u128::from(log),
        &entry("search.plates", n),
    )
}

/// Appends `n` entries to `log` (times 1_000, 2_000, ...) in commands of 3.
fn append(engine: &Engine, index: &mut u64, log: u32, n: u64) {
    let entries: Vec<_> = (0..n)
        .map(|i| sealed(engine, log, (i as i64 + 1) * 1_000, i))
        .collect();
    for chunk in entries.chunks(3) {
        *index += 1;
        let outcome = engine
            .apply(
                pos(*index),
                &Command::AppendAudit {
                    entries: chunk.to_vec(),
                },
            )
            .unwrap();
        assert!(
            matches!(outcome, ApplyOutcome::Audited { .. }),
            "{outcome:?}"
        );
    }
}

fn report(engine: &Engine, name: &str) -> ChainReport {
    let mut reports = engine.verify_audit(Some(name)).unwrap();
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

fn raw(engine: &Engine, log: u32, seq: u64) -> Vec<u8> {
    engine
        .db
        .get_cf(engine.cf(cf::AUDIT).unwrap(), entry_key(log, seq))
        .unwrap()
        .unwrap()
}

fn put_raw(engine: &Engine, log: u32, seq: u64, value: &[u8]) {
    engine
        .db
        .put_cf(engine.cf(cf::AUDIT).unwrap(), entry_key(log, seq), value)
        .unwrap();
}

#[test]
fn appended_entries_chain_verify_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = 10;
    {
        let engine = setup(dir.path());
        append(&engine, &mut index, 1, 7);
        append(&engine, &mut index, CLUSTER_LOG, 2);
        let a = report(&engine, "a");
        assert!(a.ok(), "{a}");
        assert_eq!(a.entries, 7);
        let chain = engine.audit_chain(1).unwrap().unwrap();
        assert_eq!((chain.first_seq, chain.next_seq), (0, 7));
        // The chain is the documented hash over the stored bytes, computed here on its own:
        // SHA-256(prev ‖ seq u64 BE ‖ everything stored after the hash).
        let mut prev = [0u8; 32];
        for seq in 0..7 {
            use sha2::{Digest, Sha256};
            let value = raw(&engine, 1, seq);
            let expected: [u8; 32] = Sha256::new()
                .chain_update(prev)
                .chain_update(seq.to_be_bytes())
                .chain_update(&value[32..])
                .finalize()
                .into();
            assert_eq!(value[..32], expected, "seq {seq}");
            prev = expected;
        }
        assert_eq!(prev, chain.head_hash);
        let all = engine.verify_audit(None).unwrap();
        let names: Vec<_> = all
            .iter()
            .map(|r| (r.name.as_str(), r.entries, r.ok()))
            .collect();
        assert_eq!(names, [(CLUSTER_LOG_NAME, 2, true), ("a", 7, true)]);
    }
    let engine = open(dir.path());
    assert!(report(&engine, "a").ok());
    append(&engine, &mut index, 1, 2);
    let a = report(&engine, "a");
    assert_eq!((a.entries, a.ok()), (9, true), "{a}");
    drop(engine);
    // The read-only verification of a closed directory agrees.
    let reports = audit::verify_dir(dir.path(), None).unwrap();
    assert!(reports.iter().all(ChainReport::ok), "{reports:?}");
    assert_eq!(reports.iter().map(|r| r.entries).sum::<u64>(), 11);
    assert!(audit::verify_dir(dir.path(), Some("nope")).is_err());
}

#[test]
fn each_kind_of_tampering_is_named_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path());
    let mut index = 10;
    append(&engine, &mut index, 1, 8);
    append(&engine, &mut index, 2, 3);
    let pristine: Vec<_> = (0..8).map(|seq| raw(&engine, 1, seq)).collect();
    let restore = |engine: &Engine| {
        for (seq, value) in pristine.iter().enumerate() {
            put_raw(engine, 1, seq as u64, value);
        }
        assert!(report(engine, "a").ok());
    };
    let expect = |engine: &Engine, seq: u64, problem: Problem| {
        let r = report(engine, "a");
        assert_eq!(r.broken, Some(audit::BrokenLink { seq, problem }), "{r}");
        assert_eq!(r.entries, seq, "{r}");
        // The other tenant's chain is untouched.
        assert!(report(engine, "b").ok());
    };

    // A byte of the sealed entry, of its time, of its id.
    for (seq, at) in [(3u64, 60usize), (0, 34), (7, 45)] {
        let mut value = pristine[seq as usize].clone();
        let at = at.min(value.len() - 1);
        value[at] ^= 0x01;
        put_raw(&engine, 1, seq, &value);
        expect(&engine, seq, Problem::Altered);
        restore(&engine);
    }
    // The stored hash.
    for seq in [2u64, 7] {
        let mut value = pristine[seq as usize].clone();
        value[5] ^= 0x80;
        put_raw(&engine, 1, seq, &value);
        expect(&engine, seq, Problem::HashAltered);
        restore(&engine);
    }
    // A deleted entry, in the middle and the newest.
    let audit_cf = engine.cf(cf::AUDIT).unwrap();
    for seq in [4u64, 7] {
        engine.db.delete_cf(audit_cf, entry_key(1, seq)).unwrap();
        expect(&engine, seq, Problem::Missing);
        restore(&engine);
    }
    // Two entries swapped.
    put_raw(&engine, 1, 5, &pristine[6]);
    put_raw(&engine, 1, 6, &pristine[5]);
    expect(&engine, 5, Problem::Mismatch);
    restore(&engine);
    // An entry replaced, with its hash recomputed: the next link breaks. (Without the
    // original nothing tells this from entry 4 itself altered, and the report says so.)
    let forged = {
        let mut e = sealed(&engine, 1, 3_500, 99);
        e.id = 1;
        let bytes = entry_bytes(&e);
        let prev = StoredEntry::parse(&pristine[2]).unwrap().hash;
        stored_value(&chain_hash(&prev, 3, &bytes), &bytes)
    };
    put_raw(&engine, 1, 3, &forged);
    expect(&engine, 4, Problem::Altered);
    restore(&engine);
    // Garbage, and an entry past the chain's head.
    put_raw(&engine, 1, 1, b"garbage");
    expect(&engine, 1, Problem::Malformed);
    restore(&engine);
    put_raw(&engine, 1, 8, &pristine[7]);
    expect(&engine, 8, Problem::OutsideChain);
    engine.db.delete_cf(audit_cf, entry_key(1, 8)).unwrap();
    assert!(report(&engine, "a").ok());
}

#[test]
fn replicas_applying_the_same_commands_hold_the_same_chain_and_checksum() {
    let (dc, dd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (c, d) = (open(dc.path()), open(dd.path()));
    let mut all = Vec::new();
    for name in ["a", "b"] {
        all.push(Command::UpsertTenant {
            name: name.to_string(),
            policy: TenantPolicy::default(),
            keys: generate_tenant_keys(c.master_key(), name),
        });
    }
    all.push(Command::SetSigningKey {
        wrapped: generate_signing_key(c.master_key()),
    });
    for (i, cmd) in all.iter().enumerate() {
        c.apply(pos(i as u64 + 1), cmd).unwrap();
        d.apply(pos(i as u64 + 1), cmd).unwrap();
    }
    let mut batches = Vec::new();
    for round in 0..4u64 {
        let entries = vec![
            sealed(&c, 1, 1_000 + round as i64, round),
            sealed(&c, CLUSTER_LOG, 1_000, round),
            sealed(&c, 2, 2_000, round),
            // No such tenant: skipped alike.
            audit::seal(&DataKey::new(1, &[3; 32]), 77, 2_000, 5, &entry("x", round)),
        ];
        batches.push(Command::AppendAudit { entries });
    }
    let before = c.checksum().unwrap().1;
    for (i, cmd) in batches.iter().enumerate() {
        let oc = c.apply(pos(10 + i as u64), cmd).unwrap();
        let od = d.apply(pos(10 + i as u64), cmd).unwrap();
        assert_eq!(oc, od);
        let seq = i as u64;
        assert_eq!(
            oc,
            ApplyOutcome::Audited {
                seqs: vec![Some(seq), Some(seq), Some(seq), None]
            }
        );
    }
    let (cc, cd) = (c.checksum().unwrap(), d.checksum().unwrap());
    assert_eq!(cc, cd);
    assert_ne!(cc.1, before, "the audit log is in the checksum");
    for name in cf::AUDIT_FAMILIES.into_iter().chain([cf::META]) {
        let (mut ec, mut ed) = (Vec::new(), Vec::new());
        c.for_each_raw(name, |k, v| ec.push((k.to_vec(), v.to_vec())))
            .unwrap();
        d.for_each_raw(name, |k, v| ed.push((k.to_vec(), v.to_vec())))
            .unwrap();
        assert_eq!(ec, ed, "{name}");
    }
    assert_eq!(c.audit_chain(1).unwrap(), d.audit_chain(1).unwrap());
    // Tampering on one replica changes its checksum only.
    let value = raw(&c, 1, 2);
    let mut altered = value.clone();
    altered[40] ^= 1;
    put_raw(&c, 1, 2, &altered);
    assert_ne!(c.checksum().unwrap(), cd);
}

#[test]
fn pruning_keeps_a_year_or_the_tenants_retention_and_the_chain_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path());
    let mut index = 10;
    let day = DAY_MS;
    // Tenant a keeps data 30 days (audit: a year), b keeps data 500 days.
    index += 1;
    engine
        .apply(
            pos(index),
            &Command::UpsertTenant {
                name: "b".into(),
                policy: TenantPolicy {
                    retention_days: 500,
                    hot_days: 1,
                },
                keys: generate_tenant_keys(engine.master_key(), "b"),
            },
        )
        .unwrap();
    let times = [10 * day, 20 * day, 400 * day, 30 * day, 600 * day];
    for log in [1, 2] {
        let entries = times
            .iter()
            .enumerate()
            .map(|(i, at)| sealed(&engine, log, *at, i as u64))
            .collect();
        index += 1;
        engine
            .apply(pos(index), &Command::AppendAudit { entries })
            .unwrap();
    }
    // Compaction (the data retention filter) never touches audit entries.
    index += 1;
    engine
        .apply(pos(index), &Command::AdvanceClock { now_ms: 100 * day })
        .unwrap();
    engine.compact_all().unwrap();
    assert_eq!(engine.audit_chain(1).unwrap().unwrap().first_seq, 0);
    // At day 390, a's entries of days 10 and 20 are past a year; day 400 stops the prune
    // (the entry of day 30 behind it waits); b keeps 500 days, so nothing goes.
    index += 1;
    engine
        .apply(pos(index), &Command::AdvanceClock { now_ms: 390 * day })
        .unwrap();
    let a = engine.audit_chain(1).unwrap().unwrap();
    assert_eq!((a.first_seq, a.next_seq), (2, 5));
    let b = engine.audit_chain(2).unwrap().unwrap();
    assert_eq!(b.first_seq, 0);
    let r = report(&engine, "a");
    assert_eq!((r.entries, r.ok()), (3, true), "{r}");
    assert!(report(&engine, "b").ok());
    let page = engine
        .audit_page(
            1,
            &AuditQuery {
                from: i64::MIN,
                to: i64::MAX,
                after: None,
                limit: 10,
                newest_first: false,
            },
        )
        .unwrap();
    assert_eq!(page.records.len(), 3, "the time index is pruned too");
    assert_eq!(page.records[1].prev_hash, a.base_hash);
    // Deleting the new first entry is still found.
    engine
        .db
        .delete_cf(engine.cf(cf::AUDIT).unwrap(), entry_key(1, 2))
        .unwrap();
    assert_eq!(report(&engine, "a").broken.map(|b| b.seq), Some(2));
}

#[test]
fn pages_go_by_time_both_ways_with_cursors_and_open_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path());
    let mut index = 10;
    append(&engine, &mut index, 1, 10);
    append(&engine, &mut index, CLUSTER_LOG, 1);
    let query = |after, newest_first, from, to| AuditQuery {
        from,
        to,
        after,
        limit: 4,
        newest_first,
    };
    let collect = |newest_first: bool, from: i64, to: i64| {
        let mut seqs = Vec::new();
        let mut after = None;
        loop {
            let page = engine
                .audit_page(1, &query(after, newest_first, from, to))
                .unwrap();
            for r in &page.records {
                let entry = r.entry.as_ref().unwrap();
                assert_eq!(entry.hits, Some(r.seq));
                seqs.push(r.seq);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return seqs,
            }
        }
    };
    assert_eq!(
        collect(false, i64::MIN, i64::MAX),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        collect(true, i64::MIN, i64::MAX),
        (0..10).rev().collect::<Vec<_>>()
    );
    assert_eq!(collect(false, 3_000, 6_000), vec![2, 3, 4, 5]);
    assert_eq!(collect(true, 3_000, 6_000), vec![5, 4, 3, 2]);
    let page = engine
        .audit_page(1, &query(None, false, i64::MIN, i64::MAX))
        .unwrap();
    assert_eq!(page.records[0].prev_hash, audit::GENESIS);
    assert_eq!(page.records[1].prev_hash, page.records[0].hash);
    let cluster = engine
        .audit_page(CLUSTER_LOG, &query(None, false, i64::MIN, i64::MAX))
        .unwrap();
    assert_eq!(cluster.records.len(), 1);
    assert!(cluster.records[0].entry.is_ok());
    // An altered entry is shown as not opening, not as an error of the whole page.
    let mut value = raw(&engine, 1, 0);
    let last = value.len() - 1;
    value[last] ^= 1;
    put_raw(&engine, 1, 0, &value);
    let page = engine
        .audit_page(1, &query(None, false, i64::MIN, i64::MAX))
        .unwrap();
    assert!(page.records[0].entry.is_err());
}

#[test]
fn the_cluster_log_needs_the_signing_key_and_nothing_is_stored_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    assert!(engine.audit_sealing_key(CLUSTER_LOG).unwrap().is_none());
    drop(engine);
    let engine = setup(tempfile::tempdir().unwrap().path());
    let mut index = 10;
    append(&engine, &mut index, 1, 3);
    let mut found = Vec::new();
    for name in cf::all() {
        engine
            .for_each_raw(name, |k, v| {
                for needle in [&b"CASE-1"[..], b"stolen vehicle", b"det-1", b"investigator"] {
                    if k.windows(needle.len())
                        .chain(v.windows(needle.len()))
                        .any(|w| w == needle)
                    {
                        found.push(name);
                    }
                }
            })
            .unwrap();
    }
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_snapshot_checkpoint_carries_the_chains() {
    let dir = tempfile::tempdir().unwrap();
    let engine = setup(dir.path());
    let mut index = 10;
    append(&engine, &mut index, 1, 5);
    append(&engine, &mut index, CLUSTER_LOG, 2);
    let checkpoint = dir.path().join("checkpoint");
    engine.checkpoint(&checkpoint).unwrap();
    let copy = open(&checkpoint);
    assert_eq!(copy.checksum().unwrap(), engine.checksum().unwrap());
    assert_eq!(copy.audit_chain(1).unwrap(), engine.audit_chain(1).unwrap());
    assert!(copy.verify_audit(None).unwrap().iter().all(ChainReport::ok));
    // The copy appends where the original left off.
    append(&copy, &mut index, 1, 1);
    assert_eq!(copy.audit_chain(1).unwrap().unwrap().next_seq, 6);
    assert!(report(&copy, "a").ok());
}
