//! A three-node cluster of real processes on loopback: replication, forwarding,
//! linearizable reads from followers, and checksums that agree.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{ndjson, now_ms, read_json};
use common::{Cluster, Settings};
use serde_json::json;

#[test]
fn a_batch_acknowledged_by_any_node_is_found_on_every_node() -> Result<()> {
    let cluster = Cluster::start(3, Settings::default())?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    cluster.node(1)?.create_tenant("city", 30)?;
    let now = now_ms();
    for node in cluster.running() {
        // Each node, leader or follower, acknowledges its own batch of 100 reads.
        let plate = format!("ANY{}", &node.url[node.url.len() - 5..]);
        let reads: Vec<_> = (0..100)
            .map(|i| read_json(None, "cam-1", now - i * 1000, &plate))
            .collect();
        let (status, answer) = node.post(
            "/v1/tenants/city/reads",
            "application/x-ndjson",
            &ndjson(&reads),
        )?;
        assert_eq!(status, 200, "{}: {answer}", node.url);
        // A linearizable read right after, on every node (followers included), sees it.
        for reader in cluster.running() {
            assert_eq!(
                reader.plate_total("city", &plate, false)?,
                100,
                "{} reading a write acked by {}",
                reader.url,
                node.url
            );
        }
    }
    let (applied, checksum) = cluster.wait_converged(Duration::from_secs(10))?;
    assert!(applied >= 4, "applied index {applied}");
    assert_eq!(checksum.len(), 64);

    // The admin view names the leader and three voters.
    let (_, status) = cluster.node(2)?.get("/v1/admin/cluster")?;
    assert_eq!(status["leader"], leader);
    let roles: Vec<&str> = status["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["role"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(roles.len(), 3, "{status}");
    assert_eq!(
        roles.iter().filter(|r| **r == "leader").count(),
        1,
        "{status}"
    );
    Ok(())
}

#[test]
fn a_follower_forwarded_write_is_seen_by_a_linearizable_read_on_another_follower() -> Result<()> {
    let cluster = Cluster::start(3, Settings::default())?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let (writer, reader) = (cluster.node(followers[0])?, cluster.node(followers[1])?);
    writer.create_tenant("city", 30)?;
    let now = now_ms();
    for round in 0..20 {
        let plate = format!("FWD{round:03}");
        let reads: Vec<_> = (0..10)
            .map(|i| read_json(None, "cam-2", now - i * 1000, &plate))
            .collect();
        let (status, answer) = writer.post_json("/v1/tenants/city/reads", &json!(reads))?;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            reader.plate_total("city", &plate, false)?,
            10,
            "round {round}: the read missed an acknowledged write"
        );
    }
    Ok(())
}

/// Raft log payloads are sealed like values: no node's data directory (engine, Raft log,
/// snapshots) holds a plate (read or hotlisted) or an exact position in the clear.
#[test]
fn no_plaintext_in_any_replicas_data_directory() -> anyhow::Result<()> {
    use common::plaintext::{needles, scan};
    let mut cluster = Cluster::start(
        3,
        Settings {
            snapshot_after: 3,
            keep_after_snapshot: 1,
            ..Settings::default()
        },
    )?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    let follower = (1..=3).find(|id| *id != leader).unwrap_or(2);
    cluster.node(follower)?.create_tenant("acme", 30)?;
    let plates = ["QZX 9K7W", "wvu-84jq"];
    let positions = [(41.912_345_6, -87.654_321_9)];
    for round in 0..6 {
        let mut reads = Vec::new();
        for plate in plates {
            let mut read = read_json(None, "cam-9", now_ms() - round * 1000, plate);
            read["lat"] = json!(positions[0].0);
            read["lon"] = json!(positions[0].1);
            reads.push(read);
        }
        let (status, answer) = cluster
            .node(follower)?
            .post_json("/v1/tenants/acme/reads", &json!(reads))?;
        assert_eq!(status, 200, "{answer}");
    }
    // A plate only a hotlist names reaches the replicas through the Raft log and `meta`.
    let (status, answer) = cluster.node(follower)?.put_json(
        "/v1/tenants/acme/hotlists/wanted",
        &json!({"plates": ["HQ7WX3ZK"]}),
    )?;
    assert_eq!(status, 201, "{answer}");
    cluster.wait_converged(Duration::from_secs(10))?;
    for id in 1..=3 {
        cluster.node_mut(id)?.stop()?;
    }
    let mut files = 0;
    let found = scan(
        cluster.root(),
        &needles(&[plates[0], plates[1], "HQ7WX3ZK"], &positions),
        &mut files,
    )?;
    assert!(files >= 30, "scanned only {files} files");
    assert!(found.is_empty(), "plaintext on disk: {found:#?}");
    Ok(())
}
