//! The raft directory of one node and the small file-system helpers that keep it
//! crash-consistent.
//!
//! ```text
//! {dir}/raft-log/            the Raft log's RocksDB (log_store.rs)
//! {dir}/ENGINE               name of the current engine directory, e.g. "engine-3"
//! {dir}/engine-{n}/          storage engines; only the one named by ENGINE is live
//! {dir}/snapshots/snap-{n}/  a finished snapshot: the files of a RocksDB checkpoint
//! {dir}/snapshots/snap-{n}.meta   its openraft metadata (JSON), written last
//! {dir}/snapshots/tmp-*/     snapshots being built, received or sent; removed on start
//! ```
//!
//! Every switch is a rename of a fully written and fsync'd file or directory, followed by an
//! fsync of the parent directory, so a crash leaves either the old or the new state.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, IoContext, Result};

const ENGINE_POINTER: &str = "ENGINE";
const ENGINE_PREFIX: &str = "engine-";
const FIRST_ENGINE: &str = "engine-0";

/// The directory the node must open its storage engine in: the one named by `{dir}/ENGINE`,
/// or `{dir}/engine-0` before any snapshot was ever installed. Installing a snapshot moves
/// the live engine to a new directory, so a node opens its engine through this function
/// rather than at a fixed path.
pub fn current_engine_dir(dir: &Path) -> Result<PathBuf> {
    Ok(dir.join(current_engine_name(dir)?))
}

pub(crate) fn current_engine_name(dir: &Path) -> Result<String> {
    let pointer = dir.join(ENGINE_POINTER);
    match fs::read_to_string(&pointer) {
        Ok(text) => {
            let name = text.trim();
            if engine_generation(name).is_none() {
                return Err(Error::corrupt(
                    "engine pointer",
                    format!("{name:?} is not an engine directory name"),
                ));
            }
            Ok(name.to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Without a pointer only engine-0 can be live (`prepare` writes the pointer
            // before any snapshot install). A later engine without one means the pointer
            // was lost: opening engine-0 would start the node empty and `prepare` would
            // delete the real engine as stale, so refuse instead.
            if let Some(later) = later_engines(dir)?.first() {
                return Err(Error::corrupt(
                    "engine pointer",
                    format!(
                        "{} is missing but {later} exists; refusing to start rather than open \
                         an empty engine-0 and remove {later}. Write the name of the live engine \
                         directory into ENGINE (the newest complete one), or move the engine \
                         directories away to start this node empty",
                        pointer.display()
                    ),
                ));
            }
            Ok(FIRST_ENGINE.to_string())
        }
        Err(e) => Err(Error::io(pointer, e)),
    }
}

/// Engine directories other than engine-0, newest first.
fn later_engines(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir.to_path_buf(), e)),
    };
    let mut later: Vec<(u64, String)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir.to_path_buf(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(generation) = engine_generation(&name).filter(|g| *g > 0) {
            later.push((generation, name));
        }
    }
    later.sort_unstable_by(|a, b| b.cmp(a));
    Ok(later.into_iter().map(|(_, name)| name).collect())
}

fn engine_generation(name: &str) -> Option<u64> {
    name.strip_prefix(ENGINE_PREFIX)?.parse().ok()
}

/// The name of the engine directory after `current`.
pub(crate) fn next_engine_name(current: &str) -> String {
    let generation = engine_generation(current).unwrap_or(0);
    format!("{ENGINE_PREFIX}{}", generation.saturating_add(1))
}

/// Makes `name` the current engine directory (write-temp, fsync, rename, fsync dir).
pub(crate) fn set_current_engine(dir: &Path, name: &str) -> Result<()> {
    write_atomic(&dir.join(ENGINE_POINTER), name.as_bytes())
}

/// Paths under one node's raft directory.
#[derive(Debug)]
pub(crate) struct Layout {
    root: PathBuf,
    seq: AtomicU64,
    /// Serializes changes to the set of finished snapshots (store, prune, lease).
    pub(crate) snapshots_lock: Mutex<()>,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Self {
        // Sequence numbers name temporary and snapshot directories. Starting from the clock
        // keeps them unique across restarts without reading the directory first.
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(1);
        Layout {
            root: root.to_path_buf(),
            seq: AtomicU64::new(start),
            snapshots_lock: Mutex::new(()),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn log_dir(&self) -> PathBuf {
        self.root.join("raft-log")
    }

    pub(crate) fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh, not yet created temporary directory under `snapshots/`.
    pub(crate) fn temp_dir(&self, purpose: &str) -> PathBuf {
        self.snapshots_dir()
            .join(format!("tmp-{purpose}-{}", self.next_seq()))
    }

    /// Creates the directories and removes what a crash may have left behind: temporary
    /// snapshot directories and engine directories that are no longer current.
    pub(crate) fn prepare(&self) -> Result<()> {
        let snapshots = self.snapshots_dir();
        fs::create_dir_all(&snapshots).at(&snapshots)?;
        for entry in fs::read_dir(&snapshots).at(&snapshots)? {
            let entry = entry.at(&snapshots)?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("tmp-") {
                remove_any(&entry.path())?;
            }
        }
        let current = current_engine_name(&self.root)?;
        if !self.root.join(ENGINE_POINTER).exists() {
            // From the first start on, the pointer always exists: a missing one is then
            // an anomaly that `current_engine_name` refuses to guess about.
            set_current_engine(&self.root, &current)?;
        }
        for entry in fs::read_dir(&self.root).at(&self.root)? {
            let entry = entry.at(&self.root)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if engine_generation(&name).is_some() && name != current {
                tracing::info!(dir = %entry.path().display(), "removing stale engine directory");
                remove_any(&entry.path())?;
            }
        }
        Ok(())
    }
}

/// Removes a file or a directory tree; a missing path is not an error.
pub(crate) fn remove_any(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// fsyncs a directory, making renames and new entries in it durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).at(dir)
}

/// Writes `bytes` to `path` so that a crash leaves either the old content or the new one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| Error::io(path, std::io::Error::other("path has no parent")))?;
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    tmp_name.push(".tmp");
    let tmp = parent.join(tmp_name);
    {
        let mut file = File::create(&tmp).at(&tmp)?;
        file.write_all(bytes).at(&tmp)?;
        file.sync_all().at(&tmp)?;
    }
    fs::rename(&tmp, path).at(path)?;
    fsync_dir(parent)
}

/// The plain files of a flat directory with their sizes, sorted by name. A snapshot is a
/// RocksDB checkpoint, which has no subdirectories; finding one is an error.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let meta = entry.metadata().at(entry.path())?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| Error::corrupt("snapshot file name", format!("{n:?} is not UTF-8")))?;
        if !meta.is_file() {
            return Err(Error::corrupt(
                "snapshot",
                format!("{name} is not a plain file"),
            ));
        }
        files.push((name, meta.len()));
    }
    files.sort();
    Ok(files)
}

/// Hard-links `src` to `dst`, copying (and fsyncing) instead when linking is impossible,
/// for example across file systems.
pub(crate) fn link_or_copy(src: &Path, dst: &Path) -> Result<()> {
    if fs::hard_link(src, dst).is_ok() {
        return Ok(());
    }
    copy_synced(src, dst)
}

/// Copies `src` to a new file `dst` and fsyncs it.
pub(crate) fn copy_synced(src: &Path, dst: &Path) -> Result<()> {
    fs::copy(src, dst).at(dst)?;
    File::open(dst).and_then(|f| f.sync_all()).at(dst)
}

/// Whether `name` is safe to create inside a snapshot directory: a single plain path
/// component. Names come from peers, so this is checked before any file is created.
pub(crate) fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_peers_stay_inside_the_directory() {
        for ok in [
            "CURRENT",
            "000012.sst",
            "MANIFEST-000005",
            "OPTIONS-000007",
            "000003.log",
        ] {
            assert!(is_plain_file_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "a\0b"] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
        assert!(!is_plain_file_name(&"x".repeat(256)));
    }

    #[test]
    fn engine_pointer_defaults_then_follows_switches() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            current_engine_dir(dir.path()).unwrap(),
            dir.path().join("engine-0")
        );
        let next = next_engine_name(&current_engine_name(dir.path()).unwrap());
        assert_eq!(next, "engine-1");
        set_current_engine(dir.path(), &next).unwrap();
        assert_eq!(
            current_engine_dir(dir.path()).unwrap(),
            dir.path().join("engine-1")
        );
        assert!(!dir.path().join("ENGINE.tmp").exists());

        fs::write(dir.path().join("ENGINE"), "../elsewhere").unwrap();
        assert!(current_engine_dir(dir.path()).is_err());
    }

    /// Finding 7 of the engine review: a node whose ENGINE pointer is lost must not start
    /// empty on engine-0 and delete its real engine as "stale".
    #[test]
    fn a_missing_engine_pointer_refuses_to_start_instead_of_deleting_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["engine-0", "engine-3", "engine-4"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        fs::write(dir.path().join("engine-4/CURRENT"), "MANIFEST-000001").unwrap();
        let err = current_engine_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("engine-4") && err.contains("ENGINE"), "{err}");
        assert!(Layout::new(dir.path()).prepare().is_err());
        assert!(
            dir.path().join("engine-4/CURRENT").exists(),
            "the real engine is kept"
        );
        assert!(dir.path().join("engine-3").exists());
        // Once the operator restores the pointer, the node starts and cleans up.
        set_current_engine(dir.path(), "engine-4").unwrap();
        Layout::new(dir.path()).prepare().unwrap();
        assert!(dir.path().join("engine-4/CURRENT").exists());
        assert!(!dir.path().join("engine-3").exists());
    }

    #[test]
    fn the_first_start_writes_the_engine_pointer() {
        let dir = tempfile::tempdir().unwrap();
        Layout::new(dir.path()).prepare().unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("ENGINE"))
                .unwrap()
                .trim(),
            "engine-0"
        );
    }

    #[test]
    fn prepare_removes_leftovers_but_keeps_the_current_engine() {
        let dir = tempfile::tempdir().unwrap();
        set_current_engine(dir.path(), "engine-2").unwrap();
        for sub in [
            "engine-1",
            "engine-2",
            "engine-3",
            "snapshots/tmp-recv-1",
            "snapshots/snap-1",
        ] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Layout::new(dir.path()).prepare().unwrap();
        assert!(dir.path().join("engine-2").exists());
        assert!(!dir.path().join("engine-1").exists());
        assert!(!dir.path().join("engine-3").exists());
        assert!(!dir.path().join("snapshots/tmp-recv-1").exists());
        assert!(dir.path().join("snapshots/snap-1").exists());
    }
}
