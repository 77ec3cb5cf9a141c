//! Snapshots as directories of files.
//!
//! A snapshot is a RocksDB checkpoint of the storage engine: a flat directory of SST,
//! MANIFEST, OPTIONS and WAL files. It is never loaded into memory: it is built on disk,
//! streamed to followers file by file in frames (`network.rs`, `server.rs`), written to disk
//! as it arrives, and installed by opening a storage engine on a copy of it.
//!
//! Finished snapshots live in `snapshots/snap-{n}/` with their metadata beside them in
//! `snap-{n}.meta`; the metadata is written last, so a directory without one is unfinished
//! and is removed on start. The current snapshot is the finished one with the greatest last
//! log id. openraft is only ever handed [`SnapshotFiles`] that own a private directory of
//! hard links (a *lease*), so pruning old snapshots never pulls files from under a transfer.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::layout::{self, Layout};
use crate::types::typ::SnapshotMeta;

/// A snapshot's data: a directory holding the files of a RocksDB checkpoint.
///
/// A `SnapshotFiles` handed out by this crate owns its directory: it is a temporary copy (of
/// hard links) that is removed when the value is dropped, unless installing it moved the
/// files into place.
#[derive(Debug)]
pub struct SnapshotFiles {
    dir: PathBuf,
    owned: bool,
}

impl SnapshotFiles {
    /// A temporary directory that is removed when this value is dropped.
    pub(crate) fn owned(dir: PathBuf) -> Self {
        SnapshotFiles { dir, owned: true }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Gives up ownership: the directory is no longer removed on drop (its files were
    /// moved elsewhere).
    pub(crate) fn release(&mut self) {
        self.owned = false;
    }
}

impl Drop for SnapshotFiles {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let dir = std::mem::take(&mut self.dir);
        let remove = move || {
            if let Err(e) = layout::remove_any(&dir) {
                tracing::warn!(error = %e, "could not remove temporary snapshot directory");
            }
        };
        // Removing a directory of hard links is quick, but it is still file-system work:
        // keep it off the async runtime when there is one.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }
}

/// A finished snapshot on disk.
#[derive(Debug, Clone)]
pub(crate) struct StoredSnapshot {
    pub(crate) meta: SnapshotMeta,
    pub(crate) dir: PathBuf,
}

fn meta_path(snapshots: &Path, dir_name: &str) -> PathBuf {
    snapshots.join(format!("{dir_name}.meta"))
}

/// Every finished snapshot, oldest first (by last log id, then by sequence number).
fn finished(layout: &Layout) -> Result<Vec<StoredSnapshot>> {
    let snapshots = layout.snapshots_dir();
    let mut found = Vec::new();
    for entry in fs::read_dir(&snapshots).at(&snapshots)? {
        let entry = entry.at(&snapshots)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(seq) = name
            .strip_prefix("snap-")
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let meta_file = meta_path(&snapshots, &name);
        let bytes = match fs::read(&meta_file) {
            Ok(bytes) => bytes,
            // Unfinished: the metadata is written last.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(meta_file, e)),
        };
        let meta: SnapshotMeta =
            serde_json::from_slice(&bytes).map_err(|e| Error::corrupt("snapshot metadata", e))?;
        found.push((
            meta.last_log_id,
            seq,
            StoredSnapshot {
                meta,
                dir: entry.path(),
            },
        ));
    }
    found.sort_by_key(|(last, seq, _)| (*last, *seq));
    Ok(found.into_iter().map(|(_, _, s)| s).collect())
}

/// The newest finished snapshot, if any.
pub(crate) fn newest(layout: &Layout) -> Result<Option<StoredSnapshot>> {
    let _guard = layout.snapshots_lock.lock();
    Ok(finished(layout)?.pop())
}

/// Makes a snapshot received from the leader (`files`, a directory under `snapshots/`) a
/// finished, fsync'd snapshot *before* openraft is told of it, and returns a lease on it
/// for the install. openraft purges the log up to the snapshot as soon as it hands the
/// install to the state machine, so from that moment the snapshot must already be on disk:
/// a crash at any later instant finds it, and [`crate::StateMachine::new`] finishes the
/// install.
pub(crate) fn persist_received(
    layout: &Layout,
    files: Box<SnapshotFiles>,
    meta: &SnapshotMeta,
) -> Result<Box<SnapshotFiles>> {
    let mut files = files;
    let leased = store(layout, Source::Move(files.dir()), meta, |stored| {
        lease(layout, stored)
    });
    // Moved, or failed half-way (the directory is then removed on the next start).
    files.release();
    Ok(Box::new(leased?))
}

/// A lease on the current snapshot (see [`lease`]), if there is one.
pub(crate) fn lease_current(layout: &Layout) -> Result<Option<(SnapshotMeta, SnapshotFiles)>> {
    let _guard = layout.snapshots_lock.lock();
    let Some(current) = finished(layout)?.pop() else {
        return Ok(None);
    };
    let files = lease(layout, &current)?;
    Ok(Some((current.meta, files)))
}

/// A private directory of hard links to `snapshot`'s files, for handing to openraft. Called
/// with the snapshots lock held, so the snapshot cannot be pruned half-way.
pub(crate) fn lease(layout: &Layout, snapshot: &StoredSnapshot) -> Result<SnapshotFiles> {
    let dir = layout.temp_dir("lease");
    fs::create_dir_all(&dir).at(&dir)?;
    let files = SnapshotFiles::owned(dir);
    for (name, _) in layout::list_files(&snapshot.dir)? {
        layout::link_or_copy(&snapshot.dir.join(&name), &files.dir().join(&name))?;
    }
    Ok(files)
}

/// How `store` takes the files of a new snapshot.
pub(crate) enum Source<'a> {
    /// Rename this directory (ours, on the same file system) into place.
    Move(&'a Path),
    /// Link or copy the files of this directory, leaving it as it is.
    Copy(&'a Path),
}

/// Makes the files of `source` a finished snapshot with `meta` and removes every older
/// snapshot; then, still holding the snapshots lock (so nothing prunes it meanwhile), runs
/// `then` on the current snapshot, which is the new one unless a snapshot with a greater
/// last log id was stored meanwhile.
pub(crate) fn store<T>(
    layout: &Layout,
    source: Source<'_>,
    meta: &SnapshotMeta,
    then: impl FnOnce(&StoredSnapshot) -> Result<T>,
) -> Result<T> {
    let snapshots = layout.snapshots_dir();
    let name = format!("snap-{}", layout.next_seq());
    let dir = snapshots.join(&name);
    match source {
        Source::Move(from) => {
            fs::rename(from, &dir).at(&dir)?;
        }
        Source::Copy(from) => {
            let staging = layout.temp_dir("store");
            fs::create_dir_all(&staging).at(&staging)?;
            for (file, _) in layout::list_files(from)? {
                layout::link_or_copy(&from.join(&file), &staging.join(&file))?;
            }
            layout::fsync_dir(&staging)?;
            fs::rename(&staging, &dir).at(&dir)?;
        }
    }
    layout::fsync_dir(&dir)?;
    layout::fsync_dir(&snapshots)?;
    let bytes = serde_json::to_vec(meta).map_err(|e| Error::corrupt("snapshot metadata", e))?;
    let _guard = layout.snapshots_lock.lock();
    layout::write_atomic(&meta_path(&snapshots, &name), &bytes)?;
    let mut all = finished(layout)?;
    let Some(newest) = all.pop() else {
        return Err(Error::corrupt(
            "snapshot store",
            "a stored snapshot vanished",
        ));
    };
    for old in all {
        remove_snapshot(&snapshots, &old.dir)?;
    }
    then(&newest)
}

fn remove_snapshot(snapshots: &Path, dir: &Path) -> Result<()> {
    let Some(name) = dir.file_name() else {
        return Ok(());
    };
    // Metadata first: without it the directory is no longer a finished snapshot.
    layout::remove_any(&meta_path(snapshots, &name.to_string_lossy()))?;
    layout::remove_any(dir)
}
