//! Plate and area search over plate reads: one query type, one planner, one executor.
//!
//! A [`ReadQuery`] may name a plate (exact, wildcard or fuzzy), an area, cameras and vehicle
//! attributes. The planner ([`crate::plan`]) turns each of plate, area and cameras into a
//! candidate access path (a set of tokens of one index) and picks the most selective; the
//! executor here walks that path newest first (many tokens merged by time), applies what
//! the index entries can answer (camera or plate token) without opening anything, opens
//! records in chunks only where a filter needs the plaintext (the exact point-in-shape
//! check outside fully covered cells, vehicle attributes), and stops as soon as the page is
//! full and the total has reached its bound.

use std::collections::HashSet;

use sightline_index::area::Area;
use sightline_index::pattern::{Fuzzy, Wildcard};
use sightline_storage::keys::{RecordKey, Token};
use sightline_storage::record::PlateRead;
use sightline_storage::Engine;

use crate::cursor::Cursor;
use crate::filter::VehicleFilter;
use crate::plan::{plan, Explain, Plan};
use crate::Result;

/// Counting stops past this many hits when the index alone decides each hit.
pub const TOTAL_BOUND_INDEX: u64 = 10_000;
/// Counting stops past this many hits when each candidate must be opened to decide.
pub const TOTAL_BOUND_OPENED: u64 = 1_000;
/// Records opened per storage round trip.
const OPEN_CHUNK: usize = 128;

/// How a plate is matched.
#[derive(Debug, Clone)]
pub enum PlateMatch {
    /// This normalized plate only.
    Exact(String),
    /// `*` and `?` over plates.
    Wildcard(Wildcard),
    /// Within an OCR-weighted edit distance.
    Fuzzy(Fuzzy),
}

impl PlateMatch {
    /// Whether a stored (normalized) plate matches.
    pub fn matches(&self, plate: &str) -> bool {
        match self {
            PlateMatch::Exact(p) => p == plate,
            PlateMatch::Wildcard(w) => w.matches(plate),
            PlateMatch::Fuzzy(f) => f.matches(plate),
        }
    }
}

/// A search over plate reads.
#[derive(Debug, Clone)]
pub struct ReadQuery {
    /// Tenant id.
    pub tenant: u32,
    /// The plate, if the search names one.
    pub plate: Option<PlateMatch>,
    /// Only reads inside this shape.
    pub area: Option<Area>,
    /// Only reads by these cameras (all when empty).
    pub cameras: Vec<String>,
    /// Only reads whose vehicle matches.
    pub vehicle: Option<VehicleFilter>,
    /// Earliest capture time, UTC ms, inclusive.
    pub from: i64,
    /// Latest capture time, UTC ms, inclusive.
    pub to: i64,
    /// Page size.
    pub limit: usize,
    /// Resume after this cursor.
    pub cursor: Option<Cursor>,
}

/// Whether `total` is exact or a lower bound (Elasticsearch's `hits.total.relation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalRelation {
    /// `total` is the exact number of hits.
    Eq,
    /// There are at least `total` hits.
    Gte,
}

impl TotalRelation {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TotalRelation::Eq => "eq",
            TotalRelation::Gte => "gte",
        }
    }
}

/// One page of a read search.
#[derive(Debug, Clone)]
pub struct ReadPage {
    /// Reads, newest first.
    pub hits: Vec<PlateRead>,
    /// Each hit's place in the order (what a cursor after it would hold), parallel to
    /// `hits`.
    pub positions: Vec<Cursor>,
    /// Hits across all pages: exact, or a lower bound (see `total_relation`).
    pub total: u64,
    /// Whether `total` is exact.
    pub total_relation: TotalRelation,
    /// Cursor for the next page, when there is one.
    pub next_cursor: Option<Cursor>,
    /// What the planner chose and what it cost.
    pub explain: Explain,
}

/// The executor's state while it walks the chosen path.
struct Walk<'a> {
    engine: &'a Engine,
    query: &'a ReadQuery,
    plan: &'a Plan,
    resume: Option<(i64, u128)>,
    bound: u64,
    /// Hits counted so far (stops mattering past `bound`).
    total: u64,
    /// Up to `limit + 1` hits after the cursor; records already open where a filter
    /// needed them.
    page: Vec<(RecordKey, Option<PlateRead>)>,
    /// Candidates in walk order, with whether their cell is wholly inside the area and
    /// whether the index already decided them (those wait only to keep the order).
    pending: Vec<(RecordKey, bool, bool)>,
    examined: u64,
    opened: u64,
    stopped_early: bool,
    error: Option<crate::QueryError>,
}

impl Walk<'_> {
    fn page_full(&self) -> bool {
        self.page.len() > self.query.limit
    }

    fn counting_done(&self) -> bool {
        self.total > self.bound
    }

    fn after_cursor(&self, key: &RecordKey) -> bool {
        self.resume.is_none_or(|r| (key.ts, key.id) <= r)
    }

    /// A hit the index decided (or a record decided): count it and keep it if on the page.
    fn hit(&mut self, key: RecordKey, record: Option<PlateRead>) {
        self.total += 1;
        if self.after_cursor(&key) && !self.page_full() {
            self.page.push((key, record));
        }
    }

    /// Handles one index entry; false to stop the walk.
    fn visit(&mut self, key: RecordKey, token: &Token, value: &[u8]) -> bool {
        self.examined += 1;
        if !self.plan.index_filter(token, value) {
            return true;
        }
        let inside = self.plan.inside_cell(token);
        let decided = !self.plan.needs_record(inside);
        if decided && self.pending.is_empty() {
            self.hit(key, None);
        } else {
            if !self.after_cursor(&key) && self.counting_done() {
                return true; // on an earlier page and no longer counted
            }
            // Decided entries queue behind undecided ones so hits stay newest first.
            self.pending.push((key, inside, decided));
            if self.pending.len() >= OPEN_CHUNK {
                if let Err(e) = self.open_pending() {
                    self.error = Some(e);
                    return false;
                }
            }
        }
        if self.page_full() && self.counting_done() {
            self.stopped_early = true;
            return false;
        }
        true
    }

    /// Opens the waiting candidates that need it and keeps, in order, those every record
    /// filter accepts.
    fn open_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let keys: Vec<RecordKey> = pending
            .iter()
            .filter(|(_, _, decided)| !decided)
            .map(|(k, _, _)| *k)
            .collect();
        let mut records = self.engine.get_reads(self.query.tenant, &keys)?.into_iter();
        self.opened += keys.len() as u64;
        for (key, inside, decided) in pending {
            if decided {
                self.hit(key, None);
                continue;
            }
            let Some(record) = records.next().flatten() else {
                continue;
            };
            if self.plan.record_filter(self.query, &record, inside) {
                self.hit(key, Some(record));
            }
        }
        Ok(())
    }
}

/// Runs a read search (reads below the tenant's retention watermark are never returned,
/// whether or not compaction has removed them yet).
pub fn search_reads(engine: &Engine, query: &ReadQuery) -> Result<ReadPage> {
    let from = crate::live_from(engine, query.tenant, query.from);
    let plan = plan(engine, query, from)?;
    let bound = if plan.needs_record(false) {
        TOTAL_BOUND_OPENED
    } else {
        TOTAL_BOUND_INDEX
    };
    let mut walk = Walk {
        engine,
        query,
        plan: &plan,
        resume: query.cursor.and_then(|c| c.resume_at()),
        bound,
        total: 0,
        page: Vec::with_capacity(query.limit + 1),
        pending: Vec::new(),
        examined: 0,
        opened: 0,
        stopped_early: false,
        error: None,
    };
    if query.cursor.is_none_or(|c| c.resume_at().is_some()) {
        engine.merge_scan_newest_first(
            plan.path.index(),
            query.tenant,
            plan.path.tokens(),
            from,
            (query.to, u128::MAX),
            |entry, value| walk.visit(entry.record(), &entry.token, value),
        )?;
    }
    if let Some(e) = walk.error.take() {
        return Err(e);
    }
    if !walk.stopped_early {
        walk.open_pending()?;
    }
    let more = walk.page_full();
    walk.page.truncate(query.limit);
    let next_cursor = match (more, walk.page.last()) {
        (true, Some((last, _))) => Some(Cursor {
            ts: last.ts,
            id: last.id,
        }),
        _ => None,
    };
    // Open the page's records the index alone decided.
    let unopened: Vec<RecordKey> = walk
        .page
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(k, _)| *k)
        .collect();
    let mut opened = engine.get_reads(query.tenant, &unopened)?.into_iter();
    walk.opened += unopened.len() as u64;
    let mut hits = Vec::with_capacity(walk.page.len());
    let mut positions = Vec::with_capacity(walk.page.len());
    for (key, record) in walk.page {
        let record = match record {
            Some(r) => Some(r),
            None => opened.next().flatten(),
        };
        // Tokens are 64-bit: a collision is astronomically unlikely, but a hit must be the
        // plate that was asked for.
        if let Some(read) =
            record.filter(|r| query.plate.as_ref().is_none_or(|p| p.matches(&r.plate)))
        {
            hits.push(read);
            positions.push(Cursor {
                ts: key.ts,
                id: key.id,
            });
        }
    }
    let (total, total_relation) = if walk.total > bound {
        (bound, TotalRelation::Gte)
    } else if walk.stopped_early {
        (walk.total, TotalRelation::Gte)
    } else {
        (walk.total, TotalRelation::Eq)
    };
    let (examined, opened) = (walk.examined, walk.opened);
    let mut explain = plan.explain;
    explain.index_entries_examined = examined;
    explain.records_opened = opened;
    explain.total_bound = bound;
    Ok(ReadPage {
        hits,
        positions,
        total,
        total_relation,
        next_cursor,
        explain,
    })
}

/// The plate tokens of a plate match at `from` (the dictionary skips plates not seen since).
pub(crate) fn plate_tokens(
    engine: &Engine,
    tenant: u32,
    plate: &PlateMatch,
    from: i64,
) -> Result<Vec<Token>> {
    let keys = engine.tenant_keys(tenant)?;
    Ok(match plate {
        PlateMatch::Exact(p) => vec![sightline_storage::prepare::plate_token(&keys, p)],
        PlateMatch::Wildcard(w) => engine.with_dictionary(tenant, |d| {
            d.wildcard(w, from)
                .into_iter()
                .filter_map(|id| d.token(id))
                .collect()
        }),
        PlateMatch::Fuzzy(f) => engine.with_dictionary(tenant, |d| {
            d.fuzzy(f, from)
                .into_iter()
                .filter_map(|id| d.token(id))
                .collect()
        }),
    })
}

/// A set of tokens for index-only filtering.
pub(crate) type TokenSet = HashSet<Token>;
