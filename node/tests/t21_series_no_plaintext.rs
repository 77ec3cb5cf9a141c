//! No plaintext sensor id, metric or tag of a sensor sample reaches the disk (keys carry the
//! series token, values are sealed), while the series answers its query: a real `sightline`
//! process, one batch compacted into SSTs and one left in the WAL and memtable.

mod common;

use anyhow::Result;
use common::plaintext::scan;
use common::{now_ms, Node};
use serde_json::json;
use sightline_storage::time::format_rfc3339_ms;

const SENSOR: &str = "acoustic-QZX9K7W";
const METRIC: &str = "decibels-WVU84JQ";
const TAG_KEY: &str = "installer-XJ7QKZ";
const TAG_VALUE: &str = "corner-of-QPLMZN";

#[test]
fn sensor_ids_metrics_and_tags_appear_in_no_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut node = Node::start(dir.path())?;
    node.create_tenant("acme", 30)?;
    let start = now_ms() / 60_000 * 60_000 - 10 * 60_000;
    let batch = |minute: i64| {
        let samples: Vec<_> = (0..60)
            .map(|s| {
                json!({"sensor_id": SENSOR, "metric": METRIC,
                       "ts": format_rfc3339_ms(start + minute * 60_000 + s * 1_000),
                       "value": s as f64, "tags": {TAG_KEY: TAG_VALUE}})
            })
            .collect();
        json!(samples)
    };
    let (status, answer) = node.post_json("/v1/tenants/acme/series", &batch(0))?;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = node.post_json("/v1/admin/compact", &json!({}))?;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = node.post_json("/v1/tenants/acme/series", &batch(1))?;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = node.post_json(
        "/v1/tenants/acme/series/query",
        &json!({"sensor_id": SENSOR, "metric": METRIC, "from": format_rfc3339_ms(start),
                "to": format_rfc3339_ms(start + 120_000), "step_s": 60, "agg": "sum"}),
    )?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["points"],
        json!([
            [format_rfc3339_ms(start), 1770.0],
            [format_rfc3339_ms(start + 60_000), 1770.0]
        ]),
        "both batches are there and answer"
    );
    node.stop()?;

    let needles: Vec<(String, Vec<u8>)> = [SENSOR, METRIC, TAG_KEY, TAG_VALUE]
        .iter()
        .map(|text| (format!("{text:?}"), text.as_bytes().to_vec()))
        .collect();
    let mut files = 0;
    let found = scan(&dir.path().join("data"), &needles, &mut files)?;
    assert!(files >= 5, "scanned only {files} files");
    assert!(found.is_empty(), "plaintext on disk: {found:#?}");
    Ok(())
}
