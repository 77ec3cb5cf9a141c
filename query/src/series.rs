//! Sensor series: one series (sensor id and metric) over a time range, in buckets of
//! `step` aligned to the epoch (a sample at `ts` falls in the bucket starting at
//! `floor(ts / step) * step`), each bucket reduced by one [`Aggregation`]. Only buckets that
//! hold a sample are answered, oldest first; a range that would touch more than
//! [`MAX_BUCKETS`] buckets is refused (naming `step_s`), and one that holds more than
//! [`MAX_SAMPLES`] samples too (naming `from`).
//!
//! The samples come from [`Engine::scan_series`], oldest first, from one snapshot, with
//! `from` raised to the tenant's retention watermark.

use sightline_storage::prepare::series_token;
use sightline_storage::Engine;

use crate::{live_from, QueryError, Result};

/// Most buckets one answer may span.
pub const MAX_BUCKETS: i64 = 10_000;
/// Most samples one query may read (about 58 days of 1-second samples).
pub const MAX_SAMPLES: u64 = 5_000_000;

/// How the samples of a bucket become its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Arithmetic mean.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Sum of the values.
    Sum,
    /// Number of samples.
    Count,
    /// The value of the sample with the greatest time.
    Last,
}

impl Aggregation {
    /// Every aggregation, with its name in the API.
    pub const ALL: [(&'static str, Aggregation); 6] = [
        ("avg", Aggregation::Avg),
        ("min", Aggregation::Min),
        ("max", Aggregation::Max),
        ("sum", Aggregation::Sum),
        ("count", Aggregation::Count),
        ("last", Aggregation::Last),
    ];

    /// The aggregation named `name`, if any.
    pub fn parse(name: &str) -> Option<Aggregation> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, agg)| *agg)
    }
}

/// A series query.
#[derive(Debug, Clone)]
pub struct SeriesQuery {
    /// Tenant id.
    pub tenant: u32,
    /// Sensor id, as ingested.
    pub sensor_id: String,
    /// Metric, as ingested.
    pub metric: String,
    /// Earliest sample time, UTC ms, inclusive.
    pub from: i64,
    /// Latest sample time, UTC ms, inclusive.
    pub to: i64,
    /// Bucket width, ms (> 0).
    pub step_ms: i64,
    /// Reduction per bucket.
    pub agg: Aggregation,
}

/// One answered bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Bucket start, UTC ms (a multiple of the step).
    pub ts: i64,
    /// The bucket's aggregate (for `count`, a whole number).
    pub value: f64,
}

/// The start of the bucket of width `step_ms` that holds `ts`.
pub fn bucket_start(ts: i64, step_ms: i64) -> i64 {
    ts.div_euclid(step_ms) * step_ms
}

/// How many buckets of width `step_ms` the range `[from, to]` touches.
pub fn bucket_count(from: i64, to: i64, step_ms: i64) -> i128 {
    i128::from(to.div_euclid(step_ms)) - i128::from(from.div_euclid(step_ms)) + 1
}

impl SeriesQuery {
    /// Refuses what cannot be run, naming the request field: a step that is not positive or
    /// gives more than [`MAX_BUCKETS`] buckets (`step_s`), `from` after `to` (`from`).
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

/// A bucket being reduced.
struct Bucket {
    start: i64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    last: f64,
}

impl Bucket {
    fn new(start: i64, value: f64) -> Bucket {
        Bucket {
            start,
            count: 1,
            sum: value,
            min: value,
            max: value,
            last: value,
        }
    }

    /// Adds a sample later than every sample already in the bucket.
    fn add(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.last = value;
    }

    fn point(&self, agg: Aggregation) -> Point {
        let value = match agg {
            Aggregation::Avg => self.sum / self.count as f64,
            Aggregation::Min => self.min,
            Aggregation::Max => self.max,
            Aggregation::Sum => self.sum,
            Aggregation::Count => self.count as f64,
            Aggregation::Last => self.last,
        };
        Point {
            ts: self.start,
            value,
        }
    }
}

/// Runs a series query: its non-empty buckets, oldest first.
pub fn series(engine: &Engine, query: &SeriesQuery) -> Result<Vec<Point>> {
    query.check()?;
    let keys = engine.tenant_keys(query.tenant)?;
    let token = series_token(&keys, &query.sensor_id, &query.metric);
    let from = live_from(engine, query.tenant, query.from);
    let mut points = Vec::new();
    let mut current: Option<Bucket> = None;
    let mut samples = 0u64;
    engine.scan_series(query.tenant, &token, from, query.to, |ts, value| {
        samples += 1;
        let start = bucket_start(ts, query.step_ms);
        match &mut current {
            Some(bucket) if bucket.start == start => bucket.add(value),
            slot => {
                if let Some(done) = slot.replace(Bucket::new(start, value)) {
                    points.push(done.point(query.agg));
                }
            }
        }
        samples <= MAX_SAMPLES
    })?;
    if samples > MAX_SAMPLES {
        return Err(QueryError::invalid(
            "from",
            format!("the series has more than {MAX_SAMPLES} samples in the range; narrow it"),
        ));
    }
    points.extend(current.map(|bucket| bucket.point(query.agg)));
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_align_to_the_epoch_for_any_sign() {
        assert_eq!(bucket_start(0, 60_000), 0);
        assert_eq!(bucket_start(59_999, 60_000), 0);
        assert_eq!(bucket_start(60_000, 60_000), 60_000);
        assert_eq!(bucket_start(-1, 60_000), -60_000);
        assert_eq!(bucket_count(0, 59_999, 60_000), 1);
        assert_eq!(bucket_count(59_999, 60_000, 60_000), 2);
        assert_eq!(bucket_count(i64::MIN, i64::MAX, 1), 1 << 64);
    }

    #[test]
    fn checks_name_their_fields() {
        let query = |from, to, step_ms| SeriesQuery {
            tenant: 1,
            sensor_id: "s".into(),
            metric: "m".into(),
            from,
            to,
            step_ms,
            agg: Aggregation::Avg,
        };
        let field = |q: SeriesQuery| match q.check() {
            Err(QueryError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(query(1, 0, 1_000)), "from");
        assert_eq!(field(query(0, 1, 0)), "step_s");
        assert_eq!(field(query(0, 1, -1_000)), "step_s");
        // 10,000 buckets pass, 10,001 do not.
        assert!(query(0, 10_000 * 1_000 - 1, 1_000).check().is_ok());
        assert_eq!(field(query(0, 10_000 * 1_000, 1_000)), "step_s");
        assert_eq!(Aggregation::parse("last"), Some(Aggregation::Last));
        assert_eq!(Aggregation::parse("median"), None);
    }
}
