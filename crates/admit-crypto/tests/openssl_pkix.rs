//! PKIX verification against keys and signatures made by the real `openssl` binary, for every
//! algorithm in the contract, plus the negative cases: tampered payload, wrong key, a key with
//! the wrong declared algorithm or size.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

use std::collections::HashMap;
use std::sync::OnceLock;

use admit_crypto::{CryptoError, DEFAULT_DSSE_TYPE, PkixKey, pae};
use admit_model::SignatureAlgorithm as A;
use admit_testkit::{OpensslKey, SigMode as Sig};
use rstest::rstest;

/// Generated once per test binary (RSA keygen is slow), in parallel.
fn keys() -> &'static HashMap<&'static str, OpensslKey> {
    static KEYS: OnceLock<HashMap<&'static str, OpensslKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let kinds = [
            "p256", "p384", "p521", "ed25519", "rsa2048", "rsa3072", "rsa4096",
        ];
        let mut map: HashMap<&'static str, OpensslKey> = std::thread::scope(|s| {
            let handles: Vec<_> = kinds
                .iter()
                .map(|k| s.spawn(move || (*k, OpensslKey::generate(k))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("keygen"))
                .collect()
        });
        map.insert("other_p256", OpensslKey::generate("p256"));
        map
    })
}

fn sign(key: &str, how: Sig, message: &[u8]) -> Vec<u8> {
    keys()[key].sign(how, message)
}

fn pem(key: &str) -> String {
    keys()[key].public_pem.clone()
}

const PAYLOAD: &[u8] = b"{\n  \"critical\": {}\n}\n";

#[rstest]
#[case::ecdsa_p256(A::EcdsaP256Sha256, "p256", Sig::Dgst("sha256"))]
#[case::ec_sign_p256_alias(A::EcSignP256Sha256, "p256", Sig::Dgst("sha256"))]
#[case::ecdsa_p384(A::EcdsaP384Sha384, "p384", Sig::Dgst("sha384"))]
#[case::ec_sign_p384_alias(A::EcSignP384Sha384, "p384", Sig::Dgst("sha384"))]
#[case::ecdsa_p521(A::EcdsaP521Sha512, "p521", Sig::Dgst("sha512"))]
#[case::ec_sign_p521_alias(A::EcSignP521Sha512, "p521", Sig::Dgst("sha512"))]
#[case::rsa_pkcs1_2048(A::RsaSignPkcs12048Sha256, "rsa2048", Sig::Dgst("sha256"))]
#[case::rsa_pkcs1_3072(A::RsaSignPkcs13072Sha256, "rsa3072", Sig::Dgst("sha256"))]
#[case::rsa_pkcs1_4096_sha256(A::RsaSignPkcs14096Sha256, "rsa4096", Sig::Dgst("sha256"))]
#[case::rsa_pkcs1_4096_sha512(A::RsaSignPkcs14096Sha512, "rsa4096", Sig::Dgst("sha512"))]
#[case::rsa_pss_2048(A::RsaPss2048Sha256, "rsa2048", Sig::Pss("sha256"))]
#[case::rsa_sign_pss_2048_alias(A::RsaSignPss2048Sha256, "rsa2048", Sig::Pss("sha256"))]
#[case::rsa_pss_3072(A::RsaPss3072Sha256, "rsa3072", Sig::Pss("sha256"))]
#[case::rsa_pss_4096_sha256(A::RsaPss4096Sha256, "rsa4096", Sig::Pss("sha256"))]
#[case::rsa_pss_4096_sha512(A::RsaPss4096Sha512, "rsa4096", Sig::Pss("sha512"))]
#[case::ed25519(A::EcSignEd25519, "ed25519", Sig::Raw)]
fn openssl_signatures_verify_and_tampering_fails(
    #[case] alg: A,
    #[case] key: &str,
    #[case] how: Sig,
) {
    let verifier = PkixKey::from_pem(&pem(key), alg).expect("key matches its declared algorithm");
    let sig = sign(key, how, PAYLOAD);
    assert_eq!(verifier.verify(PAYLOAD, &sig), Ok(()));

    let mut tampered = PAYLOAD.to_vec();
    tampered[3] ^= 1;
    assert!(matches!(
        verifier.verify(&tampered, &sig),
        Err(CryptoError::BadSignature { .. })
    ));

    let mut bad_sig = sig;
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x40;
    assert!(verifier.verify(PAYLOAD, &bad_sig).is_err());

    // The DSSE PAE form (gcloud --pae-encode-payload) is just another message to the key.
    let pae_msg = pae(DEFAULT_DSSE_TYPE, PAYLOAD);
    let pae_sig = sign(key, how, &pae_msg);
    assert_eq!(verifier.verify(&pae_msg, &pae_sig), Ok(()));
    assert!(verifier.verify(PAYLOAD, &pae_sig).is_err());
}

#[test]
fn a_signature_by_another_key_fails() {
    let verifier = PkixKey::from_pem(&pem("p256"), A::EcdsaP256Sha256).expect("key");
    let sig = sign("other_p256", Sig::Dgst("sha256"), PAYLOAD);
    assert!(matches!(
        verifier.verify(PAYLOAD, &sig),
        Err(CryptoError::BadSignature { .. })
    ));
}

#[rstest]
#[case::rsa2048_declared_3072(A::RsaSignPkcs13072Sha256, "rsa2048", "RSA-2048")]
#[case::rsa4096_declared_2048(A::RsaPss2048Sha256, "rsa4096", "RSA-4096")]
#[case::p256_declared_p384(A::EcdsaP384Sha384, "p256", "P-256")]
#[case::p384_declared_rsa(A::RsaSignPkcs12048Sha256, "p384", "P-384")]
#[case::rsa_declared_ec(A::EcdsaP256Sha256, "rsa2048", "RSA-2048")]
#[case::ed25519_declared_p256(A::EcdsaP256Sha256, "ed25519", "Ed25519")]
fn a_key_with_the_wrong_declared_algorithm_is_rejected(
    #[case] alg: A,
    #[case] key: &str,
    #[case] actual: &str,
) {
    let err = PkixKey::from_pem(&pem(key), alg)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains(alg.as_str()) && err.contains(actual), "{err}");
}

#[test]
fn unspecified_algorithm_is_rejected() {
    let err = PkixKey::from_pem(&pem("p256"), A::Unspecified).err();
    assert!(
        matches!(err, Some(CryptoError::AlgorithmUnspecified { .. })),
        "{err:?}"
    );
}

#[rstest]
#[case::not_pem("hello", "BEGIN PUBLIC KEY")]
#[case::private_key_block(
    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    "PRIVATE KEY"
)]
#[case::bad_base64(
    "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
    "base64"
)]
#[case::not_spki(
    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    "SubjectPublicKeyInfo"
)]
fn malformed_pem_is_rejected_with_a_reason(#[case] text: &str, #[case] reason: &str) {
    let err = PkixKey::from_pem(text, A::EcdsaP256Sha256)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("publicKeyPem:") && err.contains(reason),
        "{err}"
    );
}

#[test]
fn key_id_is_the_rfc6920_hash_of_the_der_spki_as_openssl_encodes_it() {
    use base64::Engine as _;
    let der = keys()["p256"].public_der();
    let want = format!(
        "ni:///sha-256;{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(admit_crypto::sha256(&der))
    );
    let key = PkixKey::from_pem(&pem("p256"), A::EcdsaP256Sha256).expect("key");
    assert_eq!(key.spki_der(), der.as_slice());
    assert_eq!(key.key_id(), want);
    assert!(!key.key_id().contains('='));
}
