//! A benchmark's `sightline serve` process, started through the one process harness
//! (`sightline-chaos`): a free loopback port, a directory of its own (config, a 64-hex
//! master key file, `data/`, `server.log`), and a keep-alive client with long timeouts.
//! Dropping the handle kills the process, so a benchmark that fails half-way never leaves a
//! server behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sightline_chaos::process::{Launch, Node, NodeConfig};
use sightline_chaos::Client;

pub use sightline_chaos::client::respond;

/// The master key every benchmark server is given (64 hex characters), so a benchmark
/// can open the server's data directory itself once the server has stopped.
pub const MASTER_KEY_HEX: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// A running `sightline` server.
pub struct Server {
    node: Node,
    client: Client,
}

/// A keep-alive HTTP client; every request times out after `timeout`.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout(timeout)
        .build()
}

/// POSTs the JSON `body` to `url` with `authorization` (`Bearer ...`) over `client`, and
/// returns the status, the answer's text and the time from sending the request to having
/// read the whole answer: how every search of the benchmarks is timed. An HTTP error status
/// is an answer, not an `Err`; a transport failure is.
pub fn timed_post(
    client: &ureq::Agent,
    url: &str,
    authorization: &str,
    body: &str,
) -> Result<(u16, String, Duration)> {
    let t = Instant::now();
    let answer = client
        .post(url)
        .set("Content-Type", "application/json")
        .set("Authorization", authorization)
        .send_string(body);
    let (status, text) = match answer {
        Ok(r) => (r.status(), r.into_string()?),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string()?),
        Err(e) => return Err(e.into()),
    };
    Ok((status, text, t.elapsed()))
}

impl Server {
    /// Starts `binary` serving from `dir` (created if needed) with `block_cache` and waits
    /// until it answers `/healthz`. The server logs at the product's default level
    /// (`info`, which includes one audit line per search) to `dir/server.log`.
    pub fn start(binary: &Path, dir: &Path, block_cache: &str) -> Result<Server> {
        let mut config = NodeConfig::single(dir, 1, sightline_chaos::free_port()?);
        config.block_cache = block_cache.to_string();
        let launch = Launch {
            binary: binary.to_path_buf(),
            args: vec!["serve".into()],
            rust_log: "info,h2=warn,hyper=warn".into(),
            log_file: Some(dir.join("server.log")),
            master_key_hex: MASTER_KEY_HEX.into(),
            admin_token_file: None,
        };
        std::fs::create_dir_all(dir)?;
        let node = Node::launch(dir, config, &launch).with_context(|| {
            format!(
                "starting the server; see {}",
                dir.join("server.log").display()
            )
        })?;
        let client = Client::with_timeout(node.url.clone(), Duration::from_secs(600))
            .acting_with(&node.data_dir().join("admin-token"));
        Ok(Server { node, client })
    }

    /// `Bearer <token>` of `role` for `tenant`, for the benchmarks' own HTTP agents.
    pub fn bearer(&self, tenant: &str, role: &'static str) -> Result<String> {
        Ok(format!("Bearer {}", self.client.token_for(tenant, role)?))
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.node.pid().unwrap_or(0)
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.node.dir
    }

    /// Its data directory (`data_dir` of the config).
    pub fn data_dir(&self) -> PathBuf {
        self.node.data_dir().to_path_buf()
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        self.client.url(path)
    }

    /// Sends `body` with `method` and returns (status, JSON answer).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        self.client.call(method, path, body)
    }

    /// Latency of `count` sequential `GET /healthz` over one keep-alive connection: the
    /// floor any request pays.
    pub fn healthz_floor(&self, count: usize) -> Result<crate::Summary> {
        let client = agent(Duration::from_secs(10));
        let mut latencies = Vec::with_capacity(count);
        for _ in 0..count {
            let t = Instant::now();
            let body = client.get(&self.url("/healthz")).call()?.into_string()?;
            latencies.push(t.elapsed());
            if !body.contains("ok") {
                bail!("healthz answered {body}");
            }
        }
        crate::Summary::of(&mut latencies).context("no healthz samples")
    }

    /// Creates (or updates) a tenant with `retention_days`.
    pub fn create_tenant(&self, tenant: &str, retention_days: u32) -> Result<()> {
        self.client.create_tenant(tenant, retention_days)
    }

    /// Stops the server with SIGTERM and waits (at most a minute) for it to exit, then kills
    /// it if it has not.
    pub fn stop(&mut self) -> Result<()> {
        self.node.stop()
    }
}

/// A `perf record` sampling one process (flat profile at 999 Hz: the release build has no
/// frame pointers, so call graphs would be noise). Stopped with SIGINT on
/// [`PerfRecord::finish`] or on drop.
pub struct PerfRecord {
    child: Option<Child>,
    data: PathBuf,
}

impl PerfRecord {
    /// Starts sampling `pid` into `data`.
    pub fn start(pid: u32, data: &Path) -> Result<PerfRecord> {
        let child = Command::new("perf")
            .args(["record", "-F", "999", "-p", &pid.to_string(), "-o"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting perf record (is perf installed?)")?;
        // perf needs a moment to attach before the measured work starts.
        std::thread::sleep(Duration::from_millis(300));
        Ok(PerfRecord {
            child: Some(child),
            data: data.to_path_buf(),
        })
    }

    fn interrupt(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .arg("-INT")
                .arg(child.id().to_string())
                .status()?;
            let deadline = Instant::now() + Duration::from_secs(60);
            while child.try_wait()?.is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("perf record did not stop");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Stops sampling and returns the top `lines` of `perf report` (by symbol).
    pub fn finish(mut self, lines: usize) -> Result<String> {
        self.interrupt()?;
        let report = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "--sort",
                "dso,sym",
                "--percent-limit",
                "0.5",
                "-i",
            ])
            .arg(&self.data)
            .stderr(Stdio::null())
            .output()
            .context("running perf report")?;
        let text = String::from_utf8_lossy(&report.stdout);
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(lines)
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

impl Drop for PerfRecord {
    fn drop(&mut self) {
        let _ = self.interrupt();
    }
}
