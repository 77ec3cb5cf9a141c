//! Verifying an audit chain: recompute every hash from the stored bytes, oldest first, and
//! name the first broken link. No key is needed (hashes cover the sealed bytes), so an
//! auditor can check a copy of the data directory without the master key.
//!
//! What is found, and how it is named (the seq is always the first one that is wrong):
//!
//! - an altered entry (any byte after its hash): its recomputed hash differs from the
//!   stored one, while the stored hash still links to the next entry: [`Problem::Altered`];
//! - an altered hash: the recomputed hash links to the next entry, the stored one does
//!   not: [`Problem::HashAltered`];
//! - both, or an entry moved or swapped with another: [`Problem::Mismatch`];
//! - a deleted entry, the newest included (the chain record says how long the chain is):
//!   [`Problem::Missing`];
//! - entries outside the recorded chain, a value of another format, a chain record that
//!   names another newest hash: [`Problem::OutsideChain`], [`Problem::Malformed`],
//!   [`Problem::HeadMismatch`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use rocksdb::{Direction, IteratorMode, Options, DB};
use serde::Serialize;

use super::{
    chain_hash, chain_key, chain_key_log, decode_chain, decode_entry_key, entry_key, ChainState,
    Hash, StoredEntry, CHAIN_PREFIX, CLUSTER_LOG, CLUSTER_LOG_NAME,
};
use crate::engine::TenantInfo;
use crate::error::{Result, StorageError};
use crate::keys::{cf, meta};

/// What is wrong at a broken link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The entry's bytes were altered: with the previous hash they no longer hash to its
    /// stored hash, which still links to the next entry (or the chain record's head). The
    /// same is seen when the entry before it was replaced and its hash recomputed: nothing
    /// but the original tells the two apart.
    Altered,
    /// The entry's stored hash was altered: its bytes hash to a value that links on.
    HashAltered,
    /// The entry does not hash to its stored hash and neither links on (both altered, or
    /// moved or swapped with another entry).
    Mismatch,
    /// The entry is missing (deleted).
    Missing,
    /// The stored value is not an audit entry of this format.
    Malformed,
    /// An entry outside the chain its record describes (before the first retained seq,
    /// past the newest, or in a log without a chain record).
    OutsideChain,
    /// The chain ends in another hash than its record names.
    HeadMismatch,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Altered => {
                "entry altered (or the one before it replaced): it does not hash to its stored hash"
            }
            Problem::HashAltered => "stored hash altered: it is not the hash of its entry",
            Problem::Mismatch => {
                "entry does not match its hash (altered, or moved from another position)"
            }
            Problem::Missing => "entry missing (deleted)",
            Problem::Malformed => "entry malformed (not an audit entry of this format)",
            Problem::OutsideChain => "entry outside the recorded chain",
            Problem::HeadMismatch => "the chain's newest hash is not the one its record names",
        })
    }
}

/// The first broken link of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The first seq that is wrong.
    pub seq: u64,
    /// What is wrong there.
    pub problem: Problem,
}

/// The verdict on one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Log id (0: the cluster log).
    pub log: u32,
    /// Tenant name, or [`CLUSTER_LOG_NAME`] (`#{id}` for a log whose tenant is unknown).
    pub name: String,
    /// Entries verified before the first broken link (all of them when intact).
    pub entries: u64,
    /// The chain record (`None`: the log has none).
    pub chain: Option<ChainState>,
    /// The first broken link; `None` when the chain verifies.
    pub broken: Option<BrokenLink>,
}

impl ChainReport {
    /// Whether the chain verifies.
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

impl fmt::Display for ChainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.broken, &self.chain) {
            (None, Some(chain)) => write!(
                f,
                "{}: OK, {} entries (seq {}..{}), head {}",
                self.name,
                self.entries,
                chain.first_seq,
                chain.next_seq,
                hex::encode(chain.head_hash)
            ),
            (None, None) => write!(f, "{}: OK, 0 entries", self.name),
            (Some(link), _) => write!(
                f,
                "{}: BROKEN at seq {}: {} ({} entries verified before it)",
                self.name, link.seq, link.problem, self.entries
            ),
        }
    }
}

/// Walks one log's stored entries (`(seq, value)` in seq order) against its chain record.
pub fn verify_chain<I>(
    log: u32,
    name: String,
    chain: Option<ChainState>,
    entries: I,
) -> Result<ChainReport>
where
    I: Iterator<Item = Result<(u64, Vec<u8>)>>,
{
    let mut report = ChainReport {
        log,
        name,
        entries: 0,
        chain,
        broken: None,
    };
    let mut entries = entries.peekable();
    let Some(chain) = chain else {
        if let Some(first) = entries.next() {
            report.broken = Some(BrokenLink {
                seq: first?.0,
                problem: Problem::OutsideChain,
            });
        }
        return Ok(report);
    };
    let broken = |seq, problem| Some(BrokenLink { seq, problem });
    let mut expected = chain.first_seq;
    let mut prev = chain.base_hash;
    while let Some(item) = entries.next() {
        let (seq, value) = item?;
        if seq < chain.first_seq {
            report.broken = broken(seq, Problem::OutsideChain);
            return Ok(report);
        }
        if seq > expected && expected < chain.next_seq {
            report.broken = broken(expected, Problem::Missing);
            return Ok(report);
        }
        if seq >= chain.next_seq {
            report.broken = broken(seq, Problem::OutsideChain);
            return Ok(report);
        }
        let Some(entry) = StoredEntry::parse(&value) else {
            report.broken = broken(seq, Problem::Malformed);
            return Ok(report);
        };
        let recomputed = chain_hash(&prev, seq, entry.bytes);
        if recomputed != entry.hash {
            // Which of the two hashes does the next link (entry or chain record) follow?
            let mut links = |hash: &Hash| -> bool {
                match entries.peek() {
                    Some(Ok((next_seq, next))) if *next_seq == seq + 1 => StoredEntry::parse(next)
                        .is_some_and(|n| chain_hash(hash, seq + 1, n.bytes) == n.hash),
                    _ if seq + 1 == chain.next_seq => *hash == chain.head_hash,
                    _ => false,
                }
            };
            let problem = if links(&entry.hash) {
                Problem::Altered
            } else if links(&recomputed) {
                Problem::HashAltered
            } else {
                Problem::Mismatch
            };
            report.broken = broken(seq, problem);
            return Ok(report);
        }
        prev = entry.hash;
        expected = seq + 1;
        report.entries += 1;
    }
    if expected < chain.next_seq {
        report.broken = broken(expected, Problem::Missing);
    } else if prev != chain.head_hash {
        report.broken = broken(chain.next_seq.saturating_sub(1), Problem::HeadMismatch);
    }
    Ok(report)
}

/// The name a log is shown under.
pub fn log_name(log: u32, tenants: &BTreeMap<u32, String>) -> String {
    match (log, tenants.get(&log)) {
        (CLUSTER_LOG, _) => CLUSTER_LOG_NAME.to_string(),
        (_, Some(name)) => name.clone(),
        (_, None) => format!("#{log}"),
    }
}

/// Verifies logs of `db` as of one snapshot: every log that has a chain record or entries,
/// or only the one named `only` (a tenant name or [`CLUSTER_LOG_NAME`]; an unknown name is
/// an error). Shared by the engine (a live database) and [`verify_dir`] (read-only).
pub(crate) fn verify_db(db: &DB, only: Option<&str>) -> Result<Vec<ChainReport>> {
    let missing = |name: &str| StorageError::corrupt("column family", format!("{name} missing"));
    let meta_cf = db.cf_handle(cf::META).ok_or_else(|| missing(cf::META))?;
    let audit_cf = db.cf_handle(cf::AUDIT).ok_or_else(|| missing(cf::AUDIT))?;
    let snapshot = db.snapshot();
    let mut tenants = BTreeMap::new();
    let from = |prefix: &'static [u8]| IteratorMode::From(prefix, Direction::Forward);
    for item in snapshot.iterator_cf(meta_cf, from(meta::TENANT_PREFIX)) {
        let (key, value) = item?;
        if !key.starts_with(meta::TENANT_PREFIX) {
            break;
        }
        let info: TenantInfo =
            postcard::from_bytes(&value).map_err(|e| StorageError::corrupt("tenant record", e))?;
        tenants.insert(info.id, info.name);
    }
    let mut logs = BTreeSet::new();
    for item in snapshot.iterator_cf(meta_cf, from(CHAIN_PREFIX)) {
        let (key, _) = item?;
        match chain_key_log(&key) {
            Some(log) => logs.insert(log),
            None if key.starts_with(CHAIN_PREFIX) => continue,
            None => break,
        };
    }
    // Logs with entries but no chain record (the record was deleted) are verified too:
    // one seek per log.
    let mut at = entry_key(0, 0);
    loop {
        let mut iter = snapshot.iterator_cf(audit_cf, IteratorMode::From(&at, Direction::Forward));
        let Some(item) = iter.next() else { break };
        let (key, _) = item?;
        let Some((log, _)) = decode_entry_key(&key) else {
            break;
        };
        logs.insert(log);
        match log.checked_add(1) {
            Some(next) => at = entry_key(next, 0),
            None => break,
        }
    }
    if let Some(name) = only {
        let log = if name == CLUSTER_LOG_NAME {
            CLUSTER_LOG
        } else {
            *tenants
                .iter()
                .find(|(_, n)| n.as_str() == name)
                .ok_or_else(|| StorageError::UnknownTenant(name.to_string()))?
                .0
        };
        logs = [log].into();
    }
    let mut reports = Vec::new();
    for log in logs {
        let chain = match snapshot.get_cf(meta_cf, chain_key(log))? {
            Some(bytes) => Some(decode_chain(&bytes)?),
            None => None,
        };
        let start = entry_key(log, 0);
        let entries = snapshot
            .iterator_cf(audit_cf, IteratorMode::From(&start, Direction::Forward))
            .map(|item| -> Result<Option<(u64, Vec<u8>)>> {
                let (key, value) = item?;
                Ok(decode_entry_key(&key)
                    .filter(|(l, _)| *l == log)
                    .map(|(_, seq)| (seq, value.into_vec())))
            })
            .map_while(|item| item.transpose());
        reports.push(verify_chain(log, log_name(log, &tenants), chain, entries)?);
    }
    Ok(reports)
}

/// Verifies the audit logs of the engine directory `path`, opened read-only (so a stopped
/// node's data directory, or a copy of it; see docs/security.md for a running node).
pub fn verify_dir(path: &Path, only: Option<&str>) -> Result<Vec<ChainReport>> {
    let families = DB::list_cf(&Options::default(), path)?;
    if !families.iter().any(|name| name == cf::AUDIT) {
        // An engine from before the audit store: nothing to verify.
        return Ok(Vec::new());
    }
    let db = DB::open_cf_for_read_only(&Options::default(), path, &families, false)?;
    verify_db(&db, only)
}
