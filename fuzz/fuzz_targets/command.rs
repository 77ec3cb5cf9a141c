//! The replicated command's postcard encoding (`sightline_wire::command`): whatever bytes
//! decode (a peer's Propose RPC, a log entry read back) re-encode to bytes that decode to
//! the same command, `encoded_len` is the encoding's length, and the re-encoding is the
//! one canonical spelling of the command (encoding it again changes nothing). A command
//! that encoded but did not decode would make the Raft log unreadable after a restart.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_wire::command::Command;

fuzz_target!(|data: &[u8]| {
    let Ok(command) = Command::decode(data) else {
        return;
    };
    let _ = command.is_client_command();
    let bytes = command.encode();
    assert_eq!(bytes.len(), command.encoded_len(), "{command:?}");
    // Never longer than what it was decoded from: postcard's canonical varints are the
    // shortest, and trailing bytes are not part of the command.
    assert!(bytes.len() <= data.len(), "{command:?}");
    let again = Command::decode(&bytes).expect("a command's encoding decodes");
    assert_eq!(again, command);
    assert_eq!(again.encode(), bytes);
});
