//! No plaintext plate or exact position reaches the disk: not in SSTs, the WAL, the
//! MANIFEST, logs or anything else under the data directory.

mod common;

use anyhow::Result;
use common::plaintext::{needles, scan};
use common::{now_ms, read_json, Node};
use serde_json::json;

/// A plate that only a hotlist names.
const HOTLISTED_ONLY: &str = "HQ7WX3ZK";

#[test]
fn known_plates_and_positions_appear_in_no_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut node = Node::start(dir.path())?;
    node.create_tenant("acme", 30)?;
    let plates = ["QZX 9K7W", "wvu-84jq", "XJ7QKZ2"];
    let positions = [(41.912_345_6, -87.654_321_9), (41.876_543_2, -87.612_345_8)];
    let now = now_ms();
    let batch = |offset: i64| {
        let mut reads = Vec::new();
        for (i, plate) in plates.iter().enumerate() {
            for (j, (lat, lon)) in positions.iter().enumerate() {
                let mut read = read_json(
                    None,
                    "cam-9",
                    now - offset - (i * 10 + j) as i64 * 1000,
                    plate,
                );
                read["lat"] = json!(lat);
                read["lon"] = json!(lon);
                reads.push(read);
            }
        }
        json!(reads)
    };
    // One batch is compacted into SSTs, the next stays in the WAL and memtable.
    let (status, answer) = node.post_json("/v1/tenants/acme/reads", &batch(0))?;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = node.post_json("/v1/admin/compact", &json!({}))?;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = node.post_json("/v1/tenants/acme/reads", &batch(60_000))?;
    assert_eq!(status, 200, "{answer}");
    // A hotlisted plate that no read carries reaches the disk only through the hotlist
    // (meta and the Raft log), and must be sealed there too.
    let (status, answer) = node.put_json(
        "/v1/tenants/acme/hotlists/wanted",
        &json!({"plates": [HOTLISTED_ONLY, plates[0]], "match": "fuzzy"}),
    )?;
    assert_eq!(status, 201, "{answer}");
    let (hits, total, _) = node.search_all("acme", json!({"plate": "qzx9k7w"}))?;
    assert_eq!(
        (hits.len(), total),
        (4, 4),
        "the reads are there and searchable"
    );
    node.stop()?;

    let mut files = 0;
    let mut plates_on_disk = plates.to_vec();
    plates_on_disk.push(HOTLISTED_ONLY);
    let found = scan(
        &dir.path().join("data"),
        &needles(&plates_on_disk, &positions),
        &mut files,
    )?;
    assert!(files >= 5, "scanned only {files} files");
    assert!(found.is_empty(), "plaintext on disk: {found:#?}");
    Ok(())
}
