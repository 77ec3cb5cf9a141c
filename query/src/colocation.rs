//! Co-location: which plates were seen in at least `min_places` of several place-time
//! windows ("which cars were at all of these places").
//!
//! Each place is an area scan of the cell index bounded by its time window: entries of
//! cells wholly inside the shape count from the index alone (the entry carries the plate
//! token), the others are opened for the exact point check. Each place's plates become a
//! roaring bitmap of the tenant's dense plate ids (from the plate dictionary); a plate's
//! places are the bitmaps that hold it.

use std::collections::HashMap;

use roaring::RoaringBitmap;
use sightline_index::area::Area;
use sightline_storage::engine::ReadIndex;
use sightline_storage::keys::{RecordKey, Token};
use sightline_storage::prepare::cell_token;
use sightline_storage::Engine;

use crate::{live_from, QueryError, Result};

/// Most reads one place may hold before the query is refused as too broad.
pub const MAX_PLACE_READS: usize = 200_000;
/// Most places one query may name.
pub const MAX_PLACES: usize = 20;

/// One place-time window.
#[derive(Debug, Clone)]
pub struct Place {
    /// The shape.
    pub area: Area,
    /// Earliest capture time, UTC ms, inclusive.
    pub from: i64,
    /// Latest capture time, UTC ms, inclusive.
    pub to: i64,
}

/// A co-location query.
#[derive(Debug, Clone)]
pub struct CoLocationQuery {
    /// Tenant id.
    pub tenant: u32,
    /// The places.
    pub places: Vec<Place>,
    /// A plate must be seen in at least this many places.
    pub min_places: usize,
    /// Most plates to return.
    pub limit: usize,
}

/// A plate seen in enough places.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CoLocated {
    /// Normalized plate.
    pub plate: String,
    /// Indexes of the places it was seen in, ascending.
    pub places: Vec<usize>,
    /// Public ids of its reads in those places, newest first.
    pub read_ids: Vec<String>,
}

/// The answer.
#[derive(Debug, Clone)]
pub struct CoLocationAnswer {
    /// Plates, most places first, then by plate.
    pub plates: Vec<CoLocated>,
    /// Plates that qualified (before `limit`).
    pub total: usize,
    /// Index entries walked over all places.
    pub index_entries_examined: u64,
    /// Records opened for point checks and ids.
    pub records_opened: u64,
}

/// A read found inside an area: its key and plate token.
pub(crate) struct AreaRead {
    pub key: RecordKey,
    pub plate: Token,
}

/// Every read inside `area` captured in `[from, to]`, newest first; `field` names the
/// area in the error when there are more than `cap`.
pub(crate) fn reads_in_area(
    engine: &Engine,
    tenant: u32,
    area: &Area,
    (from, to): (i64, i64),
    cap: usize,
    field: &str,
    counters: &mut (u64, u64),
) -> Result<Vec<AreaRead>> {
    let keys = engine.tenant_keys(tenant)?;
    let cover = area.cover().map_err(|e| {
        QueryError::invalid(
            format!("{field}.{}", e.field).trim_end_matches('.'),
            e.reason,
        )
    })?;
    let mut inside = HashMap::with_capacity(cover.len());
    let tokens: Vec<Token> = cover
        .iter()
        .map(|c| {
            let token = cell_token(&keys, c.cell);
            inside.insert(token, c.inside);
            token
        })
        .collect();
    let mut found = Vec::new();
    let mut boundary: Vec<AreaRead> = Vec::new();
    let mut too_many = false;
    engine.merge_scan_newest_first(
        ReadIndex::Cell,
        tenant,
        &tokens,
        from,
        (to, u128::MAX),
        |entry, value| {
            counters.0 += 1;
            let Ok(plate) = <Token>::try_from(value) else {
                return true;
            };
            let read = AreaRead {
                key: entry.record(),
                plate,
            };
            if inside.get(&entry.token).copied().unwrap_or(false) {
                found.push(read);
            } else {
                boundary.push(read);
            }
            if found.len() + boundary.len() > cap {
                too_many = true;
                return false;
            }
            true
        },
    )?;
    if too_many {
        return Err(QueryError::invalid(
            field,
            format!("holds more than {cap} reads; narrow the area or the time range"),
        ));
    }
    let keys: Vec<RecordKey> = boundary.iter().map(|r| r.key).collect();
    counters.1 += keys.len() as u64;
    let records = engine.get_reads(tenant, &keys)?;
    for (read, record) in boundary.into_iter().zip(records) {
        if record.is_some_and(|r| area.contains(r.lat, r.lon)) {
            found.push(read);
        }
    }
    found.sort_unstable_by_key(|r| std::cmp::Reverse((r.key.ts, r.key.id)));
    Ok(found)
}

/// Runs a co-location query as of `now`.
pub fn co_location(engine: &Engine, query: &CoLocationQuery) -> Result<CoLocationAnswer> {
    let mut counters = (0u64, 0u64);
    let mut per_place = Vec::with_capacity(query.places.len());
    for (i, place) in query.places.iter().enumerate() {
        let from = live_from(engine, query.tenant, place.from);
        let reads = reads_in_area(
            engine,
            query.tenant,
            &place.area,
            (from, place.to),
            MAX_PLACE_READS,
            &format!("places[{i}].area"),
            &mut counters,
        )?;
        per_place.push(reads);
    }
    // Dense ids from the tenant's dictionary, which holds every plate with a live read.
    let (bitmaps, names): (Vec<RoaringBitmap>, HashMap<u32, (String, Token)>) = engine
        .with_dictionary(query.tenant, |d| {
            let mut names = HashMap::new();
            let bitmaps = per_place
                .iter()
                .map(|reads| {
                    reads
                        .iter()
                        .filter_map(|r| {
                            let id = d.id_of(&r.plate)?;
                            if let Some(plate) = d.plate(id) {
                                names
                                    .entry(id)
                                    .or_insert_with(|| (plate.to_string(), r.plate));
                            }
                            Some(id)
                        })
                        .collect()
                })
                .collect();
            (bitmaps, names)
        });
    let union = bitmaps.iter().fold(RoaringBitmap::new(), |acc, b| acc | b);
    let mut qualifying: Vec<(String, Token, Vec<usize>)> = union
        .iter()
        .filter_map(|id| {
            let places: Vec<usize> = bitmaps
                .iter()
                .enumerate()
                .filter(|(_, b)| b.contains(id))
                .map(|(i, _)| i)
                .collect();
            let (plate, token) = names.get(&id)?.clone();
            (places.len() >= query.min_places).then_some((plate, token, places))
        })
        .collect();
    let total = qualifying.len();
    qualifying.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then_with(|| a.0.cmp(&b.0)));
    qualifying.truncate(query.limit);
    // The returned plates' reads, gathered in one pass over the places.
    let wanted: std::collections::HashSet<Token> = qualifying.iter().map(|q| q.1).collect();
    let mut reads_of: HashMap<Token, Vec<RecordKey>> = HashMap::new();
    for r in per_place
        .iter()
        .flatten()
        .filter(|r| wanted.contains(&r.plate))
    {
        reads_of.entry(r.plate).or_default().push(r.key);
    }
    let mut plates = Vec::with_capacity(qualifying.len());
    for (plate, token, places) in qualifying {
        let mut keys = reads_of.remove(&token).unwrap_or_default();
        keys.sort_unstable_by_key(|k| std::cmp::Reverse((k.ts, k.id)));
        keys.dedup();
        counters.1 += keys.len() as u64;
        let read_ids = engine
            .get_reads(query.tenant, &keys)?
            .into_iter()
            .flatten()
            .map(|r| r.id)
            .collect();
        plates.push(CoLocated {
            plate,
            places,
            read_ids,
        });
    }
    Ok(CoLocationAnswer {
        plates,
        total,
        index_entries_examined: counters.0,
        records_opened: counters.1,
    })
}
