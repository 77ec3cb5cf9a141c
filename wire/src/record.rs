//! The three record types as a caller sends them, their validation and normalization, and
//! the forms in which they are sealed on disk.
//!
//! Validation reads a `serde_json::Value` field by field (rather than deriving
//! `Deserialize`) so that every problem is reported with the record's index, the field's
//! path and a reason, and all problems of a batch are reported at once.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::{parse_rfc3339_ms, DAY_MS};

/// One problem with one field of one record in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Position of the record in the batch (0-based).
    pub index: usize,
    /// Field path, `vehicle.make` style; empty for the record as a whole.
    pub field: String,
    /// Why the value was refused.
    pub reason: String,
}

/// Earliest accepted timestamp (2000-01-01T00:00:00Z): anything older is a clock fault.
pub const MIN_TIME_MS: i64 = 946_684_800_000;
/// How far in the future a timestamp may be (camera clocks drift).
pub const MAX_FUTURE_MS: i64 = DAY_MS;
/// Longest normalized plate.
pub const MAX_PLATE_LEN: usize = 16;

/// Vehicle attributes a camera's classifier reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    /// Manufacturer.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Colour.
    pub color: Option<String>,
    /// Body type (sedan, suv, ...).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// A validated, normalized plate read as it is sealed on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateRead {
    /// Public id: the client's id when it sent one, else the server-assigned id.
    pub id: String,
    /// Camera that made the read.
    pub camera_id: String,
    /// Capture time, UTC ms.
    pub captured_at: i64,
    /// Normalized plate: upper case, no spaces or dashes.
    pub plate: String,
    /// Plate text as the camera sent it.
    pub plate_raw: String,
    /// Issuing region (ISO 3166-2 style, `US-CA`).
    pub region: Option<String>,
    /// OCR confidence in [0, 1].
    pub confidence: Option<f32>,
    /// WGS84 latitude.
    pub lat: f64,
    /// WGS84 longitude.
    pub lon: f64,
    /// Vehicle attributes.
    pub vehicle: Option<Vehicle>,
    /// Travel direction (N, NE, ... NW).
    pub direction: Option<String>,
    /// Object-store key of the read's image.
    pub image_key: Option<String>,
    /// When the cluster accepted the read, UTC ms.
    pub ingested_at: i64,
}

/// Kind of media a manifest describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// A still image.
    Image,
    /// A video clip.
    Video,
    /// An audio clip.
    Audio,
}

/// A validated media manifest as it is sealed on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Public id.
    pub id: String,
    /// Device that recorded the media.
    pub device_id: String,
    /// Media kind.
    pub kind: MediaKind,
    /// Recording start, UTC ms.
    pub started_at: i64,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Object-store key of the media.
    pub object_key: String,
    /// SHA-256 of the object, lower-case hex.
    pub sha256: String,
    /// Object size.
    pub bytes: u64,
    /// Latitude, when the device knows it.
    pub lat: Option<f64>,
    /// Longitude, when the device knows it.
    pub lon: Option<f64>,
    /// Detector labels.
    pub labels: Vec<String>,
    /// Speech transcript.
    pub transcript: Option<String>,
    /// Plate reads this media shows.
    pub read_ids: Vec<String>,
    /// When the cluster accepted it, UTC ms.
    pub ingested_at: i64,
}

/// A validated sensor sample as it is sealed on disk (the time lives in the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorSample {
    /// Sensor.
    pub sensor_id: String,
    /// Metric name.
    pub metric: String,
    /// Sample time, UTC ms.
    pub ts: i64,
    /// Value.
    pub value: f64,
    /// Free-form tags.
    pub tags: Vec<(String, String)>,
}

/// Normalizes plate text: spaces, dashes and dots removed, upper-cased. Returns the reason
/// when the result cannot be a plate.
///
/// Idempotent: a normalized plate normalizes to itself. So a letter whose upper case is
/// not all letters is refused (`ΐ` upper-cases to `Ι` and two combining accents, which a
/// second pass would refuse), found by the `plate` fuzz target.
pub fn normalize_plate(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_whitespace() || c == '-' || c == '.' || c == '·' {
            continue;
        }
        if !c.is_alphanumeric() || !c.to_uppercase().all(char::is_alphanumeric) {
            return Err(format!(
                "contains {c:?}; plates hold letters and digits only"
            ));
        }
        out.extend(c.to_uppercase());
    }
    if out.is_empty() {
        return Err("is empty after removing spaces and dashes".into());
    }
    if out.chars().count() > MAX_PLATE_LEN {
        return Err(format!("is longer than {MAX_PLATE_LEN} characters"));
    }
    Ok(out)
}

/// Reads typed fields out of one JSON object and collects every problem.
struct FieldReader<'a> {
    index: usize,
    obj: &'a Map<String, Value>,
    prefix: &'static str,
    errors: &'a mut Vec<FieldError>,
}

impl<'a> FieldReader<'a> {
    fn fail(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError {
            index: self.index,
            field: format!("{}{field}", self.prefix),
            reason: reason.into(),
        });
    }

    fn reject_unknown(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self
            .obj
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            self.fail(&key, "unknown field");
        }
    }

    /// The value, treating JSON null as absent.
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.obj.get(field).filter(|v| !v.is_null())
    }

    fn opt_str(&mut self, field: &str, max_chars: usize) -> Option<String> {
        let value = self.get(field)?;
        let Some(text) = value.as_str() else {
            self.fail(field, "must be a string");
            return None;
        };
        if text.chars().count() > max_chars {
            self.fail(field, format!("is longer than {max_chars} characters"));
            return None;
        }
        if text.chars().any(char::is_control) {
            self.fail(field, "contains control characters");
            return None;
        }
        Some(text.to_string())
    }

    fn req_str(&mut self, field: &str, max_chars: usize) -> Option<String> {
        if self.get(field).is_none() {
            self.fail(field, "is required");
            return None;
        }
        let text = self.opt_str(field, max_chars)?;
        if text.trim().is_empty() {
            self.fail(field, "must not be empty");
            return None;
        }
        Some(text)
    }

    fn opt_f64(&mut self, field: &str, min: f64, max: f64) -> Option<f64> {
        let value = self.get(field)?;
        let Some(number) = value.as_f64() else {
            self.fail(field, "must be a number");
            return None;
        };
        if !(min..=max).contains(&number) {
            self.fail(
                field,
                format!("must be between {min} and {max}, got {number}"),
            );
            return None;
        }
        Some(number)
    }

    fn req_f64(&mut self, field: &str, min: f64, max: f64) -> Option<f64> {
        if self.get(field).is_none() {
            self.fail(field, "is required");
            return None;
        }
        self.opt_f64(field, min, max)
    }

    fn req_u64(&mut self, field: &str, max: u64) -> Option<u64> {
        let Some(value) = self.get(field) else {
            self.fail(field, "is required");
            return None;
        };
        match value.as_u64() {
            Some(n) if n <= max => Some(n),
            Some(n) => {
                self.fail(field, format!("must be at most {max}, got {n}"));
                None
            }
            None => {
                self.fail(field, "must be a non-negative integer");
                None
            }
        }
    }

    fn req_time(&mut self, field: &str, now_ms: i64) -> Option<i64> {
        let text = self.req_str(field, 64)?;
        match parse_rfc3339_ms(&text) {
            Ok(ms) if ms < MIN_TIME_MS => {
                self.fail(field, "is before 2000-01-01; check the device clock");
                None
            }
            Ok(ms) if ms > now_ms + MAX_FUTURE_MS => {
                self.fail(
                    field,
                    "is more than a day in the future; check the device clock",
                );
                None
            }
            Ok(ms) => Some(ms),
            Err(reason) => {
                self.fail(field, reason);
                None
            }
        }
    }

    fn opt_str_list(&mut self, field: &str, max_items: usize, max_chars: usize) -> Vec<String> {
        let Some(value) = self.get(field) else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.fail(field, "must be an array of strings");
            return Vec::new();
        };
        if items.len() > max_items {
            self.fail(field, format!("has more than {max_items} items"));
            return Vec::new();
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) if !s.is_empty() && s.chars().count() <= max_chars => {
                    out.push(s.to_string())
                }
                _ => self.fail(
                    &format!("{field}[{i}]"),
                    format!("must be a non-empty string of at most {max_chars} characters"),
                ),
            }
        }
        out
    }

    fn opt_object(&mut self, field: &str) -> Option<&'a Map<String, Value>> {
        let value = self.get(field)?;
        match value.as_object() {
            Some(obj) => Some(obj),
            None => {
                self.fail(field, "must be an object");
                None
            }
        }
    }
}

fn as_object<'a>(
    index: usize,
    value: &'a Value,
    errors: &mut Vec<FieldError>,
) -> Option<&'a Map<String, Value>> {
    match value.as_object() {
        Some(obj) => Some(obj),
        None => {
            errors.push(FieldError {
                index,
                field: String::new(),
                reason: "each record must be a JSON object".into(),
            });
            None
        }
    }
}

const READ_FIELDS: &[&str] = &[
    "id",
    "camera_id",
    "captured_at",
    "plate",
    "region",
    "confidence",
    "lat",
    "lon",
    "vehicle",
    "direction",
    "image_key",
];
const VEHICLE_FIELDS: &[&str] = &["make", "model", "color", "type"];
const DIRECTIONS: &[&str] = &["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
/// Longest id, camera id, device id, sensor id or metric.
pub const MAX_NAME_LEN: usize = 128;

/// A plate read that passed validation; the id is not assigned yet.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadInput {
    /// Client id for idempotency, if sent.
    pub client_id: Option<String>,
    /// The normalized read (its `id` and `ingested_at` are filled in by `prepare`).
    pub read: PlateRead,
}

/// Validates and normalizes one plate read; problems are appended to `errors`.
pub fn validate_read(
    index: usize,
    value: &Value,
    now_ms: i64,
    errors: &mut Vec<FieldError>,
) -> Option<ReadInput> {
    let before = errors.len();
    let obj = as_object(index, value, errors)?;
    let mut f = FieldReader {
        index,
        obj,
        prefix: "",
        errors,
    };
    f.reject_unknown(READ_FIELDS);
    let client_id = f.opt_str("id", MAX_NAME_LEN);
    let camera_id = f.req_str("camera_id", MAX_NAME_LEN);
    let captured_at = f.req_time("captured_at", now_ms);
    let plate_raw = f.req_str("plate", 32);
    let plate = plate_raw
        .as_deref()
        .and_then(|raw| match normalize_plate(raw) {
            Ok(p) => Some(p),
            Err(reason) => {
                f.fail("plate", reason);
                None
            }
        });
    let region = f.opt_str("region", 16);
    if let Some(r) = &region {
        if !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            f.fail("region", "must be an ISO 3166 code such as US-CA");
        }
    }
    let confidence = f.opt_f64("confidence", 0.0, 1.0).map(|c| c as f32);
    let lat = f.req_f64("lat", -90.0, 90.0);
    let lon = f.req_f64("lon", -180.0, 180.0);
    let direction = f.opt_str("direction", 2).map(|d| d.to_uppercase());
    if let Some(d) = &direction {
        if !DIRECTIONS.contains(&d.as_str()) {
            f.fail("direction", "must be one of N, NE, E, SE, S, SW, W, NW");
        }
    }
    let image_key = f.opt_str("image_key", 1024);
    let vehicle = f.opt_object("vehicle").map(|obj| {
        let mut v = FieldReader {
            index,
            obj,
            prefix: "vehicle.",
            errors: &mut *f.errors,
        };
        v.reject_unknown(VEHICLE_FIELDS);
        Vehicle {
            make: v.opt_str("make", 64),
            model: v.opt_str("model", 64),
            color: v.opt_str("color", 64),
            kind: v.opt_str("type", 64),
        }
    });
    if errors.len() > before {
        return None;
    }
    Some(ReadInput {
        client_id,
        read: PlateRead {
            id: String::new(),
            camera_id: camera_id?,
            captured_at: captured_at?,
            plate: plate?,
            plate_raw: plate_raw?,
            region,
            confidence,
            lat: lat?,
            lon: lon?,
            vehicle,
            direction,
            image_key,
            ingested_at: 0,
        },
    })
}

const MANIFEST_FIELDS: &[&str] = &[
    "id",
    "device_id",
    "kind",
    "started_at",
    "duration_ms",
    "object_key",
    "sha256",
    "bytes",
    "lat",
    "lon",
    "labels",
    "transcript",
    "read_ids",
];

/// A manifest that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestInput {
    /// Client id for idempotency, if sent.
    pub client_id: Option<String>,
    /// The manifest (`id` and `ingested_at` filled in by `prepare`).
    pub manifest: Manifest,
}

/// Validates one media manifest.
pub fn validate_manifest(
    index: usize,
    value: &Value,
    now_ms: i64,
    errors: &mut Vec<FieldError>,
) -> Option<ManifestInput> {
    let before = errors.len();
    let obj = as_object(index, value, errors)?;
    let mut f = FieldReader {
        index,
        obj,
        prefix: "",
        errors,
    };
    f.reject_unknown(MANIFEST_FIELDS);
    let client_id = f.opt_str("id", MAX_NAME_LEN);
    let device_id = f.req_str("device_id", MAX_NAME_LEN);
    let kind = match f.req_str("kind", 16).as_deref() {
        Some("image") => Some(MediaKind::Image),
        Some("video") => Some(MediaKind::Video),
        Some("audio") => Some(MediaKind::Audio),
        Some(_) => {
            f.fail("kind", "must be one of image, video, audio");
            None
        }
        None => None,
    };
    let started_at = f.req_time("started_at", now_ms);
    let duration_ms = f.req_u64("duration_ms", 7 * DAY_MS as u64);
    let object_key = f.req_str("object_key", 1024);
    let sha256 = f.req_str("sha256", 64).map(|s| s.to_ascii_lowercase());
    if let Some(h) = &sha256 {
        if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
            f.fail("sha256", "must be 64 hexadecimal characters");
        }
    }
    let bytes = f.req_u64("bytes", u64::MAX);
    let lat = f.opt_f64("lat", -90.0, 90.0);
    let lon = f.opt_f64("lon", -180.0, 180.0);
    if f.get("lat").is_some() != f.get("lon").is_some() {
        f.fail(
            if f.get("lat").is_some() { "lon" } else { "lat" },
            "lat and lon must be given together",
        );
    }
    let labels = f.opt_str_list("labels", 256, 128);
    let transcript = f.opt_str("transcript", 100_000);
    let read_ids = f.opt_str_list("read_ids", 1024, MAX_NAME_LEN);
    if errors.len() > before {
        return None;
    }
    Some(ManifestInput {
        client_id,
        manifest: Manifest {
            id: String::new(),
            device_id: device_id?,
            kind: kind?,
            started_at: started_at?,
            duration_ms: duration_ms?,
            object_key: object_key?,
            sha256: sha256?,
            bytes: bytes?,
            lat,
            lon,
            labels,
            transcript,
            read_ids,
            ingested_at: 0,
        },
    })
}

const SAMPLE_FIELDS: &[&str] = &["sensor_id", "metric", "ts", "value", "tags"];

/// Validates one sensor sample.
pub fn validate_sample(
    index: usize,
    value: &Value,
    now_ms: i64,
    errors: &mut Vec<FieldError>,
) -> Option<SensorSample> {
    let before = errors.len();
    let obj = as_object(index, value, errors)?;
    let mut f = FieldReader {
        index,
        obj,
        prefix: "",
        errors,
    };
    f.reject_unknown(SAMPLE_FIELDS);
    let sensor_id = f.req_str("sensor_id", MAX_NAME_LEN);
    let metric = f.req_str("metric", MAX_NAME_LEN);
    let ts = f.req_time("ts", now_ms);
    let value = f.req_f64("value", f64::MIN, f64::MAX);
    let mut tags = Vec::new();
    if let Some(obj) = f.opt_object("tags") {
        if obj.len() > 64 {
            f.fail("tags", "has more than 64 entries");
        }
        for (k, v) in obj {
            match v.as_str() {
                Some(s) if k.len() <= 128 && s.len() <= 256 => {
                    tags.push((k.clone(), s.to_string()))
                }
                _ => f.fail(
                    &format!("tags.{k}"),
                    "must be a string of at most 256 bytes",
                ),
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(SensorSample {
        sensor_id: sensor_id?,
        metric: metric?,
        ts: ts?,
        value: value?,
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_795_000_000_000; // 2026-11-18

    fn good_read() -> Value {
        json!({"id": "c-1", "camera_id": "cam-17", "captured_at": "2026-11-17T14:03:12.512Z",
               "plate": "7abc 123", "region": "US-CA", "confidence": 0.93, "lat": 37.7749,
               "lon": -122.4194, "vehicle": {"make": "Toyota", "model": "Camry", "color": "silver",
               "type": "sedan"}, "direction": "n", "image_key": "media/cam-17/x.jpg"})
    }

    #[test]
    fn plate_normalization_table() {
        let cases = [
            ("7abc 123", Ok("7ABC123")),
            ("ab-12-cd", Ok("AB12CD")),
            ("  xyz.789 ", Ok("XYZ789")),
            ("müller 1", Ok("MÜLLER1")),
            ("straße", Ok("STRASSE")),
            // Upper-cases to a letter and two combining accents: not a plate.
            ("ΐ1", Err("letters and digits")),
            (" - ", Err("empty")),
            ("AB#12", Err("letters and digits")),
            ("ABCDEFGHIJKLMNOPQ", Err("longer than 16")),
        ];
        for (raw, want) in cases {
            match (normalize_plate(raw), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{raw}"),
                (Err(got), Err(w)) => assert!(got.contains(w), "{raw}: {got}"),
                (got, want) => panic!("{raw}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_good_read_is_normalized() {
        let mut errors = Vec::new();
        let input = validate_read(0, &good_read(), NOW, &mut errors).unwrap();
        assert!(errors.is_empty());
        assert_eq!(input.client_id.as_deref(), Some("c-1"));
        let r = input.read;
        assert_eq!(
            (r.plate.as_str(), r.plate_raw.as_str()),
            ("7ABC123", "7abc 123")
        );
        assert_eq!(r.direction.as_deref(), Some("N"));
        assert_eq!(r.captured_at, 1_794_924_192_512);
        assert_eq!(r.vehicle.unwrap().kind.as_deref(), Some("sedan"));
    }

    #[test]
    fn each_bad_field_is_named_with_a_reason() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("camera_id", Value::Null, "is required"),
            ("captured_at", json!("yesterday"), "RFC 3339"),
            ("captured_at", json!("2036-01-01T00:00:00Z"), "future"),
            ("captured_at", json!("1970-01-01T00:00:00Z"), "before 2000"),
            ("plate", json!(1234), "must be a string"),
            ("plate", json!("--"), "empty"),
            ("lat", json!(91.0), "between -90 and 90"),
            ("lon", json!("east"), "must be a number"),
            ("confidence", json!(1.5), "between 0 and 1"),
            ("direction", json!("up"), "one of N"),
            ("region", json!("US CA"), "ISO 3166"),
            ("vehicle", json!("red"), "must be an object"),
        ];
        for (field, bad, reason) in cases {
            let mut read = good_read();
            read[field] = bad;
            let mut errors = Vec::new();
            assert!(
                validate_read(4, &read, NOW, &mut errors).is_none(),
                "{field}"
            );
            assert_eq!(errors.len(), 1, "{field}: {errors:?}");
            assert_eq!((errors[0].index, errors[0].field.as_str()), (4, field));
            assert!(
                errors[0].reason.contains(reason),
                "{field}: {}",
                errors[0].reason
            );
        }
    }

    #[test]
    fn nested_and_unknown_fields_are_named() {
        let mut read = good_read();
        read["vehicle"]["make"] = json!(7);
        read["vehicle"]["wheels"] = json!(4);
        read["captrued_at"] = json!("typo");
        let mut errors = Vec::new();
        assert!(validate_read(0, &read, NOW, &mut errors).is_none());
        let mut fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["captrued_at", "vehicle.make", "vehicle.wheels"]);
        let mut errors = Vec::new();
        assert!(validate_read(2, &json!([1]), NOW, &mut errors).is_none());
        assert_eq!(errors[0].field, "");
    }

    #[test]
    fn manifests_and_samples_validate() {
        let manifest = json!({"device_id": "bodycam-4", "kind": "audio",
            "started_at": "2026-11-17T01:00:00Z", "duration_ms": 1500, "object_key": "a/b.wav",
            "sha256": "AB".repeat(32), "bytes": 1024, "labels": ["gunshot"], "read_ids": ["r1"]});
        let mut errors = Vec::new();
        let m = validate_manifest(0, &manifest, NOW, &mut errors).unwrap();
        assert_eq!(m.manifest.sha256, "ab".repeat(32));
        let mut bad = manifest.clone();
        bad["kind"] = json!("hologram");
        bad["lat"] = json!(1.0);
        assert!(validate_manifest(1, &bad, NOW, &mut errors).is_none());
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["kind", "lon"]);

        let sample = json!({"sensor_id": "aq-1", "metric": "pm25", "ts": "2026-11-17T01:00:00Z",
            "value": 12.5, "tags": {"site": "school"}});
        let mut errors = Vec::new();
        let s = validate_sample(0, &sample, NOW, &mut errors).unwrap();
        assert_eq!(s.tags, vec![("site".to_string(), "school".to_string())]);
        let mut bad = sample.clone();
        bad["value"] = json!("high");
        assert!(validate_sample(3, &bad, NOW, &mut errors).is_none());
        assert_eq!(errors[0].field, "value");
    }
}
