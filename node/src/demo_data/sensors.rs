//! Street sensors: air quality, noise and traffic counters, one sample every 5 minutes.

use rand::rngs::StdRng;
use rand::Rng;

use super::grid::{Cell, GRID_W};
use super::time::{hour_of, traffic_profile, utc_fields, Clock, DAY, MINUTE, SECOND};
use super::{gauss, round_to};

pub(super) const SAMPLE_PERIOD: i64 = 5 * MINUTE;
pub(super) const SAMPLES_PER_SERIES: usize = (DAY / SAMPLE_PERIOD) as usize;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Metric {
    Pm25,
    NoiseDb,
    TempC,
    TrafficCount,
}

impl Metric {
    pub(super) fn name(self) -> &'static str {
        match self {
            Metric::Pm25 => "pm25",
            Metric::NoiseDb => "noise_db",
            Metric::TempC => "temp_c",
            Metric::TrafficCount => "traffic_count",
        }
    }

    pub(super) fn unit(self) -> &'static str {
        match self {
            Metric::Pm25 => "ug/m3",
            Metric::NoiseDb => "dBA",
            Metric::TempC => "C",
            Metric::TrafficCount => "vehicles/5min",
        }
    }
}

/// Street sensors: (id, grid cell they are mounted at, metrics they report).
pub(super) static SENSORS: [(&str, Cell, &[Metric]); 20] = [
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

pub(super) struct Sample {
    pub(super) sensor: usize,
    pub(super) metric: Metric,
    pub(super) t: i64,
    pub(super) value: f64,
}

/// Chicago monthly mean temperature, °C (1991–2020 normals, rounded).
pub(super) static MONTHLY_MEAN_C: [f64; 12] = [
    -4.6, -2.6, 3.2, 9.3, 15.2, 20.8, 23.6, 22.8, 18.8, 12.0, 5.1, -1.3,
];

pub(super) fn simulate_sensors(rng: &mut StdRng, clock: &Clock) -> Vec<Sample> {
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
