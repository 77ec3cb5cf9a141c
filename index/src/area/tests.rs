//! Tests of the area geometry: validation, edge behaviour, and cover properties.

use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Point reached from (`lat`, `lon`) going `dist_m` along bearing `bearing_deg` on the
/// sphere.
fn destination(lat: f64, lon: f64, bearing_deg: f64, dist_m: f64) -> (f64, f64) {
    let (p1, l1) = (lat.to_radians(), lon.to_radians());
    let (t, d) = (bearing_deg.to_radians(), dist_m / EARTH_RADIUS_M);
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * t.cos())
        .clamp(-1.0, 1.0)
        .asin();
    let l2 = l1 + (t.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    let mut lon2 = l2.to_degrees();
    while lon2 > 180.0 {
        lon2 -= 360.0;
    }
    while lon2 < -180.0 {
        lon2 += 360.0;
    }
    (p2.to_degrees(), lon2)
}

fn res9(lat: f64, lon: f64) -> u64 {
    u64::from(LatLng::new(lat, lon).unwrap().to_cell(INDEX_RESOLUTION))
}

fn in_cover(cover: &[CoverCell], lat: f64, lon: f64) -> bool {
    let cell = res9(lat, lon);
    cover.binary_search_by(|c| c.cell.cmp(&cell)).is_ok()
}

fn assert_sorted_unique(cover: &[CoverCell]) {
    assert!(
        cover.windows(2).all(|w| w[0].cell < w[1].cell),
        "cover not sorted/unique"
    );
}

/// Random points of cells flagged inside; each must be contained.
fn check_inside_cells(area: &Area, cover: &[CoverCell], seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let inside: Vec<u64> = cover.iter().filter(|c| c.inside).map(|c| c.cell).collect();
    if inside.is_empty() {
        return;
    }
    for _ in 0..40 {
        let cell = CellIndex::try_from(inside[rng.random_range(0..inside.len())]).unwrap();
        let centre = LatLng::from(cell);
        let boundary = cell.boundary();
        // include the boundary vertices themselves and random points towards them
        for (k, v) in boundary.iter().enumerate() {
            let t: f64 = if k % 2 == 0 {
                1.0 - 1e-7
            } else {
                rng.random_range(0.0..1.0)
            };
            let lat = centre.lat() + t * (v.lat() - centre.lat());
            let mut dlon = v.lng() - centre.lng();
            if dlon > 180.0 {
                dlon -= 360.0;
            } else if dlon < -180.0 {
                dlon += 360.0;
            }
            let mut lon = centre.lng() + t * dlon;
            if lon > 180.0 {
                lon -= 360.0;
            } else if lon < -180.0 {
                lon += 360.0;
            }
            if res9(lat, lon) != u64::from(cell) {
                continue;
            }
            assert!(
                area.contains(lat, lon),
                "point ({lat}, {lon}) of inside cell {cell} not contained in {area:?}"
            );
        }
    }
}

// ------------------------------------------------------------------ validation tables

#[test]
fn validation_errors_name_the_field() {
    let cases: Vec<(Result<Area, AreaError>, &str)> = vec![
        (Area::circle(41.0, -87.0, 0.0), "circle.radius_m"),
        (Area::circle(41.0, -87.0, -5.0), "circle.radius_m"),
        (Area::circle(41.0, -87.0, 50_000.1), "circle.radius_m"),
        (Area::circle(41.0, -87.0, f64::NAN), "circle.radius_m"),
        (Area::circle(41.0, -87.0, f64::INFINITY), "circle.radius_m"),
        (Area::circle(91.0, -87.0, 100.0), "circle.lat"),
        (Area::circle(f64::NAN, -87.0, 100.0), "circle.lat"),
        (Area::circle(41.0, 180.5, 100.0), "circle.lon"),
        (Area::circle(41.0, f64::NEG_INFINITY, 100.0), "circle.lon"),
        (Area::bbox(91.0, 0.0, 92.0, 1.0), "bbox.min_lat"),
        (Area::bbox(0.0, -181.0, 1.0, 1.0), "bbox.min_lon"),
        (Area::bbox(0.0, 0.0, f64::NAN, 1.0), "bbox.max_lat"),
        (Area::bbox(0.0, 0.0, 1.0, 200.0), "bbox.max_lon"),
        (Area::bbox(2.0, 0.0, 1.0, 1.0), "bbox.min_lat"),
        (Area::polygon(vec![]), "polygon"),
        (Area::polygon(vec![(0.0, 0.0), (1.0, 1.0)]), "polygon"),
        (
            Area::polygon(vec![(0.0, 0.0), (1.0, 1.0), (0.0, 0.0)]),
            "polygon",
        ),
        (
            // bow tie
            Area::polygon(vec![(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]),
            "polygon",
        ),
        (
            // collinear: zero area / overlapping edges
            Area::polygon(vec![(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]),
            "polygon",
        ),
        (
            // touching at a vertex (figure eight through (1, 1))
            Area::polygon(vec![
                (0.0, 0.0),
                (1.0, 1.0),
                (2.0, 0.0),
                (2.0, 2.0),
                (1.0, 1.0),
                (0.0, 2.0),
            ]),
            "polygon",
        ),
        (
            Area::polygon(vec![(0.0, 0.0), (91.0, 1.0), (0.0, 1.0)]),
            "polygon[1]",
        ),
        (
            Area::polygon(vec![(0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (f64::NAN, 2.0)]),
            "polygon[3]",
        ),
        (
            Area::polygon(
                (0..1_001)
                    .map(|i| {
                        let t = f64::from(i) / 1_001.0 * std::f64::consts::TAU;
                        (t.sin(), t.cos())
                    })
                    .collect(),
            ),
            "polygon",
        ),
        (Area::cells(&[]), "h3"),
        (
            Area::cells(&["8928308280fffff".to_string(), "zzz".to_string()]),
            "h3[1]",
        ),
        (Area::cells(&["".to_string()]), "h3[0]"),
        (Area::cells(&["ffffffffffffffff".to_string()]), "h3[0]"),
        // a resolution-3 cell counts 7^6 = 117,649 resolution-9 cells
        (Area::cells(&["832830fffffffff".to_string()]), "h3"),
    ];
    for (i, (result, field)) in cases.into_iter().enumerate() {
        match result {
            Ok(area) => panic!("case {i}: expected an error on {field}, got {area:?}"),
            Err(e) => {
                assert_eq!(e.field, field, "case {i}: {e}");
                assert!(!e.reason.is_empty());
                assert!(e.to_string().starts_with(field));
            }
        }
    }
}

#[test]
fn validation_accepts_good_input() {
    assert!(Area::circle(90.0, 180.0, 50_000.0).is_ok());
    assert!(Area::circle(-90.0, -180.0, 0.001).is_ok());
    assert!(Area::bbox(1.0, 2.0, 1.0, 2.0).is_ok());
    assert!(Area::bbox(-10.0, 170.0, 10.0, -170.0).is_ok());
    let closed = Area::polygon(vec![(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.0, 0.0)]).unwrap();
    assert_eq!(
        closed,
        Area::Polygon(vec![(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
    );
    let cells = Area::cells(&[
        "8928308280fffff".to_string(),
        "8928308280fffff".to_string(),
        "85283473fffffff".to_string(),
    ])
    .unwrap();
    match cells {
        Area::Cells(c) => assert_eq!(c.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cover_of_invalid_area_values_is_refused() {
    let e = Area::Circle {
        lat: 0.0,
        lon: 0.0,
        radius_m: 1e9,
    }
    .cover()
    .unwrap_err();
    assert_eq!(e.field, "circle.radius_m");
    let e = Area::Polygon(vec![(0.0, 0.0)]).cover().unwrap_err();
    assert_eq!(e.field, "polygon");
    let e = Area::Cells(vec![]).cover().unwrap_err();
    assert_eq!(e.field, "h3");
    let e = Area::bbox(-60.0, -100.0, 60.0, 100.0)
        .unwrap()
        .cover()
        .unwrap_err();
    assert_eq!(e.field, "bbox");
}

// ------------------------------------------------------------------ edge tests

#[test]
fn circle_edges() {
    for &(lat, lon, r) in &[
        (41.88, -87.63, 1_000.0),
        (41.88, -87.63, 5_000.0),
        (60.0, 10.0, 250.0),
        (-33.9, 151.2, 50_000.0),
        (0.0, 179.99, 3_000.0),
        (89.99, 0.0, 2_000.0),
    ] {
        let area = Area::circle(lat, lon, r).unwrap();
        let cover = area.cover().unwrap();
        assert_sorted_unique(&cover);
        for k in 0..12 {
            let bearing = f64::from(k) * 30.0 + 7.0;
            let (ilat, ilon) = destination(lat, lon, bearing, r - 1.0);
            let (olat, olon) = destination(lat, lon, bearing, r + 1.0);
            assert!(area.contains(ilat, ilon), "{bearing}");
            assert!(in_cover(&cover, ilat, ilon), "{bearing}");
            assert!(!area.contains(olat, olon), "{bearing}");
        }
        assert!(area.contains(lat, lon));
        assert!(in_cover(&cover, lat, lon));
        check_inside_cells(&area, &cover, 1);
    }
}

#[test]
fn bbox_edges() {
    for &(min_lat, min_lon, max_lat, max_lon) in &[
        (41.85, -87.70, 41.90, -87.60),
        (59.99, 9.95, 60.02, 10.05),
        (-0.01, 179.97, 0.02, -179.98), // crosses the antimeridian
        (-45.0, -0.02, -44.98, 0.0),
    ] {
        let area = Area::bbox(min_lat, min_lon, max_lat, max_lon).unwrap();
        let cover = area.cover().unwrap();
        assert_sorted_unique(&cover);
        let width = lon_span(min_lon, max_lon).1;
        let mid_lat = (min_lat + max_lat) / 2.0;
        let mut mid_lon = min_lon + width / 2.0;
        if mid_lon > 180.0 {
            mid_lon -= 360.0;
        }
        let dlat = 1.0 / M_PER_DEG;
        // (point 1 m inside, point 1 m outside) for each edge
        let mut pairs = vec![
            ((min_lat + dlat, mid_lon), (min_lat - dlat, mid_lon)),
            ((max_lat - dlat, mid_lon), (max_lat + dlat, mid_lon)),
        ];
        let dlon = 1.0 / (M_PER_DEG * mid_lat.to_radians().cos());
        let wrap = |x: f64| {
            if x > 180.0 {
                x - 360.0
            } else if x < -180.0 {
                x + 360.0
            } else {
                x
            }
        };
        pairs.push((
            (mid_lat, wrap(min_lon + dlon)),
            (mid_lat, wrap(min_lon - dlon)),
        ));
        pairs.push((
            (mid_lat, wrap(max_lon - dlon)),
            (mid_lat, wrap(max_lon + dlon)),
        ));
        for ((ilat, ilon), (olat, olon)) in pairs {
            assert!(area.contains(ilat, ilon), "({ilat}, {ilon})");
            assert!(in_cover(&cover, ilat, ilon), "({ilat}, {ilon})");
            assert!(!area.contains(olat, olon), "({olat}, {olon})");
        }
        // corners count as inside
        for (lat, lon) in [
            (min_lat, min_lon),
            (min_lat, max_lon),
            (max_lat, min_lon),
            (max_lat, max_lon),
        ] {
            assert!(area.contains(lat, lon));
            assert!(in_cover(&cover, lat, lon));
        }
        check_inside_cells(&area, &cover, 2);
    }
}

#[test]
fn bbox_antimeridian_and_full_width() {
    let area = Area::bbox(-1.0, 170.0, 1.0, 180.0).unwrap();
    assert!(area.contains(0.0, -180.0));
    assert!(area.contains(0.0, 180.0));
    assert!(!area.contains(0.0, -179.999));
    let wrap = Area::bbox(-0.01, 179.99, 0.01, -179.99).unwrap();
    assert!(wrap.contains(0.0, 180.0));
    assert!(wrap.contains(0.0, -180.0));
    assert!(wrap.contains(0.0, -179.995));
    assert!(!wrap.contains(0.0, 179.98));
    assert!(!wrap.contains(0.0, 0.0));
    // a thin band around the north pole spanning every longitude
    let cap = Area::bbox(89.99, -180.0, 90.0, 180.0).unwrap();
    let cover = cap.cover().unwrap();
    for lon in [-180.0, -90.0, 0.0, 45.0, 179.9] {
        assert!(cap.contains(89.995, lon));
        assert!(in_cover(&cover, 89.995, lon));
    }
    assert!(in_cover(&cover, 90.0, 0.0));
}

/// Points 1 m each side of every edge's middle, offset perpendicular to the edge in the
/// (lon, lat) plane scaled to metres.
fn check_polygon_edges(points: &[(f64, f64)]) {
    let area = Area::polygon(points.to_vec()).unwrap();
    let pts: Vec<Pt> = points.iter().map(|&v| pt(v)).collect();
    let orientation = signed_area(&pts).signum();
    let cover = area.cover().unwrap();
    assert_sorted_unique(&cover);
    let n = points.len();
    for i in 0..n {
        let (a, b) = (points[i], points[(i + 1) % n]);
        let (mlat, mlon) = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        let k = mlat.to_radians().cos();
        let (dx, dy) = ((b.1 - a.1) * k * M_PER_DEG, (b.0 - a.0) * M_PER_DEG);
        let len = (dx * dx + dy * dy).sqrt();
        // inward unit normal in metres (left of the edge for counter-clockwise order)
        let (nx, ny) = (-dy / len * orientation, dx / len * orientation);
        let inside = (mlat + ny / M_PER_DEG, mlon + nx / (M_PER_DEG * k));
        let outside = (mlat - ny / M_PER_DEG, mlon - nx / (M_PER_DEG * k));
        assert!(
            area.contains(inside.0, inside.1),
            "edge {i} inside {inside:?}"
        );
        assert!(
            in_cover(&cover, inside.0, inside.1),
            "edge {i} inside {inside:?}"
        );
        assert!(
            !area.contains(outside.0, outside.1),
            "edge {i} outside {outside:?}"
        );
        assert!(area.contains(mlat, mlon), "edge {i} middle");
        assert!(in_cover(&cover, mlat, mlon), "edge {i} middle");
        assert!(area.contains(a.0, a.1), "vertex {i}");
        assert!(in_cover(&cover, a.0, a.1), "vertex {i}");
    }
    check_inside_cells(&area, &cover, 3);
}

#[test]
fn polygon_edges() {
    // convex quadrilateral in Chicago
    check_polygon_edges(&[
        (41.86, -87.66),
        (41.865, -87.61),
        (41.90, -87.60),
        (41.895, -87.65),
    ]);
    // non-convex "L" shape at 60 N
    check_polygon_edges(&[
        (60.00, 10.00),
        (60.00, 10.04),
        (60.01, 10.04),
        (60.01, 10.01),
        (60.03, 10.01),
        (60.03, 10.00),
    ]);
    // non-convex arrow with a reflex vertex, southern hemisphere
    check_polygon_edges(&[
        (-33.90, 151.20),
        (-33.88, 151.21),
        (-33.86, 151.20),
        (-33.88, 151.23),
    ]);
}

#[test]
fn polygon_on_edge_is_inside_and_orientation_is_irrelevant() {
    let ccw = vec![(0.0, 0.0), (0.0, 0.01), (0.01, 0.01), (0.01, 0.0)];
    let cw: Vec<_> = ccw.iter().rev().copied().collect();
    for pts in [ccw, cw] {
        let area = Area::polygon(pts).unwrap();
        assert!(area.contains(0.0, 0.005));
        assert!(area.contains(0.005, 0.01));
        assert!(area.contains(0.01, 0.01));
        assert!(area.contains(0.005, 0.005));
        assert!(!area.contains(0.005, 0.0101));
        assert!(!area.contains(-1e-9, 0.005));
    }
}

#[test]
fn h3_cells_exact_and_non_hierarchical() {
    // a listed resolution-9 cell covers exactly itself, fully inside
    let c9 = "8928308280fffff";
    let area = Area::cells(&[c9.to_string()]).unwrap();
    let cover = area.cover().unwrap();
    let cell9 = CellIndex::from_str(c9).unwrap();
    assert_eq!(
        cover,
        vec![CoverCell {
            cell: u64::from(cell9),
            inside: true
        }]
    );
    let centre = LatLng::from(cell9);
    assert!(area.contains(centre.lat(), centre.lng()));

    // a resolution-7 cell: find points whose own resolution-7 cell is the listed one while
    // their resolution-9 cell's parent is not (and the reverse); cover and contains must
    // follow the points' own cells.
    let c7 = LatLng::new(41.88, -87.63)
        .unwrap()
        .to_cell(Resolution::Seven);
    let area = Area::cells(&[c7.to_string()]).unwrap();
    let cover = area.cover().unwrap();
    assert_sorted_unique(&cover);
    let mut rng = StdRng::seed_from_u64(7);
    let c = LatLng::from(c7);
    let (mut mismatched_in, mut mismatched_out) = (0, 0);
    for _ in 0..20_000 {
        let lat = c.lat() + rng.random_range(-0.03..0.03);
        let lon = c.lng() + rng.random_range(-0.04..0.04);
        let ll = LatLng::new(lat, lon).unwrap();
        let own = ll.to_cell(Resolution::Seven) == c7;
        let hier = ll.to_cell(INDEX_RESOLUTION).parent(Resolution::Seven) == Some(c7);
        assert_eq!(area.contains(lat, lon), own);
        if own {
            assert!(in_cover(&cover, lat, lon));
            mismatched_in += usize::from(!hier);
        } else {
            mismatched_out += usize::from(hier);
        }
    }
    assert!(mismatched_in > 0 && mismatched_out > 0);
    check_inside_cells(&area, &cover, 4);
}

#[test]
fn fifty_km_circles_fit_the_cap() {
    // near pentagons cells are smallest; also the poles and the antimeridian
    let mut places = vec![(41.88, -87.63), (90.0, 0.0), (0.0, 180.0), (-60.0, -179.9)];
    for p in Resolution::Nine.pentagons().take(3) {
        let ll = LatLng::from(p);
        places.push((ll.lat(), ll.lng()));
    }
    for (lat, lon) in places {
        let area = Area::circle(lat, lon, MAX_RADIUS_M).unwrap();
        let cover = area.cover().unwrap();
        assert!(cover.len() < MAX_COVER_CELLS);
        assert!(in_cover(&cover, lat, lon));
        let (blat, blon) = destination(lat, lon, 123.0, MAX_RADIUS_M - 0.5);
        assert!(in_cover(&cover, blat, blon));
    }
}

#[test]
fn cover_sizes_report() {
    for r in [1_000.0, 5_000.0, 50_000.0] {
        let area = Area::circle(41.88, -87.63, r).unwrap();
        let start = std::time::Instant::now();
        let cover = area.cover().unwrap();
        let elapsed = start.elapsed();
        let inside = cover.iter().filter(|c| c.inside).count();
        println!(
            "circle r={r} m at Chicago: {} cells ({inside} inside) in {elapsed:?}",
            cover.len()
        );
    }
}

// ------------------------------------------------------------------ property tests

fn place() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        (-70.0..70.0f64, -179.0..179.0f64),
        (55.0..65.0f64, -179.0..179.0f64),
        (
            -70.0..70.0f64,
            prop_oneof![179.8..180.0f64, -180.0..-179.8f64]
        ),
        (84.0..89.0f64, -180.0..180.0f64),
    ]
}

fn winding_reference(points: &[(f64, f64)], lat: f64, lon: f64) -> bool {
    // sum of signed angles subtended by the edges (planar lon/lat)
    let n = points.len();
    let mut total = 0.0;
    for i in 0..n {
        let (a, b) = (points[i], points[(i + 1) % n]);
        let (ax, ay) = (a.1 - lon, a.0 - lat);
        let (bx, by) = (b.1 - lon, b.0 - lat);
        total += (ax * by - ay * bx).atan2(ax * bx + ay * by);
    }
    total.abs() > std::f64::consts::PI
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn prop_circle((lat, lon) in place(), radius in 10.0..5_000.0f64, seed in any::<u64>()) {
        let area = Area::circle(lat, lon, radius).unwrap();
        let cover = area.cover().unwrap();
        assert_sorted_unique(&cover);
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..300 {
            let d = radius * rng.random_range(0.0..1.5);
            let (plat, plon) = destination(lat, lon, rng.random_range(0.0..360.0), d);
            let expect = haversine_m(lat, lon, plat, plon) <= radius;
            prop_assert_eq!(area.contains(plat, plon), expect);
            if expect {
                prop_assert!(in_cover(&cover, plat, plon));
            }
        }
        check_inside_cells(&area, &cover, seed);
    }

    #[test]
    fn prop_bbox(
        (lat, lon) in place(),
        half_lat in 0.0005..0.03f64,
        half_lon in 0.0005..0.05f64,
        seed in any::<u64>(),
    ) {
        let wrap = |x: f64| if x > 180.0 { x - 360.0 } else if x < -180.0 { x + 360.0 } else { x };
        let (min_lat, max_lat) = ((lat - half_lat).max(-90.0), (lat + half_lat).min(90.0));
        let (min_lon, max_lon) = (wrap(lon - half_lon), wrap(lon + half_lon));
        let area = Area::bbox(min_lat, min_lon, max_lat, max_lon).unwrap();
        let cover = area.cover().unwrap();
        assert_sorted_unique(&cover);
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..300 {
            let plat = (lat + half_lat * rng.random_range(-1.5..1.5)).clamp(-90.0, 90.0);
            let off = half_lon * rng.random_range(-1.5..1.5);
            let plon = wrap(lon + off);
            // reference: offset from the centre along the shorter way
            let expect = (min_lat..=max_lat).contains(&plat) && off.abs() <= half_lon;
            // rounding at the wrapped edges can differ by an ulp: only check clear cases
            if (off.abs() - half_lon).abs() > 1e-9 {
                prop_assert_eq!(area.contains(plat, plon), expect, "({}, {})", plat, plon);
            }
            if area.contains(plat, plon) {
                prop_assert!(in_cover(&cover, plat, plon));
            }
        }
        check_inside_cells(&area, &cover, seed);
    }

    #[test]
    fn prop_polygon(
        (lat, lon) in (-70.0..70.0f64, -179.0..179.0f64),
        scale_m in 50.0..3_000.0f64,
        vertices in prop::collection::vec((0.0..1.0f64, 0.2..1.0f64), 3..14),
        seed in any::<u64>(),
    ) {
        // star-shaped around the centre: sorted distinct angles, random radii
        let mut v = vertices;
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-3);
        prop_assume!(v.len() >= 3);
        let k = lat.to_radians().cos();
        let points: Vec<(f64, f64)> = v
            .iter()
            .map(|&(t, r)| {
                let th = t * std::f64::consts::TAU;
                let d = r * scale_m / M_PER_DEG;
                (lat + d * th.sin(), lon + d * th.cos() / k)
            })
            .collect();
        let area = match Area::polygon(points.clone()) {
            Ok(a) => a,
            Err(_) => return Err(TestCaseError::reject("degenerate polygon")),
        };
        let cover = area.cover().unwrap();
        assert_sorted_unique(&cover);
        let mut rng = StdRng::seed_from_u64(seed);
        let d = scale_m / M_PER_DEG;
        for _ in 0..300 {
            let plat = lat + d * rng.random_range(-1.3..1.3);
            let plon = lon + d * rng.random_range(-1.3..1.3) / k;
            let expect = winding_reference(&points, plat, plon);
            prop_assert_eq!(area.contains(plat, plon), expect);
            if expect {
                prop_assert!(in_cover(&cover, plat, plon));
            }
        }
        for &(vlat, vlon) in &points {
            prop_assert!(area.contains(vlat, vlon));
            prop_assert!(in_cover(&cover, vlat, vlon));
        }
        check_inside_cells(&area, &cover, seed);
    }

    #[test]
    fn prop_h3(
        places in prop::collection::vec(place(), 1..3),
        res in 7u8..=11,
        seed in any::<u64>(),
    ) {
        let res = Resolution::try_from(res).unwrap();
        let cells: Vec<CellIndex> = places
            .iter()
            .map(|&(lat, lon)| LatLng::new(lat, lon).unwrap().to_cell(res))
            .collect();
        let texts: Vec<String> = cells.iter().map(ToString::to_string).collect();
        let area = Area::cells(&texts).unwrap();
        let cover = area.cover().unwrap();
        assert_sorted_unique(&cover);
        let mut rng = StdRng::seed_from_u64(seed);
        for &cell in &cells {
            let c = LatLng::from(cell);
            let span = res.edge_length_m() * 1.6 / M_PER_DEG;
            let k = c.lat().to_radians().cos();
            for _ in 0..300 {
                let plat = (c.lat() + span * rng.random_range(-1.0..1.0)).clamp(-90.0, 90.0);
                let mut plon = c.lng() + span * rng.random_range(-1.0..1.0) / k;
                if plon > 180.0 { plon -= 360.0 } else if plon < -180.0 { plon += 360.0 }
                let ll = LatLng::new(plat, plon).unwrap();
                let expect = cells.iter().any(|&x| ll.to_cell(x.resolution()) == x);
                prop_assert_eq!(area.contains(plat, plon), expect);
                if expect {
                    prop_assert!(in_cover(&cover, plat, plon));
                }
            }
        }
        check_inside_cells(&area, &cover, seed);
    }
}
