//! The planner: each of a search's plate, area and cameras becomes a candidate access path
//! (the tokens of one index), and the most selective path is walked while the others
//! become filters.
//!
//! Selectivity is measured, not guessed: an exact plate is always the plate index (one
//! prefix, nothing is cheaper); otherwise each candidate's index entries in the time range
//! are counted, up to the smallest count seen so far, and the smallest wins. A count costs
//! index entries only (no record is opened), so the probe is bounded by the cheapest path.
//! `"explain": true` returns the counts and the choice.

use std::collections::HashSet;

use serde::Serialize;
use sightline_storage::engine::ReadIndex;
use sightline_storage::keys::Token;
use sightline_storage::prepare::{camera_token, cell_token};
use sightline_storage::record::PlateRead;
use sightline_storage::Engine;

use crate::reads::{plate_tokens, PlateMatch, ReadQuery, TokenSet};
use crate::{QueryError, Result};

/// Index entries counted per candidate before the probe gives up on it.
const PROBE_BUDGET: u64 = 20_000;

/// An index and the tokens to walk in it.
#[derive(Debug, Clone)]
pub enum AccessPath {
    /// The plate index, one token per matching plate.
    Plate(Vec<Token>),
    /// The cell index, one token per covering cell.
    Cell(Vec<Token>),
    /// The camera index, one token per camera.
    Camera(Vec<Token>),
}

impl AccessPath {
    /// The index it walks.
    pub fn index(&self) -> ReadIndex {
        match self {
            AccessPath::Plate(_) => ReadIndex::Plate,
            AccessPath::Cell(_) => ReadIndex::Cell,
            AccessPath::Camera(_) => ReadIndex::Camera,
        }
    }

    /// Its tokens.
    pub fn tokens(&self) -> &[Token] {
        match self {
            AccessPath::Plate(t) | AccessPath::Cell(t) | AccessPath::Camera(t) => t,
        }
    }

    /// Its name in `explain`.
    pub fn name(&self) -> &'static str {
        match self {
            AccessPath::Plate(_) => "plate_index",
            AccessPath::Cell(_) => "cell_index",
            AccessPath::Camera(_) => "camera_index",
        }
    }
}

/// One candidate path's measured size.
#[derive(Debug, Clone, Serialize)]
pub struct PathEstimate {
    /// `plate_index`, `cell_index` or `camera_index`.
    pub path: &'static str,
    /// Tokens it would walk.
    pub tokens: usize,
    /// Index entries it holds in the time range, counted up to `capped_at` when set.
    pub entries: u64,
    /// Counting stopped here (the path is at least this large).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capped_at: Option<u64>,
}

/// What the planner chose and what running it cost.
#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    /// The path walked.
    pub access_path: &'static str,
    /// Its tokens (plates after wildcard/fuzzy expansion, covering cells, cameras).
    pub tokens: usize,
    /// Every candidate considered, with its measured size (empty when only one existed).
    pub candidates: Vec<PathEstimate>,
    /// Filters answered from index entries without opening records.
    pub index_filters: Vec<&'static str>,
    /// Filters that need the opened record.
    pub record_filters: Vec<&'static str>,
    /// Index entries walked.
    pub index_entries_examined: u64,
    /// Records fetched and decrypted.
    pub records_opened: u64,
    /// Counting stops past this many hits.
    pub total_bound: u64,
}

/// A chosen path and the filters around it.
pub struct Plan {
    /// The path walked.
    pub path: AccessPath,
    /// Plate tokens a hit must carry, when the path is not the plate index.
    plate_filter: Option<TokenSet>,
    /// Camera tokens a hit must carry, when the path is the plate index.
    camera_filter: Option<HashSet<Token>>,
    /// Cells wholly inside the area (cell path only): their entries need no point check.
    inside: HashSet<Token>,
    cameras_by_record: bool,
    /// Explain, filled in by the executor.
    pub explain: Explain,
}

impl Plan {
    /// Whether an index entry (its token and value) can be a hit.
    pub fn index_filter(&self, _token: &Token, value: &[u8]) -> bool {
        match &self.path {
            AccessPath::Plate(_) => self
                .camera_filter
                .as_ref()
                .is_none_or(|set| value.try_into().is_ok_and(|t: Token| set.contains(&t))),
            AccessPath::Cell(_) | AccessPath::Camera(_) => self
                .plate_filter
                .as_ref()
                .is_none_or(|set| value.try_into().is_ok_and(|t: Token| set.contains(&t))),
        }
    }

    /// Whether the entry's cell lies wholly inside the area.
    pub fn inside_cell(&self, token: &Token) -> bool {
        self.inside.contains(token)
    }

    /// Whether a candidate must be opened to decide it.
    pub fn needs_record(&self, inside: bool) -> bool {
        let only_area = self.explain.record_filters == ["area"];
        !(self.explain.record_filters.is_empty() || (inside && only_area))
    }

    /// Whether an opened record passes every record filter.
    pub fn record_filter(&self, query: &ReadQuery, read: &PlateRead, inside: bool) -> bool {
        if let Some(area) = &query.area {
            if !inside && !area.contains(read.lat, read.lon) {
                return false;
            }
        }
        if let Some(vehicle) = &query.vehicle {
            if !vehicle.matches(read) {
                return false;
            }
        }
        if self.cameras_by_record && !query.cameras.iter().any(|c| c == &read.camera_id) {
            return false;
        }
        query.plate.as_ref().is_none_or(|p| p.matches(&read.plate))
    }
}

fn count_entries(
    engine: &Engine,
    tenant: u32,
    path: &AccessPath,
    from: i64,
    to: i64,
    budget: u64,
) -> Result<u64> {
    let mut n = 0u64;
    engine.merge_scan_newest_first(
        path.index(),
        tenant,
        path.tokens(),
        from,
        (to, u128::MAX),
        |_, _| {
            n += 1;
            n < budget
        },
    )?;
    Ok(n)
}

/// Plans `query` over reads captured from `from` (already raised to the retention cutoff).
pub fn plan(engine: &Engine, query: &ReadQuery, from: i64) -> Result<Plan> {
    let keys = engine.tenant_keys(query.tenant)?;
    let mut candidates = Vec::new();
    let plate = match &query.plate {
        Some(p) => Some(plate_tokens(engine, query.tenant, p, from)?),
        None => None,
    };
    if let Some(tokens) = &plate {
        candidates.push(AccessPath::Plate(tokens.clone()));
    }
    let mut inside = HashSet::new();
    if let Some(area) = &query.area {
        let cover = area.cover().map_err(|e| QueryError::Invalid {
            field: format!("area.{}", e.field)
                .trim_end_matches('.')
                .to_string(),
            reason: e.reason,
        })?;
        let mut tokens = Vec::with_capacity(cover.len());
        for cell in cover {
            let token = cell_token(&keys, cell.cell);
            if cell.inside {
                inside.insert(token);
            }
            tokens.push(token);
        }
        candidates.push(AccessPath::Cell(tokens));
    }
    let camera_tokens: Vec<Token> = query
        .cameras
        .iter()
        .map(|c| camera_token(&keys, c))
        .collect();
    if !camera_tokens.is_empty() {
        candidates.push(AccessPath::Camera(camera_tokens.clone()));
    }
    let mut estimates = Vec::new();
    let path = match candidates.len() {
        0 => {
            return Err(QueryError::Invalid {
                field: "plate".into(),
                reason: "a search needs a plate, an area or cameras".into(),
            })
        }
        1 => candidates.remove(0),
        _ if matches!(query.plate, Some(PlateMatch::Exact(_))) => candidates.remove(0),
        _ => {
            let mut best: Option<(u64, usize)> = None;
            for (i, candidate) in candidates.iter().enumerate() {
                let budget = best.map_or(PROBE_BUDGET, |(n, _)| n.min(PROBE_BUDGET));
                let n = count_entries(engine, query.tenant, candidate, from, query.to, budget)?;
                estimates.push(PathEstimate {
                    path: candidate.name(),
                    tokens: candidate.tokens().len(),
                    entries: n,
                    capped_at: (n >= budget).then_some(budget),
                });
                if best.is_none_or(|(b, _)| n < b) {
                    best = Some((n, i));
                }
            }
            candidates.remove(best.map_or(0, |(_, i)| i))
        }
    };
    let mut index_filters = Vec::new();
    let mut record_filters = Vec::new();
    let plate_filter = match (&path, plate) {
        (AccessPath::Plate(_), _) | (_, None) => None,
        (_, Some(tokens)) => {
            index_filters.push("plate");
            Some(tokens.into_iter().collect())
        }
    };
    let (camera_filter, cameras_by_record) = match (&path, camera_tokens.is_empty()) {
        (_, true) | (AccessPath::Camera(_), false) => (None, false),
        (AccessPath::Plate(_), false) => {
            index_filters.push("cameras");
            (Some(camera_tokens.into_iter().collect()), false)
        }
        (AccessPath::Cell(_), false) => {
            record_filters.push("cameras");
            (None, true)
        }
    };
    if query.area.is_some() {
        record_filters.push("area");
    }
    if query.vehicle.is_some() {
        record_filters.push("vehicle");
    }
    if !matches!(path, AccessPath::Cell(_)) {
        inside.clear();
    }
    let explain = Explain {
        access_path: path.name(),
        tokens: path.tokens().len(),
        candidates: estimates,
        index_filters,
        record_filters,
        index_entries_examined: 0,
        records_opened: 0,
        total_bound: 0,
    };
    Ok(Plan {
        path,
        plate_filter,
        camera_filter,
        inside,
        cameras_by_record,
        explain,
    })
}
