//! Issue 14, finding 5: a write whose outcome is unknown answers 504 `outcome_unknown`, never
//! a retryable 503. The leader is cut off from both followers (fault injection drops its
//! outgoing Raft traffic), so it appends a batch it cannot commit; the client gets 504 after
//! the deadline. Once the partition heals, the client retries the batch (it carries client
//! ids, so that is safe) and every node holds it exactly once.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{now_ms, read_json};
use common::{Cluster, Settings};
use serde_json::json;

#[test]
fn a_write_cut_off_from_its_quorum_answers_outcome_unknown() -> Result<()> {
    let settings = Settings {
        fault_injection: true,
        ..Settings::default()
    };
    let cluster = Cluster::start(3, settings)?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    cluster.node(leader)?.create_tenant("retry", 30)?;
    let others: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let now = now_ms();
    let batch: Vec<_> = (0..50)
        .map(|i| read_json(Some(&format!("r-{i}")), "cam-1", now - i * 1000, "RETRY1"))
        .collect();

    let (status, answer) = cluster
        .node(leader)?
        .post_json("/v1/admin/faults", &json!({"drop_to": others}))?;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = cluster
        .node(leader)?
        .post_json("/v1/tenants/retry/reads", &json!(batch))?;
    assert_eq!(status, 504, "{}", answer["error"]);
    assert_eq!(answer["error"]["code"], "outcome_unknown");

    for node in cluster.running() {
        node.post_json("/v1/admin/faults", &json!({"clear": true}))?;
    }
    let leader = cluster.leader(Duration::from_secs(20))?;
    let (status, answer) = cluster
        .node(leader)?
        .post_json("/v1/tenants/retry/reads", &json!(batch))?;
    assert_eq!(status, 200, "{}", answer["error"]);
    cluster.wait_converged(Duration::from_secs(30))?;
    for node in cluster.running() {
        assert_eq!(
            node.plate_total("retry", "RETRY1", true)?,
            50,
            "{}",
            node.url
        );
    }
    Ok(())
}
