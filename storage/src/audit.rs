//! The hash-chained audit logs: one append-only log per tenant, plus the reserved cluster
//! log ([`CLUSTER_LOG`]) for what belongs to no tenant (cluster administration, a request
//! refused before any tenant was known). This module owns the format; the engine stores and
//! prunes entries (`engine/audit.rs`); [`verify`] walks a chain.
//!
//! **An entry** is an [`AuditEntry`] (who, with which token and role, did what in which
//! tenant, with which terms, case number and reason, how many hits, which HTTP outcome),
//! encoded with postcard and sealed by the proposer, before the command is ordered, with
//! the tenant's current data key (the cluster log: a key derived from the cluster's signing
//! key, [`cluster_key`]). The associated data binds the log, the entry's time and its id
//! ([`aad`]), so a sealed entry cannot be moved to another log or given another time. The
//! Raft log and the disk hold only the sealed bytes.
//!
//! **Time** is the proposing node's clock (UTC ms), fixed in the entry before it is
//! proposed, so `apply` reads no clock; entries of one log are in sequence order, and
//! their times are in that order up to the clock skew between the nodes that proposed them.
//!
//! **The chain.** `apply` gives each entry the next sequence number of its log and
//! `hash = SHA-256(prev_hash ‖ seq u64 BE ‖ entry bytes)`, where `entry bytes` is exactly
//! what is stored after the hash ([`entry_bytes`]) and the first entry's `prev_hash` is
//! [`GENESIS`] (32 zero bytes). On disk (column family `audit`):
//!
//! ```text
//! key    log u32 BE | seq u64 BE                                   (12 bytes)
//! value  hash [32] | format u8 (1) | at u64 (ms + 2^63, BE) | id u128 BE | sealed entry
//! ```
//!
//! `audit_by_time` indexes each entry by `log | at | seq` (20 bytes, empty value), and
//! `meta` holds each log's [`ChainState`] at `audit/chain/{log u32 BE}`: the first retained
//! seq and the hash before it, the next seq and the newest hash. So a deleted newest entry
//! is found (the chain record names a longer chain), as is any altered, deleted or moved
//! entry in between.
//!
//! **Retention.** Audit entries are kept [`DEFAULT_AUDIT_RETENTION_DAYS`] (a year), never
//! less than their tenant's data retention ([`retention_days`]). No compaction filter runs
//! on the audit families; `apply` prunes a log from its oldest end when the cluster clock
//! advances, only while the oldest entry is older than the retention, and records the
//! hash of the last pruned entry as the chain's base: the chain stays verifiable and never
//! gets a hole.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::command::SealedAuditEntry;
use crate::crypto::DataKey;
use crate::error::{Result, StorageError};
use crate::keys::{decode_ts, encode_ts};

pub mod verify;

pub use verify::{verify_chain, verify_dir, BrokenLink, ChainReport, Problem};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The log id of the cluster log (tenant ids start at 1).
pub const CLUSTER_LOG: u32 = 0;

/// The cluster log's name in the API and the CLI (not a valid tenant name, so it cannot
/// collide with one).
pub const CLUSTER_LOG_NAME: &str = "_cluster";

/// The hash before a log's first entry.
pub const GENESIS: Hash = [0; 32];

/// How long audit entries are kept unless their tenant keeps data longer.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 365;

/// At most this many entries are pruned per log per clock tick, so one command's batch
/// stays small; the rest go on the next ticks.
pub const MAX_PRUNED_PER_TICK: usize = 10_000;

/// Format byte of the stored entry bytes.
const ENTRY_FORMAT: u8 = 1;

/// Domain of the associated data of a sealed entry.
const AAD_DOMAIN: &[u8] = b"sightline/audit/1";

/// The HMAC context that derives the cluster log's key from the signing key.
const CLUSTER_KEY_CONTEXT: &[u8] = b"sightline/audit/cluster-key/1";

/// The retention of a log: a year, or the tenant's data retention if longer.
pub fn retention_days(tenant_retention_days: Option<u32>) -> u32 {
    tenant_retention_days.map_or(DEFAULT_AUDIT_RETENTION_DAYS, |d| {
        d.max(DEFAULT_AUDIT_RETENTION_DAYS)
    })
}

/// One access record, as sealed (what state ALPR laws and the CJIS policy ask an access
/// record to hold). Plates never appear: `terms` names them as the tenant's keyed tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who: the token's subject (`None`: no valid token).
    pub subject: Option<String>,
    /// The token's id.
    pub token_id: Option<[u8; 16]>,
    /// The token's role.
    pub role: Option<String>,
    /// The tenant acted on, by name (also in the cluster log, for a tenant that does not
    /// exist).
    pub tenant: Option<String>,
    /// What: `search.plates`, `search.area`, ..., or `METHOD /route` for other requests.
    pub action: String,
    /// The query's terms and filters, JSON (plates as keyed tokens).
    pub terms: Option<String>,
    /// The case number a search named.
    pub case_number: Option<String>,
    /// The reason a search named.
    pub reason: Option<String>,
    /// How many hits a search found.
    pub hits: Option<u64>,
    /// The HTTP status answered.
    pub outcome: u16,
}

/// What `meta` holds per log: where its retained chain starts and where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// The oldest retained seq (0 until something is pruned).
    pub first_seq: u64,
    /// The hash before `first_seq` ([`GENESIS`] until something is pruned).
    pub base_hash: Hash,
    /// The seq the next entry gets.
    pub next_seq: u64,
    /// The newest entry's hash (`base_hash` while the log is empty).
    pub head_hash: Hash,
}

impl ChainState {
    /// An empty log.
    pub fn new() -> Self {
        ChainState {
            first_seq: 0,
            base_hash: GENESIS,
            next_seq: 0,
            head_hash: GENESIS,
        }
    }

    /// Retained entries.
    pub fn len(&self) -> u64 {
        self.next_seq.saturating_sub(self.first_seq)
    }

    /// Whether no entry is retained.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for ChainState {
    fn default() -> Self {
        Self::new()
    }
}

/// The `meta` key prefix of chain records.
pub const CHAIN_PREFIX: &[u8] = b"audit/chain/";

/// `audit/chain/{log}`.
pub fn chain_key(log: u32) -> Vec<u8> {
    [CHAIN_PREFIX, &log.to_be_bytes()].concat()
}

/// The log a chain record key names.
pub fn chain_key_log(key: &[u8]) -> Option<u32> {
    let id = key.strip_prefix(CHAIN_PREFIX)?;
    Some(u32::from_be_bytes(id.try_into().ok()?))
}

/// Encodes a chain record.
pub fn encode_chain(state: &ChainState) -> Vec<u8> {
    match postcard::to_allocvec(state) {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("postcard cannot fail on a chain record: {e}"),
    }
}

/// Decodes a chain record.
pub fn decode_chain(bytes: &[u8]) -> Result<ChainState> {
    postcard::from_bytes(bytes).map_err(|e| StorageError::corrupt("audit chain record", e))
}

/// Key of entry `seq` of `log` in `audit`.
pub fn entry_key(log: u32, seq: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[0..4].copy_from_slice(&log.to_be_bytes());
    out[4..12].copy_from_slice(&seq.to_be_bytes());
    out
}

/// (log, seq) of an `audit` key.
pub fn decode_entry_key(key: &[u8]) -> Option<(u32, u64)> {
    let key: &[u8; 12] = key.try_into().ok()?;
    Some((
        u32::from_be_bytes(key[0..4].try_into().ok()?),
        u64::from_be_bytes(key[4..12].try_into().ok()?),
    ))
}

/// Key of an entry in `audit_by_time`.
pub fn time_key(log: u32, at: i64, seq: u64) -> [u8; 20] {
    let mut out = [0u8; 20];
    out[0..4].copy_from_slice(&log.to_be_bytes());
    out[4..12].copy_from_slice(&encode_ts(at));
    out[12..20].copy_from_slice(&seq.to_be_bytes());
    out
}

/// (log, at, seq) of an `audit_by_time` key.
pub fn decode_time_key(key: &[u8]) -> Option<(u32, i64, u64)> {
    let key: &[u8; 20] = key.try_into().ok()?;
    Some((
        u32::from_be_bytes(key[0..4].try_into().ok()?),
        decode_ts(key[4..12].try_into().ok()?),
        u64::from_be_bytes(key[12..20].try_into().ok()?),
    ))
}

/// The associated data a sealed entry is bound to.
pub fn aad(log: u32, at: i64, id: u128) -> Vec<u8> {
    [
        AAD_DOMAIN,
        &log.to_be_bytes(),
        &encode_ts(at),
        &id.to_be_bytes(),
    ]
    .concat()
}

/// The cluster log's key: HMAC-SHA-256 of the cluster's signing key over a fixed context,
/// so it lives wherever the signing key lives (replicated, wrapped by the master key, and
/// re-wrapped with it) without a second key to manage. Key version 0 in the envelope.
pub fn cluster_key(signing_key: &[u8; 32]) -> DataKey {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(signing_key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes a key of any length"),
    };
    mac.update(CLUSTER_KEY_CONTEXT);
    let mut raw = [0u8; 32];
    raw.copy_from_slice(&mac.finalize().into_bytes());
    DataKey::new(0, &raw)
}

/// Seals `entry` for `log` at time `at` with a fresh `id` (both fixed by the proposer).
pub fn seal(key: &DataKey, log: u32, at: i64, id: u128, entry: &AuditEntry) -> SealedAuditEntry {
    let plain = match postcard::to_allocvec(entry) {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("postcard cannot fail on an audit entry: {e}"),
    };
    SealedAuditEntry {
        log,
        at,
        id,
        value: key.seal(&aad(log, at, id), &plain),
    }
}

/// Decodes an opened entry.
pub fn decode_entry(plain: &[u8]) -> Result<AuditEntry> {
    postcard::from_bytes(plain).map_err(|e| StorageError::corrupt("audit entry", e))
}

/// The bytes stored after the hash, which the hash covers.
pub fn entry_bytes(entry: &SealedAuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(25 + entry.value.len());
    out.push(ENTRY_FORMAT);
    out.extend_from_slice(&encode_ts(entry.at));
    out.extend_from_slice(&entry.id.to_be_bytes());
    out.extend_from_slice(&entry.value);
    out
}

/// `SHA-256(prev ‖ seq u64 BE ‖ bytes)`.
pub fn chain_hash(prev: &Hash, seq: u64, bytes: &[u8]) -> Hash {
    let digest = Sha256::new()
        .chain_update(prev)
        .chain_update(seq.to_be_bytes())
        .chain_update(bytes)
        .finalize();
    let mut out = [0u8; 32];
    out.copy_from_slice(&digest);
    out
}

/// A stored `audit` value, parsed (nothing opened).
#[derive(Debug, Clone, Copy)]
pub struct StoredEntry<'a> {
    /// The stored hash.
    pub hash: Hash,
    /// The entry bytes the hash covers.
    pub bytes: &'a [u8],
    /// The entry's time (the proposer's clock).
    pub at: i64,
    /// The entry's id (fixed by the proposer).
    pub id: u128,
    /// The sealed [`AuditEntry`].
    pub sealed: &'a [u8],
}

impl<'a> StoredEntry<'a> {
    /// Parses a stored value; `None` if it is not of this format.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let (hash, bytes) = value.split_at_checked(32)?;
        let (&format, rest) = bytes.split_first()?;
        if format != ENTRY_FORMAT {
            return None;
        }
        let at = decode_ts(rest.get(0..8)?.try_into().ok()?);
        let id = u128::from_be_bytes(rest.get(8..24)?.try_into().ok()?);
        Some(StoredEntry {
            hash: hash.try_into().ok()?,
            bytes,
            at,
            id,
            sealed: rest.get(24..)?,
        })
    }

    /// The associated data its seal is bound to, for `log`.
    pub fn aad(&self, log: u32) -> Vec<u8> {
        aad(log, self.at, self.id)
    }
}

/// The stored value of an entry with `hash`.
pub fn stored_value(hash: &Hash, bytes: &[u8]) -> Vec<u8> {
    [hash.as_slice(), bytes].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_by_log_then_seq_or_time() {
        assert_eq!(decode_entry_key(&entry_key(3, 7)), Some((3, 7)));
        assert!(entry_key(3, 255) < entry_key(3, 256));
        assert!(entry_key(3, u64::MAX) < entry_key(4, 0));
        assert_eq!(decode_time_key(&time_key(3, -5, 9)), Some((3, -5, 9)));
        assert!(time_key(3, -5, 9) < time_key(3, 10, 0));
        assert_eq!(chain_key_log(&chain_key(77)), Some(77));
        assert_eq!(chain_key_log(b"audit/chain/x"), None);
    }

    #[test]
    fn a_sealed_entry_opens_only_bound_to_its_log_time_and_id() {
        let key = DataKey::new(1, &[9; 32]);
        let entry = AuditEntry {
            subject: Some("det. alice".into()),
            action: "search.plates".into(),
            case_number: Some("CASE-1".into()),
            reason: Some("stolen vehicle".into()),
            outcome: 200,
            ..AuditEntry::default()
        };
        let sealed = seal(&key, 4, 1_000, 42, &entry);
        let plain = key.open(&aad(4, 1_000, 42), &sealed.value).unwrap();
        assert_eq!(decode_entry(&plain).unwrap(), entry);
        assert!(key.open(&aad(5, 1_000, 42), &sealed.value).is_err());
        assert!(key.open(&aad(4, 1_001, 42), &sealed.value).is_err());
        assert!(key.open(&aad(4, 1_000, 43), &sealed.value).is_err());
        for needle in [&b"CASE-1"[..], b"stolen", b"alice"] {
            assert!(!sealed.value.windows(needle.len()).any(|w| w == needle));
        }
        let bytes = entry_bytes(&sealed);
        let value = stored_value(&[7; 32], &bytes);
        let parsed = StoredEntry::parse(&value).unwrap();
        assert_eq!(
            (parsed.hash, parsed.at, parsed.id, parsed.sealed),
            ([7; 32], 1_000, 42, sealed.value.as_slice())
        );
        assert_eq!(parsed.bytes, bytes.as_slice());
        assert!(StoredEntry::parse(&value[..40]).is_none());
    }

    #[test]
    fn the_cluster_key_depends_on_the_signing_key_only() {
        let a = cluster_key(&[1; 32]).seal(b"k", b"x");
        assert_eq!(a, cluster_key(&[1; 32]).seal(b"k", b"x"));
        assert_ne!(a, cluster_key(&[2; 32]).seal(b"k", b"x"));
    }

    #[test]
    fn retention_is_a_year_or_the_tenants_if_longer() {
        assert_eq!(retention_days(None), 365);
        assert_eq!(retention_days(Some(30)), 365);
        assert_eq!(retention_days(Some(3_650)), 3_650);
    }
}
