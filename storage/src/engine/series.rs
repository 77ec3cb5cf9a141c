//! Sensor series on disk and their read primitive.
//!
//! One key per sample in the `series` column family, `tenant u32 · series_token [8] · ts u64`
//! (20 bytes, so one series is one contiguous, time-ordered key range), and as its value the
//! sample *payload* sealed under that key: the f64 value (8 bytes, little-endian), followed by
//! the sample's tags (postcard) only when it has any. The sensor id and the metric are not
//! repeated in the value: they are what the series token is derived from, and a query names
//! them to find the series. A sample without tags is 29 bytes of value (8 + the 21-byte seal
//! envelope) and 20 of key, before RocksDB's key prefix compression.
//!
//! Why not chunks of samples per series and time block: a chunk must be read, opened, merged
//! and sealed again in `apply` whenever a batch adds to it (crypto and a read on the single
//! apply path, rewriting a whole block for each trickled sample), while one key per sample
//! keeps `apply` a byte copy of what the proposer sealed, makes a re-sent sample overwrite
//! itself with identical bytes, and lets retention drop exactly the expired samples by the
//! time in the key. The price is one AEAD open per sample read (docs/benchmarks.md measures a
//! day of 1-second samples).

use rocksdb::ReadOptions;

use super::Engine;
use crate::error::{Result, StorageError};
use crate::keys::{cf, decode_ts, series_key, IndexKey, Token};

/// Width of a sample's value in the payload.
const VALUE_LEN: usize = 8;

/// The plaintext sealed for one sample: its value, then its tags when it has any.
pub fn encode_sample_payload(value: f64, tags: &[(String, String)]) -> Vec<u8> {
    let mut out = value.to_le_bytes().to_vec();
    if !tags.is_empty() {
        match postcard::to_allocvec(&tags) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(e) => unreachable!("postcard cannot fail on tags: {e}"),
        }
    }
    out
}

/// Inverse of [`encode_sample_payload`].
pub fn decode_sample_payload(plain: &[u8]) -> Result<(f64, Vec<(String, String)>)> {
    let (value, tags) = plain
        .split_first_chunk::<VALUE_LEN>()
        .ok_or_else(|| StorageError::corrupt("sample", "shorter than its value"))?;
    let tags = match tags {
        [] => Vec::new(),
        bytes => postcard::from_bytes(bytes).map_err(|e| StorageError::corrupt("sample", e))?,
    };
    Ok((f64::from_le_bytes(*value), tags))
}

impl Engine {
    /// Visits the samples of one series with `from <= ts <= to`, oldest first, as
    /// `(ts, value)`, until `visit` returns false; all of them from one RocksDB snapshot.
    /// Retention is the caller's: it raises `from` to the tenant's watermark (samples below
    /// it may still be on disk until compaction).
    pub fn scan_series(
        &self,
        tenant: u32,
        series: &Token,
        from: i64,
        to: i64,
        mut visit: impl FnMut(i64, f64) -> bool,
    ) -> Result<()> {
        if from > to {
            return Ok(());
        }
        let keys = self.tenant_keys(tenant)?;
        let prefix = IndexKey::prefix(tenant, series);
        let snapshot = self.db.snapshot();
        let mut opts = ReadOptions::default();
        opts.set_snapshot(&snapshot);
        opts.set_prefix_same_as_start(true);
        let lower = series_key(tenant, series, from);
        opts.set_iterate_lower_bound(lower.to_vec());
        if let Some(after) = to.checked_add(1) {
            opts.set_iterate_upper_bound(series_key(tenant, series, after).to_vec());
        }
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(cf::SERIES)?, opts);
        iter.seek(lower);
        while iter.valid() {
            let (Some(key), Some(sealed)) = (iter.key(), iter.value()) else {
                break;
            };
            let Some(ts) = key
                .strip_prefix(prefix.as_slice())
                .and_then(|rest| <[u8; 8]>::try_from(rest).ok())
                .map(decode_ts)
            else {
                break;
            };
            if ts > to {
                break;
            }
            let plain = keys.open(key, sealed)?;
            let (value, _tags) = decode_sample_payload(&plain)?;
            if !visit(ts, value) {
                return Ok(());
            }
            iter.next();
        }
        iter.status()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_with_and_without_tags() {
        let bare = encode_sample_payload(-1.5, &[]);
        assert_eq!(bare.len(), VALUE_LEN);
        assert_eq!(decode_sample_payload(&bare).unwrap(), (-1.5, vec![]));
        let tags = vec![("unit".to_string(), "dB".to_string())];
        let tagged = encode_sample_payload(72.25, &tags);
        assert_eq!(decode_sample_payload(&tagged).unwrap(), (72.25, tags));
        assert!(decode_sample_payload(&bare[..7]).is_err());
        assert!(decode_sample_payload(&[bare.clone(), vec![0xff]].concat()).is_err());
    }
}
