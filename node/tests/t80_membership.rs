//! Membership: remove a voter, keep writing on the remaining two, add it back.

mod common;

use std::time::Duration;

use anyhow::{Context, Result};
use common::{now_ms, read_json};
use common::{Cluster, Settings};
use serde_json::json;

#[test]
fn remove_a_voter_keep_serving_then_add_it_back() -> Result<()> {
    let mut cluster = Cluster::start(3, Settings::default())?;
    cluster.node(1)?.create_tenant("city", 30)?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    let removed = (1..=3).find(|id| *id != leader).context("a follower")?;
    let (status, answer) = cluster
        .node(leader)?
        .delete(&format!("/v1/admin/cluster/nodes/{removed}"))?;
    assert_eq!(status, 200, "{answer}");
    let ids: Vec<u64> = answer["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["id"].as_u64()).collect())
        .unwrap_or_default();
    assert!(!ids.contains(&removed), "{answer}");
    cluster.node_mut(removed)?.stop()?;
    cluster.take(removed);

    // The remaining two accept writes and answer reads.
    let now = now_ms();
    for round in 0..10 {
        let plate = format!("TWO{round}");
        for node in cluster.running() {
            let reads: Vec<_> = (0..5)
                .map(|i| read_json(None, "cam-4", now - i * 1000, &plate))
                .collect();
            let (status, answer) = node.post_json("/v1/tenants/city/reads", &json!(reads))?;
            assert_eq!(status, 200, "{answer}");
        }
        for node in cluster.running() {
            assert_eq!(node.plate_total("city", &plate, false)?, 10);
        }
    }

    // Bring it back and add it: it catches up and votes again.
    cluster.restart(removed)?;
    let member = cluster
        .members
        .iter()
        .find(|m| m.id == removed)
        .context("member")?;
    let body = json!({"id": removed, "addr": format!("127.0.0.1:{}", member.raft_port), "http_addr": format!("127.0.0.1:{}", member.http_port)});
    let (status, answer) = cluster
        .node(leader)?
        .post_json("/v1/admin/cluster/nodes", &body)?;
    assert_eq!(status, 200, "{answer}");
    cluster.node(removed)?.wait_ready(Duration::from_secs(30))?;
    cluster.wait_converged(Duration::from_secs(30))?;
    assert_eq!(
        cluster.node(removed)?.plate_total("city", "TWO9", false)?,
        10
    );
    let (_, status) = cluster.node(removed)?.get("/v1/admin/cluster")?;
    let voters = status["members"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["role"] != "learner").count())
        .unwrap_or(0);
    assert_eq!(voters, 3, "{status}");
    Ok(())
}
