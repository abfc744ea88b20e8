//! OIDC JWT authentication against a running server: a Kubernetes service-account token and an
//! email token signed by openssl with a key from the configured JWKS are accepted and mapped to
//! IAM principals; expired, wrongly signed, wrong-audience, wrong-issuer, tampered and `none`
//! tokens are UNAUTHENTICATED.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use admit_testkit::OpensslKey;
use base64::Engine as _;
use serde_json::{Value, json};
use support::Server;

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const OWNER: &str = "owner-token-0123456789";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(sub: &str) -> Value {
    json!({"iss": ISSUER, "aud": ["admit"], "sub": sub, "iat": now(), "nbf": now(), "exp": now() + 3600,
           "kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "signer"}}})
}

#[test]
fn jwts_from_the_configured_issuer_authenticate_and_bad_ones_do_not() {
    let key = OpensslKey::generate("rsa2048");
    let ec = OpensslKey::generate("p256");
    let attacker = OpensslKey::generate("rsa2048");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        json!({"keys": [key.jwk("k1"), ec.jwk("k2")]}).to_string(),
    )
    .unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{OWNER} user:owner@example.com\n")).unwrap();
    let s = Server::start_args(&[
        "--token-file",
        tokens.to_str().unwrap(),
        "--owner",
        "user:owner@example.com",
        "--oidc-issuer",
        ISSUER,
        "--oidc-jwks-file",
        jwks.to_str().unwrap(),
        "--oidc-audience",
        "admit",
    ]);
    let p = "proj-a";
    let grant = json!({"policy": {"bindings": [
        {"role": "roles/binaryauthorization.attestorsViewer", "members": ["serviceAccount:kubernetes.svc.id.goog[ci/signer]"]},
        {"role": "roles/binaryauthorization.policyViewer", "members": ["serviceAccount:ci-bot@proj-a.iam.gserviceaccount.com"]},
    ]}});
    let (code, v) = s.call_as(
        Some(OWNER),
        "POST",
        &format!("/v1/projects/{p}:setIamPolicy"),
        Some(&grant.to_string()),
    );
    assert_eq!(code, 200, "{v}");

    let attestors = format!("/v1/projects/{p}/attestors");
    let policy = format!("/v1/projects/{p}/policy");
    // A Kubernetes service-account token (RS256): its subject becomes the Workload Identity
    // member, which holds attestorsViewer and nothing else.
    let sa = key.jwt("k1", "RS256", &claims("system:serviceaccount:ci:signer"));
    assert_eq!(s.call_as(Some(&sa), "GET", &attestors, None).0, 200);
    let (code, v) = s.call_as(Some(&sa), "GET", &policy, None);
    assert_eq!(code, 403, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("serviceAccount:kubernetes.svc.id.goog[ci/signer]"),
        "{v}"
    );
    // Another service account of the same cluster holds nothing.
    let other = key.jwt("k1", "RS256", &claims("system:serviceaccount:ci:other"));
    assert_eq!(s.call_as(Some(&other), "GET", &attestors, None).0, 403);
    // An email token (ES256, second key of the set) maps to serviceAccount:EMAIL.
    let mut c = claims("1234567890");
    c["email"] = json!("ci-bot@proj-a.iam.gserviceaccount.com");
    c["email_verified"] = json!(true);
    let bot = ec.jwt("k2", "ES256", &c);
    assert_eq!(s.call_as(Some(&bot), "GET", &policy, None).0, 200);
    assert_eq!(s.call_as(Some(&bot), "GET", &attestors, None).0, 403);

    // Refused tokens: UNAUTHENTICATED, saying why.
    let mut expired = claims("system:serviceaccount:ci:signer");
    expired["exp"] = json!(now() - 3600);
    let mut wrong_aud = claims("system:serviceaccount:ci:signer");
    wrong_aud["aud"] = json!("kubernetes");
    let mut wrong_iss = claims("system:serviceaccount:ci:signer");
    wrong_iss["iss"] = json!("https://evil.example");
    let tampered = {
        let mut parts: Vec<String> = sa.split('.').map(str::to_owned).collect();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(claims("system:serviceaccount:kube-system:admin").to_string());
        parts.join(".")
    };
    let none = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#),
        sa.split('.').nth(1).unwrap()
    );
    for (what, token, why) in [
        ("expired", key.jwt("k1", "RS256", &expired), "expired"),
        (
            "wrong key",
            attacker.jwt("k1", "RS256", &claims("system:serviceaccount:ci:signer")),
            "does not verify",
        ),
        (
            "wrong audience",
            key.jwt("k1", "RS256", &wrong_aud),
            "accepted audiences",
        ),
        (
            "wrong issuer",
            key.jwt("k1", "RS256", &wrong_iss),
            "configured issuer",
        ),
        ("tampered", tampered, "does not verify"),
        ("alg none", none, "`none`"),
        (
            "unknown kid",
            key.jwt("k9", "RS256", &claims("system:serviceaccount:ci:signer")),
            "kid `k9`",
        ),
        (
            "no principal",
            key.jwt("k1", "RS256", &claims("alice")),
            "names no principal",
        ),
    ] {
        let (code, v) = s.call_as(Some(&token), "GET", &attestors, None);
        assert_eq!(code, 401, "{what}: {v}");
        assert_eq!(v["error"]["status"], "UNAUTHENTICATED", "{what}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(why), "{what}: {msg}");
    }
}

/// An email is a principal only when the issuer says, exactly, that it verified it: otherwise
/// an issuer that lets users pick their email would let them name any owner or service agent.
#[test]
fn an_unverified_email_names_no_principal() {
    let key = OpensslKey::generate("p256");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [key.jwk("k1")]}).to_string()).unwrap();
    let s = Server::start_args(&[
        "--owner",
        "user:owner@example.com",
        "--oidc-issuer",
        ISSUER,
        "--oidc-jwks-file",
        jwks.to_str().unwrap(),
        "--oidc-audience",
        "admit",
    ]);
    let token = |verified: Option<Value>| {
        let mut c = claims("1234567890");
        c["email"] = json!("owner@example.com");
        if let Some(v) = verified {
            c["email_verified"] = v;
        }
        key.jwt("k1", "ES256", &c)
    };
    let policy = "/v1/projects/p/policy";
    for (what, v) in [
        ("absent", None),
        ("false", Some(json!(false))),
        ("the string true", Some(json!("true"))),
        ("1", Some(json!(1))),
    ] {
        let (code, body) = s.call_as(Some(&token(v)), "GET", policy, None);
        assert_eq!(code, 401, "email_verified {what}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("names no principal"),
            "{body}"
        );
    }
    let (code, body) = s.call_as(Some(&token(Some(json!(true)))), "GET", policy, None);
    assert_eq!(code, 200, "{body}");
}

/// The JWKS file is re-read: after the issuer rotates its keys, tokens signed with the new
/// key authenticate without a restart, and a broken file keeps the last good set.
#[test]
fn the_jwks_file_is_reloaded_after_a_key_rotation() {
    let old = OpensslKey::generate("p256");
    let new = OpensslKey::generate("p256");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [old.jwk("k1")]}).to_string()).unwrap();
    let s = Server::start_args(&[
        "--owner",
        "serviceAccount:kubernetes.svc.id.goog[ci/signer]",
        "--oidc-issuer",
        ISSUER,
        "--oidc-jwks-file",
        jwks.to_str().unwrap(),
        "--oidc-audience",
        "admit",
        "--oidc-jwks-refresh-seconds",
        "1",
    ]);
    let sa = claims("system:serviceaccount:ci:signer");
    let policy = "/v1/projects/p/policy";
    let old_token = old.jwt("k1", "ES256", &sa);
    let new_token = new.jwt("k2", "ES256", &sa);
    assert_eq!(s.call_as(Some(&old_token), "GET", policy, None).0, 200);
    assert_eq!(s.call_as(Some(&new_token), "GET", policy, None).0, 401);
    let wait_for = |token: &str, code: u16| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let (c, _) = s.call_as(Some(token), "GET", policy, None);
            if c == code {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still {c}, want {code}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    // Rotation: the new key is published and the old one retired.
    std::fs::write(&jwks, json!({"keys": [new.jwk("k2")]}).to_string()).unwrap();
    wait_for(&new_token, 200);
    assert_eq!(s.call_as(Some(&old_token), "GET", policy, None).0, 401);
    // A file that no longer parses is logged; the last good set stays in force.
    std::fs::write(&jwks, "{not json").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(s.call_as(Some(&new_token), "GET", policy, None).0, 200);
}
