//! The hotlist matcher: which hotlist entries a plate read hits, answered for every read as
//! it is applied, so it must cost little more than a hash lookup per read.
//!
//! - An **exact** entry is hit by reads of its plate token.
//! - A **fuzzy** entry is hit by plates within its `max_edits` OCR-weighted edits (the
//!   distance of [`crate::pattern::Fuzzy`]: Levenshtein over canonical OCR classes). Trying
//!   every fuzzy entry against every plate would cost (entries × plates) automaton runs per
//!   batch, so fuzzy entries are indexed by their *deletion neighbourhood* (the symmetric
//!   deletion scheme of SymSpell): two strings are within `k` edits only if deleting at
//!   most `k` characters from each makes them equal. Each entry's canonical plate is stored
//!   under every string made from it by up to `max_edits` deletions; a plate looks up its
//!   own deletion variants (up to the largest `max_edits` of any entry) and every candidate
//!   found is confirmed with the entry's own [`Fuzzy`] automaton. The neighbourhood is a
//!   superset (no miss), the confirmation makes it exact (nothing extra).
//!
//! Plates are at most [`MAX_PLATE_LEN`] bytes, so a plate has at most 1 + 16 + 120 = 137
//! variants at two edits.

use std::collections::{BTreeSet, HashMap};

/// A deletion variant of a canonical plate, inline: byte 0 is its length, then its bytes
/// (plates are at most [`MAX_PLATE_LEN`] bytes), so building and hashing one allocates
/// nothing.
type Variant = [u8; MAX_PLATE_LEN + 1];

use crate::ocr::canonical_bytes;
use crate::pattern::{Fuzzy, PatternError, MAX_PLATE_LEN};

/// How a hotlist entry matches reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMatch {
    /// The plate itself (by its token).
    Exact,
    /// Within this many OCR-weighted edits (0, 1 or 2).
    Fuzzy(u8),
}

/// One plate of one hotlist.
#[derive(Debug, Clone)]
pub struct HotlistEntry {
    /// The hotlist's name.
    pub hotlist: String,
    /// The normalized plate as listed.
    pub plate: String,
    /// Its plate token.
    pub token: [u8; 8],
    /// How it matches.
    pub matching: EntryMatch,
}

/// Every hotlist entry of one tenant, indexed for matching reads.
#[derive(Debug, Default)]
pub struct HotlistIndex {
    entries: Vec<HotlistEntry>,
    fuzzy: Vec<Option<Fuzzy>>,
    exact: HashMap<[u8; 8], Vec<usize>>,
    variants: HashMap<Variant, Vec<usize>>,
    max_edits: Option<u8>,
}

impl HotlistIndex {
    /// Indexes `entries`. Fails (naming nothing but the pattern problem) when a fuzzy
    /// entry's plate cannot be a plate; callers validate plates before they reach here.
    pub fn new(entries: Vec<HotlistEntry>) -> Result<HotlistIndex, PatternError> {
        let mut index = HotlistIndex::default();
        for (i, entry) in entries.iter().enumerate() {
            match entry.matching {
                EntryMatch::Exact => {
                    index.exact.entry(entry.token).or_default().push(i);
                    index.fuzzy.push(None);
                }
                EntryMatch::Fuzzy(k) => {
                    let fuzzy = Fuzzy::new(&entry.plate, k)?;
                    let canonical = canonical_bytes(fuzzy.text().as_bytes());
                    let mut variants = Vec::new();
                    deletions(&canonical, k, &mut variants);
                    for variant in variants {
                        index.variants.entry(variant).or_default().push(i);
                    }
                    index.max_edits = Some(index.max_edits.map_or(k, |m| m.max(k)));
                    index.fuzzy.push(Some(fuzzy));
                }
            }
        }
        index.entries = entries;
        Ok(index)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether any entry is fuzzy, so that matching needs the plate text, not only its
    /// token.
    pub fn needs_text(&self) -> bool {
        self.max_edits.is_some()
    }

    /// The entries a read of `plate` (normalized text, needed only when
    /// [`needs_text`](Self::needs_text)) with plate token `token` hits, each once, in entry
    /// order.
    pub fn hits(&self, token: &[u8; 8], plate: Option<&str>) -> Vec<&HotlistEntry> {
        let mut found: BTreeSet<usize> = BTreeSet::new();
        if let Some(exact) = self.exact.get(token) {
            found.extend(exact.iter().copied());
        }
        if let (Some(k), Some(plate)) = (self.max_edits, plate) {
            if plate.len() <= MAX_PLATE_LEN {
                let canonical = canonical_bytes(plate.as_bytes());
                let mut variants = Vec::new();
                deletions(&canonical, k, &mut variants);
                for variant in &variants {
                    for &i in self.variants.get(variant).into_iter().flatten() {
                        if !found.contains(&i)
                            && self.fuzzy[i].as_ref().is_some_and(|f| f.matches(plate))
                        {
                            found.insert(i);
                        }
                    }
                }
            }
        }
        found.into_iter().map(|i| &self.entries[i]).collect()
    }
}

/// Every string made from `text` (at most [`MAX_PLATE_LEN`] bytes) by deleting at most `k`
/// bytes, including `text` itself, each once (sorted).
fn deletions(text: &[u8], k: u8, out: &mut Vec<Variant>) {
    fn walk(variant: &Variant, k: u8, out: &mut Vec<Variant>) {
        out.push(*variant);
        if k == 0 {
            return;
        }
        let len = usize::from(variant[0]);
        for i in 1..=len {
            // Deleting the second of two equal neighbours gives what deleting the first did.
            if i > 1 && variant[i] == variant[i - 1] {
                continue;
            }
            let mut shorter = [0u8; MAX_PLATE_LEN + 1];
            shorter[0] = variant[0] - 1;
            shorter[1..i].copy_from_slice(&variant[1..i]);
            shorter[i..len].copy_from_slice(&variant[i + 1..=len]);
            walk(&shorter, k - 1, out);
        }
    }
    let mut start = [0u8; MAX_PLATE_LEN + 1];
    let len = text.len().min(MAX_PLATE_LEN);
    start[0] = len as u8;
    start[1..=len].copy_from_slice(&text[..len]);
    walk(&start, k, out);
    out.sort_unstable();
    out.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::ocr_distance;
    use proptest::prelude::*;

    fn entry(hotlist: &str, plate: &str, matching: EntryMatch) -> HotlistEntry {
        HotlistEntry {
            hotlist: hotlist.into(),
            plate: plate.into(),
            token: token(plate),
            matching,
        }
    }

    /// A stand-in token: the test only needs equal plates to have equal tokens.
    fn token(plate: &str) -> [u8; 8] {
        let mut t = [0u8; 8];
        for (i, b) in plate.bytes().enumerate() {
            t[i % 8] = t[i % 8].wrapping_mul(31).wrapping_add(b);
        }
        t
    }

    fn names(hits: Vec<&HotlistEntry>) -> Vec<String> {
        hits.iter()
            .map(|e| format!("{}:{}", e.hotlist, e.plate))
            .collect()
    }

    #[test]
    fn exact_entries_match_their_token_only() {
        let index = HotlistIndex::new(vec![
            entry("stolen", "ABC123", EntryMatch::Exact),
            entry("amber", "ABC123", EntryMatch::Exact),
            entry("stolen", "XYZ9", EntryMatch::Exact),
        ])
        .unwrap();
        assert!(!index.needs_text());
        assert_eq!(
            names(index.hits(&token("ABC123"), None)),
            ["stolen:ABC123", "amber:ABC123"]
        );
        assert!(index.hits(&token("ABC124"), Some("ABC124")).is_empty());
    }

    #[test]
    fn fuzzy_entries_match_ocr_confusions_and_edits() {
        let index = HotlistIndex::new(vec![
            entry("wanted", "KD40917", EntryMatch::Fuzzy(1)),
            entry("strict", "JP51860", EntryMatch::Fuzzy(0)),
        ])
        .unwrap();
        assert!(index.needs_text());
        let hit = |p: &str| names(index.hits(&token(p), Some(p)));
        assert_eq!(hit("KD40917"), ["wanted:KD40917"]);
        assert_eq!(hit("K040917"), ["wanted:KD40917"], "D/0 is free");
        assert_eq!(hit("KD4O9I7"), ["wanted:KD40917"], "O/0 and I/1 are free");
        assert_eq!(hit("KD4091"), ["wanted:KD40917"], "one deletion");
        assert_eq!(hit("KD409177"), ["wanted:KD40917"], "one insertion");
        assert_eq!(hit("KX40917"), ["wanted:KD40917"], "one substitution");
        assert!(hit("KX40927").is_empty(), "two edits");
        assert_eq!(hit("JP5I86O"), ["strict:JP51860"], "confusions only");
        assert!(hit("JP51861").is_empty());
    }

    proptest! {
        /// Against brute force over the reference distance: no miss, nothing extra.
        #[test]
        fn hits_equal_brute_force(
            listed in prop::collection::vec(("[A-Z0-9]{1,8}", 0u8..=2), 1..6),
            plates in prop::collection::vec("[ABDO0138ISZ5]{1,9}", 1..40),
        ) {
            let entries: Vec<_> = listed
                .iter()
                .enumerate()
                .map(|(i, (p, k))| entry(&format!("h{i}"), p, EntryMatch::Fuzzy(*k)))
                .collect();
            let index = HotlistIndex::new(entries.clone()).unwrap();
            for plate in &plates {
                let got = names(index.hits(&token(plate), Some(plate)));
                let want: Vec<String> = entries
                    .iter()
                    .filter(|e| match e.matching {
                        EntryMatch::Fuzzy(k) => ocr_distance(&e.plate, plate) <= usize::from(k),
                        EntryMatch::Exact => e.plate == *plate,
                    })
                    .map(|e| format!("{}:{}", e.hotlist, e.plate))
                    .collect();
                prop_assert_eq!(got, want, "plate {}", plate);
            }
        }
    }
}
