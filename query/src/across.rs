//! One read search over several tenants (a search under cross-agency grants): the same
//! query runs on each tenant from the same cursor, and the pages merge newest first by
//! (capture time, internal id), the order a cursor records. Internal ids are keyed per
//! tenant (a client id's is a tenant-keyed token, a server id is random), so two tenants'
//! reads never share a place in that order and paging across tenants skips nothing and
//! repeats nothing.

use sightline_storage::record::PlateRead;
use sightline_storage::Engine;

use crate::reads::{search_reads, ReadQuery, TotalRelation};
use crate::{Cursor, Explain, Result};

/// A merged page.
#[derive(Debug)]
pub struct MergedPage {
    /// (index into the queries, read), newest first.
    pub hits: Vec<(usize, PlateRead)>,
    /// Each query's own total (exact or a lower bound, see `relations`).
    pub totals: Vec<u64>,
    /// Each query's total relation.
    pub relations: Vec<TotalRelation>,
    /// Where the next page starts, when there is one.
    pub next_cursor: Option<Cursor>,
    /// Each query's plan.
    pub explains: Vec<Explain>,
}

impl MergedPage {
    /// The sum of the totals.
    pub fn total(&self) -> u64 {
        self.totals.iter().sum()
    }

    /// `Gte` when any total is a lower bound.
    pub fn relation(&self) -> TotalRelation {
        if self.relations.contains(&TotalRelation::Gte) {
            TotalRelation::Gte
        } else {
            TotalRelation::Eq
        }
    }
}

/// Runs `queries` (one per tenant, same limit and cursor) and merges their pages.
pub fn search_reads_across(engine: &Engine, queries: &[ReadQuery]) -> Result<MergedPage> {
    let limit = queries.first().map_or(0, |q| q.limit);
    let mut merged: Vec<(Cursor, usize, PlateRead)> = Vec::new();
    let mut more = false;
    let (mut totals, mut relations, mut explains) = (Vec::new(), Vec::new(), Vec::new());
    for (i, query) in queries.iter().enumerate() {
        let page = search_reads(engine, query)?;
        more |= page.next_cursor.is_some();
        totals.push(page.total);
        relations.push(page.total_relation);
        explains.push(page.explain);
        merged.extend(
            page.positions
                .into_iter()
                .zip(page.hits)
                .map(|(at, read)| (at, i, read)),
        );
    }
    merged.sort_by_key(|(at, _, _)| std::cmp::Reverse((at.ts, at.id)));
    more |= merged.len() > limit;
    merged.truncate(limit);
    let next_cursor = match (more, merged.last()) {
        (true, Some((at, _, _))) => Some(*at),
        _ => None,
    };
    Ok(MergedPage {
        hits: merged.into_iter().map(|(_, i, read)| (i, read)).collect(),
        totals,
        relations,
        next_cursor,
        explains,
    })
}
