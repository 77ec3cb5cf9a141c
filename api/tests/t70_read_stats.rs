//! The analyst's read statistics over HTTP (router in process over a real engine,
//! `common::Api`): `POST /v1/tenants/{t}/stats/reads` answers epoch-aligned, non-empty
//! (bucket, key) groups with read and distinct vehicle counts, by camera or H3 resolution-7
//! cell; the answer carries nothing but those (no planted plate in any spelling, no
//! coordinate, no finer cell, cells only at resolution 7); every bad body answers 400
//! naming the field, an unknown tenant 404.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{fields, Api};
use h3o::{CellIndex, LatLng, Resolution};
use serde_json::{json, Value};

const STATS: &str = "/v1/tenants/t/stats/reads";
/// Where `common::Api` plants its 20 reads (cam-1, 10:00:00, plates `AB0CD`..`AB19CD`).
const CAM_1: (f64, f64) = (41.88, -87.63);
const CAM_2: (f64, f64) = (41.95, -87.70);

/// Every plate planted, in every spelling sent.
fn planted_plates() -> Vec<String> {
    let mut plates: Vec<String> = (0..20).map(|i| format!("AB{i}CD")).collect();
    plates.extend(
        [
            "ZQX9041", "zqx-9041", "ZQX 9041", "zqx9041", "KLM5530", "klm5530",
        ]
        .map(String::from),
    );
    plates
}

/// `common::Api`'s reads plus four more: cam-2 reads `ZQX9041` twice in the 10:00 hour
/// (once at its last millisecond) and `KLM5530` at 11:00:00 sharp; cam-1 reads `ZQX9041`
/// at 11:30.
async fn api_with_reads() -> Api {
    let api = Api::new().await;
    let read = |camera: &str, (lat, lon): (f64, f64), at: &str, plate: &str| json!({"camera_id": camera, "captured_at": at, "plate": plate, "lat": lat, "lon": lon});
    let reads = json!([
        read("cam-2", CAM_2, "2026-11-26T10:15:00Z", "zqx-9041"),
        read("cam-2", CAM_2, "2026-11-26T10:59:59.999Z", "ZQX 9041"),
        read("cam-2", CAM_2, "2026-11-26T11:00:00Z", "KLM5530"),
        read("cam-1", CAM_1, "2026-11-26T11:30:00Z", "ZQX9041"),
    ]);
    let (status, body) = api.call("POST", "/v1/tenants/t/reads", reads).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    api
}

fn query(extra: Value) -> Value {
    let mut body = json!({"from": "2026-11-26T09:00:00Z", "to": "2026-11-26T13:00:00Z",
        "step_s": 3600, "group_by": "camera"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                body.remove(k);
            } else {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    body
}

/// Fails if the answer (or error) could tell a plate, a plate token or a position finer
/// than resolution 7: no planted plate in any spelling, no coordinate-named field, no
/// planted coordinate, no resolution-9 cell of a planted position.
fn assert_nothing_identifying(answer: &Value) {
    let text = answer.to_string();
    for plate in planted_plates() {
        assert!(!text.contains(&plate), "{plate} in {text}");
    }
    for word in ["lat", "lon", "plate", "token", "h3_cell"] {
        assert!(!text.contains(word), "{word} in {text}");
    }
    for (lat, lon) in [CAM_1, CAM_2] {
        for number in [lat.to_string(), lon.to_string()] {
            assert!(!text.contains(&number), "{number} in {text}");
        }
        let fine = LatLng::new(lat, lon).unwrap().to_cell(Resolution::Nine);
        assert!(!text.contains(&fine.to_string()), "res-9 cell in {text}");
    }
}

/// The answer's buckets, after checking the answer has exactly the documented shape: keys
/// `buckets` and `took_ms`, each bucket exactly `ts` (RFC 3339 UTC ms), `key` (a camera id
/// or a resolution-7 cell), `reads` and `distinct_vehicles` (whole numbers).
fn buckets(answer: &Value, group_by: &str) -> Vec<(String, String, u64, u64)> {
    assert_nothing_identifying(answer);
    let top: BTreeSet<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, BTreeSet::from(["buckets", "took_ms"]), "{answer}");
    answer["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let keys: BTreeSet<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                BTreeSet::from(["ts", "key", "reads", "distinct_vehicles"]),
                "{b}"
            );
            let ts = b["ts"].as_str().unwrap().to_string();
            assert!(ts.ends_with(".000Z") && ts.len() == 24, "{ts}");
            let key = b["key"].as_str().unwrap().to_string();
            match group_by {
                "camera" => assert!(["cam-1", "cam-2"].contains(&key.as_str()), "{key}"),
                _ => {
                    let cell: CellIndex = key.parse().expect("an H3 cell");
                    assert_eq!(cell.resolution(), Resolution::Seven, "{key}");
                    assert_eq!(key.len(), 15, "{key}");
                }
            }
            let reads = b["reads"].as_u64().unwrap();
            let distinct = b["distinct_vehicles"].as_u64().unwrap();
            assert!(0 < distinct && distinct <= reads, "{b}");
            (ts, key, reads, distinct)
        })
        .collect()
}

async fn stats(api: &Api, extra: Value) -> Vec<(String, String, u64, u64)> {
    let body = query(extra);
    let (status, answer) = api.call("POST", STATS, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    buckets(&answer, body["group_by"].as_str().unwrap_or(""))
}

fn row(ts: &str, key: &str, reads: u64, distinct: u64) -> (String, String, u64, u64) {
    (
        format!("2026-11-26T{ts}:00.000Z"),
        key.into(),
        reads,
        distinct,
    )
}

fn r7((lat, lon): (f64, f64)) -> String {
    LatLng::new(lat, lon)
        .unwrap()
        .to_cell(Resolution::Seven)
        .to_string()
}

#[tokio::test]
async fn read_stats_answer_counts_by_bucket_and_key() {
    let api = api_with_reads().await;
    let hourly = vec![
        row("10:00", "cam-1", 20, 20),
        row("10:00", "cam-2", 2, 1),
        row("11:00", "cam-1", 1, 1),
        row("11:00", "cam-2", 1, 1),
    ];
    assert_eq!(stats(&api, json!({})).await, hourly);
    assert_eq!(
        stats(&api, json!({"step_s": null, "consistency": "follower"})).await,
        hourly,
        "3600 is the default step"
    );
    // Buckets align to the epoch, not to `from`; both ends are inclusive.
    assert_eq!(
        stats(
            &api,
            json!({"step_s": 7200, "from": "2026-11-26T10:15:00Z"})
        )
        .await,
        vec![row("10:00", "cam-1", 1, 1), row("10:00", "cam-2", 3, 2)],
    );
    assert_eq!(
        stats(&api, json!({"to": "2026-11-26T10:59:59.999Z"})).await,
        vec![row("10:00", "cam-1", 20, 20), row("10:00", "cam-2", 2, 1)],
    );
    assert_eq!(
        stats(&api, json!({"to": "2026-11-26T10:59:59.998Z"})).await,
        vec![row("10:00", "cam-1", 20, 20), row("10:00", "cam-2", 1, 1)],
    );
    assert_eq!(
        stats(
            &api,
            json!({"from": "2026-11-26T11:00:00Z", "to": "2026-11-26T11:00:00Z"})
        )
        .await,
        vec![row("11:00", "cam-2", 1, 1)],
    );
    // By resolution-7 cell: the two cameras stand in different cells.
    let (c1, c2) = (r7(CAM_1), r7(CAM_2));
    assert_ne!(c1, c2);
    let mut ten = vec![row("10:00", &c1, 20, 20), row("10:00", &c2, 2, 1)];
    let mut eleven = vec![row("11:00", &c1, 1, 1), row("11:00", &c2, 1, 1)];
    ten.sort();
    eleven.sort();
    assert_eq!(
        stats(&api, json!({"group_by": "h3_r7"})).await,
        [ten, eleven].concat()
    );
    assert_eq!(
        stats(
            &api,
            json!({"from": "2026-11-27T00:00:00Z", "to": "2026-11-28T00:00:00Z"})
        )
        .await,
        vec![],
        "an empty range has no buckets"
    );
}

#[tokio::test]
async fn bad_read_stats_bodies_answer_400_naming_the_field() {
    let api = api_with_reads().await;
    let cases = [
        (json!({"from": null}), "from"),
        (json!({"to": null}), "to"),
        (json!({"from": "yesterday"}), "from"),
        (json!({"from": 17}), "from"),
        (json!({"to": "2026-13-01T00:00:00Z"}), "to"),
        (json!({"to": "2026-11-26T08:59:59.999Z"}), "from"),
        (json!({"step_s": 0}), "step_s"),
        (json!({"step_s": -3600}), "step_s"),
        (json!({"step_s": 1.5}), "step_s"),
        (json!({"step_s": "3600"}), "step_s"),
        (json!({"step_s": 100_000_000u64}), "step_s"),
        // 09:00 to 13:00 is 14,401 one-second buckets, past the bound of 10,000.
        (json!({"step_s": 1}), "step_s"),
        (
            json!({"step_s": 60, "from": "2026-11-01T00:00:00Z"}),
            "step_s",
        ),
        (json!({"group_by": null}), "group_by"),
        (json!({"group_by": "h3_r9"}), "group_by"),
        (json!({"group_by": "Camera"}), "group_by"),
        (json!({"group_by": "plate"}), "group_by"),
        (json!({"group_by": 7}), "group_by"),
        (json!({"case_number": "2026-1"}), "case_number"),
        (json!({"plate": "ZQX9041"}), "plate"),
        (json!({"consistency": "eventual"}), "consistency"),
    ];
    for (extra, field) in cases {
        let body = query(extra.clone());
        let (status, answer) = api.call("POST", STATS, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(
            answer["error"]["code"], "invalid_request",
            "{body}: {answer}"
        );
        assert_eq!(fields(&answer), [field], "{body}: {answer}");
        if extra.get("plate").is_none() {
            assert_nothing_identifying(&answer);
        }
    }
    for raw in ["{\"from\": ", "[1, 2]", "", "null"] {
        let (status, answer) = api.raw("POST", STATS, raw.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw:?}: {answer}");
        assert_nothing_identifying(&answer);
    }
    let (status, answer) = api
        .call("POST", "/v1/tenants/nope/stats/reads", query(json!({})))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("tenant_not_found")),
        "{answer}"
    );
}
