use super::*;
use crate::synth::WorkloadParams;

#[test]
fn edit_distance_and_patterns() {
    assert!(within_one_edit(b"ABC1234", b"ABC1234"));
    assert!(within_one_edit(b"ABC1234", b"ABX1234"));
    assert!(within_one_edit(b"ABC1234", b"AB1234"));
    assert!(within_one_edit(b"ABC1234", b"ABC12345"));
    assert!(!within_one_edit(b"ABC1234", b"BAC1234"));
    assert!(!within_one_edit(b"ABC1234", b"ABC12"));
    assert_eq!(canonical("BOSS"), b"8055".to_vec());
    assert!(wildcard_matches(b"AB?1*", b"ABC1234"));
    assert!(!wildcard_matches(b"AB?1*", b"ABC2234"));
    assert!(wildcard_matches(b"*34", b"ABC1234"));
    assert!(!wildcard_matches(b"?BC1", b"ABC12"));
    // Enumerated neighbours agree with the direct check.
    let q = canonical("K8C123");
    for w in ["K8C123", "KC123", "K8C1234", "X8C123", "K8C12", "AK8C123"] {
        assert_eq!(
            neighbours(&q).contains(&canonical(w)),
            within_one_edit(&q, &canonical(w)),
            "{w}"
        );
    }
    // A point 564 m north of a camera is on the circle's edge.
    let d = distance_m(41.88, -87.63, 41.88 + 564.0 / 111_195.0, -87.63);
    assert!((d - 564.0).abs() < 1.0, "{d}");
}

#[test]
fn the_plan_knows_its_answers() {
    let w = Workload::generate(WorkloadParams::new(200_000, 1_795_000_000_000));
    let now = w.params().end_ms + 60_000;
    let plans = plan(&w, 2, 20, 7, now);
    assert_eq!(plans.len(), 7);
    for (class, planned) in &plans {
        assert_eq!(planned.len(), 22, "{}", class.name());
    }
    let get = |c: Class| &plans.iter().find(|p| p.0 == c).unwrap().1;
    // Fuzzy: the brute-force count over every plate agrees with the enumeration.
    for p in get(Class::Fuzzy).iter().take(5) {
        let Expect::Reads {
            total,
            accept: Accept::Fuzzy(q),
            ..
        } = &p.expect
        else {
            panic!()
        };
        let brute: u64 = (0..w.plates().len())
            .filter(|&i| within_one_edit(q, &canonical(&w.plates()[i])))
            .map(|i| w.count(i))
            .sum();
        assert_eq!(*total, brute);
        assert!(p.size >= 1);
    }
    for p in get(Class::Wildcard) {
        let Expect::Reads {
            total,
            accept: Accept::Pattern(pat),
            ..
        } = &p.expect
        else {
            panic!()
        };
        let brute: u64 = (0..w.plates().len())
            .filter(|&i| wildcard_matches(pat.as_bytes(), w.plates()[i].as_bytes()))
            .map(|i| w.count(i))
            .sum();
        assert_eq!(*total, brute, "{pat}");
        assert!((10..=1_000).contains(&p.size), "{pat}: {}", p.size);
    }
    for p in get(Class::CoLocation) {
        let Expect::CoLocation { plates, planted } = &p.expect else {
            panic!()
        };
        assert!(plates.contains(planted));
    }
    for p in get(Class::Convoy) {
        let Expect::Convoy {
            companions,
            planted,
        } = &p.expect
        else {
            panic!()
        };
        assert!(
            companions.get(planted).is_some_and(|&n| n >= 20),
            "{companions:?}"
        );
    }
    for p in get(Class::Area) {
        assert!(p.size > 20, "a 24 h circle around a camera: {}", p.size);
    }
    for p in get(Class::Frequency) {
        let Expect::Frequency {
            total,
            by_camera,
            by_hour,
            ..
        } = &p.expect
        else {
            panic!()
        };
        assert_eq!(by_camera.iter().map(|c| c.1).sum::<u64>(), *total);
        assert_eq!(by_hour.iter().sum::<u64>(), *total);
    }
}
