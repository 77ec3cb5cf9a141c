//! Issue 15, acceptance 2: on the demo's data, no answer to an `analyst` token carries a
//! plate, a plate token, or a position finer than H3 resolution 7, over every route of the
//! router (the analyst's own, series queries and read statistics, answer with data; every
//! other answers 403, and those answers are checked too).
//!
//! What the data holds is learned first with the investigator token: every plate and every
//! position of the day (an area search over the whole city, all pages).

mod common;

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sightline_api::routes::ENDPOINTS;
use sightline_chaos::Client;

/// Walks every value of `answer`, naming what an analyst must never see.
fn leaks(
    answer: &Value,
    plates: &HashSet<String>,
    coordinates: &HashSet<String>,
    path: &str,
    found: &mut Vec<String>,
) {
    match answer {
        Value::Object(map) => {
            for (key, value) in map {
                if matches!(
                    key.as_str(),
                    "plate" | "plate_raw" | "plate_token" | "lat" | "lon" | "h3_cell" | "read_ids"
                ) {
                    found.push(format!("{path}.{key}: a field an analyst must not get"));
                }
                leaks(value, plates, coordinates, &format!("{path}.{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                leaks(item, plates, coordinates, &format!("{path}[{i}]"), found);
            }
        }
        Value::String(text) => {
            let upper = text.to_uppercase();
            if let Some(plate) = plates.iter().find(|p| upper.contains(p.as_str())) {
                found.push(format!("{path}: {text:?} holds plate {plate}"));
            }
            if let Ok(cell) = text.parse::<h3o::CellIndex>() {
                if u8::from(cell.resolution()) > 7 {
                    found.push(format!("{path}: H3 cell {text} finer than resolution 7"));
                }
            }
        }
        Value::Number(n) => {
            if let Some(x) = n.as_f64().filter(|x| x.fract() != 0.0) {
                if coordinates.contains(&format!("{x:.4}")) {
                    found.push(format!("{path}: {x} is a read's coordinate"));
                }
            }
        }
        _ => {}
    }
}

#[test]
fn no_answer_to_an_analyst_carries_a_plate_or_a_fine_position() -> Result<()> {
    let demo = common::demo::Demo::start()?;
    {
        let url = demo.url.clone();
        let tokens = demo.tokens()?;
        let token = |role: &str| {
            tokens[role]
                .as_str()
                .map(String::from)
                .context(role.to_string())
        };
        let investigator = Client::new(&url).with_token(&token("investigator")?);
        let analyst = Client::new(&url).with_token(&token("analyst")?);

        // Everything the day holds, through the investigator.
        let (mut plates, mut coordinates) = (HashSet::new(), HashSet::new());
        let mut query = json!({"area": {"bbox": {"min_lat": 41.0, "min_lon": -88.5, "max_lat": 42.5, "max_lon": -87.0}},
            "from": "now-3d", "limit": 1000, "case_number": "TEST-26", "reason": "analyst leak test"});
        loop {
            let (status, page) = investigator.post_json("/v1/tenants/demo/search/area", &query)?;
            if status != 200 {
                bail!("area search answered {status}: {page}");
            }
            for hit in page["hits"].as_array().context("hits")? {
                plates.insert(hit["plate"].as_str().context("plate")?.to_string());
                for axis in ["lat", "lon"] {
                    coordinates.insert(format!("{:.4}", hit[axis].as_f64().context("lat/lon")?));
                }
            }
            match page["next_cursor"].as_str() {
                Some(cursor) => query["cursor"] = cursor.into(),
                None => break,
            }
        }
        assert!(
            plates.len() > 1_000,
            "the demo day has {} plates",
            plates.len()
        );

        // The analyst's own routes, with data.
        // (method, path, body, whether it must answer with data).
        let mut asked: Vec<(String, String, Value, bool)> = Vec::new();
        for group_by in ["camera", "h3_r7"] {
            asked.push((
                "POST".into(),
                "/v1/tenants/demo/stats/reads".into(),
                json!({"from": "now-3d", "to": "now", "step_s": 3600, "group_by": group_by}),
                true,
            ));
        }
        for (sensor, metric) in [
            ("aq-01", "temp_c"),
            ("aq-02", "pm25"),
            ("noise-01", "noise_db"),
            ("tc-01", "traffic_count"),
        ] {
            for agg in ["avg", "min", "max", "sum", "count", "last"] {
                asked.push((
                    "POST".into(),
                    "/v1/tenants/demo/series/query".into(),
                    json!({"sensor_id": sensor, "metric": metric, "from": "now-3d", "to": "now",
                        "step_s": 3600, "agg": agg}),
                    true,
                ));
            }
        }
        // Every route of the router, with the tenant and ids filled in.
        for endpoint in ENDPOINTS {
            let path = endpoint
                .path
                .replace("{tenant}", "demo")
                .replace("{name}", "stolen")
                .replace("{id}", "1");
            let body = json!({"plate": "KD40917", "case_number": "TEST-26", "reason": "leak test",
                "area": {"circle": {"lat": 41.8927, "lon": -87.6254, "radius_m": 500}}});
            asked.push((endpoint.method.to_string(), path, body, false));
        }
        let mut found = Vec::new();
        let mut with_data = 0;
        for (method, path, body, data) in &asked {
            let body = (method != "GET" && method != "DELETE").then_some(body);
            let (status, answer) = if path == "/metrics" {
                // Text, not JSON: each of its words, numbers as numbers.
                let text = ureq::get(&analyst.url(path)).call()?.into_string()?;
                let words = text
                    .split(|c: char| c.is_whitespace() || "{},=\"".contains(c))
                    .filter(|w| !w.is_empty())
                    .map(|w| w.parse::<f64>().map_or_else(|_| json!(w), |x| json!(x)))
                    .collect();
                (200, Value::Array(words))
            } else {
                analyst.call(method, path, body)?
            };
            if *data {
                assert_eq!(status, 200, "{method} {path}: {answer}");
                with_data += 1;
            } else {
                // The analyst's own routes refuse this generic body (400); the rest 403.
                assert!(
                    matches!(status, 200 | 400 | 403),
                    "{method} {path}: {status} {answer}"
                );
            }
            leaks(
                &answer,
                &plates,
                &coordinates,
                &format!("{method} {path}"),
                &mut found,
            );
        }
        assert_eq!(with_data, 26);
        assert!(found.is_empty(), "{}", found.join("\n"));
        Ok(())
    }
}
