//! Full-text search over media manifests: Tantivy's query parser over labels, transcript
//! and device id, filtered by capture range, kind and area, newest first, paged with the
//! same `search_after` cursor as read search.
//!
//! Words are ANDed (Elasticsearch's `match` with `"operator": "and"`): hits are sorted by
//! time, not relevance, so an OR would bury the manifests that say every word under those
//! that say any one of them. Each word may match in any of the three fields; the parser's
//! syntax works as in Tantivy (`"a phrase"`, `OR`, `-word`, `labels:gunshot`).
//!
//! The collector visits every text match (the index keeps no time order), so `total` is
//! always exact; filters read fast fields only, and only the page's records are opened.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use sightline_index::area::Area;
use sightline_storage::engine::text::{self, text_schema};
use sightline_storage::keys::RecordKey;
use sightline_storage::record::{Manifest, MediaKind};
use sightline_storage::Engine;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::QueryParser;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::cursor::Cursor;
use crate::reads::TotalRelation;
use crate::{QueryError, Result};

/// A full-text search over manifests.
#[derive(Debug, Clone)]
pub struct ManifestQuery {
    /// Tenant id.
    pub tenant: u32,
    /// The query text (not blank).
    pub q: String,
    /// Earliest `started_at`, UTC ms, inclusive.
    pub from: i64,
    /// Latest `started_at`, UTC ms, inclusive.
    pub to: i64,
    /// Only manifests with a position inside this shape.
    pub area: Option<Area>,
    /// Only this kind of media.
    pub kind: Option<MediaKind>,
    /// Page size.
    pub limit: usize,
    /// Resume after this cursor.
    pub cursor: Option<Cursor>,
}

/// One page of a manifest search.
#[derive(Debug, Clone)]
pub struct ManifestPage {
    /// Manifests as ingested, newest first.
    pub hits: Vec<Manifest>,
    /// Every match across pages.
    pub total: u64,
    /// Always `Eq`: the collector counts every match.
    pub total_relation: TotalRelation,
    /// Cursor for the next page, when there is one.
    pub next_cursor: Option<Cursor>,
}

/// Parses query text as the search runs it (words ANDed across the three text fields); a
/// parse error is the caller's, naming `q`.
pub fn parse(index: &tantivy::Index, q: &str) -> Result<Box<dyn tantivy::query::Query>> {
    let (_, f) = text_schema();
    let mut parser = QueryParser::for_index(index, vec![f.labels, f.transcript, f.device_id]);
    parser.set_conjunction_by_default();
    parser
        .parse_query(q)
        .map_err(|e| QueryError::invalid("q", format!("cannot be parsed: {e}")))
}

/// Checks that `q` parses, without a tenant's index (for tenants with no manifests yet).
pub fn check(q: &str) -> Result<()> {
    static EMPTY: std::sync::OnceLock<tantivy::Index> = std::sync::OnceLock::new();
    let index = EMPTY.get_or_init(|| tantivy::Index::create_in_ram(text_schema().0.clone()));
    parse(index, q).map(|_| ())
}

/// Runs a manifest search (manifests below the tenant's retention watermark are never
/// returned, whether or not the index or compaction has dropped them yet).
pub fn search_manifests(engine: &Engine, query: &ManifestQuery) -> Result<ManifestPage> {
    if query.q.trim().is_empty() {
        return Err(QueryError::invalid("q", "must not be empty"));
    }
    let from = crate::live_from(engine, query.tenant, query.from);
    let empty = ManifestPage {
        hits: Vec::new(),
        total: 0,
        total_relation: TotalRelation::Eq,
        next_cursor: None,
    };
    let Some(view) = engine.manifest_searcher(query.tenant) else {
        check(&query.q)?;
        return Ok(empty);
    };
    let parsed = parse(&view.index, &query.q)?;
    let resume = match query.cursor {
        Some(c) => match c.resume_at() {
            Some(r) => Some(r),
            None => return Ok(empty),
        },
        None => None,
    };
    let collector = PageCollector {
        from,
        to: query.to,
        resume,
        kind: query.kind.map(text::kind_code),
        area: query.area.clone().map(Arc::new),
        keep: query.limit + 1,
    };
    let (total, mut page) = view
        .searcher
        .search(parsed.as_ref(), &collector)
        .map_err(|e| QueryError::Storage(e.into()))?;
    let more = page.len() > query.limit;
    page.truncate(query.limit);
    let next_cursor = match (more, page.last()) {
        (true, Some(&(ts, id))) => Some(Cursor { ts, id }),
        _ => None,
    };
    let keys: Vec<RecordKey> = page
        .iter()
        .map(|&(ts, id)| RecordKey {
            tenant: query.tenant,
            ts,
            id,
        })
        .collect();
    // A row compacted away after the index saw it is simply not a hit.
    let hits = engine
        .get_manifests(query.tenant, &keys)?
        .into_iter()
        .flatten()
        .collect();
    Ok(ManifestPage {
        hits,
        total,
        total_relation: TotalRelation::Eq,
        next_cursor,
    })
}

/// Counts every match in range and keeps the newest `keep` after the cursor.
#[derive(Clone)]
struct PageCollector {
    from: i64,
    to: i64,
    resume: Option<(i64, u128)>,
    kind: Option<u64>,
    area: Option<Arc<Area>>,
    keep: usize,
}

/// (total, newest (started_at, id) first).
type Fruit = (u64, Vec<(i64, u128)>);

struct SegmentPage {
    filter: PageCollector,
    started_at: Column<i64>,
    id_hi: Column<u64>,
    id_lo: Column<u64>,
    kind: Column<u64>,
    lat: Column<f64>,
    lon: Column<f64>,
    total: u64,
    /// Min-heap of the newest `keep`.
    heap: BinaryHeap<Reverse<(i64, u128)>>,
}

impl Collector for PageCollector {
    type Fruit = Fruit;
    type Child = SegmentPage;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentPage> {
        let fast = segment.fast_fields();
        Ok(SegmentPage {
            filter: self.clone(),
            started_at: fast.i64(text::STARTED_AT)?,
            id_hi: fast.u64(text::ID_HI)?,
            id_lo: fast.u64(text::ID_LO)?,
            kind: fast.u64(text::KIND)?,
            lat: fast.f64(text::LAT)?,
            lon: fast.f64(text::LON)?,
            total: 0,
            heap: BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Fruit>) -> tantivy::Result<Fruit> {
        let total = fruits.iter().map(|(t, _)| t).sum();
        let mut all: Vec<(i64, u128)> = fruits.into_iter().flat_map(|(_, p)| p).collect();
        all.sort_unstable_by(|a, b| b.cmp(a));
        all.truncate(self.keep);
        Ok((total, all))
    }
}

impl SegmentCollector for SegmentPage {
    type Fruit = Fruit;

    fn collect(&mut self, doc: DocId, _: Score) {
        let f = &self.filter;
        let Some(ts) = self.started_at.first(doc) else {
            return;
        };
        if ts < f.from || ts > f.to {
            return;
        }
        if f.kind.is_some_and(|k| self.kind.first(doc) != Some(k)) {
            return;
        }
        if let Some(area) = &f.area {
            // A manifest without a position is in no area.
            match (self.lat.first(doc), self.lon.first(doc)) {
                (Some(lat), Some(lon)) if area.contains(lat, lon) => {}
                _ => return,
            }
        }
        self.total += 1;
        let id = (u128::from(self.id_hi.first(doc).unwrap_or(0)) << 64)
            | u128::from(self.id_lo.first(doc).unwrap_or(0));
        let key = (ts, id);
        if f.resume.is_some_and(|r| key > r) {
            return;
        }
        if self.heap.len() < f.keep {
            self.heap.push(Reverse(key));
        } else if self.heap.peek().is_some_and(|Reverse(min)| key > *min) {
            self.heap.pop();
            self.heap.push(Reverse(key));
        }
    }

    fn harvest(self) -> Fruit {
        (
            self.total,
            self.heap.into_iter().map(|Reverse(k)| k).collect(),
        )
    }
}
