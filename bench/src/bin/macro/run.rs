//! One Sightline run: start the server, ingest, search, compact, search again, the mix, stop, measure.

use super::*;

pub(crate) struct SightlineResult {
    /// `GET /healthz` from the same kind of client: the floor any request pays.
    pub(crate) healthz: Summary,
    pub(crate) ingest: IngestResult,
    pub(crate) search: SearchResult,
    pub(crate) compact: Duration,
    /// The whole data directory after compaction.
    pub(crate) disk: DirSize,
    /// Its top-level entries (engine, Raft log, snapshots, ...), each measured alone.
    pub(crate) disk_parts: Vec<(String, DirSize)>,
    /// Every RocksDB database under the data directory with its column families, measured
    /// after the server stopped.
    pub(crate) databases: Vec<(String, Vec<FamilySize>)>,
    /// The storage engine's directory, relative to the data directory.
    pub(crate) engine_dir: String,
    pub(crate) search_compacted: SearchResult,
    /// After compaction, with `"consistency": "follower"` (no read barrier).
    pub(crate) search_follower: SearchResult,
    pub(crate) search_in_process: SearchResult,
    pub(crate) search_in_process_warm: SearchResult,
    pub(crate) mix: MixResult,
}

pub(crate) fn run_sightline(
    binary: &Path,
    dir: &Path,
    workload: &Workload,
    bodies: &[String],
    args: &Args,
) -> Result<SightlineResult> {
    let mut server = Server::start(binary, dir, &args.block_cache)?;
    progress(&format!(
        "server pid {} at {}",
        server.pid(),
        server.url("")
    ));
    server.create_tenant(TENANT, 30)?;
    let healthz = server.healthz_floor(1_000)?;

    progress(&format!(
        "ingesting {} reads in {} batches from {} clients",
        workload.len(),
        bodies.len(),
        args.clients
    ));
    let perf = |name: &str| -> Result<Option<PerfRecord>> {
        if !args.perf {
            return Ok(None);
        }
        Ok(Some(PerfRecord::start(
            server.pid(),
            &dir.join(format!("perf-{name}.data")),
        )?))
    };
    settle(args, "ingest", &[server.pid()]);
    let profile = perf("ingest")?;
    let ingest = ingest(&server, bodies, args.clients)?;
    save_profile(profile, "ingest", args)?;
    progress(&format!(
        "ingest: {:.0} reads/s ({:.1} s)",
        ingest.reads_per_s(),
        ingest.elapsed.as_secs_f64()
    ));

    progress(&format!(
        "{} + {} exact plate searches",
        args.warmup, args.searches
    ));
    settle(args, "the searches", &[server.pid()]);
    let profile = perf("search")?;
    let search = run_searches(&server, workload, args, args.seed ^ 1, None)?;
    save_profile(profile, "search", args)?;
    progress(&format!(
        "search: p50 {:.3} ms, p99 {:.3} ms",
        search.latency.p50_ms, search.latency.p99_ms
    ));

    progress("compacting");
    let t = Instant::now();
    let (status, answer) = server.call("POST", "/v1/admin/compact", None)?;
    ensure!(status == 200, "compact answered {status} {answer}");
    let compact = t.elapsed();
    let data_dir = server.data_dir();
    let disk = DirSize::of(&data_dir)?;
    let mut disk_parts = Vec::new();
    for entry in std::fs::read_dir(&data_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            disk_parts.push((name, DirSize::of(&entry.path())?));
        } else {
            let len = entry.metadata()?.len();
            disk_parts.push((
                name,
                DirSize {
                    total: len,
                    other: len,
                    files: 1,
                    ..DirSize::default()
                },
            ));
        }
    }
    disk_parts.sort_by_key(|part| std::cmp::Reverse(part.1.total));
    progress(&format!(
        "compacted in {:.1} s: {} bytes ({:.1} B/read)",
        compact.as_secs_f64(),
        disk.total,
        disk.total as f64 / workload.len().max(1) as f64
    ));

    settle(args, "the searches after compaction", &[server.pid()]);
    let profile = perf("search-compacted")?;
    let search_compacted = run_searches(&server, workload, args, args.seed ^ 2, None)?;
    save_profile(profile, "search-compacted", args)?;
    settle(args, "the follower-read searches", &[server.pid()]);
    let search_follower = run_searches(&server, workload, args, args.seed ^ 5, Some("follower"))?;
    progress(&format!(
        "search after compaction with \"consistency\": \"follower\": p50 {:.3} ms, p99 {:.3} ms",
        search_follower.latency.p50_ms, search_follower.latency.p99_ms
    ));
    progress(&format!(
        "search after compaction: p50 {:.3} ms, p99 {:.3} ms",
        search_compacted.latency.p50_ms, search_compacted.latency.p99_ms
    ));
    settle(args, "the search mix", &[server.pid()]);
    let profile = args
        .perf
        .then(|| args.out.clone().unwrap_or_else(default_out));
    let (warmup, seed) = (args.warmup.min(args.mix_searches), args.seed);
    let config = MixConfig {
        measured: args.mix_searches,
        warmup,
        seed,
        profile,
    };
    let mix = search_mix::run(&server, TENANT, workload, &config, now_ms())?;
    server.stop()?;

    let engine = engine_dir(&data_dir)?;
    let mut databases = Vec::new();
    for db in find_rocksdb_dirs(&data_dir)? {
        let name = db
            .strip_prefix(&data_dir)
            .unwrap_or(&db)
            .display()
            .to_string();
        databases.push((name, rocksdb_family_sizes(&db)?));
    }
    let (search_in_process, search_in_process_warm) = in_process_searches(&engine, workload, args)?;
    progress(&format!(
        "search in-process on the engine: p50 {:.3} ms, p99 {:.3} ms cold; {:.3} / {:.3} ms warm",
        search_in_process.latency.p50_ms,
        search_in_process.latency.p99_ms,
        search_in_process_warm.latency.p50_ms,
        search_in_process_warm.latency.p99_ms
    ));
    Ok(SightlineResult {
        healthz,
        ingest,
        search,
        compact,
        disk,
        disk_parts,
        databases,
        engine_dir: engine
            .strip_prefix(&data_dir)
            .unwrap_or(&engine)
            .display()
            .to_string(),
        search_compacted,
        search_follower,
        search_in_process,
        search_in_process_warm,
        mix,
    })
}

// ---------------------------------------------------------------------------------------
// Report
