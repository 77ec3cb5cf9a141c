//! Issue 17, acceptance 5: `sightline-bench compare` at 200,000 reads, in the suite. It
//! installs PostgreSQL and PostGIS from Debian's packages when they are missing (as root,
//! as CI runs, or through sudo), runs both systems on the same reads and requests, and
//! checks that every answer pair agrees. It never looks at a timing.

use std::time::Instant;

use sightline_bench::compare::{self, Config};

#[test]
fn sightline_and_postgres_agree_on_every_answer_at_200k_reads() {
    let started = Instant::now();
    let config = Config {
        reads: 200_000,
        seed: 17,
        batch: 10_000,
        clients: 2,
        measured: 15,
        warmup: 5,
        binary: sightline_chaos::sightline_binary().expect("the sightline binary"),
        dir: std::env::temp_dir(),
        block_cache: "64MiB".into(),
        out: None,
        doc: None,
        command: "bench/tests/t10_compare.rs".into(),
        keep: false,
        wait_quiet: std::time::Duration::ZERO,
    };
    let report = compare::run(&config).expect("the comparison runs and both systems agree");
    assert!(
        report.disagreements.is_empty(),
        "{:?}",
        report.disagreements
    );
    assert_eq!(report.sightline_ingest.reads, 200_000);
    assert_eq!(report.postgres_ingest.rows, 200_000);
    // 200,000 reads over 29.5 days are enough for every pattern to be planted, so every
    // class has answers to compare.
    assert_eq!(report.classes.len(), 7);
    for class in &report.classes {
        assert_eq!(class.compared, 20, "{}", class.class);
    }
    eprintln!(
        "compare at 200,000 reads: {} answer pairs agree; {:.0} s",
        report.answers_checked,
        started.elapsed().as_secs_f64()
    );
}
