//! `sightline admin audit verify`: recomputes every audit chain and prints, per log, `OK`
//! with the entry count or the first broken link. Exit status 0 when every chain verifies,
//! 2 when one is broken, 1 when verification could not run.
//!
//! - `--config C`: opens the node's current engine directory (under `data_dir`) read-only
//!   and walks the chains there; no key is needed (the hashes cover the sealed bytes). Meant
//!   for a stopped node (or a copy of its data directory). On a running node it reads a
//!   consistent view as of the moment it opens, but RocksDB may delete a file it is reading
//!   in a compaction: rerun, or use `--url`.
//! - `--url U --token-file F`: asks a running node (`GET /v1/admin/audit/verify`) with an
//!   auditor or admin token; the node recomputes the chains on its own copy. Plain HTTP only
//!   in this build (the client has no TLS).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// What to verify.
pub struct VerifyArgs {
    pub config: Option<PathBuf>,
    pub url: Option<String>,
    pub token_file: Option<PathBuf>,
    pub tenant: Option<String>,
}

/// Runs the verification; returns the process exit status.
pub fn verify(args: VerifyArgs) -> Result<i32> {
    match (&args.config, &args.url) {
        (Some(config), None) => verify_config(config, args.tenant.as_deref()),
        (None, Some(url)) => verify_url(url, args.token_file.as_deref(), args.tenant.as_deref()),
        _ => bail!("give either --config (a node's data directory) or --url (a running node)"),
    }
}

fn verify_config(config: &Path, tenant: Option<&str>) -> Result<i32> {
    let config = crate::config::Config::load(config, |key| std::env::var(key).ok())?;
    let dir = sightline_raft::current_engine_dir(&config.data_dir)
        .with_context(|| format!("finding the engine under {}", config.data_dir.display()))?;
    let reports = sightline_storage::audit::verify_dir(&dir, tenant)
        .with_context(|| format!("reading the audit logs in {}", dir.display()))?;
    println!("audit logs of {}", dir.display());
    let mut broken = 0;
    for report in &reports {
        println!("{report}");
        if !report.ok() {
            broken += 1;
        }
    }
    Ok(summary(reports.len(), broken))
}

fn summary(logs: usize, broken: usize) -> i32 {
    if broken > 0 {
        println!("FAILED: {broken} of {logs} audit logs are broken");
        2
    } else {
        println!("all {logs} audit logs verify");
        0
    }
}

fn verify_url(url: &str, token_file: Option<&Path>, tenant: Option<&str>) -> Result<i32> {
    let token_file = token_file.context("--url needs --token-file (an auditor or admin token)")?;
    let token = std::fs::read_to_string(token_file)
        .with_context(|| format!("reading {}", token_file.display()))?;
    let mut path = format!("{}/v1/admin/audit/verify", url.trim_end_matches('/'));
    if let Some(tenant) = tenant {
        path.push_str(&format!("?tenant={tenant}"));
    }
    let response = ureq::get(&path)
        .set("Authorization", &format!("Bearer {}", token.trim()))
        .call();
    let body: Value = match response {
        Ok(r) => serde_json::from_str(&r.into_string().context("reading the answer")?)
            .context("the answer is not JSON")?,
        Err(ureq::Error::Status(code, r)) => {
            let body: Value = r
                .into_string()
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null);
            bail!("{path} answered {code}: {}", body["error"]["message"]);
        }
        Err(e) => bail!("{path}: {e}"),
    };
    let logs = body["logs"].as_array().cloned().unwrap_or_default();
    let mut broken = 0;
    for log in &logs {
        let name = log["tenant"].as_str().unwrap_or("?");
        match log["broken"].as_object() {
            None => println!(
                "{name}: OK, {} entries (seq {}..{}), head {}",
                log["entries"],
                log["first_seq"],
                log["next_seq"],
                log["head_hash"].as_str().unwrap_or("-")
            ),
            Some(b) => {
                broken += 1;
                println!(
                    "{name}: BROKEN at seq {}: {} ({} entries verified before it)",
                    b["seq"],
                    b["message"].as_str().unwrap_or("?"),
                    log["entries"]
                );
            }
        }
    }
    Ok(summary(logs.len(), broken))
}
