//! Cross-agency grants in process: bad grant bodies name their field and write nothing; a
//! search naming a tenant that granted nothing is refused exactly as one naming a tenant
//! that does not exist; under a grant, pages merged across tenants equal a brute-force
//! listing and each hit names its tenant; expiry and revocation refuse the next search;
//! each search under a grant is in both tenants' audit logs.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{fields, Api};
use serde_json::{json, Value};
use sightline_api::auth::Role;

const CASE: &str = "CASE-2026-0042";
const REASON: &str = "joint task force, stolen vehicle ring";

/// Tenants `owner`, `grantee` and `stranger`, each with reads of plates `GR1234`/`GR1235`
/// (and `stranger` with `GR1236`), at interleaved times and with some times shared.
async fn setup() -> Api {
    let api = Api::new().await;
    for tenant in ["owner", "grantee", "stranger"] {
        let (status, body) = api
            .call(
                "PUT",
                &format!("/v1/admin/tenants/{tenant}"),
                json!({"retention_days": 30}),
            )
            .await;
        assert!(status.is_success(), "{body}");
    }
    ingest(&api, "owner", 0..30, "GR1234").await;
    ingest(&api, "owner", 0..10, "GR1235").await;
    ingest(&api, "grantee", 20..45, "GR1234").await;
    ingest(&api, "stranger", 0..20, "GR1236").await;
    ingest(&api, "stranger", 0..20, "GR1234").await;
    api
}

/// Posts one read of `plate` at minute `m` of 2026-11-28 for each `m`.
async fn ingest(api: &Api, tenant: &str, minutes: std::ops::Range<u32>, plate: &str) {
    let reads: Vec<Value> = minutes
        .map(|m| {
            json!({"camera_id": format!("cam-{}", m % 3), "plate": plate,
                "captured_at": format!("2026-11-28T{:02}:{:02}:00Z", 8 + m / 60, m % 60),
                "lat": 41.88, "lon": -87.63})
        })
        .collect();
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/tenants/{tenant}/reads"),
            Value::Array(reads),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Grants `owner`'s reads to `grantee` until `expires_at`.
async fn grant_reads(
    api: &Api,
    owner: &str,
    grantee: &str,
    expires_at: &str,
) -> (StatusCode, Value) {
    grant(
        api,
        owner,
        grantee,
        json!({"kinds": ["reads"], "expires_at": expires_at}),
    )
    .await
}

/// Revokes `owner`'s grant to `grantee`.
async fn revoke(api: &Api) -> (StatusCode, Value) {
    api.call(
        "DELETE",
        "/v1/admin/tenants/owner/grants/grantee",
        json!({}),
    )
    .await
}

async fn grant(api: &Api, owner: &str, grantee: &str, body: Value) -> (StatusCode, Value) {
    api.call(
        "PUT",
        &format!("/v1/admin/tenants/{owner}/grants/{grantee}"),
        body,
    )
    .await
}

/// A plate search by an investigator of `grantee` over `tenants`.
async fn search(api: &Api, grantee: &str, mut body: Value) -> (StatusCode, Value) {
    body["case_number"] = CASE.into();
    body["reason"] = REASON.into();
    body["from"] = "2026-11-28T00:00:00Z".into();
    body["to"] = "2026-11-29T00:00:00Z".into();
    let bearer = format!("Bearer {}", api.token(grantee, Role::Investigator));
    api.with_headers(
        "POST",
        &format!("/v1/tenants/{grantee}/search/plates"),
        &[("authorization", &bearer)],
        body.to_string(),
    )
    .await
}

/// Every hit of a search, following cursors.
async fn all_hits(api: &Api, grantee: &str, body: Value) -> Vec<Value> {
    let mut hits = Vec::new();
    let mut body = body;
    loop {
        let (status, page) = search(api, grantee, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        hits.extend(page["hits"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => body["cursor"] = next.into(),
            None => return hits,
        }
    }
}

#[tokio::test]
async fn bad_grants_name_the_field_and_write_nothing() {
    let api = setup().await;
    let future = "now+1d";
    let cases = [
        (json!({"kinds": [], "expires_at": future}), "kinds"),
        (
            json!({"kinds": ["reads", "manifests"], "expires_at": future}),
            "kinds[1]",
        ),
        (
            json!({"kinds": ["reads"], "expires_at": "now-1h"}),
            "expires_at",
        ),
        (
            json!({"kinds": ["reads"], "expires_at": "now+400d"}),
            "expires_at",
        ),
        (
            json!({"kinds": ["reads"], "expires_at": "soon"}),
            "expires_at",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = grant(&api, "owner", "grantee", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(fields(&answer), [field], "{body}: {answer}");
    }
    let (status, answer) = grant(
        &api,
        "owner",
        "grantee",
        json!({"kinds": ["reads"], "expires_at": future, "scope": "all"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("scope"));
    let (status, answer) = grant(
        &api,
        "owner",
        "owner",
        json!({"kinds": ["reads"], "expires_at": future}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(fields(&answer), ["grantee"]);
    let (status, answer) = grant(
        &api,
        "owner",
        "nope",
        json!({"kinds": ["reads"], "expires_at": future}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = revoke(&api).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["error"]["code"], "not_found");

    let (status, listed) = api
        .call("GET", "/v1/admin/tenants/owner/grants", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["grants"], json!([]), "nothing written: {listed}");
}

#[tokio::test]
async fn no_grant_is_refused_like_no_tenant() {
    let api = setup().await;
    let body = |tenant: &str| json!({"plate": "GR1234", "tenants": [tenant]});
    let (status, ungranted) = search(&api, "grantee", body("owner")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{ungranted}");
    let (status, missing) = search(&api, "grantee", body("no-such-agency")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{missing}");
    assert_eq!(
        ungranted, missing,
        "the answer must not tell which tenants exist"
    );
    assert_eq!(fields(&ungranted), ["tenants[0]"]);
    assert_eq!(ungranted["error"]["code"], "forbidden");

    // A grant to someone else is no grant to this tenant.
    let (status, answer) = grant_reads(&api, "owner", "stranger", "now+1d").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, still) = search(&api, "grantee", body("owner")).await;
    assert_eq!((status, &still), (StatusCode::FORBIDDEN, &missing));

    let many: Vec<String> = (0..17).map(|i| format!("agency-{i}")).collect();
    let (status, answer) =
        search(&api, "grantee", json!({"plate": "GR1234", "tenants": many})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(fields(&answer), ["tenants"]);

    // A token of one tenant cannot search as another by naming it in the path.
    let bearer = format!("Bearer {}", api.token("grantee", Role::Investigator));
    let (status, _) = api
        .with_headers(
            "POST",
            "/v1/tenants/owner/search/plates",
            &[("authorization", &bearer)],
            json!({"plate": "GR1234", "case_number": CASE, "reason": REASON}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn merged_pages_equal_brute_force_and_name_their_tenant() {
    let api = setup().await;
    let (status, answer) = grant_reads(&api, "owner", "grantee", "now+30d").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["active"], true);
    assert_eq!(answer["replaced"], false);

    // Brute force: each tenant's own search, one page of everything.
    let mut expected = BTreeSet::new();
    for (tenant, body) in [
        (
            "owner",
            json!({"plate": "GR123?", "match": "wildcard", "limit": 1000}),
        ),
        (
            "grantee",
            json!({"plate": "GR123?", "match": "wildcard", "limit": 1000}),
        ),
    ] {
        let (status, page) = search(&api, tenant, body).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for hit in page["hits"].as_array().unwrap() {
            expected.insert((tenant.to_string(), hit["id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(expected.len(), 30 + 10 + 25);

    for limit in [1, 7, 64] {
        let body = json!({"plate": "GR123?", "match": "wildcard", "limit": limit,
            "tenants": ["owner"]});
        let (status, first) = search(&api, "grantee", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(first["total"], 65, "{first}");
        assert_eq!(first["total_relation"], "eq");
        let hits = all_hits(&api, "grantee", body).await;
        let got: Vec<(String, String)> = hits
            .iter()
            .map(|h| {
                (
                    h["tenant"].as_str().unwrap().to_string(),
                    h["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let unique: BTreeSet<_> = got.iter().cloned().collect();
        assert_eq!(unique.len(), got.len(), "limit {limit}: a hit twice");
        assert_eq!(unique, expected, "limit {limit}");
        let times: Vec<&str> = hits
            .iter()
            .map(|h| h["captured_at"].as_str().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "limit {limit}: not newest first: {times:?}"
        );
    }

    // Exact plate search too, and the stranger's GR1234 reads never appear.
    let hits = all_hits(
        &api,
        "grantee",
        json!({"plate": "GR1234", "limit": 10, "tenants": ["owner", "grantee"]}),
    )
    .await;
    assert_eq!(hits.len(), 30 + 25);
    assert!(hits
        .iter()
        .all(|h| h["tenant"] == "owner" || h["tenant"] == "grantee"));
    assert_eq!(hits.iter().filter(|h| h["tenant"] == "owner").count(), 30);

    // Area search under the grant.
    let bearer = format!("Bearer {}", api.token("grantee", Role::Investigator));
    let (status, page) = api
        .with_headers(
            "POST",
            "/v1/tenants/grantee/search/area",
            &[("authorization", &bearer)],
            json!({"area": {"circle": {"lat": 41.88, "lon": -87.63, "radius_m": 100}},
                "from": "2026-11-28T00:00:00Z", "to": "2026-11-29T00:00:00Z",
                "limit": 1000, "tenants": ["owner"], "case_number": CASE, "reason": REASON})
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["hits"].as_array().unwrap().len(), 65, "{page}");
}

#[tokio::test]
async fn expiry_and_revocation_refuse_the_next_search() {
    let api = setup().await;
    let body = json!({"plate": "GR1235", "tenants": ["owner"]});
    let (status, answer) = grant_reads(&api, "owner", "grantee", "now+2s").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, page) = search(&api, "grantee", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 10);
    let expires_at = answer["expires_at"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let (status, refused) = search(&api, "grantee", body.clone()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "expired at {expires_at}: {refused}"
    );
    let (_, listed) = api
        .call("GET", "/v1/admin/tenants/owner/grants", Value::Null)
        .await;
    assert_eq!(listed["grants"][0]["active"], false, "{listed}");
    assert_eq!(listed["grants"][0]["grantee"], "grantee");

    // Renewed (a replacement answers 200), then revoked.
    let (status, answer) = grant_reads(&api, "owner", "grantee", "now+1h").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["replaced"], true);
    let (status, _) = search(&api, "grantee", body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = revoke(&api).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = search(&api, "grantee", body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = revoke(&api).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The entries of `tenant`'s audit log for searches, oldest first.
async fn searches_in_log(api: &Api, tenant: &str) -> Vec<Value> {
    let bearer = format!("Bearer {}", api.token(tenant, Role::Auditor));
    let (status, body) = api
        .with_headers(
            "GET",
            &format!("/v1/admin/audit?tenant={tenant}&limit=1000"),
            &[("authorization", &bearer)],
            String::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap_or("").starts_with("search."))
        .cloned()
        .collect()
}

#[tokio::test]
async fn each_search_under_a_grant_is_in_both_logs() {
    let api = setup().await;
    let (status, answer) = grant_reads(&api, "owner", "grantee", "now+1d").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, page) = search(
        &api,
        "grantee",
        json!({"plate": "GR1235", "tenants": ["owner"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, page) = search(
        &api,
        "grantee",
        json!({"plate": "GR1234", "tenants": ["owner"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");

    let mine = searches_in_log(&api, "grantee").await;
    let theirs = searches_in_log(&api, "owner").await;
    assert_eq!(mine.len(), 2, "{mine:#?}");
    assert_eq!(theirs.len(), 2, "{theirs:#?}");
    for (entry, hits) in mine.iter().zip([10, 55]) {
        assert_eq!(entry["tenant"], "grantee");
        assert_eq!(entry["terms"]["tenants"], json!(["owner"]), "{entry}");
        assert_eq!(entry["hits"], hits, "{entry}");
        assert_eq!(entry["case_number"], CASE);
        assert_eq!(entry["reason"], REASON);
    }
    for (entry, hits) in theirs.iter().zip([10, 30]) {
        assert_eq!(entry["tenant"], "owner");
        assert_eq!(entry["terms"]["grantee"], "grantee", "{entry}");
        assert_eq!(entry["hits"], hits, "{entry}");
        assert_eq!(entry["case_number"], CASE);
        assert_eq!(entry["subject"], "api-tests");
        assert!(entry["terms"]["plate_token"].is_string(), "{entry}");
    }
    // The owner's log names the owner's own pseudonym of the plate, not the grantee's.
    assert_ne!(
        mine[1]["terms"]["plate_token"], theirs[1]["terms"]["plate_token"],
        "plate tokens are keyed per tenant"
    );
    // The stranger's log has no search.
    assert!(searches_in_log(&api, "stranger").await.is_empty());
}
