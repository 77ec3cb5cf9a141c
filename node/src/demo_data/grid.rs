//! The street grid: camera intersections, directions of travel, tours, routes and drive times.

use rand::rngs::StdRng;
use rand::Rng;

use super::time::{hour_of, traffic_profile};

/// State & Madison, the origin of Chicago's address grid.
pub(super) const CENTER_LAT: f64 = 41.8819;
pub(super) const CENTER_LON: f64 = -87.6278;
/// Chicago has 8 blocks (800 address numbers) to the mile.
pub(super) const BLOCK_M: f64 = 201.0;
pub(super) const M_PER_DEG_LAT: f64 = 111_320.0;
/// Cameras sit every second block, so a hop between neighbouring cameras is two blocks.
pub(super) const HOP_M: f64 = 2.0 * BLOCK_M;

/// North–south streets carrying cameras: blocks east of State St (negative = west), west to east.
pub(super) static AVENUES: [(i32, &str); 7] = [
    (-7, "Union Ave"),
    (-5, "Canal St"),
    (-3, "Franklin St"),
    (-1, "Clark St"),
    (1, "Michigan Ave"),
    (3, "Columbus Dr"),
    (5, "Lake Shore Dr"),
];

/// East–west streets carrying cameras: blocks north of Madison St (negative = south), south to north.
pub(super) static STREETS: [(i32, &str); 11] = [
    (-10, "Taylor St"),
    (-8, "Polk St"),
    (-6, "Harrison St"),
    (-4, "Van Buren St"),
    (-2, "Adams St"),
    (0, "Madison St"),
    (2, "Lake St"),
    (4, "Kinzie St"),
    (6, "Ohio St"),
    (8, "Chicago Ave"),
    (10, "Oak St"),
];

pub(super) const GRID_W: usize = AVENUES.len();
pub(super) const GRID_H: usize = STREETS.len();
pub(super) const CAMERA_COUNT: usize = GRID_W * GRID_H;

/// William Jones College Prep, 700 S State St: the school the acoustic sensors surround.
pub(super) const SCHOOL_BLOCKS: (f64, f64) = (0.0, -7.0);

/// Position of a point given in blocks east of State St and north of Madison St.
pub(super) fn blocks_to_lat_lon(x_blocks: f64, y_blocks: f64) -> (f64, f64) {
    let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
    (
        CENTER_LAT + y_blocks * BLOCK_M / M_PER_DEG_LAT,
        CENTER_LON + x_blocks * BLOCK_M / m_per_deg_lon,
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Dir {
    N,
    S,
    E,
    W,
}

impl Dir {
    pub(super) const ALL: [Dir; 4] = [Dir::N, Dir::S, Dir::E, Dir::W];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Dir::N => "N",
            Dir::S => "S",
            Dir::E => "E",
            Dir::W => "W",
        }
    }

    pub(super) fn reverse(self) -> Dir {
        match self {
            Dir::N => Dir::S,
            Dir::S => Dir::N,
            Dir::E => Dir::W,
            Dir::W => Dir::E,
        }
    }

    /// Direction of travel from cell `a` to the neighbouring cell `b`.
    pub(super) fn between(a: Cell, b: Cell) -> Dir {
        if b.0 > a.0 {
            Dir::E
        } else if b.0 < a.0 {
            Dir::W
        } else if b.1 > a.1 {
            Dir::N
        } else {
            Dir::S
        }
    }
}

/// A grid intersection: (column west→east, row south→north).
pub(super) type Cell = (usize, usize);

pub(super) fn neighbor(c: Cell, d: Dir) -> Option<Cell> {
    match d {
        Dir::N if c.1 + 1 < GRID_H => Some((c.0, c.1 + 1)),
        Dir::S if c.1 > 0 => Some((c.0, c.1 - 1)),
        Dir::E if c.0 + 1 < GRID_W => Some((c.0 + 1, c.1)),
        Dir::W if c.0 > 0 => Some((c.0 - 1, c.1)),
        _ => None,
    }
}

/// Camera index of a cell: `cam-001` is the north-west corner, numbering runs east, then south.
pub(super) fn cam_index(c: Cell) -> usize {
    (GRID_H - 1 - c.1) * GRID_W + c.0
}

pub(super) fn cell_blocks(c: Cell) -> (f64, f64) {
    (f64::from(AVENUES[c.0].0), f64::from(STREETS[c.1].0))
}

pub(super) struct Camera {
    pub(super) id: String,
    pub(super) cell: Cell,
    pub(super) lat: f64,
    pub(super) lon: f64,
}

impl Camera {
    /// "Clark St & Adams St"
    pub(super) fn corner(&self) -> String {
        format!("{} & {}", AVENUES[self.cell.0].1, STREETS[self.cell.1].1)
    }

    /// "Clark and Adams", the way it is said on the radio.
    pub(super) fn spoken(&self) -> String {
        let short = |name: &'static str| name.rsplit_once(' ').map_or(name, |(s, _)| s);
        format!(
            "{} and {}",
            short(AVENUES[self.cell.0].1),
            short(STREETS[self.cell.1].1)
        )
    }
}

pub(super) fn cameras() -> Vec<Camera> {
    let mut cams = Vec::with_capacity(CAMERA_COUNT);
    for row in (0..GRID_H).rev() {
        for col in 0..GRID_W {
            let cell = (col, row);
            let (x, y) = cell_blocks(cell);
            let (lat, lon) = blocks_to_lat_lon(x, y);
            cams.push(Camera {
                id: format!("cam-{:03}", cam_index(cell) + 1),
                cell,
                lat,
                lon,
            });
        }
    }
    cams
}

/// Boustrophedon tours that pass every camera once, each hop to a neighbouring intersection.
#[derive(Clone, Copy)]
pub(super) enum Tour {
    RowsFromNorthwest,
    RowsFromSoutheast,
    ColumnsFromNorthwest,
    ColumnsFromSoutheast,
}

pub(super) fn tour_cells(tour: Tour) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(CAMERA_COUNT);
    match tour {
        Tour::RowsFromNorthwest | Tour::RowsFromSoutheast => {
            for (i, row) in (0..GRID_H).rev().enumerate() {
                for k in 0..GRID_W {
                    let col = if i % 2 == 0 { k } else { GRID_W - 1 - k };
                    cells.push((col, row));
                }
            }
        }
        Tour::ColumnsFromNorthwest | Tour::ColumnsFromSoutheast => {
            for col in 0..GRID_W {
                for k in 0..GRID_H {
                    let row = if col % 2 == 0 { GRID_H - 1 - k } else { k };
                    cells.push((col, row));
                }
            }
        }
    }
    if matches!(tour, Tour::RowsFromSoutheast | Tour::ColumnsFromSoutheast) {
        cells.reverse();
    }
    cells
}

/// Direction of travel at each cell of a route (departure direction at the first cell).
pub(super) fn route_dirs(cells: &[Cell], rng: &mut StdRng) -> Vec<Dir> {
    (0..cells.len())
        .map(|i| match (i, cells.len()) {
            (_, 1) => Dir::ALL[rng.random_range(0..4)],
            (0, _) => Dir::between(cells[0], cells[1]),
            _ => Dir::between(cells[i - 1], cells[i]),
        })
        .collect()
}

/// A drive through `len` cameras starting at `start`, mostly straight on, sometimes turning.
pub(super) fn random_walk(rng: &mut StdRng, start: Cell, len: usize) -> Vec<Cell> {
    let mut cells = vec![start];
    let valid_from = |c: Cell| -> Vec<Dir> {
        Dir::ALL
            .into_iter()
            .filter(|d| neighbor(c, *d).is_some())
            .collect()
    };
    let first = valid_from(start);
    let mut heading = first[rng.random_range(0..first.len())];
    let mut here = start;
    while cells.len() < len {
        let straight_ok = neighbor(here, heading).is_some();
        if !straight_ok || rng.random_bool(0.3) {
            let turns: Vec<Dir> = valid_from(here)
                .into_iter()
                .filter(|d| *d != heading && *d != heading.reverse())
                .collect();
            if !turns.is_empty() {
                heading = turns[rng.random_range(0..turns.len())];
            } else if !straight_ok {
                heading = heading.reverse();
            }
        }
        match neighbor(here, heading) {
            Some(next) => {
                cells.push(next);
                here = next;
            }
            None => break,
        }
    }
    cells
}

/// Manhattan route along one axis, then the other.
pub(super) fn l_route(from: Cell, to: Cell, x_first: bool) -> Vec<Cell> {
    let mut cells = vec![from];
    let mut here = from;
    for axis in if x_first { [0, 1] } else { [1, 0] } {
        loop {
            let next = match axis {
                0 if here.0 < to.0 => (here.0 + 1, here.1),
                0 if here.0 > to.0 => (here.0 - 1, here.1),
                1 if here.1 < to.1 => (here.0, here.1 + 1),
                1 if here.1 > to.1 => (here.0, here.1 - 1),
                _ => break,
            };
            cells.push(next);
            here = next;
        }
    }
    cells
}

/// Time to drive between neighbouring cameras at Chicago time `tod`: slower and with longer
/// waits at red lights when traffic is heavy.
pub(super) fn hop_ms(rng: &mut StdRng, tod: i64) -> i64 {
    let load = traffic_profile(hour_of(tod));
    let speed = (12.5 - 7.0 * load) * rng.random_range(0.85..1.15);
    let wait = rng.random::<f64>() * (15.0 + 45.0 * load);
    ((HOP_M / speed + wait) * 1000.0) as i64
}
