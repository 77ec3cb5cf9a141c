//! How an area's covering cells are found (a flood fill from a cell certainly inside, kept
//! while a cell may meet the shape, with conservative reach bounds), and the planar geometry
//! of polygons (orientation, crossings, ray casting, segment against rectangle). See the
//! parent module for the edge models this implements.

use super::*;

pub(super) fn lon_in_range(lon: f64, min_lon: f64, max_lon: f64) -> bool {
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
pub(super) struct Cover {
    pub(super) cells: HashMap<u64, bool>,
}

/// Centre of a cell and a bound (metres) on the distance from it to any point of the cell.
pub(super) struct CellGeom {
    lat: f64,
    lon: f64,
    reach_m: f64,
}

pub(super) fn cell_geom(cell: CellIndex) -> CellGeom {
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

pub(super) fn too_large(field: &str) -> AreaError {
    AreaError::new(
        field,
        format!(
            "the area covers more than {MAX_COVER_CELLS} H3 cells at resolution 9; use a smaller area"
        ),
    )
}

/// Flood fill from `seed`. `test` returns `None` when the cell certainly does not meet
/// the shape, else `Some(inside)`. The seed is always kept.
pub(super) fn flood(
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

pub(super) fn seed_cell(lat: f64, lon: f64, field: &str) -> Result<CellIndex, AreaError> {
    LatLng::new(lat, lon)
        .map(|ll| ll.to_cell(INDEX_RESOLUTION))
        .map_err(|e| AreaError::new(field, format!("invalid coordinates: {e}")))
}

pub(super) fn cover_circle(
    lat: f64,
    lon: f64,
    radius_m: f64,
    out: &mut Cover,
) -> Result<(), AreaError> {
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
pub(super) fn lon_span(min_lon: f64, max_lon: f64) -> (f64, f64) {
    if min_lon <= max_lon {
        (min_lon, max_lon - min_lon)
    } else {
        (min_lon, max_lon - min_lon + 360.0)
    }
}

/// Angular distance (degrees) from `lon` to the longitude range, going around the circle.
pub(super) fn lon_gap_deg(lon: f64, start: f64, width: f64) -> f64 {
    let t = (lon - start).rem_euclid(360.0);
    if t <= width {
        0.0
    } else {
        (t - width).min(360.0 - t)
    }
}

pub(super) fn cover_bbox(
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
pub(super) fn cap_lon_half_width_deg(lat: f64, a: f64) -> Option<f64> {
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
pub(super) struct Pt {
    pub(super) x: f64,
    pub(super) y: f64,
}

pub(super) fn orient(a: Pt, b: Pt, c: Pt) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

pub(super) fn sign(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

/// `c` lies within the bounding box of segment `ab` (used for collinear points).
pub(super) fn within_box(a: Pt, b: Pt, c: Pt) -> bool {
    c.x >= a.x.min(b.x) && c.x <= a.x.max(b.x) && c.y >= a.y.min(b.y) && c.y <= a.y.max(b.y)
}

/// Closed segments `ab` and `cd` share at least one point.
pub(super) fn segments_meet(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
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
pub(super) fn first_crossing(pts: &[Pt]) -> Option<(usize, usize)> {
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

pub(super) fn signed_area(pts: &[Pt]) -> f64 {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum::<f64>()
        / 2.0
}

pub(super) fn dist_to_segment(p: Pt, a: Pt, b: Pt) -> f64 {
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
pub(super) fn pt(v: (f64, f64)) -> Pt {
    Pt { x: v.1, y: v.0 }
}

/// Even-odd rule over `(lat, lon)` vertices; true for points within
/// [`ON_EDGE_TOLERANCE_DEG`] of an edge.
pub(super) fn polygon_contains(points: &[(f64, f64)], p: Pt) -> bool {
    let n = points.len();
    for i in 0..n {
        if dist_to_segment(p, pt(points[i]), pt(points[(i + 1) % n])) <= ON_EDGE_TOLERANCE_DEG {
            return true;
        }
    }
    ray_cast(points, p)
}

pub(super) fn ray_cast(points: &[(f64, f64)], p: Pt) -> bool {
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
pub(super) struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

/// Closed segment `ab` meets the closed rectangle (Liang–Barsky clipping).
pub(super) fn segment_meets_rect(a: Pt, b: Pt, r: &Rect) -> bool {
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
pub(super) enum Relation {
    Outside,
    Partial,
    Inside,
}

pub(super) fn rect_relation(points: &[(f64, f64)], bounds: &Rect, r: &Rect) -> Relation {
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
pub(super) fn cell_rects(g: &CellGeom) -> (Rect, Option<Rect>) {
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

pub(super) fn cover_polygon(points: &[(f64, f64)], out: &mut Cover) -> Result<(), AreaError> {
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
pub(super) fn cell_inradius_m(cell: CellIndex) -> f64 {
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

pub(super) fn cover_cells(cells: &[CellIndex], out: &mut Cover) -> Result<(), AreaError> {
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
