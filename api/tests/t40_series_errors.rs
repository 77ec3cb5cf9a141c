//! The series query over HTTP (router in process over a real engine, `common::Api`): a good
//! query answers epoch-aligned, non-empty buckets as `[RFC 3339 ms, value]` pairs, and every
//! bad body answers 400 naming the field (issue 13, acceptance 6: `step_s` of 0 or giving
//! too many buckets, an unknown `agg`), never 5xx.

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{json, Value};

const QUERY: &str = "/v1/tenants/t/series/query";

/// Samples of `noise/db` at 10:00:00, :30, 10:01:00, :59.999 and 10:02:00 (values 1..5), and
/// of `noise/peak` and `other/db` (which a query of `noise/db` must not see).
async fn api_with_samples() -> Api {
    let api = Api::new().await;
    let sample = |sensor: &str, metric: &str, ts: &str, value: f64| json!({"sensor_id": sensor, "metric": metric, "ts": ts, "value": value});
    let samples = json!([
        sample("noise", "db", "2026-11-26T10:00:00Z", 1.0),
        sample("noise", "db", "2026-11-26T10:00:30Z", 2.0),
        sample("noise", "db", "2026-11-26T10:01:00Z", 3.0),
        sample("noise", "db", "2026-11-26T10:01:59.999Z", 4.0),
        sample("noise", "db", "2026-11-26T10:02:00Z", 5.0),
        sample("noise", "peak", "2026-11-26T10:00:10Z", 100.0),
        sample("other", "db", "2026-11-26T10:00:10Z", 100.0),
    ]);
    let (status, body) = api.call("POST", "/v1/tenants/t/series", samples).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    api
}

fn query(extra: Value) -> Value {
    let mut body = json!({"sensor_id": "noise", "metric": "db",
        "from": "2026-11-26T09:00:00Z", "to": "2026-11-26T11:00:00Z"});
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

#[tokio::test]
async fn bad_series_queries_answer_400_naming_the_field() {
    let api = api_with_samples().await;
    let cases = [
        (json!({"step_s": 0}), "step_s"),
        (json!({"step_s": -60}), "step_s"),
        (json!({"step_s": 1.5}), "step_s"),
        (json!({"step_s": "60"}), "step_s"),
        (json!({"step_s": 100_000_000u64}), "step_s"),
        // 09:00 to 11:00 is 7,201 one-second buckets; a year of them is far past 10,000.
        (
            json!({"step_s": 1, "from": "2025-11-26T00:00:00Z"}),
            "step_s",
        ),
        (
            json!({"step_s": 60, "from": "2026-11-01T00:00:00Z"}),
            "step_s",
        ),
        (json!({"agg": "median"}), "agg"),
        (json!({"agg": "AVG"}), "agg"),
        (json!({"agg": 3}), "agg"),
        (json!({"from": "2026-11-26T12:00:00Z"}), "from"),
        (json!({"from": "yesterday"}), "from"),
        (json!({"to": "2026-13-01T00:00:00Z"}), "to"),
        (json!({"from": null}), "from"),
        (json!({"to": null}), "to"),
        (json!({"sensor_id": null}), "sensor_id"),
        (json!({"sensor_id": "  "}), "sensor_id"),
        (json!({"sensor_id": "x".repeat(129)}), "sensor_id"),
        (json!({"metric": null}), "metric"),
        (json!({"metric": 7}), "metric"),
        (json!({"case_numbr": "2026-1"}), "case_numbr"),
        (json!({"consistency": "eventual"}), "consistency"),
    ];
    for (extra, field) in cases {
        let body = query(extra.clone());
        let (status, answer) = api.call("POST", QUERY, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(
            answer["error"]["code"], "invalid_request",
            "{body}: {answer}"
        );
        assert_eq!(
            answer["error"]["details"][0]["field"], field,
            "{body}: {answer}"
        );
    }
    for raw in ["{\"sensor_id\": ", "[1, 2]", ""] {
        let (status, answer) = api.raw("POST", QUERY, raw.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw:?}: {answer}");
    }
    let (status, answer) = api
        .call("POST", "/v1/tenants/nope/series/query", query(json!({})))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("tenant_not_found")),
        "{answer}"
    );
}

async fn points(api: &Api, extra: Value) -> Value {
    let body = query(extra);
    let (status, answer) = api.call("POST", QUERY, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    answer["points"].clone()
}

#[tokio::test]
async fn a_series_answers_epoch_aligned_non_empty_buckets() {
    let api = api_with_samples().await;
    let at = |m: u32| format!("2026-11-26T10:0{m}:00.000Z");
    assert_eq!(
        points(&api, json!({})).await,
        json!([[at(0), 1.5], [at(1), 3.5], [at(2), 5.0]]),
        "avg and 60 s are the defaults"
    );
    for (agg, want) in [
        ("avg", json!([[at(0), 1.5], [at(1), 3.5], [at(2), 5.0]])),
        ("min", json!([[at(0), 1.0], [at(1), 3.0], [at(2), 5.0]])),
        ("max", json!([[at(0), 2.0], [at(1), 4.0], [at(2), 5.0]])),
        ("sum", json!([[at(0), 3.0], [at(1), 7.0], [at(2), 5.0]])),
        ("count", json!([[at(0), 2], [at(1), 2], [at(2), 1]])),
        ("last", json!([[at(0), 2.0], [at(1), 4.0], [at(2), 5.0]])),
    ] {
        assert_eq!(
            points(&api, json!({"agg": agg, "step_s": 60})).await,
            want,
            "{agg}"
        );
    }
    // Buckets align to the epoch, not to `from`; the ends are inclusive.
    assert_eq!(
        points(
            &api,
            json!({"step_s": 3600, "agg": "count", "from": "2026-11-26T09:59:00Z",
                   "to": "2026-11-26T10:01:59.999Z", "consistency": "follower"})
        )
        .await,
        json!([["2026-11-26T10:00:00.000Z", 4]])
    );
    assert_eq!(
        points(
            &api,
            json!({"step_s": 1, "agg": "last", "from": "2026-11-26T10:00:30Z",
                   "to": "2026-11-26T10:00:30Z"})
        )
        .await,
        json!([["2026-11-26T10:00:30.000Z", 2.0]])
    );
    assert_eq!(
        points(&api, json!({"sensor_id": "nobody"})).await,
        json!([]),
        "an unknown series has no points"
    );
}
