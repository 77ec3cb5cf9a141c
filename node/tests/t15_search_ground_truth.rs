//! Every investigator search against ground truth, end to end on a three-node cluster of
//! real processes: scenarios are planted into 200,000 seeded background reads sent through
//! a follower, and each search (every page of it) must return exactly what a brute-force
//! scan of the sent reads selects. The oracles here are written independently of the
//! server's code: haversine, ray casting, a recursive wildcard matcher, an OCR-weighted
//! edit distance. Afterwards no file of any replica holds a planted plate.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use common::{ndjson, now_ms, Node};
use common::{Cluster, Settings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const TENANT: &str = "metro";
const CENTER: (f64, f64) = (41.8819, -87.6278);
const HOUR: i64 = 3_600_000;
const M_PER_DEG: f64 = 111_194.93; // 6,371,008.8 m × π / 180

/// What was sent, in the oracle's terms.
#[derive(Clone, Debug)]
struct Sent {
    id: String,
    plate: String,
    camera: String,
    ts: i64,
    lat: f64,
    lon: f64,
    make: String,
    model: String,
    color: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn body(r: &Sent) -> Value {
    json!({"id": r.id, "camera_id": r.camera, "captured_at": rfc3339(r.ts), "plate": r.plate,
        "lat": r.lat, "lon": r.lon,
        "vehicle": {"make": r.make, "model": r.model, "color": r.color}})
}

// ---- independent oracles -------------------------------------------------------------

fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dp = p2 - p1;
    let dl = (b.1 - a.1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

fn in_polygon(pts: &[(f64, f64)], lat: f64, lon: f64) -> bool {
    let mut inside = false;
    let n = pts.len();
    for i in 0..n {
        let (a, b) = (pts[i], pts[(i + 1) % n]);
        if (a.0 > lat) != (b.0 > lat) {
            let x = a.1 + (lat - a.0) / (b.0 - a.0) * (b.1 - a.1);
            if lon < x {
                inside = !inside;
            }
        }
    }
    inside
}

fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}

fn ocr_class(c: u8) -> u8 {
    for class in ["0ODQ", "1IL", "2Z", "5S", "6G", "8B"] {
        if class.as_bytes().contains(&c) {
            return class.as_bytes()[0];
        }
    }
    c
}

/// Edit distance where a substitution inside an OCR class costs nothing.
fn ocr_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = usize::from(ocr_class(a[i - 1]) != ocr_class(b[j - 1]));
            row[j] = (prev[j - 1] + sub).min(prev[j] + 1).min(row[j - 1] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

/// A point `m` metres from `p` towards bearing `deg` (flat-earth; fine at these scales).
fn offset(p: (f64, f64), north_m: f64, east_m: f64) -> (f64, f64) {
    (
        p.0 + north_m / M_PER_DEG,
        p.1 + east_m / (M_PER_DEG * p.0.to_radians().cos()),
    )
}

// ---- the data set --------------------------------------------------------------------

struct World {
    reads: Vec<Sent>,
    now: i64,
    cameras: Vec<(String, (f64, f64))>,
    next_id: usize,
    rng: StdRng,
}

impl World {
    fn read(&mut self, plate: &str, camera: usize, ts: i64, at: Option<(f64, f64)>) -> &mut Sent {
        let (name, place) = self.cameras[camera].clone();
        let at = at.unwrap_or(place);
        let models = [
            ("Toyota", "Camry"),
            ("Honda", "Civic"),
            ("Ford", "F-150"),
            ("Tesla", "Model 3"),
        ];
        let colors = ["black", "white", "gray", "blue", "red"];
        let (make, model) = models[self.rng.random_range(0..models.len())];
        let color = colors[self.rng.random_range(0..colors.len())];
        self.next_id += 1;
        self.reads.push(Sent {
            id: format!("r{}", self.next_id),
            plate: plate.to_string(),
            camera: name,
            ts,
            lat: at.0,
            lon: at.1,
            make: make.into(),
            model: model.into(),
            color: color.into(),
        });
        let last = self.reads.len() - 1;
        &mut self.reads[last]
    }
}

fn background(seed: u64, n: usize) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let cameras = (0..300)
        .map(|i| {
            let p = offset(
                CENTER,
                rng.random_range(-4000.0..4000.0),
                rng.random_range(-4000.0..4000.0),
            );
            (format!("cam-{i:03}"), p)
        })
        .collect();
    let mut world = World {
        reads: Vec::with_capacity(n + 1000),
        now: now_ms(),
        cameras,
        next_id: 0,
        rng,
    };
    const LETTERS: &[u8] = b"ACEFHJKMNPRTUVWXY"; // no OCR-confusable letters in the background
    let pool: Vec<String> = (0..50_000)
        .map(|_| {
            let mut p = String::new();
            for _ in 0..3 {
                p.push(LETTERS[world.rng.random_range(0..LETTERS.len())] as char);
            }
            for _ in 0..4 {
                p.push((b'3' + world.rng.random_range(0..7u8)) as char); // 3,4,7,9 and 5,6,8
            }
            p
        })
        .collect();
    for _ in 0..n {
        let plate = pool[world.rng.random_range(0..pool.len())].clone();
        let camera = world.rng.random_range(0..300);
        let ts = world.now - world.rng.random_range(HOUR..72 * HOUR);
        // two thirds at a camera's own place, the rest scattered
        let at = (world.rng.random_range(0..3) == 0).then(|| {
            offset(
                CENTER,
                world.rng.random_range(-4000.0..4000.0),
                world.rng.random_range(-4000.0..4000.0),
            )
        });
        world.read(&plate, camera, ts, at);
    }
    world
}

/// A search's every page; checks order, uniqueness and the total's relation.
fn all_pages(node: &Node, endpoint: &str, mut query: Value) -> Result<Vec<String>> {
    query["case_number"] = json!("GT-1");
    query["reason"] = json!("ground truth");
    query["limit"] = json!(query.get("limit").cloned().unwrap_or(json!(250)));
    let mut ids = Vec::new();
    let mut last_ts = String::from("9999");
    let mut first: Option<(u64, String)> = None;
    loop {
        let (status, page) =
            node.post_json(&format!("/v1/tenants/{TENANT}/search/{endpoint}"), &query)?;
        if status != 200 {
            bail!("{endpoint} {query} answered {status}: {page}");
        }
        if first.is_none() {
            first = Some((
                page["total"].as_u64().context("total")?,
                page["total_relation"]
                    .as_str()
                    .context("relation")?
                    .to_string(),
            ));
        }
        for hit in page["hits"].as_array().context("hits")? {
            let ts = hit["captured_at"]
                .as_str()
                .context("captured_at")?
                .to_string();
            if ts > last_ts {
                bail!("{endpoint}: not newest first");
            }
            last_ts = ts;
            ids.push(hit["id"].as_str().context("id")?.to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => query["cursor"] = json!(c),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = ids.iter().collect();
    if unique.len() != ids.len() {
        bail!("{endpoint} {query}: a hit appeared twice");
    }
    if let Some((total, relation)) = first {
        let ok = match relation.as_str() {
            "eq" => total as usize == ids.len(),
            _ => total as usize <= ids.len(),
        };
        if !ok {
            bail!(
                "{endpoint} {query}: total {total} ({relation}) but {} hits",
                ids.len()
            );
        }
    }
    Ok(ids)
}

fn check(
    node: &Node,
    world: &World,
    endpoint: &str,
    query: Value,
    want: impl Fn(&Sent) -> bool,
) -> Result<usize> {
    let got: BTreeSet<String> = all_pages(node, endpoint, query.clone())?
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = world
        .reads
        .iter()
        .filter(|r| want(r))
        .map(|r| r.id.clone())
        .collect();
    if got != expected {
        let missing: Vec<_> = expected.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&expected).take(5).collect();
        bail!(
            "{endpoint} {query}: {} hits, expected {}; missing {missing:?}, extra {extra:?}",
            got.len(),
            expected.len()
        );
    }
    Ok(expected.len())
}

#[test]
fn every_search_returns_exactly_the_planted_answer() -> Result<()> {
    let seed: u64 = rand::rng().random();
    eprintln!("seed {seed}");
    let mut world = background(seed, 200_000);
    let now = world.now;

    // Fuzzy family: a true plate, one variant per OCR class, one real edit, two real edits.
    let truth = "ZK80QS1G";
    let variants = [
        "2K80QS1G", "ZK8OQS1G", "ZKB0QS1G", "ZK80DS1G", "ZK80Q51G", "ZK80QSIG", "ZK80QS16",
        "ZK80QSLG",
    ];
    let one_edit = ["ZK80QS1", "ZK80XS1G", "ZKX80QS1G"];
    let two_edits = ["ZK8XQX1G", "K80QS1"];
    for (i, plate) in std::iter::once(&truth)
        .chain(&variants)
        .chain(&one_edit)
        .chain(&two_edits)
        .enumerate()
    {
        world.read(plate, i % 300, now - (i as i64 + 2) * HOUR, None);
    }
    // Wildcard family: shared prefixes, middles and suffixes.
    for (i, plate) in [
        "WQ1234", "WQ1284", "WQ9234", "XWQ1234", "WQ12345", "AWQ1234B",
    ]
    .iter()
    .enumerate()
    {
        world.read(plate, 7, now - (i as i64 + 3) * HOUR, None);
    }
    // Shapes with points 1 m inside and 1 m outside each edge.
    let c = offset(CENTER, 700.0, -900.0);
    for (k, bearing) in [0.0f64, 72.0, 144.0, 216.0, 288.0].iter().enumerate() {
        let (s, co) = bearing.to_radians().sin_cos();
        for (tag, r) in [("IN", 249.0), ("OUT", 251.0)] {
            let p = offset(c, r * co, r * s);
            world.read(&format!("CIRC{tag}{k}"), 11, now - 5 * HOUR, Some(p));
        }
    }
    let bb = (
        offset(CENTER, -1500.0, 500.0),
        offset(CENTER, -1100.0, 1100.0),
    );
    let mid = ((bb.0 .0 + bb.1 .0) / 2.0, (bb.0 .1 + bb.1 .1) / 2.0);
    let edges = [
        ((bb.0 .0, mid.1), (1.0, 0.0)),
        ((bb.1 .0, mid.1), (-1.0, 0.0)),
        ((mid.0, bb.0 .1), (0.0, 1.0)),
        ((mid.0, bb.1 .1), (0.0, -1.0)),
    ];
    for (k, (p, (n, e))) in edges.iter().enumerate() {
        world.read(
            &format!("BBOXIN{k}"),
            12,
            now - 6 * HOUR,
            Some(offset(*p, n * 1.0, e * 1.0)),
        );
        world.read(
            &format!("BBOXOUT{k}"),
            12,
            now - 6 * HOUR,
            Some(offset(*p, -n * 1.0, -e * 1.0)),
        );
    }
    // A non-convex polygon (an L), 1 m either side of each edge's middle.
    let o = offset(CENTER, 1200.0, 1200.0);
    let poly: Vec<(f64, f64)> = [
        (0.0, 0.0),
        (0.0, 600.0),
        (250.0, 600.0),
        (250.0, 250.0),
        (600.0, 250.0),
        (600.0, 0.0),
    ]
    .iter()
    .map(|(n, e)| offset(o, *n, *e))
    .collect();
    for k in 0..poly.len() {
        let (a, b) = (poly[k], poly[(k + 1) % poly.len()]);
        let m = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        // the edge's normal in metres
        let (dn, de) = (
            (b.0 - a.0) * M_PER_DEG,
            (b.1 - a.1) * M_PER_DEG * m.0.to_radians().cos(),
        );
        let len = (dn * dn + de * de).sqrt();
        let (nn, ne) = (-de / len, dn / len);
        for (tag, side) in [("A", 1.0), ("B", -1.0)] {
            let p = offset(m, nn * side, ne * side);
            world.read(&format!("POLY{tag}{k}"), 13, now - 7 * HOUR, Some(p));
        }
    }
    // A silver Camry with no plate known, near a spot, last night.
    let spot = offset(CENTER, -2500.0, -2500.0);
    for (i, (color, model)) in [
        ("silver", "Camry"),
        ("Silver", "camry"),
        ("silver", "Civic"),
        ("black", "Camry"),
    ]
    .iter()
    .enumerate()
    {
        let r = world.read(
            &format!("VEH{i}X"),
            14,
            now - 10 * HOUR,
            Some(offset(spot, 20.0 * i as f64, 0.0)),
        );
        r.color = color.to_string();
        r.model = model.to_string();
        r.make = if *model == "Civic" { "Honda" } else { "Toyota" }.into();
    }
    // Co-location: COLO3 at all three places, COLO2 at two, each within an hour window.
    let places = [
        offset(CENTER, 3000.0, 3000.0),
        offset(CENTER, -3000.0, 3000.0),
        offset(CENTER, 3000.0, -3000.0),
    ];
    let windows = [now - 20 * HOUR, now - 18 * HOUR, now - 16 * HOUR];
    for (i, (p, w)) in places.iter().zip(windows).enumerate() {
        world.read("COLO3", 20, w + 10 * 60_000, Some(*p));
        if i < 2 {
            world.read("COLO2", 21, w + 20 * 60_000, Some(offset(*p, 30.0, 0.0)));
        }
        world.read("COLOLATE", 22, w + 2 * HOUR, Some(*p)); // right place, wrong hour
    }
    // Convoy: LEADR and FOLLOW through 6 cameras 25 s apart; DRIFT once, 90 s behind.
    for k in 0..6 {
        let t = now - 30 * HOUR + k * 600_000;
        world.read("LEADR1", 40 + k as usize, t, None);
        world.read("FOLLOW1", 40 + k as usize, t + 25_000, None);
        if k == 2 {
            world.read("DRIFT1", 40 + k as usize, t + 90_000, None);
        }
    }

    // ---- ingest through a follower ----
    let cluster = Cluster::start(
        3,
        Settings {
            snapshot_after: 8,
            keep_after_snapshot: 2,
            ..Settings::default()
        },
    )?;
    let leader = cluster.leader(Duration::from_secs(10))?;
    let follower = (1..=3).find(|id| *id != leader).unwrap_or(2);
    let node = cluster.node(follower)?;
    node.create_tenant(TENANT, 30)?;
    for chunk in world.reads.chunks(10_000) {
        let bodies: Vec<Value> = chunk.iter().map(body).collect();
        let (status, answer) = node.post(
            &format!("/v1/tenants/{TENANT}/reads"),
            "application/x-ndjson",
            &ndjson(&bodies),
        )?;
        assert_eq!(status, 200, "{answer}");
    }
    cluster.wait_converged(Duration::from_secs(60))?;
    let other = cluster.node(leader)?;
    let from = rfc3339(now - 80 * HOUR);
    let to = rfc3339(now);

    // ---- plate searches ----
    let fuzzy1 = check(
        node,
        &world,
        "plates",
        json!({"plate": truth, "match": "fuzzy", "from": from, "to": to}),
        |r| ocr_distance(&r.plate, truth) <= 1,
    )?;
    assert!(
        fuzzy1 > variants.len() + one_edit.len(),
        "every class variant and every one-edit plate"
    );
    let fuzzy2 = check(
        other,
        &world,
        "plates",
        json!({"plate": truth, "match": "fuzzy", "max_edits": 2}),
        |r| ocr_distance(&r.plate, truth) <= 2,
    )?;
    assert!(fuzzy2 >= fuzzy1 + two_edits.len());
    check(
        node,
        &world,
        "plates",
        json!({"plate": truth, "match": "fuzzy", "max_edits": 0}),
        |r| ocr_distance(&r.plate, truth) == 0,
    )?;
    for pattern in [
        "WQ12?4", "?Q1234", "WQ123?", "*Q1234", "WQ*4", "WQ12*", "*WQ1234*", "W?1*4", "A*B",
        "*3479",
    ] {
        let n = check(
            node,
            &world,
            "plates",
            json!({"plate": pattern, "match": "wildcard", "from": from}),
            |r| wildcard(pattern.as_bytes(), r.plate.as_bytes()),
        )?;
        eprintln!("wildcard {pattern}: {n}");
    }
    check(
        node,
        &world,
        "plates",
        json!({"plate": "VEH0X", "vehicle": {"color": "SILVER"}}),
        |r| r.plate == "VEH0X" && r.color.eq_ignore_ascii_case("silver"),
    )?;

    // ---- area searches ----
    let n = check(
        node,
        &world,
        "area",
        json!({"area": {"circle": {"lat": c.0, "lon": c.1, "radius_m": 250.0}}}),
        |r| haversine(c, (r.lat, r.lon)) <= 250.0,
    )?;
    for k in 0..5 {
        let ids = all_pages(
            node,
            "area",
            json!({"area": {"circle": {"lat": c.0, "lon": c.1, "radius_m": 250.0}}, "limit": 1000}),
        )?;
        let inside: Vec<&Sent> = world.reads.iter().filter(|r| ids.contains(&r.id)).collect();
        assert!(
            inside.iter().any(|r| r.plate == format!("CIRCIN{k}")),
            "1 m inside the circle"
        );
        assert!(
            !inside.iter().any(|r| r.plate == format!("CIRCOUT{k}")),
            "1 m outside the circle"
        );
    }
    eprintln!("circle: {n}");
    let bbox = json!({"bbox": {"min_lat": bb.0 .0, "min_lon": bb.0 .1, "max_lat": bb.1 .0, "max_lon": bb.1 .1}});
    check(
        other,
        &world,
        "area",
        json!({"area": bbox, "from": from}),
        |r| r.lat >= bb.0 .0 && r.lat <= bb.1 .0 && r.lon >= bb.0 .1 && r.lon <= bb.1 .1,
    )?;
    let ids: BTreeSet<String> = all_pages(other, "area", json!({"area": bbox}))?
        .into_iter()
        .collect();
    for k in 0..4 {
        let plate_in = |tag: &str| {
            world
                .reads
                .iter()
                .any(|r| r.plate == format!("BBOX{tag}{k}") && ids.contains(&r.id))
        };
        assert!(plate_in("IN") && !plate_in("OUT"), "bbox edge {k}");
    }
    let polygon: Vec<[f64; 2]> = poly.iter().map(|p| [p.0, p.1]).collect();
    check(
        node,
        &world,
        "area",
        json!({"area": {"polygon": polygon}}),
        |r| in_polygon(&poly, r.lat, r.lon),
    )?;
    let ids: BTreeSet<String> = all_pages(node, "area", json!({"area": {"polygon": polygon}}))?
        .into_iter()
        .collect();
    for k in 0..poly.len() {
        let has = |tag: &str| {
            world
                .reads
                .iter()
                .any(|r| r.plate == format!("POLY{tag}{k}") && ids.contains(&r.id))
        };
        assert!(
            has("A") != has("B"),
            "polygon edge {k}: exactly one side is inside"
        );
    }
    for res in [8u8, 9, 10] {
        let resolution = h3o::Resolution::try_from(res)?;
        let cell = h3o::LatLng::new(c.0, c.1)?.to_cell(resolution);
        let cells: Vec<h3o::CellIndex> = cell.grid_disk(1);
        let texts: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
        check(node, &world, "area", json!({"area": {"h3": texts}}), |r| {
            h3o::LatLng::new(r.lat, r.lon).is_ok_and(|p| cells.contains(&p.to_cell(resolution)))
        })?;
    }
    let near = json!({"circle": {"lat": spot.0, "lon": spot.1, "radius_m": 150.0}});
    let camrys = check(
        node,
        &world,
        "area",
        json!({"area": near, "vehicle": {"color": "silver", "model": "CAMRY"}, "from": rfc3339(now - 14 * HOUR)}),
        |r| {
            haversine(spot, (r.lat, r.lon)) <= 150.0
                && r.ts >= now - 14 * HOUR
                && r.color.eq_ignore_ascii_case("silver")
                && r.model.eq_ignore_ascii_case("camry")
        },
    )?;
    assert!(camrys >= 2, "both planted silver Camrys");

    // ---- co-location ----
    let place_bodies: Vec<Value> = places
        .iter()
        .zip(windows)
        .map(|(p, w)| json!({"area": {"circle": {"lat": p.0, "lon": p.1, "radius_m": 100.0}}, "from": rfc3339(w), "to": rfc3339(w + HOUR)}))
        .collect();
    for k in 1..=3usize {
        let (status, answer) = node.post_json(
            &format!("/v1/tenants/{TENANT}/search/co-location"),
            &json!({"places": place_bodies, "min_places": k, "limit": 1000, "case_number": "GT-1", "reason": "gt"}),
        )?;
        assert_eq!(status, 200, "{answer}");
        let mut want: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for r in &world.reads {
            for (i, (p, w)) in places.iter().zip(windows).enumerate() {
                if r.ts >= w && r.ts <= w + HOUR && haversine(*p, (r.lat, r.lon)) <= 100.0 {
                    want.entry(r.plate.clone()).or_default().insert(i as u64);
                }
            }
        }
        want.retain(|_, p| p.len() >= k);
        let got: BTreeMap<String, BTreeSet<u64>> = answer["plates"]
            .as_array()
            .context("plates")?
            .iter()
            .map(|p| {
                (
                    p["plate"].as_str().unwrap_or("").to_string(),
                    p["places"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_u64).collect())
                        .unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(got, want, "co-location with min_places {k}");
        assert!(got.contains_key("COLO3") && (k == 3) != got.contains_key("COLO2"));
    }

    // ---- convoy ----
    let (status, answer) = other.post_json(
        &format!("/v1/tenants/{TENANT}/search/convoy"),
        &json!({"plate": "LEADR1", "window_s": 60, "min_co_occurrences": 1, "limit": 1000, "case_number": "GT-1", "reason": "gt"}),
    )?;
    assert_eq!(status, 200, "{answer}");
    let leads: Vec<&Sent> = world.reads.iter().filter(|r| r.plate == "LEADR1").collect();
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for l in &leads {
        let near: BTreeSet<&str> = world
            .reads
            .iter()
            .filter(|r| {
                r.plate != "LEADR1" && r.camera == l.camera && (r.ts - l.ts).abs() <= 60_000
            })
            .map(|r| r.plate.as_str())
            .collect();
        for p in near {
            *want.entry(p.to_string()).or_default() += 1;
        }
    }
    let got: BTreeMap<String, u64> = answer["plates"]
        .as_array()
        .context("plates")?
        .iter()
        .map(|p| {
            (
                p["plate"].as_str().unwrap_or("").to_string(),
                p["co_occurrences"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, want, "convoy");
    assert_eq!(got.get("FOLLOW1"), Some(&6));
    assert!(
        !got.contains_key("DRIFT1"),
        "90 s behind is outside a 60 s window"
    );

    // ---- frequency ----
    let (status, answer) = node.post_json(
        &format!("/v1/tenants/{TENANT}/search/frequency"),
        &json!({"plate": "COLO3", "case_number": "GT-1", "reason": "gt"}),
    )?;
    assert_eq!(status, 200, "{answer}");
    let reads: Vec<&Sent> = world.reads.iter().filter(|r| r.plate == "COLO3").collect();
    assert_eq!(answer["total"], reads.len());
    let mut by_hour = [0u64; 24];
    for r in &reads {
        by_hour[((r.ts / HOUR) % 24) as usize] += 1;
    }
    assert_eq!(answer["by_hour"], json!(by_hour));
    assert_eq!(answer["by_camera"][0]["camera_id"], "cam-020");
    assert_eq!(answer["by_camera"][0]["count"], 3);

    // ---- nothing planted in the clear on any replica ----
    let planted: Vec<&str> = world
        .reads
        .iter()
        .map(|r| r.plate.as_str())
        .filter(|p| {
            p.starts_with("ZK")
                || p.starts_with("COLO")
                || p.starts_with("LEADR")
                || p.starts_with("FOLLOW")
                || p.starts_with("WQ")
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut cluster = cluster;
    for id in 1..=3 {
        cluster.node_mut(id)?.stop()?;
    }
    let mut files = 0;
    let found = common::plaintext::scan(
        cluster.root(),
        &common::plaintext::needles(&planted, &[]),
        &mut files,
    )?;
    assert!(files >= 30, "scanned only {files} files");
    assert!(found.is_empty(), "plaintext on disk: {found:#?}");
    Ok(())
}
