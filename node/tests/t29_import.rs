//! `sightline import` (issue 18, acceptance 4) against a node of the release binary: a
//! 1,000,000-line NDJSON file with 100 bad lines of five kinds imports the other 999,900
//! reads, names exactly the 100 lines with a reason each (exit status 2), and a second run
//! of the same file adds nothing (every read is a duplicate by its derived id); the node's
//! read statistics count 999,900 reads after both runs.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use common::{now_ms, read_json, Cluster, Settings};
use serde_json::{json, Value};
use sightline_chaos::sightline_binary;

const TENANT: &str = "importcity";
const LINES: u64 = 1_000_000;

/// The bad line planted at 1-based line `line`, if any: five kinds, 20 of each.
fn bad_line(line: u64) -> Option<String> {
    if line % 10_000 != 7 {
        return None;
    }
    Some(match (line / 10_000) % 5 {
        0 => "{\"camera_id\": \"cam-1\", \"plate\": ".to_string(),
        1 => json!({"camera_id": "cam-1", "captured_at": "2026-12-01T00:00:00Z", "lat": 41.9, "lon": -87.6}).to_string(),
        2 => json!({"camera_id": "cam-1", "captured_at": "2026-12-01T00:00:00Z", "plate": "BAD1", "lat": 141.9, "lon": -87.6}).to_string(),
        3 => json!({"camera_id": "cam-1", "captured_at": "yesterday-ish", "plate": "BAD2", "lat": 41.9, "lon": -87.6}).to_string(),
        _ => "[\"not\", \"an\", \"object\"]".to_string(),
    })
}

/// Runs the importer: (exit status, its JSON summary).
fn import(url: &str, token: &str, file: &std::path::Path) -> Result<(i32, Value)> {
    let started = Instant::now();
    let output = std::process::Command::new(sightline_binary()?)
        .args([
            "import", "--tenant", TENANT, "--output", "json", "--url", url, "--token", token,
        ])
        .arg(file)
        .env("RUST_LOG", "error")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("import printed no JSON summary; stderr: {stderr}"))?;
    eprintln!(
        "import: {} in {:?} ({} lines on stderr)",
        json!({"imported": summary["imported"], "duplicates": summary["duplicates"], "rejected": summary["rejected"]}),
        started.elapsed(),
        stderr.lines().filter(|l| l.starts_with("line ")).count()
    );
    ensure!(
        stderr.lines().filter(|l| l.starts_with("line ")).count() == 100,
        "stderr names each refused line once: {stderr}"
    );
    Ok((output.status.code().unwrap_or(-1), summary))
}

/// Reads the node counts for the tenant over the last two days.
fn counted(cluster: &Cluster) -> Result<u64> {
    let (status, answer) = cluster.node(1)?.post_json(
        &format!("/v1/tenants/{TENANT}/stats/reads"),
        &json!({"from": "now-2d", "to": "now+1h", "step_s": 86_400, "group_by": "camera"}),
    )?;
    ensure!(status == 200, "stats: {answer}");
    Ok(answer["buckets"]
        .as_array()
        .context("buckets")?
        .iter()
        .filter_map(|b| b["reads"].as_u64())
        .sum())
}

#[test]
fn a_million_lines_with_100_bad_import_the_rest_and_a_second_run_adds_nothing() -> Result<()> {
    let cluster = Cluster::start(1, Settings::default())?;
    cluster.leader(Duration::from_secs(10))?;
    cluster.node(1)?.create_tenant(TENANT, 30)?;
    let token = cluster.node(1)?.token_for(TENANT, "ingest")?;
    let url = cluster.node(1)?.url("");
    let url = url.trim_end_matches('/');

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("reads.ndjson");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let now = now_ms();
    let mut planted = BTreeSet::new();
    for line in 1..=LINES {
        match bad_line(line) {
            Some(bad) => {
                planted.insert(line);
                writeln!(file, "{bad}")?;
            }
            None => {
                let read = read_json(
                    None,
                    &format!("cam-{}", line % 20),
                    now - (line as i64) * 100,
                    &format!("IM{:05}", line % 50_000),
                );
                writeln!(file, "{read}")?;
            }
        }
    }
    file.flush()?;
    drop(file);
    ensure!(planted.len() == 100);

    for run in 1..=2 {
        let (status, summary) = import(url, &token, &path)?;
        ensure!(
            status == 2,
            "run {run}: exit status {status} with refused lines"
        );
        ensure!(summary["lines"] == LINES, "run {run}: {summary}");
        ensure!(summary["rejected"] == 100, "run {run}: {summary}");
        let named: BTreeSet<u64> = summary["rejects"]
            .as_array()
            .context("rejects")?
            .iter()
            .filter_map(|r| {
                let reason = r["reason"].as_str().unwrap_or("");
                (!reason.is_empty()).then(|| r["line"].as_u64()).flatten()
            })
            .collect();
        ensure!(named == planted, "run {run}: named {named:?}");
        let (imported, duplicates) = if run == 1 { (999_900, 0) } else { (0, 999_900) };
        ensure!(
            summary["imported"] == imported && summary["duplicates"] == duplicates,
            "run {run}: {}",
            json!({"imported": summary["imported"], "duplicates": summary["duplicates"]})
        );
        let count = counted(&cluster)?;
        ensure!(count == 999_900, "run {run}: the node counts {count} reads");
    }
    Ok(())
}
