//! The audit store in process: searches, admin actions and denied requests become entries
//! with the right fields, `GET /v1/admin/audit` shows them with their chain to an auditor
//! of the tenant or an admin only, `verify` recomputes the chain, and no stored byte holds
//! a plate, a case number or a reason in the clear.

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::Value;
use sightline_api::audit::{self, Terms};
use sightline_api::auth::{self, Principal, Role};
use sightline_api::tokens::{ensure_signing_key, mint};

const PLATE: &str = "7QXZ417";
const CASE: &str = "CASE-2026-7781";
const REASON: &str = "armed robbery suspect vehicle";

struct Tokens {
    investigator: (String, Principal),
    auditor: String,
    other_auditor: String,
    admin: String,
}

async fn setup() -> (Api, Tokens) {
    let api = Api::new().await;
    let (status, body) = api
        .call(
            "PUT",
            "/v1/admin/tenants/other",
            serde_json::json!({"retention_days": 30}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    ensure_signing_key(&api.state).await.unwrap();
    let key = api.state.engine().signing_key().unwrap();
    let token = |sub: &str, tenant: &str, role| {
        mint(&api.state, sub, tenant, role, Some(3_600_000))
            .unwrap()
            .0
    };
    let investigator = token("det. alice", "t", Role::Investigator);
    let principal = auth::verify(&key, &investigator, auth::now_ms()).unwrap();
    let tokens = Tokens {
        investigator: (investigator, principal),
        auditor: token("aud. bob", "t", Role::Auditor),
        other_auditor: token("aud. eve", "other", Role::Auditor),
        admin: token("ops", "*", Role::Admin),
    };
    (api, tokens)
}

/// GETs `path` with `token` (`None`: no token at all).
async fn get(api: &Api, token: Option<&str>, path: &str) -> (StatusCode, Value) {
    let bearer = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
    api.with_headers("GET", path, &[("authorization", &bearer)], String::new())
        .await
}

/// The seq the next entry of `log` gets (the set-up's own requests are audited too).
fn next_seq(api: &Api, log: u32) -> u64 {
    api.state
        .engine()
        .audit_chain(log)
        .unwrap()
        .map_or(0, |c| c.next_seq)
}

/// Every entry of `tenant`'s log, following cursors, `limit` per page.
async fn all_entries(api: &Api, token: &str, tenant: &str, extra: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/v1/admin/audit?tenant={tenant}&limit=2{extra}{cursor}");
        let (status, body) = get(api, Some(token), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        out.extend(body["entries"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return out,
        }
    }
}

#[tokio::test]
async fn entries_hold_the_fields_chain_and_verify_and_hold_no_plaintext() {
    let (api, tokens) = setup().await;
    let engine = api.state.engine();
    let tenant = engine.tenant("t").unwrap();
    let caller = &tokens.investigator.1;
    let plate_token = audit::token_of(&engine, tenant.id, PLATE).unwrap();
    let (base, cluster_base) = (next_seq(&api, tenant.id), next_seq(&api, 0));
    for hits in [3, 0, 12] {
        let terms = Terms {
            kind: "plates",
            r#match: Some("exact"),
            plate_token: Some(plate_token.clone()),
            cameras: vec!["cam-1".into()],
            from: Some(1_000),
            to: Some(2_000),
            ..Terms::default()
        };
        audit::search(&api.state, caller, "t", &terms, CASE, REASON, hits)
            .await
            .unwrap();
    }
    // A denied request in t (no token), an admin action and a request for a tenant that
    // does not exist (both in the cluster log).
    audit::request(
        &api.state,
        None,
        Some("t"),
        "POST /v1/tenants/{tenant}/search/plates",
        401,
    )
    .await;
    let key = engine.signing_key().unwrap();
    let admin = auth::verify(&key, &tokens.admin, auth::now_ms()).unwrap();
    audit::request(
        &api.state,
        Some(&admin),
        None,
        "PUT /v1/admin/tenants/{tenant}",
        200,
    )
    .await;
    audit::request(
        &api.state,
        Some(caller),
        Some("nope"),
        "GET /v1/tenants/{tenant}/alerts",
        403,
    )
    .await;

    // The log holds the set-up's own requests first (an admin creating the tenant): the
    // whole chain links, and this test's entries follow from `base` on.
    let all = all_entries(&api, &tokens.auditor, "t", "").await;
    assert_eq!(all[0]["seq"], 0);
    assert_eq!(all[0]["prev_hash"], "0".repeat(64));
    for pair in all.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "{pair:#?}");
        let next = pair[0]["seq"].as_u64().map(|s| s + 1);
        assert_eq!(pair[1]["seq"].as_u64(), next);
    }
    let entries: Vec<Value> = all
        .iter()
        .filter(|e| e["seq"].as_u64() >= Some(base))
        .cloned()
        .collect();
    assert_eq!(entries.len(), 4, "{entries:#?}");
    let first = &entries[0];
    assert_eq!(first["seq"], base);
    assert_eq!(first["subject"], "det. alice");
    assert_eq!(first["token_id"], caller.claims.jti.as_str());
    assert_eq!(first["role"], "investigator");
    assert_eq!(first["tenant"], "t");
    assert_eq!(first["action"], "search.plates");
    assert_eq!(first["case_number"], CASE);
    assert_eq!(first["reason"], REASON);
    assert_eq!(first["hits"], 3);
    assert_eq!(first["outcome"], 200);
    assert_eq!(first["terms"]["plate_token"], plate_token.as_str());
    assert_eq!(first["terms"]["cameras"][0], "cam-1");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(entries[1]["hits"], 0);
    let denied = &entries[3];
    assert_eq!(
        (denied["subject"].clone(), denied["outcome"].clone()),
        (Value::Null, 401.into())
    );
    // Newest first gives the same entries reversed.
    let mut newest = all_entries(&api, &tokens.auditor, "t", "&order=newest").await;
    newest.reverse();
    assert_eq!(newest, all);

    // The cluster log: the admin action and the request for an unknown tenant (then the
    // admin's own reads of the audit log, which are admin requests too).
    let cluster = all_entries(&api, &tokens.admin, "_cluster", "").await;
    let actions: Vec<_> = cluster
        .iter()
        .filter(|e| e["seq"].as_u64() >= Some(cluster_base))
        .take(2)
        .map(|e| (e["action"].clone(), e["tenant"].clone()))
        .collect();
    assert_eq!(
        actions,
        [
            ("PUT /v1/admin/tenants/{tenant}".into(), Value::Null),
            ("GET /v1/tenants/{tenant}/alerts".into(), "nope".into())
        ]
    );

    // Verification, by the auditor for t, by the admin for every log.
    let (status, body) = get(
        &api,
        Some(&tokens.auditor),
        "/v1/admin/audit/verify?tenant=t",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["logs"][0]["entries"], all.len());
    assert_eq!(body["logs"][0]["head_hash"], entries[3]["hash"]);
    let (status, body) = get(&api, Some(&tokens.admin), "/v1/admin/audit/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true);
    let names: Vec<&str> = body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["tenant"].as_str())
        .collect();
    assert_eq!(names, ["_cluster", "t", "other"], "by log id: {body}");

    // No plate, case number or reason in any file of the engine (WAL and SSTs).
    engine.flush().unwrap();
    let mut found = Vec::new();
    scan(api.dir(), &mut found);
    assert!(found.is_empty(), "in the clear on disk: {found:?}");
}

fn scan(dir: &std::path::Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, found);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for needle in [PLATE, CASE, REASON, "det. alice"] {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{needle:?} in {}", path.display()));
            }
        }
    }
}

#[tokio::test]
async fn only_an_auditor_of_the_tenant_or_an_admin_reads_its_log() {
    let (api, tokens) = setup().await;
    let caller = &tokens.investigator.1;
    audit::search(
        &api.state,
        caller,
        "t",
        &Terms {
            kind: "area",
            ..Terms::default()
        },
        CASE,
        REASON,
        1,
    )
    .await
    .unwrap();
    for path in [
        "/v1/admin/audit?tenant=t",
        "/v1/admin/audit/verify?tenant=t",
    ] {
        assert_eq!(
            get(&api, None, path).await.0,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        assert_eq!(
            get(&api, Some("sl1.garbage.x"), path).await.0,
            StatusCode::UNAUTHORIZED
        );
        for token in [&tokens.other_auditor, &tokens.investigator.0] {
            let (status, body) = get(&api, Some(token), path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        }
        for token in [&tokens.auditor, &tokens.admin] {
            assert_eq!(
                get(&api, Some(token), path).await.0,
                StatusCode::OK,
                "{path}"
            );
        }
    }
    // The cluster log and verifying every log need a token for every tenant.
    for path in ["/v1/admin/audit?tenant=_cluster", "/v1/admin/audit/verify"] {
        assert_eq!(
            get(&api, Some(&tokens.auditor), path).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(get(&api, Some(&tokens.admin), path).await.0, StatusCode::OK);
    }
    // An auditor of the other tenant sees only its (empty) log.
    let (status, body) = get(
        &api,
        Some(&tokens.other_auditor),
        "/v1/admin/audit?tenant=other",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let entries = body["entries"].as_array().unwrap();
    assert!(entries.iter().all(|e| e["tenant"] == "other"), "{body}");
    assert!(!entries.iter().any(|e| e["case_number"] == CASE), "{body}");
}

#[tokio::test]
async fn bad_parameters_are_named() {
    let (api, tokens) = setup().await;
    let cases = [
        ("/v1/admin/audit", "tenant"),
        ("/v1/admin/audit?tenant=t&limit=0", "limit"),
        ("/v1/admin/audit?tenant=t&limit=x", "limit"),
        ("/v1/admin/audit?tenant=t&order=up", "order"),
        ("/v1/admin/audit?tenant=t&from=yesterday", "from"),
        ("/v1/admin/audit?tenant=t&from=now&to=now-1d", "from"),
        ("/v1/admin/audit?tenant=t&cursor=abc", "cursor"),
        ("/v1/admin/audit?tenant=t&bogus=1", "bogus"),
        ("/v1/admin/audit?tenant=t&tenant=t", "tenant"),
        ("/v1/admin/audit/verify?tenant=t&limit=1", "limit"),
    ];
    for (path, field) in cases {
        let (status, body) = get(&api, Some(&tokens.admin), path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(common::fields(&body), [field], "{path}: {body}");
    }
    // A cursor of another log is refused.
    let caller = &tokens.investigator.1;
    for _ in 0..3 {
        audit::search(
            &api.state,
            caller,
            "t",
            &Terms {
                kind: "area",
                ..Terms::default()
            },
            CASE,
            REASON,
            1,
        )
        .await
        .unwrap();
    }
    let (_, body) = get(
        &api,
        Some(&tokens.admin),
        "/v1/admin/audit?tenant=t&limit=1",
    )
    .await;
    let cursor = body["next_cursor"].as_str().unwrap();
    let path = format!("/v1/admin/audit?tenant=other&cursor={cursor}");
    let (status, body) = get(&api, Some(&tokens.admin), &path).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_cursor");
    let (status, _) = get(&api, Some(&tokens.admin), "/v1/admin/audit?tenant=nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn searches_and_refusals_over_http_are_audited_before_the_answer() {
    let (api, tokens) = setup().await;
    let tenant = api.state.engine().tenant("t").unwrap();
    let base = next_seq(&api, tenant.id);
    let body = serde_json::json!({"plate": "AB1CD", "case_number": CASE, "reason": REASON});
    let bearer = format!("Bearer {}", tokens.investigator.0);
    let path = "/v1/tenants/t/search/plates";
    let (status, page) = api
        .with_headers(
            "POST",
            path,
            &[("authorization", &bearer)],
            body.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // Committed before the answer: it is in the engine already.
    assert_eq!(next_seq(&api, tenant.id), base + 1);
    let (status, _) = api
        .with_headers("POST", path, &[("authorization", "")], body.to_string())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other = format!("Bearer {}", api.token("other", Role::Investigator));
    let (status, _) = api
        .with_headers("POST", path, &[("authorization", &other)], body.to_string())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let entries: Vec<Value> = all_entries(&api, &tokens.auditor, "t", "")
        .await
        .into_iter()
        .filter(|e| e["seq"].as_u64() >= Some(base))
        .collect();
    let summary: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["subject"].clone(),
                e["outcome"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("search.plates".into(), "det. alice".into(), 200.into()),
            (
                "POST /v1/tenants/{tenant}/search/plates".into(),
                Value::Null,
                401.into()
            ),
            (
                "POST /v1/tenants/{tenant}/search/plates".into(),
                "api-tests".into(),
                403.into()
            ),
        ]
    );
    assert_eq!(entries[0]["hits"], page["total"]);
    assert_eq!(entries[0]["terms"]["match"], "exact");
    let token = audit::token_of(&api.state.engine(), tenant.id, "AB1CD").unwrap();
    assert_eq!(entries[0]["terms"]["plate_token"], token.as_str());
}
