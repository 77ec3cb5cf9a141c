//! `sightline admin ...`: a thin client over the admin API (`--url`, env `SIGHTLINE_URL`;
//! `--token`, env `SIGHTLINE_TOKEN`; `--output json` for scripts). Plain HTTP only in this
//! build (the client has no TLS): run it on the node's host against a loopback address.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

/// How answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One human sentence.
    Text,
    /// The API's JSON answer.
    Json,
}

/// Where the admin API is and who calls it.
#[derive(Debug, Args)]
pub struct Target {
    /// The node's HTTP API.
    #[arg(long, env = "SIGHTLINE_URL", default_value = "http://127.0.0.1:7700")]
    pub url: String,
    /// A bearer token (a cluster admin's, or for `--tenant` that tenant's admin).
    #[arg(long, env = "SIGHTLINE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

/// `sightline admin` commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Rotate a tenant's data key (`--tenant T`) or the master key (`--master`, after every
    /// node runs with the new key as master_key_file and the old one as previous).
    RotateKey {
        /// The tenant whose data key gets a new version.
        #[arg(long, conflicts_with = "master", required_unless_present = "master")]
        tenant: Option<String>,
        /// Rewrap every wrapped key under the nodes' new master key.
        #[arg(long)]
        master: bool,
        #[command(flatten)]
        target: Target,
    },
    /// The hash-chained audit logs.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

/// `sightline admin audit` commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every audit chain and name the first broken link of each (exit status 2
    /// when one is broken).
    Verify {
        /// A node's configuration: its data directory is opened read-only (stop the node
        /// first, or verify a copy; see docs/security.md).
        #[arg(long, conflicts_with = "url")]
        config: Option<PathBuf>,
        /// Or a running node's HTTP API (plain HTTP), which verifies its own copy.
        #[arg(long, requires = "token_file")]
        url: Option<String>,
        /// With --url: a file holding an auditor or admin token.
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Only this tenant's log (`_cluster`: the cluster log).
        #[arg(long)]
        tenant: Option<String>,
    },
}

fn post(target: &Target, path: &str) -> Result<Value> {
    if !target.url.starts_with("http://") {
        bail!(
            "--url {} must be an http:// address: this client has no TLS (use curl --cacert for HTTPS)",
            target.url
        );
    }
    let url = format!("{}{path}", target.url.trim_end_matches('/'));
    let mut request = ureq::post(&url)
        .timeout(Duration::from_secs(30))
        .set("Content-Type", "application/json");
    if let Some(token) = &target.token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = match request.send_string("{}") {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e).with_context(|| format!("POST {url}")),
    };
    let status = response.status();
    let text = response.into_string().context("reading the answer")?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("POST {url} answered {status} with no JSON"))?;
    if status >= 400 {
        let message = value["error"]["message"].as_str().unwrap_or("no message");
        bail!("POST {url} answered {status}: {message}");
    }
    Ok(value)
}

/// Runs one admin command, printing its answer.
pub fn run(command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Audit {
            command:
                AuditCommand::Verify {
                    config,
                    url,
                    token_file,
                    tenant,
                },
        } => {
            let status = crate::audit_cli::verify(crate::audit_cli::VerifyArgs {
                config,
                url,
                token_file,
                tenant,
            })?;
            std::process::exit(status);
        }
        AdminCommand::RotateKey {
            tenant,
            master,
            target,
        } => {
            let (answer, sentence) = match (tenant, master) {
                (Some(tenant), false) => {
                    let answer = post(&target, &format!("/v1/admin/tenants/{tenant}/keys/rotate"))?;
                    let sentence = format!(
                        "tenant {tenant}: new records are sealed with key version {}",
                        answer["key_version"]
                    );
                    (answer, sentence)
                }
                _ => {
                    let answer = post(&target, "/v1/admin/keys/rotate-master")?;
                    let sentence = format!(
                        "{} wrapped keys are wrapped by master key {}{}",
                        answer["rewrapped"],
                        answer["master_key"].as_str().unwrap_or("?"),
                        if answer["changed"] == true {
                            ""
                        } else {
                            " (nothing had to change)"
                        }
                    );
                    (answer, sentence)
                }
            };
            match target.output {
                Output::Json => println!("{answer}"),
                Output::Text => println!("{sentence}"),
            }
            Ok(())
        }
    }
}
