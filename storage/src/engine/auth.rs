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
    /// publish once the batch is durable.
    pub(super) fn stage_signing_key(
        &self,
        batch: &mut WriteBatch,
        wrapped: &[u8],
    ) -> Result<(ApplyOutcome, Option<[u8; 32]>)> {
        if self.signing_key().is_some() {
            return Ok((
                ApplyOutcome::Rejected {
                    reason: "the cluster already has a signing key".into(),
                },
                None,
            ));
        }
        // A key this node cannot unwrap (another master key) is a deterministic rejection
        // only if every node shares the master key, which a cluster requires anyway.
        let key = match self.master.unwrap_key(SIGNING_KEY_CONTEXT, wrapped) {
            Ok(key) => key,
            Err(_) => {
                return Ok((
                    ApplyOutcome::Rejected {
                        reason: "the signing key is not wrapped by the cluster's master key".into(),
                    },
                    None,
                ))
            }
        };
        batch.put_cf(self.cf(cf::META)?, SIGNING_KEY, wrapped);
        Ok((ApplyOutcome::Done, Some(key)))
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
