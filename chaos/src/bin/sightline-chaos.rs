//! `sightline-chaos run --nodes 3 --duration 120s --seed S`: breaks a cluster of real
//! `sightline` processes on purpose while clients write and read, then checks that nothing
//! acknowledged was lost. Exits 1 on any violation. See docs/operations.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use sightline_chaos::run::{parse_duration, run, RunOptions};

#[derive(Parser)]
#[command(
    name = "sightline-chaos",
    about = "Fault injection against a sightline cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a workload under a seeded fault schedule and check the outcome.
    Run {
        /// Nodes in the cluster (at least 3).
        #[arg(long, default_value_t = 3)]
        nodes: u64,
        /// How long faults are inflicted (120s, 2m, 1h).
        #[arg(long, default_value = "120s", value_parser = parse_duration)]
        duration: Duration,
        /// The seed of the fault schedule and the clients; random if not given.
        #[arg(long)]
        seed: Option<u64>,
        /// The sightline binary (default: the one built beside this one).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Directory for the nodes' data, logs and report.json (default: a new temporary
        /// directory, kept when the run fails).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Concurrent ingest clients.
        #[arg(long, default_value_t = 3)]
        writers: u64,
        /// Concurrent register clients.
        #[arg(long, default_value_t = 3)]
        register_clients: u64,
    },
}

fn main() -> Result<ExitCode> {
    let Command::Run {
        nodes,
        duration,
        seed,
        binary,
        dir,
        writers,
        register_clients,
    } = Cli::parse().command;
    anyhow::ensure!(
        nodes >= 3,
        "--nodes must be at least 3 (faults take one node away)"
    );
    let seed = seed.unwrap_or_else(rand::random);
    let (dir, temp) = match dir {
        Some(dir) => (dir, None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("sightline-chaos-")
                .tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    eprintln!(
        "seed {seed}; nodes, logs and report under {}",
        dir.display()
    );
    let options = RunOptions {
        nodes,
        duration,
        seed,
        binary,
        dir: dir.clone(),
        writers,
        register_clients,
    };
    let report = run(&options)?;
    println!("{}", report.render());
    if report.passed() {
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(temp) = temp {
        let kept = temp.keep();
        eprintln!("kept {} for inspection", kept.display());
    }
    eprintln!(
        "replay: sightline-chaos run --nodes {nodes} --duration {}s --seed {seed}",
        duration.as_secs()
    );
    Ok(ExitCode::from(1))
}
