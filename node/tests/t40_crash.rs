//! Crash safety: SIGKILL in the middle of a stream of acknowledged batches loses nothing
//! that was acknowledged and never leaves a batch half-written.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use common::{ndjson, now_ms, read_json, Node};
use serde_json::json;

const BATCH: usize = 400;

#[test]
fn sigkill_loses_no_acknowledged_batch_and_splits_none() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut node = Node::start(dir.path())?;
    node.create_tenant("crash", 30)?;
    let url = node.url.clone();
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let sent = Arc::new(Mutex::new(Vec::<usize>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let now = now_ms();

    let writers: Vec<_> = (0..3)
        .map(|writer| {
            let (url, acked, sent, stop) = (url.clone(), acked.clone(), sent.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = writer;
                while !stop.load(Ordering::Relaxed) {
                    // Every read of batch n carries plate CRASH{n}: one search counts the batch.
                    let reads: Vec<_> = (0..BATCH)
                        .map(|i| {
                            read_json(
                                None,
                                "cam-1",
                                now - (i as i64) * 1000,
                                &format!("CRASH{n:05}"),
                            )
                        })
                        .collect();
                    sent.lock().map(|mut s| s.push(n)).ok();
                    let answer = ureq::post(&format!("{url}/v1/tenants/crash/reads"))
                        .set("Content-Type", "application/x-ndjson")
                        .timeout(Duration::from_secs(10))
                        .send_string(&ndjson(&reads));
                    match answer {
                        Ok(r) if r.status() == 200 => {
                            acked.lock().map(|mut a| a.push(n)).ok();
                        }
                        _ => break,
                    }
                    n += 3;
                }
            })
        })
        .collect();

    // Let the stream run, then kill the node without warning.
    while acked.lock().map(|a| a.len()).unwrap_or(0) < 60 {
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    eprintln!(
        "{} batches sent, {} acknowledged before SIGKILL",
        sent.len(),
        acked.len()
    );

    let node = Node::start(dir.path())?;
    let mut in_flight_present = 0;
    for n in &sent {
        let (status, page) = node.post_json(
            "/v1/tenants/crash/search/plates",
            &json!({"plate": format!("CRASH{n:05}"), "limit": 1, "case_number": "T", "reason": "crash test"}),
        )?;
        assert_eq!(status, 200, "{page}");
        let total = page["total"].as_u64().unwrap_or(u64::MAX) as usize;
        if acked.contains(n) {
            assert_eq!(total, BATCH, "acknowledged batch {n} lost reads");
        } else {
            assert!(
                total == 0 || total == BATCH,
                "batch {n} is half-written: {total} of {BATCH}"
            );
            in_flight_present += usize::from(total == BATCH);
        }
    }
    eprintln!("{in_flight_present} unacknowledged in-flight batches were fully present");
    Ok(())
}
