//! Bad search input answers 400 naming the field, never 5xx: the router in process over a
//! real engine (`common::Api`).

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{json, Value};

fn audited(mut body: Value) -> Value {
    body["case_number"] = json!("2026-1");
    body["reason"] = json!("test");
    body
}

/// (endpoint, body, expected code, expected field)
fn cases() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let circle = |r: f64| json!({"circle": {"lat": 41.88, "lon": -87.63, "radius_m": r}});
    vec![
        (
            "plates",
            json!({"plate": "AB1CD", "reason": "x"}),
            "audit_fields_required",
            "case_number",
        ),
        (
            "plates",
            json!({"plate": "AB1CD", "case_number": "x"}),
            "audit_fields_required",
            "reason",
        ),
        (
            "area",
            json!({"area": circle(100.0), "case_number": " "}),
            "audit_fields_required",
            "case_number",
        ),
        (
            "plates",
            audited(json!({"plate": "*?*", "match": "wildcard"})),
            "invalid_request",
            "plate",
        ),
        (
            "plates",
            audited(json!({"plate": "**", "match": "wildcard"})),
            "invalid_request",
            "plate",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "match": "fuzzy", "max_edits": 3})),
            "invalid_request",
            "max_edits",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "match": "fuzzy", "max_edits": 300})),
            "invalid_request",
            "max_edits",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "max_edits": 1})),
            "invalid_request",
            "max_edits",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "match": "sounds-like"})),
            "invalid_request",
            "match",
        ),
        (
            "area",
            audited(json!({"area": {"polygon": [[41.0, -87.0], [41.1, -87.0]]}})),
            "invalid_request",
            "area.polygon",
        ),
        (
            "area",
            audited(
                json!({"area": {"polygon": [[41.0, -87.0], [41.1, -87.1], [41.1, -87.0], [41.0, -87.1]]}}),
            ),
            "invalid_request",
            "area.polygon",
        ),
        (
            "area",
            audited(json!({"area": circle(0.0)})),
            "invalid_request",
            "area.circle.radius_m",
        ),
        (
            "area",
            audited(json!({"area": circle(-5.0)})),
            "invalid_request",
            "area.circle.radius_m",
        ),
        (
            "area",
            audited(json!({"area": circle(50_001.0)})),
            "invalid_request",
            "area.circle.radius_m",
        ),
        (
            "area",
            audited(json!({"area": {"circle": {"lat": 91.0, "lon": 0.0, "radius_m": 10.0}}})),
            "invalid_request",
            "area.circle.lat",
        ),
        (
            "area",
            audited(json!({"area": {"h3": ["not-a-cell"]}})),
            "invalid_request",
            "area.h3[0]",
        ),
        (
            "area",
            audited(json!({"area": {"h3": ["8928308280fffff", "zz"]}})),
            "invalid_request",
            "area.h3[1]",
        ),
        (
            "area",
            audited(
                json!({"area": circle(10.0), "from": "2026-11-27T00:00:00Z", "to": "2026-11-26T00:00:00Z"}),
            ),
            "invalid_request",
            "from",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "from": "now", "to": "now-1d"})),
            "invalid_request",
            "from",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "from": "yesterday"})),
            "invalid_request",
            "from",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "colour": "red"})),
            "invalid_request",
            "colour",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "vehicle": {"colour": "red"}})),
            "invalid_request",
            "vehicle.colour",
        ),
        (
            "area",
            audited(
                json!({"area": {"circle": {"lat": 41.0, "lon": -87.0, "radius_m": 5.0, "r": 1}}}),
            ),
            "invalid_request",
            "area.circle.r",
        ),
        (
            "area",
            audited(
                json!({"area": {"circle": {"lat": 41.0, "lon": -87.0, "radius_m": 5.0}, "bbox": {"min_lat": 1, "min_lon": 1, "max_lat": 2, "max_lon": 2}}}),
            ),
            "invalid_request",
            "area",
        ),
        (
            "area",
            audited(json!({"limit": 10})),
            "invalid_request",
            "area",
        ),
        (
            "area",
            audited(json!({"area": circle(10.0), "limit": 0})),
            "invalid_request",
            "limit",
        ),
        (
            "area",
            audited(json!({"area": circle(10.0), "limit": 5000})),
            "invalid_request",
            "limit",
        ),
        (
            "plates",
            audited(json!({"plate": "AB1CD", "cursor": "garbage"})),
            "invalid_cursor",
            "cursor",
        ),
        (
            "plates",
            audited(json!({"plate": "AB 1-CD?"})),
            "invalid_request",
            "plate",
        ),
        (
            "co-location",
            audited(
                json!({"places": [{"area": circle(100.0)}, {"area": circle(200.0)}], "min_places": 3}),
            ),
            "invalid_request",
            "min_places",
        ),
        (
            "co-location",
            audited(json!({"places": []})),
            "invalid_request",
            "places",
        ),
        (
            "co-location",
            audited(json!({"places": [{"area": circle(100.0), "from": "now", "to": "now-1h"}]})),
            "invalid_request",
            "places[0].from",
        ),
        (
            "co-location",
            audited(json!({"places": [{"area": circle(0.0)}]})),
            "invalid_request",
            "places[0].area.circle.radius_m",
        ),
        (
            "convoy",
            audited(json!({"plate": "AB1CD", "window_s": 0})),
            "invalid_request",
            "window_s",
        ),
        (
            "convoy",
            audited(json!({"window_s": 60})),
            "invalid_request",
            "plate",
        ),
        (
            "frequency",
            audited(json!({"plate": ""})),
            "invalid_request",
            "plate",
        ),
        (
            "frequency",
            audited(json!({"plate": "AB1CD", "extra": true})),
            "invalid_request",
            "extra",
        ),
    ]
}

#[tokio::test]
async fn bad_search_input_answers_400_naming_the_field() {
    let api = Api::new().await;
    for (endpoint, body, code, field) in cases() {
        let path = format!("/v1/tenants/t/search/{endpoint}");
        let (status, answer) = api.call("POST", &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{endpoint} {body}: {answer}"
        );
        assert_eq!(answer["error"]["code"], code, "{endpoint} {body}: {answer}");
        let fields: Vec<&str> = answer["error"]["details"]
            .as_array()
            .map(|d| d.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            fields.contains(&field),
            "{endpoint} {body}: wanted field {field}, got {answer}"
        );
    }
}

#[tokio::test]
async fn malformed_bodies_are_invalid_json_and_good_ones_answer() {
    let api = Api::new().await;
    for endpoint in ["plates", "area", "co-location", "convoy", "frequency"] {
        let path = format!("/v1/tenants/t/search/{endpoint}");
        let (status, answer) = api.raw("POST", &path, "{".into()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_json"))
        );
        let (status, answer) = api.raw("POST", &path, "[1, 2]".into()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{answer}"
        );
    }
    let circle = json!({"circle": {"lat": 41.88, "lon": -87.63, "radius_m": 500.0}});
    let good = [
        (
            "plates",
            audited(json!({"plate": "AB1*CD", "match": "wildcard", "explain": true})),
        ),
        (
            "plates",
            audited(json!({"plate": "A81CD", "match": "fuzzy"})),
        ),
        ("area", audited(json!({"area": circle}))),
        (
            "co-location",
            audited(json!({"places": [{"area": circle}, {"area": circle}]})),
        ),
        (
            "convoy",
            audited(json!({"plate": "AB1CD", "min_co_occurrences": 1})),
        ),
        ("frequency", audited(json!({"plate": "AB1CD"}))),
    ];
    for (endpoint, body) in good {
        let (status, answer) = api
            .call(
                "POST",
                &format!("/v1/tenants/t/search/{endpoint}"),
                body.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{endpoint} {body}: {answer}");
    }
    let (_, answer) = api
        .call(
            "POST",
            "/v1/tenants/t/search/plates",
            audited(json!({"plate": "AB1*CD", "match": "wildcard", "explain": true})),
        )
        .await;
    assert_eq!(answer["total"], 11, "{answer}");
    assert_eq!(answer["total_relation"], "eq");
    assert_eq!(answer["explain"]["access_path"], "plate_index", "{answer}");
    let (_, answer) = api
        .call(
            "POST",
            "/v1/tenants/t/search/area",
            audited(json!({"area": circle})),
        )
        .await;
    assert_eq!(answer["total"], 20, "{answer}");
    let (_, answer) = api
        .call(
            "POST",
            "/v1/tenants/t/search/co-location",
            audited(json!({"places": [{"area": circle}, {"area": circle}]})),
        )
        .await;
    assert_eq!(answer["total"], 20, "{answer}");
    let (status, answer) = api
        .call(
            "POST",
            "/v1/tenants/nope/search/area",
            audited(json!({"area": circle})),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("tenant_not_found"))
    );
}

/// A cursor pages only the tenant and the question it was issued for: replayed against
/// another tenant (with a token for it) or another plate it is refused as `invalid_cursor`;
/// a new page size, `explain` or key order keep it valid.
#[tokio::test]
async fn a_cursor_is_bound_to_its_tenant_and_query() {
    let api = Api::new().await;
    let (status, body) = api
        .call("PUT", "/v1/admin/tenants/u", json!({"retention_days": 30}))
        .await;
    assert!(status.is_success(), "{body}");
    let reads: Vec<Value> = (0..5)
        .map(|i| {
            json!({"camera_id": "cam-1", "captured_at": format!("2026-11-26T10:0{i}:00Z"),
            "plate": "AB1CD", "lat": 41.88, "lon": -87.63})
        })
        .collect();
    let (status, body) = api
        .call("POST", "/v1/tenants/u/reads", Value::Array(reads))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let api = &api;
    let search = |tenant: &str, body: Value| {
        let path = format!("/v1/tenants/{tenant}/search/plates");
        async move { api.call("POST", &path, audited(body)).await }
    };
    let (status, first) = search(
        "t",
        json!({"plate": "AB*", "match": "wildcard", "limit": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let next = first["next_cursor"].as_str().unwrap().to_string();

    // Same question: a new page size and explain are fine; so is another key order.
    let (status, page) = search(
        "t",
        json!({"limit": 5, "explain": true, "match": "wildcard", "plate": "AB*", "cursor": next}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["hits"].as_array().unwrap().len(), 5);

    for (tenant, body) in [
        (
            "u",
            json!({"plate": "AB*", "match": "wildcard", "limit": 2, "cursor": next}),
        ),
        (
            "t",
            json!({"plate": "AB1*", "match": "wildcard", "limit": 2, "cursor": next}),
        ),
        (
            "t",
            json!({"plate": "AB*", "match": "wildcard", "limit": 2, "cameras": ["cam-1"],
            "cursor": next}),
        ),
    ] {
        let (status, answer) = search(tenant, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{tenant} {body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_cursor", "{answer}");
        assert_eq!(common::fields(&answer), ["cursor"]);
    }
}
