//! Node configuration: a TOML file (keys of api.md), overridden by `SIGHTLINE_*`
//! environment variables, validated into an immutable [`Config`]. Unknown keys are errors,
//! so a typo never silently becomes a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// A cluster member as listed in `peers`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Node id.
    pub id: u64,
    /// Inter-node gRPC address.
    pub raft_addr: String,
    /// Public HTTP address.
    pub http_addr: String,
}

/// S3-compatible object store settings, parsed and validated now, consumed by the cold tier.
#[allow(dead_code)]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    #[serde(default)]
    pub allow_http: bool,
}

/// TLS files: mutual TLS between nodes (every node certificate carries the DNS name
/// `sightline-node`, signed by the cluster's CA), and HTTPS for the public API with the same
/// certificate and key (server-side only: API clients present no certificate).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// Test modes that make failures visible; never for production.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestingSettings {
    /// `false`: the storage engine writes no WAL, so a SIGKILL loses every write not yet
    /// flushed, as a power cut loses what was not fsync'd, and only the Raft log can bring
    /// acknowledged writes back (the power-loss test of issue 14).
    pub engine_wal: bool,
}

impl Default for TestingSettings {
    fn default() -> Self {
        TestingSettings { engine_wal: true }
    }
}

/// Replication timing. Defaults suit a LAN; tests shorten them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftSettings {
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Keep the log by bytes (the default): snapshot once this many MB of log were applied
    /// since the last snapshot...
    pub snapshot_after_mb: u64,
    /// ...and keep the newest this many MB of log below it, for lagging followers.
    pub log_kept_mb: u64,
    /// Keep the log by entry count instead (tests): snapshot after this many entries.
    pub snapshot_after_entries: Option<u64>,
    /// With `snapshot_after_entries`: entries kept below a snapshot (default 100).
    pub entries_kept_after_snapshot: Option<u64>,
    /// How often the leader proposes the cluster clock, which retention lives by.
    pub clock_interval_ms: u64,
    /// Largest log entry (one ingest batch, encoded); a larger batch answers 413.
    pub max_entry_bytes: usize,
    /// Slowest link between nodes to tolerate (MB/s): the heartbeat is raised until the
    /// largest entry ships over it within one heartbeat (see docs/operations.md).
    pub link_mb_per_s: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_ms: 100,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 1000,
            // Entries carry whole batches (one read to 8 MiB), so the log is kept by bytes.
            snapshot_after_mb: sightline_raft::DEFAULT_SNAPSHOT_AFTER_BYTES >> 20,
            log_kept_mb: sightline_raft::DEFAULT_LOG_KEPT_BYTES >> 20,
            snapshot_after_entries: None,
            entries_kept_after_snapshot: None,
            clock_interval_ms: 5_000,
            max_entry_bytes: sightline_raft::DEFAULT_MAX_ENTRY_BYTES,
            link_mb_per_s: 100,
        }
    }
}

/// Default `min_free_space`: room for the memtables, a compaction and the Raft log to
/// finish what was accepted.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 256 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    node_id: Option<u64>,
    data_dir: Option<PathBuf>,
    http_addr: Option<String>,
    raft_addr: Option<String>,
    #[serde(default)]
    peers: Vec<Peer>,
    object_store: Option<String>,
    master_key_file: Option<PathBuf>,
    /// Master keys that only unwrap (during a master key rotation).
    #[serde(default)]
    previous_master_key_files: Vec<PathBuf>,
    block_cache: Option<String>,
    min_free_space: Option<String>,
    max_token_ttl: Option<String>,
    #[serde(default)]
    limits: LimitsFile,
    s3: Option<S3Config>,
    tls: Option<TlsConfig>,
    /// Accept a multi-node cluster without `[tls]` (plaintext Raft and HTTP).
    #[serde(default)]
    insecure_plaintext: bool,
    #[serde(default)]
    raft: RaftSettings,
    #[serde(default)]
    testing: TestingSettings,
}

/// `[limits]`: per-token rates (0: unlimited).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    ingest_records_per_s: Option<u32>,
    searches_per_s: Option<u32>,
    alert_streams_per_token: Option<u32>,
}

/// A validated node configuration. Cold-tier settings are accepted and validated so
/// configuration files are stable; the node warns at start that it ignores them.
#[derive(Debug, Clone)]
pub struct Config {
    pub node_id: u64,
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub raft_addr: Option<String>,
    pub peers: Vec<Peer>,
    pub object_store: String,
    pub master_key_file: Option<PathBuf>,
    /// Earlier master keys: they unwrap what they wrapped and wrap nothing new, so that
    /// `POST /v1/admin/keys/rotate-master` can rewrap under `master_key_file`.
    pub previous_master_key_files: Vec<PathBuf>,
    pub block_cache_bytes: usize,
    /// Writes are refused (507) while the data directory has less free space than this.
    pub min_free_bytes: u64,
    /// Longest lifetime `POST /v1/admin/tokens` grants (`max_token_ttl`, default 24 h).
    pub max_token_ttl_ms: i64,
    /// Per-token rate limits (`[limits]`).
    pub limits: sightline_api::limits::LimitConfig,
    pub s3: Option<S3Config>,
    pub tls: Option<TlsConfig>,
    /// `insecure_plaintext = true`: more than one peer and no `[tls]` was asked for.
    pub insecure_plaintext: bool,
    pub raft: RaftSettings,
    pub testing: TestingSettings,
}

/// Parses a human-readable size: `1048576`, `64KiB`, `256MiB`, `2GiB`.
pub fn parse_size(text: &str) -> Result<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .with_context(|| format!("size {text:?} does not start with a number"))?;
    let multiplier: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        other => bail!("size unit {other:?} is not one of B, KiB, MiB, GiB"),
    };
    number
        .checked_mul(multiplier)
        .with_context(|| format!("size {text:?} is too large"))
}

impl Config {
    /// Reads `path`, applies environment overrides from `env`, and validates.
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let mut file: ConfigFile =
            toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        if let Some(v) = env("SIGHTLINE_NODE_ID") {
            file.node_id = Some(v.parse().context("SIGHTLINE_NODE_ID must be an integer")?);
        }
        if let Some(v) = env("SIGHTLINE_DATA_DIR") {
            file.data_dir = Some(v.into());
        }
        if let Some(v) = env("SIGHTLINE_HTTP_ADDR") {
            file.http_addr = Some(v);
        }
        if let Some(v) = env("SIGHTLINE_RAFT_ADDR") {
            file.raft_addr = Some(v);
        }
        if let Some(v) = env("SIGHTLINE_OBJECT_STORE") {
            file.object_store = Some(v);
        }
        if let Some(v) = env("SIGHTLINE_MASTER_KEY_FILE") {
            file.master_key_file = Some(v.into());
        }
        if let Some(v) = env("SIGHTLINE_PREVIOUS_MASTER_KEY_FILES") {
            // A list like PATH (`:` between files); empty means none.
            file.previous_master_key_files = std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
        }
        if let Some(v) = env("SIGHTLINE_BLOCK_CACHE") {
            file.block_cache = Some(v);
        }
        file.validate()
    }
}

impl ConfigFile {
    fn validate(self) -> Result<Config> {
        let node_id = self.node_id.context("node_id is required")?;
        if node_id == 0 {
            bail!("node_id must be at least 1");
        }
        let data_dir = self.data_dir.context("data_dir is required")?;
        let http_addr = self.http_addr.unwrap_or_else(|| "127.0.0.1:7700".into());
        let http_addr: SocketAddr = http_addr
            .parse()
            .with_context(|| format!("http_addr {http_addr:?} is not host:port"))?;
        let mut ids = std::collections::HashSet::new();
        for peer in &self.peers {
            if !ids.insert(peer.id) {
                bail!("peers lists node id {} twice", peer.id);
            }
        }
        if !self.peers.is_empty() && !ids.contains(&node_id) {
            bail!("peers does not list this node's id {node_id}");
        }
        if !self.peers.is_empty() && self.raft_addr.is_none() {
            bail!("raft_addr is required when peers are listed");
        }
        // Nodes of a cluster talk over the network: plaintext there (Raft messages carry
        // tokens and sealed rows, and the Raft port accepts proposals) only when asked for.
        if self.peers.len() > 1 && self.tls.is_none() && !self.insecure_plaintext {
            bail!(
                "peers lists {} nodes but there is no [tls] section: replication and the HTTP \
                 API would be plaintext. Set [tls] (cert, key, ca), or insecure_plaintext = true \
                 to accept plaintext on a network you trust",
                self.peers.len()
            );
        }
        if self.insecure_plaintext && self.tls.is_some() {
            bail!("insecure_plaintext = true contradicts the [tls] section: remove one of them");
        }
        let r = &self.raft;
        if r.heartbeat_ms == 0
            || r.election_timeout_min_ms <= r.heartbeat_ms
            || r.election_timeout_max_ms <= r.election_timeout_min_ms
        {
            bail!("raft timing must satisfy 0 < heartbeat_ms < election_timeout_min_ms < election_timeout_max_ms");
        }
        if r.max_entry_bytes < 64 << 10 {
            bail!("raft.max_entry_bytes must be at least 65536 (one batch of reads must fit)");
        }
        if r.snapshot_after_mb == 0 || r.snapshot_after_entries == Some(0) {
            bail!("raft.snapshot_after_mb and raft.snapshot_after_entries must be at least 1");
        }
        if r.link_mb_per_s == 0 || r.clock_interval_ms == 0 {
            bail!("raft.link_mb_per_s and raft.clock_interval_ms must be at least 1");
        }
        let object_store = self
            .object_store
            .unwrap_or_else(|| format!("file://{}", data_dir.join("cold").display()));
        if !(object_store.starts_with("file://") || object_store.starts_with("s3://")) {
            bail!("object_store {object_store:?} must be a file:// or s3:// URL");
        }
        let block_cache_bytes = match self.block_cache {
            Some(text) => parse_size(&text).context("block_cache")?,
            None => 256 << 20,
        };
        let min_free_bytes = match self.min_free_space {
            Some(text) => parse_size(&text).context("min_free_space")? as u64,
            None => DEFAULT_MIN_FREE_BYTES,
        };
        let max_token_ttl_ms = match self.max_token_ttl {
            Some(text) => sightline_api::tokens::parse_ttl(&text).with_context(|| {
                format!("max_token_ttl {text:?} must be a duration such as 1h or 1d")
            })?,
            None => sightline_api::auth::DEFAULT_MAX_TTL_MS,
        };
        let defaults = sightline_api::limits::LimitConfig::default();
        let limits = sightline_api::limits::LimitConfig {
            ingest_records_per_s: self
                .limits
                .ingest_records_per_s
                .unwrap_or(defaults.ingest_records_per_s),
            searches_per_s: self
                .limits
                .searches_per_s
                .unwrap_or(defaults.searches_per_s),
            alert_streams_per_token: self
                .limits
                .alert_streams_per_token
                .unwrap_or(defaults.alert_streams_per_token),
        };
        Ok(Config {
            min_free_bytes,
            max_token_ttl_ms,
            limits,
            node_id,
            data_dir,
            http_addr,
            raft_addr: self.raft_addr,
            peers: self.peers,
            object_store,
            master_key_file: self.master_key_file,
            previous_master_key_files: self.previous_master_key_files,
            block_cache_bytes,
            s3: self.s3,
            tls: self.tls,
            insecure_plaintext: self.insecure_plaintext,
            raft: self.raft,
            testing: self.testing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sightline.toml");
        std::fs::write(&path, text)?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&path, |key| {
            env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    const GOOD: &str = r#"
node_id = 1
data_dir = "/var/lib/sightline"
http_addr = "127.0.0.1:7701"
raft_addr = "127.0.0.1:7801"
peers = [ { id = 1, raft_addr = "127.0.0.1:7801", http_addr = "127.0.0.1:7701" },
          { id = 2, raft_addr = "127.0.0.1:7802", http_addr = "127.0.0.1:7702" } ]
object_store = "file:///var/lib/sightline/cold"
master_key_file = "/etc/sightline/master.key"
block_cache = "64MiB"

[tls]
cert = "/etc/sightline/node1.pem"
key = "/etc/sightline/node1.key"
ca = "/etc/sightline/cluster-ca.pem"
"#;

    /// `GOOD` without its `[tls]` section.
    fn plaintext() -> String {
        GOOD.split("\n[tls]").next().unwrap_or(GOOD).to_string()
    }

    #[test]
    fn the_api_md_example_loads_and_env_overrides_it() {
        let config = load(GOOD, &[]).unwrap();
        assert_eq!(config.peers.len(), 2);
        assert_eq!(config.block_cache_bytes, 64 << 20);
        let config = load(
            GOOD,
            &[
                ("SIGHTLINE_HTTP_ADDR", "0.0.0.0:9000"),
                ("SIGHTLINE_DATA_DIR", "/tmp/x"),
            ],
        )
        .unwrap();
        assert_eq!(config.http_addr.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn mistakes_are_errors_that_name_the_key() {
        let cases = [
            (GOOD.replace("block_cache", "blok_cache"), "blok_cache"),
            (GOOD.replace("node_id = 1", "node_id = 0"), "node_id"),
            (GOOD.replace("node_id = 1", "node_id = 3"), "does not list"),
            (
                GOOD.replace("\"127.0.0.1:7701\"\nraft", "\"localhost\"\nraft"),
                "http_addr",
            ),
            (GOOD.replace("64MiB", "64 parsecs"), "unit"),
            (GOOD.replace("file:///var", "ftp:///var"), "object_store"),
            (
                format!("{GOOD}\n[raft]\nmax_entry_bytes = 1000\n"),
                "max_entry_bytes",
            ),
            (
                format!("{GOOD}\n[raft]\nlink_mb_per_s = 0\n"),
                "link_mb_per_s",
            ),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", load(&text, &[]).unwrap_err());
            assert!(err.contains(want), "want {want:?} in {err}");
        }
    }

    #[test]
    fn a_cluster_without_tls_needs_insecure_plaintext() {
        let err = format!("{:#}", load(&plaintext(), &[]).unwrap_err());
        assert!(
            err.contains("insecure_plaintext") && err.contains("[tls]"),
            "{err}"
        );
        let config = load(&format!("insecure_plaintext = true\n{}", plaintext()), &[]).unwrap();
        assert!(config.insecure_plaintext && config.tls.is_none());
        // Both at once is a mistake, named.
        let err = format!(
            "{:#}",
            load(&format!("insecure_plaintext = true\n{GOOD}"), &[]).unwrap_err()
        );
        assert!(err.contains("insecure_plaintext"), "{err}");
        // One node (no peers, or only itself) stays plain without asking.
        let single = plaintext()
            .lines()
            .filter(|l| {
                !l.contains("7802") && !l.starts_with("peers") && !l.starts_with("raft_addr")
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(load(&single, &[]).unwrap().peers.is_empty());
        let only_itself = plaintext().replace(
            ",\n          { id = 2, raft_addr = \"127.0.0.1:7802\", http_addr = \"127.0.0.1:7702\" }",
            "",
        );
        assert_eq!(load(&only_itself, &[]).unwrap().peers.len(), 1);
    }

    #[test]
    fn previous_master_keys_come_from_the_file_or_the_environment() {
        assert!(load(GOOD, &[])
            .unwrap()
            .previous_master_key_files
            .is_empty());
        let text = GOOD.replace(
            "block_cache = ",
            "previous_master_key_files = [\"/etc/sightline/old.key\"]\nblock_cache = ",
        );
        let config = load(&text, &[]).unwrap();
        assert_eq!(
            config.previous_master_key_files,
            vec![PathBuf::from("/etc/sightline/old.key")]
        );
        let env = [(
            "SIGHTLINE_PREVIOUS_MASTER_KEY_FILES",
            "/k/one.key:/k/two.key",
        )];
        let config = load(&text, &env).unwrap();
        assert_eq!(
            config.previous_master_key_files,
            vec![PathBuf::from("/k/one.key"), PathBuf::from("/k/two.key")]
        );
        let config = load(&text, &[("SIGHTLINE_PREVIOUS_MASTER_KEY_FILES", "")]).unwrap();
        assert!(config.previous_master_key_files.is_empty());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert!(parse_size("MiB").is_err());
    }
}
