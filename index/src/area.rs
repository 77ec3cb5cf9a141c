//! Geometry of area search: the shapes a search may be restricted to, the exact
//! point-in-shape test, and the H3 cells (at [`INDEX_RESOLUTION`]) a search has to scan.
//!
//! Reads are indexed by the H3 cell of their position at resolution 9
//! (`LatLng::new(lat, lon)?.to_cell(Resolution::Nine)`). A search over an area scans the
//! cells returned by [`Area::cover`] and keeps the reads for which [`Area::contains`] is
//! true (the check may be skipped for cells flagged [`CoverCell::inside`]). The cover is
//! a superset: every point for which `contains` is true lies in one of its cells, so
//! results are exact.
//!
//! # Edge models
//!
//! Coordinates are WGS84 degrees; latitudes in `[-90, 90]`, longitudes in `[-180, 180]`.
//!
//! - **circle** `{"circle": {"lat", "lon", "radius_m"}}`: a point is inside when its
//!   great-circle (haversine) distance from the centre is `<= radius_m`, on a sphere of
//!   radius 6,371,008.8 m (the mean Earth radius). The boundary counts as inside.
//!   `0 < radius_m <= 50000`. Circles may cross the antimeridian and contain a pole.
//! - **bbox** `{"bbox": {"min_lat", "min_lon", "max_lat", "max_lon"}}`: a point is inside
//!   when `min_lat <= lat <= max_lat` and `min_lon <= lon <= max_lon` (inclusive); the
//!   edges are parallels and meridians. `min_lat <= max_lat` is required. When
//!   `min_lon > max_lon` the box crosses the antimeridian (as in GeoJSON, RFC 7946): the
//!   longitude condition becomes `lon >= min_lon or lon <= max_lon`. Longitudes -180 and
//!   180 are the same meridian.
//! - **polygon** `{"polygon": [[lat, lon], ...]}`: edges are straight lines in the
//!   (lon, lat) plane (plate carrée), not great circles; inside is decided by the
//!   even-odd (ray-casting) rule, and points on an edge (within 1e-12 degrees) count as
//!   inside. 3 to 1,000 distinct vertices; a closing vertex equal to the first is allowed
//!   and dropped, as are repeated consecutive vertices. Edges must not cross or touch
//!   (except consecutive edges at their shared vertex) and the area must be non-zero. A
//!   polygon cannot cross the antimeridian (its edges never wrap around ±180).
//! - **h3** `{"h3": ["8928308280fffff", ...]}`: cell index strings (hexadecimal) of any
//!   resolution. A point is inside when its H3 cell at a listed cell's resolution is that
//!   listed cell. Note that H3 is not exactly hierarchical: a point may lie in a listed
//!   resolution-7 cell while its resolution-9 cell's parent is a neighbour of it, and
//!   vice versa; this model uses the point's own cell at each listed resolution. 1 cell
//!   at least; the cells together may count at most 100,000 resolution-9 cells (a cell
//!   of resolution `r <= 9` counts as its `7^(9-r)` descendants, a finer cell as one).
//!
//! The cover of an area may hold at most [`MAX_COVER_CELLS`] cells; a larger area is
//! refused by [`Area::cover`]. Every valid circle fits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::str::FromStr;

use h3o::{CellIndex, LatLng, Resolution};

/// Resolution at which reads are indexed.
pub const INDEX_RESOLUTION: Resolution = Resolution::Nine;

/// Largest accepted circle radius, in metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;

/// Radius of the sphere on which circle distances are measured, in metres (mean Earth
/// radius).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Largest accepted number of polygon vertices (after dropping the closing vertex).
pub const MAX_POLYGON_VERTICES: usize = 1_000;

/// Largest accepted size of an `h3` area, counted in resolution-9 cells: a listed cell of
/// resolution `r <= 9` counts `7^(9-r)` (fewer for pentagons), a finer one counts 1.
pub const MAX_H3_RES9_CELLS: u64 = 100_000;

/// Largest accepted number of cells in a cover.
pub const MAX_COVER_CELLS: usize = 250_000;

/// Distance (in degrees of the lon/lat plane) within which a point counts as on a
/// polygon edge, hence inside.
pub const ON_EDGE_TOLERANCE_DEG: f64 = 1e-12;

/// Safety factor applied to a cell's measured circumradius.
const REACH_FACTOR: f64 = 1.1;
/// Safety slack added to a cell's circumradius, in metres.
const REACH_SLACK_M: f64 = 1.0;
/// Safety slack (in degrees) added around cell bounding rectangles.
const RECT_SLACK_DEG: f64 = 1e-9;

/// A shape a search is restricted to. Build it with [`Area::circle`], [`Area::bbox`],
/// [`Area::polygon`] or [`Area::cells`], which validate their input.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    /// Points within `radius_m` metres (great-circle distance) of the centre.
    Circle {
        /// Centre latitude, degrees.
        lat: f64,
        /// Centre longitude, degrees.
        lon: f64,
        /// Radius in metres, `0 < radius_m <= MAX_RADIUS_M`.
        radius_m: f64,
    },
    /// Points between two parallels and two meridians (inclusive). `min_lon > max_lon`
    /// means the box crosses the antimeridian.
    BBox {
        /// Southern edge, degrees.
        min_lat: f64,
        /// Western edge, degrees.
        min_lon: f64,
        /// Northern edge, degrees.
        max_lat: f64,
        /// Eastern edge, degrees.
        max_lon: f64,
    },
    /// A simple polygon with straight edges in the (lon, lat) plane; vertices are
    /// `(lat, lon)` pairs, not closed (the last vertex differs from the first).
    Polygon(Vec<(f64, f64)>),
    /// A set of H3 cells of any resolutions, sorted and deduplicated.
    Cells(Vec<CellIndex>),
}

/// Why an area was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct AreaError {
    /// Path of the offending value relative to the area object, e.g. `circle.radius_m`,
    /// `bbox.min_lat`, `polygon`, `polygon[3]`, `h3`, `h3[1]`.
    pub field: String,
    /// Human-readable explanation.
    pub reason: String,
}

impl AreaError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// One resolution-9 cell of a cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoverCell {
    /// The cell index (`u64::from(CellIndex)`), resolution [`INDEX_RESOLUTION`].
    pub cell: u64,
    /// True only when every point of the cell is inside the area, so reads indexed under
    /// this cell need no exact check.
    pub inside: bool,
}

/// Great-circle distance in metres between two points (degrees), by the haversine
/// formula on a sphere of radius [`EARTH_RADIUS_M`].
#[must_use]
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.clamp(0.0, 1.0).sqrt().asin()
}

fn check_lat(field: &str, lat: f64) -> Result<(), AreaError> {
    if !lat.is_finite() {
        return Err(AreaError::new(field, "latitude must be a finite number"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(AreaError::new(
            field,
            format!("latitude {lat} is outside [-90, 90]"),
        ));
    }
    Ok(())
}

fn check_lon(field: &str, lon: f64) -> Result<(), AreaError> {
    if !lon.is_finite() {
        return Err(AreaError::new(field, "longitude must be a finite number"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(AreaError::new(
            field,
            format!("longitude {lon} is outside [-180, 180]"),
        ));
    }
    Ok(())
}

impl Area {
    /// A circle of `radius_m` metres around (`lat`, `lon`). Errors name
    /// `circle.lat`, `circle.lon` or `circle.radius_m`.
    pub fn circle(lat: f64, lon: f64, radius_m: f64) -> Result<Area, AreaError> {
        check_lat("circle.lat", lat)?;
        check_lon("circle.lon", lon)?;
        if !radius_m.is_finite() {
            return Err(AreaError::new(
                "circle.radius_m",
                "radius must be a finite number",
            ));
        }
        if radius_m <= 0.0 {
            return Err(AreaError::new(
                "circle.radius_m",
                format!("radius must be greater than 0, got {radius_m}"),
            ));
        }
        if radius_m > MAX_RADIUS_M {
            return Err(AreaError::new(
                "circle.radius_m",
                format!("radius must be at most {MAX_RADIUS_M} m, got {radius_m}"),
            ));
        }
        Ok(Area::Circle { lat, lon, radius_m })
    }

    /// A box between two parallels and two meridians, bounds inclusive. Requires
    /// `min_lat <= max_lat`; `min_lon > max_lon` denotes a box crossing the
    /// antimeridian (`lon >= min_lon or lon <= max_lon`). Errors name `bbox.min_lat`,
    /// `bbox.min_lon`, `bbox.max_lat` or `bbox.max_lon`.
    pub fn bbox(min_lat: f64, min_lon: f64, max_lat: f64, max_lon: f64) -> Result<Area, AreaError> {
        check_lat("bbox.min_lat", min_lat)?;
        check_lon("bbox.min_lon", min_lon)?;
        check_lat("bbox.max_lat", max_lat)?;
        check_lon("bbox.max_lon", max_lon)?;
        if min_lat > max_lat {
            return Err(AreaError::new(
                "bbox.min_lat",
                format!("min_lat {min_lat} is greater than max_lat {max_lat}"),
            ));
        }
        Ok(Area::BBox {
            min_lat,
            min_lon,
            max_lat,
            max_lon,
        })
    }

    /// A polygon from `(lat, lon)` vertices. A closing vertex equal to the first and
    /// repeated consecutive vertices are dropped; 3 to [`MAX_POLYGON_VERTICES`]
    /// distinct vertices must remain, edges must not cross or touch, and the area must
    /// be non-zero. Errors name `polygon` or `polygon[i]` (`i` indexes the input).
    pub fn polygon(points: Vec<(f64, f64)>) -> Result<Area, AreaError> {
        let mut kept: Vec<(f64, f64)> = Vec::with_capacity(points.len());
        for (i, &(lat, lon)) in points.iter().enumerate() {
            let field = format!("polygon[{i}]");
            check_lat(&field, lat)?;
            check_lon(&field, lon)?;
            if kept.last() != Some(&(lat, lon)) {
                kept.push((lat, lon));
            }
        }
        while kept.len() > 1 && kept.first() == kept.last() {
            kept.pop();
        }
        if kept.len() < 3 {
            return Err(AreaError::new(
                "polygon",
                format!(
                    "a polygon needs at least 3 distinct vertices, got {}",
                    kept.len()
                ),
            ));
        }
        if kept.len() > MAX_POLYGON_VERTICES {
            return Err(AreaError::new(
                "polygon",
                format!(
                    "a polygon may have at most {MAX_POLYGON_VERTICES} vertices, got {}",
                    kept.len()
                ),
            ));
        }
        let pts: Vec<Pt> = kept.iter().map(|&v| pt(v)).collect();
        if let Some((i, j)) = first_crossing(&pts) {
            return Err(AreaError::new(
                "polygon",
                format!("edges {i} and {j} cross or touch (the polygon must be simple)"),
            ));
        }
        if signed_area(&pts) == 0.0 {
            return Err(AreaError::new("polygon", "the polygon has zero area"));
        }
        Ok(Area::Polygon(kept))
    }

    /// A set of H3 cells from their hexadecimal index strings. Errors name `h3` (empty
    /// list, too large) or `h3[i]` (not a valid cell index).
    pub fn cells(texts: &[String]) -> Result<Area, AreaError> {
        if texts.is_empty() {
            return Err(AreaError::new("h3", "at least one cell is required"));
        }
        let mut cells = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let cell = CellIndex::from_str(text.trim()).map_err(|e| {
                AreaError::new(
                    format!("h3[{i}]"),
                    format!("{text:?} is not a valid H3 cell index: {e}"),
                )
            })?;
            cells.push(cell);
        }
        cells.sort_unstable();
        cells.dedup();
        let mut total: u64 = 0;
        for cell in &cells {
            total = total.saturating_add(cell.children_count(INDEX_RESOLUTION).max(1));
        }
        if total > MAX_H3_RES9_CELLS {
            return Err(AreaError::new(
                "h3",
                format!(
                    "the cells cover {total} resolution-9 cells; at most {MAX_H3_RES9_CELLS} are allowed"
                ),
            ));
        }
        Ok(Area::Cells(cells))
    }

    /// The name of this area's kind, as used in error fields (`circle`, `bbox`,
    /// `polygon`, `h3`).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Area::Circle { .. } => "circle",
            Area::BBox { .. } => "bbox",
            Area::Polygon(_) => "polygon",
            Area::Cells(_) => "h3",
        }
    }

    /// Exact containment of a point (degrees), by the edge model of the module doc.
    /// Non-finite or out-of-range coordinates are never contained.
    #[must_use]
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        // NaN and infinities fall outside the ranges
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return false;
        }
        match self {
            Area::Circle {
                lat: clat,
                lon: clon,
                radius_m,
            } => haversine_m(*clat, *clon, lat, lon) <= *radius_m,
            Area::BBox {
                min_lat,
                min_lon,
                max_lat,
                max_lon,
            } => {
                *min_lat <= lat
                    && lat <= *max_lat
                    && (lon_in_range(lon, *min_lon, *max_lon)
                        || (lon == 180.0 && lon_in_range(-180.0, *min_lon, *max_lon))
                        || (lon == -180.0 && lon_in_range(180.0, *min_lon, *max_lon)))
            }
            Area::Polygon(points) => polygon_contains(points, Pt { x: lon, y: lat }),
            Area::Cells(cells) => {
                let Ok(ll) = LatLng::new(lat, lon) else {
                    return false;
                };
                // Sorted cells are grouped by resolution (resolution bits sit above the
                // base cell and digits, and the mode bits are equal for all cells).
                let mut rest = &cells[..];
                while let Some(first) = rest.first() {
                    let res = first.resolution();
                    let end = rest.partition_point(|c| c.resolution() == res);
                    if rest[..end].binary_search(&ll.to_cell(res)).is_ok() {
                        return true;
                    }
                    rest = &rest[end..];
                }
                false
            }
        }
    }

    /// The resolution-9 cells whose reads may lie in the area: a superset of the cells of
    /// every point inside, each flagged `inside` only when every point of the cell is
    /// inside. Sorted by cell, deduplicated. Errors (naming the area kind, e.g.
    /// `circle`) when the area is invalid or the cover would exceed
    /// [`MAX_COVER_CELLS`].
    pub fn cover(&self) -> Result<Vec<CoverCell>, AreaError> {
        let mut out = Cover::default();
        match self {
            Area::Circle { lat, lon, radius_m } => {
                Area::circle(*lat, *lon, *radius_m)?;
                cover_circle(*lat, *lon, *radius_m, &mut out)?;
            }
            Area::BBox {
                min_lat,
                min_lon,
                max_lat,
                max_lon,
            } => {
                Area::bbox(*min_lat, *min_lon, *max_lat, *max_lon)?;
                cover_bbox(*min_lat, *min_lon, *max_lat, *max_lon, &mut out)?;
            }
            Area::Polygon(points) => {
                if points.len() < 3 || points.len() > MAX_POLYGON_VERTICES {
                    return Err(AreaError::new(
                        "polygon",
                        format!(
                            "a polygon needs 3 to {MAX_POLYGON_VERTICES} vertices, got {}",
                            points.len()
                        ),
                    ));
                }
                for (i, &(lat, lon)) in points.iter().enumerate() {
                    let field = format!("polygon[{i}]");
                    check_lat(&field, lat)?;
                    check_lon(&field, lon)?;
                }
                cover_polygon(points, &mut out)?;
            }
            Area::Cells(cells) => {
                if cells.is_empty() {
                    return Err(AreaError::new("h3", "at least one cell is required"));
                }
                cover_cells(cells, &mut out)?;
            }
        }
        let mut cells: Vec<CoverCell> = out
            .cells
            .into_iter()
            .map(|(cell, inside)| CoverCell { cell, inside })
            .collect();
        cells.sort_unstable();
        Ok(cells)
    }
}

mod cover;
use cover::*;

#[cfg(test)]
mod tests;
