//! Ingest over HTTP and exact plate search, end to end against a real `sightline` process.

mod common;

use std::collections::HashSet;

use anyhow::Result;
use common::{ndjson, now_ms, read_json, Node};
use rand::{Rng, SeedableRng};
use serde_json::json;

const TENANT: &str = "city";

/// 1,000,000 reads in NDJSON batches; an exact search with a time range returns every
/// read of one plate, newest first, with the right total, across several pages.
#[test]
fn a_million_reads_then_every_read_of_one_plate_across_pages() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = Node::start(dir.path())?;
    node.create_tenant(TENANT, 30)?;

    let seed: u64 = rand::rng().random();
    eprintln!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let now = now_ms();
    let window_ms = 20 * 86_400_000i64;
    let target = "7TGT 042";
    let mut target_times = Vec::new();
    let total_reads = 1_000_000usize;
    let batch_size = 10_000usize;
    let mut batch = Vec::with_capacity(batch_size);
    for i in 0..total_reads {
        let ts = now - rng.random_range(0..window_ms);
        let plate = if i % 2_000 == 7 {
            target_times.push(ts);
            target.to_string()
        } else {
            format!(
                "{}{:06}",
                (b'A' + rng.random_range(0..26u8)) as char,
                rng.random_range(0..200_000u32)
            )
        };
        batch.push(read_json(
            None,
            &format!("cam-{:03}", rng.random_range(0..300)),
            ts,
            &plate,
        ));
        if batch.len() == batch_size {
            let (status, body) = node.post(
                &format!("/v1/tenants/{TENANT}/reads"),
                "application/x-ndjson",
                &ndjson(&batch),
            )?;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["accepted"], batch_size);
            batch.clear();
        }
    }
    assert_eq!(target_times.len(), 500);

    // A range that cuts the target's reads roughly in half.
    let from = now - window_ms / 2;
    let to = now;
    let mut expected: Vec<i64> = target_times
        .iter()
        .copied()
        .filter(|t| (from..=to).contains(t))
        .collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    let fmt = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    };
    let (hits, total, pages) = node.search_all(
        TENANT,
        json!({"plate": "7tgt-042", "from": fmt(from), "to": fmt(to), "limit": 100}),
    )?;
    assert_eq!(total as usize, expected.len());
    assert_eq!(hits.len(), expected.len());
    assert!(pages >= 2, "expected several pages, got {pages}");
    let got: Vec<i64> = hits
        .iter()
        .map(|h| {
            chrono::DateTime::parse_from_rfc3339(h["captured_at"].as_str().unwrap_or(""))
                .map(|t| t.timestamp_millis())
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(got, expected, "every read, newest first");
    let ids: HashSet<&str> = hits.iter().filter_map(|h| h["id"].as_str()).collect();
    assert_eq!(ids.len(), hits.len(), "no read twice across pages");
    for hit in &hits {
        assert_eq!(hit["plate"], "7TGT042");
        assert_eq!(hit["plate_raw"], target);
        assert_eq!(hit["h3_cell"].as_str().map(str::len), Some(15));
    }

    // The whole retention window finds all 500, and a camera filter narrows the total.
    let (all, total_all, _) = node.search_all(TENANT, json!({"plate": target, "limit": 1000}))?;
    assert_eq!((all.len(), total_all), (500, 500));
    let camera = all[0]["camera_id"].as_str().unwrap_or_default().to_string();
    let on_camera = all
        .iter()
        .filter(|h| h["camera_id"] == camera.as_str())
        .count();
    let (filtered, filtered_total, _) =
        node.search_all(TENANT, json!({"plate": target, "cameras": [camera]}))?;
    assert_eq!(
        (filtered.len(), filtered_total as usize),
        (on_camera, on_camera)
    );
    Ok(())
}

/// A batch with one bad record answers 400 naming its index and field, and nothing of the
/// batch is written.
#[test]
fn a_bad_record_rejects_the_whole_batch() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = Node::start(dir.path())?;
    node.create_tenant(TENANT, 30)?;
    let now = now_ms();
    let mut reads: Vec<_> = (0..50)
        .map(|i| read_json(None, "cam-1", now - i * 1000, "BATCH01"))
        .collect();
    reads[37]["lat"] = json!(123.4);
    for (content_type, body) in [
        ("application/json", serde_json::to_string(&reads)?),
        ("application/x-ndjson", ndjson(&reads)),
    ] {
        let (status, answer) =
            node.post(&format!("/v1/tenants/{TENANT}/reads"), content_type, &body)?;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_records");
        let details = answer["error"]["details"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(details.len(), 1, "{answer}");
        assert_eq!(details[0]["index"], 37);
        assert_eq!(details[0]["field"], "lat");
        assert!(details[0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("between -90 and 90"));
    }
    let (hits, total, _) = node.search_all(TENANT, json!({"plate": "BATCH01"}))?;
    assert_eq!((hits.len(), total), (0, 0), "none of the batch was written");

    // The same batch, fixed, is written whole.
    reads[37]["lat"] = json!(41.9);
    let (status, answer) = node.post_json(&format!("/v1/tenants/{TENANT}/reads"), &json!(reads))?;
    assert_eq!(status, 200, "{answer}");
    let (_, total, _) = node.search_all(TENANT, json!({"plate": "BATCH01"}))?;
    assert_eq!(total, 50);
    Ok(())
}

/// Re-sending reads with the same client ids does not duplicate them.
#[test]
fn client_ids_make_resends_idempotent() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = Node::start(dir.path())?;
    node.create_tenant(TENANT, 30)?;
    let now = now_ms();
    let reads: Vec<_> = (0..20)
        .map(|i| read_json(Some(&format!("cam1-{i}")), "cam-1", now - i * 1000, "IDEM1"))
        .collect();
    for _ in 0..3 {
        let (status, answer) =
            node.post_json(&format!("/v1/tenants/{TENANT}/reads"), &json!(reads))?;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["ids"][3], "cam1-3");
    }
    let (hits, total, _) = node.search_all(TENANT, json!({"plate": "IDEM1"}))?;
    assert_eq!((hits.len(), total), (20, 20));
    Ok(())
}

/// The error format of api.md for the mistakes a caller makes most.
#[test]
fn caller_mistakes_get_clear_errors() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let node = Node::start(dir.path())?;
    node.create_tenant(TENANT, 30)?;
    let search = format!("/v1/tenants/{TENANT}/search/plates");
    let cases = [
        (
            format!("/v1/tenants/{TENANT}/reads"),
            "application/json",
            "{not json".to_string(),
            400,
            "invalid_json",
        ),
        (
            format!("/v1/tenants/{TENANT}/reads"),
            "application/json",
            "[]".to_string(),
            400,
            "empty_batch",
        ),
        (
            format!("/v1/tenants/{TENANT}/reads"),
            "text/csv",
            "a,b".to_string(),
            415,
            "unsupported_media_type",
        ),
        (
            search.clone(),
            "application/json",
            json!({"plate": "A1"}).to_string(),
            400,
            "audit_fields_required",
        ),
        (
            search.clone(),
            "application/json",
            json!({"plate": "A1", "case_number": "1", "reason": "r", "limit": 0}).to_string(),
            400,
            "invalid_request",
        ),
        (
            search.clone(),
            "application/json",
            json!({"plate": "A1", "case_number": "1", "reason": "r", "cursor": "xyz"}).to_string(),
            400,
            "invalid_cursor",
        ),
        (
            search,
            "application/json",
            json!({"plate": "A1", "case_number": "1", "reason": "r", "colour": "red"}).to_string(),
            400,
            "invalid_request",
        ),
    ];
    // Another tenant, existing or not, with this tenant's token: the same 403.
    let own = node.with_token(&node.token_for(TENANT, "ingest")?);
    let batch = json!([read_json(None, "c", now_ms(), "A1")]).to_string();
    for other in ["nobody", "other"] {
        if other == "other" {
            node.create_tenant(other, 30)?;
        }
        let (status, answer) = own.post(
            &format!("/v1/tenants/{other}/reads"),
            "application/json",
            &batch,
        )?;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{other}: {answer}"
        );
    }
    for (path, content_type, body, want_status, want_code) in cases {
        let (status, answer) = node.post(&path, content_type, &body)?;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (want_status, Some(want_code)),
            "{path} {body}: {answer}"
        );
        assert!(answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    Ok(())
}
