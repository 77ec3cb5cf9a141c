//! Keys inside the engine: each tenant's wrapped key versions (`key/{tenant}/{version}` in
//! `meta`; version 0 is the token key, 1.. the data keys), their unwrapped copies cached in
//! memory, and the fingerprint of the master key the cluster wraps with (`master_key` in
//! `meta`). Tenant data key rotation ([`Command::RotateTenantKey`]) adds a version; master
//! key rotation ([`Command::RewrapKeys`]) replaces every wrapped key by the same key wrapped
//! under a new master key. Neither touches a sealed value.
//!
//! Determinism: `apply` never unwraps to decide anything. It checks only what the replicated
//! state says: a rotation's version is the newest plus one, a rewrap names exactly the stored
//! slots, and every wrapped key it admits names the cluster's master key (the first one
//! admitted fixes it for a cluster that has none recorded). Unwrapping happens on open and
//! after a batch is durable, to refresh this node's in-memory keys; a node that cannot unwrap
//! logs it and fails its next start naming the master key it lacks.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use rocksdb::WriteBatch;

use super::Engine;
use crate::command::{ApplyOutcome, Command, RewrappedKey};
use crate::crypto::{DataKey, TokenKey};
use crate::error::{Result, StorageError};
use crate::keyring::{
    is_wrapped_key, wrap_context, wrapped_by, Fingerprint, MasterKey, TenantKeys, WRAPPED_LEN,
};
use crate::keys::{cf, meta};

/// `meta` key of the cluster's master key fingerprint (8 bytes).
const MASTER_KEY: &[u8] = b"master_key";

/// The engine's key state.
#[derive(Default)]
pub(super) struct KeyState {
    /// Unwrapped tenant keys by tenant id.
    cache: RwLock<HashMap<u32, Arc<TenantKeys>>>,
    /// The fingerprint of the master key the cluster wraps with, once recorded.
    cluster_master: ArcSwap<Option<Fingerprint>>,
}

/// What an applied batch changed in the key state, published once it is durable.
#[derive(Debug, Default)]
pub(super) struct KeyChange {
    /// A tenant gained a data key version.
    rotated: Option<u32>,
    /// The cluster's master key fingerprint was recorded or changed.
    master: Option<Fingerprint>,
    /// Every wrapped key was replaced.
    rewrapped: bool,
}

/// One stored wrapped key, for `GET /v1/admin/keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKeyInfo {
    /// The slot: `tenant/{name}/key/{version}` or `auth/signing-key`.
    pub slot: String,
    /// The master key that wrapped it (`None`: the format without fingerprint).
    pub master: Option<Fingerprint>,
}

fn decode_slot(key: &[u8]) -> Result<(u32, u32)> {
    let rest = key
        .strip_prefix(meta::KEY_PREFIX)
        .filter(|rest| rest.len() == 9 && rest[4] == b'/')
        .ok_or_else(|| StorageError::corrupt("wrapped key id", "bad layout"))?;
    let tenant = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let version = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
    Ok((tenant, version))
}

impl Engine {
    /// Every stored tenant key slot: (tenant, version) → wrapped bytes, in key order.
    fn stored_slots(&self, tenant: Option<u32>) -> Result<BTreeMap<(u32, u32), Vec<u8>>> {
        let meta_cf = self.cf(cf::META)?;
        let mut prefix = meta::KEY_PREFIX.to_vec();
        if let Some(tenant) = tenant {
            prefix.extend_from_slice(&tenant.to_be_bytes());
            prefix.push(b'/');
        }
        let mut out = BTreeMap::new();
        for item in self.db.prefix_iterator_cf(meta_cf, &prefix) {
            let (key, wrapped) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            out.insert(decode_slot(&key)?, wrapped.to_vec());
        }
        Ok(out)
    }

    fn tenant_name(&self, tenant: u32) -> Result<String> {
        self.tenants
            .load()
            .by_id
            .get(&tenant)
            .map(|info| info.name.clone())
            .ok_or_else(|| StorageError::UnknownTenant(tenant.to_string()))
    }

    /// Unwraps every stored key version of `tenant` with this node's master keys.
    fn load_tenant_keys(&self, tenant: u32) -> Result<TenantKeys> {
        let name = self.tenant_name(tenant)?;
        let mut token = None;
        let mut data = BTreeMap::new();
        for ((_, version), wrapped) in self.stored_slots(Some(tenant))? {
            let raw = self
                .master
                .unwrap_key(&wrap_context(&name, version), &wrapped)?;
            match version {
                0 => token = Some(TokenKey::new(&raw)),
                v => {
                    data.insert(v, DataKey::new(v, &raw));
                }
            }
        }
        let token =
            token.ok_or_else(|| StorageError::corrupt("tenant keys", "token key missing"))?;
        Ok(TenantKeys { token, data })
    }

    /// A tenant's unwrapped keys, unwrapping and caching them on first use.
    pub fn tenant_keys(&self, tenant: u32) -> Result<Arc<TenantKeys>> {
        if let Ok(cache) = self.keys.cache.read() {
            if let Some(keys) = cache.get(&tenant) {
                return Ok(keys.clone());
            }
        }
        let keys = Arc::new(self.load_tenant_keys(tenant)?);
        // A rotation applied meanwhile has put the newer keys in: keep them.
        Ok(match self.keys.cache.write() {
            Ok(mut cache) => cache.entry(tenant).or_insert(keys).clone(),
            Err(_) => keys,
        })
    }

    /// The version of `tenant`'s newest data key: the one this node seals new values with.
    pub fn key_version(&self, tenant: u32) -> Result<u32> {
        self.tenant_keys(tenant)?
            .current()
            .map(DataKey::version)
            .ok_or_else(|| StorageError::corrupt("tenant keys", "no data key"))
    }

    /// The fingerprint of the master key the cluster wraps with, once one is recorded
    /// (every wrapped key admitted from then on names it).
    pub fn cluster_master(&self) -> Option<Fingerprint> {
        **self.keys.cluster_master.load()
    }

    /// This node's master keys, wrapping with the cluster's master key when this node holds
    /// it (so a node already given the next master key goes on wrapping under the cluster's
    /// until the rewrap), with its own current key otherwise. For every proposer that wraps
    /// a new key.
    pub fn wrapping_key(&self) -> MasterKey {
        self.master.wrapping_with(self.cluster_master())
    }

    /// On open: reads the cluster's master fingerprint and unwraps every tenant's keys, so a
    /// node missing a master key that wrapped something fails here, naming it.
    pub(super) fn load_keys(&self) -> Result<()> {
        let meta_cf = self.cf(cf::META)?;
        let master = match self.db.get_cf(meta_cf, MASTER_KEY)? {
            Some(bytes) => Some(Fingerprint(bytes.as_slice().try_into().map_err(|_| {
                StorageError::corrupt("master key fingerprint", "not 8 bytes")
            })?)),
            None => None,
        };
        self.keys.cluster_master.store(Arc::new(master));
        let mut used: HashMap<Option<Fingerprint>, usize> = HashMap::new();
        let slots = self.stored_slots(None)?;
        for wrapped in slots.values() {
            *used.entry(wrapped_by(wrapped)).or_default() += 1;
        }
        let tenants: Vec<u32> = slots.keys().map(|(t, _)| *t).collect();
        let mut cache = HashMap::new();
        for tenant in tenants {
            if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(tenant) {
                slot.insert(Arc::new(self.load_tenant_keys(tenant)?));
            }
        }
        if let Ok(mut shared) = self.keys.cache.write() {
            *shared = cache;
        }
        for previous in self.master.previous_fingerprints() {
            if !used.contains_key(&Some(previous)) && master != Some(previous) {
                tracing::info!(master_key = %previous, "this previous master key wraps no tenant key here; once GET /v1/admin/keys shows it unused it can leave previous_master_key_files");
            }
        }
        tracing::info!(
            master_key = %self.master.fingerprint(),
            cluster_master_key = ?master.map(|f| f.to_string()),
            wrapped_keys = slots.len(),
            "master keys loaded"
        );
        Ok(())
    }

    /// Admits new wrapped keys into the replicated state: `None` when each is well formed and
    /// names the cluster's master key (recording it, staged in `batch`, if the cluster has
    /// none yet), the rejection otherwise.
    pub(super) fn admit_wrapped(
        &self,
        batch: &mut WriteBatch,
        wrapped: &[&[u8]],
        change: &mut KeyChange,
    ) -> Result<Option<ApplyOutcome>> {
        let reject = |reason: String| Ok(Some(ApplyOutcome::Rejected { reason }));
        let mut named = None;
        for key in wrapped {
            if !is_wrapped_key(key) {
                return reject("a wrapped key is malformed".into());
            }
            // A key of the format without fingerprint comes only from a log entry written by
            // an earlier build: admitted as that build admitted it.
            let Some(fingerprint) = wrapped_by(key) else {
                continue;
            };
            if named.is_some_and(|n| n != fingerprint) {
                return reject("the wrapped keys name different master keys".into());
            }
            named = Some(fingerprint);
        }
        match (self.cluster_master(), named) {
            (Some(cluster), Some(named)) if cluster != named => reject(format!(
                "the key is wrapped by master key {named}, but the cluster's master key is \
                 {cluster}: give the proposing node the cluster's key (as master_key_file or in \
                 previous_master_key_files)"
            )),
            (None, Some(named)) => {
                batch.put_cf(self.cf(cf::META)?, MASTER_KEY, named.0);
                change.master = Some(named);
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Stages data key `version` of `tenant` (an existing tenant).
    pub(super) fn stage_rotate_key(
        &self,
        batch: &mut WriteBatch,
        tenant: u32,
        version: u32,
        wrapped: &[u8],
        change: &mut KeyChange,
    ) -> Result<ApplyOutcome> {
        let newest = self
            .stored_slots(Some(tenant))?
            .keys()
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0);
        if Some(version) != newest.checked_add(1) {
            return Ok(ApplyOutcome::Rejected {
                reason: format!(
                    "key version {version} is not the next one ({}): another rotation came first",
                    newest.saturating_add(1)
                ),
            });
        }
        if let Some(rejected) = self.admit_wrapped(batch, &[wrapped], change)? {
            return Ok(rejected);
        }
        batch.put_cf(
            self.cf(cf::META)?,
            meta::wrapped_key(tenant, version),
            wrapped,
        );
        change.rotated = Some(tenant);
        Ok(ApplyOutcome::KeyRotated { version })
    }

    /// Stages a rewrap: every slot replaced by its copy under `master`.
    pub(super) fn stage_rewrap(
        &self,
        batch: &mut WriteBatch,
        master: Fingerprint,
        keys: &[RewrappedKey],
        signing_key: Option<&[u8]>,
        change: &mut KeyChange,
    ) -> Result<ApplyOutcome> {
        let reject = |reason: &str| {
            Ok(ApplyOutcome::Rejected {
                reason: reason.to_string(),
            })
        };
        let stored = self.stored_slots(None)?;
        if stored.len() != keys.len()
            || keys
                .iter()
                .any(|k| !stored.contains_key(&(k.tenant, k.version)))
        {
            return reject(
                "the stored keys changed since the rewrap was prepared; prepare it again",
            );
        }
        if self.stored_signing_key()?.is_some() != signing_key.is_some() {
            return reject(
                "the signing key changed since the rewrap was prepared; prepare it again",
            );
        }
        let copies = keys.iter().map(|k| k.wrapped.as_slice()).chain(signing_key);
        if copies
            .clone()
            .any(|w| w.len() != WRAPPED_LEN || wrapped_by(w) != Some(master))
        {
            return reject("every rewrapped key must name the new master key");
        }
        let meta_cf = self.cf(cf::META)?;
        for key in keys {
            batch.put_cf(
                meta_cf,
                meta::wrapped_key(key.tenant, key.version),
                &key.wrapped,
            );
        }
        if let Some(wrapped) = signing_key {
            self.stage_signing_key_copy(batch, wrapped)?;
        }
        batch.put_cf(meta_cf, MASTER_KEY, master.0);
        change.master = Some(master);
        change.rewrapped = true;
        Ok(ApplyOutcome::Rewrapped {
            keys: copies.count(),
        })
    }

    /// Publishes what an applied batch changed in the key state, once it is durable.
    pub(super) fn publish_keys(&self, change: KeyChange) {
        if let Some(master) = change.master {
            self.keys.cluster_master.store(Arc::new(Some(master)));
            if !self.master.holds(master) {
                tracing::error!(cluster_master_key = %master, "the cluster now wraps its keys with a master key this node was not given: it serves on with the keys it holds, and will not start again until that key's file is configured");
            }
        }
        if change.rewrapped {
            // Make the new copies durable at once: the old master key may be removed soon.
            if let Err(e) = self.db.flush_wal(true) {
                tracing::warn!(error = %e, "could not sync the engine WAL after a rewrap");
            }
            self.reload_signing_key();
            tracing::info!(master_key = ?change.master.map(|m| m.to_string()), "every wrapped key is now wrapped by the cluster's new master key");
        }
        if let Some(tenant) = change.rotated {
            // Replaced, not dropped: a reader that loaded the old keys meanwhile must not
            // put them back over these.
            let loaded = self.load_tenant_keys(tenant);
            if let Ok(mut cache) = self.keys.cache.write() {
                match loaded {
                    Ok(keys) => {
                        tracing::info!(tenant, key_version = ?keys.current().map(DataKey::version), "tenant data key rotated");
                        cache.insert(tenant, Arc::new(keys));
                    }
                    Err(e) => {
                        tracing::error!(tenant, error = %e, "cannot unwrap the tenant's new data key");
                        cache.remove(&tenant);
                    }
                }
            }
        }
    }

    /// Every stored wrapped key with the master key that wrapped it (replicated state:
    /// equal on every node that applied the same commands).
    pub fn wrapped_keys(&self) -> Result<Vec<WrappedKeyInfo>> {
        let mut out = Vec::new();
        for ((tenant, version), wrapped) in self.stored_slots(None)? {
            let name = self.tenant_name(tenant)?;
            out.push(WrappedKeyInfo {
                slot: format!("tenant/{name}/key/{version}"),
                master: wrapped_by(&wrapped),
            });
        }
        if let Some(wrapped) = self.stored_signing_key()? {
            out.push(WrappedKeyInfo {
                slot: "auth/signing-key".into(),
                master: wrapped_by(&wrapped),
            });
        }
        Ok(out)
    }

    /// Proposer side of a master key rotation: every stored wrapped key unwrapped with this
    /// node's keys and wrapped again by its current master key (a key already wrapped by it
    /// is carried as it is). `None` when there is nothing to rewrap. Randomness (nonces)
    /// happens here, before the command is ordered.
    pub fn prepare_rewrap(&self) -> Result<Option<Command>> {
        let master = self.master.fingerprint();
        let mut changed = 0;
        let mut keys = Vec::new();
        for ((tenant, version), wrapped) in self.stored_slots(None)? {
            let context = wrap_context(&self.tenant_name(tenant)?, version);
            let copy = self.master.rewrap(&context, &wrapped)?;
            changed += usize::from(copy != wrapped);
            keys.push(RewrappedKey {
                tenant,
                version,
                wrapped: copy,
            });
        }
        let signing_key = match self.stored_signing_key()? {
            Some(wrapped) => {
                let copy = self
                    .master
                    .rewrap(crate::keyring::SIGNING_KEY_CONTEXT, &wrapped)?;
                changed += usize::from(copy != wrapped);
                Some(copy)
            }
            None => None,
        };
        if changed == 0 && self.cluster_master() == Some(master) {
            return Ok(None);
        }
        Ok(Some(Command::RewrapKeys {
            master,
            keys,
            signing_key,
        }))
    }
}
