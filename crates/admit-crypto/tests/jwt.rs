//! JWT verification against tokens signed by the real `openssl`: every accepted algorithm, and
//! the ways a token must be refused (wrong key, tampered, `none`/HMAC, expired, wrong issuer or
//! audience, unknown kid, alg confusion).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

use admit_crypto::{ClaimRules, Jwks, check_claims};
use admit_testkit::OpensslKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rstest::rstest;
use serde_json::json;

const NOW: u64 = 1_800_000_000;

fn claims() -> serde_json::Value {
    json!({"iss": "https://issuer.example", "aud": ["admit"], "sub": "system:serviceaccount:ci:builder",
           "iat": NOW - 10, "exp": NOW + 600})
}

fn rules() -> (Vec<String>, u64) {
    (vec!["admit".to_owned()], NOW)
}

fn check(c: &serde_json::Map<String, serde_json::Value>) -> Result<(), admit_crypto::CryptoError> {
    let (aud, now) = rules();
    check_claims(
        c,
        &ClaimRules {
            issuer: "https://issuer.example",
            audiences: &aud,
            now,
            leeway: 30,
        },
    )
}

#[rstest]
#[case::rs256("rsa2048", "RS256")]
#[case::ps256("rsa2048", "PS256")]
#[case::es256("p256", "ES256")]
#[case::es384("p384", "ES384")]
#[case::eddsa("ed25519", "EdDSA")]
fn openssl_signed_tokens_verify(#[case] kind: &'static str, #[case] alg: &str) {
    let key = OpensslKey::generate(kind);
    let jwks = Jwks::from_json(&json!({"keys": [key.jwk("k1")]}).to_string()).unwrap();
    let token = key.jwt("k1", alg, &claims());
    let c = jwks.verify(&token).unwrap();
    assert_eq!(c["sub"], "system:serviceaccount:ci:builder");
    check(&c).unwrap();

    // One flipped payload byte breaks the signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut other = claims();
    other["sub"] = json!("system:serviceaccount:ci:attacker");
    parts[1] = URL_SAFE_NO_PAD.encode(other.to_string());
    let forged = parts.join(".");
    let e = jwks.verify(&forged).unwrap_err().to_string();
    assert!(e.contains("does not verify"), "{e}");
}

#[test]
fn a_token_from_another_key_is_refused() {
    let trusted = OpensslKey::generate("p256");
    let attacker = OpensslKey::generate("p256");
    let jwks = Jwks::from_json(&json!({"keys": [trusted.jwk("k1")]}).to_string()).unwrap();
    let e = jwks
        .verify(&attacker.jwt("k1", "ES256", &claims()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not verify"), "{e}");
    let e = jwks
        .verify(&attacker.jwt("k9", "ES256", &claims()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no key in the JWKS has kid `k9`"), "{e}");
}

#[test]
fn none_hmac_and_alg_confusion_are_refused() {
    let key = OpensslKey::generate("rsa2048");
    let mut jwk = key.jwk("k1");
    jwk["alg"] = json!("RS256");
    let jwks = Jwks::from_json(&json!({"keys": [jwk]}).to_string()).unwrap();
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    for alg in ["none", "HS256"] {
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k1"}).to_string());
        let e = jwks
            .verify(&format!("{h}.{body}."))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("`{alg}`")), "{alg}: {e}");
    }
    // A PS256 token against a key pinned to RS256.
    let e = jwks
        .verify(&key.jwt("k1", "PS256", &claims()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("differs from the key's `RS256`"), "{e}");
    // Symmetric keys are never loaded.
    let e = Jwks::from_json(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("keys[0].kty: symmetric keys are refused"), "{e}");
}

#[rstest]
#[case::expired(json!({"exp": NOW - 31}), "expired")]
#[case::no_exp(json!({"exp": null}), "exp is required")]
#[case::not_yet(json!({"nbf": NOW + 120}), "not valid before")]
#[case::wrong_issuer(json!({"iss": "https://evil.example"}), "is not the configured issuer")]
#[case::wrong_audience(json!({"aud": "kubernetes"}), "names none of the accepted audiences")]
fn bad_claims_are_refused(#[case] patch: serde_json::Value, #[case] want: &str) {
    let mut c = claims();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    let e = check(c.as_object().unwrap()).unwrap_err().to_string();
    assert!(e.contains(want), "{e}");
}

#[rstest]
#[case::not_json("nope", "not JSON")]
#[case::no_keys(r#"{"keys": []}"#, "no signing keys")]
#[case::missing_n(r#"{"keys":[{"kty":"RSA","e":"AQAB"}]}"#, "keys[0].n is required")]
#[case::bad_curve(
    r#"{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]}"#,
    "keys[0].crv"
)]
fn bad_key_sets_name_the_field(#[case] text: &str, #[case] want: &str) {
    let e = Jwks::from_json(text).unwrap_err().to_string();
    assert!(e.contains(want), "{e}");
}
