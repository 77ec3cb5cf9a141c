//! The search mix on PostgreSQL: each request of the plan (the body Sightline's API takes)
//! translated to one prepared SQL statement, run, and its rows reduced to an [`Answer`].
//!
//! Each statement asks what Sightline's route answers, in one round trip:
//!
//! - **read searches** (exact, wildcard, fuzzy, area): a count of the matches up to one past
//!   Sightline's bound (10,000 for plates, 1,000 for an area, whose candidates Sightline must
//!   open), and the first page, newest first, every column of the row;
//! - **wildcard**: `*` → `%`, `?` → `_`; the trigram GIN answers
//!   `ocr_canonical(plate) LIKE ocr_canonical(pattern)` (or the btree a prefix), and
//!   `plate LIKE pattern` decides;
//! - **fuzzy, one edit, OCR confusions free**: Levenshtein over the canonical forms
//!   (`fuzzystrmatch`), which is Sightline's definition; the trigram GIN finds the candidates
//!   (`%`, similarity ≥ 0.3: one edit of a 7-character plate leaves at least 5 of its 8
//!   trigrams, a similarity of at least 0.45);
//! - **area**: `ST_DWithin` on geography with `use_spheroid = false`, PostGIS's sphere of
//!   the mean Earth radius, as api.md's haversine model;
//! - **co-location**: the distinct plates of each place, `GROUP BY plate HAVING` at least
//!   `min_places` of them;
//! - **convoy**: the target's reads, joined to every read of the same camera within the
//!   window (inclusive), counting per plate the target reads it was near;
//! - **frequency**: one scan with `GROUPING SETS` (camera; UTC hour; ISO weekday).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};
use serde_json::Value;
use sightline_storage::time::parse_rfc3339_ms;

use super::answer::{Answer, Hit};
use super::pg::TENANT;
use crate::search_mix::Class;

/// Counting bound of plate searches (Sightline's, when the index decides each hit).
pub const PLATE_BOUND: i64 = 10_000;
/// Counting bound of area searches (Sightline's, when each candidate is opened).
pub const AREA_BOUND: i64 = 1_000;

const HIT: &str = "ts_ms(captured_at) AS ms, plate, plate_raw, camera, region, confidence, \
ST_Y(pos::geometry) AS lat, ST_X(pos::geometry) AS lon, make, model, color, body_type, direction, id";

/// `$1` tenant, `$2` from (ms), `$3` to (ms).
const RANGE: &str = "tenant = $1::int4 AND captured_at BETWEEN ms_ts($2::int8) AND ms_ts($3::int8)";

/// A read search: `$4` counting bound, `$5` page size, `$6`... the class's own.
fn reads_sql(condition: &str) -> String {
    let cond = format!("{RANGE} AND {condition}");
    format!(
        "SELECT c.n, p.* FROM \
           (SELECT count(*) AS n FROM (SELECT 1 FROM reads WHERE {cond} LIMIT $4::int8) x) c \
         LEFT JOIN LATERAL \
           (SELECT {HIT} FROM reads WHERE {cond} ORDER BY captured_at DESC LIMIT $5::int8) p ON true"
    )
}

fn co_location_sql(places: usize) -> String {
    let parts: Vec<String> = (0..places)
        .map(|k| {
            let p = 3 + 5 * k;
            format!(
                "SELECT DISTINCT plate, {k} AS place FROM reads WHERE tenant = $1::int4 \
                 AND captured_at BETWEEN ms_ts(${}::int8) AND ms_ts(${}::int8) \
                 AND ST_DWithin(pos, ST_SetSRID(ST_MakePoint(${}::float8, ${}::float8), 4326)::geography, ${}::float8, false)",
                p,
                p + 1,
                p + 2,
                p + 3,
                p + 4
            )
        })
        .collect();
    format!(
        "SELECT plate, count(*) AS places FROM ({}) p GROUP BY plate HAVING count(*) >= $2::int8",
        parts.join(" UNION ALL ")
    )
}

const CONVOY: &str = "WITH t AS MATERIALIZED ( \
   SELECT camera, captured_at FROM reads WHERE tenant = $1::int4 AND plate = $2::text \
   AND captured_at BETWEEN ms_ts($3::int8) AND ms_ts($4::int8)) \
 SELECT r.plate, count(DISTINCT t.captured_at) AS n FROM t JOIN reads r \
   ON r.tenant = $1::int4 AND r.camera = t.camera \
   AND r.captured_at BETWEEN t.captured_at - $5::int4 * interval '1 second' \
                         AND t.captured_at + $5::int4 * interval '1 second' \
 WHERE r.plate <> $2::text GROUP BY r.plate HAVING count(DISTINCT t.captured_at) >= $6::int8";

const FREQUENCY: &str = "SELECT camera, extract(hour FROM captured_at)::int4 AS h, \
   extract(isodow FROM captured_at)::int4 AS d, count(*) AS n, \
   ts_ms(min(captured_at)) AS first, ts_ms(max(captured_at)) AS last, \
   GROUPING(camera) AS gc, GROUPING(extract(hour FROM captured_at)) AS gh \
 FROM reads WHERE tenant = $1::int4 AND plate = $2::text \
   AND captured_at BETWEEN ms_ts($3::int8) AND ms_ts($4::int8) \
 GROUP BY GROUPING SETS ((camera), (extract(hour FROM captured_at)), (extract(isodow FROM captured_at)))";

/// The prepared statements of the mix on one connection.
pub struct PgSearch {
    client: Client,
    exact: Statement,
    wildcard: Statement,
    fuzzy: Statement,
    area: Statement,
    co_location: BTreeMap<usize, Statement>,
    convoy: Statement,
    frequency: Statement,
}

fn time(body: &Value, field: &str) -> Result<i64> {
    let text = body[field]
        .as_str()
        .with_context(|| format!("{field} missing"))?;
    parse_rfc3339_ms(text).map_err(|e| anyhow::anyhow!("{field} {text:?}: {e}"))
}

fn text<'a>(body: &'a Value, field: &str) -> Result<&'a str> {
    body[field]
        .as_str()
        .with_context(|| format!("{field} missing"))
}

fn float(body: &Value, field: &str) -> Result<f64> {
    body[field]
        .as_f64()
        .with_context(|| format!("{field} missing"))
}

/// (lat, lon, radius_m) of an `{"area": {"circle": ...}}`.
fn circle(body: &Value) -> Result<(f64, f64, f64)> {
    let c = &body["area"]["circle"];
    Ok((float(c, "lat")?, float(c, "lon")?, float(c, "radius_m")?))
}

/// A wildcard pattern of the API as a LIKE pattern.
pub fn like_pattern(pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '*' => '%',
            '?' => '_',
            c => c,
        })
        .collect()
}

fn reads_answer(rows: &[Row]) -> Result<Answer> {
    let mut total = 0;
    let mut hits: Vec<Hit> = Vec::with_capacity(rows.len());
    for row in rows {
        total = row.try_get::<_, i64>("n")? as u64;
        let Some(ms) = row.try_get::<_, Option<i64>>("ms")? else {
            continue;
        };
        // Every column is decoded, as an application showing the read would.
        let plate: String = row.try_get("plate")?;
        let camera: String = row.try_get("camera")?;
        let _: (String, String, f32, f64, f64) = (
            row.try_get("plate_raw")?,
            row.try_get("region")?,
            row.try_get("confidence")?,
            row.try_get("lat")?,
            row.try_get("lon")?,
        );
        let _: (String, String, String, String, String, i64) = (
            row.try_get("make")?,
            row.try_get("model")?,
            row.try_get("color")?,
            row.try_get("body_type")?,
            row.try_get("direction")?,
            row.try_get("id")?,
        );
        hits.push((ms, plate, camera));
    }
    Ok(Answer::Reads {
        total,
        gte: false,
        hits,
    })
}

impl PgSearch {
    /// Prepares every statement on `client`.
    pub fn prepare(mut client: Client) -> Result<PgSearch> {
        let exact = client.prepare(&reads_sql("plate = $6::text"))?;
        let wildcard = client.prepare(&reads_sql(
            "ocr_canonical(plate) LIKE ocr_canonical($6::text) AND plate LIKE $6::text",
        ))?;
        let fuzzy = client.prepare(&reads_sql(
            "ocr_canonical(plate) % ocr_canonical($6::text) \
             AND levenshtein(ocr_canonical(plate), ocr_canonical($6::text)) <= $7::int4",
        ))?;
        let area = client.prepare(&reads_sql(
            "ST_DWithin(pos, ST_SetSRID(ST_MakePoint($6::float8, $7::float8), 4326)::geography, $8::float8, false)",
        ))?;
        let convoy = client.prepare(CONVOY)?;
        let frequency = client.prepare(FREQUENCY)?;
        Ok(PgSearch {
            client,
            exact,
            wildcard,
            fuzzy,
            area,
            co_location: BTreeMap::new(),
            convoy,
            frequency,
        })
    }

    /// Runs `body` (a request of `class`) and reduces the answer.
    pub fn run(&mut self, class: Class, body: &Value) -> Result<Answer> {
        let tenant = TENANT;
        match class {
            Class::Exact | Class::Wildcard | Class::Fuzzy | Class::Area => {
                let (from, to) = (time(body, "from")?, time(body, "to")?);
                let limit = body["limit"].as_i64().unwrap_or(100);
                let bound = 1 + if class == Class::Area {
                    AREA_BOUND
                } else {
                    PLATE_BOUND
                };
                let rows = match class {
                    Class::Exact => {
                        let plate = text(body, "plate")?;
                        self.client
                            .query(&self.exact, &[&tenant, &from, &to, &bound, &limit, &plate])?
                    }
                    Class::Wildcard => {
                        let pattern = like_pattern(text(body, "plate")?);
                        self.client.query(
                            &self.wildcard,
                            &[&tenant, &from, &to, &bound, &limit, &pattern],
                        )?
                    }
                    Class::Fuzzy => {
                        let plate = text(body, "plate")?;
                        let edits = body["max_edits"].as_i64().unwrap_or(1) as i32;
                        self.client.query(
                            &self.fuzzy,
                            &[&tenant, &from, &to, &bound, &limit, &plate, &edits],
                        )?
                    }
                    _ => {
                        let (lat, lon, radius) = circle(body)?;
                        self.client.query(
                            &self.area,
                            &[&tenant, &from, &to, &bound, &limit, &lon, &lat, &radius],
                        )?
                    }
                };
                reads_answer(&rows)
            }
            Class::CoLocation => {
                let places = body["places"].as_array().context("places missing")?;
                let min = body["min_places"].as_i64().unwrap_or(places.len() as i64);
                let mut values: Vec<(i64, i64, f64, f64, f64)> = Vec::new();
                for place in places {
                    let (lat, lon, radius) = circle(place)?;
                    values.push((time(place, "from")?, time(place, "to")?, lon, lat, radius));
                }
                if !self.co_location.contains_key(&places.len()) {
                    let statement = self.client.prepare(&co_location_sql(places.len()))?;
                    self.co_location.insert(places.len(), statement);
                }
                let statement = &self.co_location[&places.len()];
                let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant, &min];
                for (from, to, lon, lat, radius) in &values {
                    params.push(from);
                    params.push(to);
                    params.push(lon);
                    params.push(lat);
                    params.push(radius);
                }
                plates_answer(&self.client.query(statement, &params)?, "places")
            }
            Class::Convoy => {
                let plate = text(body, "plate")?;
                let (from, to) = (time(body, "from")?, time(body, "to")?);
                let window = body["window_s"].as_i64().unwrap_or(60) as i32;
                let min = body["min_co_occurrences"].as_i64().unwrap_or(2);
                let rows = self
                    .client
                    .query(&self.convoy, &[&tenant, &plate, &from, &to, &window, &min])?;
                plates_answer(&rows, "n")
            }
            Class::Frequency => {
                let plate = text(body, "plate")?;
                let (from, to) = (time(body, "from")?, time(body, "to")?);
                let rows = self
                    .client
                    .query(&self.frequency, &[&tenant, &plate, &from, &to])?;
                frequency_answer(&rows)
            }
        }
    }
}

/// Rows of (plate, count in `column`): every plate that qualified.
fn plates_answer(rows: &[Row], column: &str) -> Result<Answer> {
    let mut plates = BTreeMap::new();
    for row in rows {
        plates.insert(
            row.try_get::<_, String>("plate")?,
            row.try_get::<_, i64>(column)? as u64,
        );
    }
    Ok(Answer::Plates {
        total: plates.len() as u64,
        plates,
    })
}

fn frequency_answer(rows: &[Row]) -> Result<Answer> {
    let (mut by_camera, mut by_hour, mut by_weekday) = (Vec::new(), [0u64; 24], [0u64; 7]);
    for row in rows {
        let n = row.try_get::<_, i64>("n")? as u64;
        if row.try_get::<_, i32>("gc")? == 0 {
            by_camera.push((
                row.try_get::<_, String>("camera")?,
                n,
                row.try_get::<_, i64>("first")?,
                row.try_get::<_, i64>("last")?,
            ));
        } else if row.try_get::<_, i32>("gh")? == 0 {
            let h = row.try_get::<_, i32>("h")?;
            *by_hour
                .get_mut(h as usize)
                .with_context(|| format!("hour {h}"))? = n;
        } else {
            let d = row.try_get::<_, i32>("d")?;
            if !(1..=7).contains(&d) {
                bail!("ISO weekday {d}");
            }
            by_weekday[d as usize - 1] = n;
        }
    }
    // Sightline's order: by count, then camera id.
    by_camera.sort_by(|a: &(String, u64, i64, i64), b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Answer::Frequency {
        total: by_camera.iter().map(|c| c.1).sum(),
        by_camera,
        by_hour: by_hour.to_vec(),
        by_weekday: by_weekday.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_statements() {
        assert_eq!(like_pattern("?YZ1*"), "_YZ1%");
        assert_eq!(like_pattern("AB*"), "AB%");
        let sql = co_location_sql(3);
        assert_eq!(sql.matches("UNION ALL").count(), 2);
        assert!(sql.contains("$17::float8") && !sql.contains("$18"));
        assert_eq!(reads_sql("plate = $6::text").matches("$6").count(), 2);
    }
}
