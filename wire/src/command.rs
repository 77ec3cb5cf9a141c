//! The replicated command: everything that changes a node's state goes through one
//! [`Command`] applied at one [`LogPosition`]. Commands carry only sealed values, keyed tokens
//! and wrapped keys, so a command is safe to write to a replicated log as it is, and applying
//! one needs no randomness and no clock.

use serde::{Deserialize, Serialize};

use crate::opaque::{Fingerprint, Token, WrappedTenantKeys};

/// A byte string that is not a postcard-encoded [`Command`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt command: {0}")]
pub struct DecodeError(pub String);

/// Where a command sits in the log that ordered it. Storage treats it as opaque apart from
/// persisting it atomically with the command's effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogPosition {
    /// Term of the leader that proposed it.
    pub term: u64,
    /// Node id of the leader that proposed it.
    pub leader: u64,
    /// Log index.
    pub index: u64,
}

/// A sealed plate read with its index tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRead {
    /// Capture time, UTC ms.
    pub ts: i64,
    /// Internal 128-bit id.
    pub id: u128,
    /// Whether the id came from the client, so re-sends must be detected.
    pub client_id: bool,
    /// Token of the normalized plate.
    pub plate: Token,
    /// Token of the H3 cell at the index resolution.
    pub cell: Token,
    /// Token of the camera id.
    pub camera: Token,
    /// The sealed [`crate::record::PlateRead`].
    pub value: Vec<u8>,
}

/// A distinct plate of a batch for the plate dictionary: its token and its normalized text
/// sealed under the dictionary key (`sightline_storage::keys::plate_key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedPlate {
    /// Token of the normalized plate.
    pub token: Token,
    /// The sealed normalized plate text.
    pub value: Vec<u8>,
}

/// A sealed media manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedManifest {
    /// Start time, UTC ms.
    pub ts: i64,
    /// Internal 128-bit id.
    pub id: u128,
    /// Whether the id came from the client.
    pub client_id: bool,
    /// The sealed [`crate::record::Manifest`].
    pub value: Vec<u8>,
}

/// A sealed sensor sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSample {
    /// Token of (sensor id, metric).
    pub series: Token,
    /// Sample time, UTC ms.
    pub ts: i64,
    /// The sealed sample payload: its value and tags
    /// (`sightline_storage::engine::series::encode_sample_payload`).
    pub value: Vec<u8>,
}

/// One tenant key slot wrapped again by the new master key ([`Command::RewrapKeys`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrappedKey {
    /// Tenant id.
    pub tenant: u32,
    /// Key version (0 is the token key).
    pub version: u32,
    /// The same key, wrapped by the new master key.
    pub wrapped: Vec<u8>,
}

/// An audit entry sealed by its proposer (`sightline_storage::audit::seal`): `apply` gives
/// it the next seq of its log and chains its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedAuditEntry {
    /// The log: a tenant id, or `sightline_storage::audit::CLUSTER_LOG`.
    pub log: u32,
    /// When, UTC ms, by the proposing node's clock.
    pub at: i64,
    /// Random, fixed by the proposer; with `log` and `at`, what the seal is bound to.
    pub id: u128,
    /// The sealed `sightline_storage::audit::AuditEntry`.
    pub value: Vec<u8>,
}

/// What a cross-tenant grant lets the grantee search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GrantKind {
    /// Plate reads (plate and area search).
    Reads,
}

impl GrantKind {
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::Reads => "reads",
        }
    }

    /// Parses an API name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "reads" => Some(GrantKind::Reads),
            _ => None,
        }
    }
}

/// A tenant's retention and tiering policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPolicy {
    /// Data older than this many days is deleted.
    pub retention_days: u32,
    /// Data older than this many days moves to the cold tier.
    pub hot_days: u32,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        TenantPolicy {
            retention_days: 30,
            hot_days: 7,
        }
    }
}

/// How a hotlist's plates match reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HotlistMatch {
    /// The normalized plate itself.
    Exact,
    /// Within `max_edits` OCR-weighted edits (0, 1 or 2; OCR confusions are free).
    Fuzzy {
        /// Largest number of non-free edits.
        max_edits: u8,
    },
}

/// One state change, applied identically on every replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Changes nothing but the applied position (leader no-ops, blank entries).
    Noop,
    /// A membership configuration, opaque to storage, persisted with the applied position.
    Membership {
        /// Serialized configuration.
        config: Vec<u8>,
    },
    /// Creates a tenant (with `keys`) or changes its policy (ignoring `keys`).
    UpsertTenant {
        /// Tenant name.
        name: String,
        /// Its policy.
        policy: TenantPolicy,
        /// Keys for a new tenant, generated by the proposer.
        keys: WrappedTenantKeys,
    },
    /// Advances the cluster clock to `now_ms` (if later than it) and, from it, every
    /// tenant's retention watermark. Internal: only the leader's clock ticker proposes it,
    /// with a time a majority of voters' clocks have reached, so one node's fast clock
    /// cannot expire data early.
    AdvanceClock {
        /// The agreed time, UTC ms.
        now_ms: i64,
    },
    /// A client command with the id its proposer gave it, so that however often it is
    /// re-proposed (a retry after a timeout, a forward that was resent) it is applied at most
    /// once: `apply` stores each id with the outcome, for [`PROPOSAL_DEDUPE_MS`] of cluster
    /// clock, and answers a repeat with the stored outcome without applying it again.
    Proposal {
        /// Random, fixed by the proposer before the first attempt.
        id: u128,
        /// The command (never itself a `Proposal`: decoding refuses one).
        #[serde(deserialize_with = "proposed_command")]
        command: Box<Command>,
    },
    /// Writes a batch of plate reads atomically.
    PutReads {
        /// Tenant id.
        tenant: u32,
        /// The reads.
        rows: Vec<SealedRead>,
        /// Each distinct plate of `rows` once, sorted by token, for the plate dictionary.
        plates: Vec<SealedPlate>,
    },
    /// Writes a batch of media manifests atomically.
    PutManifests {
        /// Tenant id.
        tenant: u32,
        /// The manifests.
        rows: Vec<SealedManifest>,
    },
    /// Writes a batch of sensor samples atomically.
    PutSamples {
        /// Tenant id.
        tenant: u32,
        /// The samples.
        rows: Vec<SealedSample>,
    },
    /// Creates or replaces a hotlist: from the next batch of reads on, every replica
    /// matches each read it applies against it.
    PutHotlist {
        /// Tenant id.
        tenant: u32,
        /// Hotlist name (`[A-Za-z0-9_.-]`, at most 64 bytes; not secret).
        name: String,
        /// How its plates match.
        matching: HotlistMatch,
        /// Its distinct plates, sorted by token, each sealed like a dictionary entry.
        plates: Vec<SealedPlate>,
    },
    /// Removes a hotlist (nothing but the applied position changes if there is none).
    DeleteHotlist {
        /// Tenant id.
        tenant: u32,
        /// Hotlist name.
        name: String,
    },
    /// Installs the cluster's token signing key (generated and wrapped by the master key by
    /// the proposer). The first one applied stays: a later one is rejected, so a node (or a
    /// peer) proposing its own cannot replace the key every issued token depends on.
    SetSigningKey {
        /// The HMAC-SHA-256 key, wrapped by the master key (context
        /// `sightline_storage::keyring::SIGNING_KEY_CONTEXT`).
        wrapped: Vec<u8>,
    },
    /// Revokes an issued token: from its apply on, every replica refuses it.
    RevokeToken {
        /// The token id (the `id` of `POST /v1/admin/tokens`).
        id: [u8; 16],
    },
    /// Adds data key `version` to a tenant: from its apply on, a node seals the tenant's
    /// new values with it; values sealed under earlier versions still open (each names its
    /// version). The key is generated and wrapped by the proposer. Applied only when
    /// `version` is the tenant's newest plus one, so two rotations racing never both win.
    RotateTenantKey {
        /// Tenant id.
        tenant: u32,
        /// The new version.
        version: u32,
        /// The new data key, wrapped by the master key (context
        /// `sightline_storage::keyring::wrap_context`).
        wrapped: Vec<u8>,
    },
    /// Replaces every wrapped key (each tenant's key versions and the token signing key)
    /// with the same key wrapped by master key `master`; no sealed value changes. Applied
    /// only when it names exactly the slots stored (a key added since it was prepared would
    /// be left under the old master otherwise) and every copy names `master`.
    RewrapKeys {
        /// Fingerprint of the master key that wrapped every copy.
        master: Fingerprint,
        /// Every tenant key slot, sorted by (tenant, version).
        keys: Vec<RewrappedKey>,
        /// The token signing key, if the cluster has one.
        signing_key: Option<Vec<u8>>,
    },
    /// Appends sealed entries to audit logs, in order (several requests' entries share one
    /// command: the API group-commits them). An entry for a tenant that does not exist is
    /// skipped; the others are appended.
    AppendAudit {
        /// The entries.
        entries: Vec<SealedAuditEntry>,
    },
    /// Lets tenant `grantee` search tenant `owner`'s data of `kinds` until `expires_at`
    /// (replacing any grant between the two). Applied only when both tenants exist and
    /// differ.
    PutGrant {
        /// The tenant whose data is shared.
        owner: u32,
        /// The tenant whose investigators may search it.
        grantee: u32,
        /// What may be searched.
        kinds: Vec<GrantKind>,
        /// When the grant ends, UTC ms (checked by each search, not by `apply`).
        expires_at: i64,
    },
    /// Ends the grant from `owner` to `grantee`.
    RevokeGrant {
        /// The tenant whose data was shared.
        owner: u32,
        /// The tenant it was shared with.
        grantee: u32,
    },
}

impl Command {
    /// Whether a client (through `propose`, locally or forwarded from a peer) may order this
    /// command. `Membership` is internal: the state machine makes it from openraft's
    /// membership entries, and it must never arrive as data. `AdvanceClock` is internal too:
    /// only the leader's clock ticker, from a majority's clocks, may move the cluster clock.
    pub fn is_client_command(&self) -> bool {
        match self {
            Command::Membership { .. } | Command::AdvanceClock { .. } => false,
            Command::Proposal { command, .. } => {
                !matches!(**command, Command::Proposal { .. }) && command.is_client_command()
            }
            _ => true,
        }
    }

    /// Compact binary encoding for logs and the wire.
    pub fn encode(&self) -> Vec<u8> {
        match postcard::to_allocvec(self) {
            Ok(bytes) => bytes,
            Err(e) => unreachable!("postcard cannot fail on in-memory commands: {e}"),
        }
    }

    /// The length of [`Command::encode`]'s output, without allocating it.
    pub fn encoded_len(&self) -> usize {
        match postcard::experimental::serialized_size(self) {
            Ok(len) => len,
            Err(e) => unreachable!("postcard cannot fail on in-memory commands: {e}"),
        }
    }

    /// Inverse of [`Command::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        postcard::from_bytes(bytes).map_err(|e| DecodeError(e.to_string()))
    }
}

thread_local! {
    /// How many [`Command::Proposal`]s deep this thread is decoding.
    static PROPOSAL_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Decodes the command of a [`Command::Proposal`], refusing one that is itself a proposal
/// before decoding any deeper. Without this, bytes nesting proposals 10,000 deep (20 KB, a
/// peer's Propose RPC) overflow a 2 MiB thread stack and abort the node. Decoding never
/// awaits, so the count is this decode's own.
fn proposed_command<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Box<Command>, D::Error> {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            PROPOSAL_DEPTH.with(|depth| depth.set(depth.get() - 1));
        }
    }
    let outer = PROPOSAL_DEPTH.with(|depth| {
        let outer = depth.get();
        depth.set(outer + 1);
        outer
    });
    let _leave = Leave;
    if outer > 0 {
        return Err(serde::de::Error::custom("a proposal inside a proposal"));
    }
    Command::deserialize(d).map(Box::new)
}

/// How long (in cluster clock) a [`Command::Proposal`] id is remembered: a re-proposal
/// applied later than this is applied again. Retries span seconds (the client deadline), so
/// an hour is ample; the ids are pruned as the cluster clock advances.
pub const PROPOSAL_DEDUPE_MS: i64 = 3_600_000;

/// What applying a command did, reported back to the proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyOutcome {
    /// Nothing to report.
    Done,
    /// A tenant was created or updated.
    Tenant {
        /// Its id.
        id: u32,
        /// Whether it was new.
        created: bool,
    },
    /// Records were written.
    Written {
        /// New records.
        written: usize,
        /// Records skipped because their client id was already stored.
        duplicates: usize,
        /// Records skipped because they were older than their tenant's retention
        /// watermark when the batch was applied (see [`Command::AdvanceClock`]).
        expired: usize,
    },
    /// The command was valid when proposed but not when applied (for example its tenant
    /// is gone); nothing but the applied position was written.
    Rejected {
        /// Why.
        reason: String,
    },
    /// A hotlist was stored or removed.
    Hotlist {
        /// Whether a hotlist of that name existed before.
        existed: bool,
    },
    /// A grant was stored.
    Granted {
        /// Whether it replaced a grant between the same two tenants.
        replaced: bool,
    },
    /// A grant was revoked.
    GrantRevoked {
        /// Whether there was one.
        existed: bool,
    },
    /// A token was revoked.
    Revoked {
        /// Whether it was already revoked.
        already: bool,
    },
    /// A tenant's data key version was added.
    KeyRotated {
        /// The tenant's key version new values are sealed with from now on.
        version: u32,
    },
    /// Every wrapped key names the new master key.
    Rewrapped {
        /// How many wrapped keys the command carried.
        keys: usize,
    },
    /// Audit entries were appended.
    Audited {
        /// Each entry's seq in its log, in command order (`None`: skipped, its tenant does
        /// not exist).
        seqs: Vec<Option<u64>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        let cmd = Command::PutReads {
            tenant: 3,
            rows: vec![SealedRead {
                ts: 1,
                id: u128::MAX,
                client_id: true,
                plate: [1; 8],
                cell: [2; 8],
                camera: [3; 8],
                value: vec![9; 40],
            }],
            plates: vec![SealedPlate {
                token: [1; 8],
                value: vec![7; 30],
            }],
        };
        assert_eq!(Command::decode(&cmd.encode()).unwrap(), cmd);
        assert!(Command::decode(&[0xff, 0xff]).is_err());
    }

    /// Regression: 100,000 nested proposals (200 KB) overflowed the stack while decoding.
    #[test]
    fn nested_proposals_are_refused_without_recursing() {
        let proposal = |command| Command::Proposal {
            id: 0,
            command: Box::new(command),
        };
        let one = proposal(Command::Noop);
        assert_eq!(Command::decode(&one.encode()).unwrap(), one);
        let two = proposal(proposal(Command::Noop)).encode();
        // (postcard drops custom messages: the error says only that serde refused it)
        assert!(Command::decode(&two).is_err());
        // Each level is the Proposal tag and a zero id; then a Noop.
        let level = &two[..2];
        let mut deep = level.repeat(100_000);
        deep.push(0);
        let decoded = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || Command::decode(&deep).is_err())
            .unwrap()
            .join()
            .unwrap();
        assert!(decoded, "refused");
        // Refusing leaves no count behind: the next decode on this thread is whole.
        assert_eq!(Command::decode(&one.encode()).unwrap(), one);
    }
}
