//! Issue 14, acceptance 5: a node whose disk fills. Node 3's data directory is moved onto
//! a small tmpfs and the file system is filled. Node 3 then refuses writes with 507
//! `insufficient_storage` (its `min_free_space` floor), the other two keep accepting and
//! answering, and when replicated entries fill node 3's disk for good its Raft stops and the
//! process exits (its supervisor, here the test, restarts it). Once space is freed it
//! catches up with every acknowledged read.
//!
//! Needs root, to mount the tmpfs (the CI machine runs as root).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sightline_chaos::{ndjson, now_ms, read_json, Cluster, Settings};

/// A tmpfs mounted at a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs> {
        std::fs::create_dir_all(at)?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .context("running mount")?;
        if !status.success() {
            bail!(
                "mounting a tmpfs at {} failed (this test needs root)",
                at.display()
            );
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn available(dir: &Path) -> Result<u64> {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .context("df output")
}

/// A batch of `n` reads of `plate`, 1 KiB-ish each once sealed.
fn batch(plate: &str, n: usize) -> String {
    let now = now_ms();
    let reads: Vec<_> = (0..n)
        .map(|i| {
            read_json(
                None,
                &format!("cam-{}", i % 50),
                now - i as i64 * 1000,
                plate,
            )
        })
        .collect();
    ndjson(&reads)
}

#[test]
fn a_node_whose_disk_fills_refuses_writes_and_catches_up_once_space_is_freed() -> Result<()> {
    let settings = Settings {
        min_free_mib: Some(24),
        ..Settings::default()
    };
    let mut cluster = Cluster::start(3, settings)?;
    cluster.node(1)?.create_tenant("disk", 30)?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    let full = if leader == 3 { 2 } else { 3 };
    let healthy: Vec<u64> = (1..=3).filter(|id| *id != full).collect();

    // Move the node's data onto a 1 GiB tmpfs (memory is used only as it is written).
    let data = cluster.node(full)?.data_dir().to_path_buf();
    cluster.node_mut(full)?.stop()?;
    let aside = data.with_extension("aside");
    std::fs::rename(&data, &aside)?;
    let tmpfs = Tmpfs::mount(&data, "1g")?;
    copy_dir(&aside, &data)?;
    cluster.restart(full)?;
    cluster.node(full)?.wait_ready(Duration::from_secs(30))?;

    // Fill it, leaving less than the node's 24 MiB floor.
    let filler = data.join("filler");
    let fill = available(&data)?.saturating_sub(12 << 20);
    let status = Command::new("fallocate")
        .args(["-l", &fill.to_string()])
        .arg(&filler)
        .status()?;
    assert!(status.success(), "fallocate");

    // The full node refuses writes, clearly, and writes nothing.
    let (status, answer) = cluster.node(full)?.ingest("disk", &batch("FULL1", 10))?;
    assert_eq!(status, 507, "{answer}");
    assert_eq!(answer["error"]["code"], "insufficient_storage", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("min_free_space")),
        "{answer}"
    );
    assert_eq!(
        cluster
            .node(healthy[0])?
            .plate_total("disk", "FULL1", false)?,
        0
    );

    // The others accept writes and answer reads, while replication fills the node's disk:
    // its Raft log write fails, Raft stops, and the process exits.
    let mut acknowledged = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut exited = None;
    // RocksDB preallocates each WAL file (about 70 MB for the log store's), so the node
    // may take well over the 12 MiB left before a write meets the full disk.
    while exited.is_none() && acknowledged.len() < 400 && Instant::now() < deadline {
        let plate = format!("OK{}", acknowledged.len());
        let via = healthy[acknowledged.len() % healthy.len()];
        let (status, answer) = cluster.node(via)?.ingest("disk", &batch(&plate, 1_000))?;
        assert_eq!(status, 200, "node {via}: {answer}");
        acknowledged.push(plate);
        exited = cluster.node_mut(full)?.exited();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while exited.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        exited = cluster.node_mut(full)?.exited();
    }
    eprintln!(
        "node {full} exited ({exited:?}) after {} batches were acknowledged",
        acknowledged.len()
    );
    assert!(
        exited.is_some_and(|s| !s.success()),
        "the full node kept running with its disk full"
    );
    for id in &healthy {
        for plate in &acknowledged {
            assert_eq!(cluster.node(*id)?.plate_total("disk", plate, false)?, 1_000);
        }
    }

    // Space is freed; the node is started again and catches up with nothing lost.
    std::fs::remove_file(&filler)?;
    cluster.restart(full)?;
    cluster.node(full)?.wait_ready(Duration::from_secs(60))?;
    cluster.wait_converged(Duration::from_secs(60))?;
    for plate in &acknowledged {
        assert_eq!(
            cluster.node(full)?.plate_total("disk", plate, true)?,
            1_000,
            "{plate} on node {full}"
        );
    }
    // And it accepts writes again.
    let (status, answer) = cluster.node(full)?.ingest("disk", &batch("AFTER", 10))?;
    assert_eq!(status, 200, "{answer}");
    for id in 1..=3 {
        if let Ok(node) = cluster.node_mut(id) {
            node.kill();
        }
    }
    drop(tmpfs);
    Ok(())
}
