//! The keyring: master keys (from files or an environment variable) wrap one token key and
//! one data key per version for every tenant, and the cluster's token signing key. Wrapped
//! keys travel inside replicated commands and live in the `meta` column family; unwrapped
//! keys live only in memory.
//!
//! A node holds one *current* master key, which wraps everything new, and any number of
//! *previous* ones (`previous_master_key_files`), which only unwrap: that is what lets a
//! cluster move to a new master key ([`crate::Command::RewrapKeys`]) without a moment when
//! some wrapped key opens with no configured key. Every wrapped key names the master key
//! that wrapped it by its [`Fingerprint`], so a node missing that key says which one.
//!
//! Wrapped format (69 bytes): `2 · fingerprint [8] · nonce [12] · key [32] sealed with
//! AES-256-GCM-SIV · tag [16]`, with the first 9 bytes and the slot's context (tenant name and version, or the
//! signing key's name) as associated data. Keys wrapped before fingerprints existed are 60
//! bytes (`nonce · ciphertext · tag`, the context alone as associated data); they still
//! unwrap, trying each configured master key, and a master key rotation rewrites them in the
//! new format.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use sightline_wire::opaque::{Fingerprint, WrappedTenantKeys};

use crate::crypto::{DataKey, TokenKey};
use crate::error::{Result, StorageError};

/// Environment variable that may hold the master key as 64 hex characters.
pub const MASTER_KEY_ENV: &str = "SIGHTLINE_MASTER_KEY";

/// Format byte of a wrapped key that names its master key.
const WRAP_FORMAT: u8 = 2;
/// Format byte and fingerprint: the header bound as associated data.
const WRAP_HEADER: usize = 1 + 8;
/// Length of a wrapped key in the current format.
pub const WRAPPED_LEN: usize = WRAP_HEADER + 12 + 32 + 16;
/// Length of a wrapped key written before fingerprints (nonce, ciphertext, tag).
const LEGACY_WRAPPED_LEN: usize = 12 + 32 + 16;

/// The [`Fingerprint`] of a master key: the first 8 bytes of SHA-256 over a fixed label and
/// the key.
fn fingerprint_of(key: &[u8; 32]) -> Fingerprint {
    let digest = Sha256::new()
        .chain_update(b"sightline master key fingerprint v1")
        .chain_update(key)
        .finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    Fingerprint(out)
}

/// One master key: its cipher and fingerprint.
#[derive(Clone)]
struct Kek {
    fingerprint: Fingerprint,
    cipher: Aes256GcmSiv,
}

impl Kek {
    fn new(bytes: &[u8; 32]) -> Self {
        Kek {
            fingerprint: fingerprint_of(bytes),
            cipher: Aes256GcmSiv::new(&Key::<Aes256GcmSiv>::from(*bytes)),
        }
    }

    fn open(&self, nonce: &[u8], sealed: &[u8], aad: &[u8]) -> Option<[u8; 32]> {
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad })
            .ok()?;
        plain.try_into().ok()
    }
}

/// The node's master keys: the current one, which wraps every new key, and the previous
/// ones, which only unwrap (during a master key rotation). Every node of a cluster is given
/// the same current key.
#[derive(Clone)]
pub struct MasterKey {
    current: Kek,
    previous: Arc<Vec<Kek>>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MasterKey(current {}, previous {:?})",
            self.current.fingerprint,
            self.previous_fingerprints()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        )
    }
}

/// What a wrapped key's bytes say about it.
enum Wrapped<'a> {
    /// The current format: the master key's fingerprint, the header, nonce and sealed key.
    Named {
        fingerprint: Fingerprint,
        header: &'a [u8],
        nonce: &'a [u8],
        sealed: &'a [u8],
    },
    /// Written before fingerprints.
    Legacy { nonce: &'a [u8], sealed: &'a [u8] },
}

fn parse_wrapped(wrapped: &[u8]) -> Option<Wrapped<'_>> {
    match wrapped.len() {
        WRAPPED_LEN if wrapped[0] == WRAP_FORMAT => {
            let fingerprint = Fingerprint(wrapped[1..WRAP_HEADER].try_into().ok()?);
            let (header, rest) = wrapped.split_at(WRAP_HEADER);
            let (nonce, sealed) = rest.split_at(12);
            Some(Wrapped::Named {
                fingerprint,
                header,
                nonce,
                sealed,
            })
        }
        LEGACY_WRAPPED_LEN => {
            let (nonce, sealed) = wrapped.split_at(12);
            Some(Wrapped::Legacy { nonce, sealed })
        }
        _ => None,
    }
}

/// Whether `wrapped` has the shape of a wrapped key, in either format.
pub fn is_wrapped_key(wrapped: &[u8]) -> bool {
    parse_wrapped(wrapped).is_some()
}

/// The master key that wrapped `wrapped`, if it names one (`None`: a legacy or malformed
/// wrapped key).
pub fn wrapped_by(wrapped: &[u8]) -> Option<Fingerprint> {
    match parse_wrapped(wrapped)? {
        Wrapped::Named { fingerprint, .. } => Some(fingerprint),
        Wrapped::Legacy { .. } => None,
    }
}

impl MasterKey {
    /// Builds a master key from raw bytes (no previous keys).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        MasterKey {
            current: Kek::new(bytes),
            previous: Arc::new(Vec::new()),
        }
    }

    /// Parses 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = hex::decode(text.trim())
            .map_err(|e| StorageError::MasterKey(format!("not hex: {e}")))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|v: Vec<u8>| {
            StorageError::MasterKey(format!(
                "must be 32 bytes (64 hex characters), got {}",
                v.len()
            ))
        })?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Loads the key from `path`.
    pub fn load_file(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path)
            .map_err(|e| StorageError::MasterKey(format!("reading {}: {e}", path.display())))?;
        Self::from_hex(&text)
    }

    /// Loads the key from `path`, first creating it with fresh random bytes and mode 0600
    /// when the file does not exist.
    pub fn load_or_create_file(path: &Path) -> Result<Self> {
        if !path.exists() {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            writeln!(file, "{}", hex::encode(bytes))?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "created master key file");
        }
        Self::load_file(path)
    }

    /// This keyring with the current keys of `previous` added as previous keys: they unwrap
    /// what they wrapped, and never wrap anything new. A previous key equal to the current
    /// one, or listed twice, is kept once.
    pub fn with_previous(self, previous: impl IntoIterator<Item = MasterKey>) -> Self {
        let mut keys: Vec<Kek> = self.previous.as_ref().clone();
        for key in previous {
            let fingerprint = key.current.fingerprint;
            if fingerprint != self.current.fingerprint
                && keys.iter().all(|k| k.fingerprint != fingerprint)
            {
                keys.push(key.current);
            }
        }
        MasterKey {
            current: self.current,
            previous: Arc::new(keys),
        }
    }

    /// This keyring wrapping with the key named `fingerprint` when it holds it (the others,
    /// the current one included, still unwrap); unchanged otherwise.
    pub fn wrapping_with(&self, fingerprint: Option<Fingerprint>) -> MasterKey {
        let chosen = fingerprint
            .filter(|f| *f != self.current.fingerprint)
            .and_then(|f| self.previous.iter().find(|k| k.fingerprint == f));
        let Some(chosen) = chosen else {
            return self.clone();
        };
        let mut previous = vec![self.current.clone()];
        previous.extend(
            self.previous
                .iter()
                .filter(|k| k.fingerprint != chosen.fingerprint)
                .cloned(),
        );
        MasterKey {
            current: chosen.clone(),
            previous: Arc::new(previous),
        }
    }

    /// The current key's fingerprint: what every key wrapped from now on names.
    pub fn fingerprint(&self) -> Fingerprint {
        self.current.fingerprint
    }

    /// The previous keys' fingerprints, in configuration order.
    pub fn previous_fingerprints(&self) -> Vec<Fingerprint> {
        self.previous.iter().map(|k| k.fingerprint).collect()
    }

    /// Whether this keyring holds the master key with `fingerprint`.
    pub fn holds(&self, fingerprint: Fingerprint) -> bool {
        self.find(fingerprint).is_some()
    }

    fn find(&self, fingerprint: Fingerprint) -> Option<&Kek> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.fingerprint == fingerprint)
    }

    /// Wraps a 32-byte key with the current master key; `context` (tenant name and key
    /// slot) is bound as associated data so a wrapped key cannot be moved to another slot.
    pub fn wrap(&self, context: &str, key: &[u8; 32]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(WRAP_FORMAT);
        out.extend_from_slice(&self.current.fingerprint.0);
        let aad = [out.as_slice(), context.as_bytes()].concat();
        let sealed = match self.current.cipher.encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: key,
                aad: &aad,
            },
        ) {
            Ok(c) => c,
            Err(_) => unreachable!("a 32-byte key is always within AES-GCM-SIV limits"),
        };
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Unwraps a key wrapped by [`MasterKey::wrap`] (by this keyring's current key or a
    /// previous one) with the same context. A key wrapped by a master key this node was not
    /// given is [`StorageError::MasterKeyMissing`], naming its fingerprint.
    pub fn unwrap_key(&self, context: &str, wrapped: &[u8]) -> Result<[u8; 32]> {
        let bad = || StorageError::Decrypt {
            what: "wrapped key (tampered, or moved from another slot)",
        };
        match parse_wrapped(wrapped).ok_or_else(bad)? {
            Wrapped::Named {
                fingerprint,
                header,
                nonce,
                sealed,
            } => {
                let kek = self
                    .find(fingerprint)
                    .ok_or_else(|| StorageError::MasterKeyMissing {
                        what: context.to_string(),
                        fingerprint: fingerprint.to_string(),
                    })?;
                let aad = [header, context.as_bytes()].concat();
                kek.open(nonce, sealed, &aad).ok_or_else(bad)
            }
            Wrapped::Legacy { nonce, sealed } => std::iter::once(&self.current)
                .chain(self.previous.iter())
                .find_map(|kek| kek.open(nonce, sealed, context.as_bytes()))
                .ok_or(StorageError::Decrypt {
                    what: "wrapped key of the format without fingerprint: none of this node's \
                           master keys opens it (is this the cluster's master key?)",
                }),
        }
    }

    /// `wrapped` as the current master key wraps it: unchanged when it already names the
    /// current key, unwrapped and wrapped again otherwise (for
    /// [`crate::Command::RewrapKeys`]; the key itself does not change).
    pub fn rewrap(&self, context: &str, wrapped: &[u8]) -> Result<Vec<u8>> {
        let key = self.unwrap_key(context, wrapped)?;
        if wrapped_by(wrapped) == Some(self.fingerprint()) {
            return Ok(wrapped.to_vec());
        }
        Ok(self.wrap(context, &key))
    }
}

/// The wrap context of the cluster's token signing key.
pub const SIGNING_KEY_CONTEXT: &str = "sightline/auth/signing-key/1";

/// Generates a token signing key and wraps it with `master` (for
/// [`crate::Command::SetSigningKey`]).
pub fn generate_signing_key(master: &MasterKey) -> Vec<u8> {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    master.wrap(SIGNING_KEY_CONTEXT, &key)
}

/// The wrap context of a tenant key slot; version 0 is the token key.
pub fn wrap_context(tenant_name: &str, version: u32) -> String {
    format!("sightline/tenant/{tenant_name}/key/{version}")
}

/// Generates data key `version` of `tenant_name` and wraps it with `master` (for
/// [`crate::Command::RotateTenantKey`]).
pub fn generate_data_key(master: &MasterKey, tenant_name: &str, version: u32) -> Vec<u8> {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    master.wrap(&wrap_context(tenant_name, version), &key)
}

/// Generates and wraps fresh keys for a new tenant `tenant_name` (for
/// [`crate::Command::UpsertTenant`]).
pub fn generate_tenant_keys(master: &MasterKey, tenant_name: &str) -> WrappedTenantKeys {
    let mut token = [0u8; 32];
    rand::rng().fill_bytes(&mut token);
    WrappedTenantKeys {
        token_key: master.wrap(&wrap_context(tenant_name, 0), &token),
        data_key: generate_data_key(master, tenant_name, 1),
    }
}

/// A tenant's unwrapped keys.
#[derive(Clone)]
pub struct TenantKeys {
    /// Token key for index keys (never rotated: see docs/security.md).
    pub token: TokenKey,
    /// Data keys by version.
    pub data: BTreeMap<u32, DataKey>,
}

impl TenantKeys {
    /// The newest data key, used for all new writes.
    pub fn current(&self) -> Option<&DataKey> {
        self.data.values().next_back()
    }

    /// Opens a sealed value with the key version named in its header.
    pub fn open(&self, record_key: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let version = crate::crypto::sealed_key_version(sealed)?;
        let key = self.data.get(&version).ok_or(StorageError::Decrypt {
            what: "value sealed with an unknown key version",
        })?;
        key.open(record_key, sealed)
    }
}

#[cfg(test)]
mod tests;
