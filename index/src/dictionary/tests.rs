use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::hash::Hash;

fn token(plate: &str) -> [u8; 8] {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    plate.hash(&mut h);
    h.finish().to_le_bytes()
}

fn dict(plates: &[(&str, i64)], segment_size: usize) -> PlateDictionary {
    let mut d = PlateDictionary::with_segment_size(segment_size);
    for (p, t) in plates {
        d.upsert(token(p), p, *t).unwrap();
    }
    d
}

fn plates_of(d: &PlateDictionary, ids: &[PlateId]) -> Vec<String> {
    ids.iter()
        .map(|&i| d.plate(i).unwrap().to_owned())
        .collect()
}

/// Merges handed out as jobs, run late and installed between inserts (or made moot by
/// a compaction) never change what a search finds.
#[test]
fn merge_jobs_run_off_the_lock_keep_searches_exact() {
    let plates: Vec<String> = (0..3_000u32)
        .map(|i| {
            format!(
                "{}{}{:04}",
                (b'A' + (i % 26) as u8) as char,
                (b'K' + (i % 7) as u8) as char,
                i * 7 % 10_000
            )
        })
        .collect();
    let mut d = PlateDictionary::with_segment_size(8);
    d.set_inline_merge_max(64);
    let mut pending: Option<MergeJob> = None;
    let mut installed = 0;
    for (i, p) in plates.iter().enumerate() {
        d.upsert(token(p), p, i as i64).unwrap();
        if i % 97 == 0 {
            if let Some(job) = pending.take() {
                d.install_merge(job.run().unwrap()).unwrap();
                installed += 1;
            }
            pending = d.take_merge_job();
        }
        if i == 2_000 {
            d.compact().unwrap(); // an outstanding job becomes moot
        }
    }
    if let Some(job) = pending.take() {
        d.install_merge(job.run().unwrap()).unwrap();
    }
    assert!(
        installed > 3,
        "jobs were handed out and installed: {installed}"
    );
    for pattern in ["A*", "?K*", "*07", "B?00*"] {
        let w = Wildcard::parse(pattern).unwrap();
        let mut want: Vec<&str> = plates
            .iter()
            .map(String::as_str)
            .filter(|p| w.matches(p))
            .collect();
        want.sort();
        let mut got = plates_of(&d, &d.wildcard(&w, i64::MIN));
        got.sort();
        assert_eq!(got, want, "{pattern}");
    }
    let f = Fuzzy::new(&plates[1234], 1).unwrap();
    let mut want: Vec<&str> = plates
        .iter()
        .map(String::as_str)
        .filter(|p| f.matches(p))
        .collect();
    want.sort();
    let mut got = plates_of(&d, &d.fuzzy(&f, i64::MIN));
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn upsert_refresh_and_getters() {
    let mut d = PlateDictionary::new();
    let a = d.upsert(token("KD40917"), "KD40917", 10).unwrap();
    let b = d.upsert(token("7ABC123"), "7ABC123", 5).unwrap();
    assert_eq!((a, b), (0, 1));
    assert_eq!(d.upsert(token("KD40917"), "KD40917", 3).unwrap(), a);
    assert_eq!(d.last_seen(a), Some(10));
    assert_eq!(d.upsert(token("KD40917"), "KD40917", 30).unwrap(), a);
    assert_eq!(d.last_seen(a), Some(30));
    assert_eq!(d.plate(b), Some("7ABC123"));
    assert_eq!(d.token(b), Some(token("7ABC123")));
    assert_eq!(d.id_of(&token("7ABC123")), Some(b));
    assert_eq!(d.len(), 2);
    assert!(d.plate(7).is_none());
    for bad in ["", "kd40917", "KD-40917", "ABCDEFGHIJKLMNOPQ", "KÖ1"] {
        assert!(matches!(
            d.try_upsert(token(bad), bad, 1),
            Err(DictionaryError::InvalidPlate(_))
        ));
        assert_eq!(d.upsert(token(bad), bad, 1), None);
    }
    d.expire(20);
    assert_eq!(d.len(), 1);
    assert_eq!(d.plate(b), None);
    assert_eq!(d.id_of(&token("7ABC123")), None);
    let c = d.upsert(token("7ABC123"), "7ABC123", 50).unwrap();
    assert_eq!(c, 2, "expired ids are not reused");
}

#[test]
fn wildcard_and_fuzzy_examples() {
    for seg in [1, 2, 4096] {
        let d = dict(
            &[
                ("KD40917", 10),
                ("KO40917", 10),
                ("K040917", 20),
                ("7ABC123", 10),
                ("7A8C123", 10),
                ("XY4917", 10),
                ("KD4091", 10),
            ],
            seg,
        );
        let w = |p: &str, min| plates_of(&d, &d.wildcard(&Wildcard::parse(p).unwrap(), min));
        let f = |p: &str, k, min| plates_of(&d, &d.fuzzy(&Fuzzy::new(p, k).unwrap(), min));
        assert_eq!(w("KD*", 0), ["KD40917", "KD4091"]);
        assert_eq!(w("*4917", 0), ["XY4917"]);
        assert_eq!(w("*0917", 0), ["KD40917", "KO40917", "K040917"]);
        assert_eq!(w("*0917", 15), ["K040917"]);
        assert_eq!(w("K?4*", 0), ["KD40917", "KO40917", "K040917", "KD4091"]);
        assert_eq!(w("*AB*", 0), ["7ABC123"]);
        assert_eq!(w("7A?C12?", 0), ["7ABC123", "7A8C123"]);
        assert_eq!(f("KD40917", 0, 0), ["KD40917", "KO40917", "K040917"]);
        assert_eq!(f("KD40917", 0, 15), ["K040917"]);
        assert_eq!(
            f("KD40917", 1, 0),
            ["KD40917", "KO40917", "K040917", "KD4091"]
        );
        assert_eq!(f("7ABC123", 0, 0), ["7ABC123", "7A8C123"]);
        assert_eq!(f("XY49", 1, 0), Vec::<String>::new());
        assert_eq!(f("XY49", 2, 0), ["XY4917"]);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(String, i64),
    Expire(i64),
}

fn plate() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(b"0OD1IL2ZAK7".to_vec()), 1..7)
        .prop_map(|v| v.into_iter().map(char::from).collect())
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        prop_oneof![
            30 => (plate(), 0i64..100).prop_map(|(p, t)| Op::Upsert(p, t)),
            1 => (0i64..50).prop_map(Op::Expire),
        ],
        0..400,
    )
}

fn pattern() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(b"0OD1IL2ZAK7**??".to_vec()), 1..8)
        .prop_map(|v| v.into_iter().map(char::from).collect())
}

/// Token -> (plate, last_seen, id) of live plates.
type Model = BTreeMap<[u8; 8], (String, i64, PlateId)>;

fn apply(d: &mut PlateDictionary, model: &mut Model, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut next_id = d.entries.len() as PlateId;
    for op in ops {
        match op {
            Op::Upsert(p, t) => {
                let tok = token(p);
                let id = d.upsert(tok, p, *t).unwrap();
                match model.get_mut(&tok) {
                    Some(m) => {
                        prop_assert_eq!(m.2, id);
                        m.1 = m.1.max(*t);
                    }
                    None => {
                        prop_assert_eq!(id, next_id);
                        next_id += 1;
                        model.insert(tok, (p.clone(), *t, id));
                    }
                }
            }
            Op::Expire(c) => {
                d.expire(*c);
                model.retain(|_, m| m.1 >= *c);
            }
        }
    }
    prop_assert_eq!(d.len(), model.len());
    for (tok, (p, t, id)) in model.iter() {
        prop_assert_eq!(d.id_of(tok), Some(*id));
        prop_assert_eq!(d.plate(*id), Some(p.as_str()));
        prop_assert_eq!(d.last_seen(*id), Some(*t));
    }
    Ok(())
}

fn brute(model: &Model, min: i64, pred: impl Fn(&str) -> bool) -> Vec<PlateId> {
    let mut v: Vec<PlateId> = model
        .values()
        .filter(|(p, t, _)| *t >= min && pred(p))
        .map(|m| m.2)
        .collect();
    v.sort_unstable();
    v
}

fn check_queries(
    d: &PlateDictionary,
    model: &Model,
    pats: &[String],
    fuzz: &[(String, u8)],
    min: i64,
) -> Result<(), TestCaseError> {
    for p in pats {
        let Ok(w) = Wildcard::parse(p) else { continue };
        let want = brute(model, min, |s| glob(w.text().as_bytes(), s.as_bytes()));
        prop_assert_eq!(d.wildcard(&w, min), want, "wildcard {}", w.text());
    }
    for (q, k) in fuzz {
        let f = Fuzzy::new(q, *k).unwrap();
        let want = brute(model, min, |s| {
            crate::pattern::ocr_distance(q, s) <= usize::from(*k)
        });
        prop_assert_eq!(d.fuzzy(&f, min), want, "fuzzy {} {}", q, k);
    }
    Ok(())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|k| glob(&p[1..], &s[k..])),
        Some(b'?') => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob(&p[1..], &s[1..]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn queries_equal_brute_force(
        seg in 1usize..20,
        first in ops(),
        second in ops(),
        pats in proptest::collection::vec(pattern(), 1..6),
        fuzz in proptest::collection::vec((plate(), 0u8..=2), 1..5),
        min in prop_oneof![Just(i64::MIN), 0i64..100],
        compact in any::<bool>(),
    ) {
        let mut d = PlateDictionary::with_segment_size(seg);
        let mut model = Model::new();
        apply(&mut d, &mut model, &first)?;
        check_queries(&d, &model, &pats, &fuzz, min)?;
        if compact {
            d.compact().unwrap();
            check_queries(&d, &model, &pats, &fuzz, min)?;
        }
        apply(&mut d, &mut model, &second)?;
        check_queries(&d, &model, &pats, &fuzz, min)?;
        prop_assert!(d.segments.len() <= 2 * (usize::BITS - d.entries.len().leading_zeros()) as usize + 1);
    }
}
