//! Issue 15, acceptance 1: every route of the router (its table, `routes::ENDPOINTS`, is
//! what the router is built from) × every role × a token for the route's tenant, for another
//! tenant and for every tenant (`*`) × no, expired, forged, revoked and valid token answers
//! exactly as api.md says: 401 without a good token, 403 for a role or tenant the route's
//! rule does not admit, 2xx otherwise. A route without a sample request here fails the test.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::Api;
use serde_json::{json, Value};
use sightline_api::auth::{self, Role};
use sightline_api::routes::{Access, ENDPOINTS};
use sightline_storage::Command;

/// The token kinds every route is called with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    None,
    Expired,
    Forged,
    Revoked,
    Valid,
}

/// A request to run before the sample: (method, path, body).
type Setup = (&'static str, String, Value);

/// A request that succeeds on each route for a caller the rule admits, on tenant `t` (20
/// reads of `AB{i}CD` at cam-1 on 2026-11-26), with a request to run first, if any.
fn sample(method: &Method, template: &str) -> Option<(String, Value, Option<Setup>)> {
    let search = |extra: Value| {
        let mut body = json!({"case_number": "2026-1", "reason": "access test"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    let circle = json!({"circle": {"lat": 41.88, "lon": -87.63, "radius_m": 500}});
    let day = json!({"from": "2026-11-26T00:00:00Z", "to": "2026-11-27T00:00:00Z"});
    let put_hotlist = |name: &str| {
        Some((
            "PUT",
            format!("/v1/tenants/t/hotlists/{name}"),
            json!({"plates": ["AB1CD"]}),
        ))
    };
    let s = |path: &str, body: Value| Some((path.to_string(), body, None));
    match (method.as_str(), template) {
        ("GET", "/healthz") => s("/healthz", Value::Null),
        ("GET", "/readyz") => s("/readyz", Value::Null),
        ("GET", "/metrics") => s("/metrics", Value::Null),
        ("PUT", "/v1/admin/tenants/{tenant}") => {
            s("/v1/admin/tenants/t", json!({"retention_days": 30}))
        }
        ("GET", "/v1/admin/tenants/{tenant}") => s("/v1/admin/tenants/t", Value::Null),
        ("POST", "/v1/admin/tenants/{tenant}/keys/rotate") => {
            s("/v1/admin/tenants/t/keys/rotate", Value::Null)
        }
        ("GET", "/v1/admin/tenants/{tenant}/grants") => {
            s("/v1/admin/tenants/t/grants", Value::Null)
        }
        ("PUT", "/v1/admin/tenants/{tenant}/grants/{grantee}") => s(
            "/v1/admin/tenants/t/grants/u",
            json!({"kinds": ["reads"], "expires_at": "now+1d"}),
        ),
        ("DELETE", "/v1/admin/tenants/{tenant}/grants/{grantee}") => Some((
            "/v1/admin/tenants/t/grants/u".into(),
            Value::Null,
            Some((
                "PUT",
                "/v1/admin/tenants/t/grants/u".into(),
                json!({"kinds": ["reads"], "expires_at": "now+1d"}),
            )),
        )),
        ("GET", "/v1/admin/keys") => s("/v1/admin/keys", Value::Null),
        ("POST", "/v1/admin/keys/rotate-master") => s("/v1/admin/keys/rotate-master", Value::Null),
        ("POST", "/v1/admin/compact") => s("/v1/admin/compact", Value::Null),
        ("GET", "/v1/admin/checksum") => s("/v1/admin/checksum", Value::Null),
        ("POST", "/v1/admin/faults") => s("/v1/admin/faults", json!({"clear": true})),
        ("GET", "/v1/admin/cluster") => s("/v1/admin/cluster", Value::Null),
        ("POST", "/v1/admin/cluster/nodes") => s(
            "/v1/admin/cluster/nodes",
            json!({"id": 9, "addr": "127.0.0.1:1"}),
        ),
        ("DELETE", "/v1/admin/cluster/nodes/{id}") => s("/v1/admin/cluster/nodes/9", Value::Null),
        ("POST", "/v1/admin/tokens") => s(
            "/v1/admin/tokens",
            json!({"subject": "s", "tenant": "t", "role": "investigator", "ttl": "1h"}),
        ),
        ("DELETE", "/v1/admin/tokens/{id}") => s(
            &format!("/v1/admin/tokens/{}", "ab".repeat(16)),
            Value::Null,
        ),
        ("GET", "/v1/admin/audit") => s("/v1/admin/audit?tenant=t", Value::Null),
        ("GET", "/v1/admin/audit/verify") => s("/v1/admin/audit/verify?tenant=t", Value::Null),
        ("POST", "/v1/tenants/{tenant}/reads") => s(
            "/v1/tenants/t/reads",
            json!([{"camera_id": "cam-1", "captured_at": "2026-11-26T11:00:00Z", "plate": "ZZ1",
                "lat": 41.88, "lon": -87.63}]),
        ),
        ("POST", "/v1/tenants/{tenant}/manifests") => s(
            "/v1/tenants/t/manifests",
            json!([{"device_id": "cam-1", "kind": "image", "started_at": "2026-11-26T11:00:00Z",
                "duration_ms": 0, "object_key": "m/1.jpg", "sha256": "ab".repeat(32), "bytes": 10,
                "labels": ["car"]}]),
        ),
        ("POST", "/v1/tenants/{tenant}/series") => s(
            "/v1/tenants/t/series",
            json!([{"sensor_id": "s1", "metric": "db", "ts": "2026-11-26T11:00:00Z", "value": 1.5}]),
        ),
        ("GET", "/v1/tenants/{tenant}/hotlists") => s("/v1/tenants/t/hotlists", Value::Null),
        ("PUT", "/v1/tenants/{tenant}/hotlists/{name}") => {
            s("/v1/tenants/t/hotlists/h", json!({"plates": ["AB2CD"]}))
        }
        ("GET", "/v1/tenants/{tenant}/hotlists/{name}") => Some((
            "/v1/tenants/t/hotlists/g".into(),
            Value::Null,
            put_hotlist("g"),
        )),
        ("DELETE", "/v1/tenants/{tenant}/hotlists/{name}") => Some((
            "/v1/tenants/t/hotlists/d".into(),
            Value::Null,
            put_hotlist("d"),
        )),
        ("GET", "/v1/tenants/{tenant}/alerts") => s("/v1/tenants/t/alerts", Value::Null),
        ("POST", "/v1/tenants/{tenant}/series/query") => s("/v1/tenants/t/series/query", {
            let mut b = day.clone();
            b["sensor_id"] = "s1".into();
            b["metric"] = "db".into();
            b["step_s"] = 3600.into();
            b
        }),
        ("POST", "/v1/tenants/{tenant}/stats/reads") => s("/v1/tenants/t/stats/reads", {
            let mut b = day.clone();
            b["step_s"] = 3600.into();
            b["group_by"] = "camera".into();
            b
        }),
        ("POST", "/v1/tenants/{tenant}/search/plates") => s(
            "/v1/tenants/t/search/plates",
            search(json!({"plate": "AB1CD"})),
        ),
        ("POST", "/v1/tenants/{tenant}/search/area") => {
            s("/v1/tenants/t/search/area", search(json!({"area": circle})))
        }
        ("POST", "/v1/tenants/{tenant}/search/co-location") => s(
            "/v1/tenants/t/search/co-location",
            search(json!({"places": [{"area": circle}, {"area": circle}]})),
        ),
        ("POST", "/v1/tenants/{tenant}/search/convoy") => s(
            "/v1/tenants/t/search/convoy",
            search(json!({"plate": "AB1CD", "window_s": 60, "min_co_occurrences": 1})),
        ),
        ("POST", "/v1/tenants/{tenant}/search/frequency") => s(
            "/v1/tenants/t/search/frequency",
            search(json!({"plate": "AB1CD"})),
        ),
        ("POST", "/v1/tenants/{tenant}/search/manifests") => s(
            "/v1/tenants/t/search/manifests",
            search(json!({"q": "car"})),
        ),
        _ => None,
    }
}

/// What api.md says a valid token of `role` for `scope` gets on a route with `access`
/// whose path (or, for a handler's rule, body) names tenant `t`.
fn admitted(access: Access, role: Role, scope: &str) -> bool {
    let covers_t = scope == "t" || scope == "*";
    match access {
        Access::Public => true,
        Access::Cluster(roles) => roles.contains(&role) && scope == "*",
        Access::Tenant(roles) | Access::Handler(roles) => roles.contains(&role) && covers_t,
    }
}

async fn status(
    api: &Api,
    method: &Method,
    path: &str,
    body: &Value,
    token: Option<&str>,
) -> StatusCode {
    let mut request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    api.respond(request.body(Body::from(body)).unwrap())
        .await
        .status()
}

#[tokio::test]
async fn every_route_answers_every_role_and_token_as_api_md_says() {
    let api = Api::with_fault_injection(true).await;
    let (status_u, body) = api
        .call("PUT", "/v1/admin/tenants/u", json!({"retention_days": 30}))
        .await;
    assert!(status_u.is_success(), "{body}");
    let key = api.state.engine().signing_key().unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for endpoint in ENDPOINTS {
        let Some((path, body, setup)) = sample(&endpoint.method, endpoint.path) else {
            failures.push(format!(
                "{} {}: no sample request in this test",
                endpoint.method, endpoint.path
            ));
            continue;
        };
        for role in Role::ALL {
            for scope in ["t", "u", "*"] {
                for kind in [
                    Kind::None,
                    Kind::Expired,
                    Kind::Forged,
                    Kind::Revoked,
                    Kind::Valid,
                ] {
                    let token = match kind {
                        Kind::None => None,
                        Kind::Expired => Some(auth::issue(&key, "x", scope, role, Some(-1_000)).0),
                        Kind::Forged => {
                            Some(auth::issue(&[9; 32], "x", scope, role, Some(60_000)).0)
                        }
                        Kind::Revoked => {
                            let (token, claims) = auth::issue(&key, "x", scope, role, Some(60_000));
                            let id: [u8; 16] =
                                hex::decode(&claims.jti).unwrap().try_into().unwrap();
                            api.state
                                .cluster
                                .propose(Command::RevokeToken { id })
                                .await
                                .unwrap();
                            Some(token)
                        }
                        Kind::Valid => Some(auth::issue(&key, "x", scope, role, Some(60_000)).0),
                    };
                    let want = match (endpoint.access, kind) {
                        (Access::Public, _) => "2xx",
                        (_, Kind::Valid) if admitted(endpoint.access, role, scope) => "2xx",
                        (_, Kind::Valid) => "403",
                        _ => "401",
                    };
                    if want == "2xx" {
                        if let Some((method, setup_path, setup_body)) = &setup {
                            let (s, b) = api.call(method, setup_path, setup_body.clone()).await;
                            assert!(s.is_success(), "setup {setup_path}: {b}");
                        }
                    }
                    let got = status(&api, &endpoint.method, &path, &body, token.as_deref()).await;
                    let ok = match want {
                        "2xx" => got.is_success(),
                        "403" => got == StatusCode::FORBIDDEN,
                        _ => got == StatusCode::UNAUTHORIZED,
                    };
                    if !ok {
                        failures.push(format!(
                            "{} {} as {} of {scope:?} with a {kind:?} token: {got}, want {want}",
                            endpoint.method,
                            endpoint.path,
                            role.as_str()
                        ));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, ENDPOINTS.len() * 5 * 3 * 5);
}

#[tokio::test]
async fn a_tenant_admin_mints_for_its_own_tenant_only() {
    let api = Api::new().await;
    let own = api.token("t", Role::Admin);
    for (tenant, want) in [
        ("t", StatusCode::CREATED),
        ("u", StatusCode::FORBIDDEN),
        ("*", StatusCode::FORBIDDEN),
    ] {
        let bearer = format!("Bearer {own}");
        let (status, body) = api
            .with_headers(
                "POST",
                "/v1/admin/tokens",
                &[("authorization", &bearer)],
                json!({"subject": "s", "tenant": tenant, "role": "admin", "ttl": "1h"}).to_string(),
            )
            .await;
        assert_eq!(status, want, "{tenant}: {body}");
    }
}

#[tokio::test]
async fn a_token_for_another_tenant_gets_the_same_403_whether_it_exists_or_not() {
    let api = Api::new().await;
    let bearer = format!("Bearer {}", api.token("t", Role::Investigator));
    let body = json!({"plate": "AB1CD", "case_number": "c", "reason": "r"}).to_string();
    let mut answers = Vec::new();
    for tenant in ["u-does-not-exist", "t2"] {
        if tenant == "t2" {
            api.call("PUT", "/v1/admin/tenants/t2", json!({})).await;
        }
        answers.push(
            api.with_headers(
                "POST",
                &format!("/v1/tenants/{tenant}/search/plates"),
                &[("authorization", &bearer)],
                body.clone(),
            )
            .await,
        );
    }
    assert_eq!(answers[0].0, StatusCode::FORBIDDEN);
    assert_eq!(
        answers[0], answers[1],
        "the answers must not tell the tenants apart"
    );
}
