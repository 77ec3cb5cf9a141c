//! The full-text index of media manifests: one Tantivy index per tenant over labels,
//! transcript and device id, held in memory only ([`RamDirectory`]), so no manifest text
//! ever reaches a file. It is derived state, not replicated state: [`Engine::open`] (also
//! after a snapshot install, which opens a new engine) rebuilds it from the sealed rows of
//! the `manifests` column family, and `apply` adds each batch's written manifests once the
//! batch is durable. Nothing about it enters the checksum.
//!
//! A document indexes the three text fields (not stored) and keeps, as fast fields, what a
//! query filters and sorts on without opening the record: `started_at`, the record id (two
//! u64 halves), the kind and the position. A hit is opened from its sealed row.
//!
//! Retention: manifests below the tenant's watermark are skipped on rebuild and deleted from
//! the index (a range delete on `started_at`) when the watermark has moved by
//! [`PRUNE_STEP_MS`] since the last prune, so memory follows retention; between prunes the
//! query raises `from` to the watermark, so expired manifests are never returned.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use rocksdb::ReadOptions;
use tantivy::directory::RamDirectory;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::RangeQuery;
use tantivy::schema::{Field, Schema, FAST, TEXT};
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Searcher};
use tantivy::{TantivyDocument, Term};

use super::Engine;
use crate::error::{Result, StorageError};
use crate::keys::{cf, RecordKey};
use crate::record::{Manifest, MediaKind};

/// Field names (also the names a query may prefix a word with: `labels:gunshot`).
pub const LABELS: &str = "labels";
/// The transcript field.
pub const TRANSCRIPT: &str = "transcript";
/// The device id field.
pub const DEVICE_ID: &str = "device_id";
/// Fast field: the manifest's `started_at` (the record key's time), UTC ms.
pub const STARTED_AT: &str = "started_at";
/// Fast field: the high 64 bits of the record id.
pub const ID_HI: &str = "id_hi";
/// Fast field: the low 64 bits of the record id.
pub const ID_LO: &str = "id_lo";
/// Fast field: [`kind_code`] of the media kind.
pub const KIND: &str = "kind";
/// Fast field: latitude, absent when the manifest has no position.
pub const LAT: &str = "lat";
/// Fast field: longitude, absent when the manifest has no position.
pub const LON: &str = "lon";

/// Expired documents are deleted once the watermark has moved this far past the last prune
/// (an hour of cluster clock), not on every clock tick.
pub const PRUNE_STEP_MS: i64 = 3_600_000;
/// Indexing arena of a tenant's long-lived writer (Tantivy's minimum).
const WRITER_BUDGET: usize = 15_000_000;
/// Indexing arena per thread while rebuilding on open.
const REBUILD_BUDGET_PER_THREAD: usize = 64 << 20;

/// The schema's fields.
#[derive(Debug, Clone, Copy)]
pub struct TextFields {
    /// Each label, one value each.
    pub labels: Field,
    /// The transcript.
    pub transcript: Field,
    /// The device id.
    pub device_id: Field,
    /// Fast fields, read by name in segment readers.
    started_at: Field,
    id_hi: Field,
    id_lo: Field,
    kind: Field,
    lat: Field,
    lon: Field,
}

/// The manifest index schema and its fields (the same for every tenant).
pub fn text_schema() -> &'static (Schema, TextFields) {
    static SCHEMA: OnceLock<(Schema, TextFields)> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut b = Schema::builder();
        let fields = TextFields {
            labels: b.add_text_field(LABELS, TEXT),
            transcript: b.add_text_field(TRANSCRIPT, TEXT),
            device_id: b.add_text_field(DEVICE_ID, TEXT),
            started_at: b.add_i64_field(STARTED_AT, FAST),
            id_hi: b.add_u64_field(ID_HI, FAST),
            id_lo: b.add_u64_field(ID_LO, FAST),
            kind: b.add_u64_field(KIND, FAST),
            lat: b.add_f64_field(LAT, FAST),
            lon: b.add_f64_field(LON, FAST),
        };
        (b.build(), fields)
    })
}

/// The `kind` fast field's value of a media kind.
pub fn kind_code(kind: MediaKind) -> u64 {
    match kind {
        MediaKind::Image => 0,
        MediaKind::Video => 1,
        MediaKind::Audio => 2,
    }
}

fn document(key: &RecordKey, manifest: &Manifest) -> TantivyDocument {
    let f = &text_schema().1;
    let mut doc = TantivyDocument::new();
    for label in &manifest.labels {
        doc.add_text(f.labels, label);
    }
    if let Some(t) = &manifest.transcript {
        doc.add_text(f.transcript, t);
    }
    doc.add_text(f.device_id, &manifest.device_id);
    doc.add_i64(f.started_at, key.ts);
    doc.add_u64(f.id_hi, (key.id >> 64) as u64);
    doc.add_u64(f.id_lo, key.id as u64);
    doc.add_u64(f.kind, kind_code(manifest.kind));
    if let (Some(lat), Some(lon)) = (manifest.lat, manifest.lon) {
        doc.add_f64(f.lat, lat);
        doc.add_f64(f.lon, lon);
    }
    doc
}

fn writer(index: &Index, threads: usize, budget: usize) -> Result<IndexWriter> {
    let options = IndexWriterOptions::builder()
        .num_worker_threads(threads)
        .num_merge_threads(1)
        .memory_budget_per_thread(budget)
        .build();
    Ok(index.writer_with_options(options)?)
}

/// One tenant's in-memory index.
struct TenantText {
    directory: RamDirectory,
    index: Index,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    /// The watermark the index was last pruned to.
    pruned_to: Mutex<i64>,
}

/// A new, empty index in memory.
fn create() -> Result<(Index, RamDirectory)> {
    let directory = RamDirectory::create();
    let index = Index::create(
        directory.clone(),
        text_schema().0.clone(),
        IndexSettings::default(),
    )?;
    Ok((index, directory))
}

impl TenantText {
    /// Serves `index`: its long-lived writer (one thread, the minimum arena) and reader.
    fn serve(index: Index, directory: RamDirectory, pruned_to: i64) -> Result<Self> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TenantText {
            writer: Mutex::new(writer(&index, 1, WRITER_BUDGET)?),
            directory,
            index,
            reader,
            pruned_to: Mutex::new(pruned_to),
        })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        match self.writer.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Commits what the writer holds and makes it searchable.
    fn publish(&self, writer: &mut IndexWriter) -> Result<()> {
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }
}

/// Every tenant's manifest index.
#[derive(Default)]
pub(super) struct TextIndexes {
    by_tenant: RwLock<HashMap<u32, Arc<TenantText>>>,
}

impl TextIndexes {
    fn get(&self, tenant: u32) -> Option<Arc<TenantText>> {
        self.by_tenant
            .read()
            .ok()
            .and_then(|map| map.get(&tenant).cloned())
    }

    fn get_or_create(&self, tenant: u32, pruned_to: i64) -> Result<Arc<TenantText>> {
        if let Some(found) = self.get(tenant) {
            return Ok(found);
        }
        let mut map = match self.by_tenant.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(found) = map.get(&tenant) {
            return Ok(found.clone());
        }
        let (index, directory) = create()?;
        let text = Arc::new(TenantText::serve(index, directory, pruned_to)?);
        map.insert(tenant, text.clone());
        Ok(text)
    }

    fn all(&self) -> Vec<(u32, Arc<TenantText>)> {
        match self.by_tenant.read() {
            Ok(map) => map.iter().map(|(t, x)| (*t, x.clone())).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// A point-in-time view of one tenant's manifest index, for queries.
pub struct ManifestSearcher {
    /// The index (its tokenizers parse queries).
    pub index: Index,
    /// Segments as of the last applied batch.
    pub searcher: Searcher,
}

/// A sealed manifest row that a batch wrote, to index once the batch is durable.
pub(super) type WrittenManifest<'c> = (RecordKey, &'c [u8]);

impl Engine {
    /// A searcher over `tenant`'s manifest index, `None` when it has no manifests.
    pub fn manifest_searcher(&self, tenant: u32) -> Option<ManifestSearcher> {
        self.text.get(tenant).map(|t| ManifestSearcher {
            index: t.index.clone(),
            searcher: t.reader.searcher(),
        })
    }

    /// Live documents in `tenant`'s manifest index (0 without one).
    pub fn manifest_index_docs(&self, tenant: u32) -> u64 {
        self.text
            .get(tenant)
            .map_or(0, |t| t.reader.searcher().num_docs())
    }

    /// Bytes held by every tenant's in-memory manifest index (its files in RAM).
    pub fn manifest_index_bytes(&self) -> usize {
        self.text
            .all()
            .iter()
            .map(|(_, t)| t.directory.total_mem_usage())
            .sum()
    }

    /// Fetches and opens manifests; `None` for keys that are not stored.
    pub fn get_manifests(&self, tenant: u32, keys: &[RecordKey]) -> Result<Vec<Option<Manifest>>> {
        let tenant_keys = self.tenant_keys(tenant)?;
        let encoded: Vec<[u8; RecordKey::LEN]> = keys.iter().map(RecordKey::encode).collect();
        let values = self
            .db
            .batched_multi_get_cf(self.cf(cf::MANIFESTS)?, encoded.iter(), false);
        let mut out = Vec::with_capacity(keys.len());
        for (key, value) in encoded.iter().zip(values) {
            match value? {
                Some(sealed) => {
                    let plain = tenant_keys.open(key, &sealed)?;
                    out.push(Some(super::decode_meta::<Manifest>("manifest", &plain)?));
                }
                None => out.push(None),
            }
        }
        Ok(out)
    }

    fn open_manifest(&self, tenant: u32, key: &[u8], sealed: &[u8]) -> Result<Manifest> {
        let plain = self.tenant_keys(tenant)?.open(key, sealed)?;
        super::decode_meta("manifest", &plain)
    }

    /// Rebuilds every tenant's manifest index from the sealed rows, skipping expired ones:
    /// per tenant (rows are in tenant order) one two-thread writer with a large arena, one
    /// commit, merges awaited; then the long-lived writer takes over.
    pub(super) fn load_manifest_text(&self) -> Result<()> {
        let started = std::time::Instant::now();
        let mut current: Option<(u32, Index, RamDirectory, IndexWriter)> = None;
        let mut loaded = Vec::new();
        let mut count = 0u64;
        // One pass in key (so tenant) order that leaves the block cache to the queries.
        let mut opts = ReadOptions::default();
        opts.set_total_order_seek(true);
        opts.fill_cache(false);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(cf::MANIFESTS)?, opts);
        iter.seek_to_first();
        while let (Some(raw_key), Some(sealed)) = (iter.key(), iter.value()) {
            let key = RecordKey::decode(raw_key)
                .ok_or_else(|| StorageError::corrupt("manifest key", "bad length"))?;
            if key.ts >= self.live_from(key.tenant) {
                if current.as_ref().is_none_or(|c| c.0 != key.tenant) {
                    if let Some(done) = current.take() {
                        loaded.push(finish(done)?);
                    }
                    let (index, directory) = create()?;
                    let w = writer(&index, 2, REBUILD_BUDGET_PER_THREAD)?;
                    current = Some((key.tenant, index, directory, w));
                }
                let manifest = self.open_manifest(key.tenant, raw_key, sealed)?;
                if let Some((_, _, _, w)) = &current {
                    w.add_document(document(&key, &manifest))?;
                }
                count += 1;
            }
            iter.next();
        }
        iter.status()?;
        if let Some(done) = current.take() {
            loaded.push(finish(done)?);
        }
        let mut map = match self.text.by_tenant.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (tenant, index, directory) in loaded {
            let text = TenantText::serve(index, directory, self.live_from(tenant))?;
            map.insert(tenant, Arc::new(text));
        }
        if count > 0 {
            tracing::info!(
                manifests = count,
                ms = started.elapsed().as_millis() as u64,
                "manifest text index rebuilt in memory"
            );
        }
        Ok(())
    }

    /// Indexes the manifests a durable batch wrote. A failure is logged, not returned: the
    /// batch is applied; the index is derived and is rebuilt whole on the next open.
    pub(super) fn index_manifests(&self, tenant: u32, written: &[WrittenManifest<'_>]) {
        if written.is_empty() {
            return;
        }
        let run = || -> Result<()> {
            let text = self.text.get_or_create(tenant, self.live_from(tenant))?;
            let mut w = text.writer();
            for (key, sealed) in written {
                let manifest = self.open_manifest(tenant, &key.encode(), sealed)?;
                w.add_document(document(key, &manifest))?;
            }
            text.publish(&mut w)
        };
        if let Err(e) = run() {
            tracing::error!(error = %e, tenant, "manifest text index update failed; rebuilt on next start");
        }
    }

    /// Deletes expired manifests from every tenant's index whose watermark moved by
    /// [`PRUNE_STEP_MS`] since its last prune (queries filter them out meanwhile).
    pub(super) fn prune_manifest_text(&self) {
        let (_, fields) = text_schema();
        for (tenant, text) in self.text.all() {
            let Some(cutoff) = self.retention_cutoff(tenant) else {
                continue;
            };
            let mut pruned_to = match text.pruned_to.lock() {
                Ok(p) => p,
                Err(poisoned) => poisoned.into_inner(),
            };
            if cutoff < pruned_to.saturating_add(PRUNE_STEP_MS) {
                continue;
            }
            let run = || -> Result<()> {
                let mut w = text.writer();
                w.delete_query(Box::new(RangeQuery::new(
                    Bound::Unbounded,
                    Bound::Excluded(Term::from_field_i64(fields.started_at, cutoff)),
                )))?;
                text.publish(&mut w)
            };
            match run() {
                Ok(()) => *pruned_to = cutoff,
                Err(e) => {
                    tracing::warn!(error = %e, tenant, "pruning the manifest text index failed")
                }
            }
        }
    }
}

/// Commits a rebuilt tenant index and waits for its merges.
fn finish(
    (tenant, index, directory, mut w): (u32, Index, RamDirectory, IndexWriter),
) -> Result<(u32, Index, RamDirectory)> {
    w.commit()?;
    w.wait_merging_threads()?;
    Ok((tenant, index, directory))
}
