//! Timings at 1,000,000 plates; run with
//! `cargo test --release -p sightline-index -- --ignored --nocapture perf_1m`.

use super::*;
use rand::prelude::*;
use std::time::{Duration, Instant};

const L: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const D: &[u8] = b"0123456789";

fn random_plate(rng: &mut StdRng) -> String {
    let shape: &[&[u8]] = match rng.random_range(0..3) {
        0 => &[L, L, L, D, D, D, D],
        1 => &[D, L, L, L, D, D, D],
        _ => &[L, L, D, D, D, D, D],
    };
    shape
        .iter()
        .map(|set| char::from(set[rng.random_range(0..set.len())]))
        .collect()
}

fn stats(name: &str, mut t: Vec<Duration>, hits: usize) {
    t.sort();
    let n = t.len();
    let mean = t.iter().sum::<Duration>() / n as u32;
    println!(
        "| {name:<28} | {:>9.3} | {:>9.3} | {:>9.3} | {:>8.1} |",
        t[n / 2].as_secs_f64() * 1e3,
        t[n * 99 / 100].as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        hits as f64 / n as f64
    );
}

fn queries(d: &PlateDictionary, sample: &[String], rng: &mut StdRng) {
    println!("| query (200 runs)             | p50 ms    | p99 ms    | mean ms   | hits     |");
    println!("|------------------------------|-----------|-----------|-----------|----------|");
    let mutate = |p: &str, rng: &mut StdRng| {
        let mut b = p.as_bytes().to_vec();
        let i = rng.random_range(0..b.len());
        b[i] = if b[i].is_ascii_digit() { b'X' } else { b'7' };
        String::from_utf8(b).unwrap_or_default()
    };
    let mut run = |name: &str, make: &dyn Fn(&str, &mut StdRng) -> String, fuzzy: Option<u8>| {
        let mut times = Vec::new();
        let mut hits = 0;
        for p in sample {
            let q = make(p, rng);
            let start = Instant::now();
            let r = match fuzzy {
                Some(k) => d.fuzzy(&Fuzzy::new(&q, k).unwrap(), i64::MIN),
                None => d.wildcard(&Wildcard::parse(&q).unwrap(), i64::MIN),
            };
            times.push(start.elapsed());
            hits += r.len();
        }
        stats(name, times, hits);
    };
    run("fuzzy 0 edits (OCR only)", &|p, _| p.to_owned(), Some(0));
    run("fuzzy 1 edit", &|p, r| mutate(p, r), Some(1));
    run("fuzzy 2 edits", &|p, r| mutate(p, r), Some(2));
    run(
        "wildcard prefix `7AB*`",
        &|p, _| format!("{}*", &p[..3]),
        None,
    );
    run(
        "wildcard `?` middle",
        &|p, _| format!("{}?{}", &p[..3], &p[4..]),
        None,
    );
    run(
        "wildcard `??C?12?`",
        &|p, _| format!("??{}?{}?", &p[2..3], &p[4..6]),
        None,
    );
    run(
        "wildcard leading `*4917`",
        &|p, _| format!("*{}", &p[3..]),
        None,
    );
    run(
        "wildcard infix `*X9*`",
        &|p, _| format!("*{}*", &p[2..4]),
        None,
    );
    run(
        "wildcard infix `*X*` (1 lit)",
        &|p, _| format!("*{}*", &p[2..3]),
        None,
    );
}

#[test]
#[ignore]
fn perf_1m() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut seen = std::collections::HashSet::new();
    let mut plates = Vec::with_capacity(1_000_000);
    while plates.len() < 1_000_000 {
        let p = random_plate(&mut rng);
        if seen.insert(p.clone()) {
            plates.push(p);
        }
    }
    drop(seen);
    let mut d = PlateDictionary::new();
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    for (i, p) in plates.iter().enumerate() {
        let t = Instant::now();
        let tok = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
        d.upsert(tok, p, rng.random_range(0..1_000_000)).unwrap();
        worst = worst.max(t.elapsed());
    }
    let total = start.elapsed();
    println!(
        "insert 1,000,000 plates: {:.2} s total ({:.2} us/plate), worst single upsert {:.1} ms",
        total.as_secs_f64(),
        total.as_secs_f64() * 1e6 / 1e6,
        worst.as_secs_f64() * 1e3
    );
    println!(
        "segments {:?} + buffer {}; memory ~{:.1} MB ({} B/plate)",
        d.segment_sizes(),
        d.buffer.len(),
        d.memory_bytes() as f64 / 1e6,
        d.memory_bytes() / d.len()
    );
    let t = Instant::now();
    let more: Vec<String> = (0..10_000).map(|_| random_plate(&mut rng)).collect();
    for (i, p) in more.iter().enumerate() {
        let tok = (2_000_000 + i as u64).to_le_bytes();
        d.upsert(tok, p, 5).unwrap();
    }
    println!(
        "10,000 more upserts at 1M: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let sample: Vec<String> = plates.choose_multiple(&mut rng, 200).cloned().collect();
    println!("\nLSM state (as during ingest):\n");
    queries(&d, &sample, &mut rng);
    let t = Instant::now();
    d.compact().unwrap();
    println!(
        "\ncompact(): {:.0} ms; memory ~{:.1} MB\n",
        t.elapsed().as_secs_f64() * 1e3,
        d.memory_bytes() as f64 / 1e6
    );
    queries(&d, &sample, &mut rng);
}
