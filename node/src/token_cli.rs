//! `sightline token create --config C --tenant T --role R --ttl 1h`: signs a token locally
//! with the cluster's signing key, read from the node's engine directory (opened read-only,
//! so the node may be running) and unwrapped with the node's master key, exactly as every
//! node signs `POST /v1/admin/tokens`. Prints the token alone on stdout (or, with `--output
//! json`, the same fields as the API's answer); the token text is never logged. The TTL is
//! bounded by the node's `max_token_ttl`; the tenant must exist (or be `*`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use sightline_api::auth::{self, Role};
use sightline_api::tokens::parse_ttl;

use crate::admin_cli::Output;

/// `sightline token` commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a token with the cluster's key, from a node's configuration.
    Create(CreateArgs),
}

/// `sightline token create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// A node's configuration (its data directory and master key).
    #[arg(long)]
    pub config: PathBuf,
    /// The tenant the token reaches, or `*` for every tenant.
    #[arg(long)]
    pub tenant: String,
    /// `ingest`, `investigator`, `analyst`, `auditor` or `admin`.
    #[arg(long)]
    pub role: String,
    /// Lifetime: `90s`, `15m`, `1h`, `1d` (at most the node's `max_token_ttl`).
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Who the token is for, as the audit log names them (default: `cli:$USER`).
    #[arg(long)]
    pub subject: Option<String>,
    /// `text` (the token alone) or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// Runs a `sightline token` command.
pub fn run(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create(args) => create(args),
    }
}

fn create(args: CreateArgs) -> Result<()> {
    let role = Role::parse(&args.role).with_context(|| {
        format!(
            "--role {:?} is not a role (ingest, investigator, analyst, auditor, admin)",
            args.role
        )
    })?;
    let ttl = parse_ttl(&args.ttl).with_context(|| {
        format!(
            "--ttl {:?} must be a positive duration such as 90s, 15m, 1h or 1d",
            args.ttl
        )
    })?;
    let config = crate::config::Config::load(&args.config, |key| std::env::var(key).ok())?;
    if ttl > config.max_token_ttl_ms {
        bail!(
            "--ttl {} is longer than this cluster's max_token_ttl ({} s)",
            args.ttl,
            config.max_token_ttl_ms / 1_000
        );
    }
    let master = crate::server::load_master_key(config.master_key_file.as_deref(), false)?;
    let master =
        crate::server::with_previous_master_keys(master, &config.previous_master_key_files)?;
    let dir = sightline_raft::current_engine_dir(&config.data_dir)
        .with_context(|| format!("finding the engine under {}", config.data_dir.display()))?;
    let stored = sightline_storage::engine::read_stored_auth(&dir, &master)
        .with_context(|| format!("reading the signing key in {}", dir.display()))?;
    let key = stored.signing_key.context(
        "the cluster has no signing key yet: start it with `sightline init` (or the demo) first",
    )?;
    if args.tenant != "*" && !stored.tenants.contains(&args.tenant) {
        bail!(
            "tenant {:?} does not exist on this node (create it with PUT /v1/admin/tenants/{})",
            args.tenant,
            args.tenant
        );
    }
    let subject = args.subject.unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    });
    let (token, claims) = auth::issue(&key, &subject, &args.tenant, role, Some(ttl));
    tracing::info!(id = %claims.jti, subject = %claims.sub, tenant = %claims.tenant,
        role = role.as_str(), "token issued locally");
    match args.output {
        Output::Text => println!("{token}"),
        Output::Json => println!("{}", sightline_api::tokens::token_json(&token, &claims)),
    }
    Ok(())
}
