//! Scanning files for plaintext plates and positions.

#![allow(dead_code)]

use anyhow::Result;

/// Byte strings that must never appear on disk: each plate raw, upper and lower case, and
/// each coordinate as text and as little- and big-endian f64.
pub fn needles(plates: &[&str], positions: &[(f64, f64)]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for plate in plates {
        let normalized: String = plate.chars().filter(|c| c.is_alphanumeric()).collect();
        for form in [
            plate.to_string(),
            normalized.to_uppercase(),
            normalized.to_lowercase(),
            plate.to_lowercase(),
        ] {
            out.push((format!("plate {form:?}"), form.into_bytes()));
        }
    }
    for (lat, lon) in positions {
        for v in [lat, lon] {
            out.push((format!("f64 LE {v}"), v.to_le_bytes().to_vec()));
            out.push((format!("f64 BE {v}"), v.to_be_bytes().to_vec()));
            out.push((format!("text {v}"), v.to_string().into_bytes()));
        }
    }
    out
}

/// Every (needle, file) hit under `dir`, recursively; counts the files read.
pub fn scan(
    dir: &std::path::Path,
    needles: &[(String, Vec<u8>)],
    files: &mut usize,
) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(scan(&path, needles, files)?);
            continue;
        }
        *files += 1;
        let bytes = std::fs::read(&path)?;
        for (name, needle) in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{name} in {}", path.display()));
            }
        }
    }
    Ok(found)
}
