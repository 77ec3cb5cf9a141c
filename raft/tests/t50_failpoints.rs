//! Issue 14, finding 2: a crash during a snapshot install must leave a node that starts,
//! at the snapshot. Failpoints (the `fail` crate, compiled into test builds only) stop the
//! install after each of its steps, as a crash would; openraft has by then purged the log up
//! to the snapshot (it does so as soon as it hands the install over). The node is then
//! reopened from its directory and must stand at the snapshot with the snapshot's data,
//! with no gap between what it applied and what its log holds.
//!
//! Failpoints are process-wide, so the tests take turns (`SERIAL`). The second test puts
//! failpoints on each side of the two durable writes: the log append and the apply.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use openraft::storage::{RaftLogStorage, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{CommittedLeaderId, EntryPayload, LogId};
use sightline_raft::{current_engine_dir, LogStore, StateMachine, TypeConfig};
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::{Command, Engine, EngineConfig, MasterKey};

fn master() -> MasterKey {
    MasterKey::from_bytes(&[5; 32])
}

fn open(dir: &Path) -> anyhow::Result<(LogStore, StateMachine, Arc<ArcSwap<Engine>>)> {
    let mut config = EngineConfig::new(current_engine_dir(dir)?);
    config.block_cache_bytes = 8 << 20;
    let engine = Arc::new(ArcSwap::from_pointee(Engine::open(&config, master())?));
    let sm = StateMachine::new(dir, engine.clone(), config)?;
    let log = LogStore::open(&dir.join("raft-log"))?;
    Ok((log, sm, engine))
}

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(3, 1), index)
}

fn entry(index: u64, command: Command) -> openraft::Entry<TypeConfig> {
    openraft::Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(command),
    }
}

/// Every step after which a crash can stop an install.
const STEPS: [&str; 4] = [
    "install-after-store",
    "install-after-materialize",
    "install-after-open",
    "install-after-switch",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_of_a_snapshot_install_leaves_a_node_that_starts_at_the_snapshot(
) -> anyhow::Result<()> {
    let _turn = SERIAL.lock().await;
    // The leader's state: two tenants at index 12, and a snapshot of it.
    let leader_dir = tempfile::tempdir()?;
    let (_, mut leader, _) = open(leader_dir.path())?;
    let mut entries: Vec<_> = (1..=10)
        .map(|i| openraft::Entry {
            log_id: log_id(i),
            payload: EntryPayload::Blank,
        })
        .collect();
    for (i, name) in [(11, "north"), (12, "south")] {
        entries.push(entry(
            i,
            Command::UpsertTenant {
                name: name.into(),
                policy: TenantPolicy::default(),
                keys: generate_tenant_keys(&master(), name),
            },
        ));
    }
    leader.apply(entries).await?;
    let snapshot = leader.get_snapshot_builder().await.build_snapshot().await?;
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(12)));

    for step in STEPS {
        let dir = tempfile::tempdir()?;
        {
            let (mut log, mut follower, _) = open(dir.path())?;
            // The transport's receive: the files land in a directory of the follower's, and
            // are made durable before openraft is told (as the gRPC server does).
            let received = follower.begin_receiving_snapshot().await?;
            for file in std::fs::read_dir(snapshot.snapshot.dir())? {
                let file = file?;
                std::fs::copy(file.path(), received.dir().join(file.file_name()))?;
            }
            let received = follower
                .receiver()
                .persist(&snapshot.meta, received)
                .await?;
            // openraft purges the log as it hands the install over...
            log.purge(log_id(12)).await?;
            // ...and the install stops at `step`.
            fail::cfg(step, "return").map_err(anyhow::Error::msg)?;
            let result = follower.install_snapshot(&snapshot.meta, received).await;
            fail::remove(step);
            assert!(result.is_err(), "{step}: the failpoint did not fire");
        }
        // The crash: everything in memory is gone; the node starts from its directory.
        let (mut log, mut follower, engine) = open(dir.path())?;
        let (applied, _) = follower.applied_state().await?;
        let purged = log.get_log_state().await?.last_purged_log_id;
        assert_eq!(
            applied, purged,
            "{step}: the node applied {applied:?} but its log starts after {purged:?}: it cannot start"
        );
        assert_eq!(applied, Some(log_id(12)), "{step}");
        for tenant in ["north", "south"] {
            assert!(
                engine.load().tenant(tenant).is_some(),
                "{step}: tenant {tenant} of the snapshot is missing"
            );
        }
    }
    Ok(())
}

/// Failpoints are process-wide: the tests of this binary take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn blank(index: u64) -> openraft::Entry<TypeConfig> {
    openraft::Entry {
        log_id: log_id(index),
        payload: EntryPayload::Blank,
    }
}

/// A crash just before the log's fsync'd write loses the entries (they were never
/// acknowledged); a crash just after it keeps them. Likewise an apply stopped before the
/// engine's write batch leaves the applied position where it was, and one stopped after it
/// has the entry applied: each write point is atomic, and the position moves with the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_or_after_each_durable_write_leaves_all_or_nothing() -> anyhow::Result<()> {
    use openraft::storage::RaftLogStorageExt;
    let _turn = SERIAL.lock().await;
    let dir = tempfile::tempdir()?;
    {
        let (mut log, mut sm, _) = open(dir.path())?;
        log.blocking_append((1..=3).map(blank)).await?;
        sm.apply((1..=3).map(blank)).await?;
        fail::cfg("log-append-after-fsync", "return").map_err(anyhow::Error::msg)?;
        assert!(log.blocking_append((4..=5).map(blank)).await.is_err());
        fail::remove("log-append-after-fsync");
        fail::cfg("log-append-before-fsync", "return").map_err(anyhow::Error::msg)?;
        assert!(log.blocking_append((6..=7).map(blank)).await.is_err());
        fail::remove("log-append-before-fsync");
        fail::cfg("apply-after-write", "return").map_err(anyhow::Error::msg)?;
        assert!(sm.apply([blank(4)]).await.is_err());
        fail::remove("apply-after-write");
        fail::cfg("apply-before-write", "return").map_err(anyhow::Error::msg)?;
        assert!(sm.apply([blank(5)]).await.is_err());
        fail::remove("apply-before-write");
    }
    let (mut log, mut sm, _) = open(dir.path())?;
    let state = log.get_log_state().await?;
    assert_eq!(
        state.last_log_id,
        Some(log_id(5)),
        "entries 4-5 were fsync'd, 6-7 never written"
    );
    assert_eq!(
        sm.applied_state().await?.0,
        Some(log_id(4)),
        "4 applied, 5 not"
    );
    Ok(())
}
