//! `sightline import --tenant T FILE`: loads plate reads from an NDJSON or CSV file through
//! the ingest API (`POST /v1/tenants/{t}/reads`), in batches, with a progress bar (bytes,
//! rate, ETA; `indicatif`, drawn on stderr only when it is a terminal).
//!
//! - **Bad lines** are reported with their line number and reason while the good ones are
//!   imported: a line that is not JSON (or a CSV row that does not parse) is refused here;
//!   every other check is the server's own (a batch with invalid records answers 400 naming
//!   each record's index and field, nothing written; the importer drops those lines, reports
//!   them, and sends the rest again). So the rules are the API's, in one place.
//! - **Resumable**: a line without an `id` gets one derived from its bytes
//!   (`imp-{SHA-256 prefix}`), so running the same file again adds nothing (the server counts
//!   each as a duplicate) and an interrupted import can simply be run again.
//! - Retries what is safe to retry: 429 (after `Retry-After`), 503 and 504 (ids make a
//!   re-sent batch idempotent), and transport errors, with backoff.
//!
//! Exit status: 0 when every line was imported (or already present), 2 when some lines were
//! refused (they are listed), 1 when the import could not run.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::admin_cli::{Output, Target};

/// Lines per request.
const DEFAULT_BATCH: usize = 5_000;
/// Attempts per batch on a retryable answer before giving up.
const ATTEMPTS: u32 = 20;

/// The input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON read per line.
    Ndjson,
    /// A header row naming the fields (`vehicle_make` etc. for the vehicle), one read per
    /// row.
    Csv,
}

/// `sightline import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The tenant the reads belong to.
    #[arg(long)]
    pub tenant: String,
    /// The file (`.csv` is read as CSV unless --format says otherwise).
    pub file: PathBuf,
    /// `ndjson` or `csv` (default: from the file name).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Reads per request.
    #[arg(long, default_value_t = DEFAULT_BATCH)]
    pub batch: usize,
    #[command(flatten)]
    pub target: Target,
}

/// A line the server or the parser refused.
#[derive(Debug, Clone, PartialEq)]
struct Reject {
    line: u64,
    field: String,
    reason: String,
}

/// What an import did.
#[derive(Debug, Default)]
struct Tally {
    lines: u64,
    imported: u64,
    duplicates: u64,
    expired: u64,
    rejects: Vec<Reject>,
}

/// Runs the import; returns the process exit status.
pub fn run(args: ImportArgs) -> Result<i32> {
    if !args.target.url.starts_with("http://") {
        bail!(
            "--url {} must be an http:// address: this client has no TLS",
            args.target.url
        );
    }
    if args.batch == 0 || args.batch > 100_000 {
        bail!("--batch must be between 1 and 100000");
    }
    let format = args.format.unwrap_or_else(|| guess_format(&args.file));
    let file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = ProgressBar::new(size);
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let reader = BufReader::new(progress.wrap_read(file));
    let sender = Sender {
        url: format!(
            "{}/v1/tenants/{}/reads",
            args.target.url.trim_end_matches('/'),
            args.tenant
        ),
        token: args.target.token.clone(),
        agent: ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build(),
    };
    let mut tally = Tally::default();
    let mut batch: Vec<(u64, Value)> = Vec::with_capacity(args.batch);
    let mut rows = Rows::new(reader, format)?;
    while let Some((line, row)) = rows.next_row()? {
        tally.lines += 1;
        match row {
            Ok(read) => batch.push((line, read)),
            Err((field, reason)) => report(
                &progress,
                &mut tally,
                Reject {
                    line,
                    field,
                    reason,
                },
            ),
        }
        if batch.len() == args.batch {
            sender.send(&mut batch, &mut tally, &progress)?;
            progress.set_message(format!("{} reads", tally.imported + tally.duplicates));
        }
    }
    sender.send(&mut batch, &mut tally, &progress)?;
    progress.finish_and_clear();
    let summary = json!({
        "lines": tally.lines,
        "imported": tally.imported,
        "duplicates": tally.duplicates,
        "expired": tally.expired,
        "rejected": tally.rejects.len(),
        "rejects": tally.rejects.iter()
            .map(|r| json!({"line": r.line, "field": r.field, "reason": r.reason}))
            .collect::<Vec<_>>(),
    });
    match args.target.output {
        Output::Json => println!("{summary}"),
        Output::Text => println!(
            "{} lines: {} reads imported, {} already present, {} past retention, {} lines refused",
            tally.lines,
            tally.imported,
            tally.duplicates,
            tally.expired,
            tally.rejects.len()
        ),
    }
    Ok(if tally.rejects.is_empty() { 0 } else { 2 })
}

fn guess_format(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
        _ => Format::Ndjson,
    }
}

/// Prints a refused line on stderr (above the progress bar) and keeps it for the summary.
fn report(progress: &ProgressBar, tally: &mut Tally, reject: Reject) {
    let field = if reject.field.is_empty() {
        String::new()
    } else {
        format!("{}: ", reject.field)
    };
    progress.suspend(|| eprintln!("line {}: {field}{}", reject.line, reject.reason));
    tally.rejects.push(reject);
}

/// A derived client id for a line without one: the same bytes always get the same id.
fn derived_id(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    format!("imp-{}", hex::encode(&digest[..16]))
}

type Row = std::result::Result<Value, (String, String)>;

/// The file's rows, with their line numbers (1-based; a CSV header is line 1).
enum Rows<R: Read> {
    Ndjson {
        lines: std::io::Lines<BufReader<R>>,
        line: u64,
    },
    Csv {
        records: csv::StringRecordsIntoIter<BufReader<R>>,
        header: Vec<String>,
    },
}

impl<R: Read> Rows<R> {
    fn new(reader: BufReader<R>, format: Format) -> Result<Rows<R>> {
        Ok(match format {
            Format::Ndjson => Rows::Ndjson {
                lines: reader.lines(),
                line: 0,
            },
            Format::Csv => {
                let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
                let header = csv
                    .headers()
                    .context("reading the CSV header")?
                    .iter()
                    .map(|h| h.trim().to_string())
                    .collect();
                Rows::Csv {
                    records: csv.into_records(),
                    header,
                }
            }
        })
    }

    /// The next row (skipping blank NDJSON lines), or `None` at the end.
    fn next_row(&mut self) -> Result<Option<(u64, Row)>> {
        match self {
            Rows::Ndjson { lines, line } => loop {
                let Some(text) = lines.next() else {
                    return Ok(None);
                };
                *line += 1;
                let text = text.with_context(|| format!("reading line {line}"))?;
                if text.trim().is_empty() {
                    continue;
                }
                return Ok(Some((*line, ndjson_row(&text))));
            },
            Rows::Csv { records, header } => {
                let Some(record) = records.next() else {
                    return Ok(None);
                };
                match record {
                    Ok(record) => {
                        let line = record.position().map_or(0, |p| p.line());
                        Ok(Some((line, Ok(csv_row(header, &record)))))
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        Ok(Some((line, Err((String::new(), e.to_string())))))
                    }
                }
            }
        }
    }
}

fn ndjson_row(text: &str) -> Row {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut read)) => {
            if !read.contains_key("id") {
                read.insert("id".into(), derived_id(text.trim().as_bytes()).into());
            }
            Ok(Value::Object(read))
        }
        Ok(_) => Err((String::new(), "is not a JSON object".into())),
        Err(e) => Err((String::new(), format!("is not JSON: {e}"))),
    }
}

/// A CSV row as a read: numbers where the API takes numbers (left as text when they do not
/// parse, for the server to name), `vehicle_*` columns nested, empty cells omitted.
fn csv_row(header: &[String], record: &csv::StringRecord) -> Value {
    let mut read = Map::new();
    let mut vehicle = Map::new();
    for (name, cell) in header.iter().zip(record.iter()) {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        let value = match name.as_str() {
            "lat" | "lon" | "confidence" => cell
                .parse::<f64>()
                .map_or_else(|_| Value::from(cell), Value::from),
            _ => Value::from(cell),
        };
        match name.strip_prefix("vehicle_") {
            Some(attribute) => {
                vehicle.insert(attribute.to_string(), value);
            }
            None => {
                read.insert(name.clone(), value);
            }
        }
    }
    if !vehicle.is_empty() {
        read.insert("vehicle".into(), Value::Object(vehicle));
    }
    if !read.contains_key("id") {
        let joined: Vec<&str> = record.iter().collect();
        read.insert(
            "id".into(),
            derived_id(joined.join("\u{1f}").as_bytes()).into(),
        );
    }
    Value::Object(read)
}

struct Sender {
    url: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Sender {
    /// Sends `batch` (emptying it): refused records are reported and the rest re-sent.
    fn send(
        &self,
        batch: &mut Vec<(u64, Value)>,
        tally: &mut Tally,
        progress: &ProgressBar,
    ) -> Result<()> {
        while !batch.is_empty() {
            let (status, answer) = self.post(batch)?;
            match status {
                200 => {
                    let accepted = answer["accepted"].as_u64().unwrap_or(batch.len() as u64);
                    let duplicates = answer["duplicates"].as_u64().unwrap_or(0);
                    tally.duplicates += duplicates;
                    tally.expired += answer["expired"].as_u64().unwrap_or(0);
                    tally.imported += accepted.saturating_sub(duplicates);
                    batch.clear();
                }
                400 if answer["error"]["code"] == "invalid_records" => {
                    let mut refused: Vec<(usize, String, String)> = answer["error"]["details"]
                        .as_array()
                        .map(|d| {
                            d.iter()
                                .filter_map(|e| {
                                    Some((
                                        e["index"].as_u64()? as usize,
                                        e["field"].as_str().unwrap_or("").to_string(),
                                        e["reason"].as_str().unwrap_or("").to_string(),
                                    ))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if refused.is_empty() {
                        bail!("the server refused a batch without naming a record: {answer}");
                    }
                    refused.sort_by_key(|r| r.0);
                    // One line may have several problems: report each, drop the line once.
                    for (index, field, reason) in &refused {
                        if let Some((line, _)) = batch.get(*index) {
                            let reject = Reject {
                                line: *line,
                                field: field.clone(),
                                reason: reason.clone(),
                            };
                            report(progress, tally, reject);
                        }
                    }
                    let mut drop: Vec<usize> = refused.iter().map(|r| r.0).collect();
                    drop.dedup();
                    for index in drop.into_iter().rev() {
                        if index < batch.len() {
                            batch.remove(index);
                        }
                    }
                }
                _ => {
                    let message = answer["error"]["message"].as_str().unwrap_or("no message");
                    bail!("POST {} answered {status}: {message}", self.url);
                }
            }
        }
        Ok(())
    }

    /// POSTs the batch as NDJSON, retrying 429, 503, 504 and transport errors.
    fn post(&self, batch: &[(u64, Value)]) -> Result<(u16, Value)> {
        let mut body = String::with_capacity(batch.len() * 256);
        for (_, read) in batch {
            body.push_str(&read.to_string());
            body.push('\n');
        }
        let mut backoff = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            let mut request = self
                .agent
                .post(&self.url)
                .set("Content-Type", "application/x-ndjson");
            if let Some(token) = &self.token {
                request = request.set("Authorization", &format!("Bearer {token}"));
            }
            let (status, retry_after, text) = match request.send_string(&body) {
                Ok(r) => (r.status(), None, r.into_string()?),
                Err(ureq::Error::Status(status, r)) => {
                    let retry = r.header("retry-after").and_then(|s| s.parse::<u64>().ok());
                    (status, retry, r.into_string().unwrap_or_default())
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "sending a batch; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("POST {}", self.url)),
            };
            if matches!(status, 429 | 503 | 504) && attempt < ATTEMPTS {
                let wait = retry_after.map_or(backoff, Duration::from_secs);
                std::thread::sleep(wait);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
            let answer = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Ok((status, answer));
        }
        bail!("POST {} kept failing after {ATTEMPTS} attempts", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_get_stable_ids_and_csv_nests_the_vehicle() {
        let a = ndjson_row(r#"{"plate": "ABC123", "lat": 1}"#).unwrap();
        let b = ndjson_row(r#"{"plate": "ABC123", "lat": 1}"#).unwrap();
        assert_eq!(a["id"], b["id"]);
        assert!(a["id"].as_str().unwrap().starts_with("imp-"));
        let kept = ndjson_row(r#"{"id": "mine", "plate": "X"}"#).unwrap();
        assert_eq!(kept["id"], "mine");
        assert!(ndjson_row("[1]").is_err());
        assert!(ndjson_row("{nope").is_err());

        let header: Vec<String> = ["plate", "lat", "lon", "vehicle_make", "region"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let record = csv::StringRecord::from(vec!["ABC123", "41.5", "x", "Ford", ""]);
        let read = csv_row(&header, &record);
        assert_eq!(read["lat"], 41.5);
        assert_eq!(read["lon"], "x", "left for the server to name");
        assert_eq!(read["vehicle"]["make"], "Ford");
        assert!(read.get("region").is_none());
        assert!(read["id"].as_str().unwrap().starts_with("imp-"));
    }
}
