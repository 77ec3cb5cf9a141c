//! Durable ingest load over HTTP: NDJSON batches sent from several client threads, each
//! batch once, for the benchmarks that measure a cluster from outside (`replicated`,
//! `alerts`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// Sends every batch of `batches` (NDJSON plate reads) to `url` (a tenant's `/reads`) from
/// `clients` threads, taking batches in order from a shared counter; calls `acked(i, at)`
/// when batch `i` was answered 200, at `at`. Returns (reads sent, time taken); fails on the
/// first answer that is not 200. Each request carries `token` (an ingest token).
pub fn send_batches(
    url: &str,
    token: &str,
    batches: Arc<Vec<String>>,
    clients: usize,
    acked: Arc<dyn Fn(usize, Instant) + Send + Sync>,
) -> Result<(usize, Duration)> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (url, bearer, batches, next, acked) = (
                url.to_string(),
                format!("Bearer {token}"),
                batches.clone(),
                next.clone(),
                acked.clone(),
            );
            std::thread::spawn(move || -> Result<usize> {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(120))
                    .build();
                let mut sent = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else {
                        return Ok(sent);
                    };
                    let response = agent
                        .post(&url)
                        .set("Content-Type", "application/x-ndjson")
                        .set("Authorization", &bearer)
                        .send_string(batch)?;
                    let at = Instant::now();
                    if response.status() != 200 {
                        bail!("ingest answered {}", response.status());
                    }
                    acked(i, at);
                    sent += batch.lines().count();
                }
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
    }
    Ok((total, started.elapsed()))
}
