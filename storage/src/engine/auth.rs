//! Access-control state inside the engine: the cluster's token signing key and the set of
//! revoked token ids, both replicated (`Command::SetSigningKey`, `Command::RevokeToken`) so
//! that every node verifies tokens locally and refuses a revoked one from the moment it
//! applies the revocation.
//!
//! On disk (`meta`): `auth/signing_key` → the key wrapped by the master key (never plain);
//! `auth/revoked/{id}` → (). In memory: the unwrapped key and the revoked ids, loaded on open
//! (so a snapshot install, which opens a new engine, carries them) and changed only by
//! `apply`. Revocations are kept forever: 16 bytes each, and a token's expiry is not known
//! to the cluster (tokens are not stored), so there is nothing to prune them by.

use std::collections::HashSet;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rocksdb::WriteBatch;

use super::keystore::KeyChange;
use super::Engine;
use crate::command::ApplyOutcome;
use crate::error::Result;
use crate::keyring::SIGNING_KEY_CONTEXT;
use crate::keys::cf;

const SIGNING_KEY: &[u8] = b"auth/signing_key";
const REVOKED_PREFIX: &[u8] = b"auth/revoked/";

fn revoked_key(id: &[u8; 16]) -> Vec<u8> {
    [REVOKED_PREFIX, id.as_slice()].concat()
}

/// What `sightline token create` needs from a node's engine directory.
#[derive(Debug)]
pub struct StoredAuth {
    /// The cluster's token signing key, unwrapped: `None` before the cluster set one.
    pub signing_key: Option<[u8; 32]>,
    /// Every tenant's name.
    pub tenants: Vec<String>,
}

/// Reads the signing key (unwrapped with `master` or one of its previous keys) and the
/// tenant names from the engine directory `dir`, opened read-only, so that it works on a
/// running node's directory too: `sightline token create` signs locally, as every node does.
pub fn read_stored_auth(dir: &std::path::Path, master: &crate::MasterKey) -> Result<StoredAuth> {
    use crate::keys::meta::TENANT_PREFIX;
    let options = rocksdb::Options::default();
    let families = rocksdb::DB::list_cf(&options, dir)?;
    let db = rocksdb::DB::open_cf_for_read_only(&options, dir, &families, false)?;
    let meta = db
        .cf_handle(cf::META)
        .ok_or_else(|| crate::StorageError::corrupt("column family", "meta missing"))?;
    let signing_key = match db.get_cf(meta, SIGNING_KEY)? {
        Some(wrapped) => Some(master.unwrap_key(SIGNING_KEY_CONTEXT, &wrapped)?),
        None => None,
    };
    let mut tenants = Vec::new();
    for item in db.prefix_iterator_cf(meta, TENANT_PREFIX) {
        let (key, _) = item?;
        let Some(name) = key.strip_prefix(TENANT_PREFIX) else {
            break;
        };
        tenants.push(String::from_utf8_lossy(name).into_owned());
    }
    Ok(StoredAuth {
        signing_key,
        tenants,
    })
}

/// What the engine holds for token verification.
#[derive(Default)]
pub(super) struct AuthState {
    signing_key: ArcSwap<Option<[u8; 32]>>,
    revoked: ArcSwap<HashSet<[u8; 16]>>,
}

impl Engine {
    /// The cluster's token signing key, once `Command::SetSigningKey` is applied.
    pub fn signing_key(&self) -> Option<[u8; 32]> {
        **self.auth.signing_key.load()
    }

    /// Whether token `id` was revoked (as of the last applied command).
    pub fn is_revoked(&self, id: &[u8; 16]) -> bool {
        self.auth.revoked.load().contains(id)
    }

    /// Stages the signing key unless one is stored; returns the outcome and the key to
    /// publish once the batch is durable. Whether it is admitted depends on the replicated
    /// state only (set once, and wrapped by the cluster's master key: see `keystore.rs`), never
    /// on whether this node can unwrap it, so every replica decides alike.
    pub(super) fn stage_signing_key(
        &self,
        batch: &mut WriteBatch,
        wrapped: &[u8],
        change: &mut KeyChange,
    ) -> Result<(ApplyOutcome, Option<[u8; 32]>)> {
        if self.stored_signing_key()?.is_some() {
            return Ok((
                ApplyOutcome::Rejected {
                    reason: "the cluster already has a signing key".into(),
                },
                None,
            ));
        }
        if let Some(rejected) = self.admit_wrapped(batch, &[wrapped], change)? {
            return Ok((rejected, None));
        }
        batch.put_cf(self.cf(cf::META)?, SIGNING_KEY, wrapped);
        let key = match self.master.unwrap_key(SIGNING_KEY_CONTEXT, wrapped) {
            Ok(key) => Some(key),
            Err(e) => {
                tracing::error!(error = %e, "cannot unwrap the cluster's signing key; tokens are refused here");
                None
            }
        };
        Ok((ApplyOutcome::Done, key))
    }

    /// The stored (wrapped) signing key.
    pub(super) fn stored_signing_key(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf::META)?, SIGNING_KEY)?)
    }

    /// Stages the signing key's copy under a new master key (a rewrap).
    pub(super) fn stage_signing_key_copy(
        &self,
        batch: &mut WriteBatch,
        wrapped: &[u8],
    ) -> Result<()> {
        batch.put_cf(self.cf(cf::META)?, SIGNING_KEY, wrapped);
        Ok(())
    }

    /// Unwraps the stored signing key again (after a rewrap) if this node does not hold it.
    pub(super) fn reload_signing_key(&self) {
        if self.signing_key().is_some() {
            return;
        }
        match self.stored_signing_key() {
            Ok(Some(wrapped)) => match self.master.unwrap_key(SIGNING_KEY_CONTEXT, &wrapped) {
                Ok(key) => self.auth.signing_key.store(Arc::new(Some(key))),
                Err(e) => tracing::error!(error = %e, "cannot unwrap the cluster's signing key"),
            },
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the signing key"),
        }
    }

    /// Stages a revocation; returns the outcome and the id to publish once durable.
    pub(super) fn stage_revocation(
        &self,
        batch: &mut WriteBatch,
        id: &[u8; 16],
    ) -> Result<(ApplyOutcome, Option<[u8; 16]>)> {
        let already = self.is_revoked(id);
        if !already {
            batch.put_cf(self.cf(cf::META)?, revoked_key(id), []);
        }
        Ok((ApplyOutcome::Revoked { already }, (!already).then_some(*id)))
    }

    /// Publishes what an applied batch changed.
    pub(super) fn publish_auth(&self, key: Option<[u8; 32]>, revoked: Option<[u8; 16]>) {
        if let Some(key) = key {
            self.auth.signing_key.store(Arc::new(Some(key)));
        }
        if let Some(id) = revoked {
            self.auth.revoked.rcu(|old| {
                let mut set = HashSet::clone(old);
                set.insert(id);
                set
            });
        }
    }

    /// Loads the signing key and the revocations, on open.
    pub(super) fn load_auth(&self) -> Result<()> {
        let meta_cf = self.cf(cf::META)?;
        if let Some(wrapped) = self.db.get_cf(meta_cf, SIGNING_KEY)? {
            let key = self.master.unwrap_key(SIGNING_KEY_CONTEXT, &wrapped)?;
            self.auth.signing_key.store(Arc::new(Some(key)));
        }
        let mut revoked = HashSet::new();
        for item in self.db.prefix_iterator_cf(meta_cf, REVOKED_PREFIX) {
            let (key, _) = item?;
            if !key.starts_with(REVOKED_PREFIX) {
                break;
            }
            if let Ok(id) = <[u8; 16]>::try_from(&key[REVOKED_PREFIX.len()..]) {
                revoked.insert(id);
            }
        }
        self.auth.revoked.store(Arc::new(revoked));
        Ok(())
    }
}
