//! Exact plate search: the plate's keyed token bounds a reverse scan of the plate index
//! over the time range; the camera filter and the total are answered from the index alone
//! (each entry carries its camera token), and only the returned page is fetched and
//! decrypted.

use sightline_storage::engine::ReadIndex;
use sightline_storage::keys::{RecordKey, Token};
use sightline_storage::prepare::{camera_token, plate_token};
use sightline_storage::record::PlateRead;
use sightline_storage::Engine;

use crate::cursor::Cursor;
use crate::Result;

/// An exact plate search.
#[derive(Debug, Clone)]
pub struct PlateQuery {
    /// Tenant id.
    pub tenant: u32,
    /// Normalized plate.
    pub plate: String,
    /// Earliest capture time, UTC ms, inclusive.
    pub from: i64,
    /// Latest capture time, UTC ms, inclusive.
    pub to: i64,
    /// Only reads by these cameras (all when empty).
    pub cameras: Vec<String>,
    /// Page size.
    pub limit: usize,
    /// Resume after this cursor.
    pub cursor: Option<Cursor>,
}

/// One page of hits.
#[derive(Debug, Clone)]
pub struct PlatePage {
    /// Reads, newest first.
    pub hits: Vec<PlateRead>,
    /// All matching reads in the range, across pages.
    pub total: u64,
    /// Cursor for the next page, when there is one.
    pub next_cursor: Option<Cursor>,
}

/// Runs an exact plate search as of `now` (reads older than the tenant's retention are
/// never returned, whether or not compaction has removed them yet).
pub fn exact_plate_search(engine: &Engine, query: &PlateQuery, now: i64) -> Result<PlatePage> {
    let keys = engine.tenant_keys(query.tenant)?;
    let token = plate_token(&keys, &query.plate);
    let cameras: Vec<Token> = query
        .cameras
        .iter()
        .map(|c| camera_token(&keys, c))
        .collect();
    let from = match engine.retention_cutoff(query.tenant, now) {
        Some(cutoff) => query.from.max(cutoff),
        None => query.from,
    };
    let resume = match query.cursor {
        Some(cursor) => cursor.resume_at(),
        None => Some((query.to, u128::MAX)),
    };
    let mut total = 0u64;
    let mut page: Vec<RecordKey> = Vec::with_capacity(query.limit + 1);
    engine.scan_index_newest_first(
        ReadIndex::Plate,
        query.tenant,
        &token,
        from,
        (query.to, u128::MAX),
        |entry, camera| {
            if !cameras.is_empty() && !cameras.iter().any(|c| c.as_slice() == camera) {
                return true;
            }
            total += 1;
            if page.len() <= query.limit && resume.is_some_and(|r| (entry.ts, entry.id) <= r) {
                page.push(entry.record());
            }
            true
        },
    )?;
    let more = page.len() > query.limit;
    page.truncate(query.limit);
    let next_cursor = match (more, page.last()) {
        (true, Some(last)) => Some(Cursor {
            ts: last.ts,
            id: last.id,
        }),
        _ => None,
    };
    let hits = engine
        .get_reads(query.tenant, &page)?
        .into_iter()
        .flatten()
        // Tokens are 64-bit: a collision is astronomically unlikely, but a hit must be the
        // plate that was asked for.
        .filter(|read| read.plate == query.plate)
        .collect();
    Ok(PlatePage {
        hits,
        total,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sightline_storage::command::TenantPolicy;
    use sightline_storage::keyring::WrappedTenantKeys;
    use sightline_storage::prepare::prepare_reads;
    use sightline_storage::record::validate_read;
    use sightline_storage::time::{format_rfc3339_ms, now_ms, DAY_MS};
    use sightline_storage::{Command, EngineConfig, LogPosition, MasterKey};

    struct Fixture {
        _dir: tempfile::TempDir,
        engine: Engine,
        now: i64,
    }

    /// Tenant 1 ("t", 10-day retention) with reads of PLATE1 one hour apart on cameras
    /// cam-0..cam-2, plus noise plates.
    fn fixture(reads_of_plate: i64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            &EngineConfig::new(dir.path()),
            MasterKey::from_bytes(&[1; 32]),
        )
        .unwrap();
        let keys = WrappedTenantKeys::generate(engine.master_key(), "t");
        let policy = TenantPolicy {
            retention_days: 10,
            hot_days: 1,
        };
        let pos = |index| LogPosition {
            term: 1,
            leader: 1,
            index,
        };
        engine
            .apply(
                pos(1),
                &Command::UpsertTenant {
                    name: "t".into(),
                    policy,
                    keys,
                },
            )
            .unwrap();
        let now = now_ms();
        let mut errors = Vec::new();
        let inputs = (0..reads_of_plate * 2)
            .map(|i| {
                let plate = if i % 2 == 0 { "PLATE1" } else { "NOISE" };
                let ts = now - (i / 2) * 3_600_000;
                let value = json!({"camera_id": format!("cam-{}", (i / 2) % 3), "captured_at": format_rfc3339_ms(ts),
                    "plate": plate, "lat": 1.0, "lon": 2.0});
                validate_read(i as usize, &value, now, &mut errors).unwrap()
            })
            .collect();
        let tenant_keys = engine.tenant_keys(1).unwrap();
        let (cmd, _) = prepare_reads(1, &tenant_keys, inputs, now, &mut rand::rng()).unwrap();
        engine.apply(pos(2), &cmd).unwrap();
        Fixture {
            _dir: dir,
            engine,
            now,
        }
    }

    fn query(f: &Fixture) -> PlateQuery {
        PlateQuery {
            tenant: 1,
            plate: "PLATE1".into(),
            from: i64::MIN,
            to: f.now,
            cameras: vec![],
            limit: 10,
            cursor: None,
        }
    }

    #[test]
    fn pages_cover_every_hit_once_newest_first() {
        let f = fixture(95);
        let mut q = query(&f);
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = exact_plate_search(&f.engine, &q, f.now).unwrap();
            assert_eq!(page.total, 95);
            pages += 1;
            seen.extend(page.hits.iter().map(|h| h.captured_at));
            match page.next_cursor {
                Some(c) => q.cursor = Some(Cursor::decode(&c.encode()).unwrap()),
                None => break,
            }
        }
        assert_eq!(pages, 10);
        let want: Vec<i64> = (0..95).map(|i| f.now - i * 3_600_000).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn time_range_camera_filter_and_retention_bound_the_total() {
        let f = fixture(300); // 300 hours back: beyond the 10-day retention
        let mut q = query(&f);
        q.from = f.now - 5 * 3_600_000;
        q.to = f.now - 3_600_000;
        let page = exact_plate_search(&f.engine, &q, f.now).unwrap();
        assert_eq!((page.total, page.hits.len()), (5, 5), "inclusive bounds");
        let mut q = query(&f);
        q.cameras = vec!["cam-1".into()];
        q.limit = 1000;
        let page = exact_plate_search(&f.engine, &q, f.now).unwrap();
        assert!(page.hits.iter().all(|h| h.camera_id == "cam-1"));
        let within = (0..300)
            .filter(|i| i * 3_600_000 <= 10 * DAY_MS && i % 3 == 1)
            .count();
        assert_eq!((page.total as usize, page.hits.len()), (within, within));
        let mut q = query(&f);
        q.plate = "ABSENT".into();
        assert_eq!(exact_plate_search(&f.engine, &q, f.now).unwrap().total, 0);
    }
}
