//! Issue 14, finding 1: one large entry must not stall every write. openraft gives one
//! AppendEntries a single heartbeat interval and never shrinks a request that timed out, so
//! on a slow link a large batch was never acknowledged and no quorum formed. Now an entry is
//! bounded (a larger batch answers 413 naming the bound) and the heartbeat is derived from
//! the bound and the slowest link the cluster is configured for. Here every node's outgoing
//! Raft traffic is throttled to 20 MB/s (the fault endpoint's `bytes_per_s`), the cluster is
//! configured for such a link (`link_mb_per_s = 20`, `max_entry_bytes` 4 MiB), and batches
//! just under the bound commit on all three nodes.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use common::{now_ms, read_json};
use common::{Cluster, Settings};
use serde_json::{json, Value};

const MAX_ENTRY: u64 = 4 << 20;
/// Reads in a batch just under the bound (about 3 MB encoded).
const READS: usize = 14_000;

/// `n` reads, alternating between plates `{plate}A` and `{plate}B` (so each total stays
/// under the 10,000 exact-count bound).
fn batch(plate: &str, n: usize) -> Value {
    let now = now_ms();
    json!((0..n)
        .map(|i| {
            let plate = format!("{plate}{}", if i % 2 == 0 { 'A' } else { 'B' });
            read_json(
                None,
                &format!("cam-{}", i % 50),
                now - i as i64 * 100,
                &plate,
            )
        })
        .collect::<Vec<_>>())
}

#[test]
fn large_batches_commit_over_a_throttled_link_and_oversized_ones_are_refused() -> Result<()> {
    let settings = Settings {
        heartbeat_ms: 50,
        fault_injection: true,
        max_entry_bytes: MAX_ENTRY,
        link_mb_per_s: 20,
        ..Settings::default()
    };
    let cluster = Cluster::start(3, settings)?;
    let leader = cluster.leader(Duration::from_secs(20))?;
    for node in cluster.running() {
        let (status, answer) = node.post_json(
            "/v1/admin/faults",
            &json!({"bytes_per_s": 20_000_000, "to": [1, 2, 3]}),
        )?;
        if status != 200 {
            bail!("faults answered {status}: {answer}");
        }
    }
    let node = cluster.node(leader)?;
    node.create_tenant("big", 30)?;

    // Above the bound: refused whole, with the bound named, before anything is logged.
    let (status, answer) = node.post_json("/v1/tenants/big/reads", &batch("HUGE1", 40_000))?;
    assert_eq!(status, 413, "{}", answer["error"]);
    assert_eq!(answer["error"]["code"], "payload_too_large");
    let message = answer["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(&MAX_ENTRY.to_string()), "{message}");
    eprintln!("{message}");

    // Just under it: each batch ships in ~150 ms over the throttled link, three times the
    // configured 50 ms heartbeat, and still commits.
    for round in 0..3 {
        let plate = format!("BIG{round}");
        let started = Instant::now();
        let (status, answer) = node.post_json("/v1/tenants/big/reads", &batch(&plate, READS))?;
        assert_eq!(status, 200, "round {round}: {}", answer["error"]);
        eprintln!(
            "round {round}: {READS} reads committed in {:?}",
            started.elapsed()
        );
    }
    cluster.wait_converged(Duration::from_secs(60))?;
    for node in cluster.running() {
        for round in 0..3 {
            for half in ['A', 'B'] {
                let total = node.plate_total("big", &format!("BIG{round}{half}"), true)?;
                assert_eq!(total, READS as u64 / 2, "{}: BIG{round}{half}", node.url);
            }
        }
        assert_eq!(node.plate_total("big", "HUGE1A", true)?, 0);
    }
    Ok(())
}
