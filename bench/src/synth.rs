//! A deterministic synthetic LPR workload: 400 cameras on a grid over downtown Chicago, a
//! plate pool sized so that a plate has tens of reads over the span (a fifth of the plates
//! are regulars carrying 60 % of the reads, about 90 each; the rest about 15 each), a few
//! target plates with fixed counts around the page size (1, 2, 5, 10, 40, 99, 100, 101,
//! 250, 1,000), and reads in capture-time order, as a fleet replaying its backlog sends
//! them. Every read carries its camera's position.
//!
//! When there are at least [`PLANT_MIN_READS_PER_HOUR`] reads an hour, two patterns the
//! analyses look for are planted (overwriting free reads, as the targets do, so a few
//! hundred pool plates lose a read each; the counts stay exact):
//!
//! - [`ROAMERS`] *roaming* plates (`RM00001`, ...), each read by 3 distinct cameras (a new
//!   random trio every window) inside every aligned 1-hour window of the span ([`Roam`]):
//!   what a co-location search over those three places and that hour must find;
//! - [`CONVOYS`] convoys: a lead plate (`CL00001`, ...) on a 4-camera trip every 6 hours,
//!   5 minutes between cameras, and its follower (`CF00001`, ...) read by the same camera
//!   20 to 40 s after each lead read ([`Convoy`]).
//!
//! Everything follows from [`WorkloadParams`]: the same parameters give the same reads, and
//! [`Workload::count`] is the exact number of reads of each plate, which is what a search
//! over the whole span must answer as its `total`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sightline_storage::time::{format_rfc3339_ms, DAY_MS};

/// A plate read as a camera would send it (the shape of `node/tests/common`).
pub fn read_json(id: Option<&str>, camera: &str, captured_at_ms: i64, plate: &str) -> Value {
    let mut read = json!({
        "camera_id": camera, "captured_at": format_rfc3339_ms(captured_at_ms), "plate": plate,
        "region": "US-IL", "confidence": 0.9, "lat": 41.8819, "lon": -87.6278,
        "vehicle": {"make": "Toyota", "model": "Camry", "color": "silver", "type": "sedan"},
        "direction": "N"
    });
    if let Some(id) = id {
        read["id"] = id.into();
    }
    read
}

/// Reads of each target plate, in order; a target is used only while the targets' reads
/// stay within a quarter of the workload.
pub const TARGET_COUNTS: [u64; 10] = [1, 2, 5, 10, 40, 99, 100, 101, 250, 1_000];

/// Cameras on a 20 × 20 grid.
const GRID: usize = 20;
/// Bounding box of the camera grid (downtown Chicago).
const LAT: (f64, f64) = (41.85, 41.92);
const LON: (f64, f64) = (-87.68, -87.60);
/// Average reads per pool plate over the span.
const READS_PER_PLATE: usize = 30;

/// Roaming plates planted (see the module documentation).
pub const ROAMERS: usize = 4;
/// Lead/follower pairs planted.
pub const CONVOYS: usize = 4;
/// Patterns are planted only when the stream has at least this many reads an hour.
pub const PLANT_MIN_READS_PER_HOUR: usize = 100;
const HOUR_MS: i64 = 3_600_000;
/// A convoy's trip: this many cameras, this far apart, one trip per period per convoy.
const TRIP_STOPS: usize = 4;
const TRIP_STOP_MS: i64 = 5 * 60_000;
const TRIP_PERIOD_MS: i64 = 6 * HOUR_MS;
/// The follower is read this long after the lead (at least; at most the second figure).
const FOLLOW_MS: i64 = 20_000;
const FOLLOW_MAX_MS: i64 = 40_000;

const VEHICLES: [(&str, &str, &str); 10] = [
    ("Toyota", "Camry", "sedan"),
    ("Honda", "Civic", "sedan"),
    ("Ford", "F-150", "pickup"),
    ("Chevrolet", "Equinox", "suv"),
    ("Tesla", "Model 3", "sedan"),
    ("Ford", "Transit", "van"),
    ("Nissan", "Rogue", "suv"),
    ("Jeep", "Grand Cherokee", "suv"),
    ("Hyundai", "Elantra", "sedan"),
    ("Ram", "1500", "pickup"),
];
const COLORS: [&str; 8] = [
    "black", "white", "silver", "gray", "blue", "red", "green", "brown",
];
const DIRECTIONS: [&str; 8] = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct WorkloadParams {
    /// Number of reads.
    pub reads: usize,
    /// Capture time of the newest read, UTC ms.
    pub end_ms: i64,
    /// Time between the oldest and the newest read.
    pub span_ms: i64,
    /// Seed of every random choice.
    pub seed: u64,
}

impl WorkloadParams {
    /// `reads` reads over the 29.5 days before `end_ms` (inside a 30-day retention and a
    /// 30-day search range with half a day to spare), seed 42.
    pub fn new(reads: usize, end_ms: i64) -> Self {
        WorkloadParams {
            reads,
            end_ms,
            span_ms: DAY_MS * 59 / 2,
            seed: 42,
        }
    }
}

/// A fixed camera.
#[derive(Debug, Clone)]
pub struct Camera {
    /// Its id.
    pub id: String,
    /// WGS84 latitude.
    pub lat: f64,
    /// WGS84 longitude.
    pub lon: f64,
}

/// One synthetic read, borrowed from its [`Workload`].
#[derive(Debug, Clone, Copy)]
pub struct SynthRead<'a> {
    /// Capture time, UTC ms.
    pub ts: i64,
    /// Normalized plate.
    pub plate: &'a str,
    /// How the camera wrote it: 0 as is, 1 with a space, 2 lower case with a dash.
    pub plate_style: u8,
    /// The camera.
    pub camera: &'a Camera,
    /// Index of the camera in [`Workload::cameras`].
    pub camera_index: usize,
    /// Make, model, body type.
    pub vehicle: (&'static str, &'static str, &'static str),
    /// Colour.
    pub color: &'static str,
    /// Travel direction.
    pub direction: &'static str,
    /// OCR confidence, two decimals in [0.80, 0.99].
    pub confidence: f64,
}

impl SynthRead<'_> {
    /// The plate text as the camera sends it.
    pub fn plate_raw(&self) -> String {
        let (letters, digits) = self
            .plate
            .split_at(self.plate.find(|c: char| c.is_ascii_digit()).unwrap_or(0));
        match self.plate_style {
            1 => format!("{letters} {digits}"),
            2 => format!("{}-{digits}", letters.to_ascii_lowercase()),
            _ => self.plate.to_string(),
        }
    }

    /// The read as the JSON a camera sends.
    pub fn to_json(&self) -> Value {
        json!({
            "camera_id": self.camera.id,
            "captured_at": format_rfc3339_ms(self.ts),
            "plate": self.plate_raw(),
            "region": "US-IL",
            "confidence": self.confidence,
            "lat": self.camera.lat,
            "lon": self.camera.lon,
            "vehicle": {"make": self.vehicle.0, "model": self.vehicle.1, "color": self.color,
                        "type": self.vehicle.2},
            "direction": self.direction,
        })
    }
}

/// A roaming plate's visit: read by each of `cameras` once inside `[from_ms, to_ms]`
/// (an aligned hour, both bounds inclusive).
#[derive(Debug, Clone)]
pub struct Roam {
    /// Plate index.
    pub plate: usize,
    /// Window start, UTC ms.
    pub from_ms: i64,
    /// Window end (inclusive), UTC ms.
    pub to_ms: i64,
    /// Camera indexes, in the order visited.
    pub cameras: [usize; 3],
}

/// A lead plate and the follower read by the same camera 20 to 40 s after each of its
/// planted reads.
#[derive(Debug, Clone)]
pub struct Convoy {
    /// Plate index of the lead.
    pub lead: usize,
    /// Plate index of the follower.
    pub follower: usize,
    /// Positions of the lead's reads (every read of the lead), ascending.
    pub lead_reads: Vec<usize>,
}

/// A generated workload.
#[derive(Debug, Clone)]
pub struct Workload {
    params: WorkloadParams,
    cameras: Vec<Camera>,
    /// Pool plates, then target plates, then planted plates (normalized).
    plates: Vec<String>,
    pool: usize,
    /// Index of the first planted plate (the end of the targets).
    planted_start: usize,
    /// Plate index of every read.
    plate_of: Vec<u32>,
    /// Reads per plate index.
    counts: Vec<u64>,
    /// Reads whose camera was chosen by a plant: a bit per read, and (position, camera)
    /// sorted by position.
    camera_set: Vec<u64>,
    cameras_of: Vec<(u32, u16)>,
    roams: Vec<Roam>,
    convoys: Vec<Convoy>,
}

/// SplitMix64: a good, cheap hash of `(seed, i)` for per-read attributes.
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed
        .wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Plates of the pool: three letters and four digits, scattered over the 175,760,000
/// possible plates by a bijection so neighbours in the pool do not look alike.
fn pool_plate(index: usize) -> String {
    const SPACE: u64 = 26 * 26 * 26 * 10_000;
    // 1,000,000,007 is prime and does not divide SPACE, so this permutes 0..SPACE.
    let n = (index as u64 % SPACE) * 1_000_000_007 % SPACE;
    let (letters, digits) = (n / 10_000, n % 10_000);
    let letter = |k: u64| char::from(b'A' + (letters / k % 26) as u8);
    format!("{}{}{}{digits:04}", letter(676), letter(26), letter(1))
}

/// Target plates: two letters and five digits, so never equal to a pool plate.
fn target_plate(index: usize) -> String {
    format!("TG{:05}", index + 1)
}

/// Roaming plates: `RM` and five digits.
fn roamer_plate(index: usize) -> String {
    format!("RM{:05}", index + 1)
}

/// A plate no workload contains (eight characters).
pub fn absent_plate(index: usize) -> String {
    format!("ZZZ{:05}", index % 100_000)
}

impl Workload {
    /// Generates the workload. Deterministic in `params`.
    pub fn generate(params: WorkloadParams) -> Workload {
        let n = params.reads;
        let mut rng = StdRng::seed_from_u64(params.seed);
        let cameras = (0..GRID * GRID)
            .map(|i| {
                let (row, col) = (i / GRID, i % GRID);
                Camera {
                    id: format!("cam-{:04}", i + 1),
                    lat: LAT.0 + (LAT.1 - LAT.0) * row as f64 / (GRID - 1) as f64,
                    lon: LON.0 + (LON.1 - LON.0) * col as f64 / (GRID - 1) as f64,
                }
            })
            .collect();
        let pool = (n / READS_PER_PLATE).max(64);
        let regulars = (pool / 5).max(1);
        let mut plates: Vec<String> = (0..pool).map(pool_plate).collect();
        let mut plate_of: Vec<u32> = (0..n)
            .map(|_| {
                let p = if rng.random_bool(0.6) {
                    rng.random_range(0..regulars)
                } else {
                    rng.random_range(regulars..pool)
                };
                p as u32
            })
            .collect();
        // Target plates overwrite randomly chosen reads (each position at most once).
        let mut budget = (n / 4) as u64;
        let mut taken = vec![false; n];
        for (k, &count) in TARGET_COUNTS.iter().enumerate() {
            if count > budget {
                break;
            }
            budget -= count;
            let index = plates.len() as u32;
            plates.push(target_plate(k));
            let mut placed = 0;
            // Fewer than a quarter of the positions are ever taken, so a random probe
            // succeeds at least 3 times in 4 and the bound is never reached; should it be,
            // the first free positions take the rest.
            for _ in 0..count * 1_000 {
                if placed == count {
                    break;
                }
                let at = rng.random_range(0..n);
                if !taken[at] {
                    taken[at] = true;
                    plate_of[at] = index;
                    placed += 1;
                }
            }
            for at in 0..n {
                if placed == count {
                    break;
                }
                if !taken[at] {
                    taken[at] = true;
                    plate_of[at] = index;
                    placed += 1;
                }
            }
        }
        let planted_start = plates.len();
        let mut workload = Workload {
            params,
            cameras,
            plates,
            pool,
            planted_start,
            plate_of,
            counts: Vec::new(),
            camera_set: Vec::new(),
            cameras_of: Vec::new(),
            roams: Vec::new(),
            convoys: Vec::new(),
        };
        let per_hour = n as i128 * HOUR_MS as i128 / params.span_ms.max(1) as i128;
        if per_hour >= PLANT_MIN_READS_PER_HOUR as i128 {
            workload.plant(&mut rng, &mut taken);
        }
        let mut counts = vec![0u64; workload.plates.len()];
        for &p in &workload.plate_of {
            counts[p as usize] += 1;
        }
        workload.counts = counts;
        workload
    }

    /// Plants the roaming plates and the convoys over free reads (after the targets, from
    /// the same random stream, so everything before is unchanged).
    fn plant(&mut self, rng: &mut StdRng, taken: &mut [bool]) {
        let n = self.plate_of.len();
        let cams = self.cameras.len();
        let mut chosen: Vec<(u32, u16)> = Vec::new();
        let distinct = |rng: &mut StdRng, k: usize| -> Vec<usize> {
            let mut out: Vec<usize> = Vec::with_capacity(k);
            while out.len() < k {
                let c = rng.random_range(0..cams);
                if !out.contains(&c) {
                    out.push(c);
                }
            }
            out
        };
        let first = self.plates.len();
        self.plates.extend((0..ROAMERS).map(roamer_plate));
        let start = self.start_ms();
        let hours = self.params.span_ms / HOUR_MS;
        for h in 0..hours {
            let (from_ms, to_ms) = (start + h * HOUR_MS, start + (h + 1) * HOUR_MS - 1);
            let (lo, hi) = (
                self.first_at_or_after(from_ms),
                self.first_at_or_after(to_ms + 1),
            );
            for r in 0..ROAMERS {
                let route = distinct(rng, 3);
                let mut at: Vec<usize> = Vec::with_capacity(3);
                // Every hour has at least 100 reads, at most 3 × ROAMERS of them planted.
                for _ in 0..10_000 {
                    if at.len() == 3 {
                        break;
                    }
                    let i = rng.random_range(lo..hi);
                    if !taken[i] {
                        taken[i] = true;
                        at.push(i);
                    }
                }
                assert_eq!(at.len(), 3, "no room for a roaming plate in hour {h}");
                at.sort_unstable();
                for (&i, &c) in at.iter().zip(&route) {
                    self.plate_of[i] = (first + r) as u32;
                    chosen.push((i as u32, c as u16));
                }
                self.roams.push(Roam {
                    plate: first + r,
                    from_ms,
                    to_ms,
                    cameras: [route[0], route[1], route[2]],
                });
            }
        }
        for c in 0..CONVOYS {
            let (lead, follower) = (self.plates.len(), self.plates.len() + 1);
            self.plates.push(format!("CL{:05}", c + 1));
            self.plates.push(format!("CF{:05}", c + 1));
            let mut lead_reads = Vec::new();
            let offset = c as i64 * TRIP_PERIOD_MS / CONVOYS as i64 + 10 * 60_000;
            let mut trip = start + offset;
            while trip + TRIP_STOP_MS * TRIP_STOPS as i64 <= self.params.end_ms {
                for (s, camera) in distinct(rng, TRIP_STOPS).into_iter().enumerate() {
                    let free_from = |mut i: usize| {
                        while i < n && taken[i] {
                            i += 1;
                        }
                        i
                    };
                    let i = free_from(self.first_at_or_after(trip + s as i64 * TRIP_STOP_MS));
                    if i >= n {
                        continue;
                    }
                    let j = free_from(self.first_at_or_after(self.ts(i) + FOLLOW_MS).max(i + 1));
                    if j >= n || self.ts(j) - self.ts(i) > FOLLOW_MAX_MS {
                        continue;
                    }
                    for (at, plate) in [(i, lead), (j, follower)] {
                        taken[at] = true;
                        self.plate_of[at] = plate as u32;
                        chosen.push((at as u32, camera as u16));
                    }
                    lead_reads.push(i);
                }
                trip += TRIP_PERIOD_MS;
            }
            self.convoys.push(Convoy {
                lead,
                follower,
                lead_reads,
            });
        }
        chosen.sort_unstable();
        self.camera_set = vec![0u64; n.div_ceil(64)];
        for &(i, _) in &chosen {
            self.camera_set[i as usize / 64] |= 1 << (i % 64);
        }
        self.cameras_of = chosen;
    }

    /// The parameters it was generated from.
    pub fn params(&self) -> &WorkloadParams {
        &self.params
    }

    /// Number of reads.
    pub fn len(&self) -> usize {
        self.plate_of.len()
    }

    /// Whether there are no reads.
    pub fn is_empty(&self) -> bool {
        self.plate_of.is_empty()
    }

    /// Capture time of the oldest read.
    pub fn start_ms(&self) -> i64 {
        self.params.end_ms - self.params.span_ms
    }

    /// The cameras.
    pub fn cameras(&self) -> &[Camera] {
        &self.cameras
    }

    /// Every plate (pool, then targets), normalized.
    pub fn plates(&self) -> &[String] {
        &self.plates
    }

    /// Number of pool plates (the rest are targets, then planted plates).
    pub fn pool_size(&self) -> usize {
        self.pool
    }

    /// The roaming plates' visits, by hour, then plate.
    pub fn roams(&self) -> &[Roam] {
        &self.roams
    }

    /// The planted convoys.
    pub fn convoys(&self) -> &[Convoy] {
        &self.convoys
    }

    /// Plate index of read `i`.
    pub fn plate_index(&self, i: usize) -> usize {
        self.plate_of[i] as usize
    }

    /// Capture time of read `i` (`i < len()`); never less than that of read `i - 1`.
    pub fn ts(&self, i: usize) -> i64 {
        let n = self.len().max(1) as i64;
        let step = (self.params.span_ms / n).max(1);
        let h = mix(self.params.seed, i as u64);
        // Time order with jitter inside each read's slot, so times never go backwards.
        let ts = self.start_ms() + (i as i64) * self.params.span_ms / n + (h >> 40) as i64 % step;
        ts.min(self.params.end_ms)
    }

    /// Camera index of read `i`.
    pub fn camera_index(&self, i: usize) -> usize {
        if self
            .camera_set
            .get(i / 64)
            .is_some_and(|w| w >> (i % 64) & 1 == 1)
        {
            if let Ok(k) = self.cameras_of.binary_search_by_key(&(i as u32), |c| c.0) {
                return self.cameras_of[k].1 as usize;
            }
        }
        (mix(self.params.seed, i as u64) % self.cameras.len() as u64) as usize
    }

    /// The first read captured at or after `t` (`len()` if none).
    pub fn first_at_or_after(&self, t: i64) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.ts(mid) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Reads of the plate with index `plate`.
    pub fn count(&self, plate: usize) -> u64 {
        self.counts.get(plate).copied().unwrap_or(0)
    }

    /// Indexes of the plates that have at least one read.
    pub fn plates_with_reads(&self) -> Vec<usize> {
        (0..self.plates.len())
            .filter(|&p| self.counts[p] > 0)
            .collect()
    }

    /// Target plates with their read counts.
    pub fn targets(&self) -> Vec<(usize, u64)> {
        (self.pool..self.planted_start)
            .map(|p| (p, self.counts[p]))
            .collect()
    }

    /// Read `i` (`i < len()`).
    pub fn read(&self, i: usize) -> SynthRead<'_> {
        let h = mix(self.params.seed, i as u64);
        let plate = self.plate_of[i] as usize;
        let ph = mix(self.params.seed ^ 0x5eed, plate as u64);
        let camera_index = self.camera_index(i);
        SynthRead {
            ts: self.ts(i),
            plate: &self.plates[plate],
            plate_style: ((h >> 16) % 3) as u8,
            camera: &self.cameras[camera_index],
            camera_index,
            vehicle: VEHICLES[(ph % VEHICLES.len() as u64) as usize],
            color: COLORS[((ph >> 8) % COLORS.len() as u64) as usize],
            direction: DIRECTIONS[((h >> 24) % DIRECTIONS.len() as u64) as usize],
            confidence: (80 + (h >> 32) % 20) as f64 / 100.0,
        }
    }

    /// The reads as NDJSON bodies of at most `batch` reads each, in order.
    pub fn ndjson_batches(&self, batch: usize) -> Vec<String> {
        let batch = batch.max(1);
        (0..self.len())
            .step_by(batch)
            .map(|first| self.ndjson(first..(first + batch).min(self.len())))
            .collect()
    }

    /// Reads `range` as one NDJSON body.
    pub fn ndjson(&self, range: std::ops::Range<usize>) -> String {
        let mut out = String::with_capacity(range.len() * 300);
        for i in range {
            out.push_str(&self.read(i).to_json().to_string());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_storage::record::{normalize_plate, validate_read};
    use std::collections::HashSet;

    const END: i64 = 1_795_000_000_000;

    #[test]
    fn deterministic_and_counts_add_up() {
        let a = Workload::generate(WorkloadParams::new(20_000, END));
        let b = Workload::generate(WorkloadParams::new(20_000, END));
        assert_eq!(a.ndjson(0..50), b.ndjson(0..50));
        let total: u64 = (0..a.plates().len()).map(|p| a.count(p)).sum();
        assert_eq!(total, 20_000);
        assert_eq!(
            a.targets().iter().map(|t| t.1).collect::<Vec<_>>(),
            vec![1, 2, 5, 10, 40, 99, 100, 101, 250, 1_000]
        );
        let distinct: HashSet<&String> = a.plates().iter().collect();
        assert_eq!(distinct.len(), a.plates().len(), "plates are unique");
    }

    #[test]
    fn reads_are_valid_time_ordered_and_inside_the_span() {
        let w = Workload::generate(WorkloadParams::new(5_000, END));
        let mut last = i64::MIN;
        let mut errors = Vec::new();
        for i in 0..w.len() {
            let read = w.read(i);
            assert!(read.ts >= last && read.ts >= w.start_ms() && read.ts <= END);
            last = read.ts;
            let input = validate_read(i, &read.to_json(), END, &mut errors);
            assert!(errors.is_empty(), "{errors:?}");
            let input = input.unwrap();
            assert_eq!(input.read.plate, read.plate);
            assert_eq!(normalize_plate(&read.plate_raw()).unwrap(), read.plate);
        }
        assert!(
            validate_read(0, &read_json(Some("x"), "c", END, "AB 1"), END, &mut errors).is_some()
        );
    }

    #[test]
    fn plates_have_tens_of_reads() {
        let w = Workload::generate(WorkloadParams::new(300_000, END));
        let pool: Vec<u64> = (0..w.pool_size()).map(|p| w.count(p)).collect();
        let mean = pool.iter().sum::<u64>() as f64 / pool.len() as f64;
        assert!((20.0..40.0).contains(&mean), "{mean}");
        assert!(pool.iter().any(|&c| c > 100), "some plates span pages");
        assert!(absent_plate(3).len() == 8 && w.plates().iter().all(|p| p.len() == 7));
    }

    #[test]
    fn planted_roams_and_convoys_are_where_they_say() {
        let w = Workload::generate(WorkloadParams::new(150_000, END));
        let small = Workload::generate(WorkloadParams::new(20_000, END));
        assert!(small.roams().is_empty() && small.convoys().is_empty());
        assert_eq!(w.targets().len(), TARGET_COUNTS.len());
        assert_eq!(
            (0..w.plates().len()).map(|p| w.count(p)).sum::<u64>(),
            150_000
        );
        let hours = (w.params().span_ms / HOUR_MS) as usize;
        assert_eq!(w.roams().len(), hours * ROAMERS);
        for roam in w.roams().iter().step_by(37) {
            let (lo, hi) = (
                w.first_at_or_after(roam.from_ms),
                w.first_at_or_after(roam.to_ms + 1),
            );
            let mut seen: Vec<usize> = (lo..hi)
                .filter(|&i| w.plate_index(i) == roam.plate)
                .map(|i| w.camera_index(i))
                .collect();
            assert_eq!(seen, roam.cameras.to_vec());
            seen.dedup();
            assert_eq!(seen.len(), 3);
        }
        assert_eq!(w.convoys().len(), CONVOYS);
        for c in w.convoys() {
            assert!(c.lead_reads.len() > 300, "{}", c.lead_reads.len());
            assert_eq!(w.count(c.lead), c.lead_reads.len() as u64);
            assert_eq!(w.count(c.follower), c.lead_reads.len() as u64);
            for &i in &c.lead_reads {
                let (ts, camera) = (w.ts(i), w.camera_index(i));
                let follows = (i + 1..w.first_at_or_after(ts + FOLLOW_MAX_MS + 1)).any(|j| {
                    w.plate_index(j) == c.follower
                        && w.camera_index(j) == camera
                        && w.ts(j) - ts >= FOLLOW_MS
                });
                assert!(follows, "no follower after read {i}");
                assert_eq!(w.read(i).camera.id, w.cameras()[camera].id);
            }
        }
    }
}
