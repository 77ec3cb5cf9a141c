//! Latency percentiles (nearest-rank, so every reported figure is a latency that was
//! actually observed).

use std::time::Duration;

/// The value at quantile `q` (0.0..=1.0) of ascending `sorted` samples, by nearest rank:
/// the smallest sample such that at least `q` of all samples are at or below it. `None`
/// for no samples.
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let q = q.clamp(0.0, 1.0);
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

/// A latency distribution in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Fastest.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Summary {
    /// Summarizes `samples` (sorted in place); `None` for no samples.
    pub fn of(samples: &mut [Duration]) -> Option<Summary> {
        samples.sort_unstable();
        let at = |q| percentile(samples, q).map(ms);
        let total: Duration = samples.iter().sum();
        Some(Summary {
            count: samples.len(),
            min_ms: ms(*samples.first()?),
            p50_ms: at(0.50)?,
            p90_ms: at(0.90)?,
            p99_ms: at(0.99)?,
            p999_ms: at(0.999)?,
            max_ms: ms(*samples.last()?),
            mean_ms: ms(total) / samples.len() as f64,
        })
    }

    /// The summary as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "min_ms": round3(self.min_ms),
            "p50_ms": round3(self.p50_ms),
            "p90_ms": round3(self.p90_ms),
            "p99_ms": round3(self.p99_ms),
            "p999_ms": round3(self.p999_ms),
            "max_ms": round3(self.max_ms),
            "mean_ms": round3(self.mean_ms),
        })
    }
}

/// Rounds to three decimals (microseconds, for milliseconds) for readable reports.
pub fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// An integer with thousands separators (`1,234,567`).
pub fn fmt_int(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(d).collect();
        assert_eq!(percentile(&sorted, 0.5), Some(d(50)));
        assert_eq!(percentile(&sorted, 0.99), Some(d(99)));
        assert_eq!(percentile(&sorted, 0.999), Some(d(100)));
        assert_eq!(percentile(&sorted, 0.0), Some(d(1)));
        assert_eq!(percentile(&sorted, 1.0), Some(d(100)));
        assert_eq!(percentile(&[d(7)], 0.99), Some(d(7)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn summary_sorts_and_reports_observed_values() {
        let mut samples = vec![d(5), d(1), d(3), d(2), d(4)];
        let s = Summary::of(&mut samples).unwrap();
        assert_eq!((s.count, s.min_ms, s.p50_ms, s.max_ms), (5, 1.0, 3.0, 5.0));
        assert_eq!(s.mean_ms, 3.0);
        assert!(Summary::of(&mut []).is_none());
    }

    #[test]
    fn integers_are_grouped() {
        assert_eq!(fmt_int(1_234_567.4), "1,234,567");
        assert_eq!(fmt_int(999.0), "999");
        assert_eq!(fmt_int(0.0), "0");
    }
}
