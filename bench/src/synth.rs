//! A deterministic synthetic LPR workload: 400 cameras on a grid over downtown Chicago, a
//! plate pool sized so that a plate has tens of reads over the span (a fifth of the plates
//! are regulars carrying 60 % of the reads, about 90 each; the rest about 15 each), a few
//! target plates with fixed counts around the page size (1, 2, 5, 10, 40, 99, 100, 101,
//! 250, 1,000), and reads in capture-time order, as a fleet replaying its backlog sends
//! them.
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

/// A generated workload.
#[derive(Debug, Clone)]
pub struct Workload {
    params: WorkloadParams,
    cameras: Vec<Camera>,
    /// Pool plates, then target plates (normalized).
    plates: Vec<String>,
    pool: usize,
    /// Plate index of every read.
    plate_of: Vec<u32>,
    /// Reads per plate index.
    counts: Vec<u64>,
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
        let mut counts = vec![0u64; plates.len()];
        for &p in &plate_of {
            counts[p as usize] += 1;
        }
        Workload {
            params,
            cameras,
            plates,
            pool,
            plate_of,
            counts,
        }
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

    /// Number of pool plates (the rest are targets).
    pub fn pool_size(&self) -> usize {
        self.pool
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
        (self.pool..self.plates.len())
            .map(|p| (p, self.counts[p]))
            .collect()
    }

    /// Read `i` (`i < len()`).
    pub fn read(&self, i: usize) -> SynthRead<'_> {
        let n = self.len().max(1) as i64;
        let step = (self.params.span_ms / n).max(1);
        let h = mix(self.params.seed, i as u64);
        let plate = self.plate_of[i] as usize;
        let ph = mix(self.params.seed ^ 0x5eed, plate as u64);
        let camera_index = (h % self.cameras.len() as u64) as usize;
        // Time order with jitter inside each read's slot, so times never go backwards.
        let ts = self.start_ms() + (i as i64) * self.params.span_ms / n + (h >> 40) as i64 % step;
        SynthRead {
            ts: ts.min(self.params.end_ms),
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
}
