//! The hash-chained audit store on a three-node cluster of real processes (issue 15,
//! acceptance 3): searches, admin actions and refused requests, the leader killed and more
//! of each; then every node holds the same chains and they verify, through the API, with
//! `sightline admin audit verify` on the stopped nodes, and by this test recomputing every
//! hash itself from the raw RocksDB values (SHA-256(prev ‖ seq ‖ entry bytes), the format of
//! docs/architecture.md). Finally one byte of one entry is flipped in one node's RocksDB,
//! and the CLI names exactly that entry.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::{ndjson, now_ms, read_json, Cluster, Settings};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sightline_chaos::{sightline_binary, Client};

const PLATE: &str = "T24AUD7";
const REASON: &str = "t24 audit trail";

fn admin_token(cluster: &Cluster) -> Result<String> {
    let path = cluster.config(1)?.data_dir.join("admin-token");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if !text.trim().is_empty() {
                return Ok(text.trim().to_string());
            }
        }
        ensure!(Instant::now() < deadline, "{} not written", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Mints a token through `client` (an admin), retrying while the node has no key yet.
fn mint(client: &Client, subject: &str, tenant: &str, role: &str) -> Result<String> {
    let body = json!({"subject": subject, "tenant": tenant, "role": role, "ttl": "1h"});
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = client.post_json("/v1/admin/tokens", &body)?;
        if status == 201 {
            return Ok(answer["token"].as_str().context("token")?.to_string());
        }
        ensure!(
            Instant::now() < deadline,
            "minting answered {status}: {answer}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn search(client: &Client, case: &str) -> Result<(u16, Value)> {
    client.post_json(
        "/v1/tenants/city/search/plates",
        &json!({"plate": PLATE, "limit": 5, "case_number": case, "reason": REASON}),
    )
}

/// Retries a search through elections (a 503 or a transport error while the old leader's
/// death is not noticed yet); the hits are its total.
fn search_ok(client: &Client, case: &str) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match search(client, case) {
            Ok((200, page)) => return page["total"].as_u64().context("total"),
            Ok((status, page)) if status != 503 && status != 504 => {
                bail!("search {case} answered {status}: {page}")
            }
            other => ensure!(Instant::now() < deadline, "search {case}: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every entry of `tenant`'s log through `client`, following cursors.
fn entries(client: &Client, tenant: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/v1/admin/audit?tenant={tenant}&limit=7{cursor}");
        let (status, page) = client.get(&path)?;
        ensure!(status == 200, "{path} answered {status}: {page}");
        out.extend(
            page["entries"]
                .as_array()
                .context("entries")?
                .iter()
                .cloned(),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return Ok(out),
        }
    }
}

/// Runs `sightline admin audit verify`; (exit code, stdout).
fn cli_verify(config: &Path, tenant: Option<&str>) -> Result<(i32, String)> {
    let mut command = Command::new(sightline_binary()?);
    command
        .args(["admin", "audit", "verify", "--config"])
        .arg(config);
    if let Some(tenant) = tenant {
        command.args(["--tenant", tenant]);
    }
    let output = command.env("RUST_LOG", "error").output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    eprintln!("{}{}", stdout, String::from_utf8_lossy(&output.stderr));
    Ok((output.status.code().unwrap_or(-1), stdout))
}

/// One log as stored: seq → raw value, and its chain record's (next seq, head hash).
struct RawLog {
    values: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    head: [u8; 32],
    first_seq: u64,
    base: [u8; 32],
}

/// Every audit log of the engine directory `dir`, read with the `rocksdb` crate directly.
fn raw_logs(dir: &Path) -> Result<BTreeMap<u32, RawLog>> {
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir)?;
    let db =
        rocksdb::DB::open_cf_for_read_only(&rocksdb::Options::default(), dir, &families, false)?;
    let audit = db.cf_handle("audit").context("audit family")?;
    let meta = db.cf_handle("meta").context("meta family")?;
    let mut logs = BTreeMap::new();
    for item in db.prefix_iterator_cf(meta, b"audit/chain/") {
        let (key, value) = item?;
        let Some(id) = key.strip_prefix(b"audit/chain/") else {
            break;
        };
        let log = u32::from_be_bytes(id.try_into()?);
        let chain = sightline_storage::audit::decode_chain(&value)?;
        logs.insert(
            log,
            RawLog {
                values: BTreeMap::new(),
                next_seq: chain.next_seq,
                head: chain.head_hash,
                first_seq: chain.first_seq,
                base: chain.base_hash,
            },
        );
    }
    for item in db.iterator_cf(audit, rocksdb::IteratorMode::Start) {
        let (key, value) = item?;
        ensure!(key.len() == 12, "audit key of {} bytes", key.len());
        let log = u32::from_be_bytes(key[0..4].try_into()?);
        let seq = u64::from_be_bytes(key[4..12].try_into()?);
        logs.get_mut(&log)
            .context("entries without a chain record")?
            .values
            .insert(seq, value.to_vec());
    }
    Ok(logs)
}

/// Recomputes a log's chain from its raw values, by the documented format.
fn recompute(log: &RawLog) -> Result<()> {
    let mut prev = log.base;
    let mut expected = log.first_seq;
    for (seq, value) in &log.values {
        ensure!(*seq == expected, "seq {seq} where {expected} was expected");
        ensure!(
            value.len() > 32 + 25 && value[32] == 1,
            "entry {seq} is not of format 1"
        );
        let hash: [u8; 32] = Sha256::new()
            .chain_update(prev)
            .chain_update(seq.to_be_bytes())
            .chain_update(&value[32..])
            .finalize()
            .into();
        ensure!(
            hash[..] == value[..32],
            "entry {seq}: stored hash is not SHA-256(prev, seq, bytes)"
        );
        prev = hash;
        expected += 1;
    }
    ensure!(
        expected == log.next_seq,
        "the chain ends at {expected}, its record at {}",
        log.next_seq
    );
    ensure!(
        prev == log.head,
        "the chain's newest hash is not its record's"
    );
    Ok(())
}

fn engine_dir(cluster: &Cluster, id: u64) -> Result<PathBuf> {
    Ok(sightline_raft::current_engine_dir(
        &cluster.config(id)?.data_dir,
    )?)
}

#[test]
fn the_audit_chain_agrees_and_verifies_on_every_node_and_names_a_flipped_byte() -> Result<()> {
    let mut cluster = Cluster::start(3, Settings::default())?;
    let first_leader = cluster.leader(Duration::from_secs(10))?;
    let admin = admin_token(&cluster)?;
    let as_admin = |c: &Cluster, id: u64| -> Result<Client> { Ok(c.node(id)?.with_token(&admin)) };
    for tenant in ["city", "other"] {
        let (status, body) = as_admin(&cluster, 1)?.put_json(
            &format!("/v1/admin/tenants/{tenant}"),
            &json!({"retention_days": 30}),
        )?;
        ensure!(status == 200 || status == 201, "{body}");
    }
    let a1 = as_admin(&cluster, 1)?;
    let investigator = mint(&a1, "det. t24", "city", "investigator")?;
    let outsider = mint(&a1, "det. other", "other", "investigator")?;
    let auditor = mint(&a1, "aud. t24", "city", "auditor")?;
    let all_auditor = mint(&a1, "aud. everywhere", "*", "auditor")?;
    let ingest = mint(&a1, "camera gateway", "city", "ingest")?;
    let now = now_ms();
    let reads: Vec<_> = (0..5)
        .map(|i| read_json(None, "cam-24", now - i * 60_000, PLATE))
        .collect();
    let (status, body) = cluster
        .node(1)?
        .with_token(&ingest)
        .ingest("city", &ndjson(&reads))?;
    ensure!(status == 200, "{body}");

    // Searches through every node, refused requests, one more admin action per phase.
    let mut cases: Vec<(String, u64)> = Vec::new();
    let mut refused = (0, 0); // (401, 403)
    let mut phase = |cluster: &Cluster, nodes: &[u64], tag: &str| -> Result<()> {
        for (i, id) in nodes.iter().cycle().take(6).enumerate() {
            let case = format!("T24-{tag}-{i}");
            let hits = search_ok(&cluster.node(*id)?.with_token(&investigator), &case)?;
            cases.push((case, hits));
        }
        for id in nodes {
            let node = cluster.node(*id)?;
            ensure!(search(&Client::new(node.url.clone()), "NOPE")?.0 == 401);
            ensure!(search(&node.with_token("sl1.forged.token"), "NOPE")?.0 == 401);
            ensure!(search(&node.with_token(&outsider), "NOPE")?.0 == 403);
            ensure!(search(&node.with_token(&auditor), "NOPE")?.0 == 403);
            refused.0 += 2;
            refused.1 += 2;
        }
        mint(
            &as_admin(cluster, nodes[0])?,
            &format!("ops {tag}"),
            "city",
            "analyst",
        )?;
        Ok(())
    };
    phase(&cluster, &[1, 2, 3], "before")?;

    // SIGKILL the leader, carry on through the others.
    cluster.node_mut(first_leader)?.kill();
    let others: Vec<u64> = (1..=3).filter(|id| *id != first_leader).collect();
    phase(&cluster, &others, "after")?;
    cluster.restart(first_leader)?;
    cluster
        .node(first_leader)?
        .wait_ready(Duration::from_secs(60))?;
    ensure!(cases.iter().all(|(_, hits)| *hits == 5), "{cases:?}");

    // Through the API: the tenant's log is the same on every node (wait for the restarted
    // one to catch up), holds every search once with its fields, and the refused requests.
    let deadline = Instant::now() + Duration::from_secs(30);
    let city = loop {
        let views: Vec<Vec<Value>> = (1..=3)
            .map(|id| entries(&cluster.node(id)?.with_token(&auditor), "city"))
            .collect::<Result<_>>()?;
        if views.iter().all(|v| *v == views[0]) {
            break views[0].clone();
        }
        ensure!(
            Instant::now() < deadline,
            "the nodes' city logs differ: {:?}",
            views.iter().map(Vec::len).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = serde_json::to_string(&city)?;
    ensure!(
        !text.contains(PLATE),
        "a plate in the clear in an audit answer"
    );
    for (i, pair) in city.windows(2).enumerate() {
        ensure!(pair[0]["seq"] == i as u64, "seq {i}");
        ensure!(
            pair[1]["prev_hash"] == pair[0]["hash"],
            "link {i} -> {}",
            i + 1
        );
    }
    for (case, hits) in &cases {
        let found: Vec<&Value> = city
            .iter()
            .filter(|e| e["case_number"] == case.as_str())
            .collect();
        ensure!(
            found.len() == 1,
            "case {case} recorded {} times",
            found.len()
        );
        let e = found[0];
        ensure!(
            e["action"] == "search.plates"
                && e["subject"] == "det. t24"
                && e["role"] == "investigator",
            "{e}"
        );
        ensure!(
            e["reason"] == REASON
                && e["hits"] == *hits
                && e["outcome"] == 200
                && e["tenant"] == "city",
            "{e}"
        );
        ensure!(
            e["terms"]["plate_token"]
                .as_str()
                .is_some_and(|t| t.len() == 16),
            "{e}"
        );
    }
    let count = |status: u16| city.iter().filter(|e| e["outcome"] == status).count();
    ensure!(
        count(401) == refused.0 && count(403) == refused.1,
        "refused {refused:?}: 401 x{}, 403 x{}",
        count(401),
        count(403)
    );
    ensure!(city
        .iter()
        .filter(|e| e["outcome"] == 403)
        .all(|e| e["subject"] != Value::Null));

    // The cluster log holds the token mints (admin actions); it grows with every admin
    // request (this test's and the harness's), so nodes are compared on their common prefix.
    let mut cluster_logs = Vec::new();
    for id in 1..=3 {
        let node = cluster.node(id)?.with_token(&all_auditor);
        let log = entries(&node, "_cluster")?;
        let mints = log
            .iter()
            .filter(|e| e["action"] == "POST /v1/admin/tokens" && e["outcome"] == 201)
            .count();
        ensure!(
            mints >= 7,
            "node {id}: {mints} token mints in the cluster log"
        );
        let (status, verdict) = node.get("/v1/admin/audit/verify")?;
        ensure!(
            status == 200 && verdict["ok"] == true,
            "node {id}: {verdict}"
        );
        cluster_logs.push(log);
    }
    let common = cluster_logs.iter().map(Vec::len).min().unwrap_or(0);
    for log in &cluster_logs {
        ensure!(
            log[..common] == cluster_logs[0][..common],
            "cluster logs differ in their common prefix"
        );
    }

    // Stop every node; the CLI verifies each data directory, and this test recomputes
    // every chain from the raw values; the nodes agree byte for byte on what they share.
    for id in 1..=3 {
        cluster.node_mut(id)?.stop()?;
    }
    let mut raw = Vec::new();
    for id in 1..=3 {
        let config = cluster.member(id)?.dir.join("sightline.toml");
        let (code, out) = cli_verify(&config, None)?;
        ensure!(code == 0, "node {id}: exit {code}");
        ensure!(
            out.contains(&format!("city: OK, {} entries", city.len())),
            "node {id}: {out}"
        );
        ensure!(
            out.contains("_cluster: OK,") && out.contains("other: OK,"),
            "node {id}: {out}"
        );
        let logs = raw_logs(&engine_dir(&cluster, id)?)?;
        for (log, chain) in &logs {
            recompute(chain).with_context(|| format!("node {id}, log {log}"))?;
        }
        raw.push(logs);
    }
    for (log, chain) in &raw[0] {
        for other in &raw[1..] {
            let theirs = other.get(log).context("a log missing on a node")?;
            for (seq, value) in &chain.values {
                if let Some(v) = theirs.values.get(seq) {
                    ensure!(v == value, "log {log} seq {seq} differs between nodes");
                }
            }
        }
    }

    // Flip one byte of one entry of the city log on node 2: the CLI names that entry.
    let dir = engine_dir(&cluster, 2)?;
    let city_log = sightline_storage::audit::verify_dir(&dir, Some("city"))?[0].log;
    let target = city.len() as u64 / 2;
    {
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &dir)?;
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &dir, &families)?;
        let audit = db.cf_handle("audit").context("audit family")?;
        let key = sightline_storage::audit::entry_key(city_log, target);
        let mut value = db.get_cf(audit, key)?.context("the target entry")?;
        let at = value.len() - 7;
        value[at] ^= 0x20;
        db.put_cf(audit, key, &value)?;
        db.flush_cf(audit)?;
    }
    let config = cluster.member(2)?.dir.join("sightline.toml");
    let (code, out) = cli_verify(&config, None)?;
    ensure!(code == 2, "exit {code} for a broken chain");
    let expected = format!("city: BROKEN at seq {target}: entry altered");
    ensure!(out.contains(&expected), "expected {expected:?} in {out}");
    ensure!(
        out.contains("_cluster: OK,") && out.contains("other: OK,"),
        "{out}"
    );
    let (code, out) = cli_verify(&config, Some("city"))?;
    ensure!(code == 2 && out.contains(&expected), "{out}");
    // The other nodes are untouched.
    ensure!(cli_verify(&cluster.member(3)?.dir.join("sightline.toml"), Some("city"))?.0 == 0);
    Ok(())
}
