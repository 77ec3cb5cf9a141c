//! Cross-tenant grants (api.md "Admin and operations"): tenant `owner` lets tenant
//! `grantee`'s investigators search its data of some kinds until an expiry. Replicated
//! (`Command::PutGrant`, `Command::RevokeGrant`), so every node decides a search under a
//! grant from the same state; the expiry is checked by the search, against the later of the
//! node's clock and the cluster clock ([`Engine::active_grant`]), so neither a node whose
//! clock runs behind nor `apply` (which reads no clock) can extend a grant.
//!
//! On disk (`meta`): `grant/{owner u32 BE}{grantee u32 BE}` → postcard [`Grant`]. In memory:
//! every grant, loaded on open (so a snapshot install carries them) and changed only by
//! `apply`. A revoked grant is deleted; an expired one stays (listed as expired) until it is
//! replaced or revoked.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use super::{decode_meta, encode_meta, Engine};
use crate::command::{ApplyOutcome, GrantKind};
use crate::error::Result;
use crate::keys::cf;

const PREFIX: &[u8] = b"grant/";

fn grant_key(owner: u32, grantee: u32) -> Vec<u8> {
    [PREFIX, &owner.to_be_bytes(), &grantee.to_be_bytes()].concat()
}

/// One grant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// What the grantee may search.
    pub kinds: Vec<GrantKind>,
    /// When it ends, UTC ms.
    pub expires_at: i64,
}

/// Every grant, by (owner, grantee).
#[derive(Default)]
pub(super) struct Grants(ArcSwap<BTreeMap<(u32, u32), Grant>>);

/// A change to publish once its batch is durable.
pub(super) enum GrantChange {
    Put(u32, u32, Grant),
    Revoke(u32, u32),
}

impl Engine {
    /// The grant from `owner` to `grantee`, expired or not.
    pub fn grant(&self, owner: u32, grantee: u32) -> Option<Grant> {
        self.grants.0.load().get(&(owner, grantee)).cloned()
    }

    /// The grants `owner` gave, by grantee id.
    pub fn grants_of(&self, owner: u32) -> Vec<(u32, Grant)> {
        self.grants
            .0
            .load()
            .range((owner, 0)..=(owner, u32::MAX))
            .map(|(&(_, grantee), grant)| (grantee, grant.clone()))
            .collect()
    }

    /// The grant from `owner` to `grantee` for `kind` if it is in force at `now_ms` (this
    /// node's clock): not expired by that clock nor by the cluster clock.
    pub fn active_grant(
        &self,
        owner: u32,
        grantee: u32,
        kind: GrantKind,
        now_ms: i64,
    ) -> Option<Grant> {
        let now = self.grant_time(now_ms);
        self.grant(owner, grantee)
            .filter(|g| g.expires_at > now && g.kinds.contains(&kind))
    }

    /// The time grants are judged by: this node's clock `now_ms` or the cluster clock,
    /// whichever is later, so a node whose clock runs slow still ends a grant once the
    /// cluster has passed its expiry.
    pub fn grant_time(&self, now_ms: i64) -> i64 {
        self.cluster_clock().map_or(now_ms, |c| c.max(now_ms))
    }

    /// Stages `Command::PutGrant`.
    pub(super) fn stage_put_grant(
        &self,
        batch: &mut WriteBatch,
        owner: u32,
        grantee: u32,
        kinds: &[GrantKind],
        expires_at: i64,
        change: &mut Option<GrantChange>,
    ) -> Result<ApplyOutcome> {
        let tenants = self.tenants.load();
        if owner == grantee {
            return Ok(ApplyOutcome::Rejected {
                reason: "a tenant cannot grant itself".into(),
            });
        }
        if let Some(missing) = [owner, grantee]
            .into_iter()
            .find(|t| !tenants.by_id.contains_key(t))
        {
            return Ok(super::unknown_tenant(missing));
        }
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        let grant = Grant { kinds, expires_at };
        batch.put_cf(
            self.cf(cf::META)?,
            grant_key(owner, grantee),
            encode_meta(&grant),
        );
        let replaced = self.grant(owner, grantee).is_some();
        *change = Some(GrantChange::Put(owner, grantee, grant));
        Ok(ApplyOutcome::Granted { replaced })
    }

    /// Stages `Command::RevokeGrant`.
    pub(super) fn stage_revoke_grant(
        &self,
        batch: &mut WriteBatch,
        owner: u32,
        grantee: u32,
        change: &mut Option<GrantChange>,
    ) -> Result<ApplyOutcome> {
        let existed = self.grant(owner, grantee).is_some();
        if existed {
            batch.delete_cf(self.cf(cf::META)?, grant_key(owner, grantee));
            *change = Some(GrantChange::Revoke(owner, grantee));
        }
        Ok(ApplyOutcome::GrantRevoked { existed })
    }

    /// Publishes what an applied batch changed.
    pub(super) fn publish_grants(&self, change: Option<GrantChange>) {
        let Some(change) = change else { return };
        self.grants.0.rcu(|old| {
            let mut grants = BTreeMap::clone(old);
            match &change {
                GrantChange::Put(owner, grantee, grant) => {
                    grants.insert((*owner, *grantee), grant.clone());
                }
                GrantChange::Revoke(owner, grantee) => {
                    grants.remove(&(*owner, *grantee));
                }
            }
            grants
        });
    }

    /// Loads every grant, on open.
    pub(super) fn load_grants(&self) -> Result<()> {
        let mut grants = BTreeMap::new();
        for item in self.db.prefix_iterator_cf(self.cf(cf::META)?, PREFIX) {
            let (key, value) = item?;
            let Some(ids) = key.strip_prefix(PREFIX) else {
                break;
            };
            let (Ok(owner), Ok(grantee)) = (
                <[u8; 4]>::try_from(ids.get(..4).unwrap_or_default()),
                <[u8; 4]>::try_from(ids.get(4..).unwrap_or_default()),
            ) else {
                return Err(crate::StorageError::corrupt("grant key", hex::encode(&key)));
            };
            let grant: Grant = decode_meta("grant", &value)?;
            grants.insert(
                (u32::from_be_bytes(owner), u32::from_be_bytes(grantee)),
                grant,
            );
        }
        self.grants.0.store(Arc::new(grants));
        Ok(())
    }
}
