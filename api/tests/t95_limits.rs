//! Issue 15, acceptance 6 (in process): a token over its ingest rate gets 429 with
//! `Retry-After` and nothing written, while another tenant's token is unaffected; an
//! oversized body gets 413 and nothing is written; a token holds at most its cap of open
//! alert streams.

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{json, Value};
use sightline_api::auth::Role;
use sightline_api::limits::LimitConfig;

fn batch(n: usize, plate: &str) -> String {
    let reads: Vec<Value> = (0..n)
        .map(|i| {
            json!({"camera_id": "cam-1", "captured_at": "2026-11-26T10:00:00Z",
            "plate": format!("{plate}{i}"), "lat": 41.88, "lon": -87.63})
        })
        .collect();
    Value::Array(reads).to_string()
}

async fn total(api: &Api, tenant: &str, plate: &str) -> u64 {
    let (status, page) = api
        .call(
            "POST",
            &format!("/v1/tenants/{tenant}/search/plates"),
            json!({"plate": format!("{plate}*"), "match": "wildcard", "case_number": "c", "reason": "r"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_token_over_its_ingest_rate_gets_429_and_others_are_unaffected() {
    let limits = LimitConfig {
        ingest_records_per_s: 10,
        searches_per_s: 0,
        ..LimitConfig::default()
    };
    let api = Api::with_limits(false, sightline_api::space::SpaceGuard::disabled(), limits).await;
    api.call("PUT", "/v1/admin/tenants/u", json!({})).await;
    // Fresh tokens: the set-up's ingest token has spent its own budget.
    let key = api.state.engine().signing_key().unwrap();
    let fresh = |tenant: &str| {
        let (token, _) = sightline_api::auth::issue(&key, "rl", tenant, Role::Ingest, Some(60_000));
        format!("Bearer {token}")
    };
    let (a, b) = (fresh("t"), fresh("u"));
    let post = |bearer: String, tenant: &'static str, body: String| {
        let api = &api;
        async move {
            api.with_headers(
                "POST",
                &format!("/v1/tenants/{tenant}/reads"),
                &[("authorization", &bearer)],
                body,
            )
            .await
        }
    };
    // The burst (20 records) passes, the next batch does not.
    let (status, answer) = post(a.clone(), "t", batch(20, "RL")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = post(a.clone(), "t", batch(5, "RX")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["error"]["code"], "rate_limited");
    assert_eq!(
        total(&api, "t", "RX").await,
        0,
        "a refused batch wrote nothing"
    );
    // Another tenant's token has its own budget.
    let (status, answer) = post(b.clone(), "u", batch(20, "RB")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // A batch larger than the burst can never pass: 413 naming the bound.
    let (status, answer) = post(b, "u", batch(21, "RY")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
}

#[tokio::test]
async fn retry_after_is_sent_with_429() {
    let limits = LimitConfig {
        ingest_records_per_s: 0,
        searches_per_s: 1,
        ..LimitConfig::default()
    };
    let api = Api::with_limits(false, sightline_api::space::SpaceGuard::disabled(), limits).await;
    let bearer = format!("Bearer {}", api.token("t", Role::Investigator));
    let body = json!({"plate": "AB1CD", "case_number": "c", "reason": "r"}).to_string();
    let mut limited = None;
    for _ in 0..5 {
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/v1/tenants/t/search/plates")
            .header("content-type", "application/json")
            .header("authorization", &bearer)
            .body(axum::body::Body::from(body.clone()))
            .unwrap();
        let response = api.respond(request).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = response.headers().get("retry-after").cloned();
            break;
        }
    }
    let retry = limited.expect("a 429 within five searches at 1/s");
    assert!(retry.to_str().unwrap().parse::<u64>().unwrap() >= 1);
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_nothing_is_written() {
    let api = Api::new().await;
    let huge = batch(1, "BIG") + &" ".repeat(sightline_api::MAX_BODY_BYTES);
    let (status, answer) = api.raw("POST", "/v1/tenants/t/reads", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error"]["code"], "payload_too_large");
    assert_eq!(total(&api, "t", "BIG").await, 0);
}

/// A token holds at most `alert_streams_per_token` open alert streams: the next one answers
/// 429 with `Retry-After`, another token of the same tenant is unaffected, and closing a
/// stream frees its place.
#[tokio::test]
async fn a_token_holds_at_most_its_cap_of_alert_streams() {
    let limits = LimitConfig {
        alert_streams_per_token: 2,
        ..LimitConfig::default()
    };
    let api = Api::with_limits(false, sightline_api::space::SpaceGuard::disabled(), limits).await;
    let key = api.state.engine().signing_key().unwrap();
    let token = |subject: &str| {
        sightline_api::auth::issue(&key, subject, "t", Role::Investigator, Some(60_000)).0
    };
    let (first, second) = (token("det. a"), token("det. b"));
    let open = |token: &str| {
        let request = axum::http::Request::builder()
            .method("GET")
            .uri("/v1/tenants/t/alerts")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        api.respond(request)
    };
    let a = open(&first).await;
    let b = open(&first).await;
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let refused = open(&first).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().get("retry-after").is_some());
    let other = open(&second).await;
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another token is unaffected"
    );
    drop(a);
    let again = open(&first).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a closed stream frees its place"
    );
    drop((b, other, again));
}
