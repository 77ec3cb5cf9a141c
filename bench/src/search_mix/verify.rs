//! Checks an answer against what the workload says it must be.

use anyhow::{bail, ensure};
use sightline_storage::time::parse_rfc3339_ms;

use super::*;

pub(super) fn time_of(hit: &Value, field: &str) -> Result<i64> {
    let text = hit[field]
        .as_str()
        .with_context(|| format!("{field} missing"))?;
    parse_rfc3339_ms(text).map_err(|e| anyhow::anyhow!("{field} {text:?}: {e}"))
}

pub(super) fn check(expect: &Expect, status: u16, answer: &Value) -> Result<()> {
    ensure!(status == 200, "status {status}");
    match expect {
        Expect::Reads {
            total,
            accept,
            from,
            to,
        } => {
            let got = answer["total"].as_u64().context("total missing")?;
            match answer["total_relation"].as_str() {
                Some("eq") => ensure!(got == *total, "total {got}, truth {total}"),
                Some("gte") => ensure!(
                    got <= *total && got >= (*total).min(PAGE),
                    "total ≥ {got}, truth {total}"
                ),
                other => bail!("total_relation {other:?}"),
            }
            let hits = answer["hits"].as_array().context("hits missing")?;
            ensure!(
                hits.len() as u64 == (*total).min(PAGE),
                "{} hits on the first page of {total}",
                hits.len()
            );
            ensure!(
                answer["next_cursor"].is_string() == (*total > PAGE),
                "next_cursor {} with {total} hits",
                answer["next_cursor"]
            );
            let mut last = i64::MAX;
            for hit in hits {
                let at = time_of(hit, "captured_at")?;
                ensure!(at <= last, "hits not newest first");
                ensure!(
                    (*from..=*to).contains(&at),
                    "hit at {at} outside [{from}, {to}]"
                );
                last = at;
                let plate = hit["plate"].as_str().context("plate missing")?;
                let ok = match accept {
                    Accept::Plate(p) => plate == p,
                    Accept::Pattern(p) => wildcard_matches(p.as_bytes(), plate.as_bytes()),
                    Accept::Fuzzy(q) => within_one_edit(q, &canonical(plate)),
                    Accept::Circle(lat, lon, r) => {
                        let (a, b) = (hit["lat"].as_f64(), hit["lon"].as_f64());
                        a.zip(b)
                            .is_some_and(|(a, b)| distance_m(*lat, *lon, a, b) <= *r)
                    }
                };
                ensure!(ok, "hit {:.300} does not match", hit.to_string());
            }
        }
        Expect::CoLocation { plates, planted } => {
            let got = answer["total"].as_u64().context("total missing")?;
            ensure!(
                got == plates.len() as u64,
                "total {got}, truth {}",
                plates.len()
            );
            let list = answer["plates"].as_array().context("plates missing")?;
            ensure!(list.len() == plates.len().min(100), "{} plates", list.len());
            let names: BTreeSet<&str> = list.iter().filter_map(|p| p["plate"].as_str()).collect();
            ensure!(
                names.iter().all(|n| plates.contains(*n)),
                "plates {names:?}, truth {plates:?}"
            );
            ensure!(
                plates.len() > 100 || names.contains(planted.as_str()),
                "the roaming plate {planted} is missing"
            );
            for p in list {
                ensure!(p["places"] == json!([0, 1, 2]), "places {}", p["places"]);
            }
        }
        Expect::Convoy {
            companions,
            planted,
        } => {
            let got = answer["total"].as_u64().context("total missing")?;
            ensure!(
                got == companions.len() as u64,
                "total {got}, truth {companions:?}"
            );
            let list = answer["plates"].as_array().context("plates missing")?;
            ensure!(
                list.len() == companions.len().min(100),
                "{} plates",
                list.len()
            );
            for p in list {
                let name = p["plate"].as_str().context("plate missing")?;
                let n = p["co_occurrences"]
                    .as_u64()
                    .context("co_occurrences missing")?;
                ensure!(
                    companions.get(name) == Some(&(n as usize)),
                    "{name} × {n}, truth {companions:?}"
                );
            }
            ensure!(
                companions.contains_key(planted),
                "truth lacks the follower {planted}: {companions:?}"
            );
        }
        Expect::Frequency {
            total,
            by_camera,
            by_hour,
            by_weekday,
        } => {
            ensure!(
                answer["total"].as_u64() == Some(*total),
                "total {}, truth {total}",
                answer["total"]
            );
            let cams = answer["by_camera"]
                .as_array()
                .context("by_camera missing")?;
            ensure!(
                cams.len() == by_camera.len(),
                "{} cameras, truth {}",
                cams.len(),
                by_camera.len()
            );
            for (got, (id, n, first, last)) in cams.iter().zip(by_camera) {
                ensure!(
                    got["camera_id"].as_str() == Some(id.as_str())
                        && got["count"].as_u64() == Some(*n)
                        && time_of(got, "first")? == *first
                        && time_of(got, "last")? == *last,
                    "by_camera {got}, truth {id} × {n} {first}..{last}"
                );
            }
            ensure!(
                answer["by_hour"] == json!(by_hour),
                "by_hour {}",
                answer["by_hour"]
            );
            ensure!(
                answer["by_weekday"] == json!(by_weekday),
                "by_weekday {}",
                answer["by_weekday"]
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Run
