//! Every route of the API with the access rule that guards it: the router is built from
//! [`ENDPOINTS`] and nothing else, so a route cannot exist without a rule, and
//! [`authorize`] (a `route_layer` middleware on every route) enforces the rule before the
//! handler runs. Deny by default: a matched route with no rule (which [`router`] makes
//! impossible) would answer 403.
//!
//! **Order of checks**, the same on every route so that the answers leak nothing: no,
//! malformed, forged, expired or revoked token → 401; a role the rule does not list → 403;
//! a token for another tenant → 403 *before* the handler looks the tenant up, so a token
//! for tenant A gets the same 403, in the same time, whether B exists or not. Only a caller
//! allowed on a tenant learns whether it exists (404).
//!
//! The verified [`Principal`] is handed to the handler as a request extension
//! (`axum::Extension<Principal>`), for the audit trail and for rules that depend on the body
//! (minting a token, reading an audit log). Denied requests and every call made with an
//! admin token, but for the polled status reads ([`UNAUDITED_READS`]), go to the audit
//! trail ([`crate::audit::request`]).

use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;

use crate::auth::{self, Principal, Role};
use crate::error::{ApiError, ErrorCode};
use crate::{
    admin, alerts, audit, faults, grants, hotlists, ingest, keys, metrics, search, series, stats,
    tokens, AppState,
};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, with or without a token (health probes).
    Public,
    /// A token of one of these roles issued for every tenant (`"tenant": "*"`).
    Cluster(&'static [Role]),
    /// A token of one of these roles covering the path's `{tenant}` (its own tenant, or
    /// `*`).
    Tenant(&'static [Role]),
    /// A token of one of these roles; the handler checks the tenant the request names in
    /// its body or query (minting a token, reading an audit log).
    Handler(&'static [Role]),
}

impl Access {
    /// The roles it admits (empty for [`Access::Public`], which needs none).
    pub fn roles(self) -> &'static [Role] {
        match self {
            Access::Public => &[],
            Access::Cluster(r) | Access::Tenant(r) | Access::Handler(r) => r,
        }
    }
}

/// One route: method, path template (axum syntax), rule, handler.
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path template, `{name}` for a parameter.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    handler: fn() -> MethodRouter<AppState>,
}

const INGEST: &[Role] = &[Role::Ingest];
const INVESTIGATOR: &[Role] = &[Role::Investigator];
const AGGREGATES: &[Role] = &[Role::Analyst, Role::Investigator];
const ADMIN: &[Role] = &[Role::Admin];
const AUDIT_READERS: &[Role] = &[Role::Auditor, Role::Admin];

macro_rules! endpoint {
    ($method:ident $path:literal, $access:expr, $route:expr) => {
        Endpoint {
            method: Method::$method,
            path: $path,
            access: $access,
            handler: || $route,
        }
    };
}

/// Every route of the API (api.md), with its rule.
pub const ENDPOINTS: &[Endpoint] = &[
    endpoint!(GET "/healthz", Access::Public, get(admin::healthz)),
    endpoint!(GET "/readyz", Access::Public, get(admin::readyz)),
    // Prometheus scrapes: no tenant's data in any figure or label (crate::metrics).
    endpoint!(GET "/metrics", Access::Public, get(metrics::get_metrics)),
    // Tenant administration: an admin of that tenant or of every tenant.
    endpoint!(PUT "/v1/admin/tenants/{tenant}", Access::Tenant(ADMIN), put(admin::put_tenant)),
    endpoint!(GET "/v1/admin/tenants/{tenant}", Access::Tenant(ADMIN), get(admin::get_tenant)),
    // Grants of a tenant's (the owner's) data to another: an admin of the owner or of every
    // tenant.
    endpoint!(GET "/v1/admin/tenants/{tenant}/grants", Access::Tenant(ADMIN), get(grants::list_grants)),
    endpoint!(PUT "/v1/admin/tenants/{tenant}/grants/{grantee}", Access::Tenant(ADMIN), put(grants::put_grant)),
    endpoint!(DELETE "/v1/admin/tenants/{tenant}/grants/{grantee}", Access::Tenant(ADMIN), delete(grants::delete_grant)),
    // A tenant's data key rotation: an admin of that tenant or of every tenant.
    endpoint!(POST "/v1/admin/tenants/{tenant}/keys/rotate", Access::Tenant(ADMIN), post(keys::rotate_tenant_key)),
    // Cluster administration: a cluster-wide admin.
    // Master keys wrap every tenant's keys: a cluster-wide admin.
    endpoint!(GET "/v1/admin/keys", Access::Cluster(ADMIN), get(keys::key_status)),
    endpoint!(POST "/v1/admin/keys/rotate-master", Access::Cluster(ADMIN), post(keys::rotate_master_key)),
    endpoint!(POST "/v1/admin/compact", Access::Cluster(ADMIN), post(admin::compact)),
    endpoint!(GET "/v1/admin/checksum", Access::Cluster(ADMIN), get(admin::checksum)),
    endpoint!(POST "/v1/admin/faults", Access::Cluster(ADMIN), post(faults::post_faults)),
    endpoint!(GET "/v1/admin/cluster", Access::Cluster(ADMIN), get(admin::cluster_status)),
    endpoint!(POST "/v1/admin/cluster/nodes", Access::Cluster(ADMIN), post(admin::add_node)),
    endpoint!(DELETE "/v1/admin/cluster/nodes/{id}", Access::Cluster(ADMIN), delete(admin::remove_node)),
    // A tenant's admin mints tokens for that tenant only (the handler checks the body).
    endpoint!(POST "/v1/admin/tokens", Access::Handler(ADMIN), post(tokens::create_token)),
    // Revocation names a token id, which says nothing of its tenant: cluster admins only.
    endpoint!(DELETE "/v1/admin/tokens/{id}", Access::Cluster(ADMIN), delete(tokens::revoke_token)),
    // The audit logs: an auditor or admin covering the tenant of the query (the handler
    // checks it; the cluster log and every log need a token for `*`).
    endpoint!(GET "/v1/admin/audit", Access::Handler(AUDIT_READERS), get(audit::route::get_audit)),
    endpoint!(GET "/v1/admin/audit/verify", Access::Handler(AUDIT_READERS), get(audit::route::verify_audit)),
    // Ingest writes only.
    endpoint!(POST "/v1/tenants/{tenant}/reads", Access::Tenant(INGEST), post(ingest::post_reads)),
    endpoint!(POST "/v1/tenants/{tenant}/manifests", Access::Tenant(INGEST), post(ingest::post_manifests)),
    endpoint!(POST "/v1/tenants/{tenant}/series", Access::Tenant(INGEST), post(ingest::post_series)),
    // Hotlists hold plates and alerts carry reads: investigators.
    endpoint!(GET "/v1/tenants/{tenant}/hotlists", Access::Tenant(INVESTIGATOR), get(hotlists::list_hotlists)),
    endpoint!(PUT "/v1/tenants/{tenant}/hotlists/{name}", Access::Tenant(INVESTIGATOR), put(hotlists::put_hotlist)),
    endpoint!(GET "/v1/tenants/{tenant}/hotlists/{name}", Access::Tenant(INVESTIGATOR), get(hotlists::get_hotlist)),
    endpoint!(DELETE "/v1/tenants/{tenant}/hotlists/{name}", Access::Tenant(INVESTIGATOR), delete(hotlists::delete_hotlist)),
    endpoint!(GET "/v1/tenants/{tenant}/alerts", Access::Tenant(INVESTIGATOR), get(alerts::get_alerts)),
    // Aggregates: analysts and investigators.
    endpoint!(POST "/v1/tenants/{tenant}/series/query", Access::Tenant(AGGREGATES), post(series::query_series)),
    endpoint!(POST "/v1/tenants/{tenant}/stats/reads", Access::Tenant(AGGREGATES), post(stats::reads)),
    // Record searches: investigators.
    endpoint!(POST "/v1/tenants/{tenant}/search/plates", Access::Tenant(INVESTIGATOR), post(search::search_plates)),
    endpoint!(POST "/v1/tenants/{tenant}/search/area", Access::Tenant(INVESTIGATOR), post(search::search_area)),
    endpoint!(POST "/v1/tenants/{tenant}/search/co-location", Access::Tenant(INVESTIGATOR), post(search::analysis::search_co_location)),
    endpoint!(POST "/v1/tenants/{tenant}/search/convoy", Access::Tenant(INVESTIGATOR), post(search::analysis::search_convoy)),
    endpoint!(POST "/v1/tenants/{tenant}/search/frequency", Access::Tenant(INVESTIGATOR), post(search::analysis::search_frequency)),
    endpoint!(POST "/v1/tenants/{tenant}/search/manifests", Access::Tenant(INVESTIGATOR), post(search::manifests::search_manifests)),
];

/// The rule of `method` on the route template `path`, if the table has one.
pub fn rule(method: &Method, path: &str) -> Option<Access> {
    ENDPOINTS
        .iter()
        .find(|e| e.method == *method && e.path == path)
        .map(|e| e.access)
}

/// The endpoint serving `method` on a concrete `path` (`/v1/tenants/demo/reads`), with the
/// tenant its path names, if any: for clients and tests that pick a token by route.
pub fn resolve(method: &Method, path: &str) -> Option<(&'static Endpoint, Option<String>)> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    ENDPOINTS.iter().find_map(|e| {
        if e.method != *method {
            return None;
        }
        let template: Vec<&str> = e.path.split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut tenant = None;
        for (t, s) in template.iter().zip(&segments) {
            if *t == "{tenant}" {
                tenant = Some(s.to_string());
            } else if !(t.starts_with('{') || t == s) {
                return None;
            }
        }
        Some((e, tenant))
    })
}

/// The table's routes on a router, each behind [`authorize`].
pub fn router(state: AppState) -> Router<AppState> {
    let mut router = Router::new();
    for endpoint in ENDPOINTS {
        router = router.route(endpoint.path, (endpoint.handler)());
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(state, authorize))
        .route_layer(axum::middleware::from_fn(metrics::track))
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message)
}

/// Admin `GET`s not written to the audit log when they succeed (refusals still are).
pub const UNAUDITED_READS: &[&str] = &["/v1/admin/cluster", "/v1/admin/checksum"];

/// The access check of every route (see the module docs for the order of checks).
pub async fn authorize(
    State(state): State<AppState>,
    matched: MatchedPath,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = matched.as_str().to_string();
    let tenant = params
        .iter()
        .find(|(name, _)| *name == "tenant")
        .map(|(_, value)| value.to_string());
    let access = rule(&method, &route);
    if access == Some(Access::Public) {
        return next.run(request).await;
    }
    let action = format!("{method} {route}");
    let principal = match auth::authenticate(&state.engine(), request.headers()) {
        Ok(principal) => principal,
        Err(e) => {
            let error = ApiError::from(e);
            crate::audit::request(
                &state,
                None,
                tenant.as_deref(),
                &action,
                error.code.status().as_u16(),
            )
            .await;
            return error.into_response();
        }
    };
    if let Err(error) = check(access, &principal, tenant.as_deref()) {
        crate::audit::request(
            &state,
            Some(&principal),
            tenant.as_deref(),
            &action,
            error.code.status().as_u16(),
        )
        .await;
        return error.into_response();
    }
    if is_search(&route) {
        if let Err(error) = state.limits.search(&principal) {
            return error.into_response();
        }
    }
    // An admin's calls are audited, but for the two monitoring reads (cluster status and
    // the replicated-state checksum), which show no tenant's data and are polled: auditing
    // them would make every poll a Raft write, and replicas would never be seen to agree.
    let admin = principal.claims.role == Role::Admin
        && !(method == Method::GET && UNAUDITED_READS.contains(&route.as_str()));
    request.extensions_mut().insert(principal.clone());
    let response = next.run(request).await;
    if admin {
        crate::audit::request(
            &state,
            Some(&principal),
            tenant.as_deref(),
            &action,
            response.status().as_u16(),
        )
        .await;
    }
    response
}

/// Whether `route` counts against a token's search rate ([`crate::limits`]).
fn is_search(route: &str) -> bool {
    route.contains("/search/")
        || route.ends_with("/series/query")
        || route.ends_with("/stats/reads")
}

/// Whether `principal` passes `access` for a request on `tenant` (the path's).
pub fn check(
    access: Option<Access>,
    principal: &Principal,
    tenant: Option<&str>,
) -> Result<(), ApiError> {
    let Some(access) = access else {
        return Err(forbidden("this route has no access rule; it is denied"));
    };
    if !access.roles().contains(&principal.claims.role) {
        return Err(forbidden(&format!(
            "the {} role may not do this",
            principal.claims.role.as_str()
        )));
    }
    match access {
        Access::Public | Access::Handler(_) => Ok(()),
        Access::Cluster(_) if principal.claims.tenant == "*" => Ok(()),
        Access::Cluster(_) => Err(forbidden("this needs a token for every tenant (\"*\")")),
        Access::Tenant(_) => match tenant {
            Some(tenant) if principal.covers(tenant) => Ok(()),
            _ => Err(forbidden("this token is not for that tenant")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ENDPOINTS.iter().enumerate() {
            for b in &ENDPOINTS[i + 1..] {
                assert!(
                    a.method != b.method || a.path != b.path,
                    "{} {} twice",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn concrete_paths_resolve_to_their_template() {
        let (e, tenant) = resolve(&Method::POST, "/v1/tenants/demo/search/plates").unwrap();
        assert_eq!(e.path, "/v1/tenants/{tenant}/search/plates");
        assert_eq!(tenant.as_deref(), Some("demo"));
        let (e, tenant) = resolve(&Method::DELETE, "/v1/admin/tokens/abc").unwrap();
        assert_eq!((e.path, tenant), ("/v1/admin/tokens/{id}", None));
        assert!(resolve(&Method::GET, "/v1/tenants/demo/search/plates").is_none());
        assert!(resolve(&Method::GET, "/nope").is_none());
    }

    #[test]
    fn tenant_routes_name_a_tenant() {
        for e in ENDPOINTS {
            if matches!(e.access, Access::Tenant(_)) {
                assert!(e.path.contains("{tenant}"), "{} {}", e.method, e.path);
            }
        }
    }
}
