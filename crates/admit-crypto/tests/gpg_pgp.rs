//! OpenPGP verification against keys and signatures made by the real `gpg`: RSA, Ed25519 and
//! NIST P-256 primaries; a signing subkey; `--sign` (armored and binary, compressed),
//! `--clearsign` and `--detach-sign`; fingerprints as key ids; negative cases.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

use std::sync::OnceLock;

use admit_crypto::{PgpKey, pgp_sign_message};
use admit_testkit::Gpg;
use rstest::rstest;

/// One keyring per test binary with every key kind we test.
fn gpg() -> &'static Gpg {
    static G: OnceLock<Gpg> = OnceLock::new();
    G.get_or_init(|| {
        let g = Gpg::new();
        g.generate("rsa <rsa@example.com>", "rsa2048", "sign");
        g.generate("ed <ed@example.com>", "ed25519", "sign");
        g.generate("nist <nist@example.com>", "nistp256", "sign");
        g.generate("other <other@example.com>", "ed25519", "sign");
        // A certify-only primary whose signatures come from a signing subkey.
        g.generate("sub <sub@example.com>", "ed25519", "cert");
        g.add_subkey("sub@example.com", "ed25519", "sign");
        g
    })
}

const PAYLOAD: &[u8] =
    b"{\n  \"critical\": {\n    \"type\": \"atomic container signature\"\n  }\n}\n";

fn key(uid: &str) -> PgpKey {
    PgpKey::from_armored(&gpg().export(uid)).expect("gpg-exported key parses")
}

#[rstest]
#[case::rsa_armored_sign("rsa@example.com", &["--armor", "--sign"])]
#[case::rsa_binary_sign("rsa@example.com", &["--sign"])]
#[case::rsa_uncompressed("rsa@example.com", &["--armor", "--compress-level", "0", "--sign"])]
#[case::ed25519_armored_sign("ed@example.com", &["--armor", "--sign"])]
#[case::p256_armored_sign("nist@example.com", &["--armor", "--sign"])]
#[case::signing_subkey("sub@example.com", &["--armor", "--sign"])]
#[case::clearsign("ed@example.com", &["--clearsign"])]
#[case::clearsign_rsa("rsa@example.com", &["--clearsign"])]
fn signed_messages_verify_and_yield_the_payload(#[case] uid: &str, #[case] how: &[&str]) {
    let sig = gpg().sign(uid, how, PAYLOAD);
    let verified = key(uid).verify(&sig, b"").expect("verifies");
    assert!(
        verified.matches_payload(PAYLOAD),
        "{:?}",
        String::from_utf8_lossy(&verified.signed_content)
    );
    assert!(!verified.matches_payload(b"{\"critical\":{}}"));
    // The same signature does not verify with an unrelated key.
    assert!(key("other@example.com").verify(&sig, b"").is_err());
}

#[rstest]
#[case::armored(&["--armor", "--detach-sign"])]
#[case::binary(&["--detach-sign"])]
fn detached_signatures_verify_over_the_payload_only(#[case] how: &[&str]) {
    let sig = gpg().sign("rsa@example.com", how, PAYLOAD);
    let k = key("rsa@example.com");
    assert_eq!(
        k.verify(&sig, PAYLOAD)
            .map(|v| v.signed_content)
            .ok()
            .as_deref(),
        Some(PAYLOAD)
    );
    let mut tampered = PAYLOAD.to_vec();
    tampered[5] ^= 1;
    assert!(k.verify(&sig, &tampered).is_err());
}

#[test]
fn tampered_signed_message_fails() {
    let sig = gpg().sign(
        "ed@example.com",
        &["--compress-level", "0", "--sign"],
        PAYLOAD,
    );
    // Flip a byte inside the literal data packet (the payload text is stored verbatim).
    let pos = sig
        .windows(8)
        .position(|w| w == b"critical")
        .expect("literal data present");
    let mut tampered = sig;
    tampered[pos] = b'C';
    assert!(key("ed@example.com").verify(&tampered, b"").is_err());
}

#[rstest]
#[case::rsa("rsa@example.com")]
#[case::ed25519("ed@example.com")]
#[case::p256("nist@example.com")]
#[case::subkeys("sub@example.com")]
fn key_id_is_the_gpg_fingerprint(#[case] uid: &str) {
    let fpr = gpg().fingerprint(uid);
    assert_eq!(fpr.len(), 40);
    assert_eq!(key(uid).fingerprint(), fpr);
}

#[rstest]
#[case::garbage("not a key")]
#[case::truncated(
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n"
)]
fn malformed_keys_are_rejected_naming_the_field(#[case] text: &str) {
    let err = PgpKey::from_armored(text)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("asciiArmoredPgpPublicKey"), "{err}");
}

#[rstest]
#[case::ed25519_primary("ed@example.com")]
#[case::rsa_primary("rsa@example.com")]
#[case::signing_subkey("sub@example.com")]
fn our_pgp_signatures_verify_with_gpg_and_with_us(#[case] uid: &str) {
    let (armored, fpr) = pgp_sign_message(&gpg().export_secret(uid), "", PAYLOAD).expect("signs");
    assert_eq!(fpr, gpg().fingerprint(uid));
    assert!(armored.starts_with("-----BEGIN PGP MESSAGE-----"));
    assert_eq!(
        gpg().verify_message(armored.as_bytes()),
        PAYLOAD,
        "gpg verifies and extracts the payload"
    );
    let v = key(uid)
        .verify(armored.as_bytes(), PAYLOAD)
        .expect("we verify it too");
    assert!(v.matches_payload(PAYLOAD));
}
