//! Exact plate searches: planned from the workload, timed over HTTP, every answer checked; and the same searches in-process on the stopped server's engine.

use super::*;

pub(crate) struct SearchResult {
    pub(crate) latency: Summary,
    /// Latency by the size of the first page: up to 20 hits, 21 to 99, a full page.
    pub(crate) by_hits: Vec<(&'static str, Option<Summary>)>,
    /// Every search run and checked, warm-up included.
    pub(crate) checked: usize,
    /// Hits returned over the measured searches.
    pub(crate) hits: u64,
    /// Measured searches whose total exceeded one page.
    pub(crate) multi_page: usize,
    /// Measured searches of plates with no reads.
    pub(crate) absent: usize,
    /// CPU use of everything else while the measured searches ran.
    pub(crate) cpu: Option<CpuUse>,
}

/// One planned search: the plate as sent, the normalized plate, the expected total.
pub(crate) type Planned = (String, String, u64);

pub(crate) fn plan_searches(
    workload: &Workload,
    warmup: usize,
    count: usize,
    seed: u64,
) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let with_reads = workload.plates_with_reads();
    let targets = workload.targets();
    let plates = workload.plates();
    let mut plan = Vec::with_capacity(warmup + count);
    for k in 0..warmup + count {
        let measured = k.checked_sub(warmup);
        let (plate, expected) = match measured {
            // Every 50th measured search is a target plate, every 200th an absent one.
            Some(m) if m % 50 == 7 && !targets.is_empty() => {
                let (p, c) = targets[(m / 50) % targets.len()];
                (plates[p].clone(), c)
            }
            Some(m) if m % 200 == 11 => (absent_plate(m), 0),
            _ => {
                let p = with_reads[rng.random_range(0..with_reads.len())];
                (plates[p].clone(), workload.count(p))
            }
        };
        // A third of the searches spell the plate as a person would type it.
        let sent = if rng.random_range(0..3) == 0 {
            let split = plate.len() / 2;
            format!("{}-{}", plate[..split].to_lowercase(), &plate[split..])
        } else {
            plate.clone()
        };
        plan.push((sent, plate, expected));
    }
    plan
}

pub(crate) fn check_answer(plate: &str, expected: u64, status: u16, answer: &Value) -> Result<u64> {
    ensure!(status == 200, "search for {plate}: {status} {answer}");
    let total = answer["total"].as_u64().context("total missing")?;
    ensure!(
        total == expected,
        "search for {plate}: total {total}, but {expected} reads were ingested"
    );
    let hits = answer["hits"].as_array().context("hits missing")?;
    ensure!(
        hits.len() as u64 == expected.min(PAGE),
        "search for {plate}: {} hits on the first page of {expected}",
        hits.len()
    );
    let mut last: Option<&str> = None;
    for hit in hits {
        ensure!(
            hit["plate"].as_str() == Some(plate),
            "search for {plate} returned {}",
            hit["plate"]
        );
        let at = hit["captured_at"].as_str().context("captured_at missing")?;
        ensure!(
            last.is_none_or(|l| l >= at),
            "search for {plate}: hits not newest first"
        );
        last = Some(at);
    }
    ensure!(
        answer["next_cursor"].is_string() == (expected > PAGE),
        "search for {plate}: next_cursor {} with {expected} hits",
        answer["next_cursor"]
    );
    Ok(hits.len() as u64)
}

/// Runs `plan` one search at a time through `one` (which checks the answer and returns the
/// latency and the hits of the first page); the first `warmup` are not measured.
pub(crate) fn search_loop(
    plan: &[Planned],
    warmup: usize,
    pids: &[u32],
    mut one: impl FnMut(&Planned) -> Result<(Duration, u64)>,
) -> Result<SearchResult> {
    let mut latencies = Vec::with_capacity(plan.len().saturating_sub(warmup));
    let mut buckets: [Vec<Duration>; 3] = Default::default();
    let (mut checked, mut hits_returned, mut multi_page, mut absent) = (0, 0, 0, 0);
    let mut meter = None;
    for (k, planned) in plan.iter().enumerate() {
        if k == warmup {
            meter = Some(CpuMeter::start(pids));
        }
        let (latency, hits) = one(planned)?;
        checked += 1;
        if k >= warmup {
            latencies.push(latency);
            buckets[match hits {
                0..=20 => 0,
                21..=99 => 1,
                _ => 2,
            }]
            .push(latency);
            hits_returned += hits;
            multi_page += usize::from(planned.2 > PAGE);
            absent += usize::from(planned.2 == 0);
        }
    }
    let [few, some, full] = buckets;
    Ok(SearchResult {
        latency: Summary::of(&mut latencies).context("no measured searches")?,
        by_hits: vec![
            ("0-20 hits", Summary::of(&mut few.clone())),
            ("21-99 hits", Summary::of(&mut some.clone())),
            ("100 hits", Summary::of(&mut full.clone())),
        ],
        checked,
        hits: hits_returned,
        multi_page,
        absent,
        cpu: meter.and_then(|m| m.stop(pids)),
    })
}

pub(crate) fn run_searches(
    server: &Server,
    workload: &Workload,
    args: &Args,
    seed: u64,
    consistency: Option<&str>,
) -> Result<SearchResult> {
    let url = server.url(&format!("/v1/tenants/{TENANT}/search/plates"));
    let client = agent(Duration::from_secs(10));
    let bearer = server.bearer(TENANT, "investigator")?;
    let plan = plan_searches(workload, args.warmup, args.searches, seed);
    let pids = [std::process::id(), server.pid()];
    search_loop(&plan, args.warmup, &pids, |(sent, plate, expected)| {
        let now = now_ms();
        let mut body = json!({
            "plate": sent, "from": format_rfc3339_ms(now - 30 * DAY_MS), "to": format_rfc3339_ms(now),
            "limit": PAGE, "case_number": "BENCH-0001", "reason": "macro benchmark",
        });
        if let Some(consistency) = consistency {
            body["consistency"] = consistency.into();
        }
        let body = body.to_string();
        let (status, text, latency) = timed_post(&client, &url, &bearer, &body)?;
        let answer: Value = serde_json::from_str(&text)
            .with_context(|| format!("search answer is not JSON: {text:.300}"))?;
        let hits = check_answer(plate, *expected, status, &answer)?;
        Ok((latency, hits))
    })
}

impl SearchResult {
    pub(crate) fn to_json(&self) -> Value {
        let by_hits: serde_json::Map<String, Value> = self
            .by_hits
            .iter()
            .map(|(name, s)| (name.to_string(), s.map_or(Value::Null, |s| s.to_json())))
            .collect();
        json!({
            "latency": self.latency.to_json(),
            "latency_by_first_page_hits": by_hits,
            "checked_answers": self.checked,
            "hits_returned": self.hits,
            "searches_with_more_than_one_page": self.multi_page,
            "searches_of_absent_plates": self.absent,
            "cpu": self.cpu.map(|c| c.to_json()),
        })
    }
}

/// The live storage engine under a node's data directory: the one `{data}/ENGINE` names,
/// else `engine-0` (nodes running through Raft), else `db` (the single-node layout).
pub(crate) fn engine_dir(data: &Path) -> Result<PathBuf> {
    if let Ok(name) = std::fs::read_to_string(data.join("ENGINE")) {
        return Ok(data.join(name.trim()));
    }
    ["engine-0", "db"]
        .iter()
        .map(|name| data.join(name))
        .find(|dir| dir.join("CURRENT").is_file())
        .with_context(|| format!("no storage engine under {}", data.display()))
}

/// The same kind of searches, run in this process straight on the engine (after the
/// server has stopped, on its data directory): what a search costs without HTTP, JSON and
/// the async runtime. Two rounds: the first on a cold block cache, the second warm.
pub(crate) fn in_process_searches(
    db: &Path,
    workload: &Workload,
    args: &Args,
) -> Result<(SearchResult, SearchResult)> {
    let engine = Engine::open(&EngineConfig::new(db), MasterKey::from_hex(MASTER_KEY_HEX)?)?;
    let tenant = engine.tenant(TENANT).context("tenant missing")?;
    let pids = [std::process::id()];
    let round = |seed: u64| {
        let plan = plan_searches(workload, args.warmup, args.searches, seed);
        search_loop(&plan, args.warmup, &pids, |(_, plate, expected)| {
            let now = now_ms();
            let query = ReadQuery {
                tenant: tenant.id,
                plate: Some(PlateMatch::Exact(plate.clone())),
                area: None,
                cameras: Vec::new(),
                vehicle: None,
                from: now - 30 * DAY_MS,
                to: now,
                limit: PAGE as usize,
                cursor: None,
            };
            let t = Instant::now();
            let page = search_reads(&engine, &query)?;
            let latency = t.elapsed();
            ensure!(
                page.total == *expected && page.hits.len() as u64 == (*expected).min(PAGE),
                "in-process search for {plate}: total {} and {} hits, expected {expected}",
                page.total,
                page.hits.len()
            );
            ensure!(
                page.hits.iter().all(|h| &h.plate == plate),
                "in-process search for {plate}: wrong plate"
            );
            Ok((latency, page.hits.len() as u64))
        })
    };
    let cold = round(args.seed ^ 3)?;
    let warm = round(args.seed ^ 4)?;
    Ok((cold, warm))
}

// ---------------------------------------------------------------------------------------
// Sightline end to end
