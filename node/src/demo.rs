//! `sightline demo`: a single-node cluster on embedded defaults with tenant `demo`, a
//! synthetic day of data, and printed tokens. It serves plain HTTP (no TLS), meant for
//! loopback (the default address); it says so at start, and warns on any other address.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sightline_api::ingest::{ingest, RecordKind};
use sightline_api::AppState;
use sightline_storage::command::TenantPolicy;
use sightline_storage::keyring::generate_tenant_keys;
use sightline_storage::time::now_ms;
use sightline_storage::Command;
use tokio::net::TcpListener;

use crate::config::RaftSettings;
use crate::demo_data;
use crate::server::{load_master_key, run_http, start_node, Bootstrap, NodeSpec};

/// Tenant the demo creates.
pub const DEMO_TENANT: &str = "demo";
/// Seed of the demo's synthetic day, so every demo holds the same vehicles.
pub const DEMO_SEED: u64 = 42;
const ROLES: [&str; 5] = ["admin", "investigator", "ingest", "analyst", "auditor"];

/// Runs the demo until Ctrl-C or SIGTERM.
pub async fn run(data_dir: PathBuf, http: SocketAddr, load_data: bool) -> Result<()> {
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let listener = TcpListener::bind(http)
        .await
        .with_context(|| format!("binding {http} (is another demo running?)"))?;
    let master = load_master_key(Some(&data_dir.join("master.key")), true)?;
    let http_addr = listener.local_addr()?.to_string();
    let spec = NodeSpec {
        fault_injection: false,
        engine_wal: true,
        min_free_bytes: crate::config::DEFAULT_MIN_FREE_BYTES,
        max_token_ttl_ms: sightline_api::auth::DEFAULT_MAX_TTL_MS,
        limits: sightline_api::limits::LimitConfig::default(),
        node_id: 1,
        data_dir: &data_dir,
        raft_addr: "127.0.0.1:0",
        http_addr: &http_addr,
        peers: &[],
        block_cache_bytes: 256 << 20,
        settings: &RaftSettings::default(),
        bootstrap: Bootstrap::SingleNode,
        tls: None,
    };
    let node = start_node(spec, master).await?;
    let state = node.state.clone();
    if state.engine().tenant(DEMO_TENANT).is_none() {
        let keys = generate_tenant_keys(&state.engine().wrapping_key(), DEMO_TENANT);
        let command = Command::UpsertTenant {
            name: DEMO_TENANT.into(),
            policy: TenantPolicy::default(),
            keys,
        };
        state.cluster.propose(command).await?;
    }
    if load_data {
        load_demo_day(&state).await?;
    }
    sightline_api::tokens::ensure_signing_key(&state)
        .await
        .map_err(|e| anyhow::anyhow!("creating the token signing key: {}", e.message))?;
    let tokens = demo_tokens(&data_dir, &state)?;
    let url = format!("http://{}", listener.local_addr()?);
    println!();
    println!(
        "Sightline demo is running at {url}  (tenant \"{DEMO_TENANT}\", data in {})",
        data_dir.display()
    );
    if http.ip().is_loopback() {
        println!("  plain HTTP on loopback: only this machine can reach it");
        tracing::info!(%url, "demo: plain HTTP on loopback (no TLS)");
    } else {
        println!("  WARNING: plain HTTP on {http}, which is not loopback: anyone who can reach it reads the traffic, tokens included");
        tracing::warn!(%url, "demo: plain HTTP on a non-loopback address (no TLS)");
    }
    println!(
        "Tokens (also in {}):",
        data_dir.join("demo-tokens.json").display()
    );
    for role in ROLES {
        println!("  {role:<13} {}", tokens[role].as_str().unwrap_or(""));
    }
    println!(
        "Load them into a shell with: source {}",
        data_dir.join("demo-tokens.env").display()
    );
    println!("Try:");
    println!(
        "  curl -s -X POST {url}/v1/tenants/{DEMO_TENANT}/search/plates -H \"Authorization: Bearer $INVESTIGATOR_TOKEN\" -H 'Content-Type: application/json' \\\n    -d '{{\"plate\": \"{}\", \"limit\": 3, \"case_number\": \"DEMO-1\", \"reason\": \"demo\"}}'",
        demo_data::FACTS.everywhere_plate
    );
    let facts = &demo_data::FACTS;
    println!(
        "Vehicles to look for: {} (a van seen at all {} cameras), {} (a commuter; one read misread as {})",
        facts.everywhere_plate, facts.camera_count, facts.commuter_plate, facts.ocr_variant_of_commuter
    );
    let places: Vec<String> = facts
        .co_location_places
        .iter()
        .map(|(lat, lon)| format!("{lat},{lon}"))
        .collect();
    println!(
        "  co-location: {} parked within {} m of {} ({} near two of them; the patrol car {} logged them)",
        facts.co_location_plate,
        facts.co_location_radius_m,
        places.join(" and "),
        facts.co_location_partial_plate,
        facts.mobile_unit
    );
    println!(
        "  convoy: {} followed by {} through {} cameras",
        facts.convoy_lead_plate, facts.convoy_follower_plate, facts.convoy_cameras
    );
    println!(
        "  fuzzy: {} read {} times, misread as {}; wildcard {} finds {} reads",
        facts.misread_plate,
        facts.misread_reads,
        facts.misread_variants.join(", "),
        facts.misread_wildcard,
        facts.misread_wildcard_hits
    );
    println!(
        "  area: a silver Camry ({}) read by {} last night",
        facts.camry_plate, facts.camry_camera
    );
    println!("Press Ctrl-C to stop.");
    run_http(listener, None, node).await
}

/// Loads the synthetic day through the same validation and apply path as the HTTP API.
/// Client ids are deterministic, so running the demo again does not duplicate anything.
async fn load_demo_day(state: &AppState) -> Result<()> {
    let started = std::time::Instant::now();
    let data = tokio::task::spawn_blocking(|| demo_data::generate_day(DEMO_SEED, now_ms())).await?;
    let counts = (data.reads.len(), data.manifests.len(), data.series.len());
    for (kind, records) in [
        (RecordKind::Reads, data.reads),
        (RecordKind::Manifests, data.manifests),
        (RecordKind::Series, data.series),
    ] {
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let batch: Vec<Value> = records.by_ref().take(5_000).collect();
            if let Err(e) = ingest(state, DEMO_TENANT, kind, batch).await {
                bail!("loading demo {kind:?}: {}", e.message);
            }
        }
    }
    eprintln!(
        "loaded {} reads, {} manifests, {} sensor samples in {:.1}s",
        counts.0,
        counts.1,
        counts.2,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Reads `demo-tokens.json` when every token in it still verifies (signature, expiry,
/// revocation) for at least another hour, or mints and writes it (mode 0600): the admin
/// token cluster-wide and without expiry (the bootstrap token), the others for tenant
/// `demo` for the node's maximum lifetime (24 h).
/// The demo's tokens (`demo-tokens.json`, reused while each has an hour left), also written
/// as `demo-tokens.env` for a shell (`source sightline-demo/demo-tokens.env` sets
/// `ADMIN_TOKEN`, `INVESTIGATOR_TOKEN`, ...), both mode 0600.
fn demo_tokens(data_dir: &Path, state: &AppState) -> Result<Value> {
    let tokens = demo_tokens_json(data_dir, state)?;
    let mut env = String::from("# sightline demo tokens: source this file in a shell\n");
    for role in ROLES {
        let token = tokens[role].as_str().unwrap_or_default();
        env.push_str(&format!("export {}_TOKEN={token}\n", role.to_uppercase()));
    }
    write_private(&data_dir.join("demo-tokens.env"), env.as_bytes())?;
    Ok(tokens)
}

/// Writes `bytes` to `path` with mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

fn demo_tokens_json(data_dir: &Path, state: &AppState) -> Result<Value> {
    let path = data_dir.join("demo-tokens.json");
    let engine = state.engine();
    let key = engine
        .signing_key()
        .context("the demo cluster has no signing key")?;
    let still_good = |token: &Value| {
        token.as_str().is_some_and(|t| {
            sightline_api::auth::verify(&key, t, now_ms() + 3_600_000)
                .is_ok_and(|p| !engine.is_revoked(&p.id))
        })
    };
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(tokens) = serde_json::from_str::<Value>(&text) {
            if ROLES.iter().all(|r| still_good(&tokens[r])) {
                return Ok(tokens);
            }
        }
    }
    let mut tokens = serde_json::Map::new();
    for name in ROLES {
        let role = sightline_api::auth::Role::parse(name).context("demo role")?;
        let (tenant, ttl) = match role {
            sightline_api::auth::Role::Admin => ("*", None),
            _ => (DEMO_TENANT, Some(state.max_token_ttl_ms)),
        };
        let (token, _) =
            sightline_api::tokens::mint(state, &format!("demo-{name}"), tenant, role, ttl)
                .map_err(|e| anyhow::anyhow!("minting the demo's {name} token: {}", e.message))?;
        tokens.insert(name.into(), json!(token));
    }
    let tokens = Value::Object(tokens);
    write_private(&path, serde_json::to_string_pretty(&tokens)?.as_bytes())?;
    Ok(tokens)
}
