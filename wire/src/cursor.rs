//! Opaque pagination cursors: the sort key (time, id) of the last hit a page returned,
//! so the next page resumes strictly after it even while new reads arrive (like
//! Elasticsearch's `search_after`, without exposing the sort values).
//!
//! A cursor is bound to the tenant and the query that issued it: it carries a 64-bit
//! binding (the API hashes the path's tenant and the request's terms, everything but the
//! cursor, the page size and the plan flag), and [`Cursor::decode`] refuses one whose binding
//! differs, so a cursor cannot be replayed against another tenant or another question.
//!
//! Format (URL-safe base64): `2 | ts i64 BE | id u128 BE | binding u64 BE`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// A cursor that is not one [`Cursor::encode`] made: the caller's mistake (or forgery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cursor is malformed or from another query")]
pub struct BadCursor;

const VERSION: u8 = 2;
const LEN: usize = 8 + 16 + 8;

/// Where a page ended, newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Capture time of the last returned hit.
    pub ts: i64,
    /// Internal id of the last returned hit.
    pub id: u128,
}

impl Cursor {
    /// Encodes as URL-safe base64, bound to `binding` (see the module docs).
    pub fn encode(&self, binding: u64) -> String {
        let mut bytes = Vec::with_capacity(1 + LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.ts.to_be_bytes());
        bytes.extend_from_slice(&self.id.to_be_bytes());
        bytes.extend_from_slice(&binding.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a cursor made by [`Cursor::encode`] with the same `binding`;
    /// [`BadCursor`] for anything else (malformed, or issued for another tenant
    /// or query: the answer does not say which).
    pub fn decode(text: &str, binding: u64) -> Result<Self, BadCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
        let rest = match bytes.as_slice() {
            [VERSION, rest @ ..] if rest.len() == LEN => rest,
            _ => return Err(BadCursor),
        };
        let field = |range: std::ops::Range<usize>| rest.get(range).ok_or(BadCursor);
        let ts = i64::from_be_bytes(field(0..8)?.try_into().map_err(|_| BadCursor)?);
        let id = u128::from_be_bytes(field(8..24)?.try_into().map_err(|_| BadCursor)?);
        let bound = u64::from_be_bytes(field(24..32)?.try_into().map_err(|_| BadCursor)?);
        if bound != binding {
            return Err(BadCursor);
        }
        Ok(Cursor { ts, id })
    }

    /// The newest (time, id) position strictly after this cursor in newest-first order.
    pub fn resume_at(&self) -> Option<(i64, u128)> {
        match self.id.checked_sub(1) {
            Some(id) => Some((self.ts, id)),
            None => self.ts.checked_sub(1).map(|ts| (ts, u128::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_foreign_text() {
        let c = Cursor {
            ts: 1_795_000_000_123,
            id: 77,
        };
        assert_eq!(Cursor::decode(&c.encode(9), 9).unwrap(), c);
        assert!(
            Cursor::decode(&c.encode(9), 10).is_err(),
            "another query's cursor"
        );
        for bad in [
            "",
            "not base64!",
            "AAAA",
            &URL_SAFE_NO_PAD.encode([2u8; 25]),
            &URL_SAFE_NO_PAD.encode([1u8; 25]),
            &URL_SAFE_NO_PAD.encode([2u8; 34]),
        ] {
            assert!(Cursor::decode(bad, 0).is_err(), "{bad}");
        }
        assert_eq!(Cursor { ts: 5, id: 0 }.resume_at(), Some((4, u128::MAX)));
        assert_eq!(c.resume_at(), Some((c.ts, 76)));
    }
}
