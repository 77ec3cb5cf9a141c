//! Ingest bodies (`sightline_wire::batch`, `sightline_wire::record`): a fuzzed body is split
//! into records (a JSON array or NDJSON) and every record validated as a read, manifest or
//! sample. Asserts: the split holds 1 to 100,000 records, one per non-blank line; a record
//! is accepted exactly when validation reported no problem for it, and every problem names
//! that record's index; an accepted read's plate is its raw plate normalized, and
//! normalizing it again changes nothing; and an accepted record, sent again as the JSON a
//! client would write from it, validates to the same record (validation is a projection).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use sightline_wire::batch::{split_batch, BatchError, BatchFormat, MAX_BATCH_RECORDS};
use sightline_wire::record::{
    normalize_plate, validate_manifest, validate_read, validate_sample, FieldError, ManifestInput,
    MediaKind, ReadInput, SensorSample, MAX_FUTURE_MS, MIN_TIME_MS,
};
use sightline_wire::time::format_rfc3339_ms;

/// "Now" for validation: 2026-11-18.
const NOW: i64 = 1_795_000_000_000;

fn put<T: Into<Value>>(obj: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        obj.insert(key.to_string(), v.into());
    }
}

fn read_json(input: &ReadInput) -> Value {
    let r = &input.read;
    let mut obj = Map::new();
    put(&mut obj, "id", input.client_id.clone());
    obj.insert("camera_id".into(), json!(r.camera_id));
    obj.insert(
        "captured_at".into(),
        json!(format_rfc3339_ms(r.captured_at)),
    );
    obj.insert("plate".into(), json!(r.plate_raw));
    put(&mut obj, "region", r.region.clone());
    put(&mut obj, "confidence", r.confidence.map(f64::from));
    obj.insert("lat".into(), json!(r.lat));
    obj.insert("lon".into(), json!(r.lon));
    if let Some(v) = &r.vehicle {
        let mut vehicle = Map::new();
        put(&mut vehicle, "make", v.make.clone());
        put(&mut vehicle, "model", v.model.clone());
        put(&mut vehicle, "color", v.color.clone());
        put(&mut vehicle, "type", v.kind.clone());
        obj.insert("vehicle".into(), Value::Object(vehicle));
    }
    put(&mut obj, "direction", r.direction.clone());
    put(&mut obj, "image_key", r.image_key.clone());
    Value::Object(obj)
}

fn manifest_json(input: &ManifestInput) -> Value {
    let m = &input.manifest;
    let mut obj = Map::new();
    put(&mut obj, "id", input.client_id.clone());
    obj.insert("device_id".into(), json!(m.device_id));
    let kind = match m.kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
    };
    obj.insert("kind".into(), json!(kind));
    obj.insert("started_at".into(), json!(format_rfc3339_ms(m.started_at)));
    obj.insert("duration_ms".into(), json!(m.duration_ms));
    obj.insert("object_key".into(), json!(m.object_key));
    obj.insert("sha256".into(), json!(m.sha256));
    obj.insert("bytes".into(), json!(m.bytes));
    put(&mut obj, "lat", m.lat);
    put(&mut obj, "lon", m.lon);
    obj.insert("labels".into(), json!(m.labels));
    put(&mut obj, "transcript", m.transcript.clone());
    obj.insert("read_ids".into(), json!(m.read_ids));
    Value::Object(obj)
}

fn sample_json(s: &SensorSample) -> Value {
    let tags: Map<String, Value> = s.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({"sensor_id": s.sensor_id, "metric": s.metric, "ts": format_rfc3339_ms(s.ts),
           "value": s.value, "tags": tags})
}

/// Validates `record` as record `index`, checking that acceptance and problems agree.
fn check<T>(
    index: usize,
    record: &Value,
    validate: fn(usize, &Value, i64, &mut Vec<FieldError>) -> Option<T>,
) -> Option<T> {
    let mut errors = Vec::new();
    let valid = validate(index, record, NOW, &mut errors);
    assert_eq!(valid.is_some(), errors.is_empty(), "{record}: {errors:?}");
    assert!(errors.iter().all(|e| e.index == index), "{errors:?}");
    valid
}

fn check_time(ms: i64) {
    assert!((MIN_TIME_MS..=NOW + MAX_FUTURE_MS).contains(&ms), "{ms}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = if selector & 1 == 0 {
        BatchFormat::JsonArray
    } else {
        BatchFormat::Ndjson
    };
    let records = match split_batch(format, body) {
        Ok(records) => records,
        Err(BatchError::BadLine { index, line, .. }) => {
            assert!(index < line, "record {index} on line {line}");
            return;
        }
        Err(_) => return,
    };
    assert!((1..=MAX_BATCH_RECORDS).contains(&records.len()));
    if format == BatchFormat::Ndjson {
        let text = std::str::from_utf8(body).expect("split NDJSON is UTF-8");
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(records.len(), lines);
    }
    for (index, record) in records.iter().enumerate().take(64) {
        match (selector >> 1) % 3 {
            0 => {
                let Some(input) = check(index, record, validate_read) else {
                    continue;
                };
                let r = &input.read;
                assert_eq!(normalize_plate(&r.plate_raw).as_ref(), Ok(&r.plate));
                assert_eq!(normalize_plate(&r.plate).as_ref(), Ok(&r.plate));
                check_time(r.captured_at);
                assert!((-90.0..=90.0).contains(&r.lat) && (-180.0..=180.0).contains(&r.lon));
                let again = check(index, &read_json(&input), validate_read);
                assert_eq!(again.as_ref(), Some(&input), "{record}");
            }
            1 => {
                let Some(input) = check(index, record, validate_manifest) else {
                    continue;
                };
                check_time(input.manifest.started_at);
                assert_eq!(input.manifest.lat.is_some(), input.manifest.lon.is_some());
                let again = check(index, &manifest_json(&input), validate_manifest);
                assert_eq!(again.as_ref(), Some(&input), "{record}");
            }
            _ => {
                let Some(sample) = check(index, record, validate_sample) else {
                    continue;
                };
                check_time(sample.ts);
                let again = check(index, &sample_json(&sample), validate_sample);
                assert_eq!(again.as_ref(), Some(&sample), "{record}");
            }
        }
    }
});
