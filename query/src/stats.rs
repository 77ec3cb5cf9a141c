//! Read statistics for the analyst role (`POST /v1/tenants/{t}/stats/reads`): a tenant's
//! plate reads with `from <= captured_at <= to` (both ends inclusive, like every search and
//! the series query) counted per time bucket and key, where buckets are `step` wide and
//! aligned to the epoch as in [`crate::series`] (a read at `ts` falls in the bucket
//! starting at `floor(ts / step) * step`) and the key is the read's camera id
//! ([`GroupBy::Camera`]) or the H3 resolution-7 cell of its position ([`GroupBy::H3R7`]).
//! Each answered bucket carries the number of reads and of distinct normalized plates among
//! them; only non-empty buckets are answered, by bucket start, then key.
//!
//! **No plate and no fine position leaves this module.** A [`StatsBucket`] has a time, a key
//! (a camera id or a resolution-7 cell) and two counts; plates are only ever held in the
//! set that counts the current bucket's distinct vehicles, and positions only long enough to
//! find their resolution-7 cell. Errors name the request field with our own text, never a
//! stored value.
//!
//! **Cost.** `from` is raised to the tenant's retention watermark first.
//!
//! - *By camera*, nothing is decrypted per read: the camera index (`reads_by_camera`,
//!   tenant · camera token · time · id → plate token) already holds, per entry, the camera
//!   (as a token) and the plate (as a token, which is one-to-one with the normalized plate),
//!   so [`Engine::scan_index_by_token`] walks each camera token's entries in the range (a
//!   seek or two per camera of the tenant, then only entries in range), and one read per
//!   camera token is opened at the end to learn its camera id. Cost: the index entries in
//!   range (44 bytes each) plus two seeks and one AEAD open per camera.
//! - *By H3 resolution-7 cell*, every read in the range is opened: the cell index is at
//!   resolution 9 and H3 is not exactly hierarchical (a point's resolution-7 cell need not be
//!   the parent of its resolution-9 cell), so the coarse cell must come from the position.
//!   [`Engine::scan_reads`] walks the `reads` column family's range oldest first (one
//!   contiguous key range), one AEAD open, one decode and one `to_cell` per read, about
//!   1–2 µs a read: a day of the demo's data (100,000 reads) is a fraction of a second.
//!
//! Memory is the answer plus one bucket's distinct plates: both walks see a key's (by
//! camera) or every key's (by cell) reads in time order, so only the current bucket is open.
//!
//! Bounds, each refused with a 400 naming a field: at most [`MAX_BUCKETS`] time buckets in
//! `[from, to]` (`step_s`, as for series), at most [`MAX_ROWS`] answered buckets (`step_s`:
//! raise it or narrow the range), and at most [`MAX_READS`] reads in the range (`from`).

use std::collections::{HashMap, HashSet};

use h3o::{LatLng, Resolution};
use sightline_storage::engine::ReadIndex;
use sightline_storage::keys::{RecordKey, Token};
use sightline_storage::{Engine, StorageError};

use crate::series::{bucket_count, bucket_start};
use crate::{live_from, QueryError, Result};

pub use crate::series::MAX_BUCKETS;

/// Most buckets (time bucket and key pairs) one answer may hold.
pub const MAX_ROWS: usize = 100_000;
/// Most reads one query may count (by cell, each is opened: several seconds at the bound).
pub const MAX_READS: u64 = 5_000_000;
/// The resolution of the [`GroupBy::H3R7`] keys.
pub const CELL_RESOLUTION: Resolution = Resolution::Seven;

/// What a bucket's key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The camera id.
    Camera,
    /// The H3 resolution-7 cell of the read's position, as 15 lower-case hex digits.
    H3R7,
}

impl GroupBy {
    /// Every grouping, with its name in the API.
    pub const ALL: [(&'static str, GroupBy); 2] =
        [("camera", GroupBy::Camera), ("h3_r7", GroupBy::H3R7)];

    /// The grouping named `name`, if any.
    pub fn parse(name: &str) -> Option<GroupBy> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, group_by)| *group_by)
    }
}

/// A read statistics query.
#[derive(Debug, Clone)]
pub struct StatsQuery {
    /// Tenant id.
    pub tenant: u32,
    /// Earliest capture time, UTC ms, inclusive.
    pub from: i64,
    /// Latest capture time, UTC ms, inclusive.
    pub to: i64,
    /// Bucket width, ms (> 0).
    pub step_ms: i64,
    /// What the buckets are keyed by.
    pub group_by: GroupBy,
}

/// One answered bucket: counts only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatsBucket {
    /// Bucket start, UTC ms (a multiple of the step).
    pub ts: i64,
    /// The camera id, or the resolution-7 cell as 15 hex digits.
    pub key: String,
    /// Reads in the bucket with this key.
    pub reads: u64,
    /// Distinct normalized plates among them.
    pub distinct_vehicles: u64,
}

impl StatsQuery {
    /// Refuses what cannot be run, naming the request field: `from` after `to` (`from`), a
    /// step that is not positive or gives more than [`MAX_BUCKETS`] buckets (`step_s`).
    pub fn check(&self) -> Result<()> {
        if self.from > self.to {
            return Err(QueryError::invalid("from", "must not be after to"));
        }
        if self.step_ms <= 0 {
            return Err(QueryError::invalid("step_s", "must be a positive integer"));
        }
        let buckets = bucket_count(self.from, self.to, self.step_ms);
        if buckets > i128::from(MAX_BUCKETS) {
            return Err(QueryError::invalid(
                "step_s",
                format!(
                    "gives {buckets} buckets over from..to, more than {MAX_BUCKETS}; \
                     raise step_s or narrow the range"
                ),
            ));
        }
        Ok(())
    }
}

fn too_many_reads() -> QueryError {
    QueryError::invalid(
        "from",
        format!("the range holds more than {MAX_READS} reads; narrow it"),
    )
}

fn too_many_rows() -> QueryError {
    QueryError::invalid(
        "step_s",
        format!(
            "the answer would hold more than {MAX_ROWS} buckets; raise step_s or narrow the range"
        ),
    )
}

/// Runs a read statistics query: its non-empty buckets by start, then key.
pub fn read_stats(engine: &Engine, query: &StatsQuery) -> Result<Vec<StatsBucket>> {
    query.check()?;
    // Fails on an unknown tenant before any scan.
    engine.tenant_keys(query.tenant)?;
    let from = live_from(engine, query.tenant, query.from);
    let mut buckets = match query.group_by {
        GroupBy::Camera => by_camera(engine, query, from)?,
        GroupBy::H3R7 => by_cell(engine, query, from)?,
    };
    buckets.sort_unstable_by(|a, b| (a.ts, &a.key).cmp(&(b.ts, &b.key)));
    Ok(buckets)
}

/// One key's bucket being counted.
#[derive(Default)]
struct Tally<P> {
    reads: u64,
    plates: HashSet<P>,
}

impl<P: std::hash::Hash + Eq> Tally<P> {
    fn add(&mut self, plate: P) {
        self.reads += 1;
        self.plates.insert(plate);
    }
}

/// By camera, from the camera index alone (see the module doc).
fn by_camera(engine: &Engine, query: &StatsQuery, from: i64) -> Result<Vec<StatsBucket>> {
    /// A counted bucket of one camera token: (token, start, reads, distinct plates).
    type Row = (Token, i64, u64, u64);
    let mut rows: Vec<Row> = Vec::new();
    // The newest entry in range of each camera token: the record opened for its camera id.
    let mut newest: Vec<(Token, RecordKey)> = Vec::new();
    let mut current: Option<(Token, i64, Tally<Token>)> = None;
    let mut reads = 0u64;
    let mut failure: Option<QueryError> = None;
    let close = |done: (Token, i64, Tally<Token>), rows: &mut Vec<Row>| {
        let (token, start, tally) = done;
        rows.push((token, start, tally.reads, tally.plates.len() as u64));
        rows.len() <= MAX_ROWS
    };
    engine.scan_index_by_token(
        ReadIndex::Camera,
        query.tenant,
        from,
        query.to,
        |entry, value| {
            reads += 1;
            if reads > MAX_READS {
                failure = Some(too_many_reads());
                return false;
            }
            let Ok(plate) = <Token>::try_from(value) else {
                failure = Some(QueryError::Storage(StorageError::Corrupt {
                    what: "camera index entry",
                    reason: format!("value of {} bytes, not a plate token", value.len()),
                }));
                return false;
            };
            // Entries come token by token, oldest first: a token's last entry is its newest.
            match newest.last_mut() {
                Some((token, key)) if *token == entry.token => *key = entry.record(),
                _ => newest.push((entry.token, entry.record())),
            }
            let start = bucket_start(entry.ts, query.step_ms);
            match &mut current {
                Some((token, at, tally)) if *token == entry.token && *at == start => {
                    tally.add(plate)
                }
                slot => {
                    let mut tally = Tally::default();
                    tally.add(plate);
                    if let Some(done) = slot.replace((entry.token, start, tally)) {
                        if !close(done, &mut rows) {
                            failure = Some(too_many_rows());
                            return false;
                        }
                    }
                }
            }
            true
        },
    )?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    if let Some(done) = current.take() {
        if !close(done, &mut rows) {
            return Err(too_many_rows());
        }
    }
    // One read per camera token names the camera. The newest read in range expires last: if
    // it is gone (retention compacted it since the scan), every counted read of that camera
    // has expired too, and the camera is left out, as a query now would.
    let (tokens, keys): (Vec<Token>, Vec<RecordKey>) = newest.into_iter().unzip();
    let mut names: HashMap<Token, String> = HashMap::with_capacity(tokens.len());
    for (token_chunk, key_chunk) in tokens.chunks(512).zip(keys.chunks(512)) {
        let reads = engine.get_reads(query.tenant, key_chunk)?;
        for (token, read) in token_chunk.iter().zip(reads) {
            if let Some(read) = read {
                names.insert(*token, read.camera_id);
            }
        }
    }
    Ok(rows
        .into_iter()
        .filter_map(|(token, ts, reads, distinct_vehicles)| {
            names.get(&token).map(|camera_id| StatsBucket {
                ts,
                key: camera_id.clone(),
                reads,
                distinct_vehicles,
            })
        })
        .collect())
}

/// By resolution-7 cell, opening every read in the range (see the module doc).
fn by_cell(engine: &Engine, query: &StatsQuery, from: i64) -> Result<Vec<StatsBucket>> {
    let mut rows: Vec<StatsBucket> = Vec::new();
    // The current time bucket's tallies by cell.
    let mut start = i64::MIN;
    let mut cells: HashMap<u64, Tally<String>> = HashMap::new();
    let mut reads = 0u64;
    let mut failure: Option<QueryError> = None;
    let close =
        |start: i64, cells: &mut HashMap<u64, Tally<String>>, rows: &mut Vec<StatsBucket>| {
            let mut done: Vec<(u64, Tally<String>)> = cells.drain().collect();
            // Every cell index has 15 hex digits, so numeric order is the keys' text order.
            done.sort_unstable_by_key(|(cell, _)| *cell);
            rows.extend(done.into_iter().map(|(cell, tally)| StatsBucket {
                ts: start,
                key: format!("{cell:x}"),
                reads: tally.reads,
                distinct_vehicles: tally.plates.len() as u64,
            }));
            rows.len() <= MAX_ROWS
        };
    engine.scan_reads(query.tenant, from, query.to, |read| {
        reads += 1;
        if reads > MAX_READS {
            failure = Some(too_many_reads());
            return false;
        }
        // Validation refuses positions outside WGS84, so every stored read has a cell.
        let Ok(position) = LatLng::new(read.lat, read.lon) else {
            failure = Some(QueryError::Storage(StorageError::Corrupt {
                what: "plate read",
                reason: "position outside WGS84".into(),
            }));
            return false;
        };
        let cell = u64::from(position.to_cell(CELL_RESOLUTION));
        let at = bucket_start(read.captured_at, query.step_ms);
        if at != start {
            if !cells.is_empty() && !close(start, &mut cells, &mut rows) {
                failure = Some(too_many_rows());
                return false;
            }
            start = at;
        }
        cells.entry(cell).or_default().add(read.plate);
        true
    })?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    if !cells.is_empty() && !close(start, &mut cells, &mut rows) {
        return Err(too_many_rows());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_their_fields() {
        let query = |from, to, step_ms| StatsQuery {
            tenant: 1,
            from,
            to,
            step_ms,
            group_by: GroupBy::Camera,
        };
        let field = |q: StatsQuery| match q.check() {
            Err(QueryError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(query(1, 0, 1_000)), "from");
        assert!(
            query(5, 5, 1_000).check().is_ok(),
            "from == to is one instant"
        );
        assert_eq!(field(query(0, 1, 0)), "step_s");
        assert_eq!(field(query(0, 1, -1_000)), "step_s");
        assert!(query(0, 10_000 * 1_000 - 1, 1_000).check().is_ok());
        assert_eq!(field(query(0, 10_000 * 1_000, 1_000)), "step_s");
        assert_eq!(GroupBy::parse("h3_r7"), Some(GroupBy::H3R7));
        assert_eq!(GroupBy::parse("camera"), Some(GroupBy::Camera));
        assert_eq!(GroupBy::parse("h3_r9"), None);
    }
}
