//! A real `sightline` process for end-to-end tests: started with `serve --config` on a free
//! loopback port, talked to over HTTP, stopped with SIGTERM or killed with SIGKILL.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub mod cluster;
pub mod plaintext;

pub struct Node {
    child: Option<Child>,
    pub dir: PathBuf,
    pub url: String,
}

pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Node {
    /// Starts a single-node cluster whose data lives in `dir` (reused across restarts).
    pub fn start(dir: &Path) -> Result<Node> {
        let port = free_port()?;
        Node::spawn(dir, 1, port, "", "serve")
    }

    /// Starts node `id` with `sightline {subcommand} --config` (`subcommand` may carry
    /// flags: `"serve --enable-fault-injection"`), HTTP on `http_port`, and `extra` appended
    /// to its config (raft_addr, peers, [raft] timing).
    pub fn spawn(
        dir: &Path,
        id: u64,
        http_port: u16,
        extra: &str,
        subcommand: &str,
    ) -> Result<Node> {
        std::fs::create_dir_all(dir)?;
        let key = dir.join("master.key");
        if !key.exists() {
            std::fs::write(&key, "11".repeat(32))?;
        }
        let config = dir.join("sightline.toml");
        std::fs::write(
            &config,
            format!(
                "node_id = {id}\ndata_dir = {:?}\nhttp_addr = \"127.0.0.1:{http_port}\"\nmaster_key_file = {:?}\nblock_cache = \"64MiB\"\n{extra}\n",
                dir.join("data"),
                key
            ),
        )?;
        let child = Command::new(env!("CARGO_BIN_EXE_sightline"))
            .args(subcommand.split_whitespace())
            .arg("--config")
            .arg(&config)
            .env(
                "RUST_LOG",
                std::env::var("SIGHTLINE_TEST_LOG").unwrap_or_else(|_| "error,openraft=off".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning sightline")?;
        let node = Node {
            child: Some(child),
            dir: dir.to_path_buf(),
            url: format!("http://127.0.0.1:{http_port}"),
        };
        node.wait_healthy()?;
        Ok(node)
    }

    /// Waits until `/readyz` answers 200 (joined and caught up).
    pub fn wait_ready(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(r) = ureq::get(&format!("{}/readyz", self.url))
                .timeout(Duration::from_secs(3))
                .call()
            {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("node at {} did not become ready", self.url)
    }

    /// GETs `path` as JSON.
    pub fn get(&self, path: &str) -> Result<(u16, Value)> {
        respond(
            ureq::get(&format!("{}{path}", self.url))
                .timeout(Duration::from_secs(60))
                .call(),
        )
    }

    pub fn delete(&self, path: &str) -> Result<(u16, Value)> {
        respond(
            ureq::delete(&format!("{}{path}", self.url))
                .timeout(Duration::from_secs(60))
                .call(),
        )
    }

    /// The exact-search total of `plate` (linearizable unless `follower`).
    pub fn plate_total(&self, tenant: &str, plate: &str, follower: bool) -> Result<u64> {
        let mut query =
            serde_json::json!({"plate": plate, "limit": 1, "case_number": "T", "reason": "test"});
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

    fn wait_healthy(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ureq::get(&format!("{}/healthz", self.url)).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("node at {} did not become healthy", self.url)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()?;
            let status = child.wait()?;
            if !status.success() {
                bail!("node exited with {status}");
            }
        }
        Ok(())
    }

    /// POSTs `body`; returns the status and the JSON answer.
    pub fn post(&self, path: &str, content_type: &str, body: &str) -> Result<(u16, Value)> {
        let answer = ureq::post(&format!("{}{path}", self.url))
            .set("Content-Type", content_type)
            .timeout(Duration::from_secs(300))
            .send_string(body);
        respond(answer)
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.post(path, "application/json", &body.to_string())
    }

    pub fn put_json(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        respond(
            ureq::put(&format!("{}{path}", self.url))
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
        )
    }

    /// Creates (or updates) a tenant.
    pub fn create_tenant(&self, tenant: &str, retention_days: u32) -> Result<()> {
        let (status, body) = self.put_json(
            &format!("/v1/admin/tenants/{tenant}"),
            &serde_json::json!({"retention_days": retention_days, "hot_days": 0}),
        )?;
        if status != 200 && status != 201 {
            bail!("creating tenant {tenant}: {status} {body}");
        }
        Ok(())
    }

    /// Every hit of an exact plate search, following cursors; returns (hits, total of the
    /// first page, pages fetched).
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
}

fn respond(answer: Result<ureq::Response, ureq::Error>) -> Result<(u16, Value)> {
    let response = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.into()),
    };
    let status = response.status();
    let text = response.into_string()?;
    let body =
        serde_json::from_str(&text).with_context(|| format!("answer is not JSON: {text}"))?;
    Ok((status, body))
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plate read as a camera would send it.
pub fn read_json(id: Option<&str>, camera: &str, captured_at_ms: i64, plate: &str) -> Value {
    let captured_at = chrono::DateTime::from_timestamp_millis(captured_at_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let mut read = serde_json::json!({
        "camera_id": camera, "captured_at": captured_at, "plate": plate, "region": "US-IL",
        "confidence": 0.9, "lat": 41.8819, "lon": -87.6278,
        "vehicle": {"make": "Toyota", "model": "Camry", "color": "silver", "type": "sedan"},
        "direction": "N"
    });
    if let Some(id) = id {
        read["id"] = id.into();
    }
    read
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn ndjson(reads: &[Value]) -> String {
    let mut out = String::with_capacity(reads.len() * 300);
    for read in reads {
        out.push_str(&read.to_string());
        out.push('\n');
    }
    out
}
