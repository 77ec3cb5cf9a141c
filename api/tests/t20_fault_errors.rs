//! `POST /v1/admin/faults`: 404 unless the node runs with `--enable-fault-injection`; bad
//! bodies answer 400 naming the field; a good one answers the rules in force.

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::json;

#[tokio::test]
async fn faults_are_not_served_without_the_flag() {
    let api = Api::new().await;
    let (status, body) = api
        .call("POST", "/v1/admin/faults", json!({"drop_to": [2]}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn bad_fault_bodies_name_the_field() {
    let api = Api::with_fault_injection(true).await;
    let cases = [
        (json!({}), "drop_to"),
        (json!({"delay_ms": 10}), "to"),
        (json!({"to": [2]}), "delay_ms"),
        (json!({"bytes_per_s": 1000}), "to"),
        (json!({"delay_ms": 86_400_001u64, "to": [2]}), "delay_ms"),
        (json!({"clock_skew_ms": -86_400_001i64}), "clock_skew_ms"),
        (json!({"clear": false}), "clear"),
        (json!({"clear": true, "drop_to": [2]}), "clear"),
        (json!({"drop_to": "2"}), "drop_to"),
        (json!({"partition": [2]}), "partition"),
    ];
    for (body, field) in cases {
        let (status, answer) = api.call("POST", "/v1/admin/faults", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        let named = answer["error"]["details"][0]["field"]
            .as_str()
            .unwrap_or("");
        assert_eq!(named, field, "{body} → {answer}");
    }
}

#[tokio::test]
async fn rules_accumulate_and_clear() {
    let api = Api::with_fault_injection(true).await;
    let (status, body) = api
        .call("POST", "/v1/admin/faults", json!({"drop_to": [2, 3]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = api
        .call(
            "POST",
            "/v1/admin/faults",
            json!({"delay_ms": 250, "to": [3]}),
        )
        .await;
    assert_eq!(
        body,
        json!({"drop_to": [2, 3], "delay_ms": 250, "delay_to": [3], "bytes_per_s": 0, "clock_skew_ms": 0})
    );
    let (_, body) = api
        .call("POST", "/v1/admin/faults", json!({"clear": true}))
        .await;
    assert_eq!(
        body,
        json!({"drop_to": [], "delay_ms": 0, "delay_to": [], "bytes_per_s": 0, "clock_skew_ms": 0})
    );
}
