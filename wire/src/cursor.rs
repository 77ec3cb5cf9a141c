//! Opaque pagination cursors: the sort key (time, id) of the last hit a page returned,
//! so the next page resumes strictly after it even while new reads arrive (like
//! Elasticsearch's `search_after`, without exposing the sort values).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// A cursor that is not one [`Cursor::encode`] made: the caller's mistake (or forgery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cursor is malformed or from another query")]
pub struct BadCursor;

const VERSION: u8 = 1;

/// Where a page ended, newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Capture time of the last returned hit.
    pub ts: i64,
    /// Internal id of the last returned hit.
    pub id: u128,
}

impl Cursor {
    /// Encodes as URL-safe base64.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(25);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.ts.to_be_bytes());
        bytes.extend_from_slice(&self.id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a cursor made by [`Cursor::encode`].
    pub fn decode(text: &str) -> Result<Self, BadCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
        match bytes.as_slice() {
            [VERSION, rest @ ..] if rest.len() == 24 => {
                let ts = i64::from_be_bytes(rest[..8].try_into().map_err(|_| BadCursor)?);
                let id = u128::from_be_bytes(rest[8..].try_into().map_err(|_| BadCursor)?);
                Ok(Cursor { ts, id })
            }
            _ => Err(BadCursor),
        }
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
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in [
            "",
            "not base64!",
            "AAAA",
            &URL_SAFE_NO_PAD.encode([2u8; 25]),
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
        assert_eq!(Cursor { ts: 5, id: 0 }.resume_at(), Some((4, u128::MAX)));
        assert_eq!(c.resume_at(), Some((c.ts, 76)));
    }
}
