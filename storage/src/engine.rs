//! The RocksDB engine: opens the column families with their retention filters, applies
//! commands as single `WriteBatch`es together with the applied log position, and offers the
//! narrow read primitives (index scans, record fetches) that the query layer builds on.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Options,
    SliceTransform, WriteBatch, WriteOptions, DB,
};
use serde::{Deserialize, Serialize};

use crate::alerts::AlertSinkHandle;
use crate::command::{
    ApplyOutcome, Command, LogPosition, SealedPlate, SealedRead, TenantPolicy, PROPOSAL_DEDUPE_MS,
};
use crate::error::{Result, StorageError};
use crate::keyring::{MasterKey, WrappedTenantKeys};
use crate::keys::{self, cf, encode_ts, id_key, meta, series_key, IndexKey, RecordKey, Token};
use crate::retention::RetentionTable;

/// [`Engine::clock`] before the first `AdvanceClock`.
const NO_CLOCK: i64 = i64::MIN;

/// How the engine is opened.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// RocksDB directory.
    pub path: PathBuf,
    /// Shared block cache size.
    pub block_cache_bytes: usize,
    /// fsync the WAL before `apply` returns. Required when nothing else (a replicated log)
    /// makes the command durable; see `write_options`.
    pub sync_writes: bool,
    /// Write RocksDB's WAL at all. Off only in the power-loss test mode (`[testing]
    /// engine_wal = false`): the engine then keeps nothing that was not flushed, so a
    /// SIGKILL loses it as a power cut loses an unsynced WAL, and the replicated log alone
    /// must bring back every acknowledged write.
    pub wal: bool,
    /// Where the hotlist alerts of applied reads go (none: hotlists are stored but raise
    /// nothing). Kept when a snapshot install opens a new engine from this config.
    pub alerts: Option<AlertSinkHandle>,
}

impl EngineConfig {
    /// Defaults for a data directory: 256 MiB cache, synchronous writes.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        EngineConfig {
            path: path.into(),
            block_cache_bytes: 256 << 20,
            sync_writes: true,
            wal: true,
            alerts: None,
        }
    }
}

/// A tenant as the engine knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantInfo {
    /// Dense internal id used in keys.
    pub id: u32,
    /// Public name.
    pub name: String,
    /// Retention and tiering policy.
    pub policy: TenantPolicy,
}

#[derive(Default)]
struct TenantTable {
    by_name: HashMap<String, TenantInfo>,
    by_id: HashMap<u32, TenantInfo>,
}

/// The token indexes over plate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadIndex {
    /// By plate token.
    Plate,
    /// By H3 cell token.
    Cell,
    /// By camera token.
    Camera,
}

impl ReadIndex {
    pub(crate) fn cf_name(self) -> &'static str {
        match self {
            ReadIndex::Plate => cf::READS_BY_PLATE,
            ReadIndex::Cell => cf::READS_BY_CELL,
            ReadIndex::Camera => cf::READS_BY_CAMERA,
        }
    }
}

/// One node's storage engine.
pub struct Engine {
    pub(crate) db: DB,
    master: MasterKey,
    tenants: ArcSwap<TenantTable>,
    keys: keystore::KeyState,
    retention: RetentionTable,
    /// The replicated cluster clock ([`meta::CLOCK`]); [`NO_CLOCK`] until the first tick.
    clock: AtomicI64,
    dictionaries: dictionary::Dictionaries,
    hotlists: hotlists::Hotlists,
    auth: auth::AuthState,
    grants: grants::Grants,
    text: text::TextIndexes,
    alerts: Option<AlertSinkHandle>,
    sync_writes: bool,
    wal: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("path", &self.db.path())
            .finish()
    }
}

fn encode_meta<T: Serialize>(value: &T) -> Vec<u8> {
    match postcard::to_allocvec(value) {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("postcard cannot fail on metadata: {e}"),
    }
}

fn decode_meta<'a, T: Deserialize<'a>>(what: &'static str, bytes: &'a [u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| StorageError::corrupt(what, e))
}

impl Engine {
    /// Opens (creating if needed) the engine at `config.path`.
    pub fn open(config: &EngineConfig, master: MasterKey) -> Result<Self> {
        std::fs::create_dir_all(&config.path)?;
        let retention = RetentionTable::default();
        let cache = Cache::new_lru_cache(config.block_cache_bytes);

        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        db_opts.set_max_background_jobs(2);
        // Flush all column families together so a crash never leaves an index entry
        // persisted without its record (or the applied position without either).
        db_opts.set_atomic_flush(true);
        db_opts.set_keep_log_file_num(5);

        let mut families = Vec::new();
        for name in cf::all() {
            let mut opts = Options::default();
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            table.set_bloom_filter(10.0, false);
            table.set_cache_index_and_filter_blocks(true);
            opts.set_compression_type(DBCompressionType::Lz4);
            opts.set_bottommost_compression_type(DBCompressionType::Zstd);
            opts.set_write_buffer_size(64 << 20);
            if matches!(
                name,
                cf::READS_BY_PLATE | cf::READS_BY_CELL | cf::READS_BY_CAMERA | cf::SERIES
            ) {
                // (tenant, token) prefixes: bloom filters answer "no reads of this plate"
                // without touching data blocks.
                opts.set_prefix_extractor(SliceTransform::create_fixed_prefix(
                    IndexKey::PREFIX_LEN,
                ));
                opts.set_memtable_prefix_bloom_ratio(0.1);
            }
            if let Some(loc) = keys::time_location(name) {
                opts.set_compaction_filter("sightline_retention", retention.compaction_filter(loc));
            }
            opts.set_block_based_table_factory(&table);
            families.push(ColumnFamilyDescriptor::new(name, opts));
        }
        let db = DB::open_cf_descriptors(&db_opts, &config.path, families)?;
        let engine = Engine {
            db,
            master,
            tenants: ArcSwap::from_pointee(TenantTable::default()),
            keys: keystore::KeyState::default(),
            retention,
            clock: AtomicI64::new(NO_CLOCK),
            dictionaries: dictionary::Dictionaries::default(),
            hotlists: hotlists::Hotlists::default(),
            auth: auth::AuthState::default(),
            grants: grants::Grants::default(),
            text: text::TextIndexes::default(),
            alerts: config.alerts.clone(),
            sync_writes: config.sync_writes,
            wal: config.wal,
        };
        engine.load_tenants()?;
        engine.load_keys()?;
        engine.load_dictionaries()?;
        engine.load_hotlists()?;
        engine.load_auth()?;
        engine.load_grants()?;
        engine.load_manifest_text()?;
        Ok(engine)
    }

    pub(crate) fn cf(&self, name: &str) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StorageError::corrupt("column family", format!("{name} missing")))
    }

    /// The single place that decides write durability. With `sync_writes` the WAL is
    /// fsync'd before `write` returns, so an acknowledged command survives a crash; without
    /// it, durability must come from a log that is replayed on start.
    fn write_options(&self) -> WriteOptions {
        let mut opts = WriteOptions::default();
        opts.set_sync(self.sync_writes && self.wal);
        opts.disable_wal(!self.wal);
        opts
    }

    fn load_tenants(&self) -> Result<()> {
        let mut table = TenantTable::default();
        let meta_cf = self.cf(cf::META)?;
        let iter = self.db.prefix_iterator_cf(meta_cf, meta::TENANT_PREFIX);
        for item in iter {
            let (key, value) = item?;
            if !key.starts_with(meta::TENANT_PREFIX) {
                break;
            }
            let info: TenantInfo = decode_meta("tenant record", &value)?;
            table.by_id.insert(info.id, info.clone());
            table.by_name.insert(info.name.clone(), info);
        }
        self.tenants.store(Arc::new(table));
        let clock = match self.db.get_cf(meta_cf, meta::CLOCK)? {
            Some(bytes) => decode_meta::<i64>("cluster clock", &bytes)?,
            None => NO_CLOCK,
        };
        self.clock.store(clock, Ordering::Release);
        self.retention.replace(read_watermarks(|prefix| {
            self.db.prefix_iterator_cf(meta_cf, prefix)
        })?);
        Ok(())
    }

    /// The RocksDB directory.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The last applied log position, if any command was ever applied.
    pub fn applied(&self) -> Result<Option<LogPosition>> {
        match self.db.get_cf(self.cf(cf::META)?, meta::APPLIED)? {
            Some(bytes) => Ok(Some(decode_meta("applied position", &bytes)?)),
            None => Ok(None),
        }
    }

    /// The last applied membership blob, if any.
    pub fn membership(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf::META)?, meta::MEMBERSHIP)?)
    }

    /// A tenant by name.
    pub fn tenant(&self, name: &str) -> Option<TenantInfo> {
        self.tenants.load().by_name.get(name).cloned()
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> Vec<TenantInfo> {
        let mut all: Vec<_> = self.tenants.load().by_name.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The oldest live timestamp of `tenant`: its replicated retention watermark, `None`
    /// while it has none (nothing of it is expired yet).
    pub fn retention_cutoff(&self, tenant: u32) -> Option<i64> {
        self.retention.cutoff(tenant)
    }

    /// The replicated cluster clock (UTC ms), `None` until the leader's first tick.
    pub fn cluster_clock(&self) -> Option<i64> {
        match self.clock.load(Ordering::Acquire) {
            NO_CLOCK => None,
            ms => Some(ms),
        }
    }

    /// This node's master keys as configured (proposers wrapping a new key use
    /// [`Engine::wrapping_key`]).
    pub fn master_key(&self) -> &MasterKey {
        &self.master
    }

    /// Applies one command at `pos` as one atomic `WriteBatch` that also records `pos`.
    /// Deterministic: the same command on the same state writes the same bytes. A
    /// [`Command::Proposal`] whose id was applied within [`PROPOSAL_DEDUPE_MS`] of cluster
    /// clock is not applied again: only the position moves, and the first outcome is
    /// returned.
    pub fn apply(&self, pos: LogPosition, command: &Command) -> Result<ApplyOutcome> {
        match command {
            Command::Proposal { id, command } => match self.applied_proposal(*id)? {
                Some(outcome) => self.apply_once(pos, &Command::Noop, None).map(|_| outcome),
                None if matches!(**command, Command::Proposal { .. }) => {
                    self.apply_once(pos, &Command::Noop, None)?;
                    Ok(ApplyOutcome::Rejected {
                        reason: "a proposal may not wrap another".into(),
                    })
                }
                None => self.apply_once(pos, command, Some(*id)),
            },
            command => self.apply_once(pos, command, None),
        }
    }

    fn apply_once(
        &self,
        pos: LogPosition,
        command: &Command,
        proposal: Option<u128>,
    ) -> Result<ApplyOutcome> {
        let mut batch = WriteBatch::default();
        let mut new_tenant = None;
        let mut plate_updates = Vec::new();
        // Reads written by this batch (for hotlist matching) and a tenant whose hotlists
        // changed, acted on once the batch is durable.
        let mut written_reads: Vec<&SealedRead> = Vec::new();
        let mut hotlists_changed = None;
        let mut written_manifests: Vec<text::WrittenManifest<'_>> = Vec::new();
        // The clock and watermarks this command moves to, published once it is durable.
        let mut new_clock = None;
        let mut new_watermarks = None;
        let (mut new_signing_key, mut new_revocation) = (None, None);
        let mut key_change = keystore::KeyChange::default();
        let mut grant_change = None;
        let outcome = match command {
            Command::Noop => ApplyOutcome::Done,
            // `apply` unwraps proposals; one that reaches here wraps another.
            Command::Proposal { .. } => ApplyOutcome::Rejected {
                reason: "a proposal may not wrap another".into(),
            },
            Command::AdvanceClock { now_ms } => {
                let clock = self.cluster_clock().map_or(*now_ms, |c| c.max(*now_ms));
                if Some(clock) != self.cluster_clock() {
                    batch.put_cf(self.cf(cf::META)?, meta::CLOCK, encode_meta(&clock));
                    new_clock = Some(clock);
                    self.stage_proposal_pruning(
                        &mut batch,
                        clock.saturating_sub(PROPOSAL_DEDUPE_MS),
                    )?;
                    self.stage_audit_pruning(&mut batch, clock)?;
                }
                let tenants: Vec<_> = self.tenants.load().by_id.values().cloned().collect();
                new_watermarks = self.stage_watermarks(&mut batch, Some(clock), &tenants)?;
                ApplyOutcome::Done
            }
            Command::Membership { config } => {
                batch.put_cf(self.cf(cf::META)?, meta::MEMBERSHIP, config);
                ApplyOutcome::Done
            }
            Command::UpsertTenant { name, policy, keys } => 'upsert: {
                let new_keys = [keys.token_key.as_slice(), &keys.data_key];
                if self.tenant(name).is_none() {
                    if let Some(no) = self.admit_wrapped(&mut batch, &new_keys, &mut key_change)? {
                        break 'upsert no;
                    }
                }
                let (info, created) = self.stage_tenant(&mut batch, name, *policy, keys)?;
                let id = info.id;
                new_watermarks = self.stage_watermarks(
                    &mut batch,
                    self.cluster_clock(),
                    std::slice::from_ref(&info),
                )?;
                new_tenant = Some(info);
                ApplyOutcome::Tenant { id, created }
            }
            Command::PutReads {
                tenant,
                rows,
                plates,
            } => match self.tenants.load().by_id.contains_key(tenant) {
                true => self.stage_reads(
                    &mut batch,
                    *tenant,
                    rows,
                    plates,
                    &mut plate_updates,
                    &mut written_reads,
                )?,
                false => unknown_tenant(*tenant),
            },
            Command::PutHotlist {
                tenant,
                name,
                matching,
                plates,
            } => match self.tenants.load().by_id.contains_key(tenant) {
                true => {
                    hotlists_changed = Some(*tenant);
                    self.stage_put_hotlist(&mut batch, *tenant, name, *matching, plates)?
                }
                false => unknown_tenant(*tenant),
            },
            Command::SetSigningKey { wrapped } => {
                let (outcome, key) =
                    self.stage_signing_key(&mut batch, wrapped, &mut key_change)?;
                new_signing_key = key;
                outcome
            }
            Command::RotateTenantKey {
                tenant,
                version,
                wrapped,
            } => match self.tenants.load().by_id.contains_key(tenant) {
                true => {
                    self.stage_rotate_key(&mut batch, *tenant, *version, wrapped, &mut key_change)?
                }
                false => unknown_tenant(*tenant),
            },
            Command::RewrapKeys {
                master,
                keys,
                signing_key,
            } => {
                let signing_key = signing_key.as_deref();
                self.stage_rewrap(&mut batch, *master, keys, signing_key, &mut key_change)?
            }
            Command::RevokeToken { id } => {
                let (outcome, id) = self.stage_revocation(&mut batch, id)?;
                new_revocation = id;
                outcome
            }
            Command::AppendAudit { entries } => self.stage_audit(&mut batch, entries)?,
            Command::PutGrant {
                owner,
                grantee,
                kinds,
                expires_at,
            } => self.stage_put_grant(
                &mut batch,
                *owner,
                *grantee,
                kinds,
                *expires_at,
                &mut grant_change,
            )?,
            Command::RevokeGrant { owner, grantee } => {
                self.stage_revoke_grant(&mut batch, *owner, *grantee, &mut grant_change)?
            }
            Command::DeleteHotlist { tenant, name } => {
                match self.tenants.load().by_id.contains_key(tenant) {
                    true => {
                        hotlists_changed = Some(*tenant);
                        self.stage_delete_hotlist(&mut batch, *tenant, name)?
                    }
                    false => unknown_tenant(*tenant),
                }
            }
            Command::PutManifests { tenant, rows } => {
                match self.tenants.load().by_id.contains_key(tenant) {
                    true => {
                        let keep = self.new_client_ids(
                            cf::MANIFEST_IDS,
                            *tenant,
                            rows.iter().map(|r| (r.client_id, r.id)),
                        )?;
                        let (ids_cf, data_cf) =
                            (self.cf(cf::MANIFEST_IDS)?, self.cf(cf::MANIFESTS)?);
                        let live = self.live_from(*tenant);
                        let (mut written, mut expired) = (0, 0);
                        for (row, keep) in rows.iter().zip(keep) {
                            // Expiry before dedupe, as in `stage_reads`.
                            if row.ts < live {
                                expired += 1;
                                continue;
                            }
                            if !keep {
                                continue;
                            }
                            if row.client_id {
                                batch.put_cf(ids_cf, id_key(*tenant, row.id), encode_ts(row.ts));
                            }
                            let key = RecordKey {
                                tenant: *tenant,
                                ts: row.ts,
                                id: row.id,
                            };
                            batch.put_cf(data_cf, key.encode(), &row.value);
                            written_manifests.push((key, &row.value));
                            written += 1;
                        }
                        ApplyOutcome::Written {
                            written,
                            duplicates: rows.len() - written - expired,
                            expired,
                        }
                    }
                    false => unknown_tenant(*tenant),
                }
            }
            Command::PutSamples { tenant, rows } => {
                match self.tenants.load().by_id.contains_key(tenant) {
                    true => {
                        let series_cf = self.cf(cf::SERIES)?;
                        let live = self.live_from(*tenant);
                        let mut written = 0;
                        for row in rows.iter().filter(|row| row.ts >= live) {
                            batch.put_cf(
                                series_cf,
                                series_key(*tenant, &row.series, row.ts),
                                &row.value,
                            );
                            written += 1;
                        }
                        ApplyOutcome::Written {
                            written,
                            duplicates: 0,
                            expired: rows.len() - written,
                        }
                    }
                    false => unknown_tenant(*tenant),
                }
            }
        };
        if let Some(id) = proposal {
            let at = self.cluster_clock().unwrap_or(0);
            let meta_cf = self.cf(cf::META)?;
            batch.put_cf(meta_cf, meta::proposal(id), encode_meta(&(at, &outcome)));
            batch.put_cf(meta_cf, meta::proposal_at(at, id), []);
        }
        batch.put_cf(self.cf(cf::META)?, meta::APPLIED, encode_meta(&pos));
        self.db.write_opt(batch, &self.write_options())?;
        // Caches change only once the batch is durable, so a failed write leaves them
        // describing what is on disk.
        self.dictionaries.apply_updates(plate_updates);
        if let Some(clock) = new_clock {
            self.clock.store(clock, Ordering::Release);
        }
        if let Some(watermarks) = new_watermarks {
            self.retention.replace(watermarks);
            self.prune_manifest_text();
        }
        if let Command::PutManifests { tenant, .. } = command {
            self.index_manifests(*tenant, &written_manifests);
        }
        if let Some(info) = new_tenant {
            self.tenants.rcu(|old| {
                let mut by_name = old.by_name.clone();
                let mut by_id = old.by_id.clone();
                by_name.insert(info.name.clone(), info.clone());
                by_id.insert(info.id, info.clone());
                TenantTable { by_name, by_id }
            });
        }
        if let Some(tenant) = hotlists_changed {
            self.reload_hotlists(tenant)?;
        }
        self.publish_auth(new_signing_key, new_revocation);
        self.publish_keys(key_change);
        self.publish_grants(grant_change);
        if let (Some(sink), Command::PutReads { tenant, .. }) = (&self.alerts, command) {
            if !written_reads.is_empty() {
                // The batch is durable: a failure to raise its alerts must not fail it.
                match self.match_hotlists(pos, *tenant, &written_reads) {
                    Ok(alerts) if !alerts.is_empty() => sink.0.publish(alerts),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, index = pos.index, "hotlist matching failed")
                    }
                }
            }
        }
        Ok(outcome)
    }

    fn stage_tenant(
        &self,
        batch: &mut WriteBatch,
        name: &str,
        policy: TenantPolicy,
        keys: &WrappedTenantKeys,
    ) -> Result<(TenantInfo, bool)> {
        let meta_cf = self.cf(cf::META)?;
        if let Some(existing) = self.tenant(name) {
            let info = TenantInfo { policy, ..existing };
            batch.put_cf(meta_cf, meta::tenant(name), encode_meta(&info));
            return Ok((info, false));
        }
        let id = match self.db.get_cf(meta_cf, meta::NEXT_TENANT_ID)? {
            Some(bytes) => decode_meta::<u32>("next tenant id", &bytes)?,
            None => 1,
        };
        let info = TenantInfo {
            id,
            name: name.to_string(),
            policy,
        };
        batch.put_cf(meta_cf, meta::NEXT_TENANT_ID, encode_meta(&(id + 1)));
        batch.put_cf(meta_cf, meta::tenant(name), encode_meta(&info));
        batch.put_cf(meta_cf, meta::wrapped_key(id, 0), &keys.token_key);
        batch.put_cf(meta_cf, meta::wrapped_key(id, 1), &keys.data_key);
        Ok((info, true))
    }

    /// For each (has client id, id) row, whether to write it: rows without a client id
    /// always; rows with one only if that id is neither stored in `ids_cf` nor earlier in
    /// the same batch (re-sends are idempotent).
    fn new_client_ids(
        &self,
        ids_cf: &str,
        tenant: u32,
        rows: impl Iterator<Item = (bool, u128)> + Clone,
    ) -> Result<Vec<bool>> {
        let keys: Vec<[u8; 20]> = rows
            .clone()
            .filter(|(client, _)| *client)
            .map(|(_, id)| id_key(tenant, id))
            .collect();
        let mut stored = HashSet::new();
        if !keys.is_empty() {
            let handle = self.cf(ids_cf)?;
            for (key, value) in
                keys.iter()
                    .zip(self.db.batched_multi_get_cf(handle, keys.iter(), false))
            {
                if value?.is_some() {
                    stored.insert(*key);
                }
            }
        }
        let mut seen = HashSet::new();
        Ok(rows
            .map(|(client, id)| {
                let key = id_key(tenant, id);
                !client || (!stored.contains(&key) && seen.insert(key))
            })
            .collect())
    }

    fn stage_reads<'c>(
        &self,
        batch: &mut WriteBatch,
        tenant: u32,
        rows: &'c [SealedRead],
        plates: &[SealedPlate],
        plate_updates: &mut Vec<dictionary::PlateUpdate>,
        written_reads: &mut Vec<&'c SealedRead>,
    ) -> Result<ApplyOutcome> {
        let keep = self.new_client_ids(
            cf::READ_IDS,
            tenant,
            rows.iter().map(|r| (r.client_id, r.id)),
        )?;
        let reads_cf = self.cf(cf::READS)?;
        let ids_cf = self.cf(cf::READ_IDS)?;
        let plate_cf = self.cf(cf::READS_BY_PLATE)?;
        let cell_cf = self.cf(cf::READS_BY_CELL)?;
        let camera_cf = self.cf(cf::READS_BY_CAMERA)?;
        // Entries go into the batch sorted by key within each column family: memtable
        // inserts at ascending positions are far cheaper than at random ones (the index
        // keys of a batch are scattered by their tokens).
        let mut ids: Vec<([u8; 20], [u8; 8])> = Vec::new();
        let mut records: Vec<([u8; RecordKey::LEN], &[u8])> = Vec::with_capacity(rows.len());
        let mut plate_keys: Vec<([u8; IndexKey::LEN], Token)> = Vec::with_capacity(rows.len());
        let mut cells: Vec<([u8; IndexKey::LEN], Token)> = Vec::with_capacity(rows.len());
        let mut cameras: Vec<([u8; IndexKey::LEN], Token)> = Vec::with_capacity(rows.len());
        let mut newest: HashMap<Token, i64> = HashMap::new();
        let live = self.live_from(tenant);
        let mut expired = 0;
        for (row, keep) in rows.iter().zip(keep) {
            // Expiry first: whether a re-sent id is still stored depends on compaction,
            // which differs between replicas; whether it is below the watermark does not.
            if row.ts < live {
                expired += 1;
                continue;
            }
            if !keep {
                continue;
            }
            if row.client_id {
                ids.push((id_key(tenant, row.id), encode_ts(row.ts)));
            }
            written_reads.push(row);
            let record = RecordKey {
                tenant,
                ts: row.ts,
                id: row.id,
            };
            records.push((record.encode(), &row.value));
            let index = |token: Token| {
                IndexKey {
                    tenant,
                    token,
                    ts: row.ts,
                    id: row.id,
                }
                .encode()
            };
            // The plate index carries the camera token so camera filters and totals are
            // answered from the index alone; the cell and camera indexes carry the plate
            // token, so co-location and convoy count plates without opening records.
            plate_keys.push((index(row.plate), row.camera));
            cells.push((index(row.cell), row.plate));
            cameras.push((index(row.camera), row.plate));
            let seen = newest.entry(row.plate).or_insert(row.ts);
            *seen = (*seen).max(row.ts);
        }
        self.stage_plates(batch, tenant, plates, &newest, plate_updates)?;
        let written = records.len();
        ids.sort_unstable();
        records.sort_unstable_by_key(|r| r.0);
        plate_keys.sort_unstable();
        cells.sort_unstable();
        cameras.sort_unstable();
        for (key, ts) in &ids {
            batch.put_cf(ids_cf, key, ts);
        }
        for (key, value) in &records {
            batch.put_cf(reads_cf, key, value);
        }
        for (key, camera) in &plate_keys {
            batch.put_cf(plate_cf, key, camera);
        }
        for (key, plate) in &cells {
            batch.put_cf(cell_cf, key, plate);
        }
        for (key, plate) in &cameras {
            batch.put_cf(camera_cf, key, plate);
        }
        Ok(ApplyOutcome::Written {
            written,
            duplicates: rows.len() - written - expired,
            expired,
        })
    }
}

fn unknown_tenant(tenant: u32) -> ApplyOutcome {
    ApplyOutcome::Rejected {
        reason: format!("tenant id {tenant} does not exist"),
    }
}

mod audit;
mod auth;
pub use auth::{read_stored_auth, StoredAuth};
pub use maintenance::RocksFigures;
mod dictionary;
mod grants;
mod hotlists;
mod keystore;
mod lookup;
mod maintenance;
mod replicated;
mod scan;
pub mod series;
pub mod text;

pub use audit::{AuditPage, AuditQuery, AuditRecord};
pub use grants::Grant;
pub use hotlists::Hotlist;
pub use keystore::WrappedKeyInfo;
use replicated::read_watermarks;
pub use text::ManifestSearcher;

#[cfg(test)]
mod tests;
