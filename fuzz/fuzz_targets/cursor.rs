//! Pagination cursors (`sightline_wire::cursor`): any text that decodes re-encodes to the
//! same text (one cursor, one spelling: nothing a client can vary), every position encodes
//! and decodes back to itself, and the resume position is strictly before the cursor's.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sightline_wire::cursor::Cursor;

fn run(data: &[u8]) -> Result<()> {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cursor) = Cursor::decode(text) {
            assert_eq!(cursor.encode(), text, "{cursor:?}");
        }
    }
    let mut u = Unstructured::new(data);
    let cursor = Cursor {
        ts: u.arbitrary()?,
        id: u.arbitrary()?,
    };
    let text = cursor.encode();
    assert_eq!(Cursor::decode(&text), Ok(cursor), "{text}");
    match cursor.resume_at() {
        Some(at) => assert!(at < (cursor.ts, cursor.id), "{cursor:?} resumes at {at:?}"),
        None => assert_eq!((cursor.ts, cursor.id), (i64::MIN, 0)),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
