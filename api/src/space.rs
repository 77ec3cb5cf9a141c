//! Free-space admission (issue 14, acceptance 5): a node whose data directory runs low on
//! space refuses writes with 507 `insufficient_storage` while it still has room to finish
//! what it already accepted and what the leader replicates to it. Writes sent to other
//! nodes go on; reads are never refused. Once space is freed, writes are accepted again
//! with no restart.
//!
//! If the disk fills anyway (replicated entries keep arriving), the Raft log's fsync'd
//! write fails, openraft stops this node's Raft, and the node exits so that its supervisor
//! restarts it; it catches up from the others once it has room (docs/operations.md).

use std::path::{Path, PathBuf};

use crate::error::{ApiError, ErrorCode};

/// Refuses writes when the data directory's file system has less than `min_free` bytes
/// available to this process.
#[derive(Debug, Clone)]
pub struct SpaceGuard {
    dir: Option<PathBuf>,
    min_free: u64,
}

impl SpaceGuard {
    /// Guards `dir`'s file system with a floor of `min_free` bytes (0 turns it off).
    pub fn new(dir: &Path, min_free: u64) -> SpaceGuard {
        SpaceGuard {
            dir: Some(dir.to_path_buf()),
            min_free,
        }
    }

    /// A guard that never refuses (in-process tests).
    pub fn disabled() -> SpaceGuard {
        SpaceGuard {
            dir: None,
            min_free: 0,
        }
    }

    /// Bytes available to unprivileged writers on the data directory's file system.
    pub fn available(&self) -> Option<u64> {
        let dir = self.dir.as_ref()?;
        match rustix::fs::statvfs(dir) {
            Ok(stat) => Some(stat.f_bavail.saturating_mul(stat.f_frsize)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the data directory's free space");
                None
            }
        }
    }

    /// `Err(507)` when less than the floor is available.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.min_free == 0 {
            return Ok(());
        }
        match self.available() {
            Some(free) if free < self.min_free => {
                tracing::warn!(
                    free_bytes = free,
                    min_free_bytes = self.min_free,
                    "refusing a write: the data directory is nearly full"
                );
                Err(ApiError::new(
                    ErrorCode::InsufficientStorage,
                    format!(
                        "this node's data directory has {} MiB free, below its min_free_space of {} MiB; \
                         it refuses writes until space is freed (other nodes may accept them)",
                        free >> 20,
                        self.min_free >> 20
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_refused_with_507_only_below_the_floor() {
        let dir = std::env::temp_dir();
        assert!(SpaceGuard::new(&dir, 1).check().is_ok());
        assert!(SpaceGuard::disabled().check().is_ok());
        assert!(SpaceGuard::new(&dir, 0).check().is_ok());
        let refused = SpaceGuard::new(&dir, u64::MAX).check().unwrap_err();
        assert_eq!(refused.code, ErrorCode::InsufficientStorage);
        assert_eq!(refused.code.status().as_u16(), 507);
        assert!(
            refused.message.contains("min_free_space"),
            "{}",
            refused.message
        );
        assert!(SpaceGuard::new(&dir, 1)
            .available()
            .is_some_and(|free| free > 0));
    }
}
