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

fn lon_in_range(lon: f64, min_lon: f64, max_lon: f64) -> bool {
    if min_lon <= max_lon {
        min_lon <= lon && lon <= max_lon
    } else {
        lon >= min_lon || lon <= max_lon
    }
}

// ---------------------------------------------------------------------------------------
// Cover machinery.
//
// Every cover is a flood fill over resolution-9 cells: starting from a seed cell that
// certainly meets the shape, a cell is kept (and its neighbours visited) while it "may
// meet" the shape, judged conservatively from the cell's centre and a bound on its
// circumradius. The set of points a shape contains is connected, so the cells meeting it
// are connected through neighbour links (in a hexagonal tiling, cells sharing a vertex
// share an edge); they all pass the conservative test, so the fill reaches all of them.
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Cover {
    cells: HashMap<u64, bool>,
}

/// Centre of a cell and a bound (metres) on the distance from it to any point of the cell.
struct CellGeom {
    lat: f64,
    lon: f64,
    reach_m: f64,
}

fn cell_geom(cell: CellIndex) -> CellGeom {
    let centre = LatLng::from(cell);
    let (lat, lon) = (centre.lat(), centre.lng());
    let max = cell
        .boundary()
        .iter()
        .map(|v| haversine_m(lat, lon, v.lat(), v.lng()))
        .fold(0.0_f64, f64::max);
    CellGeom {
        lat,
        lon,
        reach_m: max * REACH_FACTOR + REACH_SLACK_M,
    }
}

fn too_large(field: &str) -> AreaError {
    AreaError::new(
        field,
        format!(
            "the area covers more than {MAX_COVER_CELLS} H3 cells at resolution 9; use a smaller area"
        ),
    )
}

/// Flood fill from `seed`. `test` returns `None` when the cell certainly does not meet
/// the shape, else `Some(inside)`. The seed is always kept.
fn flood(
    seed: CellIndex,
    field: &str,
    out: &mut Cover,
    mut test: impl FnMut(&CellGeom) -> Option<bool>,
) -> Result<(), AreaError> {
    let mut seen: HashSet<CellIndex> = HashSet::new();
    let mut queue: VecDeque<CellIndex> = VecDeque::new();
    seen.insert(seed);
    queue.push_back(seed);
    let mut neighbours: Vec<CellIndex> = Vec::with_capacity(7);
    while let Some(cell) = queue.pop_front() {
        let inside = match test(&cell_geom(cell)) {
            Some(inside) => inside,
            None if cell == seed => false,
            None => continue,
        };
        let slot = out.cells.entry(u64::from(cell)).or_insert(false);
        *slot |= inside;
        if out.cells.len() > MAX_COVER_CELLS {
            return Err(too_large(field));
        }
        neighbours.clear();
        neighbours.extend(cell.grid_disk::<Vec<_>>(1));
        for &n in &neighbours {
            if seen.insert(n) {
                queue.push_back(n);
            }
        }
    }
    Ok(())
}

fn seed_cell(lat: f64, lon: f64, field: &str) -> Result<CellIndex, AreaError> {
    LatLng::new(lat, lon)
        .map(|ll| ll.to_cell(INDEX_RESOLUTION))
        .map_err(|e| AreaError::new(field, format!("invalid coordinates: {e}")))
}

fn cover_circle(lat: f64, lon: f64, radius_m: f64, out: &mut Cover) -> Result<(), AreaError> {
    let seed = seed_cell(lat, lon, "circle")?;
    flood(seed, "circle", out, |g| {
        let d = haversine_m(lat, lon, g.lat, g.lon);
        if d > radius_m + g.reach_m {
            None
        } else {
            Some(d + g.reach_m <= radius_m)
        }
    })
}

/// Longitude range as a start and an eastward width in `[0, 360]`.
fn lon_span(min_lon: f64, max_lon: f64) -> (f64, f64) {
    if min_lon <= max_lon {
        (min_lon, max_lon - min_lon)
    } else {
        (min_lon, max_lon - min_lon + 360.0)
    }
}

/// Angular distance (degrees) from `lon` to the longitude range, going around the circle.
fn lon_gap_deg(lon: f64, start: f64, width: f64) -> f64 {
    let t = (lon - start).rem_euclid(360.0);
    if t <= width {
        0.0
    } else {
        (t - width).min(360.0 - t)
    }
}

fn cover_bbox(
    min_lat: f64,
    min_lon: f64,
    max_lat: f64,
    max_lon: f64,
    out: &mut Cover,
) -> Result<(), AreaError> {
    let (start, width) = lon_span(min_lon, max_lon);
    let mut mid_lon = start + width / 2.0;
    if mid_lon > 180.0 {
        mid_lon -= 360.0;
    }
    let seed = seed_cell((min_lat + max_lat) / 2.0, mid_lon, "bbox")?;
    flood(seed, "bbox", out, |g| {
        // A lower bound of the distance from the cell centre to the box: the latitude
        // gap (no path changes latitude faster than its length), and the distance to the
        // nearest meridian of the range, asin(cos(lat) * sin(lon gap)).
        let lat_gap = (min_lat - g.lat).max(g.lat - max_lat).max(0.0).to_radians();
        let lon_gap = lon_gap_deg(g.lon, start, width).min(90.0).to_radians();
        let lon_bound = (g.lat.to_radians().cos().max(0.0) * lon_gap.sin())
            .clamp(0.0, 1.0)
            .asin();
        let lower_m = lat_gap.max(lon_bound) * EARTH_RADIUS_M;
        if lower_m > g.reach_m {
            return None;
        }
        // Inside when the cap of radius `reach` around the centre is within the box.
        let a = g.reach_m / EARTH_RADIUS_M;
        let a_deg = a.to_degrees() + RECT_SLACK_DEG;
        if g.lat - a_deg < min_lat || g.lat + a_deg > max_lat {
            return Some(false);
        }
        if width >= 360.0 {
            return Some(true);
        }
        let Some(dl) = cap_lon_half_width_deg(g.lat, a) else {
            return Some(false);
        };
        let t = (g.lon - dl - start).rem_euclid(360.0);
        Some(t + 2.0 * dl <= width)
    })
}

/// Half-width in longitude (degrees, with slack) of the spherical cap of angular radius
/// `a` (radians) around a centre at latitude `lat`; `None` when the cap reaches a pole.
fn cap_lon_half_width_deg(lat: f64, a: f64) -> Option<f64> {
    let colat_room = std::f64::consts::FRAC_PI_2 - lat.to_radians().abs();
    if a >= colat_room * 0.999 {
        return None;
    }
    let s = a.sin() / lat.to_radians().cos();
    if !(s.is_finite() && s < 1.0) {
        return None;
    }
    Some(s.asin().to_degrees() + RECT_SLACK_DEG)
}

// --- planar polygon geometry in the (lon, lat) plane: x = lon, y = lat ---

#[derive(Debug, Clone, Copy, PartialEq)]
struct Pt {
    x: f64,
    y: f64,
}

fn orient(a: Pt, b: Pt, c: Pt) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn sign(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

/// `c` lies within the bounding box of segment `ab` (used for collinear points).
fn within_box(a: Pt, b: Pt, c: Pt) -> bool {
    c.x >= a.x.min(b.x) && c.x <= a.x.max(b.x) && c.y >= a.y.min(b.y) && c.y <= a.y.max(b.y)
}

/// Closed segments `ab` and `cd` share at least one point.
fn segments_meet(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
    let (o1, o2) = (sign(orient(a, b, c)), sign(orient(a, b, d)));
    let (o3, o4) = (sign(orient(c, d, a)), sign(orient(c, d, b)));
    if o1 * o2 < 0 && o3 * o4 < 0 {
        return true;
    }
    (o1 == 0 && within_box(a, b, c))
        || (o2 == 0 && within_box(a, b, d))
        || (o3 == 0 && within_box(c, d, a))
        || (o4 == 0 && within_box(c, d, b))
}

/// First pair of edges (by index; edge `i` joins vertices `i` and `i+1`) that cross,
/// touch or overlap, other than consecutive edges meeting at their shared vertex.
fn first_crossing(pts: &[Pt]) -> Option<(usize, usize)> {
    let n = pts.len();
    let edge = |i: usize| (pts[i], pts[(i + 1) % n]);
    for i in 0..n {
        // consecutive edge i, i+1 share vertex i+1: they overlap when they fold back
        let (a, b) = edge(i);
        let c = pts[(i + 2) % n];
        if orient(a, b, c) == 0.0 && (a.x - b.x) * (c.x - b.x) + (a.y - b.y) * (c.y - b.y) > 0.0 {
            return Some((i, (i + 1) % n));
        }
        for j in (i + 2)..n {
            if i == 0 && j == n - 1 {
                continue; // consecutive through vertex 0, handled above (i = n - 1)
            }
            let (c, d) = edge(j);
            if segments_meet(a, b, c, d) {
                return Some((i, j));
            }
        }
    }
    None
}

fn signed_area(pts: &[Pt]) -> f64 {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum::<f64>()
        / 2.0
}

fn dist_to_segment(p: Pt, a: Pt, b: Pt) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.x + t * dx, a.y + t * dy);
    ((p.x - qx).powi(2) + (p.y - qy).powi(2)).sqrt()
}

/// A `(lat, lon)` vertex as a point of the (lon, lat) plane.
fn pt(v: (f64, f64)) -> Pt {
    Pt { x: v.1, y: v.0 }
}

/// Even-odd rule over `(lat, lon)` vertices; true for points within
/// [`ON_EDGE_TOLERANCE_DEG`] of an edge.
fn polygon_contains(points: &[(f64, f64)], p: Pt) -> bool {
    let n = points.len();
    for i in 0..n {
        if dist_to_segment(p, pt(points[i]), pt(points[(i + 1) % n])) <= ON_EDGE_TOLERANCE_DEG {
            return true;
        }
    }
    ray_cast(points, p)
}

fn ray_cast(points: &[(f64, f64)], p: Pt) -> bool {
    let pts = points;
    let n = pts.len();
    let mut inside = false;
    let mut j = n - 1;
    for i in 0..n {
        let (a, b) = (pt(pts[i]), pt(pts[j]));
        if (a.y > p.y) != (b.y > p.y) {
            let x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
            if p.x < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// Axis-aligned rectangle in the (lon, lat) plane.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

/// Closed segment `ab` meets the closed rectangle (Liang–Barsky clipping).
fn segment_meets_rect(a: Pt, b: Pt, r: &Rect) -> bool {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let mut t0 = 0.0_f64;
    let mut t1 = 1.0_f64;
    for (p, q) in [
        (-dx, a.x - r.x0),
        (dx, r.x1 - a.x),
        (-dy, a.y - r.y0),
        (dy, r.y1 - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Outside,
    Partial,
    Inside,
}

fn rect_relation(points: &[(f64, f64)], bounds: &Rect, r: &Rect) -> Relation {
    if r.x1 < bounds.x0 || r.x0 > bounds.x1 || r.y1 < bounds.y0 || r.y0 > bounds.y1 {
        return Relation::Outside;
    }
    let n = points.len();
    for i in 0..n {
        if segment_meets_rect(pt(points[i]), pt(points[(i + 1) % n]), r) {
            return Relation::Partial;
        }
    }
    // No edge meets the rectangle: it is wholly inside or wholly outside.
    let centre = Pt {
        x: (r.x0 + r.x1) / 2.0,
        y: (r.y0 + r.y1) / 2.0,
    };
    if ray_cast(points, centre) {
        Relation::Inside
    } else {
        Relation::Outside
    }
}

/// Rectangles of the (lon, lat) plane that together contain every point within `reach`
/// of the cell centre; the second is the part wrapped across the antimeridian, if any.
fn cell_rects(g: &CellGeom) -> (Rect, Option<Rect>) {
    let a = g.reach_m / EARTH_RADIUS_M;
    let a_deg = a.to_degrees() + RECT_SLACK_DEG;
    let y0 = (g.lat - a_deg).max(-90.0);
    let y1 = (g.lat + a_deg).min(90.0);
    let full = Rect {
        x0: -180.0,
        y0,
        x1: 180.0,
        y1,
    };
    let Some(dl) = cap_lon_half_width_deg(g.lat, a) else {
        return (full, None);
    };
    let (x0, x1) = (g.lon - dl, g.lon + dl);
    if x0 < -180.0 {
        (
            Rect {
                x0: -180.0,
                y0,
                x1,
                y1,
            },
            Some(Rect {
                x0: x0 + 360.0,
                y0,
                x1: 180.0,
                y1,
            }),
        )
    } else if x1 > 180.0 {
        (
            Rect {
                x0,
                y0,
                x1: 180.0,
                y1,
            },
            Some(Rect {
                x0: -180.0,
                y0,
                x1: x1 - 360.0,
                y1,
            }),
        )
    } else {
        (Rect { x0, y0, x1, y1 }, None)
    }
}

fn cover_polygon(points: &[(f64, f64)], out: &mut Cover) -> Result<(), AreaError> {
    let bounds = points.iter().map(|&v| pt(v)).fold(
        Rect {
            x0: f64::INFINITY,
            y0: f64::INFINITY,
            x1: f64::NEG_INFINITY,
            y1: f64::NEG_INFINITY,
        },
        |r, p| Rect {
            x0: r.x0.min(p.x),
            y0: r.y0.min(p.y),
            x1: r.x1.max(p.x),
            y1: r.y1.max(p.y),
        },
    );
    // A vertex is on the boundary, hence contained: its cell meets the polygon.
    let seed = seed_cell(points[0].0, points[0].1, "polygon")?;
    flood(seed, "polygon", out, |g| {
        let (main, wrapped) = cell_rects(g);
        let rel = rect_relation(points, &bounds, &main);
        let wrapped_rel = wrapped.map(|r| rect_relation(points, &bounds, &r));
        match (rel, wrapped_rel) {
            (Relation::Outside, None | Some(Relation::Outside)) => None,
            (Relation::Inside, None) => Some(true),
            _ => Some(false),
        }
    })
}

/// Lower bound (metres) of the distance from a cell's centre to its boundary, assuming
/// the boundary runs along great circles between the listed vertices.
fn cell_inradius_m(cell: CellIndex) -> f64 {
    fn unit(ll: LatLng) -> [f64; 3] {
        let (p, l) = (ll.lat_radians(), ll.lng_radians());
        [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()]
    }
    let centre = LatLng::from(cell);
    let c = unit(centre);
    let boundary = cell.boundary();
    let n = boundary.len();
    let mut best = f64::INFINITY;
    for i in 0..n {
        let (va, vb) = (boundary[i], boundary[(i + 1) % n]);
        let (a, b) = (unit(va), unit(vb));
        let cross = [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ];
        let norm = (cross[0].powi(2) + cross[1].powi(2) + cross[2].powi(2)).sqrt();
        let bound = if norm > 1e-12 {
            let dot = (c[0] * cross[0] + c[1] * cross[1] + c[2] * cross[2]) / norm;
            dot.abs().clamp(0.0, 1.0).asin() * EARTH_RADIUS_M
        } else {
            haversine_m(centre.lat(), centre.lng(), va.lat(), va.lng())
                - haversine_m(va.lat(), va.lng(), vb.lat(), vb.lng())
        };
        best = best.min(bound);
    }
    best.max(0.0)
}

fn cover_cells(cells: &[CellIndex], out: &mut Cover) -> Result<(), AreaError> {
    for &cell in cells {
        let res = cell.resolution();
        if res == INDEX_RESOLUTION {
            // A read is in this cell exactly when it is indexed under it.
            out.cells.insert(u64::from(cell), true);
            if out.cells.len() > MAX_COVER_CELLS {
                return Err(too_large("h3"));
            }
            continue;
        }
        let cg = cell_geom(cell);
        let inner_m = if res < INDEX_RESOLUTION {
            cell_inradius_m(cell) / REACH_FACTOR - REACH_SLACK_M
        } else {
            f64::NEG_INFINITY
        };
        let seed = seed_cell(cg.lat, cg.lon, "h3")?;
        flood(seed, "h3", out, |g| {
            let d = haversine_m(cg.lat, cg.lon, g.lat, g.lon);
            if d > cg.reach_m + g.reach_m {
                None
            } else {
                Some(d + g.reach_m <= inner_m)
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
