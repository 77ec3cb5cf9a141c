//! Durable ingest over HTTP from client threads, timed batch by batch.

use super::*;

pub(crate) struct IngestResult {
    pub(crate) cpu: Option<CpuUse>,
    pub(crate) reads: usize,
    pub(crate) elapsed: Duration,
    pub(crate) batches: Summary,
    pub(crate) server_cpu_s: Option<f64>,
    pub(crate) server_io: Option<(u64, u64)>,
}

impl IngestResult {
    pub(crate) fn reads_per_s(&self) -> f64 {
        self.reads as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

pub(crate) fn ingest(server: &Server, bodies: &[String], clients: usize) -> Result<IngestResult> {
    let sizes: Vec<usize> = bodies.iter().map(|b| b.lines().count()).collect();
    let url = server.url(&format!("/v1/tenants/{TENANT}/reads"));
    let bearer = server.bearer(TENANT, "ingest")?;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let pid = server.pid();
    let (cpu0, io0) = (process_cpu_seconds(pid), process_io_bytes(pid));
    let meter = CpuMeter::start(&[std::process::id(), pid]);
    let started = Instant::now();
    let per_client: Vec<Result<Vec<Duration>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<Vec<Duration>> {
                    let client = agent(Duration::from_secs(600));
                    let mut latencies = Vec::new();
                    // Each index is taken once, so this ends after bodies.len() batches.
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let t = Instant::now();
                        let answer = client
                            .post(&url)
                            .set("Content-Type", "application/x-ndjson")
                            .set("Authorization", &bearer)
                            .send_string(body);
                        let checked = respond(answer).and_then(|(status, answer)| {
                            let accepted = answer["accepted"].as_u64();
                            let duplicates = answer["duplicates"].as_u64();
                            let ids = answer["ids"].as_array().map(Vec::len);
                            if status == 200
                                && accepted == Some(sizes[i] as u64)
                                && duplicates == Some(0)
                                && ids == Some(sizes[i])
                            {
                                Ok(())
                            } else {
                                let text = answer.to_string();
                                Err(anyhow!("batch {i}: {status} {:.300}", text))
                            }
                        });
                        if let Err(e) = checked {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                        latencies.push(t.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow!("ingest client panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let (cpu1, io1) = (process_cpu_seconds(pid), process_io_bytes(pid));
    let cpu = meter.stop(&[std::process::id(), pid]);
    let mut latencies = Vec::new();
    for client in per_client {
        latencies.extend(client?);
    }
    ensure!(
        latencies.len() == bodies.len(),
        "{} of {} batches acknowledged",
        latencies.len(),
        bodies.len()
    );
    Ok(IngestResult {
        cpu,
        reads: sizes.iter().sum(),
        elapsed,
        batches: Summary::of(&mut latencies).context("no batches")?,
        server_cpu_s: cpu0.zip(cpu1).map(|(a, b)| b - a),
        server_io: io0
            .zip(io1)
            .map(|((r0, w0), (r1, w1))| (r1.saturating_sub(r0), w1.saturating_sub(w0))),
    })
}

// ---------------------------------------------------------------------------------------
// Search
