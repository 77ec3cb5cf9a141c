//! The planted scenarios: hand-placed vehicles on fixed schedules whose reads the README
//! and the tests quote (see [`super::FACTS`]). Everything else in the day is random; these
//! vehicles are not (only the position jitter and some confidences are drawn), so their
//! facts hold for every seed.

use rand::rngs::StdRng;
use rand::Rng;

use super::grid::{route_dirs, tour_cells, Camera, Cell, Dir, Tour, CENTER_LAT, M_PER_DEG_LAT};
use super::time::{Clock, DAY, HOUR, MINUTE, SECOND};
use super::traffic::{Ocred, Pass, Read};
use super::vehicles::{good_confidence, normalize, special_vehicle, Special, Vehicle, IL, IN, WI};
use super::FACTS;

/// The "seen everywhere" vehicles; the first is `FACTS.everywhere_plate`.
pub(super) static EVERYWHERE: [Special; 5] = [
    Special {
        plate: "KD 40917",
        region: IL,
        make: "Ford",
        model: "Transit",
        kind: "van",
        color: "white",
    },
    Special {
        plate: "318KTV",
        region: IN,
        make: "Mercedes-Benz",
        model: "Sprinter",
        kind: "van",
        color: "white",
    },
    Special {
        plate: "HN 73052",
        region: IL,
        make: "Toyota",
        model: "Camry",
        kind: "sedan",
        color: "yellow",
    },
    Special {
        plate: "AKR-2291",
        region: WI,
        make: "Ram",
        model: "ProMaster",
        kind: "van",
        color: "white",
    },
    Special {
        plate: "PW 88314",
        region: IL,
        make: "Chevrolet",
        model: "Express",
        kind: "van",
        color: "brown",
    },
];

/// Each everywhere vehicle's two tours: (pattern, Chicago time of day the tour starts).
pub(super) static EVERYWHERE_TOURS: [[(Tour, i64); 2]; 5] = [
    [
        (Tour::RowsFromNorthwest, 6 * HOUR + 40 * MINUTE),
        (Tour::ColumnsFromSoutheast, 12 * HOUR + 35 * MINUTE),
    ],
    [
        (Tour::ColumnsFromNorthwest, 5 * HOUR + 50 * MINUTE),
        (Tour::RowsFromSoutheast, 11 * HOUR + 50 * MINUTE),
    ],
    [
        (Tour::RowsFromSoutheast, 19 * HOUR + 30 * MINUTE),
        (Tour::ColumnsFromNorthwest, 30 * MINUTE),
    ],
    [
        (Tour::ColumnsFromSoutheast, 8 * HOUR + 10 * MINUTE),
        (Tour::RowsFromNorthwest, 14 * HOUR),
    ],
    [
        (Tour::RowsFromNorthwest, 9 * HOUR),
        (Tour::ColumnsFromSoutheast, 14 * HOUR + 45 * MINUTE),
    ],
];

/// The FACTS commuter.
pub(super) static COMMUTER: Special = Special {
    plate: "JP 51860",
    region: IL,
    make: "Honda",
    model: "Civic",
    kind: "sedan",
    color: "blue",
};
/// How the OCR engine misreads the commuter's plate once (raw text of `FACTS.ocr_variant_of_commuter`).
pub(super) const COMMUTER_MISREAD: &str = "JP 51B60";
/// Union & Madison → Canal → Franklin → Clark & Madison → Clark & Lake (grid cells).
pub(super) static COMMUTER_ROUTE: [(usize, usize); 5] = [(0, 5), (1, 5), (2, 5), (3, 5), (3, 6)];
pub(super) const COMMUTER_MORNING_START: i64 = 7 * HOUR + 42 * MINUTE + 10 * SECOND + 250;
pub(super) const COMMUTER_EVENING_START: i64 = 17 * HOUR + 24 * MINUTE + 5 * SECOND + 700;
pub(super) static COMMUTER_MORNING_HOPS: [i64; 4] = [95_000, 110_000, 80_000, 130_000];
pub(super) static COMMUTER_EVENING_HOPS: [i64; 4] = [120_000, 75_000, 140_000, 100_000];
pub(super) static COMMUTER_CONFIDENCE: [f64; 10] =
    [0.97, 0.95, 0.62, 0.98, 0.93, 0.96, 0.94, 0.97, 0.91, 0.98];
/// Which of the commuter's reads (morning first) is the misread one.
pub(super) const COMMUTER_MISREAD_INDEX: usize = 2;

// ---------------------------------------------------------------------------------------------
// Co-location: a car parked near three burglaries, logged by a patrol car's mobile reader
// ---------------------------------------------------------------------------------------------

/// The car parked near all three places (`FACTS.co_location_plate`).
pub(super) static PROWLER: Special = Special {
    plate: "RW 73318",
    region: IL,
    make: "Nissan",
    model: "Altima",
    kind: "sedan",
    color: "black",
};
/// A car parked near places 0 and 2 (`FACTS.co_location_partial_plate`).
pub(super) static LOOKOUT: Special = Special {
    plate: "TC 40556",
    region: IL,
    make: "Ford",
    model: "Escape",
    kind: "suv",
    color: "white",
};
/// When the mobile reader passes each of `FACTS.co_location_places` (Chicago time of day).
pub(super) static PLACE_TIMES: [i64; 3] = [
    10 * HOUR + 14 * MINUTE + 22 * SECOND + 310,
    14 * HOUR + 52 * MINUTE + 9 * SECOND + 870,
    21 * HOUR + 37 * MINUTE + 45 * SECOND + 20,
];
/// Where the prowler is parked at each place: metres east and north of its centre.
static PROWLER_PARKED: [(f64, f64); 3] = [(12.0, -8.0), (-15.0, 6.0), (9.0, 14.0)];
/// The lookout: (place, seconds after the prowler's read, metres east and north).
static LOOKOUT_PARKED: [(usize, i64, (f64, f64)); 2] =
    [(0, 41, (-20.0, 10.0)), (2, 53, (18.0, -11.0))];
/// Other parked cars the mobile reader logs at each place (each car at one place only).
const PARKED_PER_PLACE: usize = 4;
/// The patrol car's district station, the grid cell its camera entry is filed under.
const MOBILE_HOME: Cell = (3, 1);

/// The mobile reader's camera entry; its reads carry their own positions.
pub(super) fn mobile_unit() -> Camera {
    let (lat, lon) = FACTS.co_location_places[0];
    Camera {
        id: FACTS.mobile_unit.to_string(),
        cell: MOBILE_HOME,
        lat,
        lon,
    }
}

/// `(lat, lon)` moved `east_m` metres east and `north_m` metres north.
pub(super) fn offset(at: (f64, f64), east_m: f64, north_m: f64) -> (f64, f64) {
    let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
    (
        at.0 + north_m / M_PER_DEG_LAT,
        at.1 + east_m / m_per_deg_lon,
    )
}

// ---------------------------------------------------------------------------------------------
// Convoy: two cars driving together at night
// ---------------------------------------------------------------------------------------------

/// The lead car (`FACTS.convoy_lead_plate`).
pub(super) static CONVOY_LEAD: Special = Special {
    plate: "MV 20417",
    region: IL,
    make: "Chevrolet",
    model: "Silverado",
    kind: "pickup",
    color: "gray",
};
/// The car following it (`FACTS.convoy_follower_plate`).
pub(super) static CONVOY_FOLLOWER: Special = Special {
    plate: "614KRN",
    region: IN,
    make: "Jeep",
    model: "Grand Cherokee",
    kind: "suv",
    color: "black",
};
/// East on Harrison St from Union Ave to Clark St, then north on Clark St to Madison St.
pub(super) const CONVOY_ROUTE: [Cell; 7] = [(0, 2), (1, 2), (2, 2), (3, 2), (3, 3), (3, 4), (3, 5)];
const CONVOY_START: i64 = 2 * HOUR + 41 * MINUTE + 17 * SECOND + 400;
static CONVOY_HOPS: [i64; 6] = [71_300, 66_800, 79_200, 88_400, 69_900, 74_600];
/// How far behind the lead the follower passes each camera, ms (10–40 s).
static CONVOY_LAG: [i64; 7] = [22_300, 18_900, 25_400, 31_000, 16_800, 27_500, 20_100];

// ---------------------------------------------------------------------------------------------
// Misreads: a plate the cameras get wrong in four different ways
// ---------------------------------------------------------------------------------------------

/// A car with a dirty plate (`FACTS.misread_plate`).
pub(super) static SMUDGED: Special = Special {
    plate: "BGL-5521",
    region: WI,
    make: "Subaru",
    model: "Outback",
    kind: "suv",
    color: "red",
};
/// In on Van Buren St from Lake Shore Dr and up Michigan Ave in the morning, back in the
/// afternoon.
static SMUDGED_ROUTE: [Cell; 4] = [(6, 3), (5, 3), (4, 3), (4, 4)];
const SMUDGED_MORNING_START: i64 = 9 * HOUR + 12 * MINUTE + 40 * SECOND + 500;
const SMUDGED_AFTERNOON_START: i64 = 15 * HOUR + 48 * MINUTE + 3 * SECOND + 200;
static SMUDGED_MORNING_HOPS: [i64; 3] = [84_000, 97_500, 102_300];
static SMUDGED_AFTERNOON_HOPS: [i64; 3] = [110_400, 91_800, 88_600];
/// What the OCR engine read at each pass (morning first), with its confidence: each
/// misread is one OCR confusion (8↔B, 5↔S, 6↔G, 2↔Z) away from the plate.
pub(super) static SMUDGED_TEXTS: [(&str, f64); 8] = [
    ("BGL-5521", 0.96),
    ("8GL-5521", 0.61),
    ("BGL-5521", 0.93),
    ("BGL-S521", 0.66),
    ("BGL-5521", 0.97),
    ("B6L-5521", 0.58),
    ("BGL-55Z1", 0.71),
    ("BGL-5521", 0.95),
];

/// Whether a random plate would blur the misread scenario's answers: OCR-aware edit distance
/// 2 or less from `FACTS.misread_plate`, or a match of `FACTS.misread_wildcard`. Such plates
/// are never issued (nor are their misreads, one OCR confusion from them).
pub(super) fn near_misread_plate(plate: &str) -> bool {
    let plate = normalize(plate);
    plate.get(1..5) == Some("GL55") || ocr_distance(&plate, FACTS.misread_plate) <= 2
}

/// The representative of `c`'s OCR confusion class (`0ODQ`, `1IL`, `2Z`, `5S`, `6G`, `8B`).
pub(super) fn ocr_class(c: char) -> char {
    match c {
        'O' | 'D' | 'Q' => '0',
        'I' | 'L' => '1',
        'Z' => '2',
        'S' => '5',
        'G' => '6',
        'B' => '8',
        other => other,
    }
}

/// Edit distance where a substitution within an OCR confusion class is free.
pub(super) fn ocr_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(ocr_class).collect();
    let b: Vec<char> = b.chars().map(ocr_class).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Area and vehicle: a silver Camry read late at night
// ---------------------------------------------------------------------------------------------

/// The silver Camry (`FACTS.camry_plate`).
pub(super) static CAMRY: Special = Special {
    plate: "DX 62741",
    region: IL,
    make: "Toyota",
    model: "Camry",
    kind: "sedan",
    color: "silver",
};
/// North on Michigan Ave: Lake St, Kinzie St, Ohio St (`FACTS.camry_camera`).
static CAMRY_ROUTE: [Cell; 3] = [(4, 6), (4, 7), (4, 8)];
pub(super) const CAMRY_CELL: Cell = (4, 8);
const CAMRY_START: i64 = 23 * HOUR + 45 * MINUTE + 31 * SECOND + 600;
static CAMRY_HOPS: [i64; 2] = [58_200, 61_700];

/// Drops the passes of a background vehicle that would blur a scenario's answer:
/// - a silver Camry is never read at `CAMRY_CELL`, so "a silver Camry near Michigan & Ohio"
///   has one answer;
/// - of its passes within 90 s of the convoy lead's at the same camera only the first 3 are
///   kept, so no plate but the follower is read near 4 of the lead's reads.
pub(super) fn keep_scenarios_clear(vehicle: &Vehicle, passes: &mut Vec<Pass>) {
    if vehicle.color == CAMRY.color && vehicle.model == CAMRY.model {
        passes.retain(|p| p.cell != CAMRY_CELL);
    }
    let mut near_lead = 0;
    passes.retain(|p| {
        let mut tod = CONVOY_START;
        for (i, &cell) in CONVOY_ROUTE.iter().enumerate() {
            let apart = (p.tod - tod).rem_euclid(DAY);
            if cell == p.cell && apart.min(DAY - apart) <= 90 * SECOND {
                near_lead += 1;
                return near_lead <= 3;
            }
            tod += CONVOY_HOPS.get(i).copied().unwrap_or(0);
        }
        true
    });
}

// ---------------------------------------------------------------------------------------------
// Planting
// ---------------------------------------------------------------------------------------------

/// Every planted vehicle, in the order of their vehicle indices.
static SPECIALS: [&Special; SPECIAL_COUNT] = [
    &EVERYWHERE[0],
    &EVERYWHERE[1],
    &EVERYWHERE[2],
    &EVERYWHERE[3],
    &EVERYWHERE[4],
    &COMMUTER,
    &PROWLER,
    &LOOKOUT,
    &CONVOY_LEAD,
    &CONVOY_FOLLOWER,
    &SMUDGED,
    &CAMRY,
];
pub(super) const SPECIAL_COUNT: usize = 12;
const COMMUTER_V: usize = 5;
const PROWLER_V: usize = 6;
const LOOKOUT_V: usize = 7;
const LEAD_V: usize = 8;
const FOLLOWER_V: usize = 9;
const SMUDGED_V: usize = 10;
const CAMRY_V: usize = 11;

/// The planted vehicles, indices `0..SPECIAL_COUNT`.
pub(super) fn special_vehicles() -> Vec<Vehicle> {
    SPECIALS.iter().map(|s| special_vehicle(s)).collect()
}

/// Plate texts no random vehicle may carry or be misread as (normalized).
pub(super) fn reserved_plates() -> Vec<String> {
    let misreads = [COMMUTER_MISREAD]
        .into_iter()
        .chain(SMUDGED_TEXTS.iter().map(|t| t.0));
    SPECIALS
        .iter()
        .map(|s| s.plate)
        .chain(misreads)
        .map(normalize)
        .collect()
}

/// A correct read with a good confidence.
fn clean(rng: &mut StdRng, vehicle: &Vehicle) -> Ocred {
    Ocred {
        text: vehicle.plate.clone(),
        misread: false,
        confidence: good_confidence(rng),
    }
}

/// Reads of vehicle `v` driving through `route` from Chicago time `start`, `hops[i]` ms from
/// camera `i` to camera `i + 1`; `seen(rng, i)` is what the OCR engine made of pass `i`.
#[allow(clippy::too_many_arguments)]
fn drive(
    rng: &mut StdRng,
    clock: &Clock,
    reads: &mut Vec<Read>,
    v: usize,
    route: &[Cell],
    start: i64,
    hops: &[i64],
    mut seen: impl FnMut(&mut StdRng, usize) -> Ocred,
) {
    let dirs = route_dirs(route, rng);
    let mut tod = start;
    for (i, (&cell, dir)) in route.iter().zip(dirs).enumerate() {
        let ocred = seen(rng, i);
        reads.push(Read::new(clock, rng, v, &Pass { tod, cell, dir }, ocred));
        tod += hops.get(i).copied().unwrap_or(0);
    }
}

/// A read by the mobile reader of a car parked at `at` (lat, lon).
fn parked(
    rng: &mut StdRng,
    clock: &Clock,
    v: usize,
    tod: i64,
    at: (f64, f64),
    seen: Ocred,
) -> Read {
    Read {
        t: clock.at(tod),
        cam: FACTS.camera_count,
        vehicle: v,
        text: seen.text,
        misread: seen.misread,
        confidence: seen.confidence,
        dir: Dir::ALL[rng.random_range(0..4)],
        jitter_m: (0.0, 0.0),
        at: Some(at),
    }
}

/// Adds the reads of every planted vehicle; `vehicles` starts with [`special_vehicles`].
pub(super) fn plant(rng: &mut StdRng, clock: &Clock, vehicles: &[Vehicle], reads: &mut Vec<Read>) {
    // The everywhere vehicles: two fixed tours each, never misread.
    for (v, tours) in EVERYWHERE_TOURS.iter().enumerate() {
        for &(tour, start) in tours {
            let cells = tour_cells(tour);
            let dirs = route_dirs(&cells, rng);
            let mut tod = start + rng.random_range(0..MINUTE);
            for (cell, dir) in cells.into_iter().zip(dirs) {
                let seen = clean(rng, &vehicles[v]);
                reads.push(Read::new(clock, rng, v, &Pass { tod, cell, dir }, seen));
                tod += 150 * SECOND + rng.random_range(0..120 * SECOND);
            }
        }
    }

    // The FACTS commuter: a fixed schedule with one forced misread.
    let backwards: Vec<Cell> = COMMUTER_ROUTE.iter().rev().copied().collect();
    let trips = [
        (
            &COMMUTER_ROUTE[..],
            COMMUTER_MORNING_START,
            &COMMUTER_MORNING_HOPS,
            0,
        ),
        (
            &backwards[..],
            COMMUTER_EVENING_START,
            &COMMUTER_EVENING_HOPS,
            COMMUTER_ROUTE.len(),
        ),
    ];
    for (route, start, hops, first) in trips {
        drive(rng, clock, reads, COMMUTER_V, route, start, hops, |_, i| {
            let misread = first + i == COMMUTER_MISREAD_INDEX;
            Ocred {
                text: if misread {
                    COMMUTER_MISREAD
                } else {
                    COMMUTER.plate
                }
                .to_string(),
                misread,
                confidence: COMMUTER_CONFIDENCE.get(first + i).copied().unwrap_or(0.95),
            }
        });
    }

    // Co-location: the mobile reader logs the prowler at each place, the lookout at two,
    // and a few other parked cars (each at one place only).
    let mut taken = vec![false; vehicles.len()];
    for (p, &place) in FACTS.co_location_places.iter().enumerate() {
        let tod = PLACE_TIMES[p];
        let (east, north) = PROWLER_PARKED[p];
        let seen = clean(rng, &vehicles[PROWLER_V]);
        reads.push(parked(
            rng,
            clock,
            PROWLER_V,
            tod,
            offset(place, east, north),
            seen,
        ));
        for &(_, after_s, (east, north)) in LOOKOUT_PARKED.iter().filter(|l| l.0 == p) {
            let seen = clean(rng, &vehicles[LOOKOUT_V]);
            let at = offset(place, east, north);
            reads.push(parked(
                rng,
                clock,
                LOOKOUT_V,
                tod + after_s * SECOND,
                at,
                seen,
            ));
        }
        let mut logged = 0;
        while logged < PARKED_PER_PLACE {
            let v = rng.random_range(SPECIAL_COUNT..vehicles.len());
            if std::mem::replace(&mut taken[v], true) {
                continue;
            }
            let when = tod + rng.random_range(-240 * SECOND..240 * SECOND);
            let along = rng.random_range(-40.0..40.0);
            let at = if rng.random_bool(0.5) {
                offset(place, along, rng.random_range(-6.0..6.0))
            } else {
                offset(place, rng.random_range(-6.0..6.0), along)
            };
            let seen = clean(rng, &vehicles[v]);
            reads.push(parked(rng, clock, v, when, at, seen));
            logged += 1;
        }
    }

    // Convoy: the follower passes every camera 10–40 s after the lead.
    drive(
        rng,
        clock,
        reads,
        LEAD_V,
        &CONVOY_ROUTE,
        CONVOY_START,
        &CONVOY_HOPS,
        |rng, _| clean(rng, &vehicles[LEAD_V]),
    );
    let mut tod = CONVOY_START;
    for (i, &cell) in CONVOY_ROUTE.iter().enumerate() {
        let dir = match i {
            0 => Dir::between(cell, CONVOY_ROUTE[1]),
            _ => Dir::between(CONVOY_ROUTE[i - 1], cell),
        };
        let pass = Pass {
            tod: tod + CONVOY_LAG[i],
            cell,
            dir,
        };
        let seen = clean(rng, &vehicles[FOLLOWER_V]);
        reads.push(Read::new(clock, rng, FOLLOWER_V, &pass, seen));
        tod += CONVOY_HOPS.get(i).copied().unwrap_or(0);
    }

    // Misreads: four of the smudged plate's eight reads are OCR confusions.
    let back: Vec<Cell> = SMUDGED_ROUTE.iter().rev().copied().collect();
    let trips = [
        (
            &SMUDGED_ROUTE[..],
            SMUDGED_MORNING_START,
            &SMUDGED_MORNING_HOPS,
            0,
        ),
        (
            &back[..],
            SMUDGED_AFTERNOON_START,
            &SMUDGED_AFTERNOON_HOPS,
            SMUDGED_ROUTE.len(),
        ),
    ];
    for (route, start, hops, first) in trips {
        drive(rng, clock, reads, SMUDGED_V, route, start, hops, |_, i| {
            let (text, confidence) = SMUDGED_TEXTS[first + i];
            Ocred {
                text: text.to_string(),
                misread: text != SMUDGED.plate,
                confidence,
            }
        });
    }

    // The silver Camry, late at night.
    drive(
        rng,
        clock,
        reads,
        CAMRY_V,
        &CAMRY_ROUTE,
        CAMRY_START,
        &CAMRY_HOPS,
        |rng, _| clean(rng, &vehicles[CAMRY_V]),
    );
}
