//! An ingest body split into records: a JSON array, or NDJSON (one JSON value per line,
//! blank lines skipped). Only the split: each record is then validated field by field by
//! [`crate::record`]. The API picks the format from the request's `Content-Type` and turns
//! a [`BatchError`] into its error format (`api/src/ingest.rs`).

use serde_json::Value;

/// Most records one request may carry.
pub const MAX_BATCH_RECORDS: usize = 100_000;

/// How a body holds its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// One JSON array of records (`application/json`).
    JsonArray,
    /// One JSON record per line (`application/x-ndjson`, `application/jsonl`).
    Ndjson,
}

/// Why a body is not a batch of records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// An NDJSON body that is not UTF-8.
    #[error("body is not UTF-8: {0}")]
    NotUtf8(std::str::Utf8Error),
    /// An NDJSON line that is not JSON.
    #[error("line {line} is not JSON: {reason}")]
    BadLine {
        /// How many records the lines before it held (the index the record would have had).
        index: usize,
        /// Its line number, from 1.
        line: usize,
        /// The JSON parser's message.
        reason: String,
    },
    /// A JSON body that is not an array.
    #[error(
        "body must be a JSON array of records, or NDJSON with Content-Type: application/x-ndjson"
    )]
    NotArray,
    /// A JSON body that does not parse.
    #[error("body is not JSON: {0}")]
    NotJson(String),
    /// No records.
    #[error("the batch holds no records")]
    Empty,
    /// More than [`MAX_BATCH_RECORDS`] records.
    #[error("a batch may hold at most {MAX_BATCH_RECORDS} records; split it")]
    TooMany,
}

/// Splits `body` into 1 to [`MAX_BATCH_RECORDS`] records.
pub fn split_batch(format: BatchFormat, body: &[u8]) -> Result<Vec<Value>, BatchError> {
    let records = match format {
        BatchFormat::Ndjson => {
            let text = std::str::from_utf8(body).map_err(BatchError::NotUtf8)?;
            let mut records = Vec::new();
            for (line_no, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let value: Value = serde_json::from_str(line).map_err(|e| BatchError::BadLine {
                    index: records.len(),
                    line: line_no + 1,
                    reason: e.to_string(),
                })?;
                records.push(value);
                if records.len() > MAX_BATCH_RECORDS {
                    break;
                }
            }
            records
        }
        BatchFormat::JsonArray => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(items)) => items,
            Ok(_) => return Err(BatchError::NotArray),
            Err(e) => return Err(BatchError::NotJson(e.to_string())),
        },
    };
    if records.is_empty() {
        return Err(BatchError::Empty);
    }
    if records.len() > MAX_BATCH_RECORDS {
        return Err(BatchError::TooMany);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_arrays_and_lines() {
        let lines = b"{\"a\": 1}\n\n  \r\n[2]\r\n3";
        let records = split_batch(BatchFormat::Ndjson, lines).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            split_batch(BatchFormat::JsonArray, b"[{}, 1]")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            split_batch(BatchFormat::JsonArray, b"{}"),
            Err(BatchError::NotArray)
        );
        assert_eq!(
            split_batch(BatchFormat::JsonArray, b"[]"),
            Err(BatchError::Empty)
        );
        assert_eq!(
            split_batch(BatchFormat::Ndjson, b"\n \n"),
            Err(BatchError::Empty)
        );
        match split_batch(BatchFormat::Ndjson, b"{}\n\n{\"a\":\n{}") {
            Err(BatchError::BadLine { index, line, .. }) => assert_eq!((index, line), (1, 3)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            split_batch(BatchFormat::Ndjson, b"{}\n\xff"),
            Err(BatchError::NotUtf8(_))
        ));
        assert!(matches!(
            split_batch(BatchFormat::JsonArray, b"[1,"),
            Err(BatchError::NotJson(_))
        ));
        let many = "1\n".repeat(MAX_BATCH_RECORDS + 1);
        assert_eq!(
            split_batch(BatchFormat::Ndjson, many.as_bytes()),
            Err(BatchError::TooMany)
        );
    }
}
