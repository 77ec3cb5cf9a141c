//! Hotlists inside the engine: stored in `meta` under `hotlist/{tenant u32 BE}/{name}` (the
//! match mode and the sealed plates; the name is not secret, the plates are sealed like
//! dictionary entries), held in memory per tenant as a [`HotlistIndex`], and matched
//! against every batch of reads `apply` writes.
//!
//! Determinism: hotlists change only in `apply`, and matching reads only the applied
//! command, the replicated hotlists and the plate dictionary (itself a function of the
//! applied commands), so every replica raises the same alerts with the same ids. Alerts are
//! not written anywhere: they go to the engine's [`crate::alerts::AlertSink`].

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use sightline_index::hotlist::{EntryMatch, HotlistEntry, HotlistIndex};

use super::{decode_meta, encode_meta, Engine};
use crate::alerts::{Alert, AlertId};
use crate::command::{ApplyOutcome, HotlistMatch, LogPosition, SealedPlate, SealedRead};
use crate::error::{Result, StorageError};
use crate::keys::{cf, plate_key, RecordKey};
use crate::record::PlateRead;

/// Prefix of stored hotlists: `hotlist/{tenant u32 BE}/{name}`.
const HOTLIST_PREFIX: &[u8] = b"hotlist/";

fn tenant_prefix(tenant: u32) -> Vec<u8> {
    let mut key = HOTLIST_PREFIX.to_vec();
    key.extend_from_slice(&tenant.to_be_bytes());
    key.push(b'/');
    key
}

fn hotlist_key(tenant: u32, name: &str) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(name.as_bytes());
    key
}

/// A hotlist as `meta` stores it.
#[derive(Debug, Serialize, Deserialize)]
struct StoredHotlist {
    matching: HotlistMatch,
    plates: Vec<SealedPlate>,
}

/// A hotlist as [`Engine::hotlists`] reports it: plates opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hotlist {
    /// Its name.
    pub name: String,
    /// How it matches.
    pub matching: HotlistMatch,
    /// Its normalized plates, sorted.
    pub plates: Vec<String>,
}

/// Every tenant's hotlist index.
#[derive(Default)]
pub(super) struct Hotlists {
    by_tenant: ArcSwap<HashMap<u32, Arc<HotlistIndex>>>,
}

impl Hotlists {
    fn get(&self, tenant: u32) -> Option<Arc<HotlistIndex>> {
        self.by_tenant.load().get(&tenant).cloned()
    }

    /// Installs `tenant`'s index (none when it has no hotlists). Only `apply` and `open`
    /// call it, one at a time, so a plain load-and-store cannot lose a concurrent change.
    fn set(&self, tenant: u32, index: HotlistIndex) {
        let mut map = HashMap::clone(&self.by_tenant.load());
        if index.is_empty() {
            map.remove(&tenant);
        } else {
            map.insert(tenant, Arc::new(index));
        }
        self.by_tenant.store(Arc::new(map));
    }
}

impl Engine {
    /// Stages a hotlist's creation or replacement.
    pub(super) fn stage_put_hotlist(
        &self,
        batch: &mut WriteBatch,
        tenant: u32,
        name: &str,
        matching: HotlistMatch,
        plates: &[SealedPlate],
    ) -> Result<ApplyOutcome> {
        let key = hotlist_key(tenant, name);
        let meta_cf = self.cf(cf::META)?;
        let existed = self.db.get_pinned_cf(meta_cf, &key)?.is_some();
        let stored = StoredHotlist {
            matching,
            plates: plates.to_vec(),
        };
        batch.put_cf(meta_cf, key, encode_meta(&stored));
        Ok(ApplyOutcome::Hotlist { existed })
    }

    /// Stages a hotlist's removal.
    pub(super) fn stage_delete_hotlist(
        &self,
        batch: &mut WriteBatch,
        tenant: u32,
        name: &str,
    ) -> Result<ApplyOutcome> {
        let key = hotlist_key(tenant, name);
        let meta_cf = self.cf(cf::META)?;
        let existed = self.db.get_pinned_cf(meta_cf, &key)?.is_some();
        if existed {
            batch.delete_cf(meta_cf, key);
        }
        Ok(ApplyOutcome::Hotlist { existed })
    }

    /// Every hotlist of `tenant`, by name, plates opened.
    pub fn hotlists(&self, tenant: u32) -> Result<Vec<Hotlist>> {
        let keys = self.tenant_keys(tenant)?;
        let prefix = tenant_prefix(tenant);
        let mut out = Vec::new();
        for item in self.db.prefix_iterator_cf(self.cf(cf::META)?, &prefix) {
            let (key, value) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            let name = String::from_utf8(key[prefix.len()..].to_vec())
                .map_err(|e| StorageError::corrupt("hotlist name", e))?;
            let stored: StoredHotlist = decode_meta("hotlist", &value)?;
            let mut plates = Vec::with_capacity(stored.plates.len());
            for plate in &stored.plates {
                let plain = keys.open(&plate_key(tenant, &plate.token), &plate.value)?;
                plates.push(
                    String::from_utf8(plain)
                        .map_err(|e| StorageError::corrupt("hotlist plate", e))?,
                );
            }
            plates.sort();
            out.push(Hotlist {
                name,
                matching: stored.matching,
                plates,
            });
        }
        Ok(out)
    }

    /// Rebuilds `tenant`'s in-memory hotlist index from what `meta` holds now.
    pub(super) fn reload_hotlists(&self, tenant: u32) -> Result<()> {
        let keys = self.tenant_keys(tenant)?;
        let mut entries = Vec::new();
        for list in self.hotlists(tenant)? {
            for plate in list.plates {
                entries.push(HotlistEntry {
                    hotlist: list.name.clone(),
                    token: crate::prepare::plate_token(&keys, &plate),
                    plate,
                    matching: match list.matching {
                        HotlistMatch::Exact => EntryMatch::Exact,
                        HotlistMatch::Fuzzy { max_edits } => EntryMatch::Fuzzy(max_edits),
                    },
                });
            }
        }
        let index = HotlistIndex::new(entries)
            .map_err(|e| StorageError::corrupt("hotlist plate", e.to_string()))?;
        self.hotlists.set(tenant, index);
        Ok(())
    }

    /// Loads every tenant's hotlists, on open.
    pub(super) fn load_hotlists(&self) -> Result<()> {
        let mut tenants = Vec::new();
        for item in self
            .db
            .prefix_iterator_cf(self.cf(cf::META)?, HOTLIST_PREFIX)
        {
            let (key, _) = item?;
            if !key.starts_with(HOTLIST_PREFIX) {
                break;
            }
            let tenant = key
                .get(HOTLIST_PREFIX.len()..HOTLIST_PREFIX.len() + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| StorageError::corrupt("hotlist key", "no tenant id"))?;
            if tenants.last() != Some(&tenant) {
                tenants.push(tenant);
            }
        }
        for tenant in tenants {
            self.reload_hotlists(tenant)?;
        }
        Ok(())
    }

    /// The alerts of reads just written (`rows`, at log position `pos`): one per (read,
    /// hotlist entry) hit, numbered in row order. Reads the plate dictionary for the text
    /// of fuzzy candidates, so it runs after the batch's dictionary updates.
    pub(super) fn match_hotlists(
        &self,
        pos: LogPosition,
        tenant: u32,
        rows: &[&SealedRead],
    ) -> Result<Vec<Alert>> {
        let Some(index) = self.hotlists.get(tenant) else {
            return Ok(Vec::new());
        };
        let mut hits: Vec<(&SealedRead, HotlistEntry)> = Vec::new();
        if index.needs_text() {
            // Fuzzy entries need each plate's text: one dictionary lock for the batch.
            self.with_dictionary(tenant, |d| {
                for row in rows {
                    let text = d.id_of(&row.plate).and_then(|id| d.plate(id));
                    for entry in index.hits(&row.plate, text) {
                        hits.push((row, entry.clone()));
                    }
                }
            });
        } else {
            for row in rows {
                for entry in index.hits(&row.plate, None) {
                    hits.push((row, entry.clone()));
                }
            }
        }
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.tenant_keys(tenant)?;
        let mut alerts = Vec::with_capacity(hits.len());
        for (seq, (row, entry)) in hits.into_iter().enumerate() {
            let key = RecordKey {
                tenant,
                ts: row.ts,
                id: row.id,
            }
            .encode();
            let read: PlateRead = decode_meta("plate read", &keys.open(&key, &row.value)?)?;
            alerts.push(Alert {
                tenant,
                id: AlertId {
                    index: pos.index,
                    seq: seq as u32,
                },
                hotlist: entry.hotlist,
                listed_plate: entry.plate,
                matching: match entry.matching {
                    EntryMatch::Exact => HotlistMatch::Exact,
                    EntryMatch::Fuzzy(max_edits) => HotlistMatch::Fuzzy { max_edits },
                },
                read,
            });
        }
        Ok(alerts)
    }
}
