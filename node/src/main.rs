//! `sightline`: the one binary of Sightline. This crate owns the command line, the node
//! configuration, wiring storage, the command log and the HTTP API together, and the demo
//! with its synthetic data. It holds no storage, query or protocol logic of its own.

mod admin_cli;
mod audit_cli;
mod cluster;
mod config;
mod demo;
mod demo_data;
mod https;
mod import_cli;
mod raft_metrics;
mod server;
mod token_cli;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sightline",
    version,
    about = "Sightline: a replicated data lake and search service for public-safety sensor data"
)]
struct Cli {
    /// `text` (for a terminal) or `json` (one object per line, for log shippers).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Commands,
}

/// How logs are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Sightline's own crates log at info; libraries (openraft logs every election at info,
/// hyper, h2, tantivy) at warn, unless `RUST_LOG` asks for more.
const DEFAULT_LOG_FILTER: &str = "warn,sightline=info,sightline_api=info,sightline_raft=info,\
     sightline_storage=info,sightline_query=info,sightline_index=info";

#[derive(Subcommand)]
enum Commands {
    /// Run a single-node cluster with a demo tenant and a synthetic day of data.
    Demo {
        /// Where the demo keeps its data, keys and tokens.
        #[arg(long, default_value = "sightline-demo")]
        data_dir: PathBuf,
        /// Address of the HTTP API.
        #[arg(long, default_value = "127.0.0.1:7700")]
        http: std::net::SocketAddr,
        /// Start empty: create the tenant but load no synthetic data.
        #[arg(long)]
        no_data: bool,
    },
    /// Run one node from a configuration file.
    Serve {
        /// The TOML configuration (see docs/operations.md).
        #[arg(long)]
        config: PathBuf,
        /// Serve `POST /v1/admin/faults` (drop or delay replication traffic, skew the
        /// clock). For chaos testing only.
        #[arg(long)]
        enable_fault_injection: bool,
    },
    /// A thin client over the admin API.
    Admin {
        #[command(subcommand)]
        command: admin_cli::AdminCommand,
    },
    /// Import plate reads from an NDJSON or CSV file through the ingest API, with progress;
    /// bad lines are listed with their reasons, and a second run adds nothing.
    Import(import_cli::ImportArgs),
    /// Sign tokens locally with the cluster's key (from a node's configuration).
    Token {
        #[command(subcommand)]
        command: token_cli::TokenCommand,
    },
    /// Form a new cluster of the configured peers on this node, then serve.
    Init {
        /// The TOML configuration (see docs/operations.md).
        #[arg(long)]
        config: PathBuf,
        /// See `serve --enable-fault-injection`.
        #[arg(long)]
        enable_fault_injection: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let command = match cli.command {
        Commands::Admin { command } => return admin_cli::run(command),
        Commands::Token { command } => return token_cli::run(command),
        Commands::Import(args) => std::process::exit(import_cli::run(args)?),
        other => other,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Commands::Demo {
                data_dir,
                http,
                no_data,
            } => demo::run(data_dir, http, !no_data).await,
            Commands::Serve {
                config,
                enable_fault_injection,
            } => {
                let config = config::Config::load(&config, |key| std::env::var(key).ok())?;
                server::serve(config, false, enable_fault_injection).await
            }
            Commands::Init {
                config,
                enable_fault_injection,
            } => {
                let config = config::Config::load(&config, |key| std::env::var(key).ok())?;
                server::serve(config, true, enable_fault_injection).await
            }
            Commands::Admin { .. } | Commands::Token { .. } | Commands::Import(_) => {
                unreachable!("handled before the runtime starts")
            }
        }
    })
}
