//! TLS for the public HTTP API.
//!
//! With a `[tls]` section the API answers HTTPS only, presenting the node's certificate
//! (`[tls] cert` and `key`, the same files the Raft transport's mutual TLS uses). This is
//! server-side TLS: API clients present no certificate (they authenticate with bearer
//! tokens); they verify the node's certificate against the CA they trust, so the
//! certificate must also carry the host names or addresses clients dial, besides
//! `sightline-node`. Without `[tls]` the API is plain HTTP.
//!
//! The certificate and key are loaded once, by [`load`] when the node starts: a file that
//! is missing or does not parse, or a key that does not fit the certificate, fails the
//! start with a message naming the file. Cryptography is rustls with the *ring* provider,
//! TLS 1.2 and 1.3, ALPN `http/1.1` (the server speaks HTTP/1.1).
//!
//! [`TlsListener`] is an axum [`Listener`]: it accepts TCP connections and hands axum only
//! finished TLS streams, so `axum::serve` and its graceful shutdown run exactly as over
//! plain TCP. Each handshake runs in its own task, bounded in time
//! ([`HANDSHAKE_TIMEOUT`]) and in number ([`MAX_PENDING_HANDSHAKES`]), so a client that
//! connects and never finishes its handshake holds no one else up. A connection whose
//! handshake fails (a plain HTTP request, an untrusted client) is closed without an HTTP
//! answer.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::serve::Listener;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in flight at most; past that, new connections wait in the kernel's backlog.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// Reads the certificate chain at `cert` and its private key at `key` (PEM) into the API's
/// TLS settings. Fails naming the file when one is missing or unparseable, and naming both
/// when the key is not the certificate's.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>> {
    let cert_pem = std::fs::read(cert)
        .with_context(|| format!("reading TLS certificate {}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(|| format!("TLS certificate {}: not valid PEM", cert.display()))?;
    if chain.is_empty() {
        bail!(
            "TLS certificate {}: holds no PEM \"CERTIFICATE\" block",
            cert.display()
        );
    }
    let key_pem =
        std::fs::read(key).with_context(|| format!("reading TLS key {}", key.display()))?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem)
        .with_context(|| format!("TLS key {}: no usable private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The key must be the certificate's: with_single_cert checks it, this says so plainly.
    rustls::sign::CertifiedKey::from_der(chain.clone(), private_key.clone_key(), &provider)
        .with_context(|| {
            format!(
                "TLS key {} does not fit certificate {}",
                key.display(),
                cert.display()
            )
        })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .with_context(|| {
            format!(
                "TLS certificate {} with key {}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener that yields connections once their TLS handshake has finished.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    /// Handshakes in flight; dropped (so aborted) with the listener at shutdown.
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    /// Cancel-safe (axum drops it when shutdown begins): accepted connections and their
    /// handshakes live in `self`, not in the future.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < MAX_PENDING_HANDSHAKES;
            tokio::select! {
                accepted = self.tcp.accept(), if room => match accepted {
                    Ok((stream, addr)) => {
                        self.handshakes.spawn(handshake(self.acceptor.clone(), stream, addr));
                    }
                    Err(e) => accept_error(e).await,
                },
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    addr: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some((tls, addr)),
        Ok(Err(e)) => {
            tracing::debug!(client = %addr, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(client = %addr, "TLS handshake timed out");
            None
        }
    }
}

/// As axum's own TCP listener: a connection that died before it was accepted is nothing;
/// anything else (out of file descriptors) is logged and waited out.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting an HTTPS connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn bad_files_fail_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed("localhost");
        let (_, other_key) = self_signed("localhost");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let cert_path = write("api.crt", &cert);
        let key_path = write("api.key", &key);
        assert!(load(&cert_path, &key_path).is_ok());

        let missing = dir.path().join("missing.crt");
        let garbage = write("garbage.crt", "not a certificate");
        let wrong_key = write("other.key", &other_key);
        let cases = [
            (load(&missing, &key_path), "missing.crt"),
            (load(&garbage, &key_path), "garbage.crt"),
            (load(&cert_path, &garbage), "garbage.crt"),
            (load(&cert_path, &wrong_key), "other.key"),
        ];
        for (result, want) in cases {
            let err = format!("{:#}", result.err().unwrap());
            assert!(err.contains(want), "want {want:?} in {err}");
        }
    }
}
