//! JSON shapes of stored records as the API returns them, and small request-field readers
//! that name the field in every error.

use serde_json::{json, Map, Value};
use sightline_storage::prepare::index_cell;
use sightline_storage::record::PlateRead;
use sightline_storage::time::{format_rfc3339_ms, parse_rfc3339_ms};

use crate::error::{ApiError, ErrorCode};

/// A plate read as ingested plus `id`, `plate_raw`, `h3_cell` and `ingested_at`.
pub fn read_to_json(read: &PlateRead) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(read.id));
    out.insert("camera_id".into(), json!(read.camera_id));
    out.insert(
        "captured_at".into(),
        json!(format_rfc3339_ms(read.captured_at)),
    );
    out.insert("plate".into(), json!(read.plate));
    out.insert("plate_raw".into(), json!(read.plate_raw));
    let optional = [
        ("region", read.region.as_ref().map(|v| json!(v))),
        // f32 → f64 through its shortest decimal text, so 0.93 stays 0.93.
        (
            "confidence",
            read.confidence
                .map(|c| json!(c.to_string().parse::<f64>().unwrap_or(c as f64))),
        ),
        ("direction", read.direction.as_ref().map(|v| json!(v))),
        ("image_key", read.image_key.as_ref().map(|v| json!(v))),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            out.insert(name.into(), value);
        }
    }
    out.insert("lat".into(), json!(read.lat));
    out.insert("lon".into(), json!(read.lon));
    if let Some(v) = &read.vehicle {
        let mut vehicle = Map::new();
        for (name, value) in [
            ("make", &v.make),
            ("model", &v.model),
            ("color", &v.color),
            ("type", &v.kind),
        ] {
            if let Some(value) = value {
                vehicle.insert(name.into(), json!(value));
            }
        }
        out.insert("vehicle".into(), Value::Object(vehicle));
    }
    if let Some(cell) = index_cell(read.lat, read.lon) {
        out.insert("h3_cell".into(), json!(format!("{cell:x}")));
    }
    out.insert(
        "ingested_at".into(),
        json!(format_rfc3339_ms(read.ingested_at)),
    );
    Value::Object(out)
}

/// Reads fields of a request body object, naming the field in every error.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Wraps a body, which must be a JSON object with only `known` fields.
    pub fn new(body: &'a Value, known: &[&str]) -> Result<Self, ApiError> {
        let obj = body.as_object().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "the request body must be a JSON object",
            )
        })?;
        if let Some(unknown) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ApiError::field(
                ErrorCode::InvalidRequest,
                unknown,
                "is not a known field",
            ));
        }
        Ok(Fields { obj })
    }

    /// The raw value; JSON null counts as absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.obj.get(name).filter(|v| !v.is_null())
    }

    /// An optional string.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::field(
                ErrorCode::InvalidRequest,
                name,
                "must be a string",
            )),
        }
    }

    /// An optional RFC 3339 time as UTC ms.
    pub fn opt_time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.opt_str(name)? {
            None => Ok(None),
            Some(text) => parse_rfc3339_ms(text)
                .map(Some)
                .map_err(|reason| ApiError::field(ErrorCode::InvalidRequest, name, reason)),
        }
    }

    /// An optional integer in `[min, max]`.
    pub fn opt_u64(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::field(
                    ErrorCode::InvalidRequest,
                    name,
                    format!("must be an integer from {min} to {max}"),
                )),
            },
        }
    }

    /// An optional array of strings.
    pub fn opt_str_list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_string).ok_or_else(|| {
                        ApiError::field(
                            ErrorCode::InvalidRequest,
                            name,
                            "must be an array of strings",
                        )
                    })
                })
                .collect(),
            Some(_) => Err(ApiError::field(
                ErrorCode::InvalidRequest,
                name,
                "must be an array of strings",
            )),
        }
    }
}
