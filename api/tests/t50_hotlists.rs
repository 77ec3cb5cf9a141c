//! Hotlists through the router in process over a real engine: a hotlist's look back equals
//! a brute-force scan of what was sent, for exact and fuzzy hotlists; bad input answers 400
//! naming the field; hotlists read back as stored.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{fields, Api};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sightline_index::pattern::ocr_distance;

const DAY_MS: i64 = 86_400_000;

fn rfc3339(ms: i64) -> String {
    sightline_storage::time::format_rfc3339_ms(ms)
}

/// Which plates a hotlist should match, by brute force.
type Matcher<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// (client id, plate, capture time) of every read sent.
type Sent = Vec<(String, String, i64)>;

/// Ten days of reads of a few hundred plates, many of them OCR misreads or one-edit
/// neighbours of the plates the tests list. Seeded.
async fn load(api: &Api, seed: u64) -> Sent {
    let (status, body) = api
        .call("PUT", "/v1/admin/tenants/h", json!({"retention_days": 30}))
        .await;
    assert!(status.is_success(), "{body}");
    let mut rng = StdRng::seed_from_u64(seed);
    let now = sightline_storage::time::now_ms();
    let near = [
        "KD40917", "KD4O917", "K040917", "KD40Q17", "KD4091", "KD409177", "KX40917", "KD40927",
        "JP51860", "JP5I86O", "JP51861", "JP5186", "XJP51860", "8B2ZS5", "BB2Z55", "882255",
        "8B2Z5", "AB12CD", "A812CD", "AB12C0", "AB12CDE",
    ];
    let mut sent = Sent::new();
    for batch in 0..8 {
        let mut reads = Vec::new();
        for i in 0..500 {
            let plate = if rng.random_bool(0.3) {
                near[rng.random_range(0..near.len())].to_string()
            } else {
                format!("R{:05}", rng.random_range(0..400))
            };
            let mut at = now - rng.random_range(0..10 * DAY_MS);
            // Nothing within an hour of the three-day boundary: the handler's "now" and the
            // test's differ by the time the test takes.
            if (at - (now - 3 * DAY_MS)).abs() < 3_600_000 {
                at -= 2 * 3_600_000;
            }
            let id = format!("r-{batch}-{i}");
            reads.push(json!({"id": id, "camera_id": format!("cam-{}", i % 7),
                "captured_at": rfc3339(at), "plate": plate, "lat": 41.88, "lon": -87.63}));
            sent.push((id, plate, at));
        }
        let (status, body) = api
            .call("POST", "/v1/tenants/h/reads", Value::Array(reads))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    sent
}

fn ids(answer: &Value) -> BTreeSet<String> {
    answer["historical_hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_look_back_equals_brute_force_for_exact_and_fuzzy_hotlists() {
    let api = Api::new().await;
    let sent = load(&api, 20261203).await;
    let since = sightline_storage::time::now_ms() - 3 * DAY_MS;
    let listed = ["KD40917", "JP51860", "8B2ZS5"];
    let cases: [(&str, Value, Matcher<'_>); 4] = [
        (
            "exact",
            json!({"plates": listed}),
            Box::new(|p: &str| listed.contains(&p)),
        ),
        (
            "fuzzy0",
            json!({"plates": listed, "match": "fuzzy", "max_edits": 0}),
            Box::new(|p: &str| listed.iter().any(|l| ocr_distance(l, p) == 0)),
        ),
        (
            "fuzzy1",
            json!({"plates": listed, "match": "fuzzy"}),
            Box::new(|p: &str| listed.iter().any(|l| ocr_distance(l, p) <= 1)),
        ),
        (
            "fuzzy2",
            json!({"plates": ["AB12CD"], "match": "fuzzy", "max_edits": 2}),
            Box::new(|p: &str| ocr_distance("AB12CD", p) <= 2),
        ),
    ];
    for (name, mut body, matches) in cases {
        body["lookback_days"] = json!(3);
        body["case_number"] = json!("2026-7");
        body["reason"] = json!("test");
        let (status, answer) = api
            .call("PUT", &format!("/v1/tenants/h/hotlists/{name}"), body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {answer}");
        let want: BTreeSet<String> = sent
            .iter()
            .filter(|(_, plate, at)| *at >= since && matches(plate))
            .map(|(id, _, _)| id.clone())
            .collect();
        assert!(want.len() > 20, "{name}: the data should hold hits");
        let got = ids(&answer);
        assert_eq!(got, want, "{name}: look back vs brute force");
        assert_eq!(answer["historical_total"], want.len(), "{name}");
        assert_eq!(answer["historical_total_relation"], "eq");
        // Newest first.
        let times: Vec<&str> = answer["historical_hits"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["captured_at"].as_str())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{name}: order");
    }
    // Replacing a hotlist answers 200 and the new plates.
    let (status, answer) = api
        .call(
            "PUT",
            "/v1/tenants/h/hotlists/exact",
            json!({"plates": ["kd-40917"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["created"], false);
    assert!(answer.get("historical_hits").is_none());
    let (status, answer) = api
        .call("GET", "/v1/tenants/h/hotlists/exact", json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["plates"], json!(["KD40917"]));
    let (_, answer) = api.call("GET", "/v1/tenants/h/hotlists", json!(null)).await;
    let names: Vec<&str> = answer["hotlists"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["name"].as_str())
        .collect();
    assert_eq!(names, ["exact", "fuzzy0", "fuzzy1", "fuzzy2"]);
}

#[tokio::test]
async fn bad_hotlist_input_answers_400_naming_the_field() {
    let api = Api::new().await;
    let audited = |mut v: Value| {
        v["case_number"] = json!("2026-7");
        v["reason"] = json!("test");
        v
    };
    let cases = [
        ("stolen", json!({"plates": []}), "invalid_request", "plates"),
        ("stolen", json!({}), "invalid_request", "plates"),
        (
            "stolen",
            json!({"plates": ["AB1", "!!"]}),
            "invalid_request",
            "plates[1]",
        ),
        (
            "stolen",
            json!({"plates": ["AB1"], "match": "wildcard"}),
            "invalid_request",
            "match",
        ),
        (
            "stolen",
            json!({"plates": ["AB1"], "match": "fuzzy", "max_edits": 3}),
            "invalid_request",
            "max_edits",
        ),
        (
            "stolen",
            json!({"plates": ["AB1"], "max_edits": 1}),
            "invalid_request",
            "max_edits",
        ),
        (
            "stolen",
            json!({"plates": ["AB1"], "lookback_days": 7, "reason": "x"}),
            "audit_fields_required",
            "case_number",
        ),
        (
            "stolen",
            json!({"plates": ["AB1"], "lookback_days": 7, "case_number": "x"}),
            "audit_fields_required",
            "reason",
        ),
        (
            "stolen",
            audited(json!({"plates": ["AB1"], "lookback_days": 0})),
            "invalid_request",
            "lookback_days",
        ),
        (
            "stolen",
            json!({"plates": ["AB1"], "colour": "red"}),
            "invalid_request",
            "colour",
        ),
        (
            "bad%20name",
            json!({"plates": ["AB1"]}),
            "invalid_request",
            "name",
        ),
    ];
    for (name, body, code, field) in cases {
        let (status, answer) = api
            .call(
                "PUT",
                &format!("/v1/tenants/t/hotlists/{name}"),
                body.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        assert!(
            fields(&answer).iter().any(|f| f == field),
            "{body}: wanted field {field}, got {answer}"
        );
    }
    // Nothing was stored by any of them.
    let (_, answer) = api.call("GET", "/v1/tenants/t/hotlists", json!(null)).await;
    assert_eq!(answer["hotlists"], json!([]), "{answer}");

    let (status, answer) = api
        .call(
            "PUT",
            "/v1/tenants/nope/hotlists/x",
            json!({"plates": ["AB1"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["error"]["code"], "tenant_not_found");
    let (status, answer) = api
        .call("DELETE", "/v1/tenants/t/hotlists/x", json!(null))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = api
        .with_headers(
            "GET",
            "/v1/tenants/t/alerts",
            &[("last-event-id", "yesterday")],
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        fields(&answer).iter().any(|f| f == "Last-Event-ID"),
        "{answer}"
    );
}
