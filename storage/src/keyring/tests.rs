use super::*;

#[test]
fn wrap_binds_context_and_master() {
    let master = MasterKey::from_bytes(&[1; 32]);
    let wrapped = master.wrap("sightline/tenant/a/key/1", &[9; 32]);
    assert_eq!(wrapped.len(), WRAPPED_LEN);
    assert_eq!(
        master
            .unwrap_key("sightline/tenant/a/key/1", &wrapped)
            .unwrap(),
        [9; 32]
    );
    assert!(master
        .unwrap_key("sightline/tenant/b/key/1", &wrapped)
        .is_err());
    let other = MasterKey::from_bytes(&[2; 32]);
    assert!(other
        .unwrap_key("sightline/tenant/a/key/1", &wrapped)
        .is_err());
}

#[test]
fn a_wrapped_key_names_its_master_and_a_missing_master_is_named() {
    let old = MasterKey::from_bytes(&[1; 32]);
    let new = MasterKey::from_bytes(&[2; 32]);
    assert_ne!(old.fingerprint(), new.fingerprint());
    assert_eq!(
        old.fingerprint(),
        MasterKey::from_bytes(&[1; 32]).fingerprint()
    );
    let wrapped = old.wrap("ctx", &[7; 32]);
    assert_eq!(wrapped_by(&wrapped), Some(old.fingerprint()));
    // The fingerprint is not the key, nor any part of it in the clear.
    assert!(!wrapped.windows(4).any(|w| w == [1, 1, 1, 1]));

    let err = new.unwrap_key("ctx", &wrapped).unwrap_err();
    assert!(
        matches!(&err, StorageError::MasterKeyMissing { fingerprint, .. } if *fingerprint == old.fingerprint().to_string()),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains(&old.fingerprint().to_string()), "{text}");
    assert!(text.contains("previous_master_key_files"), "{text}");

    // With the old key as a previous one it opens; new wraps name the current key only.
    let both = new.clone().with_previous([old.clone()]);
    assert_eq!(both.unwrap_key("ctx", &wrapped).unwrap(), [7; 32]);
    assert!(both.holds(old.fingerprint()) && both.holds(new.fingerprint()));
    assert_eq!(both.previous_fingerprints(), vec![old.fingerprint()]);
    assert_eq!(
        wrapped_by(&both.wrap("ctx", &[7; 32])),
        Some(new.fingerprint())
    );
    // The current key listed as previous, or twice, is kept once.
    let same = new
        .clone()
        .with_previous([new.clone(), old.clone(), old.clone()]);
    assert_eq!(same.previous_fingerprints(), vec![old.fingerprint()]);
}

#[test]
fn rewrap_keeps_the_key_and_names_the_current_master() {
    let old = MasterKey::from_bytes(&[1; 32]);
    let new = MasterKey::from_bytes(&[2; 32]).with_previous([old.clone()]);
    let wrapped = old.wrap("sightline/tenant/a/key/3", &[5; 32]);
    let rewrapped = new.rewrap("sightline/tenant/a/key/3", &wrapped).unwrap();
    assert_ne!(rewrapped, wrapped);
    assert_eq!(wrapped_by(&rewrapped), Some(new.fingerprint()));
    let only_new = MasterKey::from_bytes(&[2; 32]);
    assert_eq!(
        only_new
            .unwrap_key("sightline/tenant/a/key/3", &rewrapped)
            .unwrap(),
        [5; 32]
    );
    // Already under the current key: the bytes stay as they are.
    assert_eq!(
        new.rewrap("sightline/tenant/a/key/3", &rewrapped).unwrap(),
        rewrapped
    );
    // The fingerprint is bound: altering it breaks the unwrap rather than misleading it.
    let mut altered = rewrapped.clone();
    altered[1] ^= 1;
    assert!(new
        .unwrap_key("sightline/tenant/a/key/3", &altered)
        .is_err());
}

#[test]
fn keys_wrapped_before_fingerprints_still_unwrap() {
    // The format of earlier builds: nonce, then the key sealed with the context as AAD.
    let bytes = [3u8; 32];
    let cipher = Aes256GcmSiv::new(&Key::<Aes256GcmSiv>::from(bytes));
    let nonce = [4u8; 12];
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &[8u8; 32],
                aad: b"ctx",
            },
        )
        .unwrap();
    let legacy = [nonce.as_slice(), &sealed].concat();
    assert_eq!(wrapped_by(&legacy), None);
    let as_previous =
        MasterKey::from_bytes(&[9; 32]).with_previous([MasterKey::from_bytes(&bytes)]);
    assert_eq!(as_previous.unwrap_key("ctx", &legacy).unwrap(), [8; 32]);
    let rewrapped = as_previous.rewrap("ctx", &legacy).unwrap();
    assert_eq!(wrapped_by(&rewrapped), Some(as_previous.fingerprint()));
    assert!(MasterKey::from_bytes(&[9; 32])
        .unwrap_key("ctx", &legacy)
        .is_err());
}

#[test]
fn key_file_is_created_once_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let first = MasterKey::load_or_create_file(&path).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64);
    let second = MasterKey::load_or_create_file(&path).unwrap();
    let wrapped = first.wrap("ctx", &[3; 32]);
    assert_eq!(second.unwrap_key("ctx", &wrapped).unwrap(), [3; 32]);
}

#[test]
fn from_hex_names_the_problem() {
    let short = MasterKey::from_hex("abcd").unwrap_err().to_string();
    assert!(short.contains("64 hex"), "{short}");
    let not_hex = MasterKey::from_hex(&"zz".repeat(32))
        .unwrap_err()
        .to_string();
    assert!(not_hex.contains("not hex"), "{not_hex}");
}
