//! JSON shapes of stored records as the API returns them, and small request-field readers
//! that name the field in every error.

use serde::Serialize;
use serde_json::{Map, Value};
use sightline_storage::prepare::index_cell;
use sightline_storage::record::PlateRead;
use sightline_storage::time::{format_rfc3339_ms, parse_rfc3339_ms};

use crate::error::{ApiError, ErrorCode};

/// A plate read as the API returns it: as ingested plus `id`, `plate_raw`, `h3_cell` and
/// `ingested_at`. Serialized straight from borrowed fields (no intermediate JSON tree), since
/// a page holds up to 1,000 of them.
#[derive(Serialize)]
pub struct Hit<'a> {
    id: &'a str,
    camera_id: &'a str,
    captured_at: String,
    plate: &'a str,
    plate_raw: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<f64>,
    lat: f64,
    lon: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    vehicle: Option<VehicleJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    direction: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    h3_cell: Option<String>,
    ingested_at: String,
}

/// Vehicle attributes, omitting the unknown ones.
#[derive(Serialize)]
struct VehicleJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    make: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    color: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
}

impl<'a> Hit<'a> {
    /// The API view of a stored read.
    pub fn of(read: &'a PlateRead) -> Self {
        Hit {
            id: &read.id,
            camera_id: &read.camera_id,
            captured_at: format_rfc3339_ms(read.captured_at),
            plate: &read.plate,
            plate_raw: &read.plate_raw,
            region: read.region.as_deref(),
            // Stored as f32; round so 0.93 reads back as 0.93, not 0.9300000071525574.
            confidence: read.confidence.map(|c| (f64::from(c) * 1e6).round() / 1e6),
            lat: read.lat,
            lon: read.lon,
            vehicle: read.vehicle.as_ref().map(|v| VehicleJson {
                make: v.make.as_deref(),
                model: v.model.as_deref(),
                color: v.color.as_deref(),
                kind: v.kind.as_deref(),
            }),
            direction: read.direction.as_deref(),
            image_key: read.image_key.as_deref(),
            h3_cell: index_cell(read.lat, read.lon).map(|cell| format!("{cell:x}")),
            ingested_at: format_rfc3339_ms(read.ingested_at),
        }
    }
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
