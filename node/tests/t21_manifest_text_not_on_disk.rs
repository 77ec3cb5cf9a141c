//! The manifest text index holds no plaintext on disk: distinctive label and transcript
//! words planted in manifests are found by `search/manifests` (before and after a restart,
//! which rebuilds the in-memory index from the sealed rows) and appear in no file under the
//! data directory of one node, nor of any replica of a 3-node cluster (engine, Raft log,
//! snapshots).

mod common;

use std::time::Duration;

use anyhow::Result;
use common::plaintext::{needles, scan};
use common::{now_ms, Cluster, Launch, Node, NodeConfig, Settings};
use serde_json::{json, Value};

/// Words nothing else on disk says.
const LABEL: &str = "Zorblaxquin";
const SPOKEN: &str = "vexquandrilo";
const PHRASE: &str = "plumbiferous quaggatrix";

fn manifests(now: i64, round: i64) -> Value {
    let list: Vec<Value> = (0..5)
        .map(|i| {
            json!({"device_id": format!("bodycam-{i}"), "kind": "video",
                "started_at": sightline_storage::time::format_rfc3339_ms(now - round * 10_000 - i * 1000),
                "duration_ms": 30_000, "object_key": format!("media/{round}/{i}.mp4"),
                "sha256": "ef".repeat(32), "bytes": 4096, "labels": [LABEL, "person"],
                "transcript": format!("dispatch {SPOKEN} copy {PHRASE} over")})
        })
        .collect();
    json!(list)
}

fn search(node: &Node, q: &str) -> Result<(u16, Value)> {
    node.post_json(
        "/v1/tenants/acme/search/manifests",
        &json!({"q": q, "limit": 1000, "case_number": "2026-21", "reason": "test"}),
    )
}

fn planted() -> Vec<(String, Vec<u8>)> {
    let words = [LABEL, SPOKEN, "plumbiferous", "quaggatrix"];
    needles(&words, &[])
}

#[test]
fn planted_words_are_searchable_and_appear_in_no_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = NodeConfig::single(dir.path(), 1, common::free_port()?);
    let mut node = Node::launch(dir.path(), config.clone(), &Launch::test()?)?;
    node.create_tenant("acme", 30)?;
    let now = now_ms();
    // One batch compacted into SSTs, the next left in the WAL and memtable.
    let (status, answer) = node.post_json("/v1/tenants/acme/manifests", &manifests(now, 0))?;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = node.post_json("/v1/admin/compact", &json!({}))?;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = node.post_json("/v1/tenants/acme/manifests", &manifests(now, 1))?;
    assert_eq!(status, 200, "{answer}");
    for q in [LABEL, SPOKEN, &format!("\"{PHRASE}\"")] {
        let (status, answer) = search(&node, q)?;
        assert_eq!(
            (status, answer["total"].as_u64()),
            (200, Some(10)),
            "{q}: {answer}"
        );
    }
    node.stop()?;
    let mut node = Node::launch(dir.path(), config, &Launch::test()?)?;
    let (status, answer) = search(&node, &SPOKEN.to_uppercase())?;
    assert_eq!(
        (status, answer["total"].as_u64()),
        (200, Some(10)),
        "rebuilt on start: {answer}"
    );
    node.stop()?;

    let mut files = 0;
    let found = scan(&dir.path().join("data"), &planted(), &mut files)?;
    assert!(files >= 5, "scanned only {files} files");
    assert!(found.is_empty(), "plaintext on disk: {found:#?}");
    Ok(())
}

#[test]
fn planted_words_appear_in_no_replicas_data_directory() -> Result<()> {
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
    let now = now_ms();
    for round in 0..6 {
        let (status, answer) = cluster
            .node(follower)?
            .post_json("/v1/tenants/acme/manifests", &manifests(now, round))?;
        assert_eq!(status, 200, "{answer}");
    }
    cluster.wait_converged(Duration::from_secs(10))?;
    for id in 1..=3 {
        let (status, answer) = search(cluster.node(id)?, SPOKEN)?;
        assert_eq!(
            (status, answer["total"].as_u64()),
            (200, Some(30)),
            "node {id}: {answer}"
        );
    }
    for id in 1..=3 {
        cluster.node_mut(id)?.stop()?;
    }
    let mut files = 0;
    let found = scan(cluster.root(), &planted(), &mut files)?;
    assert!(files >= 30, "scanned only {files} files");
    assert!(found.is_empty(), "plaintext on disk: {found:#?}");
    Ok(())
}
