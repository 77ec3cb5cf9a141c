//! Rendering the day as bodies of the public ingest API.

use serde_json::{json, Map, Value};

use super::grid::{blocks_to_lat_lon, cam_index, cell_blocks, BLOCK_M};
use super::media::{media_key, Manifest};
use super::sensors::{Sample, SENSORS};
use super::time::rfc3339;
use super::traffic::Read;
use super::vehicles::REGIONS;
use super::{round_to, Day};

pub(super) fn read_id(i: usize) -> String {
    format!("demo-r-{:07}", i + 1)
}

impl Day {
    pub(super) fn read_json(&self, i: usize, r: &Read) -> Value {
        let cam = &self.cameras[r.cam];
        let v = &self.vehicles[r.vehicle];
        let (lat, lon) = r.at.unwrap_or_else(|| {
            let (x, y) = cell_blocks(cam.cell);
            blocks_to_lat_lon(x + r.jitter_m.0 / BLOCK_M, y + r.jitter_m.1 / BLOCK_M)
        });
        let mut vehicle = Map::new();
        vehicle.insert("make".into(), Value::from(v.make));
        vehicle.insert("model".into(), Value::from(v.model));
        vehicle.insert("color".into(), Value::from(v.color));
        vehicle.insert("type".into(), Value::from(v.kind));
        let mut obj = Map::new();
        obj.insert("id".into(), Value::from(read_id(i)));
        obj.insert("camera_id".into(), Value::from(cam.id.as_str()));
        obj.insert("captured_at".into(), Value::from(rfc3339(r.t)));
        obj.insert("plate".into(), Value::from(r.text.as_str()));
        obj.insert("region".into(), Value::from(REGIONS[v.region].code));
        obj.insert("confidence".into(), Value::from(r.confidence));
        obj.insert("lat".into(), Value::from(round_to(lat, 6)));
        obj.insert("lon".into(), Value::from(round_to(lon, 6)));
        obj.insert("vehicle".into(), Value::Object(vehicle));
        obj.insert("direction".into(), Value::from(r.dir.as_str()));
        obj.insert(
            "image_key".into(),
            Value::from(media_key(&cam.id, r.t, "jpg")),
        );
        Value::Object(obj)
    }

    pub(super) fn manifest_json(&self, i: usize, m: &Manifest) -> Value {
        let mut obj = Map::new();
        obj.insert("id".into(), json!(format!("demo-m-{:06}", i + 1)));
        obj.insert("device_id".into(), json!(m.device));
        obj.insert("kind".into(), json!(m.kind));
        obj.insert("started_at".into(), json!(rfc3339(m.started)));
        obj.insert("duration_ms".into(), json!(m.duration_ms));
        obj.insert("object_key".into(), json!(m.object_key));
        obj.insert("sha256".into(), json!(m.sha256));
        obj.insert("bytes".into(), json!(m.bytes));
        obj.insert("lat".into(), json!(round_to(m.lat, 6)));
        obj.insert("lon".into(), json!(round_to(m.lon, 6)));
        obj.insert("labels".into(), json!(m.labels));
        if let Some(t) = &m.transcript {
            obj.insert("transcript".into(), json!(t));
        }
        let ids: Vec<String> = m.reads.iter().map(|&r| read_id(r)).collect();
        obj.insert("read_ids".into(), json!(ids));
        Value::Object(obj)
    }

    pub(super) fn sample_json(&self, s: &Sample) -> Value {
        let (id, cell, _) = SENSORS[s.sensor];
        let site = self.cameras[cam_index(cell)].corner();
        json!({
            "sensor_id": id,
            "metric": s.metric.name(),
            "ts": rfc3339(s.t),
            "value": s.value,
            "tags": {"site": site, "unit": s.metric.unit()},
        })
    }
}
