//! One `sightline` process: its config written from [`NodeConfig`], started on loopback,
//! stopped with SIGTERM, killed with SIGKILL, paused with SIGSTOP. Dropping a [`Node`] kills
//! its process, so a test or benchmark that fails half-way leaves nothing running.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::client::Client;

/// The master key test nodes get unless told otherwise (64 hex characters).
pub const TEST_MASTER_KEY_HEX: &str =
    "1111111111111111111111111111111111111111111111111111111111111111";

/// Ports [`free_port`] has handed out in this process: never handed out twice, so tests
/// running side by side in one test binary cannot be given the same port.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The lowest port [`free_port`] considers.
const LOWEST_PORT: u16 = 10_000;

/// A free TCP port on loopback for a node to listen on, unique within this process.
///
/// `bind("127.0.0.1:0")` would draw from the kernel's ephemeral range, the same range that
/// every outgoing connection (the harness's HTTP clients, the nodes' gRPC clients) takes its
/// source port from: a port released after the check can be taken as a connection's source
/// port before the node binds it, and the node then fails to start with "address in use".
/// So ports come from below the ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`),
/// starting at a random point, checked free by binding, and remembered.
pub fn free_port() -> Result<u16> {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    if ephemeral_low > LOWEST_PORT + 1_000 {
        let span = u32::from(ephemeral_low - LOWEST_PORT);
        let start = rand::random::<u32>() % span;
        for step in 0..span {
            let port = LOWEST_PORT + ((start + step) % span) as u16;
            if handed_out.contains(&port) {
                continue;
            }
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                handed_out.insert(port);
                return Ok(port);
            }
        }
    }
    // No room below the ephemeral range: the kernel's choice, still never repeated here.
    for _ in 0..100 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
    bail!("no free port on 127.0.0.1")
}

/// The `sightline` binary: `$SIGHTLINE_BIN`, else the one built beside the running
/// executable (`target/release/sightline` for `target/release/deps/<test>` and for
/// `target/release/sightline-chaos`).
pub fn sightline_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("SIGHTLINE_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent();
    while let Some(d) = dir {
        let candidate = d.join("sightline");
        if candidate.is_file() {
            return Ok(candidate);
        }
        if d.file_name().is_some_and(|n| n == "target") {
            break;
        }
        dir = d.parent();
    }
    bail!(
        "no sightline binary beside {}; build it (cargo build --release --workspace) or set SIGHTLINE_BIN",
        exe.display()
    )
}

/// A member of the initial cluster, as `peers` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerConfig {
    pub id: u64,
    pub raft_addr: String,
    pub http_addr: String,
}

/// `[raft]`: every key is optional; the node's defaults apply to those left `None`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RaftConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub election_timeout_min_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub election_timeout_max_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_after_entries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_kept_after_snapshot: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_interval_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_entry_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_mb_per_s: Option<u64>,
}

/// `[testing]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TestingConfig {
    /// `false`: the engine writes no WAL, so a SIGKILL loses every unflushed engine write
    /// and only the Raft log can bring acknowledged writes back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_wal: Option<bool>,
}

/// A node's config file, as `sightline serve --config` reads it (docs/operations.md).
#[derive(Debug, Clone, Serialize)]
pub struct NodeConfig {
    pub node_id: u64,
    pub data_dir: PathBuf,
    pub http_addr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_addr: Option<String>,
    pub master_key_file: PathBuf,
    /// Earlier master keys, which only unwrap (a master key rotation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub previous_master_key_files: Vec<PathBuf>,
    pub block_cache: String,
    /// Writes are refused (507) below this much free space (`"256MiB"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_free_space: Option<String>,
    /// `insecure_plaintext = true`: a node with more than one peer and no `[tls]` refuses
    /// to start without it. The harness's clusters are plaintext on loopback, so
    /// [`crate::Cluster`] sets it; it is written only when `true`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_plaintext: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerConfig>,
    pub raft: RaftConfig,
    pub testing: TestingConfig,
}

impl NodeConfig {
    /// A single node `id` serving HTTP on `http_port`, its data and key under `dir`.
    pub fn single(dir: &Path, id: u64, http_port: u16) -> NodeConfig {
        NodeConfig {
            node_id: id,
            data_dir: dir.join("data"),
            http_addr: format!("127.0.0.1:{http_port}"),
            raft_addr: None,
            master_key_file: dir.join("master.key"),
            previous_master_key_files: Vec::new(),
            block_cache: "64MiB".into(),
            min_free_space: None,
            insecure_plaintext: false,
            peers: Vec::new(),
            raft: RaftConfig::default(),
            testing: TestingConfig::default(),
        }
    }

    /// The TOML text of this config.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).context("writing a node config")
    }
}

/// How a node process is started.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `sightline` binary.
    pub binary: PathBuf,
    /// `init`, `serve`, with flags (`--enable-fault-injection`).
    pub args: Vec<String>,
    /// `RUST_LOG` of the process.
    pub rust_log: String,
    /// Where its stderr goes: appended to this file, or inherited when `None`.
    pub log_file: Option<PathBuf>,
    /// Written to the config's `master_key_file` if that file does not exist yet.
    pub master_key_hex: String,
    /// The bootstrap admin token's file its client acts with (default: the node's own
    /// `{data_dir}/admin-token`).
    pub admin_token_file: Option<PathBuf>,
}

impl Launch {
    /// `sightline serve`, logging errors to the test's stderr (`$SIGHTLINE_TEST_LOG`
    /// overrides the filter).
    pub fn test() -> Result<Launch> {
        Ok(Launch {
            binary: sightline_binary()?,
            args: vec!["serve".into()],
            rust_log: std::env::var("SIGHTLINE_TEST_LOG")
                .unwrap_or_else(|_| "error,openraft=off".into()),
            log_file: None,
            master_key_hex: TEST_MASTER_KEY_HEX.into(),
            admin_token_file: None,
        })
    }

    /// The same launch with `args` (`"init --enable-fault-injection"`).
    pub fn with_args(mut self, args: &str) -> Launch {
        self.args = args.split_whitespace().map(String::from).collect();
        self
    }
}

/// A running (or stopped) `sightline` process; derefs to its [`Client`].
pub struct Node {
    child: Option<Child>,
    paused: bool,
    /// The directory holding its config file (and, by default, its data and key).
    pub dir: PathBuf,
    pub config: NodeConfig,
    pub client: Client,
}

impl Deref for Node {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Node {
    /// Starts a single-node cluster whose data lives in `dir` (reused across restarts) on
    /// a free port.
    pub fn start(dir: &Path) -> Result<Node> {
        let config = NodeConfig::single(dir, 1, free_port()?);
        Node::launch(dir, config, &Launch::test()?)
    }

    /// Writes `config` to `dir/sightline.toml`, starts the process and waits until it
    /// answers `/healthz`.
    pub fn launch(dir: &Path, config: NodeConfig, launch: &Launch) -> Result<Node> {
        std::fs::create_dir_all(dir)?;
        if !config.master_key_file.exists() {
            std::fs::write(&config.master_key_file, &launch.master_key_hex)?;
        }
        let path = dir.join("sightline.toml");
        std::fs::write(&path, config.to_toml()?)?;
        let stderr = match &launch.log_file {
            Some(file) => Stdio::from(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)
                    .with_context(|| format!("opening {}", file.display()))?,
            ),
            None => Stdio::inherit(),
        };
        let child = Command::new(&launch.binary)
            .args(&launch.args)
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", &launch.rust_log)
            .env_remove("SIGHTLINE_MASTER_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", launch.binary.display()))?;
        let mut node = Node {
            child: Some(child),
            paused: false,
            dir: dir.to_path_buf(),
            client: Client::new(format!("http://{}", config.http_addr)).acting_with(
                launch
                    .admin_token_file
                    .as_deref()
                    .unwrap_or(&config.data_dir.join("admin-token")),
            ),
            config,
        };
        node.wait_started(Duration::from_secs(60))?;
        Ok(node)
    }

    /// Waits until this process answers `/healthz`; fails at once if it exits first (a bad
    /// config, a port in use), naming its status: its own log says why.
    fn wait_started(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                bail!(
                    "node {} ({}) exited with {status} while starting; its stderr says why",
                    self.config.node_id,
                    self.config.http_addr
                );
            }
            if self.client.healthy() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "node {} at {} did not answer /healthz within {within:?}",
            self.config.node_id,
            self.config.http_addr
        )
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process has been started and not stopped or killed.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Whether it is paused by [`Node::pause`].
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Its data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// SIGSTOP: the process keeps its sockets and memory but does nothing until
    /// [`Node::resume`], like a VM paused by its host or a long GC pause.
    pub fn pause(&mut self) -> Result<()> {
        self.signal("STOP")?;
        self.paused = true;
        Ok(())
    }

    /// SIGCONT after [`Node::pause`].
    pub fn resume(&mut self) -> Result<()> {
        self.signal("CONT")?;
        self.paused = false;
        Ok(())
    }

    fn signal(&self, name: &str) -> Result<()> {
        let pid = self.pid().context("the node is not running")?;
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()?;
        if !status.success() {
            bail!("kill -{name} {pid} failed");
        }
        Ok(())
    }

    /// SIGTERM and wait (a minute at most) for a clean exit; SIGKILL if it does not come.
    pub fn stop(&mut self) -> Result<()> {
        if self.paused {
            self.resume()?;
        }
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
                    bail!("the node exited with {status}");
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        sent?;
        bail!("the node did not exit within a minute of SIGTERM; killed it")
    }

    /// Whether the process has exited on its own (a crash); reaps it if so.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if status.is_some() {
            self.child = None;
        }
        status
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_serializes_to_the_toml_the_node_reads() {
        let mut config = NodeConfig::single(Path::new("/d"), 2, 8080);
        config.raft_addr = Some("127.0.0.1:9090".into());
        config.peers.push(PeerConfig {
            id: 2,
            raft_addr: "127.0.0.1:9090".into(),
            http_addr: "127.0.0.1:8080".into(),
        });
        config.raft.heartbeat_ms = Some(50);
        config.testing.engine_wal = Some(false);
        assert!(!config.to_toml().unwrap().contains("insecure_plaintext"));
        config.insecure_plaintext = true;
        let text = config.to_toml().unwrap();
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["node_id"].as_integer(), Some(2));
        assert_eq!(parsed["insecure_plaintext"].as_bool(), Some(true));
        assert_eq!(parsed["http_addr"].as_str(), Some("127.0.0.1:8080"));
        assert_eq!(
            parsed["peers"][0]["raft_addr"].as_str(),
            Some("127.0.0.1:9090")
        );
        assert_eq!(parsed["raft"]["heartbeat_ms"].as_integer(), Some(50));
        assert!(
            parsed["raft"].get("snapshot_after_entries").is_none(),
            "{text}"
        );
        assert_eq!(parsed["testing"]["engine_wal"].as_bool(), Some(false));
    }
}
