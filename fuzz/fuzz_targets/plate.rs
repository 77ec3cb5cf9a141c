//! Plates and plate patterns (`sightline_wire::record::normalize_plate`,
//! `sightline_index::pattern`). Asserts: normalization is idempotent and yields 1 to 16
//! upper-case letters and digits; on ASCII text it agrees with the pattern normalizer that
//! wildcard and fuzzy search use; a parsed wildcard re-parses from its own text to itself;
//! on small fuzzed plates the wildcard (exact and OCR-canonical, forward and reversed) and
//! the fuzzy matcher agree with slow references (a glob by dynamic programming, the direct
//! OCR-weighted edit distance); and each `fst::Automaton` finds in an FST exactly the plates
//! its matcher accepts, so the plate dictionary's search equals a scan.
#![no_main]

use fst::{Automaton, IntoStreamer, Set};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sightline_index::ocr::{canonical, canonical_byte};
use sightline_index::pattern::{ocr_distance, Fuzzy, Wildcard, MAX_PLATE_LEN};
use sightline_wire::record::normalize_plate;

/// Letters and digits of every OCR confusion class, and two that are in none.
const ALPHABET: &[u8] = b"0ODQ1IL2Z5S6G8BAK7XY";
/// What patterns are written with: the alphabet, wildcards, separators, a lower-case letter.
const PATTERN_ALPHABET: &[u8] = b"0ODQ1IL2Z5S6G8BAK7XY*?*?- .k";

/// Glob reference, by dynamic programming over (pattern prefix, plate prefix): `*` any run,
/// `?` one byte, else `eq`.
fn glob(p: &[u8], s: &[u8], eq: &dyn Fn(u8, u8) -> bool) -> bool {
    // row[j]: the pattern so far matches s[..j].
    let mut row = vec![false; s.len() + 1];
    row[0] = true;
    for &c in p {
        let mut next = vec![false; s.len() + 1];
        for j in 0..=s.len() {
            next[j] = match c {
                b'*' => row[j] || (j > 0 && next[j - 1]),
                b'?' => j > 0 && row[j - 1],
                c => j > 0 && row[j - 1] && eq(c, s[j - 1]),
            };
        }
        row = next;
    }
    row[s.len()]
}

/// Runs an automaton the way an FST walk does: stop as soon as it cannot match; once it
/// will always match, every continuation must match.
fn run<A: Automaton>(a: &A, input: &[u8]) -> bool {
    let mut s = a.start();
    let mut always = false;
    for &b in input {
        always |= a.will_always_match(&s);
        if !a.can_match(&s) {
            assert!(!always, "will_always_match, then can_match false");
            return false;
        }
        s = a.accept(&s, b);
    }
    let matched = a.is_match(&s);
    assert!(matched || !always, "will_always_match, then no match");
    matched
}

fn text(u: &mut Unstructured, alphabet: &[u8], max_len: usize) -> Result<String> {
    let len = u.int_in_range(0..=max_len)?;
    (0..len)
        .map(|_| Ok(char::from(*u.choose(alphabet)?)))
        .collect()
}

fn check_normalization(raw: &str) {
    let normalized = normalize_plate(raw);
    if let Ok(p) = &normalized {
        assert_eq!(normalize_plate(p).as_ref(), Ok(p), "{raw:?}");
        assert!(
            (1..=MAX_PLATE_LEN).contains(&p.chars().count()),
            "{raw:?} -> {p:?}"
        );
        assert!(p.chars().all(char::is_alphanumeric), "{raw:?} -> {p:?}");
        assert_eq!(&p.to_uppercase(), p, "{raw:?}");
    }
    if raw.is_ascii() {
        let fuzzy = Fuzzy::new(raw, 0).map(|f| f.text().to_string());
        assert_eq!(normalized.ok(), fuzzy.ok(), "{raw:?}");
    }
}

fn run_all(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let raw: String = if u.arbitrary()? {
        u.arbitrary()?
    } else {
        text(&mut u, PATTERN_ALPHABET, 24)?
    };
    let raw = raw.as_str();
    check_normalization(raw);

    let mut plates = Vec::new();
    for _ in 0..u.int_in_range(0..=8)? {
        plates.push(text(&mut u, ALPHABET, MAX_PLATE_LEN + 1)?);
    }
    let mut sorted: Vec<String> = plates.iter().map(|p| canonical(p)).collect();
    sorted.sort();
    sorted.dedup();
    let set = Set::from_iter(&sorted).expect("sorted, deduplicated keys");

    if let Ok(w) = Wildcard::parse(raw) {
        let text = w.text().as_bytes();
        assert_eq!(
            Wildcard::parse(w.text())
                .map(|w| w.text().to_string())
                .as_deref(),
            Ok(w.text())
        );
        let reversed = w.reversed();
        for p in &plates {
            let p = p.as_bytes();
            let exact = glob(text, p, &|a, b| a == b);
            let canon = glob(text, p, &|a, b| canonical_byte(a) == canonical_byte(b));
            let s = std::str::from_utf8(p).expect("ASCII");
            assert_eq!(w.matches(s), exact, "{} vs {s}", w.text());
            assert_eq!(w.matches_canonical(p), canon, "{} vs {s}", w.text());
            assert!(!exact || canon);
            let rev: String = s.chars().rev().collect();
            assert_eq!(reversed.matches(&rev), exact, "{} vs {s}", w.text());
            assert_eq!(run(&w, p), canon, "automaton {} vs {s}", w.text());
        }
        let hits = set.search(&w).into_stream().into_bytes();
        let want: Vec<Vec<u8>> = sorted
            .iter()
            .filter(|p| w.matches_canonical(p.as_bytes()))
            .map(|p| p.as_bytes().to_vec())
            .collect();
        assert_eq!(hits, want, "fst search of {}", w.text());
    }

    let max_edits = u.int_in_range(0..=3)?;
    if let Ok(f) = Fuzzy::new(raw, max_edits) {
        for p in &plates {
            let want = ocr_distance(f.text(), p) <= usize::from(max_edits);
            assert_eq!(f.matches(p), want, "{} ~{max_edits} vs {p}", f.text());
            assert_eq!(run(&f, p.as_bytes()), want, "automaton {} vs {p}", f.text());
        }
        let hits = set.search(&f).into_stream().into_bytes();
        let want: Vec<Vec<u8>> = sorted
            .iter()
            .filter(|p| f.matches(p))
            .map(|p| p.as_bytes().to_vec())
            .collect();
        assert_eq!(hits, want, "fst search of {} ~{max_edits}", f.text());
    } else {
        assert!(max_edits > 2 || Fuzzy::new(raw, 0).is_err());
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run_all(data);
});
