//! Traffic: the vehicle population and every plate read of the day.

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::Rng;

use super::grid::{
    cam_index, cell_blocks, hop_ms, l_route, random_walk, route_dirs, Cell, Dir, GRID_H, GRID_W,
};
use super::scenarios::{
    keep_scenarios_clear, near_misread_plate, plant, reserved_plates, special_vehicles,
    SPECIAL_COUNT,
};
use super::time::{Clock, TodSampler, HOUR, MINUTE};
use super::vehicles::{
    good_confidence, normalize, poor_confidence, random_plate, Ocr, Vehicle, COLORS, MODELS,
    REGIONS,
};
use super::weighted_index;

pub(super) const VEHICLE_COUNT: usize = 20_000;
/// Commuters, including the FACTS commuter.
pub(super) const COMMUTER_COUNT: usize = 3_000;
pub(super) const OCR_ERROR_RATE: f64 = 0.02;

/// A vehicle passing a camera (before OCR).
pub(super) struct Pass {
    pub(super) tod: i64,
    pub(super) cell: Cell,
    pub(super) dir: Dir,
}

/// What the OCR engine made of a pass.
pub(super) struct Ocred {
    pub(super) text: String,
    pub(super) misread: bool,
    pub(super) confidence: f64,
}

pub(super) struct Read {
    pub(super) t: i64,
    pub(super) cam: usize,
    pub(super) vehicle: usize,
    /// What the OCR engine emitted.
    pub(super) text: String,
    pub(super) misread: bool,
    pub(super) confidence: f64,
    pub(super) dir: Dir,
    /// Offset of the reported position from the camera, metres east and north.
    pub(super) jitter_m: (f64, f64),
    /// Where a mobile reader saw it, (lat, lon); `None` for the fixed cameras.
    pub(super) at: Option<(f64, f64)>,
}

impl Read {
    pub(super) fn new(
        clock: &Clock,
        rng: &mut StdRng,
        vehicle: usize,
        pass: &Pass,
        seen: Ocred,
    ) -> Read {
        Read {
            t: clock.at(pass.tod),
            cam: cam_index(pass.cell),
            vehicle,
            text: seen.text,
            misread: seen.misread,
            confidence: seen.confidence,
            dir: pass.dir,
            jitter_m: (rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0)),
            at: None,
        }
    }
}

/// Builds the vehicle population and every read of the day, sorted by time.
pub(super) fn simulate_traffic(rng: &mut StdRng, clock: &Clock) -> (Vec<Vehicle>, Vec<Read>) {
    let mut ocr = Ocr {
        taken: HashSet::with_capacity(VEHICLE_COUNT + 1),
        variant_owner: HashMap::new(),
    };
    let mut vehicles = special_vehicles();
    vehicles.reserve(VEHICLE_COUNT - vehicles.len());
    ocr.taken.extend(reserved_plates());

    let region_weights: Vec<f64> = REGIONS.iter().map(|r| r.weight).collect();
    let model_weights: Vec<f64> = MODELS.iter().map(|m| m.3).collect();
    let color_weights: Vec<f64> = COLORS.iter().map(|c| c.1).collect();
    while vehicles.len() < VEHICLE_COUNT {
        let region = weighted_index(rng, &region_weights);
        let plate = random_plate(rng, &REGIONS[region]);
        if near_misread_plate(&plate) || !ocr.taken.insert(normalize(&plate)) {
            continue;
        }
        let (make, model, kind, _) = MODELS[weighted_index(rng, &model_weights)];
        vehicles.push(Vehicle {
            plate,
            region,
            make,
            model,
            kind,
            color: COLORS[weighted_index(rng, &color_weights)].0,
        });
    }

    let mut reads: Vec<Read> = Vec::with_capacity(110_000);
    // The planted scenarios, then everybody else.
    plant(rng, clock, &vehicles, &mut reads);
    let sampler = TodSampler::new();
    let edges: Vec<Cell> = (0..GRID_W)
        .flat_map(|x| (0..GRID_H).map(move |y| (x, y)))
        .filter(|&(x, y)| x == 0 || y == 0 || x == GRID_W - 1 || y == GRID_H - 1)
        .collect();
    let all_cells: Vec<Cell> = (0..GRID_W)
        .flat_map(|x| (0..GRID_H).map(move |y| (x, y)))
        .collect();
    // Trips start more often near the centre of downtown.
    let start_weights: Vec<f64> = all_cells
        .iter()
        .map(|&c| {
            let (x, y) = cell_blocks(c);
            1.0 / (1.0 + (x.abs() + y.abs()) / 6.0)
        })
        .collect();
    let trip_count_weights = [70.0, 20.0, 6.0, 3.0, 1.0];
    let trip_len_weights = [22.0, 24.0, 20.0, 15.0, 11.0, 8.0];

    for (v, vehicle) in vehicles.iter().enumerate().skip(SPECIAL_COUNT) {
        let mut passes: Vec<Pass> = Vec::new();
        if v < SPECIAL_COUNT + COMMUTER_COUNT - 1 {
            // Commuter: edge of the grid → an office block in the Loop, and back.
            let home = edges[rng.random_range(0..edges.len())];
            let work = (rng.random_range(2..5), rng.random_range(4..7));
            // They come off an expressway or Lake Shore Drive somewhere along the way, so
            // only the last 3–6 intersections of the route carry cameras they pass.
            let mut route = l_route(home, work, rng.random_bool(0.5));
            let keep = rng.random_range(3..=6).min(route.len());
            route.drain(..route.len() - keep);
            let back: Vec<Cell> = route.iter().rev().copied().collect();
            let tri = |rng: &mut StdRng, width: i64| {
                ((rng.random::<f64>() + rng.random::<f64>()) / 2.0 * width as f64) as i64
            };
            let morning = 7 * HOUR + tri(rng, 2 * HOUR);
            let evening = 16 * HOUR + tri(rng, 150 * MINUTE);
            for (cells, start) in [(route, morning), (back, evening)] {
                let dirs = route_dirs(&cells, rng);
                let mut tod = start;
                for (cell, dir) in cells.into_iter().zip(dirs) {
                    passes.push(Pass { tod, cell, dir });
                    tod += hop_ms(rng, tod);
                }
            }
        } else {
            // Other traffic: 1–5 trips through 1–6 cameras, one after another.
            let trips = 1 + weighted_index(rng, &trip_count_weights);
            let mut starts: Vec<i64> = (0..trips).map(|_| sampler.sample(rng)).collect();
            starts.sort_unstable();
            let mut free_at = i64::MIN;
            for start in starts {
                let len = 1 + weighted_index(rng, &trip_len_weights);
                let first = all_cells[weighted_index(rng, &start_weights)];
                let cells = random_walk(rng, first, len);
                let dirs = route_dirs(&cells, rng);
                let mut tod = start.max(free_at);
                for (cell, dir) in cells.into_iter().zip(dirs) {
                    passes.push(Pass { tod, cell, dir });
                    tod += hop_ms(rng, tod);
                }
                free_at = tod + 10 * MINUTE;
            }
        }
        keep_scenarios_clear(vehicle, &mut passes);
        for pass in &passes {
            let plate = &vehicle.plate;
            let wrong = if rng.random_bool(OCR_ERROR_RATE) {
                ocr.misread(rng, v, plate)
            } else {
                None
            };
            let seen = match wrong {
                Some(text) => Ocred {
                    text,
                    misread: true,
                    confidence: poor_confidence(rng),
                },
                None => Ocred {
                    text: plate.clone(),
                    misread: false,
                    confidence: good_confidence(rng),
                },
            };
            reads.push(Read::new(clock, rng, v, pass, seen));
        }
    }

    // One frame per read: no two reads share a camera and millisecond.
    let mut seen: HashSet<(usize, i64)> = HashSet::with_capacity(reads.len());
    for r in &mut reads {
        while !seen.insert((r.cam, r.t)) {
            r.t = if r.t + 1 < clock.end {
                r.t + 1
            } else {
                clock.start + 1
            };
        }
    }
    reads.sort_by_key(|r| (r.t, r.cam, r.vehicle));
    (vehicles, reads)
}
