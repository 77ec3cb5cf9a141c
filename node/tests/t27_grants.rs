//! Cross-agency grants on a three-node cluster of real processes (issue 15, acceptance 7):
//! once `PUT .../grants/{grantee}` answers, every node lets the grantee's investigators
//! search the owner's reads; once `DELETE` answers (through the leader), every node refuses
//! the very next search, with no retry; once a short grant's `expires_at` passes, every node
//! refuses it too; and each search made under a grant is in both tenants' audit logs, as
//! every node serves them.

mod common;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use common::{ndjson, now_ms, read_json, Cluster, Settings};
use serde_json::{json, Value};

const PLATE: &str = "T27GRT1";

/// A search by `city`'s investigators through `node` for the plate in both tenants.
fn search(cluster: &Cluster, node: u64, case: &str) -> Result<(u16, Value)> {
    cluster.node(node)?.post_json(
        "/v1/tenants/city/search/plates",
        &json!({"plate": PLATE, "tenants": ["county"], "limit": 100,
            "case_number": case, "reason": "t27 joint investigation"}),
    )
}

/// The search entries of `tenant`'s log as `node` serves them.
fn searches(cluster: &Cluster, node: u64, tenant: &str) -> Result<Vec<Value>> {
    let (status, page) = cluster
        .node(node)?
        .get(&format!("/v1/admin/audit?tenant={tenant}&limit=1000"))?;
    ensure!(status == 200, "audit of {tenant} on node {node}: {page}");
    Ok(page["entries"]
        .as_array()
        .context("entries")?
        .iter()
        .filter(|e| e["action"] == "search.plates" && e["outcome"] == 200)
        .cloned()
        .collect())
}

#[test]
fn grants_expire_and_are_revoked_at_once_on_every_node_and_are_audited_twice() -> Result<()> {
    let cluster = Cluster::start(3, Settings::default())?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    let follower = (1..=3).find(|id| *id != leader).context("a follower")?;
    for tenant in ["city", "county"] {
        cluster.node(leader)?.create_tenant(tenant, 30)?;
    }
    let now = now_ms();
    for (tenant, count) in [("county", 7), ("city", 4)] {
        let reads: Vec<_> = (0..count)
            .map(|i| read_json(None, "cam-27", now - i * 60_000, PLATE))
            .collect();
        let (status, body) = cluster.node(leader)?.ingest(tenant, &ndjson(&reads))?;
        ensure!(status == 200, "{body}");
    }
    // Without a grant every node refuses, naming the tenant.
    for id in 1..=3 {
        let (status, body) = search(&cluster, id, "T27-NONE")?;
        ensure!(status == 403, "node {id} without a grant: {status} {body}");
        ensure!(
            body["error"]["details"][0]["field"] == "tenants[0]",
            "{body}"
        );
    }

    // Granted through a follower: every node serves the next search, no retry.
    let grant = |expires_at: &str| -> Result<Value> {
        let (status, body) = cluster.node(follower)?.put_json(
            "/v1/admin/tenants/county/grants/city",
            &json!({"kinds": ["reads"], "expires_at": expires_at}),
        )?;
        ensure!(status == 201 || status == 200, "grant: {status} {body}");
        Ok(body)
    };
    grant("now+1h")?;
    let mut made = 0;
    for id in 1..=3 {
        let (status, page) = search(&cluster, id, &format!("T27-GRANTED-{id}"))?;
        ensure!(status == 200, "node {id} under the grant: {status} {page}");
        ensure!(page["total"] == 11, "node {id}: {page}");
        let owners = page["hits"]
            .as_array()
            .context("hits")?
            .iter()
            .filter(|h| h["tenant"] == "county")
            .count();
        ensure!(owners == 7, "node {id}: {owners} of county's 7 reads");
        made += 1;
    }

    // Revoked through the leader: every node refuses the next search.
    let (status, body) = cluster
        .node(leader)?
        .delete("/v1/admin/tenants/county/grants/city")?;
    ensure!(status == 200, "revoke: {body}");
    for id in 1..=3 {
        let (status, body) = search(&cluster, id, "T27-REVOKED")?;
        ensure!(
            status == 403,
            "node {id} still serves a revoked grant: {status} {body}"
        );
    }

    // A three-second grant: served, then refused everywhere once it has expired.
    let body = grant("now+3s")?;
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().context("expires_at")?)?
            .timestamp_millis();
    for id in 1..=3 {
        let (status, page) = search(&cluster, id, &format!("T27-SHORT-{id}"))?;
        ensure!(status == 200, "node {id} under the short grant: {page}");
        made += 1;
    }
    let wait = expires_at - now_ms();
    if wait > 0 {
        std::thread::sleep(Duration::from_millis(wait as u64 + 50));
    }
    for id in 1..=3 {
        let (status, body) = search(&cluster, id, "T27-EXPIRED")?;
        ensure!(
            status == 403,
            "node {id} serves a grant that expired {} ms ago: {status} {body}",
            now_ms() - expires_at
        );
    }

    // Both logs hold each of the searches made under a grant, on every node.
    for id in 1..=3 {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mine, theirs) = loop {
            let mine = searches(&cluster, id, "city")?;
            let theirs = searches(&cluster, id, "county")?;
            if (mine.len() >= made && theirs.len() >= made) || Instant::now() > deadline {
                break (mine, theirs);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        ensure!(mine.len() == made, "node {id}: city's log {mine:#?}");
        ensure!(theirs.len() == made, "node {id}: county's log {theirs:#?}");
        for (m, t) in mine.iter().zip(&theirs) {
            ensure!(m["case_number"] == t["case_number"], "{m} / {t}");
            ensure!(m["terms"]["tenants"] == json!(["county"]), "{m}");
            ensure!(m["hits"] == 11, "{m}");
            ensure!(t["terms"]["grantee"] == "city", "{t}");
            ensure!(t["hits"] == 7, "{t}");
            ensure!(t["tenant"] == "county", "{t}");
        }
    }
    let (status, listed) = cluster
        .node(follower)?
        .get("/v1/admin/tenants/county/grants")?;
    ensure!(status == 200, "{listed}");
    ensure!(listed["grants"][0]["active"] == false, "{listed}");
    eprintln!("{made} searches under grants, each in both logs on all 3 nodes");
    Ok(())
}
