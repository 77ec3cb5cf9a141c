//! Media manifests: LPR stills and clips, body-camera video and radio, acoustic detectors.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::grid::{blocks_to_lat_lon, cell_blocks, Camera, Cell, BLOCK_M, SCHOOL_BLOCKS};
use super::scenarios::SPECIAL_COUNT;
use super::time::{utc_fields, Clock, TodSampler, DAY, HOUR, MINUTE, SECOND};
use super::traffic::Read;
use super::vehicles::{Vehicle, REGIONS};
use super::weighted_index;

pub(super) const IMAGE_MANIFESTS: usize = 1_200;
pub(super) const CAMERA_VIDEO_MANIFESTS: usize = 300;
pub(super) const TRAFFIC_STOP_MANIFESTS: usize = 120;
pub(super) const PATROL_MANIFESTS: usize = 179;
pub(super) const RADIO_MANIFESTS: usize = 100;
pub(super) const ACOUSTIC_MANIFESTS: usize = 100;

/// `media/<device>/<UTC date>/<HHMMSSmmm>.<ext>`
pub(super) fn media_key(device: &str, t: i64, ext: &str) -> String {
    let (y, mo, d, h, mi, s, ms) = utc_fields(t);
    format!("media/{device}/{y:04}-{mo:02}-{d:02}/{h:02}{mi:02}{s:02}{ms:03}.{ext}")
}

/// Fake but well-formed SHA-256 (the demo has no bytes to hash).
pub(super) fn fake_sha256(rng: &mut StdRng) -> String {
    (0..4)
        .map(|_| format!("{:016x}", rng.random::<u64>()))
        .collect()
}

pub(super) struct Manifest {
    pub(super) started: i64,
    pub(super) device: String,
    pub(super) kind: &'static str,
    pub(super) duration_ms: i64,
    pub(super) object_key: String,
    pub(super) sha256: String,
    pub(super) bytes: u64,
    pub(super) lat: f64,
    pub(super) lon: f64,
    pub(super) labels: Vec<&'static str>,
    pub(super) transcript: Option<String>,
    /// Indices into `Day::reads`.
    pub(super) reads: Vec<usize>,
}

/// Body cameras: four patrol zones × three watches.
pub(super) fn bodycam_for(cell: Cell, tod: i64) -> String {
    let zone = usize::from(cell.0 >= 4) * 2 + usize::from(cell.1 >= 5);
    let watch = (tod.rem_euclid(DAY) / (8 * HOUR)) as usize;
    format!("bodycam-{:02}", zone * 3 + watch + 1)
}

/// Acoustic gunshot detectors around the school: (id, position in blocks).
pub(super) static ACOUSTIC: [(&str, (f64, f64)); 6] = [
    ("acoustic-01", (-1.5, -6.0)),
    ("acoustic-02", (1.5, -6.0)),
    ("acoustic-03", (-1.5, -8.5)),
    ("acoustic-04", (1.5, -8.5)),
    ("acoustic-05", (0.0, -5.0)),
    ("acoustic-06", (0.0, -9.5)),
];

/// A gunshot incident near the school.
pub(super) struct Incident {
    /// Chicago time of day.
    pub(super) tod: i64,
    /// Position in blocks east of State St and north of Madison St.
    pub(super) at: (f64, f64),
    /// Detectors within this many metres pick it up.
    pub(super) radius_m: f64,
    pub(super) labels: &'static [&'static str],
}

pub(super) static INCIDENTS: [Incident; 2] = [
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

pub(super) const SPEED_OF_SOUND: f64 = 343.0;

pub(super) fn simulate_media(
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
    // The fixed cameras' reads only: the mobile reader keeps no media.
    let mut order: Vec<usize> = (0..reads.len())
        .filter(|&i| reads[i].at.is_none())
        .collect();
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
pub(super) fn near_camera(rng: &mut StdRng, cam: &Camera, max_m: f64) -> (f64, f64) {
    let (x, y) = cell_blocks(cam.cell);
    let along = rng.random_range(-max_m..max_m) / BLOCK_M;
    if rng.random_bool(0.5) {
        blocks_to_lat_lon(x + along, y)
    } else {
        blocks_to_lat_lon(x, y + along)
    }
}
