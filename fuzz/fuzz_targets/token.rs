//! Signed bearer tokens (`sightline_wire::auth`): a token signed over fuzzed claims verifies
//! to exactly those claims (or is refused as expired or malformed, as its claims say); any
//! edit of a signed token's text is refused; and text that was never signed never verifies.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sightline_wire::auth::{sign, verify, Claims, Role, TokenError};

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let key: [u8; 32] = u.arbitrary()?;
    let now: i64 = u.arbitrary()?;

    // Text that was never signed is never accepted, whatever it holds: refused before its
    // claims are even read (expiry is checked only once the signature matched).
    let text: &str = u.arbitrary()?;
    let refused = verify(&key, text, now);
    assert!(
        matches!(refused, Err(TokenError::Malformed | TokenError::Forged)),
        "unsigned text {text:?}: {refused:?}"
    );

    let id: [u8; 16] = u.arbitrary()?;
    let jti = if u.arbitrary()? {
        hex::encode(id)
    } else {
        u.arbitrary::<String>()?
    };
    let claims = Claims {
        sub: u.arbitrary()?,
        tenant: u.arbitrary()?,
        role: Role::ALL[usize::from(u.arbitrary::<u8>()?) % Role::ALL.len()],
        jti,
        iat: u.arbitrary()?,
        exp: u.arbitrary()?,
    };
    let token = sign(&key, &claims);
    let jti_bytes: Option<[u8; 16]> = hex::decode(&claims.jti)
        .ok()
        .and_then(|b| b.try_into().ok());
    match (verify(&key, &token, now), jti_bytes) {
        (Err(TokenError::Malformed), None) => {}
        (Err(TokenError::Expired), Some(_)) => {
            assert!(claims.exp.is_some_and(|exp| exp <= now));
        }
        (Ok(principal), Some(id)) => {
            assert!(claims.exp.is_none_or(|exp| exp > now));
            assert_eq!(principal.claims, claims);
            assert_eq!(principal.id, id);
        }
        (other, _) => panic!("token {token:?} of {claims:?} at {now}: {other:?}"),
    }
    // Another key never accepts it.
    let mut other_key = key;
    other_key[usize::from(u.arbitrary::<u8>()?) % 32] ^= 1 << (u.arbitrary::<u8>()? % 8);
    assert_eq!(verify(&other_key, &token, now), Err(TokenError::Forged));

    // Edits: replace a range of the token's bytes by fuzzed bytes (an insertion when the
    // range is empty, a deletion when the replacement is). Whatever differs is refused.
    for _ in 0..4 {
        let start = u.choose_index(token.len() + 1)?;
        let end = start + u.choose_index(token.len() - start + 1)?;
        let replacement: &[u8] = u.arbitrary()?;
        let mut edited = token.as_bytes()[..start].to_vec();
        edited.extend_from_slice(replacement);
        edited.extend_from_slice(&token.as_bytes()[end..]);
        let Ok(edited) = String::from_utf8(edited) else {
            continue;
        };
        if edited != token {
            let refused = verify(&key, &edited, now);
            assert!(
                matches!(refused, Err(TokenError::Malformed | TokenError::Forged)),
                "edited token {token:?} -> {edited:?}: {refused:?}"
            );
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
