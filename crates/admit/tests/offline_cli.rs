//! The offline `admit` commands, driven as a user drives them: the real binary, files on disk,
//! keys and signatures from the real openssl, and gcloud as the judge of the payload format.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

use std::path::Path;
use std::process::{Command, Output};

use admit_testkit::{OpensslKey, SigMode};

const D1: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
const D2: &str = "sha256:5555555555555555555555555555555555555555555555555555555555555555";
const IMAGE: &str = "us-docker.pkg.dev/my-proj/repo/app";

fn admit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(args)
        .output()
        .expect("run admit")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write");
    p.to_string_lossy().into_owned()
}

#[test]
fn policy_validate_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(
        dir.path(),
        "good.yaml",
        "defaultAdmissionRule:\n  evaluationMode: ALWAYS_ALLOW\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n",
    );
    let out = admit(&["policy", "validate", &good]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("valid"));

    let bad = write(
        dir.path(),
        "bad.yaml",
        "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\nadmissionWhitelistPatterns:\n- namePattern: gcr.io/p/a*b\n",
    );
    let out = admit(&["policy", "validate", &bad]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("defaultAdmissionRule.requireAttestationsBy")
            && t.contains("admissionWhitelistPatterns[0].namePattern"),
        "{t}"
    );

    let unknown = write(
        dir.path(),
        "unknown.json",
        r#"{"defaultAdmissionRule":{"evaluationMode":"ALWAYS_ALLOW","enforcementMode":"ENFORCED_BLOCK_AND_AUDIT_LOG"},"clusterRules":{}}"#,
    );
    let out = admit(&["policy", "validate", &unknown]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("clusterRules"), "{}", text(&out));

    let out = admit(&["policy", "validate", "/nonexistent/policy.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn create_signature_payload_is_byte_identical_to_gcloud() {
    let url = format!("https://{IMAGE}:v1@{D1}");
    let ours = admit(&["create-signature-payload", "--artifact-url", &url]);
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours));

    let config = tempfile::tempdir().expect("tempdir");
    let theirs = Command::new("gcloud")
        .args([
            "container",
            "binauthz",
            "create-signature-payload",
            "--artifact-url",
            &url,
        ])
        .env("CLOUDSDK_CONFIG", config.path())
        .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
        .env("CLOUDSDK_CORE_PROJECT", "my-proj")
        .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true")
        .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true")
        .output()
        .expect("cannot run gcloud: install the Google Cloud CLI (gcloud) and put it on PATH");
    assert!(theirs.status.success(), "gcloud: {}", text(&theirs));
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );

    let out = admit(&[
        "create-signature-payload",
        "--artifact-url",
        &format!("{IMAGE}:v1"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("digest"), "{}", text(&out));
}

/// An attestor as `gcloud container binauthz attestors describe --format=json` prints it, a
/// signed attestation list as `attestations list --format=json` prints it, and a policy file.
struct Fixture {
    dir: tempfile::TempDir,
    policy: String,
    dry_policy: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = OpensslKey::generate("p256");
    std::fs::create_dir(dir.path().join("attestors")).expect("mkdir");
    std::fs::create_dir(dir.path().join("attestations")).expect("mkdir");
    let key_id = admit_crypto::pkix_key_id(&key.public_der());
    let attestor = serde_json::json!({
        "name": "projects/my-proj/attestors/built-by-ci",
        "updateTime": "2024-01-01T00:00:00Z",
        "userOwnedGrafeasNote": {
            "noteReference": "projects/my-proj/notes/built-by-ci",
            "publicKeys": [{
                "id": key_id,
                "pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}
            }]
        }
    });
    write(
        &dir.path().join("attestors"),
        "built-by-ci.json",
        &attestor.to_string(),
    );

    let url = format!("{IMAGE}@{D1}");
    let payload = admit(&["create-signature-payload", "--artifact-url", &url]).stdout;
    let sig = key.sign(SigMode::Dgst("sha256"), &payload);
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE.encode(b);
    let occurrences = serde_json::json!([{
        "name": "projects/my-proj/occurrences/0f6c",
        "kind": "ATTESTATION",
        "noteName": "projects/my-proj/notes/built-by-ci",
        "resourceUri": url,
        "createTime": "2024-01-01T00:00:00Z",
        "attestation": {
            "serializedPayload": b64(&payload),
            "signatures": [{"publicKeyId": key_id, "signature": b64(&sig)}]
        }
    }]);
    write(
        &dir.path().join("attestations"),
        "list.json",
        &occurrences.to_string(),
    );

    let rule = |mode: &str| {
        format!(
            "globalPolicyEvaluationMode: ENABLE\nadmissionWhitelistPatterns:\n- namePattern: docker.io/library/busybox\ndefaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: {mode}\n  requireAttestationsBy:\n  - projects/my-proj/attestors/built-by-ci\n"
        )
    };
    let policy = write(
        dir.path(),
        "policy.yaml",
        &rule("ENFORCED_BLOCK_AND_AUDIT_LOG"),
    );
    let dry_policy = write(dir.path(), "dry.yaml", &rule("DRYRUN_AUDIT_LOG_ONLY"));
    Fixture {
        dir,
        policy,
        dry_policy,
    }
}

fn evaluate(f: &Fixture, policy: &str, extra: &[&str]) -> Output {
    let a = f.dir.path().join("attestors");
    let o = f.dir.path().join("attestations");
    let mut args = vec![
        "evaluate",
        "--policy",
        policy,
        "--attestors",
        a.to_str().expect("utf8"),
        "--attestations",
        o.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    admit(&args)
}

#[test]
fn evaluate_allows_attested_and_exempt_images_and_denies_the_rest() {
    let f = fixture();
    let signed = format!("{IMAGE}@{D1}");
    let out = evaluate(&f, &f.policy, &["--image", &signed, "--image", "busybox"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("attested by projects/my-proj/attestors/built-by-ci"),
        "{t}"
    );
    assert!(
        t.contains("exempt image pattern `docker.io/library/busybox`"),
        "{t}"
    );
    assert!(t.contains("result: ALLOWED"), "{t}");

    let unsigned = format!("{IMAGE}@{D2}");
    let out = evaluate(&f, &f.policy, &["--image", &signed, "--image", &unsigned]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("DENIED")
            && t.contains(&format!(
                "no attestation by projects/my-proj/attestors/built-by-ci for {IMAGE}@{D2}"
            )),
        "{t}"
    );

    let out = evaluate(&f, &f.policy, &["--image", &format!("{IMAGE}:latest")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("deploy") && text(&out).contains("by digest"),
        "{}",
        text(&out)
    );
}

#[test]
fn evaluate_json_output_carries_the_whole_decision() {
    let f = fixture();
    let unsigned = format!("{IMAGE}@{D2}");
    let out = evaluate(
        &f,
        &f.policy,
        &[
            "--image",
            &unsigned,
            "--format",
            "json",
            "--namespace",
            "prod",
            "--cluster",
            "us-east1.prod",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["allowed"], false);
    assert_eq!(v["images"][0]["verdict"], "DENIED");
    assert_eq!(v["images"][0]["basis"]["kind"], "rule");
    assert_eq!(v["images"][0]["basis"]["scope"], "default");
    assert_eq!(
        v["images"][0]["basis"]["evaluationMode"],
        "REQUIRE_ATTESTATION"
    );
    assert_eq!(
        v["images"][0]["failures"][0]["attestor"],
        "projects/my-proj/attestors/built-by-ci"
    );
}

#[test]
fn evaluate_dry_run_allows_and_says_what_would_have_been_denied() {
    let f = fixture();
    let unsigned = format!("{IMAGE}@{D2}");
    let out = evaluate(&f, &f.dry_policy, &["--image", &unsigned]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("would have been denied"),
        "{}",
        text(&out)
    );
}

#[test]
fn evaluate_reports_bad_inputs_as_errors() {
    let f = fixture();
    let bad_policy = write(
        f.dir.path(),
        "bad.yaml",
        "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n",
    );
    let out = evaluate(&f, &bad_policy, &["--image", "nginx"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("defaultAdmissionRule.enforcementMode"),
        "{}",
        text(&out)
    );

    let out = evaluate(
        &f,
        &f.policy,
        &["--image", "nginx", "--service-account", "no-colon"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("NAMESPACE:NAME"), "{}", text(&out));
}
