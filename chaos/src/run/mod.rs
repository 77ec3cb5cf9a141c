//! `sightline-chaos run`: a cluster of real processes, a concurrent workload, a seeded
//! schedule of faults, and after healing the checks that decide the verdict:
//!
//! 1. every acknowledged read present exactly once on every node (none **lost**, none
//!    **duplicated**), no batch **partly** present anywhere, nothing present that was never
//!    sent, every batch of unknown outcome whole or absent alike on every node;
//! 2. the replicas' checksums equal at an equal applied index;
//! 3. each register history linearizable, decided by stateright's
//!    [`LinearizabilityTester`](stateright::semantics::LinearizabilityTester);
//! 4. nothing wrong seen live: a linearizable search that missed an acknowledged batch, a
//!    node that would not start again or exited on its own.
//!
//! The seed fixes the fault schedule (kinds, targets, holds, gaps) and every client's
//! choices; thread interleavings and timing are the machine's, so a replay reproduces the
//! same run up to scheduling. The modules: [`workload`] (the clients), [`nemesis`] (the
//! faults), [`history`] (what was recorded), [`check`] (the verdict).

pub mod check;
pub mod history;
pub mod nemesis;
pub mod workload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::client::Client;
use crate::cluster::{Cluster, Settings};
use crate::process::{sightline_binary, Launch, TEST_MASTER_KEY_HEX};
use check::{BatchVerdict, RegisterVerdict};
use history::History;
use nemesis::{Inflicted, Schedule};
use workload::Shared;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub nodes: u64,
    pub duration: Duration,
    pub seed: u64,
    /// The `sightline` binary (default: [`sightline_binary`]).
    pub binary: Option<PathBuf>,
    /// Where the nodes' directories, logs and `report.json` go.
    pub dir: PathBuf,
    pub writers: u64,
    pub register_clients: u64,
}

impl RunOptions {
    /// Three nodes, three writers, three register clients.
    pub fn new(duration: Duration, seed: u64, dir: &Path) -> RunOptions {
        RunOptions {
            nodes: 3,
            duration,
            seed,
            binary: None,
            dir: dir.to_path_buf(),
            writers: 3,
            register_clients: 3,
        }
    }
}

/// The replicas' checksums after healing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChecksumVerdict {
    pub equal: bool,
    pub applied_index: u64,
    pub detail: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub seed: u64,
    pub nodes: u64,
    pub duration_s: f64,
    pub faults: Vec<Inflicted>,
    pub faults_by_kind: BTreeMap<&'static str, usize>,
    pub batches: BatchVerdict,
    pub registers: RegisterVerdict,
    /// Linearizable searches made during the run, and how many were answered.
    pub searches: (u64, u64),
    pub checksums: ChecksumVerdict,
    pub violations: Vec<String>,
}

impl Report {
    /// Whether the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// Faults that happened as planned.
    pub fn faults_inflicted(&self) -> usize {
        self.faults.iter().filter(|f| f.ok).count()
    }

    /// The human-readable summary `sightline-chaos run` prints.
    pub fn render(&self) -> String {
        let b = &self.batches;
        let r = &self.registers;
        let mut out = String::new();
        out.push_str(&format!(
            "sightline-chaos run --nodes {} --duration {}s --seed {}\n\n",
            self.nodes, self.duration_s as u64, self.seed
        ));
        out.push_str(&format!(
            "faults: {} inflicted of {} planned, {} kinds\n",
            self.faults_inflicted(),
            self.faults.len(),
            self.faults_by_kind.len()
        ));
        for (kind, n) in &self.faults_by_kind {
            out.push_str(&format!("  {kind:<14} {n}\n"));
        }
        for f in self.faults.iter().filter(|f| !f.ok) {
            out.push_str(&format!(
                "  (not inflicted: {} on node {} at {} ms: {})\n",
                f.kind.name(),
                f.target,
                f.at_ms,
                f.note
            ));
        }
        out.push_str(&format!(
            "\noperations: {} batches ({} acknowledged, {} unknown of which {} applied, {} refused), {} register operations on {} registers, {} linearizable searches ({} answered)\n",
            b.batches, b.acknowledged_batches, b.unknown_batches, b.unknown_present,
            b.not_applied_batches, r.operations, r.registers, self.searches.0, self.searches.1
        ));
        out.push_str(&format!(
            "acknowledged reads: {}\nlost: {}\nduplicated: {}\npartial batches: {}\nnever sent: {}\nunanswered: {}\ndivergent: {}\n",
            b.acknowledged_reads, b.lost, b.duplicated, b.partial, b.phantom, b.unanswered, b.divergent
        ));
        out.push_str(&format!(
            "checksums: {} at applied index {}\n",
            if self.checksums.equal {
                "equal"
            } else {
                "DIFFERENT"
            },
            self.checksums.applied_index
        ));
        out.push_str(&format!(
            "registers: {} linearizable, {} not, {} undecided, {} unchecked\n",
            r.linearizable, r.not_linearizable, r.inconclusive, r.unchecked
        ));
        if !self.violations.is_empty() {
            out.push_str(&format!("\nviolations ({}):\n", self.violations.len()));
            for v in self.violations.iter().take(30) {
                let v: String = v.chars().take(400).collect();
                out.push_str(&format!("  - {v}\n"));
            }
        }
        out.push_str(&format!(
            "\nverdict: {}\n",
            if self.passed() { "PASS" } else { "FAIL" }
        ));
        out
    }
}

/// Runs the workload under faults for `options.duration`, heals, checks, and writes
/// `report.json` under `options.dir`.
pub fn run(options: &RunOptions) -> Result<Report> {
    let binary = match &options.binary {
        Some(binary) => binary.clone(),
        None => sightline_binary()?,
    };
    let launch = Launch {
        binary,
        args: Vec::new(),
        rust_log: std::env::var("SIGHTLINE_CHAOS_LOG")
            .unwrap_or_else(|_| "warn,openraft=error".into()),
        log_file: None,
        master_key_hex: TEST_MASTER_KEY_HEX.into(),
        admin_token_file: None,
    };
    let settings = Settings {
        fault_injection: true,
        log_to_files: true,
        // Snapshots and log purges happen many times a run.
        snapshot_after: 300,
        keep_after_snapshot: 100,
        clock_interval_ms: 2_000,
        ..Settings::default()
    };
    let mut cluster = Cluster::start_in(Some(&options.dir), options.nodes, settings, launch)
        .context("starting the cluster")?;
    cluster
        .node(1)?
        .create_tenant(workload::TENANT, 30)
        .context("creating the workload's tenant")?;

    let admin_token = cluster.admin_token_file()?;
    let clients: Vec<Client> = cluster
        .members
        .iter()
        .map(|m| {
            Client::with_timeout(format!("http://{}", m.http_addr()), Duration::from_secs(12))
                .acting_with(&admin_token)
        })
        .collect();
    let history = Arc::new(History::default());
    let shared = Shared::new(clients, history.clone(), options.seed);
    shared.create_first_register()?;

    let mut problems = Vec::new();
    let mut inflicted = Vec::new();
    let started = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        let shared = &shared;
        for w in 0..options.writers {
            scope.spawn(move || workload::writer(shared, w));
        }
        for c in 0..options.register_clients {
            scope.spawn(move || workload::register_client(shared, c));
        }
        scope.spawn(move || workload::searcher(shared));
        let result = (|| -> Result<()> {
            std::thread::sleep(Duration::from_secs(2));
            let mut schedule = Schedule::new(options.seed, options.nodes);
            while started.elapsed() < options.duration {
                let Some(planned) = schedule.next() else {
                    break;
                };
                let fault = nemesis::inflict(&mut cluster, &planned, started, &mut problems)?;
                eprintln!(
                    "[{:>6} ms] {} on node {}{}",
                    fault.at_ms,
                    fault.kind.name(),
                    fault.target,
                    if fault.ok {
                        String::new()
                    } else {
                        format!(" (not inflicted: {})", fault.note)
                    }
                );
                inflicted.push(fault);
                for id in cluster.running_ids() {
                    if let Some(status) = cluster.node_mut(id)?.exited() {
                        problems.push(format!("node {id} exited on its own ({status})"));
                        let _ = nemesis::restart(&mut cluster, id, &mut problems);
                    }
                }
                std::thread::sleep(Duration::from_millis(planned.gap_ms));
            }
            Ok(())
        })();
        shared.stop.store(true, Ordering::Relaxed);
        result
    })?;
    let duration_s = started.elapsed().as_secs_f64();
    eprintln!("healing and checking");

    let mut violations = problems;
    nemesis::heal(&mut cluster, &mut violations).context("healing the cluster")?;
    let checksums = match cluster.wait_converged(Duration::from_secs(120)) {
        Ok((applied_index, sum)) => ChecksumVerdict {
            equal: true,
            applied_index,
            detail: sum,
        },
        Err(e) => {
            violations.push(format!("checksums: {e:#}"));
            ChecksumVerdict {
                equal: false,
                applied_index: 0,
                detail: format!("{e:#}"),
            }
        }
    };
    let batches = history
        .batches
        .lock()
        .map(|b| b.clone())
        .unwrap_or_default();
    let batch_verdict = check::check_batches(&cluster, &batches, &mut violations);
    let registers: Vec<_> = history
        .registers
        .lock()
        .map(|r| r.clone().into_iter().collect())
        .unwrap_or_default();
    let register_verdict = check::check_registers(&registers, &mut violations);
    if let Ok(live) = history.live_violations.lock() {
        violations.extend(live.iter().cloned());
    }
    let mut faults_by_kind = BTreeMap::new();
    for f in inflicted.iter().filter(|f| f.ok) {
        *faults_by_kind.entry(f.kind.name()).or_insert(0) += 1;
    }
    let report = Report {
        seed: options.seed,
        nodes: options.nodes,
        duration_s,
        faults: inflicted,
        faults_by_kind,
        batches: batch_verdict,
        registers: register_verdict,
        searches: history.searches.lock().map(|s| *s).unwrap_or_default(),
        checksums,
        violations,
    };
    std::fs::write(
        options.dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    for node in cluster.nodes.iter_mut().flatten() {
        let _ = node.stop();
    }
    Ok(report)
}

/// Parses `120s`, `2m`, `1h` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 120s, 2m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("2d").is_err());
        assert!(parse_duration("s").is_err());
    }
}
