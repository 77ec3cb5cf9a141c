//! Pagination cursors (`sightline_wire::cursor`): any text that decodes re-encodes to the
//! same text (one cursor, one spelling: nothing a client can vary), every position encodes
//! and decodes back to itself under its binding and under no other, and the resume
//! position is strictly before the cursor's.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sightline_wire::cursor::Cursor;

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let binding: u64 = u.arbitrary()?;
    let other: u64 = u.arbitrary()?;
    let text: &str = u.arbitrary()?;
    if let Ok(cursor) = Cursor::decode(text, binding) {
        assert_eq!(cursor.encode(binding), text, "{cursor:?}");
    }
    let cursor = Cursor {
        ts: u.arbitrary()?,
        id: u.arbitrary()?,
    };
    let text = cursor.encode(binding);
    assert_eq!(Cursor::decode(&text, binding), Ok(cursor), "{text}");
    if other != binding {
        assert!(
            Cursor::decode(&text, other).is_err(),
            "{text} decodes under another binding"
        );
    }
    match cursor.resume_at() {
        Some(at) => assert!(at < (cursor.ts, cursor.id), "{cursor:?} resumes at {at:?}"),
        None => assert_eq!((cursor.ts, cursor.id), (i64::MIN, 0)),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
