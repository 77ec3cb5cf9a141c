//! Per-tenant retention: expired reads are never returned, and a compaction removes every
//! trace of them from every column family.

mod common;

use anyhow::Result;
use common::{now_ms, read_json, Node};
use serde_json::json;
use sightline_storage::keys::{cf, tenant_and_time, time_location};
use sightline_storage::{Engine, EngineConfig, MasterKey};

const DAY: i64 = 86_400_000;

#[test]
fn expired_reads_are_hidden_then_compacted_away() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut node = Node::start(dir.path())?;
    node.create_tenant("short", 30)?;
    node.create_tenant("long", 30)?;
    let now = now_ms();
    let old: Vec<_> = (0..40)
        .map(|i| {
            read_json(
                Some(&format!("old-{i}")),
                "cam-1",
                now - 3 * DAY - i * 60_000,
                "OLD3DAY",
            )
        })
        .collect();
    let fresh: Vec<_> = (0..10)
        .map(|i| read_json(None, "cam-1", now - i * 60_000, "OLD3DAY"))
        .collect();
    for tenant in ["short", "long"] {
        for batch in [&old, &fresh] {
            let (status, answer) =
                node.post_json(&format!("/v1/tenants/{tenant}/reads"), &json!(batch))?;
            assert_eq!(status, 200, "{answer}");
        }
    }
    let (_, total, _) = node.search_all("short", json!({"plate": "OLD3DAY"}))?;
    assert_eq!(total, 50, "within 30 days everything is visible");

    // Retention drops to one day: once the cluster clock runs (the leader's first tick after
    // its election), the old reads vanish from answers at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while node.get("/v1/admin/cluster")?.1["cluster_time"].is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster clock never ticked"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    node.create_tenant("short", 1)?;
    let (hits, total, _) = node.search_all("short", json!({"plate": "OLD3DAY"}))?;
    assert_eq!((hits.len(), total), (10, 10));
    let (_, total, _) = node.search_all(
        "short",
        json!({"plate": "OLD3DAY", "from": "2000-01-01T00:00:00Z"}),
    )?;
    assert_eq!(
        total, 10,
        "an explicit old `from` does not reach past retention"
    );
    let (_, long_total, _) = node.search_all("long", json!({"plate": "OLD3DAY"}))?;
    assert_eq!(long_total, 50, "other tenants keep their data");

    let (status, answer) = node.post_json("/v1/admin/compact", &json!({}))?;
    assert_eq!(status, 200, "{answer}");
    node.stop()?;

    // A raw iteration of every column family finds no entry of the short tenant older than
    // a day, and finds the long tenant's old entries still there.
    let engine = Engine::open(
        &EngineConfig::new(sightline_raft::current_engine_dir(
            &dir.path().join("data"),
        )?),
        MasterKey::from_hex(&"11".repeat(32))?,
    )?;
    let short = engine.tenant("short").map(|t| t.id).unwrap_or(0);
    let long = engine.tenant("long").map(|t| t.id).unwrap_or(0);
    let cutoff = now - DAY;
    let (mut short_live, mut long_old) = (0, 0);
    for name in cf::DATA {
        let Some(loc) = time_location(name) else {
            continue;
        };
        engine.for_each_raw(name, |key, value| {
            if let Some((tenant, ts)) = tenant_and_time(loc, key, value) {
                assert!(
                    !(tenant == short && ts < cutoff),
                    "{name}: expired entry of tenant short survived compaction"
                );
                if tenant == short && name == cf::READS {
                    short_live += 1;
                }
                if tenant == long && ts < cutoff && name == cf::READS {
                    long_old += 1;
                }
            }
        })?;
    }
    assert_eq!(short_live, 10);
    assert_eq!(long_old, 40);
    Ok(())
}
