//! Issue 15, part 3: keyless cosign signatures and Sigstore bundles, verified fully offline by
//! `sigstoreSignatureCheck` against a trust root given as files. The signatures are made by a
//! private Sigstore built the way the public one works (support/sigstore.rs: Fulcio-like CA,
//! SCTs over the precertificate, Rekor promises) and stored in a real registry (Debian's
//! `docker-registry`, pushed with `skopeo`) in cosign's layouts; the policy is judged through
//! `platforms/gke/policies/{id}:evaluate`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use serde_json::{Value, json};
use support::Server;
use support::registry::{PASSWORD, Registry, USER};
use support::sigstore::{Identity, TestSigstore, key_bundle};

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const RELEASE: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn evaluate(s: &Server, image: &str) -> (String, String) {
    support::platform_check(s, "signed", image)
}

fn payload(repo: &str, digest: &str) -> Vec<u8> {
    json!({"critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": digest},
        "type": "cosign container image signature"}, "optional": null})
    .to_string()
    .into_bytes()
}

fn keyless_policy(identities: &Value) -> Value {
    json!({"gkePolicy": {"checkSets": [{"displayName": "signed", "checks": [
        {"displayName": "release builds", "sigstoreSignatureCheck": {"sigstoreAuthorities": [
            {"displayName": "ci", "admitKeyless": {"identities": identities}}]}}]}]}})
}

/// Creates the policy `signed`, or replaces it.
fn put_policy(s: &Server, policy: &Value) {
    let (mut code, mut body) = s.call(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies?policyId=signed",
        Some(&policy.to_string()),
    );
    if code == 409 {
        (code, body) = s.call(
            "PUT",
            "/v1/projects/my-proj/platforms/gke/policies/signed",
            Some(&policy.to_string()),
        );
    }
    assert_eq!(code, 200, "{body}");
}

#[test]
fn keyless_signatures_in_the_tag_layout_are_verified_offline_chain_sct_rekor_and_identity() {
    let reg = Registry::start();
    let sigstore = TestSigstore::new();
    let repo = format!("{}/acme/app", reg.host);
    let release = Identity::new(GITHUB, RELEASE);
    let mut images = std::collections::BTreeMap::new();
    for (name, content) in [
        ("good", "1"),
        ("stranger", "2"),
        ("no-sct", "3"),
        ("late", "4"),
        ("forged", "5"),
        ("other-ca", "6"),
        ("replayed", "7"),
    ] {
        images.insert(name, reg.push("acme/app", name, content));
    }
    let store = |name: &str, signed: support::sigstore::Signed| {
        reg.push_cosign(
            "acme/app",
            &images[name],
            &[(signed.payload, signed.annotations)],
        );
    };
    let p = |name: &str| payload(&repo, &images[name]);
    store("good", sigstore.sign_cosign(p("good"), &release, 3));
    store(
        "stranger",
        sigstore.sign_cosign(
            p("stranger"),
            &Identity::new(
                GITHUB,
                "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main",
            ),
            3,
        ),
    );
    store(
        "no-sct",
        sigstore.sign_cosign(
            p("no-sct"),
            &Identity {
                sct: false,
                ..release.clone()
            },
            3,
        ),
    );
    // Logged an hour after the ten-minute certificate expired.
    store("late", sigstore.sign_cosign(p("late"), &release, 3600));
    // A promise signed by a key that is not Rekor's.
    let forger = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    store(
        "forged",
        sigstore.sign_cosign_with(p("forged"), &release, 3, Some(&forger)),
    );
    // A certificate from another Fulcio, with its chain attached: the chain must end at ours.
    let elsewhere = sigstore.another_fulcio();
    store(
        "other-ca",
        elsewhere.sign_cosign(p("other-ca"), &release, 3),
    );
    // A good signature over the `good` image, copied to another one.
    store("replayed", sigstore.sign_cosign(p("good"), &release, 3));

    let config = reg.docker_config(USER, PASSWORD);
    let flags = sigstore.pem_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = reg.serve(config.path(), false, &flags);
    put_policy(
        &s,
        &keyless_policy(&json!([
            {"issuer": GITHUB, "subjectRegExp": "https://github\\.com/acme/[^/]+/\\.github/workflows/release\\.yml@refs/heads/main"}
        ])),
    );
    let judge = |name: &str| evaluate(&s, &format!("{repo}@{}", images[name]));

    let (verdict, why) = judge("good");
    assert_eq!(verdict, "CONFORMANT", "{why}");
    for part in [
        "signature 0".to_owned(),
        "authority 0 (ci)".to_owned(),
        format!("subject {RELEASE} from issuer {GITHUB}"),
        "test-fulcio-root".to_owned(),
        "Rekor log index 100".to_owned(),
    ] {
        assert!(why.contains(&part), "`{part}` missing from {why}");
    }
    for (name, expect) in [
        ("stranger", "no trusted identity matches"),
        ("no-sct", "no embedded SCT"),
        ("late", "does not chain to a trusted certificate authority"),
        ("forged", "signed entry timestamp does not verify"),
        (
            "other-ca",
            "does not chain to a trusted certificate authority",
        ),
        ("replayed", "signs sha256:"),
    ] {
        let (verdict, why) = judge(name);
        assert_eq!(verdict, "NON_CONFORMANT", "{name}: {why}");
        assert!(why.contains(expect), "{name}: expected `{expect}` in {why}");
    }

    // Regular expressions match whole values: a prefix of the subject is not enough.
    put_policy(
        &s,
        &keyless_policy(&json!([{"issuer": GITHUB, "subjectRegExp": "https://github\\.com/acme"}])),
    );
    assert_eq!(judge("good").0, "NON_CONFORMANT");
    // An exact subject with the issuer given as a pattern.
    put_policy(
        &s,
        &keyless_policy(
            &json!([{"issuerRegExp": "https://token\\.actions\\..*", "subject": RELEASE}]),
        ),
    );
    assert_eq!(judge("good").0, "CONFORMANT");
    // The right subject from another issuer is another identity.
    put_policy(
        &s,
        &keyless_policy(&json!([{"issuer": "https://accounts.google.com", "subject": RELEASE}])),
    );
    let (verdict, why) = judge("good");
    assert_eq!(verdict, "NON_CONFORMANT", "{why}");
    assert!(why.contains("no trusted identity matches"), "{why}");
}

#[test]
fn sigstore_bundles_stored_as_referrers_are_verified_keyless_or_by_key() {
    let reg = Registry::start();
    let sigstore = TestSigstore::new();
    let repo = format!("{}/acme/app", reg.host);
    let release = Identity::new(GITHUB, RELEASE);
    let keyless = reg.push("acme/app", "keyless", "1");
    let keyed = reg.push("acme/app", "keyed", "2");
    let wrong_subject = reg.push("acme/app", "wrong-subject", "3");
    let provenance_only = reg.push("acme/app", "provenance-only", "4");
    let key = admit_testkit::OpensslKey::generate("p256");
    const SIGN: &str = "https://sigstore.dev/cosign/sign/v1";
    reg.push_bundle(
        "acme/app",
        &keyless,
        &sigstore.bundle(&keyless, &release),
        SIGN,
    );
    reg.push_bundle("acme/app", &keyed, &key_bundle(&keyed, &key), SIGN);
    // A bundle whose statement is about another image, stored with this one.
    reg.push_bundle(
        "acme/app",
        &wrong_subject,
        &sigstore.bundle(&keyless, &release),
        SIGN,
    );
    // A bundle of another predicate type (an attestation) is not a signature.
    reg.push_bundle(
        "acme/app",
        &provenance_only,
        &sigstore.bundle(&provenance_only, &release),
        "https://slsa.dev/provenance/v1",
    );
    let config = reg.docker_config(USER, PASSWORD);
    let flags = sigstore.json_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = reg.serve(config.path(), false, &flags);
    put_policy(
        &s,
        &json!({"gkePolicy": {"checkSets": [{"displayName": "signed", "checks": [
        {"displayName": "signed", "sigstoreSignatureCheck": {"sigstoreAuthorities": [
            {"displayName": "ci", "admitKeyless": {"identities": [{"issuer": GITHUB, "subject": RELEASE}]}},
            {"displayName": "release key", "publicKeySet": {"publicKeys": [{"publicKeyPem": key.public_pem}]}}
        ]}}]}]}}),
    );
    let judge = |d: &str| evaluate(&s, &format!("{repo}@{d}"));

    let (verdict, why) = judge(&keyless);
    assert_eq!(verdict, "CONFORMANT", "{why}");
    assert!(
        why.contains("bundle 0") && why.contains("authority 0 (ci)"),
        "{why}"
    );
    let (verdict, why) = judge(&keyed);
    assert_eq!(verdict, "CONFORMANT", "{why}");
    assert!(
        why.contains("bundle 0") && why.contains("authority 1 (release key), key 0"),
        "{why}"
    );
    let (verdict, why) = judge(&wrong_subject);
    assert_eq!(verdict, "NON_CONFORMANT", "{why}");
    assert!(
        why.contains(&format!("statement's subject is not {wrong_subject}")),
        "{why}"
    );
    let (verdict, why) = judge(&provenance_only);
    assert_eq!(verdict, "NON_CONFORMANT", "{why}");
    assert!(why.contains("no cosign signatures are stored"), "{why}");
}

#[test]
fn without_a_trust_root_keyless_fails_closed_and_bad_settings_are_refused() {
    let reg = Registry::start();
    let sigstore = TestSigstore::new();
    let repo = format!("{}/acme/app", reg.host);
    let digest = reg.push("acme/app", "good", "1");
    let signed = sigstore.sign_cosign(payload(&repo, &digest), &Identity::new(GITHUB, RELEASE), 3);
    reg.push_cosign("acme/app", &digest, &[(signed.payload, signed.annotations)]);
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), false, &[]);
    put_policy(
        &s,
        &keyless_policy(&json!([{"issuer": GITHUB, "subject": RELEASE}])),
    );
    let (verdict, why) = evaluate(&s, &format!("{repo}@{digest}"));
    assert_eq!(verdict, "NON_CONFORMANT", "{why}");
    assert!(why.contains("no Sigstore trust root"), "{why}");

    // Identity rules are checked when the policy is written, naming the field.
    for (identities, field, reason) in [
        (json!([]), "admitKeyless.identities", "at least one entry"),
        (
            json!([{"subject": RELEASE}]),
            "identities[0].issuer",
            "exactly one of issuer and issuerRegExp",
        ),
        (
            json!([{"issuer": GITHUB, "subject": RELEASE, "subjectRegExp": ".*"}]),
            "identities[0].subject",
            "exactly one of subject and subjectRegExp",
        ),
        (
            json!([{"issuer": GITHUB, "subjectRegExp": "("}]),
            "identities[0].subjectRegExp",
            "not a regular expression",
        ),
    ] {
        let (code, body) = s.call(
            "PUT",
            "/v1/projects/my-proj/platforms/gke/policies/signed",
            Some(&keyless_policy(&identities).to_string()),
        );
        assert_eq!(code, 400, "{identities}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field) && message.contains(reason),
            "{identities}: {message}"
        );
    }
    let (code, body) = s.call(
        "PUT",
        "/v1/projects/my-proj/platforms/gke/policies/signed",
        Some(
            &json!({"gkePolicy": {"checkSets": [{"checks": [{"sigstoreSignatureCheck": {"sigstoreAuthorities": [
                {"admitKeyless": {"identities": [{"issuer": GITHUB, "subject": RELEASE}]},
                 "publicKeySet": {"publicKeys": [{"publicKeyPem": "x"}]}}]}}]}]}})
            .to_string(),
        ),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("both publicKeySet and admitKeyless"),
        "{body}"
    );

    // A trust root file that is not one stops the start, naming the flag and the field.
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), r#"{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": [{"publicKey": {"rawBytes": "AAAA"}}]}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg("--sigstore-trusted-root")
        .arg(bad.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--sigstore-trusted-root") && err.contains("tlogs[0].publicKey.rawBytes"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg("--sigstore-fulcio-roots")
        .arg(sigstore.path("fulcio.pem"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses the incomplete set"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--sigstore-rekor-keys"), "{err}");
}
