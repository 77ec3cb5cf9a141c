//! Mutual TLS for the Raft transport.
//!
//! When a node is given [`TlsFiles`] (its certificate chain and key, and the CA that signs
//! every node's certificate), every connection of the Raft transport is TLS, authenticated
//! on both ends:
//!
//! - the server presents the node's certificate and *requires* a client certificate that
//!   chains to the CA; a client without one, or with one from another CA, fails the
//!   handshake and never reaches the Raft service;
//! - every client (peer replication, snapshot streams, forwarded proposals and read
//!   indexes) dials `https://`, presents the same certificate as its client certificate, and
//!   verifies the server's against the CA.
//!
//! **Server name.** Peers are addressed by `host:port` (usually an IP), which says nothing
//! stable about who should answer. So a client does not check the peer's certificate
//! against the address it dialled; it checks it against the fixed DNS name
//! [`TLS_SERVER_NAME`] (`sightline-node`), which every node certificate must carry as a DNS
//! subject alternative name (it is also sent as SNI). Identity on this transport is
//! therefore "holds a key whose certificate the cluster CA signed for `sightline-node`":
//! use a CA dedicated to the cluster, since anything it signs with that name may join the
//! Raft conversation. Node certificates need both the `serverAuth` and `clientAuth`
//! extended key usages when they carry that extension (each node is server and client).
//! Addresses may change, and nodes may sit behind NAT or be named by host names, without
//! reissuing certificates.
//!
//! The files are loaded and checked once, by [`PeerTls::load`] when the node starts: each
//! must exist and parse, the key must match the certificate, and the certificate must
//! chain to the CA and be valid for [`TLS_SERVER_NAME`] as a server and as a client. A
//! mistake is reported then, naming the file, rather than as handshake failures later.
//!
//! Cryptography is rustls with the *ring* provider. If the process has no default rustls
//! provider yet, loading installs *ring* as the default (tonic's server builds its rustls
//! config from the process default).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

use crate::error::{Error, Result};

/// The DNS name every node certificate carries as a subject alternative name, and against
/// which clients verify the server's certificate whatever address they dialled.
pub const TLS_SERVER_NAME: &str = "sightline-node";

/// How long a server waits for a client to finish the TLS handshake.
const SERVER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// PEM files that turn on mutual TLS for the Raft transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// This node's certificate, followed by any intermediate certificates. It must carry
    /// the DNS name [`TLS_SERVER_NAME`] and chain to `ca`.
    pub cert: PathBuf,
    /// The private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA certificate(s) that sign every node's certificate; peers are trusted as
    /// servers and as clients when their certificate chains to one of these.
    pub ca: PathBuf,
}

/// Loaded, checked TLS settings for the transport's server and clients.
#[derive(Clone)]
pub struct PeerTls {
    server: ServerTlsConfig,
    client: ClientTlsConfig,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("server_name", &TLS_SERVER_NAME)
            .finish_non_exhaustive()
    }
}

fn config_error(what: &str, path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Config(format!("TLS {what} {}: {reason}", path.display()))
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| config_error(what, path, e))
}

fn certificates(what: &str, path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_error(what, path, format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(config_error(
            what,
            path,
            "holds no PEM \"CERTIFICATE\" block",
        ));
    }
    Ok(certs)
}

impl PeerTls {
    /// Reads and checks `files`; clients give up a handshake after `handshake_timeout`.
    ///
    /// Fails with [`Error::Config`] naming the file when one is missing, does not parse,
    /// or does not fit the others (a key that is not the certificate's, a certificate the
    /// CA did not sign, one without [`TLS_SERVER_NAME`], expired, or not usable as server
    /// and client); with [`Error::Transport`] if tonic refuses the resulting settings.
    pub fn load(files: &TlsFiles, handshake_timeout: Duration) -> Result<PeerTls> {
        let provider = crypto_provider();

        let cert_pem = read("certificate", &files.cert)?;
        let key_pem = read("key", &files.key)?;
        let ca_pem = read("CA certificate", &files.ca)?;

        let chain = certificates("certificate", &files.cert, &cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| config_error("key", &files.key, format!("no usable private key: {e}")))?;
        let mut roots = RootCertStore::empty();
        for ca in certificates("CA certificate", &files.ca, &ca_pem)? {
            roots.add(ca).map_err(|e| {
                config_error(
                    "CA certificate",
                    &files.ca,
                    format!("not a CA certificate: {e}"),
                )
            })?;
        }

        rustls::sign::CertifiedKey::from_der(chain.clone(), key, &provider).map_err(|e| {
            Error::Config(format!(
                "TLS key {} does not fit certificate {}: {e}",
                files.key.display(),
                files.cert.display()
            ))
        })?;
        check_chain(&files.cert, &files.ca, &chain, roots, &provider)?;

        let identity = Identity::from_pem(&cert_pem, &key_pem);
        let ca = Certificate::from_pem(&ca_pem);
        let server = ServerTlsConfig::new()
            .identity(identity.clone())
            .client_ca_root(ca.clone())
            .timeout(SERVER_HANDSHAKE_TIMEOUT);
        let client = ClientTlsConfig::new()
            .ca_certificate(ca)
            .identity(identity)
            .domain_name(TLS_SERVER_NAME)
            .timeout(handshake_timeout);

        // Build both sides once so tonic's own parsing cannot fail later, on a peer's dial.
        tonic::transport::Server::builder()
            .tls_config(server.clone())
            .map_err(|e| Error::Transport(format!("TLS server settings from {files:?}: {e}")))?;
        Endpoint::from_static("https://127.0.0.1:1")
            .tls_config(client.clone())
            .map_err(|e| Error::Transport(format!("TLS client settings from {files:?}: {e}")))?;

        Ok(PeerTls { server, client })
    }

    pub(crate) fn server(&self) -> ServerTlsConfig {
        self.server.clone()
    }
}

/// The process's default rustls provider, installing *ring* as the default if none is.
fn crypto_provider() -> Arc<CryptoProvider> {
    if let Some(provider) = CryptoProvider::get_default() {
        return provider.clone();
    }
    // Losing a race with another thread installing its own default is fine: use theirs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// Checks this node's chain the way its peers will: as a server certificate for
/// [`TLS_SERVER_NAME`] and as a client certificate, both against the CA.
fn check_chain(
    cert_path: &Path,
    ca_path: &Path,
    chain: &[CertificateDer<'static>],
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<()> {
    let invalid = |role: &str, e: &dyn std::fmt::Display| {
        Error::Config(format!(
            "TLS certificate {} is not valid as a {role} certificate for {TLS_SERVER_NAME:?} \
             under CA {}: {e}",
            cert_path.display(),
            ca_path.display()
        ))
    };
    let (end_entity, intermediates) = chain
        .split_first()
        .ok_or_else(|| config_error("certificate", cert_path, "is empty"))?;
    let roots = Arc::new(roots);
    let now = UnixTime::now();

    let server = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|e| config_error("CA certificate", ca_path, e))?;
    let name = ServerName::try_from(TLS_SERVER_NAME)
        .map_err(|e| Error::Config(format!("bad TLS server name: {e}")))?;
    server
        .verify_server_cert(end_entity, intermediates, &name, &[], now)
        .map_err(|e| invalid("server", &e))?;

    let client = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| config_error("CA certificate", ca_path, e))?;
    client
        .verify_client_cert(end_entity, intermediates, now)
        .map_err(|e| invalid("client", &e))?;
    Ok(())
}

/// The endpoint for a peer's Raft address: `https://` with `tls`, plain `http://` without.
pub(crate) fn endpoint(
    addr: &str,
    tls: Option<&PeerTls>,
) -> std::result::Result<Endpoint, tonic::transport::Error> {
    match tls {
        None => Endpoint::from_shared(format!("http://{addr}")),
        Some(tls) => {
            Endpoint::from_shared(format!("https://{addr}"))?.tls_config(tls.client.clone())
        }
    }
}
