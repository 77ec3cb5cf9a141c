//! Token administration in process: who may mint and revoke, what a bad request names, and
//! that a minted token verifies while a forged, expired or revoked one is refused (401).

mod common;

use axum::http::StatusCode;
use common::{fields, Api};
use serde_json::{json, Value};
use sightline_api::auth::{self, Role};
use sightline_api::tokens::{ensure_signing_key, mint};

async fn api_with_admin() -> (Api, String) {
    let api = Api::new().await;
    ensure_signing_key(&api.state).await.unwrap();
    let (admin, _) = mint(&api.state, "root", "*", Role::Admin, None).unwrap();
    (api, admin)
}

async fn post_token(api: &Api, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map_or(vec![("authorization", "")], |b| vec![("authorization", b)]);
    api.with_headers("POST", "/v1/admin/tokens", &headers, body.to_string())
        .await
}

fn good_request() -> Value {
    json!({"subject": "det. alice", "tenant": "t", "role": "investigator", "ttl": "1h"})
}

#[tokio::test]
async fn an_admin_mints_a_token_that_verifies_with_its_claims() {
    let (api, admin) = api_with_admin().await;
    let (status, body) = post_token(&api, Some(&admin), good_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["id"].as_str().unwrap().len(), 32);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let key = api.state.engine().signing_key().unwrap();
    let principal = auth::verify(&key, token, auth::now_ms()).unwrap();
    assert_eq!(principal.claims.sub, "det. alice");
    assert_eq!(principal.claims.tenant, "t");
    assert_eq!(principal.claims.role, Role::Investigator);
    assert_eq!(principal.claims.jti, body["id"].as_str().unwrap());
    let exp = principal.claims.exp.unwrap();
    let expect = auth::now_ms() + 3_600_000;
    assert!(
        (expect - 5_000..=expect).contains(&exp),
        "{exp} vs {expect}"
    );
}

#[tokio::test]
async fn no_token_is_401_a_wrong_role_is_403() {
    let (api, admin) = api_with_admin().await;
    let (status, body) = post_token(&api, None, good_request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    for role in [
        Role::Ingest,
        Role::Investigator,
        Role::Analyst,
        Role::Auditor,
    ] {
        let (token, _) = mint(&api.state, "bob", "*", role, Some(60_000)).unwrap();
        let (status, body) = post_token(&api, Some(&token), good_request()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // The admin token itself is fine.
    assert_eq!(
        post_token(&api, Some(&admin), good_request()).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn forged_and_expired_tokens_are_401() {
    let (api, admin) = api_with_admin().await;
    // Signed by another key.
    let claims = auth::Claims {
        sub: "mallory".into(),
        tenant: "*".into(),
        role: Role::Admin,
        jti: auth::new_token_id(),
        iat: 0,
        exp: None,
    };
    let forged = auth::sign(&[9; 32], &claims);
    // The admin token with its last signature character changed.
    let mut altered = admin.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let (expired, _) = mint(&api.state, "old", "*", Role::Admin, Some(1)).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    for (what, token) in [
        ("forged", forged.as_str()),
        ("altered", &altered),
        ("expired", &expired),
        ("garbage", "not-a-token"),
    ] {
        let (status, body) = post_token(&api, Some(token), good_request()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert!(
            !body.to_string().contains(token),
            "{what}: the answer echoes the token"
        );
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused_from_then_on() {
    let (api, admin) = api_with_admin().await;
    let (status, body) = post_token(
        &api,
        Some(&admin),
        json!({"subject": "ops", "tenant": "*", "role": "admin", "ttl": "1h"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (second, id) = (
        body["token"].as_str().unwrap().to_string(),
        body["id"].as_str().unwrap().to_string(),
    );
    assert_eq!(
        post_token(&api, Some(&second), good_request()).await.0,
        StatusCode::CREATED
    );
    let bearer = format!("Bearer {admin}");
    let (status, body) = api
        .with_headers(
            "DELETE",
            &format!("/v1/admin/tokens/{id}"),
            &[("authorization", &bearer)],
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["already_revoked"], false);
    let (status, body) = post_token(&api, Some(&second), good_request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    // Revoking again is fine; a bad id names the field.
    let (status, body) = api
        .with_headers(
            "DELETE",
            &format!("/v1/admin/tokens/{id}"),
            &[("authorization", &bearer)],
            String::new(),
        )
        .await;
    assert_eq!(
        (status, &body["already_revoked"]),
        (StatusCode::OK, &json!(true))
    );
    let (status, body) = api
        .with_headers(
            "DELETE",
            "/v1/admin/tokens/xyz",
            &[("authorization", &bearer)],
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(fields(&body), ["id"]);
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let (api, admin) = api_with_admin().await;
    let with = |field: &str, value: Value| {
        let mut body = good_request();
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("subject", json!("")), "subject"),
        (with("role", json!("superuser")), "role"),
        (with("tenant", json!("Not A Tenant")), "tenant"),
        (with("ttl", json!("forever")), "ttl"),
        (with("ttl", json!("0h")), "ttl"),
        (with("ttl", json!("25h")), "ttl"),
        (with("extra", json!(1)), "extra"),
        (
            json!({"tenant": "t", "role": "admin", "ttl": "1h"}),
            "subject",
        ),
    ] {
        let (status, answer) = post_token(&api, Some(&admin), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(fields(&answer), [field], "{body}: {answer}");
    }
    let (status, answer) = post_token(&api, Some(&admin), with("tenant", json!("nope"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["error"]["code"], "tenant_not_found");
}

#[tokio::test]
async fn the_signing_key_is_replicated_state_and_set_once() {
    let (api, _) = api_with_admin().await;
    let key = api.state.engine().signing_key().unwrap();
    // A second key proposed later is rejected: every issued token stays valid.
    let wrapped = sightline_storage::keyring::generate_signing_key(api.state.engine().master_key());
    let outcome = api
        .state
        .cluster
        .propose(sightline_storage::Command::SetSigningKey { wrapped })
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        sightline_storage::ApplyOutcome::Rejected { .. }
    ));
    assert_eq!(api.state.engine().signing_key(), Some(key));
}
