//! Transport security of real `sightline` processes (issue 15): with `[tls]` the HTTP API
//! answers HTTPS with the configured certificate (verified against a CA made here, no
//! client certificate needed), a plain HTTP request to its port gets no HTTP answer, and
//! SIGTERM still stops it cleanly; a multi-node config without `[tls]` does not start
//! unless it says `insecure_plaintext = true`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::{free_port, Cluster, Launch, Node, NodeConfig, Settings};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sightline_chaos::process::{PeerConfig, TEST_MASTER_KEY_HEX};

// ---- certificates ----

/// A certificate authority made for the test.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Result<Ca> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ok(Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate()?)?,
        })
    }

    /// A node certificate as docs/security.md says to make it: `sightline-node` for the
    /// Raft transport plus the name API clients dial (`localhost`), server and client use.
    /// (certificate PEM, key PEM).
    fn node(&self) -> Result<(String, String)> {
        let mut params =
            CertificateParams::new(vec!["sightline-node".to_string(), "localhost".to_string()])?;
        params.distinguished_name.push(DnType::CommonName, "node1");
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

// ---- a node process the test starts itself (the harness's client speaks plain HTTP) ----

/// A `sightline` process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Waits up to `within` for it to exit.
    fn wait_exit(&mut self, within: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait()? {
                return Ok(Some(status));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(None)
    }

    /// Its stderr, once it has exited.
    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(stderr) = self.0.stderr.as_mut() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}

/// Writes `config` (plus `extra` TOML) to `dir/sightline.toml` and starts `sightline serve`
/// on it, its stderr piped.
fn spawn(dir: &Path, config: &NodeConfig, extra: &str) -> Result<Process> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(&config.master_key_file, TEST_MASTER_KEY_HEX)?;
    let path = dir.join("sightline.toml");
    std::fs::write(&path, format!("{}\n{extra}", config.to_toml()?))?;
    let launch = Launch::test()?;
    let child = Command::new(&launch.binary)
        .args(["serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn,openraft=off")
        .env_remove("SIGHTLINE_MASTER_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", launch.binary.display()))?;
    Ok(Process(child))
}

/// A TOML basic string holding `path`.
fn toml_path(path: &Path) -> Result<String> {
    Ok(toml::Value::String(path.to_str().context("non-UTF-8 path")?.to_string()).to_string())
}

// ---- a minimal HTTPS client over rustls ----

/// TLS client settings trusting only `ca_pem`, presenting no client certificate.
fn client_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// `GET path` over HTTPS to `127.0.0.1:port`, verifying the server as `localhost`: the
/// whole answer, and the certificate the server presented.
fn https_get(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
    path: &str,
) -> Result<(String, CertificateDer<'static>)> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut tls =
        rustls::ClientConnection::new(config.clone(), ServerName::try_from("localhost")?)?;
    let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
    stream.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            // A close without close_notify after the whole answer is not our concern here.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof && !answer.is_empty() => break,
            Err(e) => return Err(e.into()),
        }
    }
    let presented = tls
        .peer_certificates()
        .and_then(|c| c.first())
        .context("the server presented no certificate")?
        .clone()
        .into_owned();
    Ok((String::from_utf8_lossy(&answer).into_owned(), presented))
}

#[test]
fn with_tls_the_api_answers_https_with_the_configured_certificate() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("sightline test CA")?;
    let (cert_pem, key_pem) = ca.node()?;
    let files: [(PathBuf, &str); 3] = [
        (dir.path().join("node1.crt"), &cert_pem),
        (dir.path().join("node1.key"), &key_pem),
        (dir.path().join("ca.crt"), &ca.issuer.pem()),
    ];
    for (path, text) in &files {
        std::fs::write(path, text)?;
    }
    let tls = format!(
        "[tls]\ncert = {}\nkey = {}\nca = {}\n",
        toml_path(&files[0].0)?,
        toml_path(&files[1].0)?,
        toml_path(&files[2].0)?
    );
    let port = free_port()?;
    let config = NodeConfig::single(&dir.path().join("node"), 1, port);
    let mut node = spawn(&dir.path().join("node"), &config, &tls)?;

    // It answers /healthz over HTTPS, verified against the CA, without a client certificate.
    let client = client_config(&ca.issuer.pem())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (answer, presented) = loop {
        if let Some(status) = node.wait_exit(Duration::ZERO)? {
            bail!("the node exited with {status}: {}", node.stderr());
        }
        match https_get(&client, port, "/healthz") {
            Ok(got) => break got,
            Err(e) if Instant::now() > deadline => bail!("no HTTPS answer within a minute: {e:#}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let configured = CertificateDer::from_pem_slice(cert_pem.as_bytes())?;
    assert_eq!(
        presented, configured,
        "the server presented another certificate"
    );

    // A client that trusts another CA refuses the server.
    let stranger = client_config(&Ca::new("another CA")?.issuer.pem())?;
    let refused = https_get(&stranger, port, "/healthz");
    assert!(
        refused.is_err(),
        "a client of another CA accepted the server"
    );

    // Plain HTTP to the same port gets no HTTP answer (the handshake fails, the
    // connection closes).
    let mut plain = TcpStream::connect(("127.0.0.1", port))?;
    plain.set_read_timeout(Some(Duration::from_secs(5)))?;
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP answer: {}",
        String::from_utf8_lossy(&answer)
    );

    // SIGTERM stops it cleanly, even with a connection that never finished its handshake.
    let _stalled = TcpStream::connect(("127.0.0.1", port))?;
    let sent = Command::new("kill")
        .arg("-TERM")
        .arg(node.0.id().to_string())
        .status()?;
    assert!(sent.success());
    match node.wait_exit(Duration::from_secs(30))? {
        Some(status) => assert!(status.success(), "{status}: {}", node.stderr()),
        None => bail!("the node did not stop within 30 s of SIGTERM"),
    }
    Ok(())
}

#[test]
fn a_cluster_config_without_tls_starts_only_with_insecure_plaintext() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ports: Vec<(u16, u16)> = (0..2)
        .map(|_| Ok((free_port()?, free_port()?)))
        .collect::<Result<_>>()?;
    let mut config = NodeConfig::single(&dir.path().join("node1"), 1, ports[0].0);
    config.raft_addr = Some(format!("127.0.0.1:{}", ports[0].1));
    config.peers = ports
        .iter()
        .zip(1..)
        .map(|((http, raft), id)| PeerConfig {
            id,
            raft_addr: format!("127.0.0.1:{raft}"),
            http_addr: format!("127.0.0.1:{http}"),
        })
        .collect();

    // Two peers, no [tls], no insecure_plaintext: serve exits non-zero, naming the keys.
    let mut refused = spawn(&dir.path().join("node1"), &config, "")?;
    let Some(status) = refused.wait_exit(Duration::from_secs(30))? else {
        bail!("serve started a two-node cluster with plaintext Raft");
    };
    let stderr = refused.stderr();
    assert!(!status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains("insecure_plaintext") && stderr.contains("[tls]"),
        "{stderr}"
    );

    // The same config with insecure_plaintext = true starts (and answers /healthz).
    config.insecure_plaintext = true;
    let node = Node::launch(&dir.path().join("node1"), config, &Launch::test()?)?;
    assert!(node.healthy());
    drop(node);

    // And the harness's clusters say so: two nodes start and elect a leader.
    let cluster = Cluster::start(2, Settings::default())?;
    cluster.leader(Duration::from_secs(10))?;
    Ok(())
}
