//! Synthetic demo data: one realistic day of plate reads, media manifests and sensor samples
//! on a real city's street grid.
//!
//! This module owns the data set that `sightline demo` loads: it builds, in memory and without
//! any I/O, the JSON bodies of the public ingest API (plate reads, media manifests, sensor
//! samples) for the 24 hours ending at a caller-given instant. Output is a pure function of
//! `(seed, end_ms)`.
//!
//! The model:
//! - **Cameras.** 77 fixed LPR cameras (`cam-001` … `cam-077`) on a regular 7 × 11 grid of
//!   intersections of Chicago's axis-aligned downtown/near-side street grid, two blocks
//!   (≈ 402 m) apart, from Union Ave to Lake Shore Dr and from Taylor St to Oak St, centred on
//!   State & Madison (the origin of Chicago's address grid, 8 blocks per mile).
//! - **Vehicles.** 20,000 distinct vehicles with plates in real state formats (mostly
//!   Illinois), fixed make/model/colour/type and region. 3,000 are commuters (in towards the
//!   Loop 07:00–09:30, back out 16:00–18:30 along the same route); the rest make 1–5 trips
//!   through 1–6 cameras weighted to daytime. Five "seen everywhere" vehicles (delivery vans,
//!   a taxi) each drive two full tours of the grid on a fixed schedule.
//! - **OCR.** About 2 % of reads carry a one-character OCR confusion (0↔O, 1↔I, 8↔B, 5↔S,
//!   2↔Z, 6↔G) and a confidence below 0.75.
//! - **Time.** Schedules are laid out in Chicago wall-clock time (US DST rules, using the UTC
//!   offset in force at `end_ms`) and folded into the window `(end_ms - 24 h, end_ms)`, so the
//!   number of reads of every plate depends only on the seed. A trip that runs across the
//!   window's edge therefore shows up partly at each end of the window.
//! - **Media.** 2,000 manifests: frames and short clips from the LPR cameras (referencing the
//!   reads they show), body-camera video and radio audio (traffic stops reference the read of
//!   the stopped vehicle), and acoustic gunshot-detector clips around a high school.
//! - **Sensors.** 20 street sensors (air quality, noise, traffic counters), one sample per
//!   sensor and metric every 5 minutes, with daily cycles.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, Weekday};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

/// One day of demo data, as bodies for the public ingest API.
pub struct DemoData {
    /// Plate reads, sorted by `captured_at`, ids `demo-r-0000001` … in that order.
    pub reads: Vec<serde_json::Value>,
    /// Media manifests, sorted by `started_at`, ids `demo-m-000001` … in that order.
    pub manifests: Vec<serde_json::Value>,
    /// Sensor samples, sorted by `ts`.
    pub series: Vec<serde_json::Value>,
}

/// Facts about the generated data that the README and tests quote.
///
/// They hold for every seed and every `end_ms`:
/// - `everywhere_plate` (`KD40917`, a white Ford Transit delivery van from Illinois) is read
///   exactly **154** times (two full tours of the grid), at all **77** cameras, every read
///   correctly OCR'd; no other read's plate normalizes to it.
/// - `commuter_plate` (`JP51860`, a blue Honda Civic from Illinois) is read exactly **10**
///   times: 5 in the morning (Union & Madison → Clark & Lake, from 07:42 Chicago time) and 5
///   in the evening (the same route back out, from 17:24). **9** of those reads carry the plate
///   correctly; the third morning read (Franklin & Madison) is misread as
///   `ocr_variant_of_commuter` (`JP51B60`, confidence 0.62), which occurs exactly **once**.
/// - `camera_count` is the number of distinct cameras (77).
///
/// Plates here are normalized: upper case, spaces and dashes removed.
pub struct DemoFacts {
    /// A "seen everywhere" vehicle's plate (normalized).
    pub everywhere_plate: &'static str,
    /// A commuter's plate (normalized).
    pub commuter_plate: &'static str,
    /// A misread of `commuter_plate` that occurs in the data (normalized).
    pub ocr_variant_of_commuter: &'static str,
    /// Number of fixed LPR cameras.
    pub camera_count: usize,
}

pub const FACTS: DemoFacts = DemoFacts {
    everywhere_plate: "KD40917",
    commuter_plate: "JP51860",
    ocr_variant_of_commuter: "JP51B60",
    camera_count: CAMERA_COUNT,
};

/// Generates the day ending at `end_ms` (UTC milliseconds since the epoch), deterministically from `seed`.
///
/// Every timestamp lies strictly inside `(end_ms - 24 h, end_ms)`. `end_ms` is clamped to
/// 1970-01-03 … 9999-12-31 so that nothing can overflow.
pub fn generate_day(seed: u64, end_ms: i64) -> DemoData {
    let day = simulate(seed, end_ms);
    DemoData {
        reads: day
            .reads
            .iter()
            .enumerate()
            .map(|(i, r)| day.read_json(i, r))
            .collect(),
        manifests: day
            .manifests
            .iter()
            .enumerate()
            .map(|(i, m)| day.manifest_json(i, m))
            .collect(),
        series: day.samples.iter().map(|s| day.sample_json(s)).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Constants: time, geography, population
// ---------------------------------------------------------------------------------------------

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Clamp range for `end_ms`: 1970-01-03T00:00:00Z … 9999-12-31T23:59:59.999Z.
const MIN_END_MS: i64 = 2 * DAY;
const MAX_END_MS: i64 = 253_402_300_799_999;

/// State & Madison, the origin of Chicago's address grid.
const CENTER_LAT: f64 = 41.8819;
const CENTER_LON: f64 = -87.6278;
/// Chicago has 8 blocks (800 address numbers) to the mile.
const BLOCK_M: f64 = 201.0;
const M_PER_DEG_LAT: f64 = 111_320.0;
/// Cameras sit every second block, so a hop between neighbouring cameras is two blocks.
const HOP_M: f64 = 2.0 * BLOCK_M;

/// North–south streets carrying cameras: blocks east of State St (negative = west), west to east.
static AVENUES: [(i32, &str); 7] = [
    (-7, "Union Ave"),
    (-5, "Canal St"),
    (-3, "Franklin St"),
    (-1, "Clark St"),
    (1, "Michigan Ave"),
    (3, "Columbus Dr"),
    (5, "Lake Shore Dr"),
];

/// East–west streets carrying cameras: blocks north of Madison St (negative = south), south to north.
static STREETS: [(i32, &str); 11] = [
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

const GRID_W: usize = AVENUES.len();
const GRID_H: usize = STREETS.len();
const CAMERA_COUNT: usize = GRID_W * GRID_H;

/// William Jones College Prep, 700 S State St: the school the acoustic sensors surround.
const SCHOOL_BLOCKS: (f64, f64) = (0.0, -7.0);

const VEHICLE_COUNT: usize = 20_000;
/// Commuters, including the FACTS commuter.
const COMMUTER_COUNT: usize = 3_000;
const OCR_ERROR_RATE: f64 = 0.02;

const IMAGE_MANIFESTS: usize = 1_200;
const CAMERA_VIDEO_MANIFESTS: usize = 300;
const TRAFFIC_STOP_MANIFESTS: usize = 120;
const PATROL_MANIFESTS: usize = 179;
const RADIO_MANIFESTS: usize = 100;
const ACOUSTIC_MANIFESTS: usize = 100;

const SAMPLE_PERIOD: i64 = 5 * MINUTE;
const SAMPLES_PER_SERIES: usize = (DAY / SAMPLE_PERIOD) as usize;

// ---------------------------------------------------------------------------------------------
// Vehicles and plates
// ---------------------------------------------------------------------------------------------

/// A plate-issuing region with its passenger plate formats and share of traffic.
/// Format symbols: `L` letter (no I, O or Q), `D` digit, `N` digit 7–9; anything else is literal.
struct Region {
    code: &'static str,
    state: &'static str,
    weight: f64,
    formats: &'static [(&'static str, f64)],
}

static REGIONS: [Region; 5] = [
    Region {
        code: "US-IL",
        state: "Illinois",
        weight: 86.0,
        formats: &[("LL DDDDD", 85.0), ("LDD DDDD", 15.0)],
    },
    Region {
        code: "US-IN",
        state: "Indiana",
        weight: 6.0,
        formats: &[("DDDLLL", 1.0)],
    },
    Region {
        code: "US-WI",
        state: "Wisconsin",
        weight: 4.0,
        formats: &[("LLL-DDDD", 1.0)],
    },
    Region {
        code: "US-MI",
        state: "Michigan",
        weight: 3.0,
        formats: &[("LLL DDDD", 1.0)],
    },
    Region {
        code: "US-CA",
        state: "California",
        weight: 1.0,
        formats: &[("NLLLDDD", 1.0)],
    },
];
const IL: usize = 0;
const IN: usize = 1;
const WI: usize = 2;

/// Plate letters: real issuers skip I, O and Q because they read as 1 and 0.
const PLATE_LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// (make, model, body type, share of traffic)
static MODELS: [(&str, &str, &str, f64); 35] = [
    ("Toyota", "Camry", "sedan", 6.0),
    ("Toyota", "Corolla", "sedan", 5.0),
    ("Toyota", "RAV4", "suv", 6.0),
    ("Toyota", "Prius", "hatchback", 2.0),
    ("Toyota", "Sienna", "van", 2.0),
    ("Honda", "Civic", "sedan", 5.0),
    ("Honda", "Accord", "sedan", 4.0),
    ("Honda", "CR-V", "suv", 5.0),
    ("Honda", "Fit", "hatchback", 1.0),
    ("Honda", "Odyssey", "van", 2.0),
    ("Ford", "F-150", "pickup", 5.0),
    ("Ford", "Escape", "suv", 4.0),
    ("Ford", "Explorer", "suv", 4.0),
    ("Ford", "Transit", "van", 2.0),
    ("Chevrolet", "Malibu", "sedan", 3.0),
    ("Chevrolet", "Equinox", "suv", 4.0),
    ("Chevrolet", "Silverado", "pickup", 3.0),
    ("Chevrolet", "Express", "van", 1.0),
    ("Tesla", "Model 3", "sedan", 3.0),
    ("Tesla", "Model Y", "suv", 3.0),
    ("Nissan", "Altima", "sedan", 4.0),
    ("Nissan", "Rogue", "suv", 4.0),
    ("Jeep", "Cherokee", "suv", 3.0),
    ("Jeep", "Grand Cherokee", "suv", 3.0),
    ("Hyundai", "Elantra", "sedan", 3.0),
    ("Hyundai", "Tucson", "suv", 3.0),
    ("Kia", "Soul", "hatchback", 2.0),
    ("Kia", "Forte", "sedan", 2.0),
    ("Volkswagen", "Golf", "hatchback", 1.0),
    ("Subaru", "Outback", "suv", 2.0),
    ("Mazda", "CX-5", "suv", 2.0),
    ("Ram", "1500", "pickup", 2.0),
    ("Ram", "ProMaster", "van", 1.0),
    ("Chrysler", "Pacifica", "van", 2.0),
    ("Mercedes-Benz", "Sprinter", "van", 1.0),
];

static COLORS: [(&str, f64); 11] = [
    ("white", 24.0),
    ("black", 20.0),
    ("gray", 17.0),
    ("silver", 12.0),
    ("blue", 10.0),
    ("red", 9.0),
    ("green", 2.0),
    ("brown", 2.0),
    ("beige", 2.0),
    ("yellow", 1.0),
    ("orange", 1.0),
];

/// A vehicle with hand-picked identity (the FACTS vehicles and their companions).
struct Special {
    plate: &'static str,
    region: usize,
    make: &'static str,
    model: &'static str,
    kind: &'static str,
    color: &'static str,
}

/// The "seen everywhere" vehicles; the first is `FACTS.everywhere_plate`.
static EVERYWHERE: [Special; 5] = [
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
static EVERYWHERE_TOURS: [[(Tour, i64); 2]; 5] = [
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
static COMMUTER: Special = Special {
    plate: "JP 51860",
    region: IL,
    make: "Honda",
    model: "Civic",
    kind: "sedan",
    color: "blue",
};
/// How the OCR engine misreads the commuter's plate once (raw text of `FACTS.ocr_variant_of_commuter`).
const COMMUTER_MISREAD: &str = "JP 51B60";
/// Union & Madison → Canal → Franklin → Clark & Madison → Clark & Lake (grid cells).
static COMMUTER_ROUTE: [(usize, usize); 5] = [(0, 5), (1, 5), (2, 5), (3, 5), (3, 6)];
const COMMUTER_MORNING_START: i64 = 7 * HOUR + 42 * MINUTE + 10 * SECOND + 250;
const COMMUTER_EVENING_START: i64 = 17 * HOUR + 24 * MINUTE + 5 * SECOND + 700;
static COMMUTER_MORNING_HOPS: [i64; 4] = [95_000, 110_000, 80_000, 130_000];
static COMMUTER_EVENING_HOPS: [i64; 4] = [120_000, 75_000, 140_000, 100_000];
static COMMUTER_CONFIDENCE: [f64; 10] =
    [0.97, 0.95, 0.62, 0.98, 0.93, 0.96, 0.94, 0.97, 0.91, 0.98];
/// Which of the commuter's reads (morning first) is the misread one.
const COMMUTER_MISREAD_INDEX: usize = 2;

const SPECIAL_COUNT: usize = EVERYWHERE.len() + 1;

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// Upper case, letters and digits only: how plates are compared.
fn normalize(plate: &str) -> String {
    plate
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The character an OCR engine most often confuses `c` with.
fn ocr_confusion(c: char) -> Option<char> {
    Some(match c {
        '0' => 'O',
        'O' => '0',
        '1' => 'I',
        'I' => '1',
        '8' => 'B',
        'B' => '8',
        '5' => 'S',
        'S' => '5',
        '2' => 'Z',
        'Z' => '2',
        '6' => 'G',
        'G' => '6',
        _ => return None,
    })
}

/// Picks an index with probability proportional to `weights` (which must not all be zero).
fn weighted_index(rng: &mut StdRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut r = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    weights.len().saturating_sub(1)
}

/// Standard normal sample (Box–Muller).
fn gauss(rng: &mut StdRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    // `+ 0.0` turns -0.0 into 0.0.
    (x * f).round() / f + 0.0
}

/// UTC calendar fields of `t`: (year, month, day, hour, minute, second, millisecond).
fn utc_fields(t: i64) -> (i64, u32, u32, i64, i64, i64, i64) {
    let days = t.div_euclid(DAY);
    let ms = t.rem_euclid(DAY);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        ms / HOUR,
        ms % HOUR / MINUTE,
        ms % MINUTE / SECOND,
        ms % SECOND,
    )
}

/// `2026-11-20T14:03:12.512Z`
fn rfc3339(t: i64) -> String {
    let (y, mo, d, h, mi, s, ms) = utc_fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// `media/<device>/<UTC date>/<HHMMSSmmm>.<ext>`
fn media_key(device: &str, t: i64, ext: &str) -> String {
    let (y, mo, d, h, mi, s, ms) = utc_fields(t);
    format!("media/{device}/{y:04}-{mo:02}-{d:02}/{h:02}{mi:02}{s:02}{ms:03}.{ext}")
}

/// Fake but well-formed SHA-256 (the demo has no bytes to hash).
fn fake_sha256(rng: &mut StdRng) -> String {
    (0..4)
        .map(|_| format!("{:016x}", rng.random::<u64>()))
        .collect()
}

/// Position of a point given in blocks east of State St and north of Madison St.
fn blocks_to_lat_lon(x_blocks: f64, y_blocks: f64) -> (f64, f64) {
    let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
    (
        CENTER_LAT + y_blocks * BLOCK_M / M_PER_DEG_LAT,
        CENTER_LON + x_blocks * BLOCK_M / m_per_deg_lon,
    )
}

/// Share of a weekday's downtown traffic in each Chicago clock hour (percent; sums to 100).
static HOURLY_TRAFFIC: [f64; 24] = [
    1.5, 1.0, 0.7, 0.5, 0.6, 1.3, 3.2, 6.0, 6.8, 5.8, 5.3, 5.6, //
    6.0, 5.9, 6.0, 6.6, 7.2, 7.5, 6.0, 4.5, 3.8, 3.2, 2.8, 2.2,
];

/// Relative traffic intensity at Chicago hour `h` (fractional): 1.0 at the 17:00 peak,
/// under 0.1 around 03:00; hourly shares interpolated between hour midpoints.
fn traffic_profile(h: f64) -> f64 {
    let x = (h - 0.5).rem_euclid(24.0);
    let i = x.floor() as usize % 24;
    let f = x - x.floor();
    (HOURLY_TRAFFIC[i] * (1.0 - f) + HOURLY_TRAFFIC[(i + 1) % 24] * f) / 7.5
}

fn hour_of(tod: i64) -> f64 {
    tod.rem_euclid(DAY) as f64 / HOUR as f64
}

// ---------------------------------------------------------------------------------------------
// Time: a 24 h window seen through Chicago wall-clock time
// ---------------------------------------------------------------------------------------------

/// The window `(start, end)` and the Chicago UTC offset used to place wall-clock schedules in it.
struct Clock {
    start: i64,
    end: i64,
    utc_offset: i64,
}

impl Clock {
    fn new(end_ms: i64) -> Clock {
        let end = end_ms.clamp(MIN_END_MS, MAX_END_MS);
        Clock {
            start: end - DAY,
            end,
            utc_offset: chicago_utc_offset(end),
        }
    }

    /// The instant strictly inside the window whose Chicago time of day is `tod`
    /// (milliseconds after local midnight; any value, taken modulo a day).
    fn at(&self, tod: i64) -> i64 {
        let start_tod = (self.start + self.utc_offset).rem_euclid(DAY);
        self.start + (tod - start_tod).rem_euclid(DAY).max(1)
    }

    /// Chicago time of day of instant `t`.
    fn tod(&self, t: i64) -> i64 {
        (t + self.utc_offset).rem_euclid(DAY)
    }

    /// Whether something starting at `t` and lasting `duration` lies strictly inside the window.
    fn contains(&self, t: i64, duration: i64) -> bool {
        t > self.start && t + duration < self.end
    }

    /// `t` moved as little as needed for `[t, t + duration]` to lie strictly inside the window.
    fn fit(&self, t: i64, duration: i64) -> i64 {
        t.min(self.end - 1 - duration).max(self.start + 1)
    }
}

/// America/Chicago offset at `t`: CDT (UTC−5) from the second Sunday of March 02:00 local to
/// the first Sunday of November 02:00 local, CST (UTC−6) otherwise.
fn chicago_utc_offset(t: i64) -> i64 {
    let year = i32::try_from(utc_fields(t).0).unwrap_or(1970);
    let sunday_utc = |month: u32, nth: u8, hour: u32| {
        NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, nth)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .map(|dt| dt.and_utc().timestamp_millis())
    };
    match (sunday_utc(3, 2, 8), sunday_utc(11, 1, 7)) {
        (Some(dst_on), Some(dst_off)) if t >= dst_on && t < dst_off => -5 * HOUR,
        _ => -6 * HOUR,
    }
}

// ---------------------------------------------------------------------------------------------
// The street grid
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    N,
    S,
    E,
    W,
}

impl Dir {
    const ALL: [Dir; 4] = [Dir::N, Dir::S, Dir::E, Dir::W];

    fn as_str(self) -> &'static str {
        match self {
            Dir::N => "N",
            Dir::S => "S",
            Dir::E => "E",
            Dir::W => "W",
        }
    }

    fn reverse(self) -> Dir {
        match self {
            Dir::N => Dir::S,
            Dir::S => Dir::N,
            Dir::E => Dir::W,
            Dir::W => Dir::E,
        }
    }

    /// Direction of travel from cell `a` to the neighbouring cell `b`.
    fn between(a: Cell, b: Cell) -> Dir {
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
type Cell = (usize, usize);

fn neighbor(c: Cell, d: Dir) -> Option<Cell> {
    match d {
        Dir::N if c.1 + 1 < GRID_H => Some((c.0, c.1 + 1)),
        Dir::S if c.1 > 0 => Some((c.0, c.1 - 1)),
        Dir::E if c.0 + 1 < GRID_W => Some((c.0 + 1, c.1)),
        Dir::W if c.0 > 0 => Some((c.0 - 1, c.1)),
        _ => None,
    }
}

/// Camera index of a cell: `cam-001` is the north-west corner, numbering runs east, then south.
fn cam_index(c: Cell) -> usize {
    (GRID_H - 1 - c.1) * GRID_W + c.0
}

fn cell_blocks(c: Cell) -> (f64, f64) {
    (f64::from(AVENUES[c.0].0), f64::from(STREETS[c.1].0))
}

struct Camera {
    id: String,
    cell: Cell,
    lat: f64,
    lon: f64,
}

impl Camera {
    /// "Clark St & Adams St"
    fn corner(&self) -> String {
        format!("{} & {}", AVENUES[self.cell.0].1, STREETS[self.cell.1].1)
    }

    /// "Clark and Adams", the way it is said on the radio.
    fn spoken(&self) -> String {
        let short = |name: &'static str| name.rsplit_once(' ').map_or(name, |(s, _)| s);
        format!(
            "{} and {}",
            short(AVENUES[self.cell.0].1),
            short(STREETS[self.cell.1].1)
        )
    }
}

fn cameras() -> Vec<Camera> {
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
enum Tour {
    RowsFromNorthwest,
    RowsFromSoutheast,
    ColumnsFromNorthwest,
    ColumnsFromSoutheast,
}

fn tour_cells(tour: Tour) -> Vec<Cell> {
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
fn route_dirs(cells: &[Cell], rng: &mut StdRng) -> Vec<Dir> {
    (0..cells.len())
        .map(|i| match (i, cells.len()) {
            (_, 1) => Dir::ALL[rng.random_range(0..4)],
            (0, _) => Dir::between(cells[0], cells[1]),
            _ => Dir::between(cells[i - 1], cells[i]),
        })
        .collect()
}

/// A drive through `len` cameras starting at `start`, mostly straight on, sometimes turning.
fn random_walk(rng: &mut StdRng, start: Cell, len: usize) -> Vec<Cell> {
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
fn l_route(from: Cell, to: Cell, x_first: bool) -> Vec<Cell> {
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
fn hop_ms(rng: &mut StdRng, tod: i64) -> i64 {
    let load = traffic_profile(hour_of(tod));
    let speed = (12.5 - 7.0 * load) * rng.random_range(0.85..1.15);
    let wait = rng.random::<f64>() * (15.0 + 45.0 * load);
    ((HOP_M / speed + wait) * 1000.0) as i64
}

/// Samples Chicago times of day in proportion to traffic.
struct TodSampler {
    quarter_hours: Vec<f64>,
}

impl TodSampler {
    fn new() -> TodSampler {
        TodSampler {
            quarter_hours: (0..96)
                .map(|q| traffic_profile((f64::from(q) + 0.5) / 4.0))
                .collect(),
        }
    }

    fn sample(&self, rng: &mut StdRng) -> i64 {
        let q = weighted_index(rng, &self.quarter_hours) as i64;
        q * 15 * MINUTE + rng.random_range(0..15 * MINUTE)
    }
}

// ---------------------------------------------------------------------------------------------
// Simulation
// ---------------------------------------------------------------------------------------------

struct Vehicle {
    /// The plate as printed, in its region's format ("AB 12345").
    plate: String,
    region: usize,
    make: &'static str,
    model: &'static str,
    kind: &'static str,
    color: &'static str,
}

/// A vehicle passing a camera (before OCR).
struct Pass {
    tod: i64,
    cell: Cell,
    dir: Dir,
}

/// What the OCR engine made of a pass.
struct Ocred {
    text: String,
    misread: bool,
    confidence: f64,
}

struct Read {
    t: i64,
    cam: usize,
    vehicle: usize,
    /// What the OCR engine emitted.
    text: String,
    misread: bool,
    confidence: f64,
    dir: Dir,
    /// Offset of the reported position from the camera, metres east and north.
    jitter_m: (f64, f64),
}

impl Read {
    fn new(clock: &Clock, rng: &mut StdRng, vehicle: usize, pass: &Pass, seen: Ocred) -> Read {
        Read {
            t: clock.at(pass.tod),
            cam: cam_index(pass.cell),
            vehicle,
            text: seen.text,
            misread: seen.misread,
            confidence: seen.confidence,
            dir: pass.dir,
            jitter_m: (rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0)),
        }
    }
}

struct Manifest {
    started: i64,
    device: String,
    kind: &'static str,
    duration_ms: i64,
    object_key: String,
    sha256: String,
    bytes: u64,
    lat: f64,
    lon: f64,
    labels: Vec<&'static str>,
    transcript: Option<String>,
    /// Indices into `Day::reads`.
    reads: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    Pm25,
    NoiseDb,
    TempC,
    TrafficCount,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Pm25 => "pm25",
            Metric::NoiseDb => "noise_db",
            Metric::TempC => "temp_c",
            Metric::TrafficCount => "traffic_count",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::Pm25 => "ug/m3",
            Metric::NoiseDb => "dBA",
            Metric::TempC => "C",
            Metric::TrafficCount => "vehicles/5min",
        }
    }
}

/// Street sensors: (id, grid cell they are mounted at, metrics they report).
static SENSORS: [(&str, Cell, &[Metric]); 20] = [
    ("aq-01", (3, 5), &[Metric::Pm25, Metric::TempC]),
    ("aq-02", (4, 9), &[Metric::Pm25, Metric::TempC]),
    ("aq-03", (1, 3), &[Metric::Pm25, Metric::TempC]),
    ("aq-04", (5, 1), &[Metric::Pm25, Metric::TempC]),
    ("aq-05", (0, 8), &[Metric::Pm25, Metric::TempC]),
    ("aq-06", (2, 6), &[Metric::Pm25, Metric::TempC]),
    ("aq-07", (6, 7), &[Metric::Pm25, Metric::TempC]),
    ("aq-08", (3, 0), &[Metric::Pm25, Metric::TempC]),
    ("noise-01", (4, 5), &[Metric::NoiseDb]),
    ("noise-02", (1, 5), &[Metric::NoiseDb]),
    ("noise-03", (3, 1), &[Metric::NoiseDb]),
    ("noise-04", (2, 9), &[Metric::NoiseDb]),
    ("noise-05", (6, 4), &[Metric::NoiseDb]),
    ("noise-06", (0, 2), &[Metric::NoiseDb]),
    ("tc-01", (4, 8), &[Metric::TrafficCount]),
    ("tc-02", (6, 9), &[Metric::TrafficCount]),
    ("tc-03", (1, 4), &[Metric::TrafficCount]),
    ("tc-04", (3, 3), &[Metric::TrafficCount]),
    ("tc-05", (6, 2), &[Metric::TrafficCount]),
    ("tc-06", (0, 6), &[Metric::TrafficCount]),
];

struct Sample {
    sensor: usize,
    metric: Metric,
    t: i64,
    value: f64,
}

/// Everything generated for one day, before it is turned into JSON.
struct Day {
    cameras: Vec<Camera>,
    vehicles: Vec<Vehicle>,
    /// Sorted by time.
    reads: Vec<Read>,
    /// Sorted by start time.
    manifests: Vec<Manifest>,
    /// Sorted by time.
    samples: Vec<Sample>,
}

fn simulate(seed: u64, end_ms: i64) -> Day {
    let clock = Clock::new(end_ms);
    let cameras = cameras();
    // Independent streams, so that e.g. the sensor stage never shifts the reads.
    let mut rng_reads = StdRng::seed_from_u64(seed);
    let mut rng_media = StdRng::seed_from_u64(seed ^ 0x6d65_6469_615f_7631);
    let mut rng_sensors = StdRng::seed_from_u64(seed ^ 0x7365_6e73_6f72_7331);
    let (vehicles, reads) = simulate_traffic(&mut rng_reads, &clock);
    let manifests = simulate_media(&mut rng_media, &clock, &cameras, &vehicles, &reads);
    let samples = simulate_sensors(&mut rng_sensors, &clock);
    Day {
        cameras,
        vehicles,
        reads,
        manifests,
        samples,
    }
}

/// Tracks which plate strings are in use so that OCR misreads never look like a real plate
/// (or like another vehicle's misread): an exact search for a plate finds only that vehicle.
struct Ocr {
    taken: HashSet<String>,
    variant_owner: HashMap<String, usize>,
}

impl Ocr {
    /// A one-character confusion of `plate`, if one is available that stays unambiguous.
    fn misread(&mut self, rng: &mut StdRng, vehicle: usize, plate: &str) -> Option<String> {
        let chars: Vec<char> = plate.chars().collect();
        let mut positions: Vec<usize> = (0..chars.len())
            .filter(|&i| ocr_confusion(chars[i]).is_some())
            .collect();
        positions.shuffle(rng);
        for i in positions {
            let mut wrong = chars.clone();
            wrong[i] = ocr_confusion(chars[i]).unwrap_or(chars[i]);
            let text: String = wrong.into_iter().collect();
            let key = normalize(&text);
            if self.taken.contains(&key)
                || self.variant_owner.get(&key).is_some_and(|&o| o != vehicle)
            {
                continue;
            }
            self.variant_owner.insert(key, vehicle);
            return Some(text);
        }
        None
    }
}

fn random_plate(rng: &mut StdRng, region: &Region) -> String {
    let weights: Vec<f64> = region.formats.iter().map(|f| f.1).collect();
    let format = region.formats[weighted_index(rng, &weights)].0;
    format
        .chars()
        .map(|c| match c {
            'L' => char::from(PLATE_LETTERS[rng.random_range(0..PLATE_LETTERS.len())]),
            'D' => char::from(b'0' + rng.random_range(0..10u8)),
            'N' => char::from(b'0' + rng.random_range(7..10u8)),
            other => other,
        })
        .collect()
}

fn special_vehicle(s: &Special) -> Vehicle {
    Vehicle {
        plate: s.plate.to_string(),
        region: s.region,
        make: s.make,
        model: s.model,
        kind: s.kind,
        color: s.color,
    }
}

/// Confidence of a correct read: mostly 0.9+, occasionally down to about 0.7.
fn good_confidence(rng: &mut StdRng) -> f64 {
    round_to(0.99 - 0.30 * rng.random::<f64>().powi(5), 2)
}

/// Confidence of a misread: 0.50–0.74.
fn poor_confidence(rng: &mut StdRng) -> f64 {
    round_to(0.50 + 0.24 * rng.random::<f64>(), 2)
}

/// Builds the vehicle population and every read of the day, sorted by time.
fn simulate_traffic(rng: &mut StdRng, clock: &Clock) -> (Vec<Vehicle>, Vec<Read>) {
    let mut ocr = Ocr {
        taken: HashSet::with_capacity(VEHICLE_COUNT + 1),
        variant_owner: HashMap::new(),
    };
    let mut vehicles = Vec::with_capacity(VEHICLE_COUNT);
    for s in EVERYWHERE.iter().chain(std::iter::once(&COMMUTER)) {
        ocr.taken.insert(normalize(s.plate));
        vehicles.push(special_vehicle(s));
    }
    ocr.taken.insert(normalize(COMMUTER_MISREAD));

    let region_weights: Vec<f64> = REGIONS.iter().map(|r| r.weight).collect();
    let model_weights: Vec<f64> = MODELS.iter().map(|m| m.3).collect();
    let color_weights: Vec<f64> = COLORS.iter().map(|c| c.1).collect();
    while vehicles.len() < VEHICLE_COUNT {
        let region = weighted_index(rng, &region_weights);
        let plate = random_plate(rng, &REGIONS[region]);
        if !ocr.taken.insert(normalize(&plate)) {
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
    // The everywhere vehicles: two fixed tours each, never misread.
    for (v, tours) in EVERYWHERE_TOURS.iter().enumerate() {
        for &(tour, start) in tours {
            let cells = tour_cells(tour);
            let dirs = route_dirs(&cells, rng);
            let mut tod = start + rng.random_range(0..MINUTE);
            for (cell, dir) in cells.into_iter().zip(dirs) {
                let seen = Ocred {
                    text: vehicles[v].plate.clone(),
                    misread: false,
                    confidence: good_confidence(rng),
                };
                reads.push(Read::new(clock, rng, v, &Pass { tod, cell, dir }, seen));
                tod += 150 * SECOND + rng.random_range(0..120 * SECOND);
            }
        }
    }

    // The FACTS commuter: a fixed schedule with one forced misread.
    let commuter = EVERYWHERE.len();
    let mut commuter_passes = Vec::with_capacity(2 * COMMUTER_ROUTE.len());
    for (route, start, hops) in [
        (
            COMMUTER_ROUTE.to_vec(),
            COMMUTER_MORNING_START,
            &COMMUTER_MORNING_HOPS,
        ),
        (
            COMMUTER_ROUTE.iter().rev().copied().collect(),
            COMMUTER_EVENING_START,
            &COMMUTER_EVENING_HOPS,
        ),
    ] {
        let dirs = route_dirs(&route, rng);
        let mut tod = start;
        for (i, (cell, dir)) in route.into_iter().zip(dirs).enumerate() {
            commuter_passes.push(Pass { tod, cell, dir });
            tod += hops.get(i).copied().unwrap_or(0);
        }
    }
    for (i, pass) in commuter_passes.iter().enumerate() {
        let misread = i == COMMUTER_MISREAD_INDEX;
        let seen = Ocred {
            text: if misread {
                COMMUTER_MISREAD
            } else {
                COMMUTER.plate
            }
            .to_string(),
            misread,
            confidence: COMMUTER_CONFIDENCE.get(i).copied().unwrap_or(0.95),
        };
        reads.push(Read::new(clock, rng, commuter, pass, seen));
    }

    // Everybody else.
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

/// Body cameras: four patrol zones × three watches.
fn bodycam_for(cell: Cell, tod: i64) -> String {
    let zone = usize::from(cell.0 >= 4) * 2 + usize::from(cell.1 >= 5);
    let watch = (tod.rem_euclid(DAY) / (8 * HOUR)) as usize;
    format!("bodycam-{:02}", zone * 3 + watch + 1)
}

/// Acoustic gunshot detectors around the school: (id, position in blocks).
static ACOUSTIC: [(&str, (f64, f64)); 6] = [
    ("acoustic-01", (-1.5, -6.0)),
    ("acoustic-02", (1.5, -6.0)),
    ("acoustic-03", (-1.5, -8.5)),
    ("acoustic-04", (1.5, -8.5)),
    ("acoustic-05", (0.0, -5.0)),
    ("acoustic-06", (0.0, -9.5)),
];

/// A gunshot incident near the school.
struct Incident {
    /// Chicago time of day.
    tod: i64,
    /// Position in blocks east of State St and north of Madison St.
    at: (f64, f64),
    /// Detectors within this many metres pick it up.
    radius_m: f64,
    labels: &'static [&'static str],
}

static INCIDENTS: [Incident; 2] = [
    Incident {
        tod: 21 * HOUR + 47 * MINUTE + 13 * SECOND + 400,
        at: (0.3, -7.4),
        radius_m: 700.0,
        labels: &["gunshot"],
    },
    Incident {
        tod: 2 * HOUR + 13 * MINUTE + 41 * SECOND + 80,
        at: (-0.8, -8.9),
        radius_m: 420.0,
        labels: &["gunshot", "multiple_shots"],
    },
];

const SPEED_OF_SOUND: f64 = 343.0;

fn simulate_media(
    rng: &mut StdRng,
    clock: &Clock,
    cameras: &[Camera],
    vehicles: &[Vehicle],
    reads: &[Read],
) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = Vec::with_capacity(2_000);
    let mut keys: HashSet<String> = HashSet::with_capacity(2_000);
    // Adds a manifest, nudging its start by a millisecond if its object key is taken.
    let mut add = |out: &mut Vec<Manifest>, mut m: Manifest, ext: &str| {
        loop {
            let key = media_key(&m.device, m.started, ext);
            if keys.insert(key.clone()) {
                m.object_key = key;
                break;
            }
            m.started += 1;
        }
        out.push(m);
    };
    let mut by_cam: Vec<Vec<usize>> = vec![Vec::new(); cameras.len()];
    let mut pos_in_cam = vec![0usize; reads.len()];
    for (i, r) in reads.iter().enumerate() {
        pos_in_cam[i] = by_cam[r.cam].len();
        by_cam[r.cam].push(i);
    }
    let mut order: Vec<usize> = (0..reads.len()).collect();
    order.shuffle(rng);
    let mut pool = order.into_iter();

    // Stills from the LPR cameras: the very frame the read was made from.
    for i in pool.by_ref().take(IMAGE_MANIFESTS) {
        let r = &reads[i];
        let cam = &cameras[r.cam];
        let mut labels = vec!["vehicle", "license_plate", vehicles[r.vehicle].kind];
        if rng.random_bool(0.15) {
            labels.push("pedestrian");
        }
        let m = Manifest {
            started: r.t,
            device: cam.id.clone(),
            kind: "image",
            duration_ms: 0,
            object_key: String::new(),
            sha256: fake_sha256(rng),
            bytes: rng.random_range(180_000..650_000),
            lat: cam.lat,
            lon: cam.lon,
            labels,
            transcript: None,
            reads: vec![i],
        };
        add(&mut out, m, "jpg");
    }

    // Short clips from the LPR cameras around one read, or two reads close together.
    let mut videos = 0;
    for i in pool.by_ref() {
        if videos == CAMERA_VIDEO_MANIFESTS {
            break;
        }
        let r = &reads[i];
        let mut shown = vec![i];
        if let Some(&j) = by_cam[r.cam].get(pos_in_cam[i] + 1) {
            if reads[j].t - r.t <= 20 * SECOND {
                shown.push(j);
            }
        }
        let last = reads[shown[shown.len() - 1]].t;
        let started = r.t - rng.random_range(2 * SECOND..6 * SECOND);
        let span = last + rng.random_range(3 * SECOND..8 * SECOND) - started;
        let duration_ms = (span + SECOND - 1) / SECOND * SECOND;
        if !clock.contains(started, duration_ms) {
            continue;
        }
        let cam = &cameras[r.cam];
        let mut labels = vec!["vehicle", "traffic"];
        if rng.random_bool(0.2) {
            labels.push("pedestrian");
        }
        let m = Manifest {
            started,
            device: cam.id.clone(),
            kind: "video",
            duration_ms,
            object_key: String::new(),
            sha256: fake_sha256(rng),
            bytes: (duration_ms as u64) * rng.random_range(450..650),
            lat: cam.lat,
            lon: cam.lon,
            labels,
            transcript: None,
            reads: shown,
        };
        add(&mut out, m, "mp4");
        videos += 1;
    }

    // Traffic stops on body cameras, shortly after the stopped vehicle passed a camera.
    let mut stops = 0;
    for i in pool.by_ref() {
        if stops == TRAFFIC_STOP_MANIFESTS {
            break;
        }
        let r = &reads[i];
        if r.vehicle < SPECIAL_COUNT || r.misread {
            continue;
        }
        let started = r.t + rng.random_range(60 * SECOND..240 * SECOND);
        let duration_ms = rng.random_range(90..600) * SECOND + rng.random_range(0..SECOND);
        if !clock.contains(started, duration_ms) {
            continue;
        }
        let cam = &cameras[r.cam];
        let veh = &vehicles[r.vehicle];
        let (lat, lon) = near_camera(rng, cam, 60.0);
        let device = bodycam_for(cam.cell, clock.tod(started));
        let transcript = rng.random_bool(0.7).then(|| {
            let unit = &device[device.len() - 2..];
            let state = REGIONS[veh.region].state;
            match rng.random_range(0..3) {
                0 => format!(
                    "Unit {unit}, traffic stop at {}, {state} plate {}, {} {} {}.",
                    cam.spoken(),
                    veh.plate,
                    veh.color,
                    veh.make,
                    veh.model
                ),
                1 => format!(
                    "Dispatch, running {state} plate {}, {} {} {}, one occupant.",
                    veh.plate, veh.color, veh.make, veh.model
                ),
                _ => format!(
                    "I stopped you because you went through the red light back at {}.",
                    cam.spoken()
                ),
            }
        });
        let m = Manifest {
            started,
            device,
            kind: "video",
            duration_ms,
            object_key: String::new(),
            sha256: fake_sha256(rng),
            bytes: (duration_ms as u64) * rng.random_range(250..400),
            lat,
            lon,
            labels: vec!["traffic_stop", "vehicle", "person"],
            transcript,
            reads: vec![i],
        };
        add(&mut out, m, "mp4");
        stops += 1;
    }

    // Patrol footage and radio traffic on body cameras.
    let sampler = TodSampler::new();
    let patrol_labels: [&[&str]; 5] = [
        &["person"],
        &["person", "crowd"],
        &["person", "vehicle"],
        &["person", "bicycle"],
        &["person", "dog"],
    ];
    for k in 0..PATROL_MANIFESTS + RADIO_MANIFESTS {
        let is_radio = k >= PATROL_MANIFESTS;
        let cam = &cameras[rng.random_range(0..cameras.len())];
        let tod = sampler.sample(rng);
        let duration_ms = if is_radio {
            rng.random_range(8..90) * SECOND + rng.random_range(0..SECOND)
        } else {
            rng.random_range(30..480) * SECOND + rng.random_range(0..SECOND)
        };
        let started = clock.fit(clock.at(tod), duration_ms);
        let device = bodycam_for(cam.cell, tod);
        let unit = device[device.len() - 2..].to_string();
        let (lat, lon) = near_camera(rng, cam, 80.0);
        let spoken = cam.spoken();
        let (kind, ext, labels, transcript, bytes_per_ms) = if is_radio {
            let transcript = rng.random_bool(0.6).then(|| match rng.random_range(0..3) {
                0 => format!("All units, be advised, traffic signal out at {spoken}."),
                1 => format!("Unit {unit}, copy, en route to {spoken}."),
                _ => format!("Dispatch, show me out at {spoken} on a parking complaint."),
            });
            let labels: Vec<&str> = if rng.random_bool(0.5) {
                vec!["radio", "dispatch"]
            } else {
                vec!["radio"]
            };
            ("audio", "m4a", labels, transcript, 16)
        } else {
            let transcript = rng.random_bool(0.3).then(|| match rng.random_range(0..3) {
                0 => format!("Unit {unit} on foot at {spoken}, checking on a disturbance."),
                1 => "Sir, can you step back onto the sidewalk for me?".to_string(),
                _ => format!("Dispatch, {spoken} is clear, resuming patrol."),
            });
            let labels = patrol_labels[rng.random_range(0..patrol_labels.len())].to_vec();
            (
                "video",
                "mp4",
                labels,
                transcript,
                rng.random_range(250..400),
            )
        };
        let m = Manifest {
            started,
            device,
            kind,
            duration_ms,
            object_key: String::new(),
            sha256: fake_sha256(rng),
            bytes: (duration_ms as u64) * bytes_per_ms,
            lat,
            lon,
            labels,
            transcript,
            reads: Vec::new(),
        };
        add(&mut out, m, ext);
    }

    // Acoustic detectors: the gunshot incidents, then ordinary loud noises.
    let mut acoustic = 0;
    for incident in &INCIDENTS {
        for (id, pos) in ACOUSTIC {
            let dist = (pos.0 - incident.at.0).hypot(pos.1 - incident.at.1) * BLOCK_M;
            if dist > incident.radius_m {
                continue;
            }
            let heard = clock.at(incident.tod) + (dist / SPEED_OF_SOUND * 1000.0) as i64;
            let duration_ms = 8 * SECOND;
            let (lat, lon) = blocks_to_lat_lon(pos.0, pos.1);
            let m = Manifest {
                started: clock.fit(heard - 2 * SECOND, duration_ms),
                device: id.to_string(),
                kind: "audio",
                duration_ms,
                object_key: String::new(),
                sha256: fake_sha256(rng),
                bytes: duration_ms as u64 * 32 + 44,
                lat,
                lon,
                labels: incident.labels.to_vec(),
                transcript: None,
                reads: Vec::new(),
            };
            add(&mut out, m, "wav");
            acoustic += 1;
        }
    }
    // An officer answering the first incident.
    {
        let tod = INCIDENTS[0].tod;
        let duration_ms = 6 * MINUTE + 12 * SECOND;
        let (lat, lon) = blocks_to_lat_lon(SCHOOL_BLOCKS.0 + 0.1, SCHOOL_BLOCKS.1 - 0.2);
        let device = bodycam_for((3, 1), tod);
        let m = Manifest {
            started: clock.fit(clock.at(tod + 4 * MINUTE + 20 * SECOND), duration_ms),
            transcript: Some(format!(
                "Dispatch, unit {} on scene at Jones College Prep, State and Polk, checking for shell casings.",
                &device[device.len() - 2..]
            )),
            device,
            kind: "video",
            duration_ms,
            object_key: String::new(),
            sha256: fake_sha256(rng),
            bytes: duration_ms as u64 * 320,
            lat,
            lon,
            labels: vec!["person", "police_response"],
            reads: Vec::new(),
        };
        add(&mut out, m, "mp4");
    }
    let noises: [(&[&str], f64); 5] = [
        (&["firework"], 3.0),
        (&["vehicle_backfire"], 3.0),
        (&["construction"], 4.0),
        (&["siren"], 3.0),
        (&["car_horn"], 2.0),
    ];
    let noise_weights: Vec<f64> = noises.iter().map(|n| n.1).collect();
    while acoustic < ACOUSTIC_MANIFESTS {
        let (id, pos) = ACOUSTIC[rng.random_range(0..ACOUSTIC.len())];
        let labels = noises[weighted_index(rng, &noise_weights)].0;
        let duration_ms = rng.random_range(4..9) * SECOND;
        let (lat, lon) = blocks_to_lat_lon(pos.0, pos.1);
        let m = Manifest {
            started: clock.fit(clock.at(sampler.sample(rng)), duration_ms),
            device: id.to_string(),
            kind: "audio",
            duration_ms,
            object_key: String::new(),
            sha256: fake_sha256(rng),
            bytes: duration_ms as u64 * 32 + 44,
            lat,
            lon,
            labels: labels.to_vec(),
            transcript: None,
            reads: Vec::new(),
        };
        add(&mut out, m, "wav");
        acoustic += 1;
    }

    out.sort_by(|a, b| (a.started, &a.device).cmp(&(b.started, &b.device)));
    out
}

/// A spot on one of the streets meeting at `cam`, up to `max_m` metres from the corner.
fn near_camera(rng: &mut StdRng, cam: &Camera, max_m: f64) -> (f64, f64) {
    let (x, y) = cell_blocks(cam.cell);
    let along = rng.random_range(-max_m..max_m) / BLOCK_M;
    if rng.random_bool(0.5) {
        blocks_to_lat_lon(x + along, y)
    } else {
        blocks_to_lat_lon(x, y + along)
    }
}

/// Chicago monthly mean temperature, °C (1991–2020 normals, rounded).
static MONTHLY_MEAN_C: [f64; 12] = [
    -4.6, -2.6, 3.2, 9.3, 15.2, 20.8, 23.6, 22.8, 18.8, 12.0, 5.1, -1.3,
];

fn simulate_sensors(rng: &mut StdRng, clock: &Clock) -> Vec<Sample> {
    let month = utc_fields(clock.end + clock.utc_offset).1 as usize;
    let mean_c = MONTHLY_MEAN_C
        .get(month.wrapping_sub(1))
        .copied()
        .unwrap_or(10.0);
    // Slow weather and air-mass drift shared by all sensors, one value per 5-minute slot.
    let mut drift = Vec::with_capacity(SAMPLES_PER_SERIES);
    let (mut w, mut a) = (0.0f64, 0.0f64);
    for _ in 0..SAMPLES_PER_SERIES {
        w = 0.985 * w + 0.08 * gauss(rng);
        a = 0.97 * a + 0.15 * gauss(rng);
        drift.push((w, a));
    }
    let mut samples = Vec::with_capacity(SAMPLES_PER_SERIES * 28);
    for (s, (_, cell, metrics)) in SENSORS.iter().enumerate() {
        let lakefront = cell.0 == GRID_W - 1;
        let site_bias = (s % 5) as f64 - 2.0;
        for (m, &metric) in metrics.iter().enumerate() {
            // Each series reports a few seconds after every 5-minute mark.
            let phase = ((s * 37 + m * 11) % 59 + 1) as i64 * SECOND + rng.random_range(0..SECOND);
            let mut t = clock.start.div_euclid(SAMPLE_PERIOD) * SAMPLE_PERIOD + phase;
            if t <= clock.start {
                t += SAMPLE_PERIOD;
            }
            if t + (SAMPLES_PER_SERIES as i64 - 1) * SAMPLE_PERIOD >= clock.end {
                t -= 1;
            }
            for &(w, a) in &drift {
                let h = hour_of(clock.tod(t));
                let load = traffic_profile(h);
                let value = match metric {
                    Metric::TempC => {
                        let daily = 4.0 * (std::f64::consts::TAU * (h - 15.0) / 24.0).cos();
                        let lake = if lakefront { -0.8 } else { 0.1 * site_bias };
                        round_to(mean_c + daily + lake + 3.0 * w + 0.15 * gauss(rng), 1)
                    }
                    Metric::Pm25 => {
                        let v = 6.0 + 11.0 * load + 0.6 * site_bias + 2.5 * a + 0.8 * gauss(rng);
                        round_to(v.max(1.0), 1)
                    }
                    Metric::NoiseDb => {
                        let road = if lakefront { 4.0 } else { 0.8 * site_bias };
                        let v = 50.0 + 21.0 * load + road + 1.5 * gauss(rng);
                        round_to(v.clamp(38.0, 95.0), 1)
                    }
                    Metric::TrafficCount => {
                        let capacity = if lakefront {
                            1_050.0
                        } else {
                            260.0 + 15.0 * site_bias
                        };
                        let mean = capacity * load;
                        (mean + mean.sqrt() * gauss(rng) + 0.05 * mean * gauss(rng))
                            .round()
                            .max(0.0)
                    }
                };
                samples.push(Sample {
                    sensor: s,
                    metric,
                    t,
                    value,
                });
                t += SAMPLE_PERIOD;
            }
        }
    }
    samples.sort_by_key(|x| (x.t, x.sensor));
    samples
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

fn read_id(i: usize) -> String {
    format!("demo-r-{:07}", i + 1)
}

impl Day {
    fn read_json(&self, i: usize, r: &Read) -> Value {
        let cam = &self.cameras[r.cam];
        let v = &self.vehicles[r.vehicle];
        let (x, y) = cell_blocks(cam.cell);
        let (lat, lon) = blocks_to_lat_lon(x + r.jitter_m.0 / BLOCK_M, y + r.jitter_m.1 / BLOCK_M);
        let mut vehicle = Map::new();
        vehicle.insert("make".into(), Value::from(v.make));
        vehicle.insert("model".into(), Value::from(v.model));
        vehicle.insert("color".into(), Value::from(v.color));
        vehicle.insert("type".into(), Value::from(v.kind));
        let mut obj = Map::new();
        obj.insert("id".into(), Value::from(read_id(i)));
        obj.insert("camera_id".into(), Value::from(cam.id.as_str()));
        obj.insert("captured_at".into(), Value::from(rfc3339(r.t)));
        obj.insert("plate".into(), Value::from(r.text.as_str()));
        obj.insert("region".into(), Value::from(REGIONS[v.region].code));
        obj.insert("confidence".into(), Value::from(r.confidence));
        obj.insert("lat".into(), Value::from(round_to(lat, 6)));
        obj.insert("lon".into(), Value::from(round_to(lon, 6)));
        obj.insert("vehicle".into(), Value::Object(vehicle));
        obj.insert("direction".into(), Value::from(r.dir.as_str()));
        obj.insert(
            "image_key".into(),
            Value::from(media_key(&cam.id, r.t, "jpg")),
        );
        Value::Object(obj)
    }

    fn manifest_json(&self, i: usize, m: &Manifest) -> Value {
        let mut obj = Map::new();
        obj.insert("id".into(), json!(format!("demo-m-{:06}", i + 1)));
        obj.insert("device_id".into(), json!(m.device));
        obj.insert("kind".into(), json!(m.kind));
        obj.insert("started_at".into(), json!(rfc3339(m.started)));
        obj.insert("duration_ms".into(), json!(m.duration_ms));
        obj.insert("object_key".into(), json!(m.object_key));
        obj.insert("sha256".into(), json!(m.sha256));
        obj.insert("bytes".into(), json!(m.bytes));
        obj.insert("lat".into(), json!(round_to(m.lat, 6)));
        obj.insert("lon".into(), json!(round_to(m.lon, 6)));
        obj.insert("labels".into(), json!(m.labels));
        if let Some(t) = &m.transcript {
            obj.insert("transcript".into(), json!(t));
        }
        let ids: Vec<String> = m.reads.iter().map(|&r| read_id(r)).collect();
        obj.insert("read_ids".into(), json!(ids));
        Value::Object(obj)
    }

    fn sample_json(&self, s: &Sample) -> Value {
        let (id, cell, _) = SENSORS[s.sensor];
        let site = self.cameras[cam_index(cell)].corner();
        json!({
            "sensor_id": id,
            "metric": s.metric.name(),
            "ts": rfc3339(s.t),
            "value": s.value,
            "tags": {"site": site, "unit": s.metric.unit()},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, SecondsFormat};
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::OnceLock;

    /// 2026-11-20T18:00:00Z (noon in Chicago, CST).
    const END: i64 = 1_795_197_600_000;
    /// 2026-07-04T03:17:45.123Z (late evening in Chicago, CDT): an unaligned end in summer.
    const END_SUMMER: i64 = 1_783_135_065_123;

    fn day42() -> &'static DemoData {
        static DAY: OnceLock<DemoData> = OnceLock::new();
        DAY.get_or_init(|| generate_day(42, END))
    }

    /// The same day before it is turned into JSON, with the ground truth behind every read.
    fn truth42() -> &'static Day {
        static DAY: OnceLock<Day> = OnceLock::new();
        DAY.get_or_init(|| simulate(42, END))
    }

    fn ms(v: &Value) -> i64 {
        let s = v.as_str().expect("timestamp is a string");
        assert!(
            s.ends_with('Z') && s.len() == 24,
            "not RFC 3339 UTC millis: {s}"
        );
        DateTime::parse_from_rfc3339(s)
            .expect("valid RFC 3339")
            .timestamp_millis()
    }

    fn plate(r: &Value) -> String {
        normalize(r["plate"].as_str().expect("plate"))
    }

    fn reads_of<'a>(d: &'a DemoData, normalized: &str) -> Vec<&'a Value> {
        d.reads.iter().filter(|r| plate(r) == normalized).collect()
    }

    fn chicago_hour(t: i64) -> f64 {
        hour_of(Clock::new(END).tod(t))
    }

    fn matches_format(text: &str, format: &str) -> bool {
        text.len() == format.len()
            && text.chars().zip(format.chars()).all(|(c, f)| match f {
                'L' => PLATE_LETTERS.contains(&(c as u8)),
                'D' => c.is_ascii_digit(),
                'N' => ('7'..='9').contains(&c),
                lit => c == lit,
            })
    }

    fn region_formats(code: &str) -> &'static [(&'static str, f64)] {
        REGIONS
            .iter()
            .find(|r| r.code == code)
            .map(|r| r.formats)
            .expect("known region")
    }

    /// Some one-character OCR confusion of `text` that is a well-formed plate of `region`.
    fn corrected(text: &str, region: &str) -> Option<String> {
        let chars: Vec<char> = text.chars().collect();
        (0..chars.len()).find_map(|i| {
            let mut fixed = chars.clone();
            fixed[i] = ocr_confusion(chars[i])?;
            let fixed: String = fixed.into_iter().collect();
            region_formats(region)
                .iter()
                .any(|(f, _)| matches_format(&fixed, f))
                .then_some(fixed)
        })
    }

    fn counts_by_plate(d: &DemoData) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in &d.reads {
            *counts.entry(plate(r)).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn same_seed_and_end_give_identical_output() {
        let again = generate_day(42, END);
        let first = day42();
        assert!(first.reads == again.reads);
        assert!(first.manifests == again.manifests);
        assert!(first.series == again.series);
    }

    #[test]
    fn a_different_seed_gives_a_different_day() {
        let other = generate_day(43, END);
        assert_ne!(counts_by_plate(day42()), counts_by_plate(&other));
    }

    #[test]
    fn read_counts_per_plate_depend_only_on_the_seed() {
        let summer = generate_day(42, END_SUMMER);
        assert_eq!(counts_by_plate(day42()), counts_by_plate(&summer));
        assert_eq!(day42().manifests.len(), summer.manifests.len());
        assert_eq!(day42().series.len(), summer.series.len());
    }

    #[test]
    fn every_timestamp_is_strictly_inside_the_24h_window() {
        for (end, d) in [(END, day42()), (END_SUMMER, &generate_day(7, END_SUMMER))] {
            let inside = |t: i64| t > end - DAY && t < end;
            for r in &d.reads {
                assert!(inside(ms(&r["captured_at"])), "{r}");
            }
            for m in &d.manifests {
                let start = ms(&m["started_at"]);
                let duration = m["duration_ms"].as_i64().expect("duration");
                assert!(inside(start) && inside(start + duration), "{m}");
            }
            for s in &d.series {
                assert!(inside(ms(&s["ts"])), "{s}");
            }
        }
    }

    #[test]
    fn reads_have_every_field_with_the_right_type() {
        type Check = fn(&Value) -> bool;
        let table: [(&str, Check); 12] = [
            ("id", |v| {
                v.as_str()
                    .is_some_and(|s| s.starts_with("demo-r-") && s.len() == 14)
            }),
            ("camera_id", |v| {
                v.as_str()
                    .is_some_and(|s| s.starts_with("cam-") && s.len() == 7)
            }),
            ("captured_at", |v| {
                v.as_str()
                    .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok())
            }),
            ("plate", |v| {
                v.as_str().is_some_and(|s| (6..=8).contains(&s.len()))
            }),
            ("region", |v| {
                v.as_str()
                    .is_some_and(|s| ["US-IL", "US-IN", "US-WI", "US-MI", "US-CA"].contains(&s))
            }),
            ("confidence", |v| {
                v.as_f64().is_some_and(|c| (0.5..=0.99).contains(&c))
            }),
            ("lat", |v| {
                v.as_f64().is_some_and(|x| (41.84..41.92).contains(&x))
            }),
            ("lon", |v| {
                v.as_f64().is_some_and(|x| (-87.67..-87.59).contains(&x))
            }),
            ("vehicle", |v| {
                ["make", "model", "color", "type"]
                    .iter()
                    .all(|k| v[*k].is_string())
                    && v.as_object().is_some_and(|o| o.len() == 4)
            }),
            ("vehicle.type", |v| {
                ["sedan", "suv", "pickup", "van", "hatchback"]
                    .contains(&v["type"].as_str().unwrap_or(""))
            }),
            ("direction", |v| {
                v.as_str()
                    .is_some_and(|s| ["N", "S", "E", "W"].contains(&s))
            }),
            ("image_key", |v| {
                v.as_str()
                    .is_some_and(|s| s.starts_with("media/cam-") && s.ends_with(".jpg"))
            }),
        ];
        for r in &day42().reads {
            assert_eq!(r.as_object().map(|o| o.len()), Some(11), "{r}");
            for (field, ok) in &table {
                let v = match *field {
                    "vehicle.type" => &r["vehicle"],
                    f => &r[f],
                };
                assert!(ok(v), "bad {field} in {r}");
            }
            let key = r["image_key"].as_str().unwrap_or("");
            assert!(key.starts_with(&format!("media/{}/", r["camera_id"].as_str().unwrap_or(""))));
            let v = &r["vehicle"];
            assert!(
                MODELS
                    .iter()
                    .any(|m| v["make"] == m.0 && v["model"] == m.1 && v["type"] == m.2),
                "make, model and body type must be a known combination: {r}"
            );
        }
    }

    #[test]
    fn reads_are_sorted_by_time_with_sequential_unique_ids() {
        let reads = &day42().reads;
        for (i, r) in reads.iter().enumerate() {
            assert_eq!(r["id"], json!(format!("demo-r-{:07}", i + 1)));
        }
        assert!(reads
            .windows(2)
            .all(|w| ms(&w[0]["captured_at"]) <= ms(&w[1]["captured_at"])));
        let keys: HashSet<&str> = reads
            .iter()
            .filter_map(|r| r["image_key"].as_str())
            .collect();
        assert_eq!(keys.len(), reads.len(), "image keys are unique");
    }

    #[test]
    fn volumes_match_a_realistic_downtown_day() {
        let d = day42();
        let day = truth42();
        let distinct_vehicles: HashSet<&str> =
            day.vehicles.iter().map(|v| v.plate.as_str()).collect();
        let cameras: HashSet<&str> = d
            .reads
            .iter()
            .filter_map(|r| r["camera_id"].as_str())
            .collect();
        let sensors: HashSet<&str> = d
            .series
            .iter()
            .filter_map(|s| s["sensor_id"].as_str())
            .collect();
        let table: [(&str, usize, std::ops::RangeInclusive<usize>); 6] = [
            ("reads", d.reads.len(), 80_000..=120_000),
            (
                "distinct vehicles",
                distinct_vehicles.len(),
                19_000..=21_000,
            ),
            ("cameras", cameras.len(), 60..=100),
            ("manifests", d.manifests.len(), 1_800..=2_200),
            ("sensors", sensors.len(), 18..=22),
            ("sensor samples", d.series.len(), 28 * 288..=28 * 288),
        ];
        for (what, n, range) in table {
            assert!(range.contains(&n), "{what}: {n} not in {range:?}");
        }
        assert_eq!(cameras.len(), FACTS.camera_count);
    }

    #[test]
    fn plates_follow_their_region_format_up_to_one_ocr_confusion() {
        let examples = [
            ("US-IL", "AB 12345"),
            ("US-IL", "A12 3456"),
            ("US-IN", "123ABC"),
            ("US-WI", "ABC-1234"),
            ("US-MI", "ABC 1234"),
            ("US-CA", "7ABC123"),
        ];
        for (region, example) in examples {
            assert!(
                region_formats(region)
                    .iter()
                    .any(|(f, _)| matches_format(example, f)),
                "{region} {example}"
            );
        }
        let mut by_region: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &day42().reads {
            let region = r["region"].as_str().unwrap_or("");
            let text = r["plate"].as_str().unwrap_or("");
            *by_region.entry(region).or_insert(0) += 1;
            let well_formed = region_formats(region)
                .iter()
                .any(|(f, _)| matches_format(text, f));
            assert!(well_formed || corrected(text, region).is_some(), "{r}");
        }
        let total = day42().reads.len() as f64;
        assert!(by_region["US-IL"] as f64 / total > 0.8, "{by_region:?}");
        for region in ["US-IN", "US-WI", "US-MI", "US-CA"] {
            assert!(
                by_region.get(region).is_some_and(|&n| n > 100),
                "{by_region:?}"
            );
        }
    }

    #[test]
    fn facts_everywhere_plate_is_read_154_times_at_every_camera_never_misread() {
        let reads = reads_of(day42(), FACTS.everywhere_plate);
        let cameras: BTreeSet<&str> = reads
            .iter()
            .filter_map(|r| r["camera_id"].as_str())
            .collect();
        assert_eq!(reads.len(), 154);
        assert_eq!(cameras.len(), 77);
        assert!(reads.len() >= 60 && cameras.len() >= 60);
        assert!(reads
            .iter()
            .all(|r| r["confidence"].as_f64().unwrap_or(0.0) >= 0.69));
        assert!(reads.iter().all(|r| r["plate"] == json!("KD 40917")));
        // No misread of the van exists under some other spelling.
        let day = truth42();
        assert!(day
            .reads
            .iter()
            .filter(|r| r.vehicle == 0)
            .all(|r| !r.misread));
        assert_eq!(normalize(EVERYWHERE[0].plate), FACTS.everywhere_plate);
    }

    #[test]
    fn facts_commuter_drives_in_each_morning_and_out_each_evening() {
        let reads = reads_of(day42(), FACTS.commuter_plate);
        let variant = reads_of(day42(), FACTS.ocr_variant_of_commuter);
        assert_eq!(reads.len(), 9);
        assert_eq!(variant.len(), 1);
        assert!(variant[0]["confidence"].as_f64().unwrap_or(1.0) < 0.75);
        assert_eq!(variant[0]["vehicle"], reads[0]["vehicle"]);
        let hours: Vec<f64> = reads
            .iter()
            .chain(&variant)
            .map(|r| chicago_hour(ms(&r["captured_at"])))
            .collect();
        let morning = hours.iter().filter(|h| (7.0..9.5).contains(*h)).count();
        let evening = hours.iter().filter(|h| (16.0..19.0).contains(*h)).count();
        assert_eq!((morning, evening), (5, 5), "{hours:?}");
        assert_eq!(normalize(COMMUTER.plate), FACTS.commuter_plate);
        assert_eq!(normalize(COMMUTER_MISREAD), FACTS.ocr_variant_of_commuter);
        assert_eq!(
            corrected(COMMUTER_MISREAD, "US-IL"),
            Some(COMMUTER.plate.to_string())
        );
    }

    #[test]
    fn facts_hold_for_other_seeds_too() {
        for seed in [0, 1, 7, u64::MAX] {
            let day = simulate(seed, END_SUMMER);
            let count = |p: &str| day.reads.iter().filter(|r| normalize(&r.text) == p).count();
            let table = [
                (FACTS.everywhere_plate, 154),
                (FACTS.commuter_plate, 9),
                (FACTS.ocr_variant_of_commuter, 1),
            ];
            for (plate, n) in table {
                assert_eq!(count(plate), n, "seed {seed}: {plate}");
            }
        }
    }

    #[test]
    fn about_two_percent_of_reads_are_misread_with_low_confidence() {
        let day = truth42();
        let misread = day.reads.iter().filter(|r| r.misread).count();
        let fraction = misread as f64 / day.reads.len() as f64;
        assert!((0.015..0.025).contains(&fraction), "{fraction}");
        for r in &day.reads {
            let truth = &day.vehicles[r.vehicle].plate;
            assert_eq!(r.misread, &r.text != truth);
            if r.misread {
                assert!(r.confidence < 0.75);
                let diff: Vec<(char, char)> = r
                    .text
                    .chars()
                    .zip(truth.chars())
                    .filter(|(a, b)| a != b)
                    .collect();
                assert_eq!(diff.len(), 1);
                assert_eq!(ocr_confusion(diff[0].1), Some(diff[0].0));
            }
        }
    }

    #[test]
    fn a_plate_always_belongs_to_the_same_vehicle_and_region() {
        let mut seen: HashMap<String, (Value, Value)> = HashMap::new();
        for r in &day42().reads {
            let who = (r["vehicle"].clone(), r["region"].clone());
            let first = seen.entry(plate(r)).or_insert_with(|| who.clone());
            assert_eq!(*first, who, "{r}");
        }
    }

    #[test]
    fn cameras_sit_on_a_regular_grid_centred_near_state_and_madison() {
        let cams = cameras();
        assert!((60..=100).contains(&cams.len()));
        let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
        let (mut sum_x, mut sum_y) = (0.0, 0.0);
        for (i, c) in cams.iter().enumerate() {
            assert_eq!(c.id, format!("cam-{:03}", i + 1));
            let x = (c.lon - CENTER_LON) * m_per_deg_lon;
            let y = (c.lat - CENTER_LAT) * M_PER_DEG_LAT;
            // On a street every other block: odd blocks east–west, even blocks north–south.
            let (bx, by) = (x / BLOCK_M, y / BLOCK_M);
            assert!(
                (bx - bx.round()).abs() < 1e-6 && bx.round() as i64 % 2 != 0,
                "{}",
                c.corner()
            );
            assert!(
                (by - by.round()).abs() < 1e-6 && by.round() as i64 % 2 == 0,
                "{}",
                c.corner()
            );
            sum_x += x;
            sum_y += y;
        }
        let n = cams.len() as f64;
        assert!(
            (sum_x / n).hypot(sum_y / n) < 300.0,
            "centroid off by too much"
        );
        assert_eq!(cams[0].corner(), "Union Ave & Oak St");
        assert_eq!(cams[cam_index((3, 5))].spoken(), "Clark and Madison");
    }

    #[test]
    fn read_positions_are_within_5m_of_their_camera() {
        let cams: HashMap<String, (f64, f64)> = cameras()
            .into_iter()
            .map(|c| (c.id, (c.lat, c.lon)))
            .collect();
        let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
        for r in &day42().reads {
            let (lat, lon) = cams[r["camera_id"].as_str().unwrap_or("")];
            let dy = (r["lat"].as_f64().unwrap_or(0.0) - lat) * M_PER_DEG_LAT;
            let dx = (r["lon"].as_f64().unwrap_or(0.0) - lon) * m_per_deg_lon;
            assert!(dx.hypot(dy) < 5.0, "{r}");
        }
    }

    #[test]
    fn traffic_is_heavy_at_rush_hour_and_light_at_3am() {
        assert!((HOURLY_TRAFFIC.iter().sum::<f64>() - 100.0).abs() < 1e-9);
        assert!((traffic_profile(17.5) - 1.0).abs() < 1e-9);
        let mut per_hour = [0usize; 24];
        for r in &day42().reads {
            per_hour[chicago_hour(ms(&r["captured_at"])) as usize] += 1;
        }
        assert!(per_hour[3] * 5 < per_hour[8], "{per_hour:?}");
        assert!(per_hour[3] * 5 < per_hour[17], "{per_hour:?}");
        assert!(per_hour[12] > per_hour[22], "{per_hour:?}");
    }

    #[test]
    fn manifests_are_well_formed_and_reference_their_cameras_reads() {
        let d = day42();
        let reads: HashMap<&str, &Value> = d
            .reads
            .iter()
            .filter_map(|r| Some((r["id"].as_str()?, r)))
            .collect();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for (i, m) in d.manifests.iter().enumerate() {
            assert_eq!(m["id"], json!(format!("demo-m-{:06}", i + 1)));
            let kind = m["kind"].as_str().unwrap_or("");
            let device = m["device_id"].as_str().unwrap_or("");
            *kinds
                .entry(format!("{}:{kind}", device.split('-').next().unwrap_or("")))
                .or_insert(0) += 1;
            assert!(["image", "video", "audio"].contains(&kind), "{m}");
            let sha = m["sha256"].as_str().unwrap_or("");
            assert!(
                sha.len() == 64
                    && sha
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            assert!(m["bytes"].as_u64().is_some_and(|b| b > 0));
            assert!(m["object_key"]
                .as_str()
                .is_some_and(|k| k.starts_with(&format!("media/{device}/"))));
            assert!(m["lat"].is_f64() && m["lon"].is_f64() && m["labels"].is_array());
            if m.get("transcript").is_some() {
                assert!(kind != "image" && !device.starts_with("acoustic"), "{m}");
            }
            let ids = m["read_ids"].as_array().expect("read_ids");
            if device.starts_with("cam-") {
                assert!((1..=2).contains(&ids.len()), "{m}");
                let start = ms(&m["started_at"]);
                let end = start + m["duration_ms"].as_i64().unwrap_or(0);
                for id in ids {
                    let r = reads[id.as_str().unwrap_or("")];
                    assert_eq!(r["camera_id"], m["device_id"]);
                    assert!((start..=end).contains(&ms(&r["captured_at"])));
                    if kind == "image" {
                        assert_eq!(r["image_key"], m["object_key"]);
                    }
                }
            }
            for id in ids {
                assert!(reads.contains_key(id.as_str().unwrap_or("")));
            }
        }
        let expected = [
            ("cam:image", 1_200),
            ("cam:video", 300),
            ("bodycam:video", 300),
            ("bodycam:audio", 100),
            ("acoustic:audio", 100),
        ];
        assert_eq!(
            kinds,
            expected.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        );
        let two_reads = d
            .manifests
            .iter()
            .filter(|m| m["read_ids"].as_array().is_some_and(|a| a.len() == 2))
            .count();
        assert!(two_reads > 30, "{two_reads}");
    }

    #[test]
    fn gunshot_clips_come_from_detectors_near_the_school() {
        let school = blocks_to_lat_lon(SCHOOL_BLOCKS.0, SCHOOL_BLOCKS.1);
        let m_per_deg_lon = M_PER_DEG_LAT * CENTER_LAT.to_radians().cos();
        let gunshots: Vec<&Value> = day42()
            .manifests
            .iter()
            .filter(|m| {
                m["labels"]
                    .as_array()
                    .is_some_and(|l| l.contains(&json!("gunshot")))
            })
            .collect();
        assert!(gunshots.len() >= 5, "{}", gunshots.len());
        for m in gunshots {
            assert_eq!(m["kind"], json!("audio"));
            let dy = (m["lat"].as_f64().unwrap_or(0.0) - school.0) * M_PER_DEG_LAT;
            let dx = (m["lon"].as_f64().unwrap_or(0.0) - school.1) * m_per_deg_lon;
            assert!(dx.hypot(dy) < 600.0, "{m}");
        }
    }

    #[test]
    fn sensor_series_sample_every_5_minutes_with_daily_cycles() {
        let mut series: BTreeMap<(String, String), Vec<(i64, f64)>> = BTreeMap::new();
        for s in &day42().series {
            let key = (
                s["sensor_id"].as_str().unwrap_or("").to_string(),
                s["metric"].as_str().unwrap_or("").to_string(),
            );
            series
                .entry(key)
                .or_default()
                .push((ms(&s["ts"]), s["value"].as_f64().expect("value")));
            assert!(s["tags"]["site"].is_string() && s["tags"]["unit"].is_string());
        }
        assert_eq!(series.len(), 28);
        let mean_at = |points: &[(i64, f64)], from: f64, to: f64| {
            let v: Vec<f64> = points
                .iter()
                .filter(|(t, _)| (from..to).contains(&chicago_hour(*t)))
                .map(|p| p.1)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        for ((sensor, metric), points) in &series {
            assert_eq!(points.len(), 288, "{sensor} {metric}");
            assert!(points.windows(2).all(|w| w[1].0 - w[0].0 == SAMPLE_PERIOD));
            let (night, rush, afternoon, dawn) = (
                mean_at(points, 2.0, 4.0),
                mean_at(points, 17.0, 18.0),
                mean_at(points, 14.0, 16.0),
                mean_at(points, 5.0, 7.0),
            );
            match metric.as_str() {
                "traffic_count" => assert!(rush > 4.0 * night, "{sensor}: {rush} vs {night}"),
                "noise_db" => assert!(rush > night + 8.0, "{sensor}: {rush} vs {night}"),
                "pm25" => assert!(rush > night, "{sensor}: {rush} vs {night}"),
                "temp_c" => assert!(afternoon > dawn + 3.0, "{sensor}: {afternoon} vs {dawn}"),
                other => panic!("unexpected metric {other}"),
            }
        }
    }

    #[test]
    fn chicago_time_follows_us_daylight_saving_rules() {
        let table = [
            (1_795_197_600_000, -6), // 2026-11-20 CST
            (1_783_135_065_123, -5), // 2026-07-04 CDT
            (1_772_956_799_000, -6), // 2026-03-08 01:59:59 CST
            (1_772_956_800_000, -5), // 2026-03-08 03:00:00 CDT
            (1_793_516_399_000, -5), // 2026-11-01 01:59:59 CDT
            (1_793_516_400_000, -6), // 2026-11-01 01:00:00 CST
        ];
        for (t, hours) in table {
            assert_eq!(chicago_utc_offset(t), hours * HOUR, "{t}");
        }
    }

    #[test]
    fn clock_places_every_time_of_day_strictly_inside_the_window() {
        for end in [END, END_SUMMER, END - END.rem_euclid(DAY)] {
            let clock = Clock::new(end);
            for tod in [0, 1, HOUR, DAY - 1, DAY, -1, 3 * DAY + 5] {
                let t = clock.at(tod);
                assert!(t > end - DAY && t < end);
                if t != clock.start + 1 {
                    assert_eq!(clock.tod(t), tod.rem_euclid(DAY));
                }
            }
        }
        assert!(Clock::new(i64::MIN).end > 0 && Clock::new(i64::MAX).end < i64::MAX);
        let _ = generate_day(1, i64::MIN);
    }
    #[test]
    fn timestamps_and_media_keys_are_formatted_like_chrono_would() {
        for t in [
            0,
            951_782_400_000,
            1_795_197_600_000,
            1_783_135_065_123,
            4_107_542_399_999,
            MAX_END_MS,
        ] {
            let dt = DateTime::from_timestamp_millis(t).expect("in range");
            assert_eq!(rfc3339(t), dt.to_rfc3339_opts(SecondsFormat::Millis, true));
            let key = format!("media/cam-001/{}.jpg", dt.format("%Y-%m-%d/%H%M%S%3f"));
            assert_eq!(media_key("cam-001", t, "jpg"), key);
        }
        assert_eq!(rfc3339(1_795_197_600_000), "2026-11-20T18:00:00.000Z");
    }
}
