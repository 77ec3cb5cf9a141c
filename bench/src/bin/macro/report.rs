//! The printed table and the JSON report.

use super::*;

pub(crate) fn row(out: &mut String, figure: &str, measured: &str, target: &str, postgres: &str) {
    out.push_str(&format!(
        "{figure:<44} {measured:>26}  {target:>12}  {postgres:>15}\n"
    ));
}

pub(crate) struct Report<'a> {
    pub(crate) source: Source,
    pub(crate) args: &'a Args,
    pub(crate) machine: Machine,
    pub(crate) date: String,
    pub(crate) load_before: Option<[f64; 3]>,
    pub(crate) load_after: Option<[f64; 3]>,
    pub(crate) reads: usize,
    pub(crate) sightline: SightlineResult,
    pub(crate) baseline: Option<(BaselineResult, BaselineResult, BaselineResult)>,
    pub(crate) baseline_opts: (BaselineOptions, BaselineOptions, BaselineOptions),
    pub(crate) phases: Option<phases::PhaseReport>,
    /// Other processes' CPU over the whole run and over the baseline loops.
    pub(crate) run_cpu: Option<CpuUse>,
    pub(crate) baseline_cpu: Option<CpuUse>,
}

impl Report<'_> {
    pub(crate) fn bytes_per_read(&self) -> f64 {
        self.sightline.disk.total as f64 / self.reads.max(1) as f64
    }

    pub(crate) fn ratio(&self) -> Option<f64> {
        self.baseline
            .as_ref()
            .map(|(sync, _, _)| self.sightline.ingest.reads_per_s() / sync.reads_per_s())
    }

    /// How busy everything else kept the machine while each figure was taken.
    pub(crate) fn contention(&self) -> String {
        let s = &self.sightline;
        let phases = [
            ("ingest", s.ingest.cpu),
            ("search", s.search.cpu),
            ("search after compaction", s.search_compacted.cpu),
            ("follower search", s.search_follower.cpu),
            ("search mix, busiest class", s.mix.busiest()),
            ("baseline", self.baseline_cpu),
            ("whole run", self.run_cpu),
        ];
        let parts: Vec<String> = phases
            .iter()
            .filter_map(|(name, cpu)| {
                cpu.map(|c| format!("{name} {:.2} (steal {:.1} s)", c.others_cores(), c.steal))
            })
            .collect();
        format!(
            "other processes' CPU, in cores busy on average: {}",
            parts.join(", ")
        )
    }

    pub(crate) fn table(&self) -> String {
        let s = &self.sightline;
        let load = |l: Option<[f64; 3]>| {
            l.map_or("?".into(), |l| {
                format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])
            })
        };
        let mut out = format!(
            "Sightline macro benchmark, {} reads, {}\nserver {} (sha256 {:.16}), workspace {}{}\n{} ({} CPUs, AES-NI+CLMUL {}), {:.1} GiB\n\
             load average (1/5/15 min) before {}, after {} (the run's own work included)\n{}\n\n",
            fmt_int(self.reads as f64),
            self.date,
            self.source.binary.display(),
            self.source.sha256,
            self.source.git,
            if self.source.dirty.is_empty() {
                String::new()
            } else {
                format!(" (uncommitted: {})", self.source.dirty.join(", "))
            },
            self.machine.cpu_model,
            self.machine.cpus,
            if self.machine.aes_ni { "yes" } else { "no" },
            self.machine.mem_bytes as f64 / (1u64 << 30) as f64,
            load(self.load_before),
            load(self.load_after),
            self.contention(),
        );
        row(&mut out, "figure", "measured", "target", "PostgreSQL");
        row(
            &mut out,
            &format!(
                "durable ingest, HTTP, {} clients × {}-read batches",
                self.args.clients,
                fmt_int(self.args.batch as f64)
            ),
            &format!("{} reads/s", fmt_int(s.ingest.reads_per_s())),
            "≥ 130,000",
            "13,400 (COPY)",
        );
        if let Some((sync, nosync, sorted)) = &self.baseline {
            row(
                &mut out,
                "baseline loop, fsync'd WAL",
                &format!("{} reads/s", fmt_int(sync.reads_per_s())),
                "",
                "",
            );
            row(
                &mut out,
                "baseline loop, no WAL sync",
                &format!("{} reads/s", fmt_int(nosync.reads_per_s())),
                "",
                "",
            );
            row(
                &mut out,
                "baseline loop, fsync'd, batches sorted by key",
                &format!("{} reads/s", fmt_int(sorted.reads_per_s())),
                "",
                "",
            );
        }
        if let Some(ratio) = self.ratio() {
            row(
                &mut out,
                "ingest ratio Sightline / baseline (fsync)",
                &format!("{ratio:.2}×"),
                "",
                "",
            );
        }
        for (name, r, target, postgres) in [
            (
                "exact plate p50/p99/max, HTTP",
                &s.search,
                "p99 ≤ 1.4 ms",
                "1.1 / 7.1 ms",
            ),
            ("  same, after compaction", &s.search_compacted, "", ""),
            (
                "  after compaction, consistency follower",
                &s.search_follower,
                "",
                "",
            ),
            (
                "  in-process, no HTTP, cold cache",
                &s.search_in_process,
                "",
                "",
            ),
            (
                "  in-process, no HTTP, warm cache",
                &s.search_in_process_warm,
                "",
                "",
            ),
        ] {
            row(
                &mut out,
                name,
                &format!(
                    "{:.3} / {:.3} / {:.3} ms",
                    r.latency.p50_ms, r.latency.p99_ms, r.latency.max_ms
                ),
                target,
                postgres,
            );
        }
        for (name, r) in [
            ("HTTP", &s.search),
            ("HTTP after compaction", &s.search_compacted),
            ("HTTP follower", &s.search_follower),
            ("in-process cold", &s.search_in_process),
            ("in-process warm", &s.search_in_process_warm),
        ] {
            let parts: Vec<String> = r
                .by_hits
                .iter()
                .filter_map(|(bucket, summary)| {
                    summary
                        .map(|x| format!("{bucket} ×{}: {:.3}/{:.3}", x.count, x.p50_ms, x.p99_ms))
                })
                .collect();
            out.push_str(&format!(
                "    p50/p99 ms by first-page size, {name}: {}\n",
                parts.join("; ")
            ));
        }
        row(
            &mut out,
            "  HTTP floor: GET /healthz p50/p99/max",
            &format!(
                "{:.3} / {:.3} / {:.3} ms",
                s.healthz.p50_ms, s.healthz.p99_ms, s.healthz.max_ms
            ),
            "",
            "",
        );
        row(
            &mut out,
            "bytes on disk per read (after compaction)",
            &format!("{:.1} B", self.bytes_per_read()),
            "≤ 200 B",
            "408 B",
        );
        row(
            &mut out,
            "  of which SST files",
            &format!("{:.1} B", s.disk.sst as f64 / self.reads.max(1) as f64),
            "",
            "",
        );
        let per_read = |bytes: u64| bytes as f64 / self.reads.max(1) as f64;
        let parts: Vec<String> = s
            .disk_parts
            .iter()
            .filter(|(_, size)| per_read(size.total) >= 0.05)
            .map(|(name, size)| format!("{name} {:.1}", per_read(size.total)))
            .collect();
        out.push_str(&format!(
            "  bytes per read by directory: {}\n",
            parts.join(", ")
        ));
        for (db, families) in &s.databases {
            let families: Vec<String> = families
                .iter()
                .filter(|f| f.sst_bytes > 0)
                .map(|f| format!("{} {:.1}", f.name, per_read(f.sst_bytes)))
                .collect();
            if !families.is_empty() {
                out.push_str(&format!(
                    "  SST bytes per read in {db}: {}\n",
                    families.join(", ")
                ));
            }
        }
        out.push_str(&format!(
            "\ningest: {:.1} s; batch latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            s.ingest.elapsed.as_secs_f64(),
            s.ingest.batches.p50_ms,
            s.ingest.batches.p99_ms,
            s.ingest.batches.max_ms
        ));
        if let Some(cpu) = s.ingest.server_cpu_s {
            out.push_str(&format!(
                "; server CPU {:.1} s = {:.2} cores busy, {:.1} µs/read",
                cpu,
                cpu / s.ingest.elapsed.as_secs_f64().max(1e-9),
                cpu * 1e6 / s.ingest.reads.max(1) as f64
            ));
        }
        if let Some((_, written)) = s.ingest.server_io {
            out.push_str(&format!(
                "; {:.0} B/read written to disk during ingest",
                written as f64 / s.ingest.reads.max(1) as f64
            ));
        }
        out.push_str(&format!(
            "\nsearch: {} answers checked (total, page, plate, order, cursor), {} multi-page, {} absent plates; compaction took {:.1} s\n",
            s.search.checked + s.search_compacted.checked + s.search_follower.checked,
            s.search.multi_page + s.search_compacted.multi_page + s.search_follower.multi_page,
            s.search.absent + s.search_compacted.absent + s.search_follower.absent,
            s.compact.as_secs_f64()
        ));
        if let Some((sync, nosync, sorted)) = &self.baseline {
            out.push_str(&format!(
                "baseline: fsync'd {:.1} s ({:.1} s in write), unsynced {:.1} s ({:.1} s in write), sorted {:.1} s ({:.1} s in write); {:.1} B/read on disk (SST {})\n",
                sync.elapsed.as_secs_f64(),
                sync.write_time.as_secs_f64(),
                nosync.elapsed.as_secs_f64(),
                nosync.write_time.as_secs_f64(),
                sorted.elapsed.as_secs_f64(),
                sorted.write_time.as_secs_f64(),
                sync.disk.total as f64 / sync.reads.max(1) as f64,
                sync.families
                    .iter()
                    .filter(|f| f.sst_bytes > 0)
                    .map(|f| format!("{} {:.1}", f.name, f.sst_bytes as f64 / sync.reads.max(1) as f64))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(p) = &self.phases {
            out.push_str(&format!(
                "\nSightline write path in-process, one thread, {} reads in {} commands (µs per read):\n",
                fmt_int(p.reads as f64),
                p.batches
            ));
            for (name, us) in p.per_read() {
                out.push_str(&format!("  {name:<22} {us:>8.3}\n"));
            }
            out.push_str(&format!(
                "  {:<22} {:>8.3}  (one core: {} reads/s; apply alone: {} reads/s)\n",
                "before apply",
                p.cpu_micros_per_read(),
                fmt_int(1e6 / p.cpu_micros_per_read().max(1e-9)),
                fmt_int(p.reads as f64 / p.apply.as_secs_f64().max(1e-9))
            ));
            out.push_str(&format!(
                "  NDJSON {} B/read, sealed value {} B/read\n",
                p.json_bytes / p.reads.max(1) as u64,
                p.sealed_bytes / p.reads.max(1) as u64
            ));
        }
        out + &s.mix.table()
    }

    pub(crate) fn to_json(&self) -> Value {
        let s = &self.sightline;
        let ingest = &s.ingest;
        json!({
            "date": self.date,
            "machine": self.machine.to_json(),
            "load_average": {"before": self.load_before, "after": self.load_after},
            "other_processes_cpu": {
                "whole_run": self.run_cpu.map(|c| c.to_json()),
                "ingest": s.ingest.cpu.map(|c| c.to_json()),
                "search": s.search.cpu.map(|c| c.to_json()),
                "search_after_compaction": s.search_compacted.cpu.map(|c| c.to_json()),
                "search_follower": s.search_follower.cpu.map(|c| c.to_json()),
                "baseline": self.baseline_cpu.map(|c| c.to_json()),
            },
            "config": {
                "reads": self.reads, "batch": self.args.batch, "clients": self.args.clients,
                "searches_per_round": self.args.searches, "warmup": self.args.warmup,
                "seed": self.args.seed, "wait_quiet_s": self.args.wait_quiet,
            },
            "source": self.source.to_json(),
            "sightline": {
                "ingest": {
                    "reads": ingest.reads,
                    "seconds": round3(ingest.elapsed.as_secs_f64()),
                    "reads_per_s": ingest.reads_per_s().round(),
                    "batch_latency": ingest.batches.to_json(),
                    "server_cpu_seconds": ingest.server_cpu_s.map(round3),
                    "server_read_bytes": ingest.server_io.map(|io| io.0),
                    "server_write_bytes": ingest.server_io.map(|io| io.1),
                    "cpu": ingest.cpu.map(|c| c.to_json()),
                },
                "healthz": s.healthz.to_json(),
                "search": s.search.to_json(),
                "search_after_compaction": s.search_compacted.to_json(),
                "search_after_compaction_follower_consistency": s.search_follower.to_json(),
                "search_in_process_cold_cache": s.search_in_process.to_json(),
                "search_in_process_warm_cache": s.search_in_process_warm.to_json(),
                "search_mix": s.mix.to_json(),
                "compaction_seconds": round3(s.compact.as_secs_f64()),
                "disk_after_compaction": s.disk.to_json(self.reads),
                "disk_by_directory": s.disk_parts.iter()
                    .map(|(name, size)| (name.clone(), size.to_json(self.reads)))
                    .collect::<serde_json::Map<String, Value>>(),
                "databases": s.databases.iter()
                    .map(|(name, families)| (name.clone(), family_sizes_json(families, self.reads)))
                    .collect::<serde_json::Map<String, Value>>(),
                "engine_dir": s.engine_dir,
            },
            "baseline": self.baseline.as_ref().map(|(sync, nosync, sorted)| json!({
                "fsync_wal": sync.to_json(&self.baseline_opts.0),
                "no_wal_sync": nosync.to_json(&self.baseline_opts.1),
                "fsync_wal_sorted_batches": sorted.to_json(&self.baseline_opts.2),
            })),
            "ratio_ingest_sightline_over_baseline": self.ratio().map(round3),
            "phases": self.phases.as_ref().map(phases::PhaseReport::to_json),
            "targets": {
                "ingest_reads_per_s": TARGET_INGEST,
                "exact_plate_p99_ms": TARGET_P99_MS,
                "bytes_per_read": TARGET_BYTES_PER_READ,
                "met": {
                    "ingest": ingest.reads_per_s() >= TARGET_INGEST,
                    "exact_plate_p99": s.search.latency.p99_ms <= TARGET_P99_MS,
                    "bytes_per_read": self.bytes_per_read() <= TARGET_BYTES_PER_READ,
                },
            },
            "postgresql_here": {
                "ingest_copy_reads_per_s": PG_INGEST_COPY,
                "exact_plate_p50_ms": PG_P50_MS,
                "exact_plate_p99_ms": PG_P99_MS,
                "bytes_per_read": PG_BYTES_PER_READ,
            },
        })
    }
}
