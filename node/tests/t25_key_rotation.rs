//! Key rotation on a three-node cluster of real processes (issue 15, acceptance 5): reads
//! ingested before and after a tenant data key rotation and a master key rotation are all
//! found by exact and fuzzy plate search, from every phase, after every restart; new reads
//! carry the new key version; a node started without the master key that wraps its keys
//! refuses to start, naming that key's fingerprint; and no planted plate or position is in
//! any file of any replica.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use common::plaintext::{needles, scan};
use common::{now_ms, read_json, Cluster, Settings};
use serde_json::json;
use sightline_chaos::process::TEST_MASTER_KEY_HEX;
use sightline_storage::crypto::sealed_key_version;
use sightline_storage::keys::{cf, RecordKey};
use sightline_storage::{Engine, EngineConfig, MasterKey};

const TENANT: &str = "city";
const PLATES: [&str; 3] = ["QZX 9K7W", "wvu-84jq", "XJ7QKZ2"];
const POSITIONS: [(f64, f64); 2] = [(41.912_345_6, -87.654_321_9), (41.876_543_2, -87.612_345_8)];
/// Phases: 0 before any rotation, 1 after the tenant key rotation, 2 after the master key
/// rotation (old key still configured as previous), 3 after restarting with the new key only.
const PHASES: i64 = 4;
const NEW_MASTER_HEX: &str = "5e1f0c2b9a8d7e6f5e1f0c2b9a8d7e6f5e1f0c2b9a8d7e6f5e1f0c2b9a8d7e6f";

/// The capture time of read `j` of plate `i` in `phase`: phases are 10-minute windows.
fn captured_at(base: i64, phase: i64, i: usize, j: usize) -> i64 {
    base - (PHASES - phase) * 600_000 + (i * 10 + j) as i64 * 1_000
}

fn phase_of(base: i64, ts: i64) -> i64 {
    PHASES - (base - ts + 599_999) / 600_000
}

fn ingest_phase(cluster: &Cluster, via: u64, base: i64, phase: i64) -> Result<()> {
    let mut reads = Vec::new();
    for (i, plate) in PLATES.iter().enumerate() {
        for (j, (lat, lon)) in POSITIONS.iter().enumerate() {
            let camera = format!("cam-p{phase}");
            let mut read = read_json(None, &camera, captured_at(base, phase, i, j), plate);
            read["lat"] = json!(lat);
            read["lon"] = json!(lon);
            reads.push(read);
        }
    }
    let (status, body) = cluster
        .node(via)?
        .post_json(&format!("/v1/tenants/{TENANT}/reads"), &json!(reads))?;
    if status != 200 || body["accepted"] != 6 {
        bail!("phase {phase} ingest through node {via}: {status} {body}");
    }
    Ok(())
}

/// Every node finds every read of every phase so far, by exact and fuzzy plate search.
fn check_searches(cluster: &Cluster, phases: i64, when: &str) -> Result<()> {
    for id in cluster.running_ids() {
        let node = cluster.node(id)?;
        for plate in PLATES {
            let normalized: String = plate
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_uppercase();
            // One substituted character: the fuzzy path goes through the plate dictionary,
            // whose entries were sealed under whichever key version was current.
            let mut typo: Vec<char> = normalized.chars().collect();
            typo[1] = if typo[1] == 'M' { 'N' } else { 'M' };
            let typo: String = typo.into_iter().collect();
            for query in [
                json!({"plate": plate}),
                json!({"plate": typo, "match": "fuzzy", "max_edits": 1}),
            ] {
                let (hits, total, _) = node.search_all(TENANT, query.clone())?;
                let mut cameras: BTreeMap<String, usize> = BTreeMap::new();
                for hit in &hits {
                    assert_eq!(hit["plate"], json!(normalized), "{when}, node {id}: {hit}");
                    *cameras
                        .entry(hit["camera_id"].as_str().unwrap_or("").to_string())
                        .or_default() += 1;
                }
                let want: BTreeMap<String, usize> =
                    (0..phases).map(|p| (format!("cam-p{p}"), 2)).collect();
                assert_eq!(
                    (cameras, total),
                    (want, 2 * phases as u64),
                    "{when}, node {id}, {query}"
                );
            }
        }
    }
    Ok(())
}

/// `GET /v1/admin/tenants/{TENANT}`'s `key_version` on node `id` (a linearizable read, so
/// the node has applied every rotation acknowledged before it).
fn key_version(cluster: &Cluster, id: u64) -> Result<u64> {
    let (status, body) = cluster
        .node(id)?
        .get(&format!("/v1/admin/tenants/{TENANT}"))?;
    if status != 200 {
        bail!("GET tenant on node {id}: {status} {body}");
    }
    body["key_version"].as_u64().context("key_version")
}

fn restart_all(cluster: &mut Cluster) -> Result<()> {
    for id in 1..=3 {
        cluster.node_mut(id)?.stop()?;
        cluster.restart(id)?;
        cluster.node(id)?.wait_ready(Duration::from_secs(30))?;
    }
    cluster.leader(Duration::from_secs(10))?;
    Ok(())
}

/// A bootstrap admin token still verifies: the signing key survived the rewrap.
fn admin_token_verifies(cluster: &Cluster, token: &str) -> Result<()> {
    for id in 1..=3 {
        let body = json!({"subject": "t25", "tenant": "*", "role": "admin", "ttl": "1h"});
        let (status, answer) = cluster
            .node(id)?
            .with_token(token)
            .post_json("/v1/admin/tokens", &body)?;
        assert_eq!(status, 201, "node {id} after the rotation: {answer}");
    }
    Ok(())
}

#[test]
fn rotations_keep_every_phase_searchable_and_new_reads_on_the_new_version() -> Result<()> {
    let settings = Settings {
        log_to_files: true,
        ..Settings::default()
    };
    let mut cluster = Cluster::start(3, settings)?;
    cluster.leader(Duration::from_secs(10))?;
    cluster.node(1)?.create_tenant(TENANT, 30)?;
    let base = now_ms();
    let token_path = cluster.node(1)?.data_dir().join("admin-token");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !token_path.exists() {
        assert!(std::time::Instant::now() < deadline, "no admin-token");
        std::thread::sleep(Duration::from_millis(100));
    }
    let admin_token = std::fs::read_to_string(&token_path)?.trim().to_string();

    // Phase 0, then a tenant key rotation through a follower.
    ingest_phase(&cluster, 1, base, 0)?;
    assert_eq!(key_version(&cluster, 2)?, 1);
    let leader = cluster.leader(Duration::from_secs(10))?;
    let via = (1..=3).find(|id| *id != leader).context("a follower")?;
    let (status, body) = cluster.node(via)?.post_json(
        &format!("/v1/admin/tenants/{TENANT}/keys/rotate"),
        &json!({}),
    )?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"tenant": TENANT, "key_version": 2}));
    for id in 1..=3 {
        assert_eq!(key_version(&cluster, id)?, 2, "node {id}");
    }
    // Phase 1 goes through another node than the one that answered.
    ingest_phase(&cluster, via % 3 + 1, base, 1)?;
    check_searches(&cluster, 2, "after the tenant key rotation")?;

    // The master key rotation: every node gets the new key as master_key_file and keeps the
    // old one as previous (a rolling restart), then one rewrap through the API.
    let old = MasterKey::from_hex(TEST_MASTER_KEY_HEX)?
        .fingerprint()
        .to_string();
    let new = MasterKey::from_hex(NEW_MASTER_HEX)?
        .fingerprint()
        .to_string();
    for member in &cluster.members {
        std::fs::write(member.dir.join("master-2.key"), NEW_MASTER_HEX)?;
    }
    cluster.set_master_key_files("master-2.key", &["master.key"]);
    restart_all(&mut cluster)?;
    check_searches(
        &cluster,
        2,
        "restarted with the new master key and the old one",
    )?;
    let (status, body) = cluster
        .node(2)?
        .post_json("/v1/admin/keys/rotate-master", &json!({}))?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["master_key"], json!(new), "{body}");
    assert_eq!(body["changed"], true, "{body}");
    // Token key, data keys 1 and 2, the signing key.
    assert_eq!(body["rewrapped"], 4, "{body}");
    for id in 1..=3 {
        let (status, keys) = cluster.node(id)?.get("/v1/admin/keys")?;
        assert_eq!(status, 200, "{keys}");
        assert_eq!(keys["cluster_master_key"], json!(new), "node {id}: {keys}");
        assert_eq!(
            keys["previous_master_keys"],
            json!([old]),
            "node {id}: {keys}"
        );
        let slots = keys["wrapped_keys"].as_array().context("wrapped_keys")?;
        assert_eq!(slots.len(), 4, "{keys}");
        assert!(
            slots.iter().all(|k| k["master_key"] == json!(new)),
            "node {id}: a key is still wrapped by the old master: {keys}"
        );
    }
    // A second rotation has nothing to do.
    let (status, body) = cluster
        .node(3)?
        .post_json("/v1/admin/keys/rotate-master", &json!({}))?;
    assert_eq!((status, &body["changed"]), (200, &json!(false)), "{body}");
    ingest_phase(&cluster, 3, base, 2)?;
    check_searches(&cluster, 3, "after the master key rotation")?;

    // The old key leaves every config (and the disk); everything still opens.
    cluster.set_master_key_files("master-2.key", &[]);
    for member in &cluster.members {
        std::fs::remove_file(member.dir.join("master.key"))?;
    }
    restart_all(&mut cluster)?;
    ingest_phase(&cluster, 2, base, 3)?;
    check_searches(&cluster, 4, "restarted with the new master key only")?;
    admin_token_verifies(&cluster, &admin_token)?;
    for id in 1..=3 {
        assert_eq!(key_version(&cluster, id)?, 2, "node {id}");
    }

    // A node given only the old key refuses to start, naming the key it lacks.
    for member in &cluster.members {
        std::fs::write(member.dir.join("master.key"), TEST_MASTER_KEY_HEX)?;
    }
    cluster.set_master_key_files("master.key", &[]);
    cluster.node_mut(3)?.stop()?;
    let started = cluster.restart(3);
    assert!(
        started.is_err(),
        "node 3 started without the cluster's master key"
    );
    let log = std::fs::read_to_string(cluster.member(3)?.dir.join("node.log"))?;
    assert!(
        log.contains(&format!("wrapped by master key {new}")),
        "node 3's log does not name the missing master key {new}: {}",
        log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
    cluster.set_master_key_files("master-2.key", &[]);
    cluster.restart(3)?;
    cluster.node(3)?.wait_ready(Duration::from_secs(30))?;
    check_searches(&cluster, 4, "node 3 restarted with the right key")?;

    // The thin client: `sightline admin rotate-key --tenant` and `--master`.
    let cli = |args: &[&str]| -> Result<serde_json::Value> {
        let url = cluster.node(1)?.url("");
        let out = std::process::Command::new(sightline_chaos::sightline_binary()?)
            .args(["admin", "rotate-key"])
            .args(args)
            .args(["--url", &url, "--token", &admin_token, "--output", "json"])
            .output()?;
        if !out.status.success() {
            bail!(
                "sightline admin rotate-key {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    assert_eq!(
        cli(&["--tenant", TENANT])?,
        json!({"tenant": TENANT, "key_version": 3})
    );
    let answer = cli(&["--master"])?;
    assert_eq!(
        (&answer["master_key"], &answer["changed"]),
        (&json!(new), &json!(false)),
        "{answer}"
    );
    let dirs: Vec<_> = (1..=3)
        .map(|id| cluster.node(id).map(|n| n.data_dir().to_path_buf()))
        .collect::<Result<_>>()?;
    for id in 1..=3 {
        cluster.node_mut(id)?.stop()?;
    }

    // On every replica, reads of phase 0 are sealed with version 1 and later ones with
    // version 2; and no plate or position is in any file.
    let new_master = MasterKey::from_hex(NEW_MASTER_HEX)?;
    for dir in &dirs {
        let engine = Engine::open(
            &EngineConfig::new(sightline_raft::current_engine_dir(dir)?),
            new_master.clone(),
        )?;
        let tenant = engine.tenant(TENANT).context("tenant")?.id;
        let mut versions: BTreeMap<(i64, u32), usize> = BTreeMap::new();
        let mut bad = None;
        engine.for_each_raw(cf::READS, |key, value| {
            match (RecordKey::decode(key), sealed_key_version(value)) {
                (Some(key), Ok(version)) if key.tenant == tenant => {
                    *versions
                        .entry((phase_of(base, key.ts), version))
                        .or_default() += 1
                }
                (Some(_), Ok(_)) => {}
                _ => bad = Some(key.to_vec()),
            }
        })?;
        assert!(bad.is_none(), "{}: undecodable read", dir.display());
        let want: BTreeMap<(i64, u32), usize> =
            [((0, 1), 6), ((1, 2), 6), ((2, 2), 6), ((3, 2), 6)].into();
        assert_eq!(
            versions,
            want,
            "{}: (phase, key version) → reads",
            dir.display()
        );
    }
    let mut files = 0;
    let mut found = Vec::new();
    for dir in &dirs {
        found.extend(scan(dir, &needles(&PLATES, &POSITIONS), &mut files)?);
    }
    assert!(files >= 15, "scanned only {files} files");
    assert!(found.is_empty(), "plaintext on disk: {found:#?}");
    Ok(())
}
