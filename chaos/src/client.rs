//! A typed HTTP client for one node: JSON in and out, with the status code kept so tests
//! can assert on error answers too.

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
        }
    }

    /// The same client, sending `token` as its bearer token.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let request = self.agent.request(method, &self.url(path));
        match &self.token {
            Some(token) => request.set("Authorization", &format!("Bearer {token}")),
            None => request,
        }
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
