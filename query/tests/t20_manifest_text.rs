//! Manifest full text over an in-process engine: retention (a manifest below the watermark
//! is never returned, the index drops it once the watermark has moved far enough, and a
//! reopened engine rebuilds the index without it) and the rebuild on open answering as the
//! index built batch by batch did. The 10,000-manifest brute force is in the API's tests.

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
use sightline_query::{search_manifests, ManifestQuery};
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::prepare::prepare_manifests;
use sightline_storage::record::validate_manifest;
use sightline_storage::time::{format_rfc3339_ms, now_ms};
use sightline_storage::{Command, Engine, EngineConfig, LogPosition, MasterKey};

const DAY: i64 = 86_400_000;
const MINUTE: i64 = 60_000;

fn pos(index: u64) -> LogPosition {
    LogPosition {
        term: 1,
        leader: 1,
        index,
    }
}

fn open(dir: &std::path::Path) -> Engine {
    Engine::open(&EngineConfig::new(dir), MasterKey::from_bytes(&[5; 32])).unwrap()
}

fn upsert(engine: &Engine, index: u64, retention_days: u32) {
    let keys = generate_tenant_keys(engine.master_key(), "t");
    engine
        .apply(
            pos(index),
            &Command::UpsertTenant {
                name: "t".into(),
                policy: TenantPolicy {
                    retention_days,
                    hot_days: 1,
                },
                keys,
            },
        )
        .unwrap();
}

/// The public ids a query returns, all pages.
fn ids(engine: &Engine, q: &str) -> Vec<String> {
    let mut query = ManifestQuery {
        tenant: 1,
        q: q.into(),
        from: i64::MIN,
        to: i64::MAX,
        area: None,
        kind: None,
        limit: 7,
        cursor: None,
    };
    let mut out = Vec::new();
    loop {
        let page = search_manifests(engine, &query).unwrap();
        out.extend(page.hits.into_iter().map(|m| m.id));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return out,
        }
    }
}

#[test]
fn expired_manifests_are_never_returned_and_leave_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let now = now_ms();
    upsert(&engine, 1, 30);
    engine
        .apply(pos(2), &Command::AdvanceClock { now_ms: now })
        .unwrap();
    // One manifest a day for ten days back, then one 10 days minus 10 minutes back (expires
    // with a clock step too small to prune the index), each saying "flare".
    let mut ages: Vec<i64> = (0..10).map(|d| d * DAY + MINUTE).collect();
    ages.push(5 * DAY - 10 * MINUTE);
    let values: Vec<_> = ages
        .iter()
        .enumerate()
        .map(|(i, age)| {
            json!({"id": format!("m{i}"), "device_id": "cam-1", "kind": "video",
                "started_at": format_rfc3339_ms(now - age), "duration_ms": 1, "object_key": "k",
                "sha256": "cd".repeat(32), "bytes": 1, "labels": ["flare"]})
        })
        .collect();
    let mut errors = Vec::new();
    let inputs = values
        .iter()
        .enumerate()
        .map(|(i, v)| validate_manifest(i, v, now, &mut errors).unwrap())
        .collect();
    let keys = engine.tenant_keys(1).unwrap();
    let (cmd, _) = prepare_manifests(1, &keys, inputs, now, &mut StdRng::seed_from_u64(1)).unwrap();
    engine.apply(pos(3), &cmd).unwrap();
    assert_eq!(ids(&engine, "flare").len(), 11);
    assert_eq!(engine.manifest_index_docs(1), 11);

    // Retention down to 5 days: the watermark jumps by 25 days, the index drops the six
    // manifests 5 days old or older.
    upsert(&engine, 4, 5);
    let first5: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    let mut live = first5.clone();
    live.push("m10".into());
    live.sort();
    let mut got = ids(&engine, "flare");
    got.sort();
    assert_eq!(got, live);
    assert_eq!(
        engine.manifest_index_docs(1),
        6,
        "expired documents stay in the index"
    );

    // Twenty minutes later m10 (5 days minus 10 minutes old) has expired too; the index
    // keeps it until the watermark has moved an hour, but the query never returns it.
    engine
        .apply(
            pos(5),
            &Command::AdvanceClock {
                now_ms: now + 20 * MINUTE,
            },
        )
        .unwrap();
    let mut got = ids(&engine, "flare");
    got.sort();
    assert_eq!(got, first5, "an expired manifest was returned");
    assert_eq!(engine.manifest_index_docs(1), 6);

    // Reopened (as after a restart or a snapshot install): the rebuild skips what expired,
    // whether or not compaction removed the rows yet.
    drop(engine);
    let engine = open(dir.path());
    let mut got = ids(&engine, "flare");
    got.sort();
    assert_eq!(got, first5);
    assert_eq!(engine.manifest_index_docs(1), 5);
}

#[test]
fn the_index_rebuilt_on_open_answers_as_the_one_built_batch_by_batch() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let now = now_ms();
    upsert(&engine, 1, 30);
    let words = ["alpha", "bravo", "charlie", "delta", "echo"];
    let mut rng = StdRng::seed_from_u64(2);
    let keys = engine.tenant_keys(1).unwrap();
    for b in 0..20u64 {
        let values: Vec<_> = (0..50)
            .map(|i| {
                let n = b as usize * 50 + i;
                json!({"device_id": format!("mic-{}", n % 4), "kind": "audio",
                    "started_at": format_rfc3339_ms(now - n as i64 * MINUTE), "duration_ms": 1,
                    "object_key": "k", "sha256": "cd".repeat(32), "bytes": 1,
                    "labels": [words[n % 5]], "transcript": format!("{} and {}", words[n % 3], words[n % 4])})
            })
            .collect();
        let mut errors = Vec::new();
        let inputs = values
            .iter()
            .enumerate()
            .map(|(i, v)| validate_manifest(i, v, now, &mut errors).unwrap())
            .collect();
        let (cmd, _) = prepare_manifests(1, &keys, inputs, now, &mut rng).unwrap();
        engine.apply(pos(2 + b), &cmd).unwrap();
    }
    let queries = [
        "alpha",
        "bravo echo",
        "charlie OR delta",
        "mic-2",
        "\"alpha and delta\"",
    ];
    let before: Vec<Vec<String>> = queries.iter().map(|q| ids(&engine, q)).collect();
    assert!(before.iter().all(|ids| !ids.is_empty()), "{before:?}");
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(engine.manifest_index_docs(1), 1_000);
    let after: Vec<Vec<String>> = queries.iter().map(|q| ids(&engine, q)).collect();
    assert_eq!(before, after);
}
