//! Key administration in process: tenant data key rotation and its answer, the master key
//! rotation with nothing to do, the key status, and every bad request named.

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{json, Value};

#[tokio::test]
async fn a_tenant_rotation_answers_the_new_version_and_search_finds_old_and_new_reads() {
    let api = Api::new().await;
    let (status, body) = api.call("GET", "/v1/admin/tenants/t", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key_version"], 1, "{body}");
    for want in [2, 3] {
        let (status, body) = api
            .raw("POST", "/v1/admin/tenants/t/keys/rotate", String::new())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"tenant": "t", "key_version": want}));
    }
    let (status, body) = api
        .call("POST", "/v1/admin/tenants/t/keys/rotate", json!({}))
        .await;
    assert_eq!((status, &body["key_version"]), (StatusCode::OK, &json!(4)));
    let (_, body) = api.call("GET", "/v1/admin/tenants/t", Value::Null).await;
    assert_eq!(body["key_version"], 4, "{body}");

    // A read ingested now is sealed with version 4; the 20 of version 1 still open, and the
    // plate token did not change, so one search finds both.
    let read = json!([{"camera_id": "cam-2", "captured_at": "2026-11-26T11:00:00Z",
        "plate": "AB3CD", "lat": 41.88, "lon": -87.63}]);
    let (status, body) = api.call("POST", "/v1/tenants/t/reads", read).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let search = json!({"plate": "AB3CD", "case_number": "K-1", "reason": "test",
        "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"});
    let (status, body) = api
        .call("POST", "/v1/tenants/t/search/plates", search)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2, "{body}");
    let cameras: Vec<&str> = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["camera_id"].as_str())
        .collect();
    assert_eq!(cameras, ["cam-2", "cam-1"], "{body}");
    let engine = api.state.engine();
    let tenant = engine.tenant("t").unwrap().id;
    let mut versions = std::collections::BTreeMap::new();
    engine
        .for_each_raw(sightline_storage::keys::cf::READS, |k, v| {
            if k[..4] == tenant.to_be_bytes() {
                let version = sightline_storage::crypto::sealed_key_version(v).unwrap();
                *versions.entry(version).or_insert(0) += 1;
            }
        })
        .unwrap();
    assert_eq!(versions, [(1, 20), (4, 1)].into());
}

#[tokio::test]
async fn the_master_rotation_with_one_key_changes_nothing_and_the_status_names_it() {
    let api = Api::new().await;
    let (status, body) = api.call("GET", "/v1/admin/keys", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let master = body["master_key"].as_str().unwrap().to_string();
    assert_eq!(master.len(), 16, "{body}");
    assert_eq!(body["cluster_master_key"], json!(master), "{body}");
    assert_eq!(body["previous_master_keys"], json!([]), "{body}");
    let slots: Vec<&str> = body["wrapped_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(k["master_key"], json!(master), "{k}");
            k["slot"].as_str().unwrap()
        })
        .collect();
    // The harness mints tokens, so the cluster has a signing key too.
    assert_eq!(
        slots,
        ["tenant/t/key/0", "tenant/t/key/1", "auth/signing-key"]
    );
    let (status, body) = api
        .raw("POST", "/v1/admin/keys/rotate-master", String::new())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"master_key": master, "rewrapped": 3, "changed": false})
    );
}

#[tokio::test]
async fn bad_key_requests_are_named() {
    let api = Api::new().await;
    let (status, body) = api
        .raw(
            "POST",
            "/v1/admin/tenants/nobody/keys/rotate",
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "tenant_not_found");
    for path in [
        "/v1/admin/tenants/t/keys/rotate",
        "/v1/admin/keys/rotate-master",
    ] {
        let (status, body) = api.call("POST", path, json!({"version": 9})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["details"][0]["field"], "version", "{body}");
        let (status, body) = api.raw("POST", path, "{".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_json", "{body}");
    }
    let (_, body) = api.call("GET", "/v1/admin/tenants/t", Value::Null).await;
    assert_eq!(body["key_version"], 1, "nothing was rotated: {body}");
}
