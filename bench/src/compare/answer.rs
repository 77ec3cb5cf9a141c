//! One answer of either system in a common form, and the check that two answers to the
//! same request agree.
//!
//! A read is named by its capture time, plate and camera: the workload's capture times
//! strictly increase (`synth::Workload::ts`), so the time alone already names one read, and
//! neither system's internal id is needed. Both systems page newest first, so the first
//! page of a request is the same set of reads on both.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use sightline_storage::time::parse_rfc3339_ms;

/// A read as both systems return it: capture time (UTC ms), normalized plate, camera id.
pub type Hit = (i64, String, String);

/// Where and when one plate was seen: camera id, count, first and last capture time.
pub type CameraCount = (String, u64, i64, i64);

/// An answer, reduced to what both systems must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Plate and area searches: the total (exact, or a lower bound when `gte`) and the
    /// first page, newest first.
    Reads {
        total: u64,
        gte: bool,
        hits: Vec<Hit>,
    },
    /// Co-location and convoy: plates that qualified (`total`) and, per plate listed, the
    /// number of places it was seen at (co-location) or its co-occurrences (convoy).
    Plates {
        total: u64,
        plates: BTreeMap<String, u64>,
    },
    /// Frequency of one plate.
    Frequency {
        total: u64,
        by_camera: Vec<CameraCount>,
        /// 24 counts, UTC.
        by_hour: Vec<u64>,
        /// 7 counts, Monday first.
        by_weekday: Vec<u64>,
    },
}

fn ms(value: &Value, field: &str) -> Result<i64> {
    let text = value[field]
        .as_str()
        .with_context(|| format!("{field} missing"))?;
    parse_rfc3339_ms(text).map_err(|e| anyhow::anyhow!("{field} {text:?}: {e}"))
}

fn text(value: &Value, field: &str) -> Result<String> {
    Ok(value[field]
        .as_str()
        .with_context(|| format!("{field} missing"))?
        .to_string())
}

fn counts<const N: usize>(value: &Value, field: &str) -> Result<[u64; N]> {
    let list = value[field]
        .as_array()
        .with_context(|| format!("{field} missing"))?;
    ensure!(
        list.len() == N,
        "{field} has {} entries, not {N}",
        list.len()
    );
    let mut out = [0u64; N];
    for (slot, v) in out.iter_mut().zip(list) {
        *slot = v.as_u64().with_context(|| format!("{field}: {v}"))?;
    }
    Ok(out)
}

impl Answer {
    /// A Sightline answer of a search of `route` (`plates`, `area`, `co-location`, `convoy`,
    /// `frequency`).
    pub fn from_sightline(route: &str, answer: &Value) -> Result<Answer> {
        let total = answer["total"].as_u64().context("total missing")?;
        Ok(match route {
            "plates" | "area" => {
                let gte = match answer["total_relation"].as_str() {
                    Some("eq") => false,
                    Some("gte") => true,
                    other => bail!("total_relation {other:?}"),
                };
                let mut hits = Vec::new();
                for hit in answer["hits"].as_array().context("hits missing")? {
                    hits.push((
                        ms(hit, "captured_at")?,
                        text(hit, "plate")?,
                        text(hit, "camera_id")?,
                    ));
                }
                Answer::Reads { total, gte, hits }
            }
            "co-location" | "convoy" => {
                let mut plates = BTreeMap::new();
                for p in answer["plates"].as_array().context("plates missing")? {
                    let n = if route == "convoy" {
                        p["co_occurrences"]
                            .as_u64()
                            .context("co_occurrences missing")?
                    } else {
                        p["places"].as_array().context("places missing")?.len() as u64
                    };
                    plates.insert(text(p, "plate")?, n);
                }
                Answer::Plates { total, plates }
            }
            "frequency" => {
                let mut by_camera = Vec::new();
                for c in answer["by_camera"]
                    .as_array()
                    .context("by_camera missing")?
                {
                    by_camera.push((
                        text(c, "camera_id")?,
                        c["count"].as_u64().context("count missing")?,
                        ms(c, "first")?,
                        ms(c, "last")?,
                    ));
                }
                Answer::Frequency {
                    total,
                    by_camera,
                    by_hour: counts::<24>(answer, "by_hour")?.to_vec(),
                    by_weekday: counts::<7>(answer, "by_weekday")?.to_vec(),
                }
            }
            other => bail!("no answer form for route {other}"),
        })
    }

    /// Size of the answer, for the report: hits on the page, or plates listed, or cameras.
    pub fn size(&self) -> usize {
        match self {
            Answer::Reads { hits, .. } => hits.len(),
            Answer::Plates { plates, .. } => plates.len(),
            Answer::Frequency { by_camera, .. } => by_camera.len(),
        }
    }
}

/// Whether `sightline` and `postgres` answered the same question the same way; the error
/// says how they differ.
///
/// - Reads: the same first page (as a set and in order); the same total when Sightline's is
///   exact, and PostgreSQL's count at least Sightline's lower bound when it is not
///   (PostgreSQL counts up to one past the same bound).
/// - Plates: the same total; every plate Sightline listed (it lists at most its `limit`)
///   is PostgreSQL's with the same count, and all of them when Sightline listed all.
/// - Frequency: equal in every field (PostgreSQL's cameras are sorted as Sightline's are).
pub fn agree(sightline: &Answer, postgres: &Answer) -> Result<()> {
    match (sightline, postgres) {
        (
            Answer::Reads {
                total: st,
                gte: sg,
                hits: sh,
            },
            Answer::Reads {
                total: pt,
                hits: ph,
                ..
            },
        ) => {
            if *sg {
                ensure!(pt >= st, "total: Sightline ≥ {st}, PostgreSQL {pt}");
            } else {
                ensure!(pt == st, "total: Sightline {st}, PostgreSQL {pt}");
            }
            if sh != ph {
                let only_s: Vec<&Hit> = sh.iter().filter(|h| !ph.contains(h)).take(3).collect();
                let only_p: Vec<&Hit> = ph.iter().filter(|h| !sh.contains(h)).take(3).collect();
                bail!(
                    "first page: Sightline {} hits, PostgreSQL {}; only Sightline's {only_s:?}, only PostgreSQL's {only_p:?}{}",
                    sh.len(),
                    ph.len(),
                    if only_s.is_empty() && only_p.is_empty() { " (same hits, other order)" } else { "" }
                );
            }
        }
        (
            Answer::Plates {
                total: st,
                plates: sp,
            },
            Answer::Plates {
                total: pt,
                plates: pp,
            },
        ) => {
            ensure!(
                st == pt,
                "plates qualifying: Sightline {st}, PostgreSQL {pt}"
            );
            for (plate, n) in sp {
                ensure!(
                    pp.get(plate) == Some(n),
                    "{plate}: Sightline {n}, PostgreSQL {:?}",
                    pp.get(plate)
                );
            }
            if sp.len() as u64 == *st {
                ensure!(sp == pp, "plates: Sightline {sp:?}, PostgreSQL {pp:?}");
            }
        }
        (a @ Answer::Frequency { .. }, b @ Answer::Frequency { .. }) => {
            ensure!(a == b, "frequency: Sightline {a:?}, PostgreSQL {b:?}");
        }
        (a, b) => bail!("answers of different kinds: {a:?} and {b:?}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reads(total: u64, gte: bool, hits: &[i64]) -> Answer {
        Answer::Reads {
            total,
            gte,
            hits: hits
                .iter()
                .map(|&t| (t, "ABC1234".to_string(), "cam-0001".to_string()))
                .collect(),
        }
    }

    #[test]
    fn read_answers_agree_on_page_and_total() {
        assert!(agree(&reads(2, false, &[5, 3]), &reads(2, false, &[5, 3])).is_ok());
        assert!(agree(&reads(2, false, &[5, 3]), &reads(3, false, &[5, 3])).is_err());
        assert!(agree(&reads(2, false, &[5, 3]), &reads(2, false, &[5, 4])).is_err());
        assert!(agree(&reads(2, false, &[5, 3]), &reads(2, false, &[3, 5])).is_err());
        // A lower bound agrees with any count at or above it.
        assert!(agree(&reads(1000, true, &[9]), &reads(1001, false, &[9])).is_ok());
        assert!(agree(&reads(1000, true, &[9]), &reads(999, false, &[9])).is_err());
    }

    #[test]
    fn plate_answers_agree_on_the_listed_plates() {
        let plates = |list: &[(&str, u64)]| -> BTreeMap<String, u64> {
            list.iter().map(|(p, n)| (p.to_string(), *n)).collect()
        };
        let a = Answer::Plates {
            total: 2,
            plates: plates(&[("CF00001", 4), ("XYZ1234", 3)]),
        };
        assert!(agree(&a, &a.clone()).is_ok());
        let fewer = Answer::Plates {
            total: 2,
            plates: plates(&[("CF00001", 4)]),
        };
        assert!(agree(&a, &fewer).is_err());
        let other_count = Answer::Plates {
            total: 2,
            plates: plates(&[("CF00001", 5), ("XYZ1234", 3)]),
        };
        assert!(agree(&a, &other_count).is_err());
    }

    #[test]
    fn sightline_answers_are_read() {
        let page = json!({"total": 1, "total_relation": "eq", "hits": [
            {"captured_at": "2026-12-04T10:00:00.123Z", "plate": "ABC1234", "camera_id": "cam-0001"}]});
        let a = Answer::from_sightline("plates", &page).unwrap();
        assert_eq!(a.size(), 1);
        let convoy = json!({"total": 1, "plates": [{"plate": "CF00001", "co_occurrences": 4}]});
        assert!(matches!(
            Answer::from_sightline("convoy", &convoy).unwrap(),
            Answer::Plates { total: 1, .. }
        ));
        assert!(Answer::from_sightline("plates", &json!({"total": 1})).is_err());
    }
}
