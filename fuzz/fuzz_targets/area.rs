//! Search areas (`sightline_index::area`): fuzzed circles, boxes, polygons and H3 cell
//! lists, anywhere on the globe (poles and the antimeridian included) and with raw,
//! non-finite or out-of-range numbers. Asserts: validation refuses or accepts without
//! panicking; a valid area's cover is sorted, unique and at resolution 9; every probe
//! point the exact check contains has its resolution-9 cell in the cover (the cover never
//! loses a read); and every probe point of a cell flagged `inside` is contained (a read
//! skipped by the exact check really is inside).
#![no_main]

use h3o::{CellIndex, LatLng, Resolution};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sightline_index::area::{Area, CoverCell, INDEX_RESOLUTION};

/// Values where the edge cases live.
const SPECIAL: &[f64] = &[
    0.0,
    90.0,
    -90.0,
    180.0,
    -180.0,
    89.999_999,
    -89.999_999,
    179.999_999,
    -179.999_999,
    45.0,
    1e-9,
    -1e-9,
];
/// How far (degrees) the points of a shape spread around its base point.
const SPREADS: &[f64] = &[1e-5, 1e-4, 1e-3, 1e-2, 5e-2];
/// Coordinates validation must refuse.
const INVALID: &[f64] = &[
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    90.000_001,
    180.5,
    -1e300,
];

fn unit(u: &mut Unstructured) -> Result<f64> {
    Ok(f64::from(u.arbitrary::<u32>()?) / f64::from(u32::MAX))
}

/// A base point: anywhere, a special value, or (rarely) raw bits.
fn base(u: &mut Unstructured) -> Result<(f64, f64)> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => (
            f64::from_bits(u.arbitrary()?),
            f64::from_bits(u.arbitrary()?),
        ),
        1 | 2 => (*u.choose(SPECIAL)?, *u.choose(SPECIAL)?),
        _ => (-90.0 + 180.0 * unit(u)?, -180.0 + 360.0 * unit(u)?),
    })
}

/// A point near `(lat, lon)`, clamped onto the globe.
fn near(u: &mut Unstructured, (lat, lon): (f64, f64), spread: f64) -> Result<(f64, f64)> {
    let dlat = spread * (2.0 * unit(u)? - 1.0);
    let dlon = spread * (2.0 * unit(u)? - 1.0);
    Ok((
        (lat + dlat).clamp(-90.0, 90.0),
        (lon + dlon).clamp(-180.0, 180.0),
    ))
}

fn res9(lat: f64, lon: f64) -> Option<u64> {
    LatLng::new(lat, lon)
        .ok()
        .map(|ll| u64::from(ll.to_cell(INDEX_RESOLUTION)))
}

/// A fuzzed area (`None`: refused by validation) and points worth probing around it.
type Shape = (Option<Area>, Vec<(f64, f64)>);

fn area(u: &mut Unstructured, at: (f64, f64), spread: f64) -> Result<Shape> {
    let mut probes = vec![at];
    let area = match u.int_in_range(0..=3u8)? {
        0 => {
            // Mostly up to 5 km: a 50 km circle covers ~75,000 cells and is slow to fuzz.
            let radius = match u.int_in_range(0..=63u8)? {
                0..=3 => f64::from_bits(u.arbitrary()?),
                4 => 50_000.0 * unit(u)?,
                _ => 5_000.0 * unit(u)?,
            };
            Area::circle(at.0, at.1, radius).ok()
        }
        1 => {
            let (a, b) = (near(u, at, spread)?, near(u, at, spread)?);
            let (min_lat, max_lat) = (a.0.min(b.0), a.0.max(b.0));
            let (mut min_lon, mut max_lon) = (a.1.min(b.1), a.1.max(b.1));
            match u.int_in_range(0..=7u8)? {
                // Across the antimeridian (min_lon > max_lon): a narrow box there. (Reversing
                // two nearby longitudes anywhere else gives a band around the world, whose
                // cover is refused as too large only after a quarter of a million cells.)
                0 => (min_lon, max_lon) = (180.0 - spread * unit(u)?, -180.0 + spread * unit(u)?),
                1 => min_lon = *u.choose(INVALID)?,
                _ => {}
            }
            probes.extend([a, b, (min_lat, min_lon), (max_lat, max_lon)]);
            probes.extend([(min_lat, max_lon), (max_lat, min_lon)]);
            Area::bbox(min_lat, min_lon, max_lat, max_lon).ok()
        }
        2 => {
            let n = u.int_in_range(3..=12usize)?;
            let mut points = Vec::with_capacity(n);
            for _ in 0..n {
                // Now and then a vertex validation must refuse (a valid far vertex would
                // make a continent-sized polygon, slow to cover and refused as too large).
                points.push(if u.ratio(1, 32)? {
                    (*u.choose(INVALID)?, *u.choose(INVALID)?)
                } else {
                    near(u, at, spread)?
                });
            }
            for w in points.windows(2) {
                probes.push(w[0]);
                probes.push(((w[0].0 + w[1].0) / 2.0, (w[0].1 + w[1].1) / 2.0));
            }
            Area::polygon(points).ok()
        }
        _ => {
            let n = u.int_in_range(1..=6usize)?;
            let mut texts = Vec::with_capacity(n);
            for _ in 0..n {
                texts.push(match u.int_in_range(0..=5u8)? {
                    0 => u.arbitrary::<String>()?,
                    1 => format!("{:x}", u.arbitrary::<u64>()?),
                    _ => {
                        let p = near(u, at, spread)?;
                        // Resolution 4 (the coarsest that fits the limit) only now and then:
                        // its cover has ~16,800 cells.
                        let coarsest = if u.ratio(1, 16)? { 4 } else { 5 };
                        let res = Resolution::try_from(u.int_in_range(coarsest..=15u8)?)
                            .expect("4 to 15 are resolutions");
                        match LatLng::new(p.0, p.1) {
                            Ok(ll) => {
                                let cell = ll.to_cell(res);
                                probes.push((LatLng::from(cell).lat(), LatLng::from(cell).lng()));
                                format!(" {cell} ")
                            }
                            Err(_) => String::new(),
                        }
                    }
                });
            }
            Area::cells(&texts).ok()
        }
    };
    Ok((area, probes))
}

/// The centre of `cell` and points towards each of its vertices, kept only where they fall
/// in `cell` itself.
fn cell_points(u: &mut Unstructured, cell: u64) -> Result<Vec<(f64, f64)>> {
    let Ok(cell) = CellIndex::try_from(cell) else {
        return Ok(Vec::new());
    };
    let centre = LatLng::from(cell);
    let mut out = vec![(centre.lat(), centre.lng())];
    for v in cell.boundary().iter() {
        let t = if u.arbitrary()? { 1.0 - 1e-7 } else { unit(u)? };
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
        let lat = centre.lat() + t * (v.lat() - centre.lat());
        if res9(lat, lon) == Some(u64::from(cell)) {
            out.push((lat, lon));
        }
    }
    Ok(out)
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let at = base(&mut u)?;
    let spread = *u.choose(SPREADS)?;
    let (area, mut probes) = area(&mut u, at, spread)?;
    let Some(area) = area else {
        return Ok(());
    };
    let Ok(cover) = area.cover() else {
        return Ok(());
    };
    assert!(
        cover.windows(2).all(|w| w[0].cell < w[1].cell),
        "cover of {area:?} not sorted and unique"
    );
    for c in &cover {
        let cell = CellIndex::try_from(c.cell).expect("cover cells are cells");
        assert_eq!(cell.resolution(), INDEX_RESOLUTION);
    }
    for _ in 0..u.int_in_range(0..=24u8)? {
        probes.push(near(&mut u, at, 2.0 * spread)?);
    }
    let inside: Vec<u64> = cover.iter().filter(|c| c.inside).map(|c| c.cell).collect();
    let mut inside_points = Vec::new();
    if !inside.is_empty() {
        for _ in 0..u.int_in_range(0..=3u8)? {
            let cell = inside[u.choose_index(inside.len())?];
            inside_points.extend(cell_points(&mut u, cell)?);
        }
    }
    let find = |cell: u64| -> Option<&CoverCell> {
        cover
            .binary_search_by(|c| c.cell.cmp(&cell))
            .ok()
            .map(|i| &cover[i])
    };
    for &(lat, lon) in probes.iter().chain(&inside_points) {
        let Some(cell) = res9(lat, lon) else {
            continue;
        };
        let contained = area.contains(lat, lon);
        match find(cell) {
            None => assert!(
                !contained,
                "({lat}, {lon}) in {area:?} but its cell {cell:x} is not in the cover"
            ),
            Some(c) if c.inside => assert!(
                contained,
                "({lat}, {lon}) of inside cell {cell:x} not in {area:?}"
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
