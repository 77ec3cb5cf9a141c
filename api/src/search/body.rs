//! The request bodies of the investigator searches (api.md "Investigator search"), as
//! typed structs, and their checks into query types. Every check names its field.

use serde::Deserialize;
use sightline_index::area::Area;
use sightline_index::pattern::{Fuzzy, Wildcard};
use sightline_query::{Cursor, PlateMatch, VehicleFilter};
use sightline_storage::record::normalize_plate;

use crate::error::{ApiError, ErrorCode};

/// Default page size.
pub const DEFAULT_LIMIT: u64 = 100;
/// Largest page size.
pub const MAX_LIMIT: u64 = 1000;

/// How a plate is matched.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// The normalized plate.
    #[default]
    Exact,
    /// `*` any run, `?` one character.
    Wildcard,
    /// OCR-aware edit distance.
    Fuzzy,
}

/// Read consistency of a search.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Through the leader's read index (the default).
    #[default]
    Linearizable,
    /// This replica's applied state as it is.
    Follower,
}

/// `{"circle": {"lat", "lon", "radius_m"}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircleBody {
    lat: f64,
    lon: f64,
    radius_m: f64,
}

/// `{"bbox": {"min_lat", "min_lon", "max_lat", "max_lon"}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BBoxBody {
    min_lat: f64,
    min_lon: f64,
    max_lat: f64,
    max_lon: f64,
}

/// An area: exactly one of `circle`, `bbox`, `polygon` (`[[lat, lon], ...]`), `h3`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaBody {
    circle: Option<CircleBody>,
    bbox: Option<BBoxBody>,
    polygon: Option<Vec<[f64; 2]>>,
    h3: Option<Vec<String>>,
}

impl AreaBody {
    /// The shape's kind, for the audit record.
    pub fn kind(&self) -> &'static str {
        if self.circle.is_some() {
            "circle"
        } else if self.bbox.is_some() {
            "bbox"
        } else if self.polygon.is_some() {
            "polygon"
        } else {
            "h3"
        }
    }

    /// The checked shape; `field` is where the area sits in the body (`area`,
    /// `places[1].area`).
    pub fn to_area(&self, field: &str) -> Result<Area, ApiError> {
        let given = [
            self.circle.is_some(),
            self.bbox.is_some(),
            self.polygon.is_some(),
            self.h3.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return Err(ApiError::field(
                ErrorCode::InvalidRequest,
                field,
                "must hold exactly one of circle, bbox, polygon, h3",
            ));
        }
        let area = if let Some(c) = &self.circle {
            Area::circle(c.lat, c.lon, c.radius_m)
        } else if let Some(b) = &self.bbox {
            Area::bbox(b.min_lat, b.min_lon, b.max_lat, b.max_lon)
        } else if let Some(points) = &self.polygon {
            Area::polygon(points.iter().map(|p| (p[0], p[1])).collect())
        } else {
            Area::cells(self.h3.as_deref().unwrap_or_default())
        };
        area.map_err(|e| {
            let path = if e.field.is_empty() {
                field.to_string()
            } else {
                format!("{field}.{}", e.field)
            };
            ApiError::field(ErrorCode::InvalidRequest, &path, e.reason)
        })
    }
}

/// `{"make", "model", "color", "type"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleBody {
    make: Option<String>,
    model: Option<String>,
    color: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl VehicleBody {
    /// The filter, `None` when every attribute is blank.
    pub fn to_filter(&self) -> Option<VehicleFilter> {
        VehicleFilter::new(
            self.make.as_deref(),
            self.model.as_deref(),
            self.color.as_deref(),
            self.kind.as_deref(),
        )
    }
}

/// `POST /v1/tenants/{tenant}/search/plates`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlateSearchBody {
    /// Plate, wildcard pattern or fuzzy target.
    pub plate: Option<String>,
    /// How `plate` matches.
    #[serde(rename = "match", default)]
    pub match_mode: MatchMode,
    /// Fuzzy only: 1 (default) or 2.
    pub max_edits: Option<u8>,
    /// Earliest capture time.
    pub from: Option<String>,
    /// Latest capture time.
    pub to: Option<String>,
    /// Only reads inside this area.
    pub area: Option<AreaBody>,
    /// Only these vehicles.
    pub vehicle: Option<VehicleBody>,
    /// Only these cameras.
    pub cameras: Option<Vec<String>>,
    /// Page size.
    pub limit: Option<u64>,
    /// Next page.
    pub cursor: Option<String>,
    /// Audit: case number.
    pub case_number: Option<String>,
    /// Audit: reason.
    pub reason: Option<String>,
    /// Other tenants whose grants to this one are in force ([`crate::grants`]).
    pub tenants: Option<Vec<String>>,
    /// Read consistency.
    #[serde(default)]
    pub consistency: Consistency,
    /// Include the plan.
    #[serde(default)]
    pub explain: bool,
}

/// `POST /v1/tenants/{tenant}/search/area`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaSearchBody {
    /// The shape.
    pub area: Option<AreaBody>,
    /// Earliest capture time.
    pub from: Option<String>,
    /// Latest capture time.
    pub to: Option<String>,
    /// Only these vehicles ("a silver Camry near here").
    pub vehicle: Option<VehicleBody>,
    /// Only these cameras.
    pub cameras: Option<Vec<String>>,
    /// Page size.
    pub limit: Option<u64>,
    /// Next page.
    pub cursor: Option<String>,
    /// Audit: case number.
    pub case_number: Option<String>,
    /// Audit: reason.
    pub reason: Option<String>,
    /// Other tenants whose grants to this one are in force ([`crate::grants`]).
    pub tenants: Option<Vec<String>>,
    /// Read consistency.
    #[serde(default)]
    pub consistency: Consistency,
    /// Include the plan.
    #[serde(default)]
    pub explain: bool,
}

/// `POST /v1/tenants/{tenant}/search/manifests`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSearchBody {
    /// The query text: words over labels, transcript and device id.
    pub q: Option<String>,
    /// Earliest `started_at`.
    pub from: Option<String>,
    /// Latest `started_at`.
    pub to: Option<String>,
    /// Only manifests with a position inside this area.
    pub area: Option<AreaBody>,
    /// Only this kind: `image`, `video` or `audio` (the record's own enum, so a bad value is
    /// refused by name when the body is parsed).
    pub kind: Option<sightline_storage::record::MediaKind>,
    /// Page size.
    pub limit: Option<u64>,
    /// Next page.
    pub cursor: Option<String>,
    /// Audit: case number.
    pub case_number: Option<String>,
    /// Audit: reason.
    pub reason: Option<String>,
    /// Read consistency.
    #[serde(default)]
    pub consistency: Consistency,
}

/// One place of a co-location search.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceBody {
    /// The shape.
    pub area: Option<AreaBody>,
    /// Window start.
    pub from: Option<String>,
    /// Window end.
    pub to: Option<String>,
}

/// `POST /v1/tenants/{tenant}/search/co-location`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoLocationBody {
    /// The places.
    pub places: Option<Vec<PlaceBody>>,
    /// Seen in at least this many (default: all).
    pub min_places: Option<u64>,
    /// Most plates returned.
    pub limit: Option<u64>,
    /// Audit: case number.
    pub case_number: Option<String>,
    /// Audit: reason.
    pub reason: Option<String>,
    /// Read consistency.
    #[serde(default)]
    pub consistency: Consistency,
}

/// `POST /v1/tenants/{tenant}/search/convoy`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvoyBody {
    /// Target plate.
    pub plate: Option<String>,
    /// Earliest target read.
    pub from: Option<String>,
    /// Latest target read.
    pub to: Option<String>,
    /// Window around each target read, seconds (default 60).
    pub window_s: Option<u64>,
    /// Minimum co-occurrences (default 2).
    pub min_co_occurrences: Option<u64>,
    /// Most plates returned.
    pub limit: Option<u64>,
    /// Audit: case number.
    pub case_number: Option<String>,
    /// Audit: reason.
    pub reason: Option<String>,
    /// Read consistency.
    #[serde(default)]
    pub consistency: Consistency,
}

/// `POST /v1/tenants/{tenant}/search/frequency`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyBody {
    /// The plate.
    pub plate: Option<String>,
    /// Range start.
    pub from: Option<String>,
    /// Range end.
    pub to: Option<String>,
    /// Audit: case number.
    pub case_number: Option<String>,
    /// Audit: reason.
    pub reason: Option<String>,
    /// Read consistency.
    #[serde(default)]
    pub consistency: Consistency,
}

/// A required, normalized exact plate.
pub fn exact_plate(plate: Option<&str>) -> Result<String, ApiError> {
    let raw =
        plate.ok_or_else(|| ApiError::field(ErrorCode::InvalidRequest, "plate", "is required"))?;
    normalize_plate(raw)
        .map_err(|reason| ApiError::field(ErrorCode::InvalidRequest, "plate", reason))
}

/// The plate match of a plate search.
pub fn plate_match(body: &PlateSearchBody) -> Result<PlateMatch, ApiError> {
    if body.max_edits.is_some() && body.match_mode != MatchMode::Fuzzy {
        return Err(ApiError::field(
            ErrorCode::InvalidRequest,
            "max_edits",
            "applies only to \"match\": \"fuzzy\"",
        ));
    }
    let pattern_error = |e: sightline_index::pattern::PatternError| {
        ApiError::field(ErrorCode::InvalidRequest, "plate", e.to_string())
    };
    Ok(match body.match_mode {
        MatchMode::Exact => PlateMatch::Exact(exact_plate(body.plate.as_deref())?),
        MatchMode::Wildcard => {
            let raw = body.plate.as_deref().ok_or_else(|| {
                ApiError::field(ErrorCode::InvalidRequest, "plate", "is required")
            })?;
            PlateMatch::Wildcard(Wildcard::parse(raw).map_err(pattern_error)?)
        }
        MatchMode::Fuzzy => {
            let max_edits = body.max_edits.unwrap_or(1);
            if max_edits > 2 {
                return Err(ApiError::field(
                    ErrorCode::InvalidRequest,
                    "max_edits",
                    "must be 0, 1 or 2",
                ));
            }
            let plate = exact_plate(body.plate.as_deref())?;
            PlateMatch::Fuzzy(Fuzzy::new(&plate, max_edits).map_err(pattern_error)?)
        }
    })
}

/// A decoded cursor, if any, which must carry `binding` ([`search_request`]).
pub fn cursor(text: Option<&str>, binding: u64) -> Result<Option<Cursor>, ApiError> {
    match text {
        Some(text) => Ok(Some(Cursor::decode(text, binding)?)),
        None => Ok(None),
    }
}

/// The fields of a search body that may change from page to page.
const PAGING_FIELDS: [&str; 4] = ["cursor", "limit", "explain", "consistency"];

/// Reads a search body (413 past the limit) into `T`, with the binding its cursors carry:
/// a hash of the path's tenant and of every term of the body but [`PAGING_FIELDS`], keys
/// sorted, so a cursor pages only the question and the tenant it was issued for
/// (`sightline_query::Cursor`). Not a secret: the binding only ties a cursor to its query.
pub fn search_request<T: serde::de::DeserializeOwned>(
    raw: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
    tenant: &str,
) -> Result<(T, u64), ApiError> {
    let bytes = crate::ingest::body_bytes(raw)?;
    let body = crate::body::parse_body(&bytes)?;
    Ok((body, query_binding(tenant, &bytes)))
}

fn query_binding(tenant: &str, bytes: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut terms = serde_json::from_slice::<serde_json::Value>(bytes).unwrap_or_default();
    if let Some(object) = terms.as_object_mut() {
        for field in PAGING_FIELDS {
            object.remove(field);
        }
    }
    let mut hash = Sha256::new();
    hash.update(b"sightline cursor binding v1\0");
    hash.update(tenant.as_bytes());
    hash.update(b"\0");
    hash.update(canonical(&terms).to_string().as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// `value` with every object's keys in sorted order, whatever serde_json's map keeps.
fn canonical(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let sorted: std::collections::BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}
