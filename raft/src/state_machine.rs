//! The Raft state machine: the storage engine's deterministic `apply`, plus snapshots built
//! from and installed as RocksDB directories.
//!
//! Entries become commands: `Normal(cmd)` is applied as it is, a blank entry as
//! [`Command::Noop`], and a membership entry as [`Command::Membership`] carrying the
//! JSON-encoded [`StoredMembership`]. The engine writes each command and its log position
//! in one `WriteBatch`, so `applied_state` (read back from the engine) is exactly as durable
//! as the data and never ahead of it.
//!
//! The engine is shared with the rest of the node as `Arc<ArcSwap<Engine>>`. Installing a
//! snapshot opens a new engine in a new directory, records that directory in the `ENGINE`
//! pointer file, and swaps it in; the old engine is closed and deleted once the last reader
//! lets go of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder,
    StorageIOError,
};
use sightline_storage::{ApplyOutcome, Command, Engine, EngineConfig, LogPosition};
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::layout::{self, Layout};
use crate::snapshot::{self, SnapshotFiles, Source, StoredSnapshot};
use crate::types::typ::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership};
use crate::types::TypeConfig;

/// The log position storage records for an openraft log id.
pub fn log_position(log_id: &LogId) -> LogPosition {
    LogPosition {
        term: log_id.leader_id.term,
        leader: log_id.leader_id.node_id,
        index: log_id.index,
    }
}

/// The openraft log id of a position storage recorded.
pub fn log_id(pos: &LogPosition) -> LogId {
    LogId::new(
        openraft::CommittedLeaderId::new(pos.term, pos.leader),
        pos.index,
    )
}

/// Encodes a membership for [`Command::Membership`].
pub fn encode_membership(membership: &StoredMembership) -> Vec<u8> {
    match serde_json::to_vec(membership) {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("a membership of plain strings and integers always encodes: {e}"),
    }
}

/// Decodes what [`encode_membership`] wrote.
pub fn decode_membership(bytes: &[u8]) -> Result<StoredMembership> {
    serde_json::from_slice(bytes).map_err(|e| Error::corrupt("stored membership", e))
}

/// The applied log id and membership the engine persisted with its last applied command.
fn applied_state_of(engine: &Engine) -> Result<(Option<LogId>, StoredMembership)> {
    let applied = engine.applied()?.map(|pos| log_id(&pos));
    let membership = match engine.membership()? {
        Some(bytes) => decode_membership(&bytes)?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
}

fn sm_err(verb: ErrorVerb, e: impl Into<AnyError>) -> StorageError {
    StorageIOError::new(ErrorSubject::StateMachine, verb, e).into()
}

fn snapshot_err(meta: Option<&SnapshotMeta>, verb: ErrorVerb, e: &Error) -> StorageError {
    let subject = ErrorSubject::Snapshot(meta.map(|m| m.signature()));
    StorageIOError::new(subject, verb, AnyError::new(e)).into()
}

/// Runs blocking work (RocksDB, file copies) off the async runtime.
async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Stopped(format!("blocking task failed: {e}")))?
}

/// What the state machine needs to open an engine in a new directory.
#[derive(Debug, Clone)]
pub(crate) struct EngineTemplate {
    pub(crate) config: EngineConfig,
}

impl EngineTemplate {
    fn open(&self, current: &Engine, path: PathBuf) -> Result<Engine> {
        let config = EngineConfig {
            path,
            ..self.config.clone()
        };
        Ok(Engine::open(&config, current.master_key().clone())?)
    }
}

/// The state machine over the shared storage engine.
pub struct StateMachine {
    engine: Arc<ArcSwap<Engine>>,
    layout: Arc<Layout>,
    template: EngineTemplate,
    /// Held while applying and while a snapshot copies the engine, so a snapshot is one
    /// consistent state with its applied position.
    gate: Arc<Mutex<()>>,
}

impl std::fmt::Debug for StateMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateMachine")
            .field("root", &self.layout.root())
            .finish()
    }
}

impl StateMachine {
    /// A state machine for the raft directory `dir` over `engine`, which must be open in
    /// [`crate::current_engine_dir`]`(dir)`. `engine_config` is how the node opened it; when
    /// a snapshot is installed, the new engine is opened the same way in a new directory.
    pub fn new(
        dir: &Path,
        engine: Arc<ArcSwap<Engine>>,
        engine_config: EngineConfig,
    ) -> Result<Self> {
        let layout = Layout::new(dir);
        let expected = layout::current_engine_dir(dir)?;
        let actual = engine.load().path().to_path_buf();
        if !same_path(&expected, &actual) {
            return Err(Error::Config(format!(
                "the engine is open at {} but this raft directory's current engine is {}; open it at \
                 sightline_raft::current_engine_dir(raft dir)",
                actual.display(),
                expected.display()
            )));
        }
        layout.prepare()?;
        let state_machine = StateMachine {
            engine,
            layout: Arc::new(layout),
            template: EngineTemplate {
                config: engine_config,
            },
            gate: Arc::new(Mutex::new(())),
        };
        state_machine.finish_interrupted_install()?;
        Ok(state_machine)
    }

    /// Issue 14, finding 2: a crash can stop a snapshot install after the snapshot was
    /// stored (and openraft had purged the log up to it) but before its engine became
    /// current. Restarting on the old engine would leave a gap no log entry can fill, so the
    /// install is finished here: the newest stored snapshot, if it is ahead of the engine,
    /// becomes a fresh engine and the current one.
    fn finish_interrupted_install(&self) -> Result<()> {
        let Some(newest) = snapshot::newest(&self.layout)? else {
            return Ok(());
        };
        let current = self.engine.load_full();
        let (applied, _) = applied_state_of(&current)?;
        if newest.meta.last_log_id <= applied {
            return Ok(());
        }
        tracing::warn!(snapshot = %newest.meta, applied = ?applied, "finishing a snapshot install that a crash interrupted");
        let root = self.layout.root().to_path_buf();
        let next = layout::next_engine_name(&layout::current_engine_name(&root)?);
        let engine_dir = root.join(&next);
        materialize(&newest, &engine_dir)?;
        let engine = self.template.open(&current, engine_dir)?;
        layout::set_current_engine(&root, &next)?;
        drop(current);
        retire(self.engine.swap(Arc::new(engine)));
        Ok(())
    }

    /// Where the Raft log of this raft directory lives.
    pub(crate) fn log_dir(&self) -> PathBuf {
        self.layout.log_dir()
    }

    /// The handle the transport uses to make a received snapshot durable before openraft
    /// installs it.
    pub fn receiver(&self) -> SnapshotReceiver {
        SnapshotReceiver {
            layout: self.layout.clone(),
        }
    }
}

/// Makes received snapshots durable (see [`snapshot::persist_received`]).
#[derive(Clone)]
pub struct SnapshotReceiver {
    layout: Arc<Layout>,
}

impl SnapshotReceiver {
    /// Stores `files` (received from the leader) as a finished snapshot with `meta` and
    /// returns a lease on it to hand to openraft's install.
    pub async fn persist(
        &self,
        meta: &SnapshotMeta,
        files: Box<SnapshotFiles>,
    ) -> Result<Box<SnapshotFiles>> {
        let (layout, meta) = (self.layout.clone(), meta.clone());
        blocking(move || snapshot::persist_received(&layout, files, &meta)).await
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let engine = self.engine.load_full();
        blocking(move || applied_state_of(&engine))
            .await
            .map_err(|e| sm_err(ErrorVerb::Read, &e))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyOutcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let commands: Vec<(LogId, Command)> = entries
            .into_iter()
            .map(|entry| {
                let command = match entry.payload {
                    // Membership is stored only from membership entries: a normal entry that
                    // carries one (which `propose` now refuses) changes nothing but the
                    // applied position, identically on every replica. (`AdvanceClock` is
                    // internal too, but a normal entry is exactly how the clock ticker
                    // orders it.)
                    EntryPayload::Normal(Command::Membership { .. }) => Command::Noop,
                    EntryPayload::Normal(command) => command,
                    EntryPayload::Blank => Command::Noop,
                    EntryPayload::Membership(membership) => Command::Membership {
                        config: encode_membership(&StoredMembership::new(
                            Some(entry.log_id),
                            membership,
                        )),
                    },
                };
                (entry.log_id, command)
            })
            .collect();
        let engine = self.engine.load_full();
        let _gate = self.gate.lock().await;
        let applied = tokio::task::spawn_blocking(move || {
            let mut outcomes = Vec::with_capacity(commands.len());
            for (id, command) in &commands {
                #[cfg(feature = "planted-skip-apply")]
                if let Some(outcome) = planted::apply(&engine, id, command) {
                    outcomes.push(outcome.map_err(|e| (*id, e))?);
                    continue;
                }
                fail::fail_point!("apply-before-write", |_| Err((
                    *id,
                    sightline_storage::StorageError::Io(std::io::Error::other(
                        "failpoint apply-before-write"
                    ))
                )));
                match engine.apply(log_position(id), command) {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(e) => return Err((*id, e)),
                }
                fail::fail_point!("apply-after-write", |_| Err((
                    *id,
                    sightline_storage::StorageError::Io(std::io::Error::other(
                        "failpoint apply-after-write"
                    ))
                )));
            }
            Ok(outcomes)
        })
        .await;
        match applied {
            Ok(Ok(outcomes)) => Ok(outcomes),
            // A command that cannot be applied is a storage failure, not a rejected command
            // (those come back as `ApplyOutcome::Rejected`): openraft stops this node.
            Ok(Err((id, e))) => Err(StorageIOError::apply(id, AnyError::new(&e)).into()),
            Err(join) => Err(sm_err(ErrorVerb::Write, &join)),
        }
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            engine: self.engine.load_full(),
            layout: self.layout.clone(),
            gate: self.gate.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotFiles>, StorageError> {
        let dir = self.layout.temp_dir("recv");
        std::fs::create_dir_all(&dir)
            .map_err(|e| snapshot_err(None, ErrorVerb::Write, &Error::io(&dir, e)))?;
        Ok(Box::new(SnapshotFiles::owned(dir)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        mut files: Box<SnapshotFiles>,
    ) -> Result<(), StorageError> {
        tracing::info!(snapshot = %meta, "installing snapshot");
        let layout = self.layout.clone();
        let template = self.template.clone();
        let current = self.engine.load_full();
        let meta_owned = meta.clone();
        let source_dir = files.dir().to_path_buf();
        // A directory we created under snapshots/ (a received snapshot) is moved into place;
        // anything else is linked or copied and left to its owner.
        let ours = source_dir.parent() == Some(layout.snapshots_dir().as_path());
        let installed = blocking(move || {
            let source = if ours {
                Source::Move(&source_dir)
            } else {
                Source::Copy(&source_dir)
            };
            let root = layout.root().to_path_buf();
            let next = layout::next_engine_name(&layout::current_engine_name(&root)?);
            let engine_dir = root.join(&next);
            snapshot::store(&layout, source, &meta_owned, |stored| {
                if stored.meta.last_log_id != meta_owned.last_log_id {
                    return Err(Error::corrupt(
                        "snapshot install",
                        format!("a newer snapshot ({}) is already stored", stored.meta),
                    ));
                }
                fail::fail_point!("install-after-store", |_| Err(crash("install-after-store")));
                materialize(stored, &engine_dir)
            })?;
            fail::fail_point!("install-after-materialize", |_| Err(crash(
                "install-after-materialize"
            )));
            let engine = template.open(&current, engine_dir)?;
            fail::fail_point!("install-after-open", |_| Err(crash("install-after-open")));
            layout::set_current_engine(&root, &next)?;
            fail::fail_point!("install-after-switch", |_| Err(crash(
                "install-after-switch"
            )));
            Ok(engine)
        })
        .await;
        if ours {
            // Moved (or failed half-way, in which case prepare() cleans up on start).
            files.release();
        }
        let engine = installed.map_err(|e| snapshot_err(Some(meta), ErrorVerb::Write, &e))?;
        let old = self.engine.swap(Arc::new(engine));
        tracing::info!(snapshot = %meta, engine = %self.engine.load().path().display(), "snapshot installed");
        retire(old);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let layout = self.layout.clone();
        let current = blocking(move || snapshot::lease_current(&layout))
            .await
            .map_err(|e| snapshot_err(None, ErrorVerb::Read, &e))?;
        Ok(current.map(|(meta, files)| Snapshot {
            meta,
            snapshot: Box::new(files),
        }))
    }
}

/// The error a failpoint returns in place of a crash (tests only; see `fail`).
#[allow(dead_code)]
fn crash(step: &str) -> Error {
    Error::Stopped(format!("failpoint {step}"))
}

/// Builds a live engine directory from a stored snapshot. SST files are immutable, so they
/// are hard-linked; everything else (MANIFEST, CURRENT, OPTIONS, WAL) may be rewritten by
/// the engine that opens the directory and is copied.
fn materialize(snapshot: &StoredSnapshot, engine_dir: &Path) -> Result<()> {
    layout::remove_any(engine_dir)?;
    std::fs::create_dir_all(engine_dir).map_err(|e| Error::io(engine_dir, e))?;
    for (name, _) in layout::list_files(&snapshot.dir)? {
        if name == "LOCK" || name.starts_with("LOG") {
            continue;
        }
        let (src, dst) = (snapshot.dir.join(&name), engine_dir.join(&name));
        if name.ends_with(".sst") {
            layout::link_or_copy(&src, &dst)?;
        } else {
            layout::copy_synced(&src, &dst)?;
        }
    }
    layout::fsync_dir(engine_dir)?;
    if let Some(parent) = engine_dir.parent() {
        layout::fsync_dir(parent)?;
    }
    Ok(())
}

/// Closes and deletes a replaced engine once nobody else holds it. Readers that loaded it
/// before the swap finish on the old state; new readers see the new engine.
fn retire(old: Arc<Engine>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(engine = %old.path().display(), "no runtime to retire the old engine; it is removed on next start");
        return;
    };
    handle.spawn(async move {
        let mut waited = Duration::ZERO;
        let step = Duration::from_millis(100);
        while Arc::strong_count(&old) > 1 {
            tokio::time::sleep(step).await;
            waited += step;
            if waited.as_secs() > 0 && waited.as_millis() % 60_000 == 0 {
                tracing::warn!(engine = %old.path().display(), waited_s = waited.as_secs(), "replaced engine still in use");
            }
        }
        let path = old.path().to_path_buf();
        let removed = tokio::task::spawn_blocking(move || {
            drop(old);
            layout::remove_any(&path).map(|()| path)
        })
        .await;
        match removed {
            Ok(Ok(path)) => tracing::info!(engine = %path.display(), "replaced engine removed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not remove replaced engine; it is removed on next start"),
            Err(e) => tracing::warn!(error = %e, "retiring the replaced engine failed"),
        }
    });
}

/// Builds a snapshot: copies the engine into a temporary directory while applies are held
/// back, then stores it as the current snapshot.
pub struct SnapshotBuilder {
    engine: Arc<Engine>,
    layout: Arc<Layout>,
    gate: Arc<Mutex<()>>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let layout = self.layout.clone();
        let engine = self.engine.clone();
        // Flush the memtables first, without holding back applies: the checkpoint under the
        // gate then flushes only what arrived meanwhile, so applies wait milliseconds
        // instead of a flush of every column family (issue 14, finding 6).
        {
            let engine = engine.clone();
            if let Err(e) = blocking(move || Ok(engine.flush()?)).await {
                return Err(snapshot_err(None, ErrorVerb::Write, &e));
            }
        }
        let gate = self.gate.clone().lock_owned().await;
        let dir = layout.temp_dir("build");
        let copied = {
            let dir = dir.clone();
            blocking(move || {
                let _gate = gate;
                let held = std::time::Instant::now();
                crate::checkpoint::checkpoint(&engine, &dir)?;
                let state = applied_state_of(&engine);
                tracing::debug!(
                    gate_held_ms = held.elapsed().as_millis() as u64,
                    "snapshot checkpoint taken"
                );
                state
            })
            .await
        };
        let (last_log_id, last_membership) = match copied {
            Ok(state) => state,
            Err(e) => {
                let _ = layout::remove_any(&dir);
                return Err(snapshot_err(None, ErrorVerb::Write, &e));
            }
        };
        let snapshot_id = match last_log_id {
            Some(id) => format!(
                "{}-{}-{}-{}",
                id.leader_id.term,
                id.leader_id.node_id,
                id.index,
                layout.next_seq()
            ),
            None => format!("empty-{}", layout.next_seq()),
        };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
            snapshot_id,
        };
        let stored = {
            let layout = layout.clone();
            let meta = meta.clone();
            blocking(move || {
                snapshot::store(&layout, Source::Move(&dir), &meta, |stored| {
                    Ok((stored.meta.clone(), snapshot::lease(&layout, stored)?))
                })
            })
            .await
        };
        let (meta, files) = stored.map_err(|e| snapshot_err(Some(&meta), ErrorVerb::Write, &e))?;
        tracing::info!(snapshot = %meta, "snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(files),
        })
    }
}

/// A planted bug (cargo feature `planted-skip-apply`), compiled only into builds that exist
/// to prove `sightline-chaos` catches it. Never in a release.
#[cfg(feature = "planted-skip-apply")]
mod planted {
    use sightline_storage::{ApplyOutcome, Command, Engine};

    use super::log_position;
    use crate::types::typ::LogId;

    /// PLANTED BUG: every 40th log index carrying a batch of reads is reported written and
    /// never applied. `Some` when the bug took over this entry.
    pub fn apply(
        engine: &Engine,
        id: &LogId,
        command: &Command,
    ) -> Option<sightline_storage::Result<ApplyOutcome>> {
        let Command::Proposal { command, .. } = command else {
            return None;
        };
        let Command::PutReads { rows, .. } = &**command else {
            return None;
        };
        if id.index % 40 != 0 {
            return None;
        }
        Some(
            engine
                .apply(log_position(id), &Command::Noop)
                .map(|_| ApplyOutcome::Written {
                    written: rows.len(),
                    duplicates: 0,
                    expired: 0,
                }),
        )
    }
}
