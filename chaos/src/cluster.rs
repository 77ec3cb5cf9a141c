//! A cluster of real `sightline` processes on loopback: node 1 runs `init`, the others
//! `serve`; each has its own ports and data directory under one root, and the Raft
//! settings of [`Settings`]. Waits are on status (an agreed leader, converged replicas),
//! never on sleeps.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::process::{free_port, Launch, Node, NodeConfig, PeerConfig, RaftConfig};

/// Raft timing, snapshot policy and test switches of a cluster.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    pub snapshot_after: u64,
    pub keep_after_snapshot: u64,
    pub clock_interval_ms: u64,
    /// Start every node with `--enable-fault-injection`.
    pub fault_injection: bool,
    /// `[testing] engine_wal`: `false` makes a SIGKILL lose every unflushed engine write.
    pub engine_wal: bool,
    /// `[raft] max_entry_bytes`.
    pub max_entry_bytes: u64,
    /// `[raft] link_mb_per_s`: loopback is fast, so tests keep short heartbeats.
    pub link_mb_per_s: u64,
    /// Each node's stderr goes to `node.log` in its directory instead of the caller's.
    pub log_to_files: bool,
    /// `min_free_space` in MiB (the node's default when `None`).
    pub min_free_mib: Option<u64>,
    /// Write no `[raft]` keys at all: the node's own defaults, as a production deployment
    /// has them (benchmarks, and tests of those defaults).
    pub node_defaults: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            heartbeat_ms: 50,
            election_min_ms: 300,
            election_max_ms: 600,
            snapshot_after: 5_000,
            keep_after_snapshot: 1_000,
            // The first tick comes at once after an election; later ones only move the
            // applied index under tests that wait for replicas to stand still.
            clock_interval_ms: 30_000,
            fault_injection: false,
            engine_wal: true,
            max_entry_bytes: 8 << 20,
            link_mb_per_s: 1_000,
            log_to_files: false,
            node_defaults: false,
            min_free_mib: None,
        }
    }
}

/// One member's ports and directory (whether or not its process runs).
#[derive(Debug, Clone)]
pub struct Member {
    pub id: u64,
    pub http_port: u16,
    pub raft_port: u16,
    pub dir: PathBuf,
}

impl Member {
    /// `127.0.0.1:<raft port>`.
    pub fn raft_addr(&self) -> String {
        format!("127.0.0.1:{}", self.raft_port)
    }

    /// `127.0.0.1:<http port>`.
    pub fn http_addr(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }
}

/// N node processes and their directories.
pub struct Cluster {
    _temp: Option<tempfile::TempDir>,
    root: PathBuf,
    pub members: Vec<Member>,
    /// Running processes by node id (index id - 1); `None` while stopped.
    pub nodes: Vec<Option<Node>>,
    settings: Settings,
    launch: Launch,
    /// Master key file names in each member's directory: the current one and the previous
    /// ones (`master.key` and none unless [`Cluster::set_master_key_files`] said otherwise).
    master_key_files: (String, Vec<String>),
}

impl Cluster {
    /// Starts `size` nodes in a temporary directory and waits until every one is ready.
    pub fn start(size: u64, settings: Settings) -> Result<Cluster> {
        Cluster::start_in(None, size, settings, Launch::test()?)
    }

    /// As [`Cluster::start`], under `root` if given (kept afterwards) and with `launch`'s
    /// binary and log filter.
    pub fn start_in(
        root: Option<&Path>,
        size: u64,
        settings: Settings,
        launch: Launch,
    ) -> Result<Cluster> {
        let (temp, root) = match root {
            Some(root) => {
                std::fs::create_dir_all(root)?;
                (None, root.to_path_buf())
            }
            None => {
                let temp = tempfile::tempdir()?;
                let path = temp.path().to_path_buf();
                (Some(temp), path)
            }
        };
        let mut cluster = Cluster {
            _temp: temp,
            root,
            members: Vec::new(),
            nodes: Vec::new(),
            settings,
            launch,
            master_key_files: ("master.key".into(), Vec::new()),
        };
        for id in 1..=size {
            cluster.add_member(id)?;
        }
        for id in 1..=size {
            let node = cluster.spawn(id, if id == 1 { "init" } else { "serve" })?;
            cluster.nodes.push(Some(node));
        }
        for node in cluster.nodes.iter().flatten() {
            node.wait_ready(Duration::from_secs(30))?;
        }
        Ok(cluster)
    }

    /// The bootstrap admin token's file (node 1 ran `init`); good on every node.
    pub fn admin_token_file(&self) -> Result<PathBuf> {
        Ok(self.config(1)?.data_dir.join("admin-token"))
    }

    /// The directory holding every member's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The settings it was started with.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// From the next (re)start on, every node reads its master key from `current` and its
    /// previous ones from `previous`, file names in its own directory (a master key
    /// rotation). The files are the caller's to write.
    pub fn set_master_key_files(&mut self, current: &str, previous: &[&str]) {
        self.master_key_files = (
            current.to_string(),
            previous.iter().map(|p| p.to_string()).collect(),
        );
    }

    /// Reserves ports and a directory for node `id` (not started).
    pub fn add_member(&mut self, id: u64) -> Result<()> {
        self.members.push(Member {
            id,
            http_port: free_port()?,
            raft_port: free_port()?,
            dir: self.root.join(format!("node{id}")),
        });
        Ok(())
    }

    /// Member `id`.
    pub fn member(&self, id: u64) -> Result<&Member> {
        self.members
            .iter()
            .find(|m| m.id == id)
            .with_context(|| format!("no member {id}"))
    }

    /// Node `id`'s config: its addresses, every member as a peer, the cluster's settings.
    /// The cluster is plaintext on loopback, so the config says `insecure_plaintext = true`
    /// (a node refuses more than one peer without `[tls]` otherwise).
    pub fn config(&self, id: u64) -> Result<NodeConfig> {
        let me = self.member(id)?;
        let s = self.settings;
        let mut config = NodeConfig::single(&me.dir, id, me.http_port);
        config.master_key_file = me.dir.join(&self.master_key_files.0);
        config.previous_master_key_files = self
            .master_key_files
            .1
            .iter()
            .map(|name| me.dir.join(name))
            .collect();
        config.raft_addr = Some(me.raft_addr());
        config.insecure_plaintext = self.members.len() > 1;
        config.min_free_space = s.min_free_mib.map(|mib| format!("{mib}MiB"));
        config.peers = self
            .members
            .iter()
            .map(|m| PeerConfig {
                id: m.id,
                raft_addr: m.raft_addr(),
                http_addr: m.http_addr(),
            })
            .collect();
        if s.node_defaults {
            return Ok(config);
        }
        config.raft = RaftConfig {
            heartbeat_ms: Some(s.heartbeat_ms),
            election_timeout_min_ms: Some(s.election_min_ms),
            election_timeout_max_ms: Some(s.election_max_ms),
            snapshot_after_entries: Some(s.snapshot_after),
            entries_kept_after_snapshot: Some(s.keep_after_snapshot),
            clock_interval_ms: Some(s.clock_interval_ms),
            max_entry_bytes: Some(s.max_entry_bytes),
            link_mb_per_s: Some(s.link_mb_per_s),
        };
        config.testing.engine_wal = Some(s.engine_wal);
        Ok(config)
    }

    fn spawn(&self, id: u64, subcommand: &str) -> Result<Node> {
        let member = self.member(id)?;
        let mut launch = self.launch.clone();
        launch.args = vec![subcommand.to_string()];
        // Node 1 ran `init`: its bootstrap admin token is good on every node.
        launch.admin_token_file = Some(self.admin_token_file()?);
        if self.settings.fault_injection {
            launch.args.push("--enable-fault-injection".into());
        }
        if self.settings.log_to_files {
            launch.log_file = Some(member.dir.join("node.log"));
            std::fs::create_dir_all(&member.dir)?;
        }
        Node::launch(&member.dir, self.config(id)?, &launch)
    }

    /// (Re)starts node `id` with `serve`.
    pub fn restart(&mut self, id: u64) -> Result<()> {
        let node = self.spawn(id, "serve")?;
        let index = (id - 1) as usize;
        while self.nodes.len() <= index {
            self.nodes.push(None);
        }
        self.nodes[index] = Some(node);
        Ok(())
    }

    /// Node `id`, if its process runs (not stopped or killed).
    pub fn node(&self, id: u64) -> Result<&Node> {
        self.nodes
            .get((id - 1) as usize)
            .and_then(Option::as_ref)
            .filter(|n| n.is_running())
            .with_context(|| format!("node {id} is not running"))
    }

    /// As [`Cluster::node`], mutable.
    pub fn node_mut(&mut self, id: u64) -> Result<&mut Node> {
        self.nodes
            .get_mut((id - 1) as usize)
            .and_then(Option::as_mut)
            .filter(|n| n.is_running())
            .with_context(|| format!("node {id} is not running"))
    }

    /// Takes node `id`'s process out of the cluster (dropping it kills it).
    pub fn take(&mut self, id: u64) -> Option<Node> {
        self.nodes.get_mut((id - 1) as usize).and_then(Option::take)
    }

    /// The running nodes.
    pub fn running(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten().filter(|n| n.is_running())
    }

    /// The ids of the running nodes.
    pub fn running_ids(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.as_ref().is_some_and(Node::is_running))
            .map(|(i, _)| i as u64 + 1)
            .collect()
    }

    /// The leader a majority of all members name (and which runs), waiting up to
    /// `within`: unlike [`Cluster::leader`], a member that was removed, or is paused or
    /// down, does not hold the answer up.
    pub fn majority_leader(&self, within: Duration) -> Result<u64> {
        let deadline = Instant::now() + within;
        loop {
            let views: Vec<u64> = self
                .running()
                .filter(|n| !n.is_paused())
                .filter_map(|n| n.leader())
                .collect();
            let majority = self.members.len() / 2 + 1;
            for candidate in &views {
                if views.iter().filter(|v| *v == candidate).count() >= majority
                    && self.node(*candidate).is_ok_and(|n| !n.is_paused())
                {
                    return Ok(*candidate);
                }
            }
            if Instant::now() > deadline {
                bail!("no leader named by a majority: {views:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The leader's id as the running nodes agree on it, waiting up to `within`.
    pub fn leader(&self, within: Duration) -> Result<u64> {
        let deadline = Instant::now() + within;
        loop {
            let views: Vec<Option<u64>> = self
                .running()
                .filter(|n| !n.is_paused())
                .map(|n| n.leader())
                .collect();
            if let Some(Some(first)) = views.first() {
                if views.iter().all(|v| *v == Some(*first)) && self.node(*first).is_ok() {
                    return Ok(*first);
                }
            }
            if Instant::now() > deadline {
                bail!("no agreed leader: {views:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every running node reports the same applied index and checksum. Fails
    /// at once if two replicas at the same applied index report different checksums: they
    /// have diverged, and waiting will not mend it.
    pub fn wait_converged(&self, within: Duration) -> Result<(u64, String)> {
        let deadline = Instant::now() + within;
        loop {
            let sums: Vec<Value> = self
                .running()
                .map(|n| {
                    n.get("/v1/admin/checksum")
                        .map(|(_, v)| v)
                        .unwrap_or(Value::Null)
                })
                .collect();
            for a in &sums {
                for b in &sums {
                    if a["applied_index"].is_u64()
                        && a["applied_index"] == b["applied_index"]
                        && a["checksum"] != b["checksum"]
                    {
                        bail!("replicas at the same applied index disagree: {sums:?}");
                    }
                }
            }
            let first = sums.first().context("no node is running")?;
            if first["checksum"].is_string() && sums.iter().all(|s| s == first) {
                return Ok((
                    first["applied_index"].as_u64().unwrap_or(0),
                    first["checksum"].as_str().unwrap_or("").to_string(),
                ));
            }
            if Instant::now() > deadline {
                bail!("replicas did not converge: {sums:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The voters' ids as node `via` reports them.
    pub fn voters(&self, via: u64) -> Result<Vec<u64>> {
        let (_, status) = self.node(via)?.get("/v1/admin/cluster")?;
        Ok(status["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter(|m| m["role"] != "learner")
                    .filter_map(|m| m["id"].as_u64())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Asks node `via` to add member `id` (learner, then voter once caught up).
    pub fn add_node(&self, via: u64, id: u64) -> Result<(u16, Value)> {
        let member = self.member(id)?;
        self.node(via)?.post_json(
            "/v1/admin/cluster/nodes",
            &json!({"id": id, "addr": member.raft_addr(), "http_addr": member.http_addr()}),
        )
    }

    /// Asks node `via` to remove member `id` from the cluster.
    pub fn remove_node(&self, via: u64, id: u64) -> Result<(u16, Value)> {
        self.node(via)?
            .delete(&format!("/v1/admin/cluster/nodes/{id}"))
    }
}
