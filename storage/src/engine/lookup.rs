//! Reading sealed records back by key: plate reads in batches (one multi-get) and single
//! manifests, each opened with its tenant's keys.

use super::{decode_meta, Engine};
use crate::error::Result;
use crate::keys::{cf, RecordKey};
use crate::record::{Manifest, PlateRead};

impl Engine {
    /// Fetches and opens plate reads; `None` for keys that are not stored.
    pub fn get_reads(&self, tenant: u32, keys: &[RecordKey]) -> Result<Vec<Option<PlateRead>>> {
        let tenant_keys = self.tenant_keys(tenant)?;
        let encoded: Vec<[u8; RecordKey::LEN]> = keys.iter().map(RecordKey::encode).collect();
        let values = self
            .db
            .batched_multi_get_cf(self.cf(cf::READS)?, encoded.iter(), false);
        let mut out = Vec::with_capacity(keys.len());
        for (key, value) in encoded.iter().zip(values) {
            match value? {
                Some(sealed) => {
                    let plain = tenant_keys.open(key, &sealed)?;
                    out.push(Some(decode_meta::<PlateRead>("plate read", &plain)?));
                }
                None => out.push(None),
            }
        }
        Ok(out)
    }

    /// Fetches and opens one manifest.
    pub fn get_manifest(&self, key: RecordKey) -> Result<Option<Manifest>> {
        let tenant_keys = self.tenant_keys(key.tenant)?;
        let encoded = key.encode();
        match self.db.get_pinned_cf(self.cf(cf::MANIFESTS)?, encoded)? {
            Some(sealed) => {
                let plain = tenant_keys.open(&encoded, &sealed)?;
                Ok(Some(decode_meta("manifest", &plain)?))
            }
            None => Ok(None),
        }
    }
}
