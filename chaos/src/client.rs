//! A typed HTTP client for one node: JSON in and out, with the status code kept so tests
//! can assert on error answers too.
//!
//! **Tokens.** Every route but the health probes takes a bearer token. A client given an
//! explicit token ([`Client::with_token`]) sends it on every request. A client built by the
//! harness for a node ([`Client::acting_with`]) acts as a trusted operator holding the
//! cluster's bootstrap admin token (`{data_dir}/admin-token` of the node that ran `init`):
//! for each request it sends a token of the least role the route needs ([`role_for`]):
//! the admin token on admin routes, and on a tenant's routes a token it mints for that
//! tenant and role through `POST /v1/admin/tokens` (signed by the node itself, no consensus),
//! once per process. Tests of access control use explicit tokens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// A keep-alive HTTP client for the node at `url`.
#[derive(Clone)]
pub struct Client {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    agent: ureq::Agent,
    timeout: Duration,
    /// Sent as `Authorization: Bearer` on every request, when set.
    token: Option<String>,
    /// The bootstrap admin token's file, for a client acting as the operator.
    admin_token_file: Option<PathBuf>,
}

/// Admin tokens read, by file (kept after a test deletes a data directory).
static ADMIN_TOKENS: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
/// Tokens minted, by (admin token, tenant, role).
static MINTED: OnceLock<Mutex<HashMap<MintKey, String>>> = OnceLock::new();

/// (admin token, tenant, role).
type MintKey = (String, String, &'static str);

/// The role (and tenant) a well-behaved caller of `method path` uses: ingest for writes of
/// records, analyst for series queries and read statistics, investigator for the rest of a
/// tenant's routes, a cluster-wide admin for `/v1/admin/...`; `None` for the health
/// probes. (The test-side mirror of the node's route table, `api/src/routes.rs`.)
pub fn role_for(method: &str, path: &str) -> Option<(Option<String>, &'static str)> {
    let path = path.split('?').next().unwrap_or(path);
    if path == "/healthz" || path == "/readyz" {
        return None;
    }
    if let Some(rest) = path.strip_prefix("/v1/tenants/") {
        let (tenant, route) = rest.split_once('/').unwrap_or((rest, ""));
        let role = match (method, route) {
            ("POST", "reads" | "manifests" | "series") => "ingest",
            (_, "series/query") => "analyst",
            (_, r) if r.starts_with("stats/") => "analyst",
            _ => "investigator",
        };
        return Some((Some(tenant.to_string()), role));
    }
    Some((None, "admin"))
}

impl Client {
    /// A client whose requests time out after five minutes (a large ingest or a cold
    /// search can take that long on a loaded test machine).
    pub fn new(url: impl Into<String>) -> Client {
        Client::with_timeout(url, Duration::from_secs(300))
    }

    /// A client whose requests time out after `timeout`.
    pub fn with_timeout(url: impl Into<String>, timeout: Duration) -> Client {
        Client {
            url: url.into(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout(timeout)
                .build(),
            timeout,
            token: None,
            admin_token_file: None,
        }
    }

    /// The same client sending no token at all.
    pub fn anonymous(&self) -> Client {
        Client {
            token: None,
            admin_token_file: None,
            ..self.clone()
        }
    }

    /// The same client acting as the operator holding the admin token in `file` (read when
    /// first needed; see the module docs).
    pub fn acting_with(mut self, file: &Path) -> Client {
        self.admin_token_file = Some(file.to_path_buf());
        self
    }

    /// The bootstrap admin token (waiting up to a minute for `init` to write it).
    pub fn admin_token(&self) -> Result<String> {
        let file = self
            .admin_token_file
            .as_ref()
            .context("this client holds no admin token")?;
        let cache = ADMIN_TOKENS.get_or_init(Default::default);
        if let Some(token) = cache.lock().ok().and_then(|c| c.get(file).cloned()) {
            return Ok(token);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(token) = std::fs::read_to_string(file) {
                let token = token.trim().to_string();
                if !token.is_empty() {
                    if let Ok(mut c) = cache.lock() {
                        c.insert(file.clone(), token.clone());
                    }
                    return Ok(token);
                }
            }
            if Instant::now() > deadline {
                bail!("no admin token in {} after a minute", file.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A token of `role` for `tenant`, minted with the admin token (once per process).
    pub fn token_for(&self, tenant: &str, role: &'static str) -> Result<String> {
        let admin = self.admin_token()?;
        if role == "admin" && tenant == "*" {
            return Ok(admin);
        }
        let key = (admin.clone(), tenant.to_string(), role);
        let cache = MINTED.get_or_init(Default::default);
        if let Some(token) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(token);
        }
        let body = json!({"subject": "sightline-chaos harness", "tenant": tenant, "role": role, "ttl": "24h"});
        let (status, answer) = respond(
            self.agent
                .post(&self.url("/v1/admin/tokens"))
                .set("Authorization", &format!("Bearer {admin}"))
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
        )?;
        if status != 201 {
            bail!("minting a {role} token for {tenant} answered {status}: {answer}");
        }
        let token = answer["token"].as_str().context("token")?.to_string();
        if let Ok(mut c) = cache.lock() {
            c.insert(key, token.clone());
        }
        Ok(token)
    }

    /// The token this client sends on `method path`, if any.
    fn token_on(&self, method: &str, path: &str) -> Option<String> {
        if let Some(token) = &self.token {
            return Some(token.clone());
        }
        self.admin_token_file.as_ref()?;
        let (tenant, role) = role_for(method, path)?;
        // A tenant that does not exist gets no token (its answer is then a 401, not a 404).
        self.token_for(tenant.as_deref().unwrap_or("*"), role).ok()
    }

    /// The same client, sending `token` as its bearer token.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    /// A request carrying the token [`Client::token_on`] picks.
    pub fn request(&self, method: &str, path: &str) -> ureq::Request {
        let request = self.agent.request(method, &self.url(path));
        match self.token_on(method, path) {
            Some(token) => request.set("Authorization", &format!("Bearer {token}")),
            None => request,
        }
    }

    /// Opens `tenant`'s alert stream (`Last-Event-ID: last_event_id` when given) with the
    /// token this client sends there.
    pub fn alerts(
        &self,
        tenant: &str,
        last_event_id: Option<&str>,
    ) -> Result<crate::sse::SseStream> {
        let path = format!("/v1/tenants/{tenant}/alerts");
        let token = self.token_on("GET", &path);
        crate::sse::SseStream::open_with(&self.url(&path), token.as_deref(), last_event_id)
    }

    /// This client's request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Sends `body` (JSON, if any) with `method`; returns (status, JSON answer). A transport
    /// failure (refused, reset, timed out) is an `Err`.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let request = self
            .request(method, path)
            .set("Content-Type", "application/json");
        respond(match body {
            Some(body) => request.send_string(&body.to_string()),
            None => request.call(),
        })
    }

    /// GETs `path` as JSON.
    pub fn get(&self, path: &str) -> Result<(u16, Value)> {
        self.call("GET", path, None)
    }

    /// DELETEs `path`.
    pub fn delete(&self, path: &str) -> Result<(u16, Value)> {
        self.call("DELETE", path, None)
    }

    /// POSTs `body` as `content_type`.
    pub fn post(&self, path: &str, content_type: &str, body: &str) -> Result<(u16, Value)> {
        respond(
            self.request("POST", path)
                .set("Content-Type", content_type)
                .send_string(body),
        )
    }

    /// POSTs JSON.
    pub fn post_json(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.call("POST", path, Some(body))
    }

    /// PUTs JSON.
    pub fn put_json(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.call("PUT", path, Some(body))
    }

    /// Posts an NDJSON batch of reads to `tenant`.
    pub fn ingest(&self, tenant: &str, ndjson: &str) -> Result<(u16, Value)> {
        self.post(
            &format!("/v1/tenants/{tenant}/reads"),
            "application/x-ndjson",
            ndjson,
        )
    }

    /// Creates (or updates) a tenant.
    pub fn create_tenant(&self, tenant: &str, retention_days: u32) -> Result<()> {
        let (status, body) = self.put_json(
            &format!("/v1/admin/tenants/{tenant}"),
            &json!({"retention_days": retention_days, "hot_days": 0}),
        )?;
        if status != 200 && status != 201 {
            bail!("creating tenant {tenant}: {status} {body}");
        }
        Ok(())
    }

    /// The exact-search total of `plate` (linearizable unless `follower`).
    pub fn plate_total(&self, tenant: &str, plate: &str, follower: bool) -> Result<u64> {
        let mut query = json!({"plate": plate, "limit": 1, "case_number": "T", "reason": "test"});
        if follower {
            query["consistency"] = "follower".into();
        }
        let (status, page) =
            self.post_json(&format!("/v1/tenants/{tenant}/search/plates"), &query)?;
        if status != 200 {
            bail!("search on {} answered {status}: {page}", self.url);
        }
        page["total"].as_u64().context("total")
    }

    /// Every hit of a plate search, following cursors; returns (hits, total of the first
    /// page, pages fetched). Fails if the total changes between pages.
    pub fn search_all(&self, tenant: &str, mut query: Value) -> Result<(Vec<Value>, u64, usize)> {
        query["case_number"] = "TEST-1".into();
        query["reason"] = "end-to-end test".into();
        let mut hits = Vec::new();
        let mut total = None;
        let mut pages = 0;
        loop {
            let (status, page) =
                self.post_json(&format!("/v1/tenants/{tenant}/search/plates"), &query)?;
            if status != 200 {
                bail!("search answered {status}: {page}");
            }
            pages += 1;
            let page_total = page["total"].as_u64().context("total")?;
            if *total.get_or_insert(page_total) != page_total {
                bail!("total changed between pages");
            }
            hits.extend(page["hits"].as_array().context("hits")?.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => query["cursor"] = cursor.into(),
                None => break,
            }
        }
        Ok((hits, total.unwrap_or(0), pages))
    }

    /// Whether `/healthz` answers (the process is up and serving HTTP).
    pub fn healthy(&self) -> bool {
        self.agent
            .get(&self.url("/healthz"))
            .timeout(Duration::from_secs(2))
            .call()
            .is_ok()
    }

    /// Waits until `/readyz` answers 200 (joined and caught up).
    pub fn wait_ready(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(r) = self
                .agent
                .get(&self.url("/readyz"))
                .timeout(Duration::from_secs(3))
                .call()
            {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "node at {} did not become ready within {within:?}",
            self.url
        )
    }

    /// `GET /v1/admin/checksum`: (applied index, checksum).
    pub fn checksum(&self) -> Result<(u64, String)> {
        let (status, body) = self.get("/v1/admin/checksum")?;
        if status != 200 {
            bail!("checksum on {} answered {status}: {body}", self.url);
        }
        Ok((
            body["applied_index"].as_u64().context("applied_index")?,
            body["checksum"].as_str().context("checksum")?.to_string(),
        ))
    }

    /// The leader this node knows of, if any.
    pub fn leader(&self) -> Option<u64> {
        self.get("/v1/admin/cluster")
            .ok()
            .and_then(|(_, v)| v["leader"].as_u64())
    }
}

/// Turns a ureq answer (success or HTTP error status) into (status, JSON body).
pub fn respond(answer: Result<ureq::Response, ureq::Error>) -> Result<(u16, Value)> {
    let response = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.into()),
    };
    let status = response.status();
    let text = response.into_string()?;
    let body = serde_json::from_str(&text)
        .with_context(|| format!("answer ({status}) is not JSON: {text}"))?;
    Ok((status, body))
}
