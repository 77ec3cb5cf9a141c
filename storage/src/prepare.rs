//! Proposer-side preparation: turns validated records into a [`Command`] by fixing ids and
//! ingest time, deriving keyed tokens and sealing values. This is where all the CPU work and
//! all the randomness of a write happen, before the command is ordered, so that `apply` on
//! every replica is a deterministic byte copy.

use h3o::{LatLng, Resolution};
use rand::RngCore;

use crate::command::{
    Command, HotlistMatch, SealedManifest, SealedPlate, SealedRead, SealedSample,
};
use crate::crypto::TokenDomain;
use crate::engine::series::encode_sample_payload;
use crate::keyring::TenantKeys;
use crate::keys::{plate_key, series_key, RecordKey, Token};
use crate::record::{ManifestInput, ReadInput, SensorSample};

/// H3 resolution of the location index (≈ 0.1 km² cells).
pub const INDEX_RESOLUTION: Resolution = Resolution::Nine;

/// The H3 cell of a position at the index resolution; `None` only for positions outside
/// WGS84, which validation already refuses.
pub fn index_cell(lat: f64, lon: f64) -> Option<u64> {
    LatLng::new(lat, lon)
        .ok()
        .map(|p| u64::from(p.to_cell(INDEX_RESOLUTION)))
}

/// A server-assigned id: capture time in the top 48 bits (so ids sort roughly by time and
/// a read can be found from its id alone), 80 random bits below.
pub fn server_id(ts_ms: i64, rng: &mut impl RngCore) -> u128 {
    let mut random = [0u8; 16];
    rng.fill_bytes(&mut random);
    let low = u128::from_be_bytes(random) & ((1u128 << 80) - 1);
    (u128::from(ts_ms.max(0) as u64 & 0xFFFF_FFFF_FFFF) << 80) | low
}

/// Renders a server-assigned id as it appears in the API.
pub fn format_server_id(id: u128) -> String {
    format!("{id:032x}")
}

/// Token of a normalized plate.
pub fn plate_token(keys: &TenantKeys, plate: &str) -> Token {
    keys.token.token(TokenDomain::Plate, &[plate.as_bytes()])
}

/// Token of a camera id.
pub fn camera_token(keys: &TenantKeys, camera_id: &str) -> Token {
    keys.token
        .token(TokenDomain::Camera, &[camera_id.as_bytes()])
}

/// Token of an H3 cell.
pub fn cell_token(keys: &TenantKeys, cell: u64) -> Token {
    keys.token.token(TokenDomain::Cell, &[&cell.to_be_bytes()])
}

/// Token of a sensor series.
pub fn series_token(keys: &TenantKeys, sensor_id: &str, metric: &str) -> Token {
    keys.token.token(
        TokenDomain::Series,
        &[sensor_id.as_bytes(), metric.as_bytes()],
    )
}

/// Resolves the internal id and public id of a record.
fn assign_id(
    keys: &TenantKeys,
    client_id: Option<&str>,
    ts: i64,
    rng: &mut impl RngCore,
) -> (u128, String, bool) {
    match client_id {
        Some(text) => (
            keys.token.id128(TokenDomain::ClientId, text),
            text.to_string(),
            true,
        ),
        None => {
            let id = server_id(ts, rng);
            (id, format_server_id(id), false)
        }
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    match postcard::to_allocvec(value) {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("postcard cannot fail on records: {e}"),
    }
}

/// Builds the command for a batch of validated reads; returns it with the public ids in
/// batch order. `None` when the tenant has no data key (a bug upstream).
pub fn prepare_reads(
    tenant: u32,
    keys: &TenantKeys,
    inputs: Vec<ReadInput>,
    now_ms: i64,
    rng: &mut impl RngCore,
) -> Option<(Command, Vec<String>)> {
    let data_key = keys.current()?;
    let mut rows = Vec::with_capacity(inputs.len());
    let mut ids = Vec::with_capacity(inputs.len());
    let mut plates = std::collections::BTreeMap::new();
    for input in inputs {
        let mut read = input.read;
        let ts = read.captured_at;
        let (id, public_id, client_id) = assign_id(keys, input.client_id.as_deref(), ts, rng);
        read.id = public_id.clone();
        read.ingested_at = now_ms;
        let cell = index_cell(read.lat, read.lon).unwrap_or(0);
        let key = RecordKey { tenant, ts, id }.encode();
        let plate = plate_token(keys, &read.plate);
        plates
            .entry(plate)
            .or_insert_with(|| data_key.seal(&plate_key(tenant, &plate), read.plate.as_bytes()));
        rows.push(SealedRead {
            ts,
            id,
            client_id,
            plate,
            cell: cell_token(keys, cell),
            camera: camera_token(keys, &read.camera_id),
            value: data_key.seal(&key, &encode(&read)),
        });
        ids.push(public_id);
    }
    let plates = plates
        .into_iter()
        .map(|(token, value)| SealedPlate { token, value })
        .collect();
    Some((
        Command::PutReads {
            tenant,
            rows,
            plates,
        },
        ids,
    ))
}

/// Builds the command for a batch of validated manifests.
pub fn prepare_manifests(
    tenant: u32,
    keys: &TenantKeys,
    inputs: Vec<ManifestInput>,
    now_ms: i64,
    rng: &mut impl RngCore,
) -> Option<(Command, Vec<String>)> {
    let data_key = keys.current()?;
    let mut rows = Vec::with_capacity(inputs.len());
    let mut ids = Vec::with_capacity(inputs.len());
    for input in inputs {
        let mut manifest = input.manifest;
        let ts = manifest.started_at;
        let (id, public_id, client_id) = assign_id(keys, input.client_id.as_deref(), ts, rng);
        manifest.id = public_id.clone();
        manifest.ingested_at = now_ms;
        let key = RecordKey { tenant, ts, id }.encode();
        rows.push(SealedManifest {
            ts,
            id,
            client_id,
            value: data_key.seal(&key, &encode(&manifest)),
        });
        ids.push(public_id);
    }
    Some((Command::PutManifests { tenant, rows }, ids))
}

/// Builds the command that stores hotlist `name` with `plates` (normalized, validated by
/// the caller): each distinct plate once, sorted by token, sealed like a dictionary entry.
/// `None` when the tenant has no data key (a bug upstream).
pub fn prepare_hotlist(
    tenant: u32,
    keys: &TenantKeys,
    name: &str,
    matching: HotlistMatch,
    plates: &[String],
) -> Option<Command> {
    let data_key = keys.current()?;
    let sealed: std::collections::BTreeMap<Token, Vec<u8>> = plates
        .iter()
        .map(|plate| {
            let token = plate_token(keys, plate);
            (
                token,
                data_key.seal(&plate_key(tenant, &token), plate.as_bytes()),
            )
        })
        .collect();
    Some(Command::PutHotlist {
        tenant,
        name: name.to_string(),
        matching,
        plates: sealed
            .into_iter()
            .map(|(token, value)| SealedPlate { token, value })
            .collect(),
    })
}

/// Builds the command for a batch of validated sensor samples.
pub fn prepare_samples(
    tenant: u32,
    keys: &TenantKeys,
    samples: Vec<SensorSample>,
) -> Option<Command> {
    let data_key = keys.current()?;
    let rows = samples
        .into_iter()
        .map(|sample| {
            let series = series_token(keys, &sample.sensor_id, &sample.metric);
            let key = series_key(tenant, &series, sample.ts);
            // Only what a query reads is sealed per sample: the value and any tags; the
            // sensor id and metric are the series token (engine/series.rs).
            let payload = encode_sample_payload(sample.value, &sample.tags);
            SealedSample {
                series,
                ts: sample.ts,
                value: data_key.seal(&key, &payload),
            }
        })
        .collect();
    Some(Command::PutSamples { tenant, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_carry_time_and_randomness() {
        let mut rng = rand::rng();
        let a = server_id(1_795_000_000_000, &mut rng);
        let b = server_id(1_795_000_000_000, &mut rng);
        assert_ne!(a, b);
        assert_eq!((a >> 80) as i64, 1_795_000_000_000);
        assert!(server_id(1_795_000_000_001, &mut rng) > a.max(b) || (a >> 80) == (b >> 80));
        assert_eq!(format_server_id(a).len(), 32);
    }

    #[test]
    fn index_cell_is_resolution_nine() {
        let cell = index_cell(41.8819, -87.6278).unwrap();
        let cell = h3o::CellIndex::try_from(cell).unwrap();
        assert_eq!(cell.resolution(), Resolution::Nine);
    }
}
