//! openraft's storage conformance suite against the RocksDB log store and the state machine
//! over a real storage engine, plus the durability a restart relies on.

use std::sync::Arc;

use arc_swap::ArcSwap;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{
    AnyError, CommittedLeaderId, EntryPayload, LogId, RaftLogReader, StorageError, StorageIOError,
    Vote,
};
use sightline_raft::{current_engine_dir, LogStore, StateMachine, TypeConfig};
use sightline_storage::{Engine, EngineConfig, MasterKey};
use tempfile::TempDir;

fn engine_config(dir: &std::path::Path) -> EngineConfig {
    let mut config = EngineConfig::new(current_engine_dir(dir).expect("engine dir"));
    config.block_cache_bytes = 8 << 20;
    config.sync_writes = false;
    config
}

fn open(dir: &std::path::Path) -> anyhow::Result<(LogStore, StateMachine)> {
    let config = engine_config(dir);
    let engine = Engine::open(&config, MasterKey::from_bytes(&[3; 32]))?;
    let sm = StateMachine::new(dir, Arc::new(ArcSwap::from_pointee(engine)), config)?;
    let log = LogStore::open(&dir.join("raft-log"))?;
    Ok((log, sm))
}

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<u64>> {
        let dir =
            tempfile::tempdir().map_err(|e| StorageIOError::<u64>::write(AnyError::new(&e)))?;
        let (log, sm) =
            open(dir.path()).map_err(|e| StorageIOError::<u64>::write(AnyError::error(e)))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn log_store_and_state_machine_pass_openraft_suite() -> anyhow::Result<()> {
    Suite::test_all(Builder)?;
    Ok(())
}

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

/// What a restarted node reads back: its vote, its entries, the purge point, and what the
/// engine applied, all as they were before the stores were closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vote_log_and_applied_state_survive_reopening() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let (mut log, mut sm) = open(dir.path())?;
        log.save_vote(&Vote::new_committed(4, 1)).await?;
        let entries: Vec<_> = (1..=5)
            .map(|i| openraft::Entry::<TypeConfig> {
                log_id: log_id(4, i),
                payload: EntryPayload::Blank,
            })
            .collect();
        log.blocking_append(entries.clone()).await?;
        log.purge(log_id(4, 2)).await?;
        sm.apply(entries[..3].to_vec()).await?;
    }
    let (mut log, mut sm) = open(dir.path())?;
    assert_eq!(log.read_vote().await?, Some(Vote::new_committed(4, 1)));
    let state = log.get_log_state().await?;
    assert_eq!(state.last_purged_log_id, Some(log_id(4, 2)));
    assert_eq!(state.last_log_id, Some(log_id(4, 5)));
    let indexes: Vec<u64> = log
        .try_get_log_entries(0..10)
        .await?
        .iter()
        .map(|e| e.log_id.index)
        .collect();
    assert_eq!(indexes, vec![3, 4, 5]);
    assert_eq!(sm.applied_state().await?.0, Some(log_id(4, 3)));
    Ok(())
}
