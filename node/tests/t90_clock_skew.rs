//! Issue 14, finding 3: replicated state must not depend on any node's clock. One node's
//! clock runs an hour fast, first while it follows and then while it leads; reads that
//! expire in 20 minutes real time (so already expired by the fast clock) must survive
//! compaction on every node, every node must answer the same search the same way, and
//! replicas at the same applied index must report the same checksum, while ingest and a
//! retention change run. Retention itself must still work (a read past it disappears
//! everywhere), so the test cannot pass by never expiring anything.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use common::{now_ms, read_json, Node};
use common::{Cluster, Settings};
use serde_json::json;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn ingest(node: &Node, plate: &str, captured_at: i64, n: i64) -> Result<()> {
    let reads: Vec<_> = (0..n)
        .map(|i| read_json(None, "cam-skew", captured_at + i * 1000, plate))
        .collect();
    let (status, answer) = node.post_json("/v1/tenants/skew/reads", &json!(reads))?;
    if status != 200 {
        bail!("ingest answered {status}: {answer}");
    }
    Ok(())
}

/// Every running node's follower-read total for `plate`.
fn totals(cluster: &Cluster, plate: &str) -> Result<Vec<u64>> {
    cluster
        .running()
        .map(|n| n.plate_total("skew", plate, true))
        .collect()
}

/// Every replica at one applied index, with one checksum (fails at once on divergence).
fn checksums_agree(cluster: &Cluster) -> Result<()> {
    cluster.wait_converged(Duration::from_secs(30)).map(|_| ())
}

fn compact_all(cluster: &Cluster) -> Result<()> {
    for node in cluster.running() {
        let (status, answer) = node.post_json("/v1/admin/compact", &json!({}))?;
        if status != 200 {
            bail!("compact answered {status}: {answer}");
        }
    }
    Ok(())
}

fn skew(node: &Node, ms: i64) -> Result<()> {
    let (status, answer) = node.post_json("/v1/admin/faults", &json!({"clock_skew_ms": ms}))?;
    if status != 200 {
        bail!("faults answered {status}: {answer}");
    }
    Ok(())
}

/// Waits until every node answers `want` for `plate` (retention takes effect within a few
/// clock ticks).
fn wait_totals(cluster: &Cluster, plate: &str, want: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = totals(cluster, plate)?;
        if got.iter().all(|t| *t == want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{plate}: nodes answer {got:?}, want {want} everywhere");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_clock_an_hour_fast_deletes_nothing_early_as_follower_or_leader() -> Result<()> {
    let settings = Settings {
        clock_interval_ms: 200,
        fault_injection: true,
        ..Settings::default()
    };
    let cluster = Cluster::start(3, settings)?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    let follower = (1..=3).find(|id| *id != leader).unwrap_or(2);
    cluster.node(leader)?.create_tenant("skew", 1)?;

    for (round, fast) in [(1, follower), (2, leader)] {
        for id in 1..=3 {
            skew(cluster.node(id)?, if id == fast { HOUR } else { 0 })?;
        }
        let edge = format!("EDGE{round}");
        let gone = format!("GONE{round}");
        // 20 minutes from expiry in real time; 40 minutes past it by the fast clock.
        let now = now_ms();
        ingest(cluster.node(fast)?, &edge, now - DAY + 20 * 60_000, 10)?;
        ingest(
            cluster.node(leader)?,
            &edge,
            now - DAY + 20 * 60_000 + 10_000,
            10,
        )?;
        // Three seconds from expiry: gone everywhere soon, which proves retention runs.
        ingest(cluster.node(leader)?, &gone, now - DAY + 3_000, 5)?;
        // A retention change while the skew holds: longer, then back to a day.
        cluster.node(fast)?.create_tenant("skew", 2)?;
        checksums_agree(&cluster)?;
        cluster.node(leader)?.create_tenant("skew", 1)?;
        std::thread::sleep(Duration::from_secs(1));
        compact_all(&cluster)?;
        checksums_agree(&cluster)?;
        wait_totals(&cluster, &gone, 0)?;
        assert_eq!(
            totals(&cluster, &edge)?,
            vec![20, 20, 20],
            "round {round}: node {fast} is an hour fast; no node may drop {edge}"
        );
        compact_all(&cluster)?;
        checksums_agree(&cluster)?;
        assert_eq!(totals(&cluster, &edge)?, vec![20, 20, 20]);
    }
    Ok(())
}
