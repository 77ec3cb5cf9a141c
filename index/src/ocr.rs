//! OCR confusion classes.
//!
//! Plate readers confuse a few glyphs with each other (`0`/`O`/`D`/`Q`, `1`/`I`/`L`, ...).
//! A fuzzy plate search treats a substitution inside one such class as free. Each class is
//! represented by one canonical byte (its first member, a digit); [`canonical_byte`] maps
//! every member of a class to that representative and leaves every other byte unchanged.
//!
//! # Why plain Levenshtein over canonical forms is the OCR-weighted distance
//!
//! The OCR-weighted distance is the edit distance where insertion and deletion cost 1 and a
//! substitution `x -> y` costs `0` when `x` and `y` are in the same class (or equal) and `1`
//! otherwise. "Same class" is an equivalence relation (the classes are disjoint, every byte
//! outside them is its own class), so `same_class(x, y) <=> canonical_byte(x) ==
//! canonical_byte(y)`. The dynamic programme for the weighted distance of `a` and `b`,
//!
//! ```text
//! D[i][j] = min(D[i-1][j] + 1, D[i][j-1] + 1, D[i-1][j-1] + sub(a[i-1], b[j-1]))
//! ```
//!
//! only ever looks at `a` and `b` through `sub(x, y) = [!same_class(x, y)] =
//! [canonical_byte(x) != canonical_byte(y)]`, which is exactly the substitution cost of plain
//! Levenshtein on `canonical(a)` and `canonical(b)`. Both programmes therefore fill the same
//! table and return the same value. The test `weighted_equals_canonical_levenshtein` checks
//! this against the independent reference [`crate::pattern::ocr_distance`] as well.

/// The OCR confusion classes. The first byte of each class is its canonical representative.
/// Bytes that appear in no class are their own (singleton) class.
pub const CONFUSION_CLASSES: &[&[u8]] = &[b"0ODQ", b"1IL", b"2Z", b"5S", b"6G", b"8B"];

const TABLE: [u8; 256] = build_table();

const fn build_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = i as u8;
        i += 1;
    }
    let mut c = 0;
    while c < CONFUSION_CLASSES.len() {
        let class = CONFUSION_CLASSES[c];
        let mut j = 0;
        while j < class.len() {
            table[class[j] as usize] = class[0];
            j += 1;
        }
        c += 1;
    }
    table
}

/// Maps a byte to the canonical representative of its OCR class (`O`, `D`, `Q` -> `0`;
/// `I`, `L` -> `1`; `Z` -> `2`; `S` -> `5`; `G` -> `6`; `B` -> `8`); every other byte is
/// returned unchanged. Expects normalized (upper-case) input: `o` is not mapped.
#[inline]
pub fn canonical_byte(b: u8) -> u8 {
    TABLE[b as usize]
}

/// Canonical form of a plate: every character replaced by its class representative.
/// Non-ASCII characters (which normalized plates never contain) are kept as they are.
pub fn canonical(plate: &str) -> String {
    plate
        .chars()
        .map(|c| {
            if c.is_ascii() {
                char::from(canonical_byte(c as u8))
            } else {
                c
            }
        })
        .collect()
}

/// Canonical form of a byte string (see [`canonical`]).
pub fn canonical_bytes(plate: &[u8]) -> Vec<u8> {
    plate.iter().map(|&b| canonical_byte(b)).collect()
}

/// True if `a` and `b` are equal or in the same OCR confusion class.
#[inline]
pub fn same_class(a: u8, b: u8) -> bool {
    canonical_byte(a) == canonical_byte(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_maps_every_class_member_to_its_representative() {
        for class in CONFUSION_CLASSES {
            for &b in class.iter() {
                assert_eq!(canonical_byte(b), class[0], "{}", b as char);
            }
        }
        // The classes are disjoint.
        let mut seen = std::collections::HashSet::new();
        for class in CONFUSION_CLASSES {
            for &b in class.iter() {
                assert!(seen.insert(b), "{} in two classes", b as char);
            }
        }
    }

    #[test]
    fn other_bytes_are_unchanged() {
        for b in b"ACEFHJKMNPRTUVWXY3479".iter() {
            assert_eq!(canonical_byte(*b), *b);
        }
        assert_eq!(canonical("KD40917"), "K040917");
        assert_eq!(canonical("BOSS"), "8055");
        assert_eq!(canonical_bytes(b"ZIG"), b"216".to_vec());
        assert!(same_class(b'Q', b'D'));
        assert!(!same_class(b'Q', b'1'));
    }
}
