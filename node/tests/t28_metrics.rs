//! `/metrics` on a three-node cluster of real processes (issue 18, acceptance 1): scraped on
//! every node while reads are being ingested through all three, each exposition passes
//! `promtool check metrics` (Debian's prometheus package, installed by `scripts/setup
//! --test`); afterwards each node's `sightline_ingest_records_total{kind="reads"}` grew by
//! exactly the reads it acknowledged and its applied index by at least one entry per
//! batch; the leader reports each follower's lag; no exposition holds a plate or a tenant
//! name.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use common::{ndjson, now_ms, read_json, Cluster, Settings};

const TENANT: &str = "metricscity";
const PLATE: &str = "T28MTR9";

/// One node's exposition.
fn scrape(cluster: &Cluster, id: u64) -> Result<String> {
    let response = ureq::get(&cluster.node(id)?.url("/metrics"))
        .timeout(Duration::from_secs(10))
        .call()?;
    ensure!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "content type {:?}",
        response.header("content-type")
    );
    Ok(response.into_string()?)
}

/// The value of the sample `name` (with its labels, as exposed), if present.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `promtool check metrics` on `text`: its complaints, if any.
fn promtool(text: &str) -> Result<()> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("promtool is not installed: run scripts/setup --test")?;
    child
        .stdin
        .take()
        .context("promtool's stdin")?
        .write_all(text.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

#[test]
fn metrics_pass_promtool_under_load_and_count_what_was_written() -> Result<()> {
    let cluster = Cluster::start(3, Settings::default())?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    cluster.node(leader)?.create_tenant(TENANT, 30)?;
    // Settle: every node has applied the tenant before the first figures are taken.
    for id in 1..=3 {
        cluster.node(id)?.wait_ready(Duration::from_secs(30))?;
    }
    let before: BTreeMap<u64, String> = (1..=3)
        .map(|id| Ok((id, scrape(&cluster, id)?)))
        .collect::<Result<_>>()?;

    let reads_metric = "sightline_ingest_records_total{kind=\"reads\"}";
    let applied_metric = "sightline_raft_applied_index";
    let (batches, per_batch) = (30u64, 200i64);
    let stop = AtomicBool::new(false);
    let mut sent: BTreeMap<u64, u64> = BTreeMap::new();
    let mut checked = 0;
    std::thread::scope(|scope| -> Result<()> {
        // Scrapes every node while the ingest runs, and checks each exposition.
        let scraper = scope.spawn(|| -> Result<usize> {
            let mut checked = 0;
            while !stop.load(Ordering::Relaxed) || checked < 3 {
                for id in 1..=3 {
                    promtool(&scrape(&cluster, id)?)?;
                    checked += 1;
                }
            }
            Ok(checked)
        });
        let now = now_ms();
        for batch in 0..batches {
            let node = batch % 3 + 1;
            let reads: Vec<_> = (0..per_batch)
                .map(|i| {
                    let at = now - (batch as i64 * per_batch + i) * 1_000;
                    read_json(None, &format!("cam-{}", i % 7), at, PLATE)
                })
                .collect();
            let (status, body) = cluster.node(node)?.ingest(TENANT, &ndjson(&reads))?;
            ensure!(status == 200, "batch {batch} through node {node}: {body}");
            *sent.entry(node).or_default() += per_batch as u64;
        }
        stop.store(true, Ordering::Relaxed);
        checked = scraper
            .join()
            .map_err(|_| anyhow::anyhow!("the scraper panicked"))??;
        Ok(())
    })?;

    for id in 1..=3 {
        let after = scrape(&cluster, id)?;
        promtool(&after)?;
        let grew = sample(&after, reads_metric).unwrap_or(0.0)
            - sample(&before[&id], reads_metric).unwrap_or(0.0);
        ensure!(
            grew as u64 == sent[&id],
            "node {id} acknowledged {} reads but its counter grew by {grew}",
            sent[&id]
        );
        let bytes = sample(&after, "sightline_ingest_bytes_total{kind=\"reads\"}").unwrap_or(0.0);
        ensure!(
            bytes > (sent[&id] * 100) as f64,
            "node {id}: {bytes} ingest bytes"
        );
        let applied = sample(&after, applied_metric).context("applied index")?
            - sample(&before[&id], applied_metric).context("applied index")?;
        ensure!(
            applied >= batches as f64,
            "node {id}: applied index grew by {applied} over {batches} batches"
        );
        ensure!(sample(&after, "sightline_raft_term").unwrap_or(0.0) >= 1.0);
        let requests = "sightline_http_request_duration_seconds_count{method=\"POST\",\
            route=\"/v1/tenants/{tenant}/reads\",status=\"200\"}";
        ensure!(
            sample(&after, requests).unwrap_or(0.0) >= (batches / 3) as f64,
            "node {id}: no ingest requests counted: {after}"
        );
        ensure!(
            !after.contains(PLATE) && !after.contains(TENANT),
            "node {id} exposes a plate or a tenant name"
        );
        for metric in [
            "sightline_engine_sst_bytes",
            "sightline_engine_write_stopped",
            "sightline_engine_running_compactions",
            "sightline_raft_commit_index",
            "sightline_audit_entries_appended_total",
            "sightline_raft_leader_changes_total",
        ] {
            ensure!(sample(&after, metric).is_some(), "node {id} lacks {metric}");
        }
        let is_leader = sample(&after, "sightline_raft_is_leader") == Some(1.0);
        ensure!(
            is_leader == (id == leader),
            "node {id}: is_leader {is_leader}"
        );
        if is_leader {
            for follower in (1..=3).filter(|f| *f != id) {
                let lag =
                    format!("sightline_raft_replication_lag_entries{{follower=\"{follower}\"}}");
                ensure!(sample(&after, &lag).is_some(), "leader lacks {lag}");
            }
        }
    }
    eprintln!(
        "{checked} expositions passed promtool during the ingest of {} reads",
        batches as i64 * per_batch
    );
    Ok(())
}

/// The example alerting rules of docs/operations.md pass `promtool check rules`.
#[test]
fn the_example_alerting_rules_pass_promtool() -> Result<()> {
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/prometheus/sightline-rules.yml"
    );
    let output = Command::new("promtool")
        .args(["check", "rules", rules])
        .output()
        .context("promtool is not installed: run scripts/setup --test")?;
    ensure!(
        output.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
