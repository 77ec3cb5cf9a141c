//! The API router in process over a real engine, with a cluster seam that applies commands
//! directly (no Raft needed to test parsing and error codes), for the API's test binaries.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use sightline_api::alerts::{AlertHub, DEFAULT_HELD};
use sightline_api::auth::Role;
use sightline_api::faults::OutgoingFaults;
use sightline_api::routes::{resolve, Access};
use sightline_api::{router, AppState, Cluster, ProposeError};
use sightline_storage::alerts::AlertSinkHandle;
use sightline_storage::{
    ApplyOutcome, Command, Engine, EngineConfig, LogPosition, MasterKey, SharedEngine,
};
use tower::ServiceExt;

/// Applies every command at once to the local engine.
pub struct Local {
    engine: SharedEngine,
    index: AtomicU64,
    faults: Mutex<OutgoingFaults>,
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
        Box::pin(async { Ok(json!({"members": []})) })
    }
    fn remove_node(&self, _: u64) -> BoxFuture<'static, Result<Value, ProposeError>> {
        Box::pin(async { Ok(json!({"members": []})) })
    }
    fn ready(&self) -> BoxFuture<'static, bool> {
        Box::pin(async { true })
    }
    fn outgoing_faults(&self) -> OutgoingFaults {
        self.faults.lock().map(|f| f.clone()).unwrap_or_default()
    }
    fn set_outgoing_faults(&self, faults: OutgoingFaults) -> Result<(), ProposeError> {
        if let Ok(mut current) = self.faults.lock() {
            *current = faults;
        }
        Ok(())
    }
}

/// The fields an error answer's `details` name.
pub fn fields(answer: &Value) -> Vec<String> {
    answer["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|e| e["field"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub struct Api {
    _dir: tempfile::TempDir,
    router: axum::Router,
    /// What the router serves from (to mint tokens, read the engine).
    pub state: AppState,
    /// Tokens minted so far, by (tenant or `*`, role).
    tokens: Mutex<HashMap<(String, Role), String>>,
}

impl Api {
    /// A router over a fresh engine with tenant `t` and 20 reads.
    pub async fn new() -> Api {
        Api::with_fault_injection(false).await
    }

    /// The same, with `--enable-fault-injection` on or off.
    pub async fn with_fault_injection(fault_injection: bool) -> Api {
        Api::with(
            fault_injection,
            sightline_api::space::SpaceGuard::disabled(),
        )
        .await
    }

    /// A router whose writes are admitted by `space`.
    pub async fn with(fault_injection: bool, space: sightline_api::space::SpaceGuard) -> Api {
        Api::with_limits(fault_injection, space, Default::default()).await
    }

    /// The same, with per-token rate `limits`.
    pub async fn with_limits(
        fault_injection: bool,
        space: sightline_api::space::SpaceGuard,
        limits: sightline_api::limits::LimitConfig,
    ) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let alerts = Arc::new(AlertHub::new(DEFAULT_HELD));
        let mut config = EngineConfig::new(dir.path());
        config.alerts = Some(AlertSinkHandle(alerts.clone()));
        let engine = Engine::open(&config, MasterKey::from_bytes(&[4; 32])).unwrap();
        let engine: SharedEngine = Arc::new(ArcSwap::from_pointee(engine));
        let cluster = Arc::new(Local {
            engine: engine.clone(),
            index: AtomicU64::new(0),
            faults: Mutex::new(OutgoingFaults::default()),
        });
        let state = AppState {
            audit: sightline_api::audit::audit_log(engine.clone(), cluster.clone()),
            engine,
            cluster,
            fault_injection,
            space,
            alerts,
            max_token_ttl_ms: sightline_api::auth::DEFAULT_MAX_TTL_MS,
            limits: Arc::new(sightline_api::limits::Limits::new(limits)),
        };
        sightline_api::tokens::ensure_signing_key(&state)
            .await
            .unwrap();
        let api = Api {
            _dir: dir,
            router: router(state.clone()),
            state,
            tokens: Mutex::new(HashMap::new()),
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

    /// The router's answer to `request`, body unread (an SSE stream never ends).
    pub async fn respond(&self, request: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// The engine's directory.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.raw(method, path, body.to_string()).await
    }

    pub async fn raw(&self, method: &str, path: &str, body: String) -> (StatusCode, Value) {
        self.with_headers(method, path, &[], body).await
    }

    /// A token of `role` for `tenant` (`*`: every tenant), minted once.
    pub fn token(&self, tenant: &str, role: Role) -> String {
        let mut tokens = self.tokens.lock().unwrap();
        tokens
            .entry((tenant.to_string(), role))
            .or_insert_with(|| {
                let key = self.state.engine().signing_key().unwrap();
                sightline_api::auth::issue(&key, "api-tests", tenant, role, Some(3_600_000)).0
            })
            .clone()
    }

    /// The token a well-behaved caller of `method path` holds: the first role the route's
    /// rule admits, for the path's tenant (a cluster-wide admin for the other routes).
    pub fn token_for(&self, method: &str, path: &str) -> Option<String> {
        let method: axum::http::Method = method.parse().ok()?;
        let (endpoint, tenant) = resolve(&method, path)?;
        match endpoint.access {
            Access::Public => None,
            Access::Tenant(roles) => Some(self.token(tenant.as_deref()?, roles[0])),
            Access::Cluster(roles) | Access::Handler(roles) => Some(self.token("*", roles[0])),
        }
    }

    /// As [`Api::raw`], with extra request headers; without an `authorization` header the
    /// request carries [`Api::token_for`] its route (an empty one: no token).
    pub async fn with_headers(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        for (name, value) in headers {
            // An empty `authorization` asks for no token at all.
            if !value.is_empty() {
                request = request.header(*name, *value);
            }
        }
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        {
            if let Some(token) = self.token_for(method, path) {
                request = request.header("authorization", format!("Bearer {token}"));
            }
        }
        let request = request.body(Body::from(body)).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }
}
