//! The plate dictionary inside the engine: the `plates` column family (tenant · plate token
//! → newest capture time · sealed plate text) written in `apply`, and the in-memory
//! [`PlateDictionary`] of each tenant, loaded from it on open and updated after every
//! applied batch. Wildcard and fuzzy search expand a pattern against the in-memory
//! dictionary to concrete plates, then tokens, then the plate index.
//!
//! Determinism: what `apply` writes depends only on the command and on the dictionary's
//! state, which is itself a function of the applied commands. An entry is rewritten only
//! when a batch carries a newer read of its plate, so replaying a batch writes nothing new.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rocksdb::WriteBatch;
use sightline_index::dictionary::{PlateDictionary, DEFAULT_SEGMENT_SIZE};

use super::Engine;
use crate::command::SealedPlate;
use crate::error::{Result, StorageError};
use crate::keyring::TenantKeys;
use crate::keys::{cf, decode_ts, encode_ts, plate_key, Token};

/// A change to make to a tenant's in-memory dictionary once its batch is durable.
pub(super) struct PlateUpdate {
    tenant: u32,
    token: Token,
    plate: Option<String>,
    last_seen: i64,
}

/// Every tenant's in-memory dictionary.
#[derive(Default)]
pub(super) struct Dictionaries {
    by_tenant: RwLock<HashMap<u32, Arc<RwLock<PlateDictionary>>>>,
}

impl Dictionaries {
    fn tenant(&self, tenant: u32) -> Arc<RwLock<PlateDictionary>> {
        if let Some(found) = self
            .by_tenant
            .read()
            .ok()
            .and_then(|map| map.get(&tenant).cloned())
        {
            return found;
        }
        let mut map = match self.by_tenant.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(tenant).or_default().clone()
    }

    pub(super) fn apply_updates(&self, updates: Vec<PlateUpdate>) {
        let Some(first) = updates.first() else {
            return;
        };
        // One batch is one tenant's.
        let shared = self.tenant(first.tenant);
        let job = {
            let mut dictionary = match shared.write() {
                Ok(d) => d,
                Err(poisoned) => poisoned.into_inner(),
            };
            for update in updates {
                let plate = match update.plate.as_deref() {
                    Some(text) => text.to_string(),
                    None => match dictionary
                        .id_of(&update.token)
                        .and_then(|id| dictionary.plate(id))
                    {
                        Some(text) => text.to_string(),
                        None => continue,
                    },
                };
                dictionary.upsert(update.token, &plate, update.last_seen);
            }
            dictionary.take_merge_job()
        };
        // A large merge of the dictionary's index runs on its own thread: apply and
        // searches go on with the unmerged segments meanwhile.
        if let Some(job) = job {
            let worker = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("dictionary-merge".into())
                .spawn(move || {
                    let merged = job.run();
                    let mut dictionary = match worker.write() {
                        Ok(d) => d,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    let installed = merged.and_then(|m| dictionary.install_merge(m));
                    if let Err(e) = installed {
                        dictionary.abandon_merge();
                        tracing::warn!(error = %e, "plate dictionary merge failed; segments left as they were");
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start a plate dictionary merge");
                match shared.write() {
                    Ok(mut d) => d.abandon_merge(),
                    Err(poisoned) => poisoned.into_inner().abandon_merge(),
                }
            }
        }
    }
}

fn dictionary_value(last_seen: i64, sealed: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + sealed.len());
    value.extend_from_slice(&encode_ts(last_seen));
    value.extend_from_slice(sealed);
    value
}

fn open_plate(keys: &TenantKeys, tenant: u32, token: &Token, sealed: &[u8]) -> Result<String> {
    let plain = keys.open(&plate_key(tenant, token), sealed)?;
    String::from_utf8(plain).map_err(|e| StorageError::corrupt("dictionary plate", e))
}

impl Engine {
    /// Runs `f` over `tenant`'s plate dictionary (an empty one for a tenant with no reads).
    pub fn with_dictionary<R>(&self, tenant: u32, f: impl FnOnce(&PlateDictionary) -> R) -> R {
        let dictionary = self.dictionaries.tenant(tenant);
        let guard = match dictionary.read() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&guard)
    }

    /// Stages the dictionary entries of one batch: a plate new to the tenant, or seen at a
    /// newer time than its entry says, gets its entry (re)written.
    pub(super) fn stage_plates(
        &self,
        batch: &mut WriteBatch,
        tenant: u32,
        plates: &[SealedPlate],
        newest: &HashMap<Token, i64>,
        updates: &mut Vec<PlateUpdate>,
    ) -> Result<()> {
        if plates.is_empty() {
            return Ok(());
        }
        let plates_cf = self.cf(cf::PLATES)?;
        let keys = self.tenant_keys(tenant)?;
        self.with_dictionary(tenant, |dictionary| -> Result<()> {
            for plate in plates {
                // A plate whose every read was a duplicate changes nothing.
                let Some(&last_seen) = newest.get(&plate.token) else {
                    continue;
                };
                let known = dictionary.id_of(&plate.token);
                if let Some(id) = known {
                    if dictionary
                        .last_seen(id)
                        .is_some_and(|seen| seen >= last_seen)
                    {
                        continue;
                    }
                }
                batch.put_cf(
                    plates_cf,
                    plate_key(tenant, &plate.token),
                    dictionary_value(last_seen, &plate.value),
                );
                let text = match known {
                    Some(_) => None,
                    None => Some(open_plate(&keys, tenant, &plate.token, &plate.value)?),
                };
                updates.push(PlateUpdate {
                    tenant,
                    token: plate.token,
                    plate: text,
                    last_seen,
                });
            }
            Ok(())
        })
    }

    /// Loads every tenant's dictionary from the `plates` column family (opening each
    /// sealed plate), on open: everything into one insert buffer, then one FST build.
    pub(super) fn load_dictionaries(&self) -> Result<()> {
        let mut keys: HashMap<u32, Arc<TenantKeys>> = HashMap::new();
        let mut loaded: HashMap<u32, PlateDictionary> = HashMap::new();
        let mut failure = None;
        self.for_each_raw(cf::PLATES, |key, value| {
            if failure.is_some() {
                return;
            }
            let (Some(tenant), Some(token), Some(ts)) = (
                key.get(0..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes),
                key.get(4..12).and_then(|b| <Token>::try_from(b).ok()),
                value
                    .get(0..8)
                    .and_then(|b| b.try_into().ok())
                    .map(decode_ts),
            ) else {
                failure = Some(StorageError::corrupt("dictionary entry", "bad layout"));
                return;
            };
            let tenant_keys = match keys.get(&tenant) {
                Some(k) => k.clone(),
                None => match self.tenant_keys(tenant) {
                    Ok(k) => {
                        keys.insert(tenant, k.clone());
                        k
                    }
                    Err(e) => {
                        failure = Some(e);
                        return;
                    }
                },
            };
            match open_plate(&tenant_keys, tenant, &token, &value[8..]) {
                Ok(plate) => {
                    loaded
                        .entry(tenant)
                        .or_insert_with(|| PlateDictionary::with_segment_size(usize::MAX))
                        .upsert(token, &plate, ts);
                }
                Err(e) => failure = Some(e),
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        let mut map = match self.dictionaries.by_tenant.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (tenant, mut dictionary) in loaded {
            dictionary
                .compact()
                .map_err(|e| StorageError::corrupt("plate dictionary", e))?;
            dictionary.set_segment_size(DEFAULT_SEGMENT_SIZE);
            map.insert(tenant, Arc::new(RwLock::new(dictionary)));
        }
        Ok(())
    }
}
