//! Simple-signing (atomic container signature) payloads from attestation occurrences.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = admit_crypto::SimpleSigning::parse(data);
});
