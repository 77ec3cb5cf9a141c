//! Admin reads: a tenant's policy is read linearizably unless the caller asks for this
//! replica's view, and a bad query parameter answers 400 naming it.

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::Value;

#[tokio::test]
async fn a_tenant_is_read_with_either_consistency_and_bad_parameters_are_named() {
    let api = Api::new().await;
    for path in [
        "/v1/admin/tenants/t",
        "/v1/admin/tenants/t?consistency=linearizable",
        "/v1/admin/tenants/t?consistency=follower",
    ] {
        let (status, body) = api.call("GET", path, Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["retention_days"], 30, "{path}: {body}");
    }
    for (path, field) in [
        ("/v1/admin/tenants/t?consistency=eventual", "consistency"),
        ("/v1/admin/tenants/t?stale=1", "stale"),
    ] {
        let (status, body) = api.call("GET", path, Value::Null).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{path}: {body}");
        assert_eq!(
            body["error"]["details"][0]["field"], field,
            "{path}: {body}"
        );
    }
    let (status, body) = api
        .call("GET", "/v1/admin/tenants/nobody", Value::Null)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
