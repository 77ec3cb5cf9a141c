//! The per-tenant in-memory plate dictionary.
//!
//! Holds every distinct normalized plate of a tenant with a dense [`PlateId`] (assigned on
//! first insert, local to this process, never persisted and never reused), its 8-byte keyed
//! token and its last-seen capture time, and expands [`Wildcard`] and [`Fuzzy`] patterns to
//! plate ids.
//!
//! # Structure
//!
//! * `entries`: one fixed-size record per id (token, last seen, plate bytes, liveness and
//!   the next id sharing the same canonical form).
//! * `by_token`: token -> id.
//! * A small LSM of canonical forms ([`crate::ocr::canonical`]): a mutable buffer (hash map
//!   canonical form -> first id) that is frozen into an immutable segment when it reaches
//!   `segment_size` keys, and immutable segments, each an [`fst::Map`] canonical form ->
//!   first id plus an [`fst::Map`] of the reversed canonical forms. Segments are merged
//!   size-tiered (a segment is merged into its predecessor while the predecessor is less than
//!   twice its size), so there are `O(log n)` segments and each key is rewritten `O(log n)`
//!   times: inserts are amortized `O(log n)`, never `O(n)`. A canonical form lives in exactly
//!   one place (buffer or one segment); plates that share it are chained through
//!   `Entry::next` from the first id.
//!
//! Queries run an [`fst::Automaton`] over every segment (and scan the buffer):
//!
//! * fuzzy: the Levenshtein automaton over canonical forms is exact (no post-filter);
//! * wildcard: the canonical automaton is a necessary condition, every chained plate is then
//!   checked with [`Wildcard::matches`]. Patterns whose literal suffix is longer than their
//!   literal prefix (`*4917`) run reversed over the reversed FSTs, so they prune like a
//!   prefix search.
//!
//! Expiry marks ids dead (lazy); keys whose plates are all dead are dropped when segments
//! are merged, and everything is compacted once more than half of the ids are dead.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use fst::{IntoStreamer, Streamer};

use crate::ocr::canonical_byte;
use crate::pattern::{Fuzzy, Wildcard, MAX_PLATE_LEN};

/// Dense, process-local plate id.
pub type PlateId = u32;

const NONE: u32 = u32::MAX;

/// Default number of buffered canonical forms before the buffer is frozen into a segment.
pub const DEFAULT_SEGMENT_SIZE: usize = 4096;

/// Why an insert was refused or could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    /// The plate is not normalized (1 to 16 upper-case ASCII letters or digits).
    #[error("plate {0:?} is not normalized: expected 1 to 16 upper-case letters or digits")]
    InvalidPlate(String),
    /// All `u32` ids are in use.
    #[error("the plate dictionary is full: no more plate ids")]
    Full,
    /// Building an FST segment failed during [`PlateDictionary::compact`] (an internal
    /// invariant broke; the old segments stay in place).
    #[error("building a plate index segment failed: {0}")]
    Index(#[from] fst::Error),
}

#[derive(Clone, Copy)]
struct Entry {
    token: [u8; 8],
    last_seen: i64,
    plate: [u8; MAX_PLATE_LEN],
    next: u32,
    len: u8,
    alive: bool,
}

impl Entry {
    fn plate(&self) -> &[u8] {
        &self.plate[..usize::from(self.len)]
    }
}

/// Hasher for keyed tokens (already uniformly distributed): a splitmix64 finalizer.
#[derive(Default, Clone, Copy)]
struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

struct Segment {
    fwd: fst::Map<Vec<u8>>,
    rev: fst::Map<Vec<u8>>,
}

impl Segment {
    fn len(&self) -> usize {
        self.fwd.len()
    }

    fn bytes(&self) -> usize {
        self.fwd.as_fst().as_bytes().len() + self.rev.as_fst().as_bytes().len()
    }
}

/// The per-tenant plate dictionary (see the module docs).
pub struct PlateDictionary {
    entries: Vec<Entry>,
    by_token: HashMap<u64, PlateId, BuildHasherDefault<TokenHasher>>,
    buffer: HashMap<Vec<u8>, PlateId>,
    segments: Vec<Arc<Segment>>,
    /// A merge handed out by [`PlateDictionary::take_merge_job`] and not yet installed.
    merging: bool,
    /// Merges of at most this many keys run inline.
    inline_merge_max: usize,
    segment_size: usize,
    live: usize,
    dead_since_compact: usize,
}

impl Default for PlateDictionary {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PlateDictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlateDictionary")
            .field("live", &self.live)
            .field("ids", &self.entries.len())
            .field("buffered", &self.buffer.len())
            .field("segments", &self.segment_sizes())
            .finish()
    }
}

fn valid_plate(plate: &str) -> bool {
    (1..=MAX_PLATE_LEN).contains(&plate.len())
        && plate
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl PlateDictionary {
    /// An empty dictionary with [`DEFAULT_SEGMENT_SIZE`].
    pub fn new() -> Self {
        Self::with_segment_size(DEFAULT_SEGMENT_SIZE)
    }

    /// An empty dictionary that freezes its insert buffer every `segment_size` distinct
    /// canonical forms (at least 1). Smaller values make insert-time queries cheaper and
    /// merges more frequent; tests use tiny values to exercise merging.
    pub fn with_segment_size(segment_size: usize) -> Self {
        PlateDictionary {
            entries: Vec::new(),
            by_token: HashMap::default(),
            buffer: HashMap::new(),
            segments: Vec::new(),
            merging: false,
            inline_merge_max: INLINE_MERGE_MAX,
            segment_size: segment_size.max(1),
            live: 0,
            dead_since_compact: 0,
        }
    }

    /// Inserts a plate or refreshes it: returns its id; `last_seen` becomes
    /// `max(old, last_seen)`. A known token keeps its original plate text. Returns `None`
    /// (and inserts nothing) when [`try_upsert`](Self::try_upsert) would return an error.
    pub fn upsert(&mut self, token: [u8; 8], plate: &str, last_seen: i64) -> Option<PlateId> {
        self.try_upsert(token, plate, last_seen).ok()
    }

    /// As [`upsert`](Self::upsert), with the reason for a refusal.
    ///
    /// Errors: [`DictionaryError::InvalidPlate`] if `plate` (of a new token) is not 1 to 16
    /// upper-case ASCII letters or digits; [`DictionaryError::Full`] when ids are exhausted.
    pub fn try_upsert(
        &mut self,
        token: [u8; 8],
        plate: &str,
        last_seen: i64,
    ) -> Result<PlateId, DictionaryError> {
        let key = u64::from_le_bytes(token);
        if let Some(&id) = self.by_token.get(&key) {
            if let Some(e) = self.entries.get_mut(id as usize) {
                e.last_seen = e.last_seen.max(last_seen);
            }
            return Ok(id);
        }
        if !valid_plate(plate) {
            return Err(DictionaryError::InvalidPlate(plate.to_owned()));
        }
        let id = u32::try_from(self.entries.len())
            .ok()
            .filter(|&id| id != NONE)
            .ok_or(DictionaryError::Full)?;
        let mut bytes = [0u8; MAX_PLATE_LEN];
        bytes[..plate.len()].copy_from_slice(plate.as_bytes());
        let canon: Vec<u8> = plate.bytes().map(canonical_byte).collect();
        let head = self.head_of(&canon);
        let mut next = NONE;
        if let Some(h) = head {
            if let Some(he) = self.entries.get_mut(h as usize) {
                next = he.next;
                he.next = id;
            }
        }
        self.entries.push(Entry {
            token,
            last_seen,
            plate: bytes,
            next,
            len: plate.len() as u8,
            alive: true,
        });
        self.by_token.insert(key, id);
        self.live += 1;
        if head.is_none() {
            self.buffer.insert(canon, id);
            if self.buffer.len() >= self.segment_size {
                // Building an FST from sorted distinct keys cannot fail; should it anyway,
                // the keys stay in the (searchable) buffer and the next insert retries.
                let _ = self.freeze();
            }
        }
        Ok(id)
    }

    /// The first id of the chain of plates with this canonical form.
    fn head_of(&self, canon: &[u8]) -> Option<PlateId> {
        if let Some(&h) = self.buffer.get(canon) {
            return Some(h);
        }
        self.segments
            .iter()
            .rev()
            .find_map(|s| s.fwd.get(canon))
            .map(|v| v as u32)
    }

    /// The id of a live plate by token.
    pub fn id_of(&self, token: &[u8; 8]) -> Option<PlateId> {
        self.by_token.get(&u64::from_le_bytes(*token)).copied()
    }

    fn live_entry(&self, id: PlateId) -> Option<&Entry> {
        self.entries.get(id as usize).filter(|e| e.alive)
    }

    /// The plate text of a live id.
    pub fn plate(&self, id: PlateId) -> Option<&str> {
        self.live_entry(id)
            .and_then(|e| std::str::from_utf8(e.plate()).ok())
    }

    /// The token of a live id.
    pub fn token(&self, id: PlateId) -> Option<[u8; 8]> {
        self.live_entry(id).map(|e| e.token)
    }

    /// The last-seen capture time (ms) of a live id.
    pub fn last_seen(&self, id: PlateId) -> Option<i64> {
        self.live_entry(id).map(|e| e.last_seen)
    }

    /// Number of live plates.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True if there is no live plate.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Sizes (keys) of the immutable segments, oldest first; for diagnostics.
    pub fn segment_sizes(&self) -> Vec<usize> {
        self.segments.iter().map(|s| s.len()).collect()
    }

    /// Approximate heap bytes used (entries, token map, buffer, FSTs).
    pub fn memory_bytes(&self) -> usize {
        let entries = self.entries.capacity() * std::mem::size_of::<Entry>();
        // hashbrown: buckets (power of two >= 8/7 capacity) of (key, value) plus 1 control byte.
        let table = |cap: usize, slot: usize| {
            if cap == 0 {
                0
            } else {
                (cap * 8 / 7).next_power_of_two() * (slot + 1)
            }
        };
        let tokens = table(self.by_token.capacity(), 16);
        let buffer = table(self.buffer.capacity(), 32) + self.buffer.len() * MAX_PLATE_LEN;
        let fsts: usize = self.segments.iter().map(|s| s.bytes()).sum();
        entries + tokens + buffer + fsts
    }

    /// Ids of live plates matching the wildcard pattern (exactly, literals compared as typed)
    /// whose `last_seen >= min_last_seen`, sorted by id.
    pub fn wildcard(&self, w: &Wildcard, min_last_seen: i64) -> Vec<PlateId> {
        let mut out = Vec::new();
        // The canonical automaton is necessary; the exact check runs on each real plate.
        let check = |e: &Entry| exact_wildcard(w, e.plate());
        for (key, &head) in &self.buffer {
            if w.matches_canonical(key) {
                self.collect_chain(head, min_last_seen, &check, &mut out);
            }
        }
        let (pre, suf) = (w.prefix_literals(), w.suffix_literals());
        if pre == 0 && suf == 0 {
            // No literal anchors the pattern at either end (`*AB*`, `?*1?`): an FST walk
            // would visit every trie node, a straight scan of the entries is ~10x cheaper.
            out.clear();
            for (id, e) in self.entries.iter().enumerate() {
                if e.alive && e.last_seen >= min_last_seen && exact_wildcard(w, e.plate()) {
                    out.push(id as PlateId);
                }
            }
            return out;
        }
        if suf > pre {
            let r = w.reversed();
            for seg in &self.segments {
                let mut stream = seg.rev.search(&r).into_stream();
                while let Some((_, head)) = stream.next() {
                    self.collect_chain(head as u32, min_last_seen, &check, &mut out);
                }
            }
        } else {
            for seg in &self.segments {
                let mut stream = seg.fwd.search(w).into_stream();
                while let Some((_, head)) = stream.next() {
                    self.collect_chain(head as u32, min_last_seen, &check, &mut out);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Ids of live plates within the fuzzy query's OCR-weighted distance whose
    /// `last_seen >= min_last_seen`, sorted by id.
    pub fn fuzzy(&self, f: &Fuzzy, min_last_seen: i64) -> Vec<PlateId> {
        let mut out = Vec::new();
        let all = |_: &Entry| true;
        for (key, &head) in &self.buffer {
            if f.matches_bytes(key) {
                self.collect_chain(head, min_last_seen, &all, &mut out);
            }
        }
        for seg in &self.segments {
            let mut stream = seg.fwd.search(f).into_stream();
            while let Some((_, head)) = stream.next() {
                self.collect_chain(head as u32, min_last_seen, &all, &mut out);
            }
        }
        out.sort_unstable();
        out
    }

    fn collect_chain(
        &self,
        head: PlateId,
        min_last_seen: i64,
        check: &dyn Fn(&Entry) -> bool,
        out: &mut Vec<PlateId>,
    ) {
        let mut id = head;
        while let Some(e) = self.entries.get(id as usize) {
            if e.alive && e.last_seen >= min_last_seen && check(e) {
                out.push(id);
            }
            id = e.next;
        }
    }

    fn chain_alive(&self, head: PlateId) -> bool {
        let mut id = head;
        while let Some(e) = self.entries.get(id as usize) {
            if e.alive {
                return true;
            }
            id = e.next;
        }
        false
    }

    /// Drops plates with `last_seen < cutoff` (retention). Their ids become dead: the getters
    /// return `None`, queries skip them, the token may be inserted again (with a new id).
    /// Index keys of dead plates are dropped at the next merge; once more than half of the
    /// ids dead since the last compaction, the whole index is compacted. `O(ids)`.
    pub fn expire(&mut self, cutoff: i64) {
        for e in self.entries.iter_mut() {
            if e.alive && e.last_seen < cutoff {
                e.alive = false;
                self.by_token.remove(&u64::from_le_bytes(e.token));
                self.live -= 1;
                self.dead_since_compact += 1;
            }
        }
        if self.dead_since_compact > self.live {
            // A failed rebuild leaves the (still correct) old segments in place.
            let _ = self.compact();
        }
    }

    /// Freezes the buffer and merges all segments into one, dropping keys of dead plates.
    /// Best query speed; useful after a bulk load (e.g. rebuilding on open).
    /// Changes how many new canonical forms the insert buffer holds before it is frozen
    /// into a segment. A bulk load sets it to `usize::MAX`, inserts everything, calls
    /// [`compact`](Self::compact) once (one FST build instead of a cascade of merges) and
    /// sets it back to [`DEFAULT_SEGMENT_SIZE`].
    pub fn set_segment_size(&mut self, segment_size: usize) {
        self.segment_size = segment_size.max(1);
    }

    /// Changes the largest merge run inline (the rest wait for `take_merge_job`); tests
    /// use small values to exercise merges off the inserting thread.
    pub fn set_inline_merge_max(&mut self, keys: usize) {
        self.inline_merge_max = keys;
    }

    /// Merges the buffer and every segment into one segment.
    pub fn compact(&mut self) -> Result<(), DictionaryError> {
        self.freeze_buffer()?;
        if !self.segments.is_empty() {
            let merged = self.merge(&self.segments)?;
            self.segments.clear();
            if !merged.fwd.is_empty() {
                self.segments.push(Arc::new(merged));
            }
        }
        self.dead_since_compact = 0;
        Ok(())
    }

    /// Freezes the buffer into a segment, then merges small tiers inline (large merges
    /// are handed out by `take_merge_job` and run off the inserting thread; the segments
    /// stay searchable meanwhile).
    fn freeze(&mut self) -> Result<(), DictionaryError> {
        self.freeze_buffer()?;
        self.freeze_merges()
    }

    fn freeze_buffer(&mut self) -> Result<(), DictionaryError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut fwd: Vec<(&[u8], u32)> = self
            .buffer
            .iter()
            .filter(|(_, &h)| self.chain_alive(h))
            .map(|(k, &h)| (k.as_slice(), h))
            .collect();
        fwd.sort_unstable();
        let mut rev: Vec<(Vec<u8>, u32)> = fwd
            .iter()
            .map(|(k, h)| (k.iter().rev().copied().collect(), *h))
            .collect();
        rev.sort_unstable();
        let fwd = fst::Map::from_iter(fwd.into_iter().map(|(k, h)| (k, u64::from(h))))?;
        let rev = fst::Map::from_iter(rev.into_iter().map(|(k, h)| (k, u64::from(h))))?;
        if !fwd.is_empty() {
            self.segments.push(Arc::new(Segment { fwd, rev }));
        }
        self.buffer = HashMap::new();
        Ok(())
    }

    /// A merge too large to run inline, when one is due and none is outstanding: the two
    /// newest segments when the older is less than twice the newer. Run it anywhere with
    /// [`MergeJob::run`], then hand the result to [`PlateDictionary::install_merge`].
    pub fn take_merge_job(&mut self) -> Option<MergeJob> {
        let n = self.segments.len();
        if self.merging || n < 2 {
            return None;
        }
        let (older, newer) = (&self.segments[n - 2], &self.segments[n - 1]);
        if older.len() >= 2 * newer.len() {
            return None;
        }
        self.merging = true;
        Some(MergeJob {
            inputs: vec![older.clone(), newer.clone()],
        })
    }

    /// Swaps a finished merge in for its inputs, if they are still segments (a
    /// [`compact`](Self::compact) in between makes it moot); then inline merges may follow.
    pub fn install_merge(&mut self, merged: MergedSegment) -> Result<(), DictionaryError> {
        self.merging = false;
        let positions: Vec<usize> = merged
            .inputs
            .iter()
            .filter_map(|input| self.segments.iter().position(|s| Arc::ptr_eq(s, input)))
            .collect();
        if positions.len() != merged.inputs.len() {
            return Ok(());
        }
        let at = positions.iter().copied().min().unwrap_or(0);
        self.segments
            .retain(|s| !merged.inputs.iter().any(|i| Arc::ptr_eq(s, i)));
        self.segments
            .insert(at.min(self.segments.len()), Arc::new(merged.segment));
        self.freeze_merges()
    }

    /// Forgets an outstanding merge that failed.
    pub fn abandon_merge(&mut self) {
        self.merging = false;
    }

    fn freeze_merges(&mut self) -> Result<(), DictionaryError> {
        while self.segments.len() >= 2 {
            let n = self.segments.len();
            let (older, newer) = (self.segments[n - 2].len(), self.segments[n - 1].len());
            if older >= 2 * newer || older + newer > self.inline_merge_max {
                break;
            }
            let merged = self.merge(&self.segments[n - 2..])?;
            self.segments.truncate(n - 2);
            self.segments.push(Arc::new(merged));
        }
        Ok(())
    }

    fn merge(&self, segs: &[Arc<Segment>]) -> Result<Segment, DictionaryError> {
        let union = |maps: Vec<&fst::Map<Vec<u8>>>| -> Result<fst::Map<Vec<u8>>, fst::Error> {
            let mut op = fst::map::OpBuilder::new();
            for m in maps {
                op.push(m);
            }
            let mut stream = op.union();
            let mut b = fst::MapBuilder::memory();
            let any_dead = self.live < self.entries.len();
            while let Some((key, vals)) = stream.next() {
                if let Some(v) = vals.first() {
                    if !any_dead || self.chain_alive(v.value as u32) {
                        b.insert(key, v.value)?;
                    }
                }
            }
            Ok(b.into_map())
        };
        let fwd = union(segs.iter().map(|s| &s.fwd).collect())?;
        let rev = union(segs.iter().map(|s| &s.rev).collect())?;
        Ok(Segment { fwd, rev })
    }
}

/// Segments up to this many keys in all are merged inline, on the inserting thread.
pub const INLINE_MERGE_MAX: usize = 65_536;

/// A merge of two segments to run off the dictionary's lock (see
/// [`PlateDictionary::take_merge_job`]). It keeps every key, dead or not; `compact` drops
/// dead ones.
pub struct MergeJob {
    inputs: Vec<Arc<Segment>>,
}

/// The result of a [`MergeJob`].
pub struct MergedSegment {
    inputs: Vec<Arc<Segment>>,
    segment: Segment,
}

impl MergeJob {
    /// Builds the merged segment.
    pub fn run(self) -> Result<MergedSegment, DictionaryError> {
        let union = |maps: Vec<&fst::Map<Vec<u8>>>| -> Result<fst::Map<Vec<u8>>, fst::Error> {
            let mut op = fst::map::OpBuilder::new();
            for m in maps {
                op.push(m);
            }
            let mut stream = op.union();
            let mut b = fst::MapBuilder::memory();
            while let Some((key, vals)) = stream.next() {
                if let Some(v) = vals.first() {
                    b.insert(key, v.value)?;
                }
            }
            Ok(b.into_map())
        };
        let fwd = union(self.inputs.iter().map(|s| &s.fwd).collect())?;
        let rev = union(self.inputs.iter().map(|s| &s.rev).collect())?;
        Ok(MergedSegment {
            inputs: self.inputs,
            segment: Segment { fwd, rev },
        })
    }
}

fn exact_wildcard(w: &Wildcard, plate: &[u8]) -> bool {
    std::str::from_utf8(plate).is_ok_and(|p| w.matches(p))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod perf;
