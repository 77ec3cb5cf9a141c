//! Issue 14, finding 6: the Raft log is kept by bytes, not by entry count. With the node's
//! default settings, a follower that missed 1,500 small batches (about 1 MB of log) catches
//! up from the leader's log. Before, the log was snapshotted every 500 entries and cut to
//! 100, so the same follower was sent the whole database as a snapshot, and every 500
//! small writes paid for a snapshot.

use std::time::Duration;

use anyhow::{Context, Result};
use sightline_chaos::{ndjson, now_ms, read_json, Cluster, Settings};

#[test]
fn a_follower_that_missed_many_small_entries_catches_up_from_the_log() -> Result<()> {
    let settings = Settings {
        // No [raft] keys but the test's: the node's own log retention.
        node_defaults: true,
        ..Settings::default()
    };
    let mut cluster = Cluster::start(3, settings)?;
    cluster.node(1)?.create_tenant("logs", 30)?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    let lagging = (1..=3).find(|id| *id != leader).context("a follower")?;
    cluster.node_mut(lagging)?.stop()?;

    let now = now_ms();
    for i in 0..1_500i64 {
        let read = read_json(None, "cam-1", now - i * 1000, &format!("LOG{}", i % 10));
        let (status, answer) = cluster.node(leader)?.ingest("logs", &ndjson(&[read]))?;
        assert_eq!(status, 200, "batch {i}: {answer}");
    }

    cluster.restart(lagging)?;
    cluster.node(lagging)?.wait_ready(Duration::from_secs(60))?;
    cluster.wait_converged(Duration::from_secs(60))?;
    for plate in 0..10 {
        assert_eq!(
            cluster
                .node(lagging)?
                .plate_total("logs", &format!("LOG{plate}"), true)?,
            150
        );
    }
    // Caught up from the log: no snapshot was installed, so the engine it started with is
    // still the current one.
    let member = cluster.member(lagging)?;
    let engine = std::fs::read_to_string(member.dir.join("data").join("ENGINE"))?;
    assert_eq!(
        engine.trim(),
        "engine-0",
        "the follower was sent a snapshot for 1,500 small entries"
    );
    Ok(())
}
