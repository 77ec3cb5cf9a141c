//! Tokens on a three-node cluster of real processes: `init` writes a signed bootstrap admin
//! token (mode 0600) once the cluster has its replicated signing key; every node verifies
//! tokens minted on any node; a revocation made through one node is refused by every node
//! (the test prints how long each took to refuse it) and stays refused across a restart;
//! `sightline token create` signs a token from a running node's configuration that every
//! node accepts, and refuses a bad role, a TTL past the maximum and an unknown tenant.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::{Cluster, Settings};
use serde_json::{json, Value};

/// Waits for `init`'s `{data_dir}/admin-token`.
fn admin_token(cluster: &Cluster) -> Result<String> {
    let path = cluster.node(1)?.data_dir().join("admin-token");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "admin-token mode");
            return Ok(text.trim().to_string());
        }
        if Instant::now() > deadline {
            bail!("{} was not written within 30 s", path.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mint_request(role: &str, tenant: &str) -> Value {
    json!({"subject": format!("t23-{role}"), "tenant": tenant, "role": role, "ttl": "1h"})
}

/// POSTs a token request through `node` as `token`, retrying while the node has not yet
/// applied the signing key (503).
fn mint(cluster: &Cluster, node: u64, token: &str, body: &Value) -> Result<(u16, Value)> {
    let client = cluster.node(node)?.with_token(token);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = client.post_json("/v1/admin/tokens", body)?;
        if answer.0 != 503 || Instant::now() > deadline {
            return Ok(answer);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `sightline token create --config CONFIG ARGS`: (exit code, stdout, stderr).
fn token_create(config: &std::path::Path, args: &[&str]) -> Result<(i32, String, String)> {
    let output = std::process::Command::new(sightline_chaos::sightline_binary()?)
        .args(["token", "create", "--config"])
        .arg(config)
        .args(args)
        .env("RUST_LOG", "error")
        .output()?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    ))
}

#[test]
fn tokens_verify_on_every_node_and_a_revocation_reaches_them_all() -> Result<()> {
    let mut cluster = Cluster::start(3, Settings::default())?;
    cluster.leader(Duration::from_secs(10))?;
    let bootstrap = admin_token(&cluster)?;
    cluster.node(1)?.create_tenant("city", 30)?;

    // The bootstrap token works on every node, and a token minted on one works on all.
    let mut ops = None;
    for id in 1..=3 {
        let (status, body) = mint(&cluster, id, &bootstrap, &mint_request("admin", "*"))?;
        assert_eq!(status, 201, "node {id}: {body}");
        ops.get_or_insert((
            body["token"].as_str().context("token")?.to_string(),
            body["id"].clone(),
        ));
    }
    let (ops, ops_id) = ops.context("minted")?;
    for id in 1..=3 {
        let (status, body) = mint(&cluster, id, &ops, &mint_request("investigator", "city"))?;
        assert_eq!(
            status, 201,
            "node {id} with a token minted on node 1: {body}"
        );
        let investigator = body["token"].as_str().context("token")?.to_string();
        let (status, _) = mint(&cluster, id, &investigator, &mint_request("ingest", "city"))?;
        assert_eq!(status, 403, "node {id}: an investigator may not mint");
        let (status, _) = cluster
            .node(id)?
            .anonymous()
            .post_json("/v1/admin/tokens", &mint_request("ingest", "city"))?;
        assert_eq!(status, 401, "node {id}: no token");
    }

    // `sightline token create` signs locally from a running node's configuration: the
    // token works on the other nodes; a bad role, a TTL past the maximum and an unknown
    // tenant are refused with a message naming them, printing no token.
    let config = cluster.member(2)?.dir.join("sightline.toml");
    let (code, local, _) = token_create(&config, &["--tenant", "city", "--role", "investigator"])?;
    assert_eq!(code, 0, "token create failed");
    for id in [1, 3] {
        let (status, body) = cluster.node(id)?.with_token(&local).post_json(
            "/v1/tenants/city/search/plates",
            &json!({"plate": "NOPE1", "case_number": "T23", "reason": "cli token"}),
        )?;
        assert_eq!(status, 200, "node {id} with a CLI-signed token: {body}");
    }
    let (status, _) = mint(&cluster, 1, &local, &mint_request("ingest", "city"))?;
    assert_eq!(status, 403, "a CLI-signed investigator token may not mint");
    for (args, names) in [
        (&["--tenant", "city", "--role", "boss"][..], "--role"),
        (
            &["--tenant", "city", "--role", "admin", "--ttl", "48h"][..],
            "--ttl",
        ),
        (&["--tenant", "nowhere", "--role", "admin"][..], "nowhere"),
    ] {
        let (code, stdout, stderr) = token_create(&config, args)?;
        assert_ne!(code, 0, "{args:?} succeeded");
        assert!(stdout.is_empty(), "{args:?} printed {stdout}");
        assert!(stderr.contains(names), "{args:?}: {stderr}");
    }

    // Revoke through a follower; every node refuses the token, the answering one at once.
    let leader = cluster.leader(Duration::from_secs(10))?;
    let via = (1..=3).find(|id| *id != leader).context("a follower")?;
    let (status, body) = cluster.node(via)?.with_token(&bootstrap).delete(&format!(
        "/v1/admin/tokens/{}",
        ops_id.as_str().context("id")?
    ))?;
    assert_eq!(status, 200, "{body}");
    let revoked_at = Instant::now();
    let (status, _) = mint(&cluster, via, &ops, &mint_request("admin", "*"))?;
    assert_eq!(
        status, 401,
        "the node that answered the revocation still accepts the token"
    );
    for id in 1..=3 {
        loop {
            let (status, body) = mint(&cluster, id, &ops, &mint_request("admin", "*"))?;
            if status == 401 {
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("revoked"),
                    "{body}"
                );
                eprintln!(
                    "node {id} refused the revoked token {:?} after the revocation answered",
                    revoked_at.elapsed()
                );
                break;
            }
            assert_eq!(status, 201, "node {id}: {body}");
            if revoked_at.elapsed() > Duration::from_secs(5) {
                bail!("node {id} still accepts a token revoked 5 s ago");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    // Both the key and the revocation are replicated state: they survive a restart.
    let restarted = (1..=3).find(|id| *id != via).context("another node")?;
    cluster.node_mut(restarted)?.stop()?;
    cluster.restart(restarted)?;
    cluster
        .node(restarted)?
        .wait_ready(Duration::from_secs(30))?;
    let (status, _) = mint(&cluster, restarted, &ops, &mint_request("admin", "*"))?;
    assert_eq!(
        status, 401,
        "node {restarted} forgot the revocation on restart"
    );
    let (status, body) = mint(&cluster, restarted, &bootstrap, &mint_request("admin", "*"))?;
    assert_eq!(
        status, 201,
        "node {restarted} lost the signing key on restart: {body}"
    );
    Ok(())
}
