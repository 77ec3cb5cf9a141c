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
//! - **Scenarios.** A few more hand-placed vehicles give each investigator search one
//!   known answer (see [`FACTS`] and `scenarios.rs`): a car a patrol car's mobile reader
//!   logged parked near three far-apart places, two cars driving in convoy, a car whose
//!   plate the cameras misread in four different ways, and a silver Camry read late at night.
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
//!
//! The code is split by subject: [`time`] (the window and Chicago time), [`grid`] (streets,
//! cameras, routes), [`vehicles`] (plates, makes, OCR), [`scenarios`] (the planted
//! vehicles), [`traffic`] (everyone's trips), [`media`], [`sensors`] and [`json`].

mod grid;
mod json;
mod media;
mod scenarios;
mod sensors;
mod time;
mod traffic;
mod vehicles;

#[cfg(test)]
mod tests;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use grid::{cameras, Camera, CAMERA_COUNT};
use media::{simulate_media, Manifest};
use scenarios::mobile_unit;
use sensors::{simulate_sensors, Sample};
use time::Clock;
use traffic::{simulate_traffic, Read};
use vehicles::Vehicle;

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
/// - `camera_count` is the number of distinct fixed cameras (77). The mobile reader
///   `mobile_unit` (a patrol car) reads parked cars away from them.
/// - Co-location: `co_location_plate` (`RW73318`, a black Nissan Altima) is read by the
///   mobile reader once within 20 m of each of `co_location_places` (West Loop 10:14, South
///   Loop 14:52, Streeterville 21:37 Chicago time), and is the only plate read within
///   `co_location_radius_m` of all three; `co_location_partial_plate` (`TC40556`) is read
///   near places 0 and 2 only. Every other plate read near them is read near one place.
/// - Convoy: `convoy_follower_plate` (`614KRN`) follows `convoy_lead_plate` (`MV20417`)
///   10–40 s behind through `convoy_cameras` (7) cameras from 02:41; no other plate is read
///   by the same camera within 60 s of more than 3 of the lead's reads.
/// - Misreads: `misread_plate` (`BGL5521`, a red Subaru Outback from Wisconsin) is read
///   `misread_reads` (8) times, 4 of them correctly and once as each of `misread_variants`
///   (confidence below 0.75). An OCR-aware fuzzy search (edit distance 1) for it finds
///   exactly those 8 reads; the wildcard `misread_wildcard` finds `misread_wildcard_hits`
///   (6) of them and nothing else.
/// - Area and vehicle: `camry_plate` (`DX62741`, a silver Toyota Camry) is read by
///   `camry_camera` (`cam-019`, Michigan Ave & Ohio St) at 23:47 Chicago time, the only read
///   of a silver Camry within 150 m of that camera.
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
    /// Camera id of the mobile reader (a patrol car's LPR).
    pub mobile_unit: &'static str,
    /// The only plate read near all three `co_location_places`.
    pub co_location_plate: &'static str,
    /// A plate read near places 0 and 2 only.
    pub co_location_partial_plate: &'static str,
    /// Three far-apart places, (lat, lon), each more than 250 m from every fixed camera.
    pub co_location_places: [(f64, f64); 3],
    /// Radius of the places, metres.
    pub co_location_radius_m: f64,
    /// The convoy's lead vehicle.
    pub convoy_lead_plate: &'static str,
    /// The vehicle following it.
    pub convoy_follower_plate: &'static str,
    /// Cameras both pass, one after the other.
    pub convoy_cameras: usize,
    /// A plate the cameras misread in several ways.
    pub misread_plate: &'static str,
    /// Its misreads, one read each.
    pub misread_variants: [&'static str; 4],
    /// Its reads, misreads included.
    pub misread_reads: usize,
    /// A wildcard pattern that finds some of its reads.
    pub misread_wildcard: &'static str,
    /// Reads the wildcard finds.
    pub misread_wildcard_hits: usize,
    /// The silver Toyota Camry's plate.
    pub camry_plate: &'static str,
    /// The camera that read it late at night.
    pub camry_camera: &'static str,
}

pub const FACTS: DemoFacts = DemoFacts {
    everywhere_plate: "KD40917",
    commuter_plate: "JP51860",
    ocr_variant_of_commuter: "JP51B60",
    camera_count: CAMERA_COUNT,
    mobile_unit: "lpr-car-12",
    co_location_plate: "RW73318",
    co_location_partial_plate: "TC40556",
    co_location_places: [(41.8873, -87.6424), (41.8657, -87.623), (41.8945, -87.6181)],
    co_location_radius_m: 60.0,
    convoy_lead_plate: "MV20417",
    convoy_follower_plate: "614KRN",
    convoy_cameras: scenarios::CONVOY_ROUTE.len(),
    misread_plate: "BGL5521",
    misread_variants: ["8GL5521", "BGLS521", "B6L5521", "BGL55Z1"],
    misread_reads: scenarios::SMUDGED_TEXTS.len(),
    misread_wildcard: "?GL55*",
    misread_wildcard_hits: 6,
    camry_plate: "DX62741",
    camry_camera: "cam-019",
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

/// Everything generated for one day, before it is turned into JSON.
struct Day {
    /// The fixed cameras (`cam_index` order), then the mobile reader.
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
    let mut cameras = cameras();
    cameras.push(mobile_unit());
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

// ---------------------------------------------------------------------------------------------
// Small helpers shared by the stages
// ---------------------------------------------------------------------------------------------

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
