//! Frequency: where and when a plate is usually seen: reads per camera (with the first and
//! last), per hour of the day and per weekday, in UTC, over a time range.
//!
//! The plate index bounds the scan; the plate's reads are opened (a camera id and a time
//! per read), in chunks, up to [`MAX_READS`].

use chrono::{DateTime, Datelike, Timelike, Utc};
use sightline_storage::engine::ReadIndex;
use sightline_storage::keys::RecordKey;
use sightline_storage::prepare::plate_token;
use sightline_storage::Engine;

use crate::{live_from, QueryError, Result};

/// Most reads one frequency query may open.
pub const MAX_READS: usize = 100_000;

/// A frequency query.
#[derive(Debug, Clone)]
pub struct FrequencyQuery {
    /// Tenant id.
    pub tenant: u32,
    /// Normalized plate.
    pub plate: String,
    /// Earliest capture time, UTC ms, inclusive.
    pub from: i64,
    /// Latest capture time, UTC ms, inclusive.
    pub to: i64,
}

/// Reads of the plate by one camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraCount {
    /// Camera id.
    pub camera_id: String,
    /// Reads.
    pub count: u64,
    /// First read, UTC ms.
    pub first: i64,
    /// Last read, UTC ms.
    pub last: i64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frequency {
    /// Reads in the range.
    pub total: u64,
    /// Per camera, most reads first, then by camera id.
    pub by_camera: Vec<CameraCount>,
    /// Reads per UTC hour of the day, 0..24.
    pub by_hour: [u64; 24],
    /// Reads per UTC weekday, Monday first.
    pub by_weekday: [u64; 7],
}

/// Runs a frequency query as of `now`.
pub fn frequency(engine: &Engine, query: &FrequencyQuery) -> Result<Frequency> {
    let keys = engine.tenant_keys(query.tenant)?;
    let token = plate_token(&keys, &query.plate);
    let from = live_from(engine, query.tenant, query.from);
    let mut records: Vec<RecordKey> = Vec::new();
    engine.scan_index_newest_first(
        ReadIndex::Plate,
        query.tenant,
        &token,
        from,
        (query.to, u128::MAX),
        |entry, _| {
            records.push(entry.record());
            records.len() <= MAX_READS
        },
    )?;
    if records.len() > MAX_READS {
        return Err(QueryError::invalid(
            "from",
            format!("the plate has more than {MAX_READS} reads in the range; narrow it"),
        ));
    }
    let mut answer = Frequency {
        total: 0,
        by_camera: Vec::new(),
        by_hour: [0; 24],
        by_weekday: [0; 7],
    };
    let mut cameras: std::collections::HashMap<String, CameraCount> = Default::default();
    for chunk in records.chunks(512) {
        for read in engine.get_reads(query.tenant, chunk)?.into_iter().flatten() {
            if read.plate != query.plate {
                continue;
            }
            let Some(at) = DateTime::<Utc>::from_timestamp_millis(read.captured_at) else {
                continue;
            };
            answer.total += 1;
            answer.by_hour[at.hour() as usize] += 1;
            answer.by_weekday[at.weekday().num_days_from_monday() as usize] += 1;
            let entry = cameras
                .entry(read.camera_id.clone())
                .or_insert_with(|| CameraCount {
                    camera_id: read.camera_id.clone(),
                    count: 0,
                    first: read.captured_at,
                    last: read.captured_at,
                });
            entry.count += 1;
            entry.first = entry.first.min(read.captured_at);
            entry.last = entry.last.max(read.captured_at);
        }
    }
    answer.by_camera = cameras.into_values().collect();
    answer.by_camera.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.camera_id.cmp(&b.camera_id))
    });
    Ok(answer)
}
