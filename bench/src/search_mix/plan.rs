//! Plans the mix: picks each class's requests from the workload and computes, from the
//! workload alone, the answer each must get.

use super::*;

/// A wildcard key of one form with its matching plates and their reads.
type FormKey = (String, u32, u64);

pub(super) struct Planner<'a> {
    w: &'a Workload,
    rng: StdRng,
    count: usize,
    /// 30-day range of the plate searches and frequency, fixed at planning.
    range: (i64, i64),
    with_reads: Vec<usize>,
    pool_with_reads: Vec<usize>,
}

impl Planner<'_> {
    fn range_body(&self, mut body: Value) -> Value {
        body["from"] = format_rfc3339_ms(self.range.0).into();
        body["to"] = format_rfc3339_ms(self.range.1).into();
        body
    }

    fn exact(&mut self) -> Vec<Planned> {
        let mut out = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            let p = self.with_reads[self.rng.random_range(0..self.with_reads.len())];
            let plate = self.w.plates()[p].clone();
            out.push(Planned {
                body: self.range_body(json!({"plate": plate, "match": "exact", "limit": PAGE})),
                expect: Expect::Reads {
                    total: self.w.count(p),
                    accept: Accept::Plate(plate),
                    from: self.range.0,
                    to: self.range.1,
                },
                size: self.w.count(p),
                form: None,
            });
        }
        out
    }

    fn wildcard(&mut self) -> Vec<Planned> {
        // Per form, every key with its plates and reads; keep the keys in range.
        let mut per_form: Vec<(&'static str, Vec<FormKey>)> = Vec::new();
        for (name, len, holes) in FORMS {
            let mut keys: HashMap<String, (u32, u64)> = HashMap::new();
            for &p in &self.with_reads {
                if let Some(key) = form_key(&self.w.plates()[p], len, holes) {
                    let e = keys.entry(key).or_default();
                    e.0 += 1;
                    e.1 += self.w.count(p);
                }
            }
            let mut in_range: Vec<(String, u32, u64)> = keys
                .into_iter()
                .filter(|(_, (plates, _))| (WILDCARD_PLATES.0..=WILDCARD_PLATES.1).contains(plates))
                .map(|(k, (plates, reads))| (k, plates, reads))
                .collect();
            in_range.sort_unstable();
            if !in_range.is_empty() {
                per_form.push((name, in_range));
            }
        }
        if per_form.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.count);
        for k in 0..self.count {
            let (form, keys) = &per_form[k % per_form.len()];
            let (key, plates, reads) = &keys[self.rng.random_range(0..keys.len())];
            let pattern = format!("{key}*");
            out.push(Planned {
                body: self
                    .range_body(json!({"plate": pattern, "match": "wildcard", "limit": PAGE})),
                expect: Expect::Reads {
                    total: *reads,
                    accept: Accept::Pattern(pattern),
                    from: self.range.0,
                    to: self.range.1,
                },
                size: u64::from(*plates),
                form: Some(form),
            });
        }
        out
    }

    fn fuzzy(&mut self) -> Vec<Planned> {
        let mut by_canonical: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
        for &p in &self.with_reads {
            let e = by_canonical
                .entry(canonical(&self.w.plates()[p]))
                .or_default();
            e.0 += 1;
            e.1 += self.w.count(p);
        }
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut out = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            {
                let p = self.pool_with_reads[self.rng.random_range(0..self.pool_with_reads.len())];
                let mut q = self.w.plates()[p].as_bytes().to_vec();
                let at = self.rng.random_range(0..q.len());
                match self.rng.random_range(0..3) {
                    0 => loop {
                        let c = CHARS[self.rng.random_range(0..CHARS.len())];
                        if canonical_byte(c) != canonical_byte(q[at]) {
                            q[at] = c;
                            break;
                        }
                    },
                    1 => {
                        q.remove(at);
                    }
                    _ => q.insert(at, CHARS[self.rng.random_range(0..CHARS.len())]),
                }
                let query = String::from_utf8(q).unwrap_or_default();
                let cq = canonical(&query);
                let (plates, reads) = neighbours(&cq)
                    .iter()
                    .filter_map(|n| by_canonical.get(n))
                    .fold((0, 0), |acc, e| (acc.0 + e.0, acc.1 + e.1));
                out.push(Planned {
                    body: self.range_body(
                        json!({"plate": query, "match": "fuzzy", "max_edits": 1, "limit": PAGE}),
                    ),
                    expect: Expect::Reads {
                        total: reads,
                        accept: Accept::Fuzzy(cq),
                        from: self.range.0,
                        to: self.range.1,
                    },
                    size: plates,
                    form: None,
                });
            }
        }
        out
    }

    /// Camera indexes within `radius_m` of camera `c`.
    fn near(&self, c: usize, radius_m: f64) -> Vec<bool> {
        let cams = self.w.cameras();
        cams.iter()
            .map(|o| distance_m(cams[c].lat, cams[c].lon, o.lat, o.lon) <= radius_m)
            .collect()
    }

    /// Reads in `[from, to]` at cameras flagged in `near`: their positions.
    fn reads_at(&self, near: &[bool], from: i64, to: i64) -> Vec<usize> {
        (self.w.first_at_or_after(from)..self.w.first_at_or_after(to.saturating_add(1)))
            .filter(|&i| near[self.w.camera_index(i)])
            .collect()
    }

    fn area(&mut self) -> Vec<Planned> {
        let cams = self.w.cameras().len();
        let (start, end) = (self.w.start_ms(), self.w.params().end_ms);
        let mut out = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            {
                let c = self.rng.random_range(0..cams);
                let to = self.rng.random_range((start + DAY_MS).min(end)..=end);
                let from = to - DAY_MS;
                let near = self.near(c, AREA_RADIUS_M);
                let total = (self.w.first_at_or_after(from)..self.w.first_at_or_after(to + 1))
                    .filter(|&i| near[self.w.camera_index(i)])
                    .count() as u64;
                let cam = &self.w.cameras()[c];
                out.push(Planned {
                    body: json!({
                        "area": {"circle": {"lat": cam.lat, "lon": cam.lon, "radius_m": AREA_RADIUS_M}},
                        "from": format_rfc3339_ms(from), "to": format_rfc3339_ms(to), "limit": PAGE,
                    }),
                    expect: Expect::Reads {
                        total,
                        accept: Accept::Circle(cam.lat, cam.lon, AREA_RADIUS_M),
                        from,
                        to,
                    },
                    size: total,
                    form: None,
                });
            }
        }
        out
    }

    fn co_location(&mut self) -> Vec<Planned> {
        let w = self.w;
        let roams = w.roams();
        if roams.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            {
                let roam = &roams[self.rng.random_range(0..roams.len())];
                let mut places = Vec::new();
                let mut seen: Option<BTreeSet<usize>> = None;
                for &c in &roam.cameras {
                    let cam = &self.w.cameras()[c];
                    places.push(json!({
                        "area": {"circle": {"lat": cam.lat, "lon": cam.lon, "radius_m": PLACE_RADIUS_M}},
                        "from": format_rfc3339_ms(roam.from_ms), "to": format_rfc3339_ms(roam.to_ms),
                    }));
                    let here: BTreeSet<usize> = self
                        .reads_at(&self.near(c, PLACE_RADIUS_M), roam.from_ms, roam.to_ms)
                        .into_iter()
                        .map(|i| self.w.plate_index(i))
                        .collect();
                    seen = Some(match seen {
                        None => here,
                        Some(s) => s.intersection(&here).copied().collect(),
                    });
                }
                let plates: BTreeSet<String> = seen
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| self.w.plates()[p].clone())
                    .collect();
                out.push(Planned {
                    body: json!({"places": places, "min_places": 3}),
                    size: plates.len() as u64,
                    expect: Expect::CoLocation {
                        plates,
                        planted: self.w.plates()[roam.plate].clone(),
                    },
                    form: None,
                });
            }
        }
        out
    }

    fn convoy(&mut self) -> Vec<Planned> {
        let w = self.w;
        let convoys = w.convoys();
        if convoys.is_empty() {
            return Vec::new();
        }
        let (start, end) = (self.w.start_ms(), self.w.params().end_ms);
        let window = CONVOY_WINDOW_S * 1000;
        let mut out = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            {
                let convoy = &convoys[self.rng.random_range(0..convoys.len())];
                let to = self.rng.random_range((start + 7 * DAY_MS).min(end)..=end);
                let from = to - 7 * DAY_MS;
                let mut seen: HashMap<usize, usize> = HashMap::new();
                for &i in &convoy.lead_reads {
                    let (ts, camera) = (self.w.ts(i), self.w.camera_index(i));
                    if ts < from || ts > to {
                        continue;
                    }
                    let near: BTreeSet<usize> = (self.w.first_at_or_after(ts - window)
                        ..self.w.first_at_or_after(ts + window + 1))
                        .filter(|&j| self.w.camera_index(j) == camera)
                        .map(|j| self.w.plate_index(j))
                        .filter(|&p| p != convoy.lead)
                        .collect();
                    for p in near {
                        *seen.entry(p).or_default() += 1;
                    }
                }
                let companions: BTreeMap<String, usize> = seen
                    .into_iter()
                    .filter(|&(_, n)| n >= CONVOY_MIN)
                    .map(|(p, n)| (self.w.plates()[p].clone(), n))
                    .collect();
                out.push(Planned {
                    body: json!({
                        "plate": self.w.plates()[convoy.lead], "from": format_rfc3339_ms(from),
                        "to": format_rfc3339_ms(to), "window_s": CONVOY_WINDOW_S,
                        "min_co_occurrences": CONVOY_MIN,
                    }),
                    size: companions.len() as u64,
                    expect: Expect::Convoy {
                        companions,
                        planted: self.w.plates()[convoy.follower].clone(),
                    },
                    form: None,
                });
            }
        }
        out
    }

    fn frequency(&mut self) -> Vec<Planned> {
        let chosen: Vec<usize> = (0..self.count)
            .map(|_| self.pool_with_reads[self.rng.random_range(0..self.pool_with_reads.len())])
            .collect();
        // One pass over the reads for every chosen plate.
        let mut slot = vec![u32::MAX; self.w.plates().len()];
        let mut distinct = Vec::new();
        for &p in &chosen {
            if slot[p] == u32::MAX {
                slot[p] = distinct.len() as u32;
                distinct.push(p);
            }
        }
        type Stats = (BTreeMap<usize, (u64, i64, i64)>, [u64; 24], [u64; 7], u64);
        let mut stats: Vec<Stats> = vec![(BTreeMap::new(), [0; 24], [0; 7], 0); distinct.len()];
        for i in 0..self.w.len() {
            let s = slot[self.w.plate_index(i)];
            if s == u32::MAX {
                continue;
            }
            let ts = self.w.ts(i);
            if ts < self.range.0 || ts > self.range.1 {
                continue;
            }
            let st = &mut stats[s as usize];
            let e = st.0.entry(self.w.camera_index(i)).or_insert((0, ts, ts));
            e.0 += 1;
            e.1 = e.1.min(ts);
            e.2 = e.2.max(ts);
            st.1[hour_of(ts)] += 1;
            st.2[weekday_of(ts)] += 1;
            st.3 += 1;
        }
        chosen
            .iter()
            .map(|&p| {
                let (cams, by_hour, by_weekday, total) = &stats[slot[p] as usize];
                let mut by_camera: Vec<(String, u64, i64, i64)> = cams
                    .iter()
                    .map(|(&c, &(n, first, last))| (self.w.cameras()[c].id.clone(), n, first, last))
                    .collect();
                by_camera.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                Planned {
                    body: self.range_body(json!({"plate": self.w.plates()[p]})),
                    size: *total,
                    expect: Expect::Frequency {
                        total: *total,
                        by_camera,
                        by_hour: *by_hour,
                        by_weekday: *by_weekday,
                    },
                    form: None,
                }
            })
            .collect()
    }
}

pub(super) fn canonical_byte(b: u8) -> u8 {
    canonical(std::str::from_utf8(&[b]).unwrap_or("?"))[0]
}

/// The plan of every class: `warmup + measured` requests each (none for a class the
/// workload planted nothing for), with the answer each must get, from the workload alone.
/// `now` is where the 30-day ranges end.
pub fn plan(
    w: &Workload,
    warmup: usize,
    measured: usize,
    seed: u64,
    now: i64,
) -> Vec<(Class, Vec<Planned>)> {
    let with_reads = w.plates_with_reads();
    let pool_with_reads = with_reads
        .iter()
        .copied()
        .filter(|&p| p < w.pool_size())
        .collect();
    let mut planner = Planner {
        w,
        rng: StdRng::seed_from_u64(seed ^ 0x5ea5c4),
        count: warmup + measured,
        range: (now - 30 * DAY_MS, now),
        with_reads,
        pool_with_reads,
    };
    Class::ALL
        .iter()
        .map(|&class| {
            let planned = match class {
                Class::Exact => planner.exact(),
                Class::Wildcard => planner.wildcard(),
                Class::Fuzzy => planner.fuzzy(),
                Class::Area => planner.area(),
                Class::CoLocation => planner.co_location(),
                Class::Convoy => planner.convoy(),
                Class::Frequency => planner.frequency(),
            };
            (class, planned)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Checks
