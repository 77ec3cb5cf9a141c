//! Plate reads as a camera sends them, and NDJSON batches of them.

use serde_json::Value;

/// A plate read as a camera would send it (`id` is the client id, if any).
pub fn read_json(id: Option<&str>, camera: &str, captured_at_ms: i64, plate: &str) -> Value {
    let captured_at = chrono::DateTime::from_timestamp_millis(captured_at_ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let mut read = serde_json::json!({
        "camera_id": camera, "captured_at": captured_at, "plate": plate, "region": "US-IL",
        "confidence": 0.9, "lat": 41.8819, "lon": -87.6278,
        "vehicle": {"make": "Toyota", "model": "Camry", "color": "silver", "type": "sedan"},
        "direction": "N"
    });
    if let Some(id) = id {
        read["id"] = id.into();
    }
    read
}

/// Milliseconds since the epoch by this machine's clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One JSON document per line.
pub fn ndjson(reads: &[Value]) -> String {
    let mut out = String::with_capacity(reads.len() * 300);
    for read in reads {
        out.push_str(&read.to_string());
        out.push('\n');
    }
    out
}
