//! The on-disk key layout. Every key is fixed-width and big-endian so that RocksDB's byte
//! order is (tenant, token, time, id) order, prefix scans are bounded ranges, and the
//! retention filter can read tenant and time without decrypting anything.
//!
//! ```text
//! cf               key                                                value
//! reads            tenant u32 | ts u64 | id u128                 (28) sealed read
//! reads_by_plate   tenant u32 | plate_token [8] | ts | id        (36) camera_token [8]
//! reads_by_cell    tenant u32 | cell_token [8] (H3 res 9) | ts | id (36) plate_token [8]
//! reads_by_camera  tenant u32 | camera_token [8] | ts | id       (36) plate_token [8]
//! plates           tenant u32 | plate_token [8]                  (12) last_seen u64 | sealed plate
//! read_ids         tenant u32 | id u128                          (20) ts u64 (client ids only)
//! manifests        tenant u32 | started_at u64 | id u128         (28) sealed manifest
//! manifest_ids     tenant u32 | id u128                          (20) ts u64 (client ids only)
//! series           tenant u32 | series_token [8] | ts u64        (20) sealed value f64 [| tags]
//! audit            log u32 | seq u64                             (12) hash [32] | entry bytes
//! audit_by_time    log u32 | at u64 | seq u64                    (20) () (time index)
//! meta             text keys (tenants, wrapped keys, applied log position, membership,
//!                  each audit log's chain record)
//! ```
//!
//! The two audit families hold the hash-chained audit logs (`crate::audit`): they have no
//! retention filter, since audit entries outlive the data they describe and are pruned by
//! `apply` alone, oldest first, so a chain never gets a hole.
//!
//! `ts` is stored as `ms + 2^63` so byte order equals numeric order for every `i64`.

/// Column family names, in creation order.
pub mod cf {
    /// Sealed plate reads by (tenant, time, id).
    pub const READS: &str = "reads";
    /// Plate index: tenant, plate token, time, id.
    pub const READS_BY_PLATE: &str = "reads_by_plate";
    /// Location index: tenant, H3 cell token, time, id.
    pub const READS_BY_CELL: &str = "reads_by_cell";
    /// Camera index: tenant, camera token, time, id.
    pub const READS_BY_CAMERA: &str = "reads_by_camera";
    /// Client id → capture time, for idempotent re-sends.
    pub const READ_IDS: &str = "read_ids";
    /// The plate dictionary: every distinct plate of a tenant, sealed, with the capture
    /// time of its newest read (so retention drops a plate with no reads left).
    pub const PLATES: &str = "plates";
    /// Sealed media manifests by (tenant, start time, id).
    pub const MANIFESTS: &str = "manifests";
    /// Client manifest id → start time.
    pub const MANIFEST_IDS: &str = "manifest_ids";
    /// Sealed sensor samples (value and tags) by (tenant, series token, time).
    pub const SERIES: &str = "series";
    /// Tenants, wrapped keys, applied log position, membership.
    pub const META: &str = "meta";
    /// The hash-chained audit logs: (log, seq) → hash and entry bytes (`crate::audit`).
    pub const AUDIT: &str = "audit";
    /// The audit logs' time index: (log, entry time, seq) → ().
    pub const AUDIT_BY_TIME: &str = "audit_by_time";

    /// The audit log families: replicated, in the checksum and in snapshots like every
    /// family, but with no retention filter (see `crate::audit` for their own retention).
    pub const AUDIT_FAMILIES: [&str; 2] = [AUDIT, AUDIT_BY_TIME];

    /// Every column family the engine opens, in creation order: the data families, the
    /// audit families, `meta`.
    pub fn all() -> impl Iterator<Item = &'static str> {
        DATA.into_iter().chain(AUDIT_FAMILIES).chain([META])
    }

    /// Every column family that holds tenant data subject to retention.
    pub const DATA: [&str; 9] = [
        READS,
        READS_BY_PLATE,
        READS_BY_CELL,
        READS_BY_CAMERA,
        READ_IDS,
        PLATES,
        MANIFESTS,
        MANIFEST_IDS,
        SERIES,
    ];
}

// Tokens travel in commands as plain bytes, so their type is sightline-wire's.
pub use sightline_wire::opaque::{Token, TOKEN_LEN};

/// Where the timestamp of an entry sits, so retention can find it without decrypting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLocation {
    /// Bytes 4..12 of the key (`reads`, `manifests`).
    KeyAt4,
    /// Bytes 12..20 of the key (token-prefixed indexes, `series`).
    KeyAt12,
    /// Bytes 0..8 of the value (`read_ids`, `manifest_ids`).
    Value,
}

/// The time location for a data column family, `None` for column families without
/// tenant data.
pub fn time_location(cf_name: &str) -> Option<TimeLocation> {
    match cf_name {
        cf::READS | cf::MANIFESTS => Some(TimeLocation::KeyAt4),
        cf::READS_BY_PLATE | cf::READS_BY_CELL | cf::READS_BY_CAMERA | cf::SERIES => {
            Some(TimeLocation::KeyAt12)
        }
        cf::READ_IDS | cf::MANIFEST_IDS | cf::PLATES => Some(TimeLocation::Value),
        _ => None,
    }
}

/// Encodes a millisecond timestamp so that byte order equals numeric order.
pub fn encode_ts(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// Inverse of [`encode_ts`].
pub fn decode_ts(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_ts(bytes: &[u8], at: usize) -> Option<i64> {
    Some(decode_ts(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn read_u128(bytes: &[u8], at: usize) -> Option<u128> {
    Some(u128::from_be_bytes(
        bytes.get(at..at + 16)?.try_into().ok()?,
    ))
}

/// Extracts (tenant, timestamp) from an entry of a data column family.
pub fn tenant_and_time(loc: TimeLocation, key: &[u8], value: &[u8]) -> Option<(u32, i64)> {
    let tenant = read_u32(key, 0)?;
    let ts = match loc {
        TimeLocation::KeyAt4 => read_ts(key, 4)?,
        TimeLocation::KeyAt12 => read_ts(key, 12)?,
        TimeLocation::Value => read_ts(value, 0)?,
    };
    Some((tenant, ts))
}

/// Key of a record in a time-ordered primary column family (`reads`, `manifests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    /// Tenant id.
    pub tenant: u32,
    /// Capture (or start) time, UTC ms.
    pub ts: i64,
    /// Record id.
    pub id: u128,
}

impl RecordKey {
    /// Encoded width.
    pub const LEN: usize = 28;

    /// Encodes to the fixed-width layout.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0..4].copy_from_slice(&self.tenant.to_be_bytes());
        out[4..12].copy_from_slice(&encode_ts(self.ts));
        out[12..28].copy_from_slice(&self.id.to_be_bytes());
        out
    }

    /// Decodes the fixed-width layout.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        Some(RecordKey {
            tenant: read_u32(bytes, 0)?,
            ts: read_ts(bytes, 4)?,
            id: read_u128(bytes, 12)?,
        })
    }
}

/// Key of a token index entry (`reads_by_plate`, `reads_by_cell`, `reads_by_camera`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexKey {
    /// Tenant id.
    pub tenant: u32,
    /// Keyed token of the indexed value.
    pub token: Token,
    /// Capture time, UTC ms.
    pub ts: i64,
    /// Record id.
    pub id: u128,
}

impl IndexKey {
    /// Encoded width.
    pub const LEN: usize = 36;
    /// Width of the (tenant, token) prefix.
    pub const PREFIX_LEN: usize = 12;

    /// Encodes to the fixed-width layout.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0..12].copy_from_slice(&Self::prefix(self.tenant, &self.token));
        out[12..20].copy_from_slice(&encode_ts(self.ts));
        out[20..36].copy_from_slice(&self.id.to_be_bytes());
        out
    }

    /// Decodes the fixed-width layout.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        Some(IndexKey {
            tenant: read_u32(bytes, 0)?,
            token: bytes.get(4..12)?.try_into().ok()?,
            ts: read_ts(bytes, 12)?,
            id: read_u128(bytes, 20)?,
        })
    }

    /// The (tenant, token) prefix every entry of one indexed value shares.
    pub fn prefix(tenant: u32, token: &Token) -> [u8; Self::PREFIX_LEN] {
        let mut out = [0u8; Self::PREFIX_LEN];
        out[0..4].copy_from_slice(&tenant.to_be_bytes());
        out[4..12].copy_from_slice(token);
        out
    }

    /// The record key this index entry points at.
    pub fn record(&self) -> RecordKey {
        RecordKey {
            tenant: self.tenant,
            ts: self.ts,
            id: self.id,
        }
    }
}

/// Key of a client-id lookup (`read_ids`, `manifest_ids`).
pub fn id_key(tenant: u32, id: u128) -> [u8; 20] {
    let mut out = [0u8; 20];
    out[0..4].copy_from_slice(&tenant.to_be_bytes());
    out[4..20].copy_from_slice(&id.to_be_bytes());
    out
}

/// Key of a plate dictionary entry: the (tenant, plate token) prefix of the plate index.
pub fn plate_key(tenant: u32, plate: &Token) -> [u8; IndexKey::PREFIX_LEN] {
    IndexKey::prefix(tenant, plate)
}

/// Key of a sensor sample.
pub fn series_key(tenant: u32, series: &Token, ts: i64) -> [u8; 20] {
    let mut out = [0u8; 20];
    out[0..4].copy_from_slice(&tenant.to_be_bytes());
    out[4..12].copy_from_slice(series);
    out[12..20].copy_from_slice(&encode_ts(ts));
    out
}

/// Keys of the `meta` column family. Text prefixes keep `ldb` dumps readable; none of them
/// holds user data.
pub mod meta {
    /// Last applied log position.
    pub const APPLIED: &[u8] = b"applied";
    /// Last applied membership, opaque to storage.
    pub const MEMBERSHIP: &[u8] = b"membership";
    /// The next tenant id to hand out.
    pub const NEXT_TENANT_ID: &[u8] = b"next_tenant_id";
    /// Prefix of tenant records: `tenant/{name}`.
    pub const TENANT_PREFIX: &[u8] = b"tenant/";
    /// Prefix of wrapped keys: `key/{tenant u32 BE}/{version u32 BE}`; version 0 is the
    /// token (index) key, versions 1.. are data keys.
    pub const KEY_PREFIX: &[u8] = b"key/";
    /// The cluster clock: the newest time a majority of voters agreed on, in UTC ms
    /// (`Command::AdvanceClock`). Replicated, monotonic; never any node's own clock.
    pub const CLOCK: &[u8] = b"clock";
    /// Prefix of retention watermarks: `watermark/{tenant u32 BE}` → the oldest capture
    /// time still live for that tenant. Monotonic: raising retention never lowers it.
    pub const WATERMARK_PREFIX: &[u8] = b"watermark/";

    /// Prefix of applied proposal ids: `proposal/{id u128 BE}` → (cluster clock at apply,
    /// outcome).
    pub const PROPOSAL_PREFIX: &[u8] = b"proposal/";
    /// The same ids by age, for pruning: `proposal_at/{clock i64 as BE u64 + 2^63}{id}` → ().
    pub const PROPOSAL_AT_PREFIX: &[u8] = b"proposal_at/";

    /// `proposal/{id}`.
    pub fn proposal(id: u128) -> Vec<u8> {
        [PROPOSAL_PREFIX, &id.to_be_bytes()].concat()
    }

    /// `proposal_at/{at}{id}`.
    pub fn proposal_at(at: i64, id: u128) -> Vec<u8> {
        [PROPOSAL_AT_PREFIX, &super::encode_ts(at), &id.to_be_bytes()].concat()
    }

    /// `watermark/{tenant}`.
    pub fn watermark(tenant: u32) -> Vec<u8> {
        [WATERMARK_PREFIX, &tenant.to_be_bytes()].concat()
    }

    /// `tenant/{name}`.
    pub fn tenant(name: &str) -> Vec<u8> {
        [TENANT_PREFIX, name.as_bytes()].concat()
    }

    /// `key/{tenant}/{version}`.
    pub fn wrapped_key(tenant: u32, version: u32) -> Vec<u8> {
        let mut out = KEY_PREFIX.to_vec();
        out.extend_from_slice(&tenant.to_be_bytes());
        out.push(b'/');
        out.extend_from_slice(&version.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_bytes() {
        let times = [i64::MIN, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for pair in times.windows(2) {
            assert!(encode_ts(pair[0]) < encode_ts(pair[1]), "{pair:?}");
        }
        for t in times {
            assert_eq!(decode_ts(encode_ts(t)), t);
        }
    }

    #[test]
    fn record_and_index_keys_round_trip_and_sort_by_time() {
        let a = RecordKey {
            tenant: 7,
            ts: 1_000,
            id: 5,
        };
        let b = RecordKey {
            tenant: 7,
            ts: 2_000,
            id: 1,
        };
        assert_eq!(RecordKey::decode(&a.encode()), Some(a));
        assert!(a.encode() < b.encode());
        let i = IndexKey {
            tenant: 7,
            token: [9; 8],
            ts: 1_000,
            id: u128::MAX,
        };
        assert_eq!(IndexKey::decode(&i.encode()), Some(i));
        assert_eq!(
            i.record(),
            RecordKey {
                tenant: 7,
                ts: 1_000,
                id: u128::MAX
            }
        );
        assert!(RecordKey::decode(&[0u8; 27]).is_none());
    }

    #[test]
    fn retention_finds_tenant_and_time_in_every_data_family() {
        let rk = RecordKey {
            tenant: 3,
            ts: 42,
            id: 1,
        }
        .encode();
        let ik = IndexKey {
            tenant: 3,
            token: [1; 8],
            ts: 42,
            id: 1,
        }
        .encode();
        let sk = series_key(3, &[2; 8], 42);
        let idk = id_key(3, 1);
        for name in cf::DATA {
            let loc = time_location(name).unwrap();
            let (key, value): (&[u8], &[u8]) = match name {
                cf::READS | cf::MANIFESTS => (&rk, b"sealed"),
                cf::SERIES => (&sk, b"sealed"),
                cf::READ_IDS | cf::MANIFEST_IDS | cf::PLATES => (&idk, &encode_ts(42)),
                _ => (&ik, &[]),
            };
            assert_eq!(tenant_and_time(loc, key, value), Some((3, 42)), "{name}");
        }
        assert_eq!(time_location(cf::META), None);
    }
}
