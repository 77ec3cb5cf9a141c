//! Manifest full-text search through the router in process over a real engine: 10,000
//! seeded manifests, and each query's pages together equal the manifests a brute force over
//! what was sent selects (by label word, by transcript word, both, with kind, area and time
//! filters), newest first, each once; bad bodies answer 400 naming the field.

mod common;

use std::collections::HashSet;

use axum::http::StatusCode;
use common::{fields, Api};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sightline_index::area::Area;

const HOUR: i64 = 3_600_000;
const CENTER: (f64, f64) = (41.8819, -87.6278);
const LABELS: &[&str] = &[
    "gunshot", "glass", "scream", "siren", "dog", "crash", "vehicle", "person", "fire", "smoke",
];
/// Transcript words; some are labels too, `school` and `alley` never are.
const WORDS: &[&str] = &[
    "the", "near", "school", "alley", "north", "suspect", "running", "help", "shots", "fired",
    "red", "car", "gunshot", "siren", "door", "window", "police", "stop", "left", "right",
];

fn rfc3339(ms: i64) -> String {
    sightline_storage::time::format_rfc3339_ms(ms)
}

/// A manifest as sent.
struct Sent {
    id: String,
    device_id: String,
    kind: &'static str,
    started_at: i64,
    position: Option<(f64, f64)>,
    labels: Vec<String>,
    transcript: Option<String>,
}

impl Sent {
    /// Lower-case words as the default tokenizer splits them (on non-alphanumerics).
    fn words(&self) -> HashSet<String> {
        let mut text = self.labels.join(" ");
        text.push(' ');
        text.push_str(self.transcript.as_deref().unwrap_or(""));
        text.push(' ');
        text.push_str(&self.device_id);
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }
}

/// 10,000 manifests over ten days, each at its own millisecond (so newest first is one
/// order), a third without a position. Seeded.
async fn load(api: &Api) -> (Vec<Sent>, i64) {
    let (status, body) = api
        .call("PUT", "/v1/admin/tenants/m", json!({"retention_days": 30}))
        .await;
    assert!(status.is_success(), "{body}");
    let mut rng = StdRng::seed_from_u64(60);
    let now = sightline_storage::time::now_ms() - HOUR;
    let kinds = ["image", "video", "audio"];
    let mut sent = Vec::new();
    let mut times: Vec<i64> = (0..10_000i64).map(|i| now - i * 86_400).collect();
    // Shuffle so batches are not in time order.
    for i in (1..times.len()).rev() {
        times.swap(i, rng.random_range(0..=i));
    }
    for (b, chunk) in times.chunks(1_000).enumerate() {
        let mut batch = Vec::new();
        for (i, &started_at) in chunk.iter().enumerate() {
            let labels: Vec<String> = (0..rng.random_range(0..3))
                .map(|_| LABELS[rng.random_range(0..LABELS.len())].to_string())
                .collect();
            let transcript = rng.random_bool(0.7).then(|| {
                (0..rng.random_range(1..12))
                    .map(|_| {
                        let w = WORDS[rng.random_range(0..WORDS.len())];
                        // Case must not matter.
                        if rng.random_bool(0.2) {
                            w.to_uppercase()
                        } else {
                            w.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let position = rng.random_bool(0.66).then(|| {
                (
                    CENTER.0 + rng.random_range(-0.03..0.03),
                    CENTER.1 + rng.random_range(-0.04..0.04),
                )
            });
            let m = Sent {
                id: format!("m-{b}-{i}"),
                device_id: format!("{}-{}", ["cam", "mic", "bodycam"][i % 3], i % 17),
                kind: kinds[rng.random_range(0..3)],
                started_at,
                position,
                labels,
                transcript,
            };
            let mut body = json!({"id": m.id, "device_id": m.device_id, "kind": m.kind,
                "started_at": rfc3339(m.started_at), "duration_ms": 5000,
                "object_key": format!("media/{}.bin", m.id), "sha256": "ab".repeat(32),
                "bytes": 1024, "labels": m.labels});
            if let Some(t) = &m.transcript {
                body["transcript"] = json!(t);
            }
            if let Some((lat, lon)) = m.position {
                body["lat"] = json!(lat);
                body["lon"] = json!(lon);
            }
            batch.push(body);
            sent.push(m);
        }
        let (status, body) = api
            .call("POST", "/v1/tenants/m/manifests", Value::Array(batch))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (sent, now)
}

/// Every page of a search, with the first page's total.
async fn all_pages(api: &Api, mut body: Value) -> (Vec<String>, u64) {
    body["case_number"] = json!("2026-000060");
    body["reason"] = json!("test");
    let mut ids = Vec::new();
    let mut total = None;
    loop {
        let (status, page) = api
            .call("POST", "/v1/tenants/m/search/manifests", body.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total_relation"], "eq", "{page}");
        let t = page["total"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(t), t, "total changed between pages");
        let hits = page["hits"].as_array().unwrap();
        assert!(hits.len() <= body["limit"].as_u64().unwrap_or(100) as usize);
        ids.extend(hits.iter().map(|h| h["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => body["cursor"] = json!(c),
            None => break,
        }
        assert!(ids.len() <= 10_000, "cursor loops");
    }
    (ids, total.unwrap_or(0))
}

/// The ids the brute force selects, newest first.
fn brute(sent: &[Sent], keep: impl Fn(&Sent) -> bool) -> Vec<String> {
    let mut hits: Vec<&Sent> = sent.iter().filter(|m| keep(m)).collect();
    hits.sort_by_key(|m| std::cmp::Reverse(m.started_at));
    hits.into_iter().map(|m| m.id.clone()).collect()
}

#[tokio::test]
async fn text_search_equals_a_brute_force_scan_across_pages() {
    let api = Api::new().await;
    let (sent, now) = load(&api).await;
    let has = |w: &'static str| move |m: &Sent| m.words().contains(w);
    let label = |w: &'static str| move |m: &Sent| m.labels.iter().any(|l| l == w);

    // A label word, and a word that is only ever in transcripts.
    let (got, total) = all_pages(&api, json!({"q": "gunshot", "limit": 250})).await;
    let want = brute(&sent, has("gunshot"));
    assert!(want.len() > 1_000, "{}", want.len());
    assert!(
        brute(&sent, label("gunshot"))
            .iter()
            .all(|id| got.contains(id)),
        "a manifest labelled gunshot is missing"
    );
    assert_eq!((got.len() as u64, total), (want.len() as u64, total));
    assert_eq!(got, want, "label word");

    let (got, total) = all_pages(&api, json!({"q": "SCHOOL", "limit": 333})).await;
    let want = brute(&sent, has("school"));
    assert!(want.len() > 500, "{}", want.len());
    assert_eq!(total, want.len() as u64);
    assert_eq!(got, want, "transcript word");

    // Words are ANDed, across fields.
    let (got, _) = all_pages(&api, json!({"q": "alley dog", "limit": 100})).await;
    let want = brute(&sent, |m| {
        m.words().contains("alley") && m.words().contains("dog")
    });
    assert!(!want.is_empty());
    assert_eq!(got, want, "two words");

    // OR, as the parser spells it.
    let (got, _) = all_pages(&api, json!({"q": "scream OR alley", "limit": 1000})).await;
    let want = brute(&sent, |m| {
        m.words().contains("scream") || m.words().contains("alley")
    });
    assert_eq!(got, want, "OR");

    // Kind and a time range.
    let (from, to) = (now - 3 * 86_400_000, now - 86_400_000);
    let (got, _) = all_pages(
        &api,
        json!({"q": "siren", "kind": "audio", "from": rfc3339(from), "to": rfc3339(to), "limit": 50}),
    )
    .await;
    let want = brute(&sent, |m| {
        m.words().contains("siren") && m.kind == "audio" && (from..=to).contains(&m.started_at)
    });
    assert!(!want.is_empty());
    assert_eq!(got, want, "kind and range");

    // An area: the exact point-in-shape check; no position is in no area.
    let area = Area::circle(CENTER.0, CENTER.1, 2_000.0).unwrap();
    let (got, _) = all_pages(
        &api,
        json!({"q": "person", "area": {"circle": {"lat": CENTER.0, "lon": CENTER.1, "radius_m": 2000.0}}, "limit": 200}),
    )
    .await;
    let want = brute(&sent, |m| {
        m.words().contains("person") && m.position.is_some_and(|(lat, lon)| area.contains(lat, lon))
    });
    assert!(!want.is_empty());
    assert_eq!(got, want, "area");

    // A device id.
    let (got, _) = all_pages(&api, json!({"q": "mic-4", "limit": 100})).await;
    let want = brute(&sent, |m| m.device_id == "mic-4");
    assert!(!want.is_empty());
    assert_eq!(got, want, "device id");

    // The hit is the manifest as ingested.
    let (status, page) = api
        .call(
            "POST",
            "/v1/tenants/m/search/manifests",
            json!({"q": "school", "limit": 1, "case_number": "c", "reason": "r"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let hit = &page["hits"][0];
    let m = sent.iter().find(|m| m.id == hit["id"]).unwrap();
    assert_eq!(hit["device_id"], json!(m.device_id));
    assert_eq!(hit["kind"], json!(m.kind));
    assert_eq!(hit["started_at"], json!(rfc3339(m.started_at)));
    assert_eq!(hit["labels"], json!(m.labels));
    assert_eq!(hit["transcript"], json!(m.transcript));

    // A word nobody said.
    let (got, total) = all_pages(&api, json!({"q": "zeppelin"})).await;
    assert_eq!((got.len(), total), (0, 0));
}

#[tokio::test]
async fn bad_manifest_searches_answer_400_naming_the_field() {
    let api = Api::new().await;
    let ok = json!({"q": "gunshot", "case_number": "c", "reason": "r"});
    let with = |patch: Value| {
        let mut body = ok.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    // The tenant has no manifests yet: a good query answers nothing, a bad one is still bad.
    let (status, page) = api
        .call("POST", "/v1/tenants/t/search/manifests", ok.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 0);
    let cases = [
        (with(json!({"q": ""})), "q"),
        (with(json!({"q": "   \t"})), "q"),
        (with(json!({"q": null})), "q"),
        (with(json!({"q": "\"unbalanced"})), "q"),
        (with(json!({"q": "nosuchfield:x"})), "q"),
        (with(json!({"q": 7})), "q"),
        (with(json!({"q": "x".repeat(5000)})), "q"),
        (with(json!({"kind": "hologram"})), "kind"),
        (
            with(json!({"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"})),
            "from",
        ),
        (with(json!({"from": "yesterday"})), "from"),
        (
            with(json!({"area": {"circle": {"lat": 91.0, "lon": 0.0, "radius_m": 10.0}}})),
            "area.circle.lat",
        ),
        (with(json!({"area": {}})), "area"),
        (with(json!({"limit": 0})), "limit"),
        (with(json!({"cursor": "not-a-cursor"})), "cursor"),
        (with(json!({"labels": ["gunshot"]})), "labels"),
    ];
    for (body, field) in cases {
        let (status, answer) = api
            .call("POST", "/v1/tenants/t/search/manifests", body.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(
            fields(&answer).iter().any(|f| f == field),
            "{body}: expected field {field}: {answer}"
        );
    }
    // Audit fields first, as every search.
    let (status, answer) = api
        .call(
            "POST",
            "/v1/tenants/t/search/manifests",
            with(json!({"case_number": null})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "audit_fields_required");
    // A tenant that does not exist.
    let (status, _) = api
        .call("POST", "/v1/tenants/nobody/search/manifests", ok.clone())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
