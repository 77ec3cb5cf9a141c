//! Sealing and tokens. Values are AES-256-GCM-SIV sealed with the record key as associated
//! data (a value cannot be moved to another key unnoticed) and a nonce derived from the
//! record key (deterministic, so every replica writes identical bytes; GCM-SIV is
//! nonce-misuse resistant, so a repeated key/nonce pair reveals at most that two values are
//! equal). Tokens are truncated HMAC-SHA-256 under the tenant's token key, with a one-byte
//! domain so a plate and a camera with the same text never share a token.

use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Result, StorageError};
use crate::keys::{Token, TOKEN_LEN};

/// Format byte of sealed values, bumped if the envelope ever changes.
const SEALED_FORMAT: u8 = 1;
/// Bytes a sealed value adds to its plaintext: format, key version, GCM tag.
pub const SEAL_OVERHEAD: usize = 1 + 4 + 16;

/// One AES-256-GCM-SIV data key with its version.
#[derive(Clone)]
pub struct DataKey {
    version: u32,
    cipher: Aes256GcmSiv,
}

impl DataKey {
    /// Builds a data key from raw key bytes.
    pub fn new(version: u32, bytes: &[u8; 32]) -> Self {
        let key = Key::<Aes256GcmSiv>::from(*bytes);
        DataKey {
            version,
            cipher: Aes256GcmSiv::new(&key),
        }
    }

    /// The key version stamped into every value it seals.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Seals `plaintext` bound to `record_key`.
    pub fn seal(&self, record_key: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = derive_nonce(record_key);
        let payload = Payload {
            msg: plaintext,
            aad: record_key,
        };
        // Encryption only fails for messages over 2^36 bytes; records are far smaller.
        let ciphertext = match self.cipher.encrypt(&nonce, payload) {
            Ok(c) => c,
            Err(_) => unreachable!("AES-GCM-SIV plaintext exceeds 64 GiB"),
        };
        let mut out = Vec::with_capacity(5 + ciphertext.len());
        out.push(SEALED_FORMAT);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value sealed by [`DataKey::seal`] for `record_key`.
    pub fn open(&self, record_key: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let ciphertext = sealed
            .get(5..)
            .ok_or(StorageError::Decrypt { what: "value" })?;
        let nonce = derive_nonce(record_key);
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: record_key,
                },
            )
            .map_err(|_| StorageError::Decrypt { what: "value" })
    }
}

/// Reads the key version out of a sealed value's header.
pub fn sealed_key_version(sealed: &[u8]) -> Result<u32> {
    match sealed {
        [SEALED_FORMAT, a, b, c, d, ..] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Err(StorageError::corrupt(
            "sealed value",
            "unknown envelope format",
        )),
    }
}

fn derive_nonce(record_key: &[u8]) -> Nonce {
    let digest = Sha256::new()
        .chain_update(b"sightline nonce v1")
        .chain_update(record_key)
        .finalize();
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&digest[..12]);
    Nonce::from(nonce)
}

/// What a token stands for; part of the HMAC input so domains never collide.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub enum TokenDomain {
    /// A normalized plate.
    Plate = 1,
    /// An H3 cell at the index resolution.
    Cell = 2,
    /// A camera id.
    Camera = 3,
    /// A sensor series (sensor id and metric).
    Series = 4,
    /// A client-supplied record id (full 16 bytes used as the internal id).
    ClientId = 5,
}

/// The tenant's HMAC key for tokens. It never rotates: rotating it would orphan every
/// index entry written under the old key.
#[derive(Clone)]
pub struct TokenKey {
    mac: Hmac<Sha256>,
}

impl TokenKey {
    /// Builds a token key from raw key bytes.
    pub fn new(bytes: &[u8; 32]) -> Self {
        let mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(bytes) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        TokenKey { mac }
    }

    fn digest(&self, domain: TokenDomain, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(&[domain as u8]);
        for part in parts {
            // Length-prefix each part so ("ab","c") and ("a","bc") differ.
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    /// An 8-byte keyed token.
    pub fn token(&self, domain: TokenDomain, parts: &[&[u8]]) -> Token {
        let digest = self.digest(domain, parts);
        let mut out = [0u8; TOKEN_LEN];
        out.copy_from_slice(&digest[..TOKEN_LEN]);
        out
    }

    /// A 128-bit keyed id, used to turn a client-chosen id into a fixed-width key.
    pub fn id128(&self, domain: TokenDomain, text: &str) -> u128 {
        let digest = self.digest(domain, &[text.as_bytes()]);
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        u128::from_be_bytes(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_determinism() {
        let key = DataKey::new(3, &[7u8; 32]);
        let a = key.seal(b"record-key", b"7ABC123");
        let b = key.seal(b"record-key", b"7ABC123");
        assert_eq!(a, b, "replicas must write identical bytes");
        assert_eq!(a.len(), 7 + SEAL_OVERHEAD);
        assert_eq!(sealed_key_version(&a).unwrap(), 3);
        assert_eq!(key.open(b"record-key", &a).unwrap(), b"7ABC123");
        assert!(!a.windows(7).any(|w| w == b"7ABC123"));
    }

    #[test]
    fn open_rejects_moved_tampered_or_foreign_values() {
        let key = DataKey::new(1, &[7u8; 32]);
        let sealed = key.seal(b"key-a", b"payload");
        assert!(key.open(b"key-b", &sealed).is_err(), "moved to another key");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.open(b"key-a", &tampered).is_err(), "tampered");
        let other = DataKey::new(1, &[8u8; 32]);
        assert!(other.open(b"key-a", &sealed).is_err(), "other tenant's key");
        assert!(key.open(b"key-a", &sealed[..3]).is_err(), "truncated");
    }

    #[test]
    fn tokens_separate_domains_tenants_and_parts() {
        let k1 = TokenKey::new(&[1u8; 32]);
        let k2 = TokenKey::new(&[2u8; 32]);
        let plate = k1.token(TokenDomain::Plate, &[b"ABC123"]);
        assert_eq!(plate, k1.token(TokenDomain::Plate, &[b"ABC123"]));
        assert_ne!(plate, k1.token(TokenDomain::Camera, &[b"ABC123"]));
        assert_ne!(plate, k2.token(TokenDomain::Plate, &[b"ABC123"]));
        assert_ne!(
            k1.token(TokenDomain::Series, &[b"ab", b"c"]),
            k1.token(TokenDomain::Series, &[b"a", b"bc"])
        );
    }
}
