//! Bad search input answers 400 naming the field, never 5xx: the router in process over a
//! real engine, with a cluster seam that applies commands directly (no Raft needed to test
//! parsing and error codes).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use sightline_api::{router, AppState, Cluster, ProposeError};
use sightline_storage::{
    ApplyOutcome, Command, Engine, EngineConfig, LogPosition, MasterKey, SharedEngine,
};
use tower::ServiceExt;

/// Applies every command at once to the local engine.
struct Local {
    engine: SharedEngine,
    index: AtomicU64,
}

impl Cluster for Local {
    fn propose(&self, command: Command) -> BoxFuture<'static, Result<ApplyOutcome, ProposeError>> {
        let index = self.index.fetch_add(1, Ordering::SeqCst) + 1;
        let result = self
            .engine
            .load()
            .apply(
                LogPosition {
                    term: 1,
                    leader: 1,
                    index,
                },
                &command,
            )
            .map_err(ProposeError::from);
        Box::pin(async move { result })
    }
    fn read_barrier(&self) -> BoxFuture<'static, Result<(), ProposeError>> {
        Box::pin(async { Ok(()) })
    }
    fn status(&self) -> BoxFuture<'static, Result<Value, ProposeError>> {
        Box::pin(async { Ok(json!({})) })
    }
    fn add_node(
        &self,
        _: u64,
        _: String,
        _: String,
    ) -> BoxFuture<'static, Result<Value, ProposeError>> {
        Box::pin(async { Err(ProposeError::Refused("single node".into())) })
    }
    fn remove_node(&self, _: u64) -> BoxFuture<'static, Result<Value, ProposeError>> {
        Box::pin(async { Err(ProposeError::Refused("single node".into())) })
    }
    fn ready(&self) -> BoxFuture<'static, bool> {
        Box::pin(async { true })
    }
}

struct Api {
    _dir: tempfile::TempDir,
    router: axum::Router,
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            &EngineConfig::new(dir.path()),
            MasterKey::from_bytes(&[4; 32]),
        )
        .unwrap();
        let engine: SharedEngine = Arc::new(ArcSwap::from_pointee(engine));
        let cluster = Arc::new(Local {
            engine: engine.clone(),
            index: AtomicU64::new(0),
        });
        let api = Api {
            _dir: dir,
            router: router(AppState { engine, cluster }),
        };
        let (status, body) = api
            .call("PUT", "/v1/admin/tenants/t", json!({"retention_days": 30}))
            .await;
        assert!(status.is_success(), "{body}");
        let reads: Vec<Value> = (0..20)
            .map(|i| json!({"camera_id": "cam-1", "captured_at": "2026-11-26T10:00:00Z", "plate": format!("AB{i}CD"),
                "lat": 41.88, "lon": -87.63}))
            .collect();
        let (status, body) = api
            .call("POST", "/v1/tenants/t/reads", Value::Array(reads))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        api
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.raw(method, path, body.to_string()).await
    }

    async fn raw(&self, method: &str, path: &str, body: String) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }
}

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
