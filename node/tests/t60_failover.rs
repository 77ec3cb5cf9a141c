//! SIGKILL the leader during continuous ingest: a new leader serves writes within 5 s, and
//! every batch acknowledged before or after the kill is present exactly once after the old
//! leader returns.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::{ndjson, now_ms, read_json};
use common::{Cluster, Settings};

const BATCH: usize = 200;

#[test]
fn leader_sigkill_during_ingest_loses_and_duplicates_nothing() -> Result<()> {
    // Election timeouts of 300-600 ms, heartbeats every 50 ms.
    let mut cluster = Cluster::start(3, Settings::default())?;
    cluster.node(1)?.create_tenant("city", 30)?;
    let urls: Vec<String> = cluster.running().map(|n| n.url.clone()).collect();
    let bearer = format!("Bearer {}", cluster.node(1)?.token_for("city", "ingest")?);
    let acked = Arc::new(Mutex::new(Vec::<(usize, Instant)>::new()));
    let sent = Arc::new(Mutex::new(Vec::<usize>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let now = now_ms();

    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (urls, bearer, acked, sent, stop) = (
                urls.clone(),
                bearer.clone(),
                acked.clone(),
                sent.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(15))
                    .build();
                let mut n = w;
                while !stop.load(Ordering::Relaxed) && n < 30_000 {
                    let reads: Vec<_> = (0..BATCH)
                        .map(|i| {
                            read_json(None, "cam-3", now - i as i64 * 1000, &format!("FO{n:05}"))
                        })
                        .collect();
                    sent.lock().map(|mut s| s.push(n)).ok();
                    // Round-robin over every node, the leader included.
                    let url = &urls[n % urls.len()];
                    let answer = agent
                        .post(&format!("{url}/v1/tenants/city/reads"))
                        .set("Content-Type", "application/x-ndjson")
                        .set("Authorization", &bearer)
                        .send_string(&ndjson(&reads));
                    if matches!(answer, Ok(ref r) if r.status() == 200) {
                        acked.lock().map(|mut a| a.push((n, Instant::now()))).ok();
                    } else {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    n += 3;
                }
            })
        })
        .collect();

    let count =
        |acked: &Arc<Mutex<Vec<(usize, Instant)>>>| acked.lock().map(|a| a.len()).unwrap_or(0);
    let wait_for = |target: usize| -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(&acked) < target {
            anyhow::ensure!(
                Instant::now() < deadline,
                "ingest stalled at {} acknowledged batches",
                count(&acked)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    };
    wait_for(30)?;
    let old_leader = cluster.leader(Duration::from_secs(5))?;
    let mut killed = cluster.take(old_leader).context("leader process")?;
    let before_kill = count(&acked);
    killed.kill();
    let killed_at = Instant::now();
    wait_for(before_kill + 30)?;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }

    // The first acknowledgement after the kill came from the new leader's term.
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    let first_after = acked
        .iter()
        .map(|(_, t)| *t)
        .filter(|t| *t > killed_at)
        .min()
        .context("no write after the kill")?;
    let outage = first_after - killed_at;
    eprintln!("writes resumed {outage:?} after SIGKILL of leader {old_leader}");
    assert!(
        outage < Duration::from_secs(5),
        "writes resumed only after {outage:?}"
    );
    let new_leader = cluster.leader(Duration::from_secs(5))?;
    assert_ne!(new_leader, old_leader);

    cluster.restart(old_leader)?;
    cluster
        .node(old_leader)?
        .wait_ready(Duration::from_secs(30))?;
    cluster.wait_converged(Duration::from_secs(30))?;
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let acked_ids: std::collections::HashSet<usize> = acked.iter().map(|(n, _)| *n).collect();
    eprintln!(
        "{} batches sent, {} acknowledged",
        sent.len(),
        acked_ids.len()
    );
    for node in cluster.running() {
        for n in &sent {
            let total = node.plate_total("city", &format!("FO{n:05}"), true)? as usize;
            if acked_ids.contains(n) {
                assert_eq!(
                    total, BATCH,
                    "{}: acknowledged batch {n} has {total} reads",
                    node.url
                );
            } else {
                assert!(
                    total == 0 || total == BATCH,
                    "{}: batch {n} is partial: {total}",
                    node.url
                );
            }
        }
    }
    Ok(())
}
