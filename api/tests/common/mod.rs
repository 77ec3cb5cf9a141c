//! The API router in process over a real engine, with a cluster seam that applies commands
//! directly (no Raft needed to test parsing and error codes), for the API's test binaries.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use sightline_api::alerts::{AlertHub, DEFAULT_HELD};
use sightline_api::faults::OutgoingFaults;
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
        Box::pin(async { Err(ProposeError::Refused("single node".into())) })
    }
    fn remove_node(&self, _: u64) -> BoxFuture<'static, Result<Value, ProposeError>> {
        Box::pin(async { Err(ProposeError::Refused("single node".into())) })
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
            engine,
            cluster,
            fault_injection,
            space,
            alerts,
            max_token_ttl_ms: sightline_api::auth::DEFAULT_MAX_TTL_MS,
        };
        let api = Api {
            _dir: dir,
            router: router(state.clone()),
            state,
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

    pub async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.raw(method, path, body.to_string()).await
    }

    pub async fn raw(&self, method: &str, path: &str, body: String) -> (StatusCode, Value) {
        self.with_headers(method, path, &[], body).await
    }

    /// As [`Api::raw`], with extra request headers.
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
            request = request.header(*name, *value);
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
