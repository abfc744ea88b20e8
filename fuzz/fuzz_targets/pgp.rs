//! OpenPGP: armored public keys as attestors carry them (truncated packets, bad lengths, huge
//! sizes), and signatures checked against a fixed valid key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A real Ed25519 key (gpg --export --armor), so signature parsing goes past the key.
const KEY: &str = include_str!("../corpus_seed/pgp_ed25519.asc");

fn key() -> &'static Option<admit_crypto::PgpKey> {
    static K: OnceLock<Option<admit_crypto::PgpKey>> = OnceLock::new();
    K.get_or_init(|| admit_crypto::PgpKey::from_armored(KEY).ok())
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        if let Ok(k) = admit_crypto::PgpKey::from_armored(&String::from_utf8_lossy(rest)) {
            let _ = k.fingerprint();
            let _ = k.verify(rest, b"payload");
        }
    } else if let Some(k) = key() {
        let _ = k.verify(rest, b"payload");
    }
});
