//! A real `sightline serve --config` child process on a free loopback port, in a directory
//! of its own (config, a 64-hex master key file, `data/`, `server.log`). Dropping the handle
//! kills the process, so a benchmark that fails half-way never leaves a server behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// The master key every benchmark server is given (64 hex characters), so a benchmark
/// can open the server's data directory itself once the server has stopped.
pub const MASTER_KEY_HEX: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// How long a server may take to answer `/healthz` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `sightline` server.
pub struct Server {
    child: Option<Child>,
    pid: u32,
    dir: PathBuf,
    url: String,
    agent: ureq::Agent,
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A keep-alive HTTP client; every request times out after `timeout`.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout(timeout)
        .build()
}

impl Server {
    /// Starts `binary` serving from `dir` (created if needed) and waits until it answers
    /// `/healthz`. The server logs at the product's default level (`info`, which includes
    /// one audit line per search) to `dir/server.log`.
    pub fn start(binary: &Path, dir: &Path) -> Result<Server> {
        Server::start_with(binary, dir, "")
    }

    /// As [`Server::start`], with `extra` appended to the config file (for example
    /// `block_cache = "6GiB"`).
    pub fn start_with(binary: &Path, dir: &Path, extra: &str) -> Result<Server> {
        std::fs::create_dir_all(dir)?;
        let key = dir.join("master.key");
        if !key.exists() {
            std::fs::write(&key, MASTER_KEY_HEX)?;
        }
        let port = free_port()?;
        let config = dir.join("sightline.toml");
        std::fs::write(
            &config,
            format!(
                "node_id = 1\ndata_dir = {:?}\nhttp_addr = \"127.0.0.1:{port}\"\nmaster_key_file = {:?}\n{extra}\n",
                dir.join("data"),
                key
            ),
        )?;
        let log = File::create(dir.join("server.log"))?;
        let child = Command::new(binary)
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info,h2=warn,hyper=warn")
            .env_remove("SIGHTLINE_MASTER_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = Server {
            pid: child.id(),
            child: Some(child),
            dir: dir.to_path_buf(),
            url: format!("http://127.0.0.1:{port}"),
            agent: agent(Duration::from_secs(600)),
        };
        server.wait_healthy()?;
        Ok(server)
    }

    fn wait_healthy(&self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let probe = agent(Duration::from_secs(2));
        while Instant::now() < deadline {
            if probe.get(&self.url("/healthz")).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "the server at {} did not answer /healthz within {START_TIMEOUT:?}; see {}",
            self.url,
            self.dir.join("server.log").display()
        )
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its data directory (`data_dir` of the config).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Sends `body` with `method` and returns (status, JSON answer).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let request = self
            .agent
            .request(method, &self.url(path))
            .set("Content-Type", "application/json");
        let answer = match body {
            Some(body) => request.send_string(&body.to_string()),
            None => request.call(),
        };
        respond(answer)
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
        let (status, body) = self.call(
            "PUT",
            &format!("/v1/admin/tenants/{tenant}"),
            Some(&serde_json::json!({ "retention_days": retention_days })),
        )?;
        if status != 200 && status != 201 {
            bail!("creating tenant {tenant}: {status} {body}");
        }
        Ok(())
    }

    /// Stops the server with SIGTERM and waits (at most a minute) for it to exit, then kills
    /// it if it has not.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    bail!("the server exited with {status}");
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        sent?;
        bail!("the server did not exit within a minute of SIGTERM; killed it")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
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
