//! A cluster of real `sightline` processes on loopback: node 1 runs `init`, the others
//! `serve`; each has its own data directory under one temp dir and short Raft timeouts.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::{free_port, Node};

/// Raft timing and snapshot policy of a test cluster.
#[derive(Clone, Copy)]
pub struct Timing {
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
    pub max_entry_bytes: usize,
    /// `[raft] link_mb_per_s`: loopback is fast, so tests keep short heartbeats.
    pub link_mb_per_s: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
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
        }
    }
}

pub struct Member {
    pub id: u64,
    pub http_port: u16,
    pub raft_port: u16,
    pub dir: PathBuf,
}

pub struct TestCluster {
    pub root: tempfile::TempDir,
    pub members: Vec<Member>,
    /// Running processes by node id (index id - 1); `None` while stopped.
    pub nodes: Vec<Option<Node>>,
    timing: Timing,
}

impl TestCluster {
    /// Starts `size` nodes and waits until every one is ready.
    pub fn start(size: u64, timing: Timing) -> Result<TestCluster> {
        let root = tempfile::tempdir()?;
        let mut cluster = TestCluster {
            root,
            members: Vec::new(),
            nodes: Vec::new(),
            timing,
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

    /// Reserves ports and a directory for node `id` (not started).
    pub fn add_member(&mut self, id: u64) -> Result<()> {
        self.members.push(Member {
            id,
            http_port: free_port()?,
            raft_port: free_port()?,
            dir: self.root.path().join(format!("node{id}")),
        });
        Ok(())
    }

    fn member(&self, id: u64) -> Result<&Member> {
        self.members
            .iter()
            .find(|m| m.id == id)
            .with_context(|| format!("no member {id}"))
    }

    /// The config lines every node shares (peers are the initial members 1..=3 at most).
    fn extra_config(&self, id: u64) -> Result<String> {
        let me = self.member(id)?;
        let peers: Vec<String> = self
            .members
            .iter()
            .map(|m| {
                format!(
                    "{{ id = {}, raft_addr = \"127.0.0.1:{}\", http_addr = \"127.0.0.1:{}\" }}",
                    m.id, m.raft_port, m.http_port
                )
            })
            .collect();
        let t = self.timing;
        Ok(format!(
            "raft_addr = \"127.0.0.1:{}\"\npeers = [ {} ]\n[raft]\nheartbeat_ms = {}\nelection_timeout_min_ms = {}\nelection_timeout_max_ms = {}\nsnapshot_after_entries = {}\nentries_kept_after_snapshot = {}\nclock_interval_ms = {}\nmax_entry_bytes = {}\nlink_mb_per_s = {}\n[testing]\nengine_wal = {}\n",
            me.raft_port,
            peers.join(", "),
            t.heartbeat_ms,
            t.election_min_ms,
            t.election_max_ms,
            t.snapshot_after,
            t.keep_after_snapshot,
            t.clock_interval_ms,
            t.max_entry_bytes,
            t.link_mb_per_s,
            t.engine_wal
        ))
    }

    fn spawn(&self, id: u64, subcommand: &str) -> Result<Node> {
        let member = self.member(id)?;
        let command = match self.timing.fault_injection {
            true => format!("{subcommand} --enable-fault-injection"),
            false => subcommand.to_string(),
        };
        Node::spawn(
            &member.dir,
            id,
            member.http_port,
            &self.extra_config(id)?,
            &command,
        )
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

    pub fn node(&self, id: u64) -> Result<&Node> {
        self.nodes
            .get((id - 1) as usize)
            .and_then(Option::as_ref)
            .with_context(|| format!("node {id} is not running"))
    }

    pub fn node_mut(&mut self, id: u64) -> Result<&mut Node> {
        self.nodes
            .get_mut((id - 1) as usize)
            .and_then(Option::as_mut)
            .with_context(|| format!("node {id} is not running"))
    }

    pub fn take(&mut self, id: u64) -> Option<Node> {
        self.nodes.get_mut((id - 1) as usize).and_then(Option::take)
    }

    pub fn running(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().flatten()
    }

    /// The leader's id as the running nodes agree on it, waiting up to `within`.
    pub fn leader(&self, within: Duration) -> Result<u64> {
        let deadline = Instant::now() + within;
        loop {
            let views: Vec<Option<u64>> = self
                .running()
                .map(|n| {
                    n.get("/v1/admin/cluster")
                        .ok()
                        .and_then(|(_, v)| v["leader"].as_u64())
                })
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
            let first = &sums[0];
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
}
