//! The search mix of the macro benchmark: seven classes of investigator search over HTTP
//! against a running server, each with its own warm-up and then `measured` requests, one at
//! a time from one keep-alive client, every answer checked against what the workload knows.
//!
//! | class | request | checked |
//! | --- | --- | --- |
//! | exact | a plate with reads, 30-day range, limit 100 | total, page, plates |
//! | wildcard | a pattern matching 10 to 1,000 plates (prefixes, `?` inside) | total (or its bound), page, every hit matches |
//! | fuzzy | a pool plate with one edit, `max_edits` 1 | total (or its bound), page, every hit within one OCR-weighted edit |
//! | area | circle of 564 m (≈ 1 km²) around a camera, 24 h, limit 100 | total (or its bound), page, every hit inside the circle and window |
//! | co-location | 150 m circles around the 3 cameras a roaming plate visited in one hour | the exact set of plates seen at all three |
//! | convoy | a planted lead plate over 7 days, `window_s` 60, at least 3 | every companion and its co-occurrences |
//! | frequency | a pool plate over 30 days | total, per camera (count, first, last), per hour, per weekday |
//!
//! The truth comes from [`Workload`] alone (its reads, positions and planted patterns), never
//! from the server. A class whose pattern the workload did not plant (too few reads an hour)
//! is skipped and reported as such.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sightline_storage::time::{format_rfc3339_ms, DAY_MS};

use crate::server::{agent, timed_post, PerfRecord, Server};
use crate::stats::{round3, Summary};
use crate::synth::Workload;
use crate::sys::{CpuMeter, CpuUse};

/// Page size of the read searches.
pub const PAGE: u64 = 100;
/// Radius of the area search: a circle of about 1 km².
pub const AREA_RADIUS_M: f64 = 564.0;
/// Radius of each co-location place.
pub const PLACE_RADIUS_M: f64 = 150.0;
/// Convoy window and threshold.
pub const CONVOY_WINDOW_S: i64 = 60;
/// Co-occurrences a convoy companion needs.
pub const CONVOY_MIN: usize = 3;
/// Matching plates a wildcard pattern of the mix has.
pub const WILDCARD_PLATES: (u32, u32) = (10, 1_000);
const HOUR_MS: i64 = 3_600_000;
/// Mean Earth radius of api.md's area edge model.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A class of search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Exact plate.
    Exact,
    /// Wildcard plate pattern.
    Wildcard,
    /// Fuzzy plate, one edit.
    Fuzzy,
    /// Area (circle).
    Area,
    /// Co-location of three places.
    CoLocation,
    /// Convoy.
    Convoy,
    /// Frequency.
    Frequency,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 7] = [
        Class::Exact,
        Class::Wildcard,
        Class::Fuzzy,
        Class::Area,
        Class::CoLocation,
        Class::Convoy,
        Class::Frequency,
    ];

    /// Short name (the JSON key).
    pub fn name(self) -> &'static str {
        match self {
            Class::Exact => "exact",
            Class::Wildcard => "wildcard",
            Class::Fuzzy => "fuzzy",
            Class::Area => "area",
            Class::CoLocation => "co-location",
            Class::Convoy => "convoy",
            Class::Frequency => "frequency",
        }
    }

    /// What a request of the class asks.
    pub fn describe(self) -> &'static str {
        match self {
            Class::Exact => "exact plate, 30 d, limit 100",
            Class::Wildcard => "wildcard, 10-1,000 plates, 30 d",
            Class::Fuzzy => "fuzzy, 1 edit, 30 d",
            Class::Area => "circle 564 m, 24 h, limit 100",
            Class::CoLocation => "3 × (150 m, 1 h)",
            Class::Convoy => "convoy, 7 d, window 60 s",
            Class::Frequency => "frequency, 30 d",
        }
    }

    /// The search route of the class: `/v1/tenants/{t}/search/{path}`.
    pub fn path(self) -> &'static str {
        match self {
            Class::Exact | Class::Wildcard | Class::Fuzzy => "plates",
            Class::Area => "area",
            Class::CoLocation => "co-location",
            Class::Convoy => "convoy",
            Class::Frequency => "frequency",
        }
    }

    /// PostgreSQL 15 + PostGIS + pg_trgm at 10 M reads on this kind of machine
    /// (2026-11-27), p50 and p99 in ms.
    pub fn postgres_ms(self) -> Option<(f64, f64)> {
        match self {
            Class::Exact => Some((0.57, 2.87)),
            Class::Wildcard => Some((3.1, 251.0)),
            Class::Fuzzy => Some((14.4, 23.8)),
            Class::Area => Some((14.8, 42.6)),
            Class::CoLocation => Some((1.56, 3.55)),
            Class::Convoy => Some((0.27, 0.42)),
            Class::Frequency => None,
        }
    }

    /// Target p99 in ms (issue 12).
    pub fn target_p99_ms(self) -> Option<f64> {
        match self {
            Class::Exact => Some(0.57),
            Class::Wildcard => Some(50.0),
            Class::Fuzzy => Some(4.8),
            Class::Area => Some(8.5),
            Class::CoLocation => Some(0.7),
            Class::Convoy => Some(0.5),
            Class::Frequency => None,
        }
    }
}

/// How a hit of a read search must look.
#[derive(Debug, Clone)]
enum Accept {
    Plate(String),
    Pattern(String),
    /// Within one edit of this canonical form.
    Fuzzy(Vec<u8>),
    Circle(f64, f64, f64),
}

/// What the answer must be (a plan holds a few thousand, so variant sizes do not matter).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
enum Expect {
    Reads {
        total: u64,
        accept: Accept,
        from: i64,
        to: i64,
    },
    CoLocation {
        plates: BTreeSet<String>,
        planted: String,
    },
    Convoy {
        companions: BTreeMap<String, usize>,
        planted: String,
    },
    Frequency {
        total: u64,
        by_camera: Vec<(String, u64, i64, i64)>,
        by_hour: [u64; 24],
        by_weekday: [u64; 7],
    },
}

/// One planned request: its body (audit fields added when sent), the expected answer,
/// and the size of the truth (matching plates for wildcard and fuzzy, reads for the
/// others, plates for co-location and convoy).
#[derive(Debug, Clone)]
pub struct Planned {
    body: Value,
    expect: Expect,
    size: u64,
    /// The wildcard pattern's form (`XY*`, `?YZ1*`, ...).
    form: Option<&'static str>,
}

impl Planned {
    /// The request body as Sightline's API takes it, without the audit fields
    /// (`case_number`, `reason`); `compare` translates it for PostgreSQL.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// Checks an answer (`status` and JSON body) against what the workload says it must be.
    pub fn check(&self, status: u16, answer: &Value) -> Result<()> {
        check(&self.expect, status, answer)
    }

    /// The wildcard pattern's form (`XY*`, `?YZ1*`, ...), for wildcard requests.
    pub fn form(&self) -> Option<&'static str> {
        self.form
    }
}

/// How many requests, and with what seed.
#[derive(Debug, Clone)]
pub struct MixConfig {
    /// Measured requests per class.
    pub measured: usize,
    /// Unmeasured requests per class, before the measured ones.
    pub warmup: usize,
    /// Seed of the plan.
    pub seed: u64,
    /// When set, each class's measured requests are profiled with `perf record` and the top
    /// symbols written to `{profile}.perf-mix-{class}.txt`.
    pub profile: Option<PathBuf>,
}

/// What one class measured.
#[derive(Debug, Clone)]
pub struct ClassResult {
    /// The class.
    pub class: Class,
    /// Latency of the measured requests (`None` when skipped).
    pub latency: Option<Summary>,
    /// Answers checked, warm-up included.
    pub checked: usize,
    /// Size of the truth over the measured requests: min, median, max.
    pub sizes: Option<(u64, u64, u64)>,
    /// Other processes' CPU during the measured requests.
    pub cpu: Option<CpuUse>,
    /// Why it was skipped, or a remark.
    pub note: Option<String>,
    /// Wildcard only: patterns per form.
    pub forms: BTreeMap<&'static str, usize>,
}

/// The whole mix.
#[derive(Debug, Clone)]
pub struct MixResult {
    /// Per class, in [`Class::ALL`] order.
    pub classes: Vec<ClassResult>,
    /// Seconds spent computing the plan and its truth (not measured).
    pub plan_seconds: f64,
    /// Measured requests per class and warm-up.
    pub measured: usize,
    /// Warm-up requests per class.
    pub warmup: usize,
}

// ---------------------------------------------------------------------------------------
// Truth helpers

/// Great-circle distance in metres (haversine, api.md's sphere).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// OCR canonical form (classes 0ODQ, 1IL, 2Z, 5S, 6G, 8B), written here independently of
/// the index crate.
pub fn canonical(plate: &str) -> Vec<u8> {
    plate
        .bytes()
        .map(|b| match b {
            b'O' | b'D' | b'Q' => b'0',
            b'I' | b'L' => b'1',
            b'Z' => b'2',
            b'S' => b'5',
            b'G' => b'6',
            b'B' => b'8',
            b => b,
        })
        .collect()
}

/// Whether plain Levenshtein distance of `a` and `b` is at most 1.
pub fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => short.iter().zip(long).filter(|(x, y)| x != y).count() <= 1,
        1 => {
            let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
            short[prefix..] == long[prefix + 1..]
        }
        _ => false,
    }
}

/// Glob match: `*` any run, `?` one character, the rest literal.
pub fn wildcard_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|k| wildcard_matches(rest, &text[k..])),
        Some((b'?', rest)) => !text.is_empty() && wildcard_matches(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && wildcard_matches(rest, &text[1..]),
    }
}

/// Every string within one edit of `word` over the canonical alphabet, `word` included.
fn neighbours(word: &[u8]) -> HashSet<Vec<u8>> {
    let alphabet: BTreeSet<u8> = (b'A'..=b'Z')
        .chain(b'0'..=b'9')
        .map(|b| canonical(std::str::from_utf8(&[b]).unwrap_or(""))[0])
        .collect();
    let mut out = HashSet::new();
    out.insert(word.to_vec());
    for i in 0..=word.len() {
        if i < word.len() {
            let mut w = word.to_vec();
            w.remove(i);
            out.insert(w);
        }
        for &c in &alphabet {
            let mut w = word.to_vec();
            w.insert(i, c);
            out.insert(w);
            if i < word.len() {
                let mut w = word.to_vec();
                w[i] = c;
                out.insert(w);
            }
        }
    }
    out
}

/// Wildcard forms: a plate's first `len` characters with `?` at the given positions,
/// then `*`.
const FORMS: [(&str, usize, &[usize]); 6] = [
    ("XY*", 2, &[]),
    ("XYZ*", 3, &[]),
    ("XY?1*", 4, &[2]),
    ("?YZ1*", 4, &[0]),
    ("XYZ1*", 4, &[]),
    ("X?Z12*", 5, &[1]),
];

fn form_key(plate: &str, len: usize, holes: &[usize]) -> Option<String> {
    let bytes = plate.as_bytes();
    (bytes.len() >= len).then(|| {
        (0..len)
            .map(|i| {
                if holes.contains(&i) {
                    '?'
                } else {
                    bytes[i] as char
                }
            })
            .collect()
    })
}

fn hour_of(ts: i64) -> usize {
    ts.div_euclid(HOUR_MS).rem_euclid(24) as usize
}

/// Monday first (1970-01-01 was a Thursday).
fn weekday_of(ts: i64) -> usize {
    (ts.div_euclid(DAY_MS) + 3).rem_euclid(7) as usize
}

fn median(mut v: Vec<u64>) -> Option<(u64, u64, u64)> {
    v.sort_unstable();
    Some((*v.first()?, v[(v.len() - 1) / 2], *v.last()?))
}

// ---------------------------------------------------------------------------------------
// Plans

mod plan;
mod verify;
pub use plan::plan;
use verify::*;

/// Plans the mix (untimed), then runs each class: warm-up, then the measured requests,
/// one at a time over one keep-alive connection, each timed from sending the request to
/// having read the whole answer, each answer checked. `now` is the time the 30-day ranges
/// end; `pids` are ours (this process, the server) for the CPU meter.
pub fn run(
    server: &Server,
    tenant: &str,
    w: &Workload,
    cfg: &MixConfig,
    now: i64,
) -> Result<MixResult> {
    let t = Instant::now();
    let plans = plan(w, cfg.warmup, cfg.measured, cfg.seed, now);
    let plan_seconds = t.elapsed().as_secs_f64();
    let client = agent(Duration::from_secs(60));
    let bearer = server.bearer(tenant, "investigator")?;
    let pids = [std::process::id(), server.pid()];
    let mut classes = Vec::new();
    for (class, planned) in plans {
        let url = server.url(&format!("/v1/tenants/{tenant}/search/{}", class.path()));
        let mut result = ClassResult {
            class,
            latency: None,
            checked: 0,
            sizes: None,
            cpu: None,
            note: None,
            forms: BTreeMap::new(),
        };
        if planned.is_empty() {
            result.note = Some(match class {
                Class::Wildcard => "skipped: no pattern matches 10 to 1,000 plates".into(),
                _ => "skipped: the workload planted nothing for it (too few reads an hour)".into(),
            });
            eprintln!(
                "[mix] {}: {}",
                class.name(),
                result.note.as_deref().unwrap_or("")
            );
            classes.push(result);
            continue;
        }
        let mut latencies = Vec::with_capacity(cfg.measured);
        let (mut meter, mut profile) = (None, None);
        for (k, p) in planned.iter().enumerate() {
            if k == cfg.warmup {
                if let Some(base) = &cfg.profile {
                    let data =
                        std::env::temp_dir().join(format!("sightline-mix-{}.perf", class.name()));
                    profile = Some((PerfRecord::start(server.pid(), &data)?, base.clone()));
                }
                meter = Some(CpuMeter::start(&pids));
            }
            let mut body = p.body.clone();
            body["case_number"] = "BENCH-0012".into();
            body["reason"] = "macro benchmark search mix".into();
            let body = body.to_string();
            let (status, text, latency) = timed_post(&client, &url, &bearer, &body)?;
            let answer: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} answer is not JSON: {text:.300}", class.name()))?;
            check(&p.expect, status, &answer).with_context(|| {
                format!("{} search {body:.400} answered {:.400}", class.name(), text)
            })?;
            result.checked += 1;
            if k >= cfg.warmup {
                latencies.push(latency);
                if let Some(form) = p.form {
                    *result.forms.entry(form).or_default() += 1;
                }
            }
        }
        result.cpu = meter.and_then(|m| m.stop(&pids));
        if let Some((perf, base)) = profile {
            let path = base.with_extension(format!("perf-mix-{}.txt", class.name()));
            std::fs::write(&path, perf.finish(60)? + "\n")?;
            eprintln!("[mix] profile of {}: {}", class.name(), path.display());
        }
        result.latency = Summary::of(&mut latencies);
        result.sizes = median(
            planned[cfg.warmup.min(planned.len())..]
                .iter()
                .map(|p| p.size)
                .collect(),
        );
        if let Some(l) = &result.latency {
            eprintln!(
                "[mix] {}: p50 {:.3} ms, p99 {:.3} ms over {} ({} checked)",
                class.name(),
                l.p50_ms,
                l.p99_ms,
                l.count,
                result.checked
            );
        }
        classes.push(result);
    }
    Ok(MixResult {
        classes,
        plan_seconds,
        measured: cfg.measured,
        warmup: cfg.warmup,
    })
}

impl ClassResult {
    fn size_unit(&self) -> &'static str {
        match self.class {
            Class::Wildcard | Class::Fuzzy => "matching plates",
            Class::CoLocation | Class::Convoy => "plates answered",
            _ => "matching reads",
        }
    }

    /// Whether the p99 met the target (`None` without a target or a measurement).
    pub fn met(&self) -> Option<bool> {
        Some(self.latency?.p99_ms <= self.class.target_p99_ms()?)
    }
}

impl MixResult {
    /// Other processes' CPU during the class where they were busiest.
    pub fn busiest(&self) -> Option<CpuUse> {
        let cpu = self.classes.iter().filter_map(|c| c.cpu);
        cpu.max_by(|a, b| a.others_cores().total_cmp(&b.others_cores()))
    }

    /// The mix as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "\nsearch mix over HTTP, {} measured after {} warm-up per class, one keep-alive client:\n\
             {:<12} {:<32} {:>9} {:>9} {:>9} {:>10} {:>15}  {}\n",
            self.measured, self.warmup, "class", "request", "p50 ms", "p99 ms", "max ms", "target p99",
            "PostgreSQL", "truth per request (min / median / max)"
        );
        for c in &self.classes {
            let Some(l) = c.latency else {
                out.push_str(&format!(
                    "{:<12} {}\n",
                    c.class.name(),
                    c.note.as_deref().unwrap_or("")
                ));
                continue;
            };
            let target = c.class.target_p99_ms().map_or("-".into(), |t| {
                format!("{t} {}", if c.met() == Some(true) { "met" } else { "MISS" })
            });
            let pg = c
                .class
                .postgres_ms()
                .map_or("-".into(), |(a, b)| format!("{a} / {b}"));
            let sizes = c.sizes.map_or(String::new(), |(a, m, b)| {
                format!("{a} / {m} / {b} {}", c.size_unit())
            });
            out.push_str(&format!(
                "{:<12} {:<32} {:>9.3} {:>9.3} {:>9.3} {:>10} {:>15}  {}\n",
                c.class.name(),
                c.class.describe(),
                l.p50_ms,
                l.p99_ms,
                l.max_ms,
                target,
                pg,
                sizes
            ));
            if !c.forms.is_empty() {
                let forms: Vec<String> = c.forms.iter().map(|(f, n)| format!("{f} ×{n}")).collect();
                out.push_str(&format!(
                    "{:<12} patterns by form: {}\n",
                    "",
                    forms.join(", ")
                ));
            }
        }
        let checked: usize = self.classes.iter().map(|c| c.checked).sum();
        out.push_str(&format!(
            "{checked} mix answers checked against the workload; planning took {:.1} s\n",
            self.plan_seconds
        ));
        out
    }

    /// The mix as JSON.
    pub fn to_json(&self) -> Value {
        let classes: serde_json::Map<String, Value> = self
            .classes
            .iter()
            .map(|c| {
                let mut v = json!({
                    "request": c.class.describe(),
                    "latency": c.latency.map(|l| l.to_json()),
                    "checked_answers": c.checked,
                    "target_p99_ms": c.class.target_p99_ms(),
                    "met": c.met(),
                    "postgresql_p50_p99_ms": c.class.postgres_ms().map(|(a, b)| [a, b]),
                    "other_processes_cores": c.cpu.map(|u| round3(u.others_cores())),
                });
                if let Some((a, m, b)) = c.sizes {
                    v["truth_per_request"] =
                        json!({"unit": c.size_unit(), "min": a, "median": m, "max": b});
                }
                if !c.forms.is_empty() {
                    v["patterns_by_form"] = json!(c.forms);
                }
                if let Some(note) = &c.note {
                    v["note"] = note.clone().into();
                }
                (c.class.name().to_string(), v)
            })
            .collect();
        json!({
            "measured_per_class": self.measured,
            "warmup_per_class": self.warmup,
            "plan_seconds": round3(self.plan_seconds),
            "classes": classes,
        })
    }
}

#[cfg(test)]
mod tests;
