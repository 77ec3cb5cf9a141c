//! Convoy: plates read by the same camera within `window_s` of a target plate's reads, at
//! least `min_co_occurrences` times.
//!
//! The target's reads come from the plate index, whose entries carry the camera token;
//! each read becomes a scan of that camera's index over `[ts − window, ts + window]`, whose
//! entries carry the plate token. A co-occurrence is one target read near which the other
//! plate was read (several reads of the other plate near the same target read count once).
//! Nothing is opened but the reads of the plates returned, for their ids.

use std::collections::HashMap;

use sightline_storage::engine::ReadIndex;
use sightline_storage::keys::{RecordKey, Token};
use sightline_storage::prepare::plate_token;
use sightline_storage::Engine;

use crate::{live_from, QueryError, Result};

/// Most target reads one query may walk.
pub const MAX_TARGET_READS: usize = 20_000;

/// A convoy query.
#[derive(Debug, Clone)]
pub struct ConvoyQuery {
    /// Tenant id.
    pub tenant: u32,
    /// Normalized target plate.
    pub plate: String,
    /// Earliest capture time of the target's reads, UTC ms, inclusive.
    pub from: i64,
    /// Latest capture time of the target's reads, UTC ms, inclusive.
    pub to: i64,
    /// Half-width of the window around each target read, seconds.
    pub window_s: u32,
    /// A plate needs at least this many co-occurrences.
    pub min_co_occurrences: usize,
    /// Most plates to return.
    pub limit: usize,
}

/// A plate travelling with the target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Companion {
    /// Normalized plate.
    pub plate: String,
    /// Target reads it was seen near.
    pub co_occurrences: usize,
    /// Public ids of its reads near the target's, newest first.
    pub read_ids: Vec<String>,
}

/// The answer.
#[derive(Debug, Clone)]
pub struct ConvoyAnswer {
    /// Plates, most co-occurrences first, then by plate.
    pub plates: Vec<Companion>,
    /// Plates that qualified (before `limit`).
    pub total: usize,
    /// The target's reads walked.
    pub target_reads: usize,
    /// Index entries walked.
    pub index_entries_examined: u64,
}

#[derive(Default)]
struct Seen {
    co_occurrences: usize,
    last_target: Option<usize>,
    reads: Vec<RecordKey>,
}

/// Runs a convoy query as of `now`.
pub fn convoy(engine: &Engine, query: &ConvoyQuery) -> Result<ConvoyAnswer> {
    let keys = engine.tenant_keys(query.tenant)?;
    let target = plate_token(&keys, &query.plate);
    let from = live_from(engine, query.tenant, query.from);
    // Companion reads may precede `from` (a window around an early target read) but
    // never the retention cutoff.
    let cutoff = live_from(engine, query.tenant, i64::MIN);
    let mut examined = 0u64;
    let mut targets: Vec<(i64, Token)> = Vec::new();
    let mut too_many = false;
    engine.scan_index_newest_first(
        ReadIndex::Plate,
        query.tenant,
        &target,
        from,
        (query.to, u128::MAX),
        |entry, camera| {
            examined += 1;
            if let Ok(camera) = <Token>::try_from(camera) {
                targets.push((entry.ts, camera));
            }
            if targets.len() > MAX_TARGET_READS {
                too_many = true;
                return false;
            }
            true
        },
    )?;
    if too_many {
        return Err(QueryError::invalid(
            "from",
            format!("the plate has more than {MAX_TARGET_READS} reads in the range; narrow it"),
        ));
    }
    let window = i64::from(query.window_s) * 1000;
    let mut seen: HashMap<Token, Seen> = HashMap::new();
    for (i, (ts, camera)) in targets.iter().enumerate() {
        let lo = ts.saturating_sub(window).max(cutoff);
        engine.scan_index_newest_first(
            ReadIndex::Camera,
            query.tenant,
            camera,
            lo,
            (ts.saturating_add(window), u128::MAX),
            |entry, plate| {
                examined += 1;
                let Ok(plate) = <Token>::try_from(plate) else {
                    return true;
                };
                if plate == target {
                    return true;
                }
                let s = seen.entry(plate).or_default();
                if s.last_target != Some(i) {
                    s.last_target = Some(i);
                    s.co_occurrences += 1;
                }
                s.reads.push(entry.record());
                true
            },
        )?;
    }
    let mut qualifying: Vec<(String, Seen)> = engine.with_dictionary(query.tenant, |d| {
        seen.into_iter()
            .filter(|(_, s)| s.co_occurrences >= query.min_co_occurrences)
            .filter_map(|(token, s)| {
                let plate = d.id_of(&token).and_then(|id| d.plate(id))?;
                Some((plate.to_string(), s))
            })
            .collect()
    });
    let total = qualifying.len();
    qualifying.sort_by(|a, b| {
        b.1.co_occurrences
            .cmp(&a.1.co_occurrences)
            .then_with(|| a.0.cmp(&b.0))
    });
    qualifying.truncate(query.limit);
    let mut plates = Vec::with_capacity(qualifying.len());
    for (plate, mut s) in qualifying {
        s.reads
            .sort_unstable_by_key(|k| std::cmp::Reverse((k.ts, k.id)));
        s.reads.dedup();
        let read_ids = engine
            .get_reads(query.tenant, &s.reads)?
            .into_iter()
            .flatten()
            .map(|r| r.id)
            .collect();
        plates.push(Companion {
            plate,
            co_occurrences: s.co_occurrences,
            read_ids,
        });
    }
    Ok(ConvoyAnswer {
        plates,
        total,
        target_reads: targets.len(),
        index_entries_examined: examined,
    })
}
