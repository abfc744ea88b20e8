//! Issue 5, the admission half: seed 001's flow against `admit serve` with its webhook and a
//! directory of seed 001's Kritis manifests. A `gpg -a --sign`ed atomic container signature,
//! stored as an occurrence through the v1 REST call, admits its image; an unsigned image, an
//! image over the ImageSecurityPolicy threshold, an unscanned image, a tag and a namespace
//! without policy are denied. Bad manifests stop the server, naming the field.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;

use base64::Engine as _;
use serde_json::{Value, json};
use support::{Server, digest};

const P: &str = "my-proj";
const NOTE_NAME: &str = "seal-of-approval";
const GPG_USER: &str = "joe@example.com";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Seed 001's manifests; `publicKeyData` is `base64 key.pub` without line wrapping (macOS'
/// `base64`; GNU's wraps at 76 columns, which is not valid YAML in that position).
fn manifests(public_key: &str) -> String {
    format!(
        "apiVersion: kritis.grafeas.io/v1beta1
kind: ImageSecurityPolicy
metadata:
  name: test-security-policy
  namespace: default
spec:
  packageVulnerabilityRequirements:
    maximumSeverity: MEDIUM
    allowlistCVEs:
      - providers/goog-vulnz/notes/CVE-2017-1000082
      - providers/goog-vulnz/notes/CVE-2017-1000081
---
apiVersion: kritis.grafeas.io/v1beta1
kind: AttestationAuthority
metadata:
  name: {NOTE_NAME}
  namespace: default
spec:
  noteReference: projects/{P}
  publicKeyData: {}
---
apiVersion: kritis.grafeas.io/v1beta1
kind: GenericAttestationPolicy
metadata:
  name: {NOTE_NAME}-policy
  namespace: default
spec:
  attestationAuthorityNames:
  - {NOTE_NAME}
",
        b64(public_key.as_bytes())
    )
}

/// A Trivy report with the given (CVE, severity, fixed version) findings.
fn trivy(findings: &[(&str, &str, Option<&str>)]) -> String {
    let vulns: Vec<Value> = findings
        .iter()
        .map(|(cve, sev, fix)| {
            let mut v = json!({"VulnerabilityID": cve, "PkgName": "libc6", "InstalledVersion": "2.23-0ubuntu3", "Severity": sev, "Status": "affected"});
            if let Some(f) = fix {
                v["FixedVersion"] = json!(f);
                v["Status"] = json!("fixed");
            }
            v
        })
        .collect();
    json!({"SchemaVersion": 2, "ArtifactName": "x", "ArtifactType": "container_image",
           "Results": [{"Target": "x (ubuntu 16.04)", "Class": "os-pkgs", "Type": "ubuntu", "Vulnerabilities": vulns}]})
    .to_string()
}

fn import(s: &Server, image: &str, report: &str) {
    let f = s.write(&format!("scan-{}.json", &digest(image)[7..15]), report);
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args([
            "vulns",
            "import",
            "--format",
            "trivy",
            f.to_str().unwrap(),
            "--image",
            image,
        ])
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pod(namespace: &str, image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": namespace, "name": "test", "userInfo": {"username": "joe"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test", "namespace": namespace},
                   "spec": {"containers": [{"name": "hello", "image": image,
                            "command": ["/bin/sh", "-c", "while true; do echo 'Hello World!'; date; sleep 1; done"]}]}}}})
}

fn admit(s: &Server, namespace: &str, image: &str) -> (bool, String) {
    let r = s.review(&pod(namespace, image));
    (
        r["response"]["allowed"].as_bool().unwrap(),
        r["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

/// Seed 001's "Sign Image" steps: the atomic container signature, `gpg -u … -a --sign`, and
/// the occurrence through the v1 REST call.
fn sign(s: &Server, gpg: &admit_testkit::Gpg, image_name: &str, sha: &str) {
    let payload = format!(
        r#"{{
  "critical": {{
      "type": "atomic container signature",
      "image": {{
       "docker-manifest-digest": "{sha}"
  }},
      "identity": {{
          "docker-reference": "{image_name}"
}}}}}}
"#
    );
    let signature = gpg.sign(GPG_USER, &["-a", "--sign"], payload.as_bytes());
    let key_id = gpg.fingerprint(GPG_USER);
    let occurrence = json!({
        "resourceUri": format!("https://{image_name}@{sha}"),
        "noteName": format!("projects/{P}/notes/{NOTE_NAME}"),
        "attestation": {"serializedPayload": b64(payload.as_bytes()),
                        "signatures": [{"publicKeyId": key_id, "signature": b64(&signature)}]},
    });
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/occurrences"),
        Some(&occurrence.to_string()),
    );
}

#[test]
fn seed_001_kritis_policies_at_admission() {
    let gpg = admit_testkit::Gpg::new();
    gpg.generate(GPG_USER, "rsa2048", "sign");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kritis.yaml"),
        manifests(&gpg.export(GPG_USER)),
    )
    .unwrap();
    let s = Server::start_webhook(&["--kritis-policy-dir", dir.path().to_str().unwrap()]);

    // The note, with seed 001's note.json.
    let note = format!(
        r#"{{
  "name": "projects/{P}/notes/{NOTE_NAME}",
  "shortDescription": "Image Attestation.",
  "longDescription": "Image Attestation.",
  "attestation": {{
    "hint": {{
      "humanReadableName": "Seal of Approval"
}}}}}}"#
    );
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/notes?noteId={NOTE_NAME}"),
        Some(&note),
    );

    // alpine: scanned (a MEDIUM, and an allowlisted CRITICAL), signed → admitted.
    let alpine = format!("eu.gcr.io/{P}/alpine");
    let alpine_sha = digest("alpine:3.9.5");
    import(
        &s,
        &format!("{alpine}@{alpine_sha}"),
        &trivy(&[
            ("CVE-2019-1543", "MEDIUM", Some("1.1.1b-r1")),
            ("CVE-2017-1000082", "CRITICAL", None),
        ]),
    );
    sign(&s, &gpg, &alpine, &alpine_sha);
    let (ok, msg) = admit(&s, "default", &format!("{alpine}@{alpine_sha}"));
    assert!(ok, "the signed, scanned image is admitted: {msg}");

    // Unsigned (scanned clean): denied by the GenericAttestationPolicy.
    let sdk = format!(
        "gcr.io/{P}/cloud-sdk@{}",
        digest("cloud-sdk:285.0.1-alpine")
    );
    import(&s, &sdk, &trivy(&[]));
    let (ok, msg) = admit(&s, "default", &sdk);
    assert!(!ok);
    assert!(msg.contains("GenericAttestationPolicy default/seal-of-approval-policy: not attested by AttestationAuthority seal-of-approval"), "{msg}");

    // ubuntu:xenial-20161010: signed, but over the ImageSecurityPolicy threshold.
    let ubuntu = format!("gcr.io/{P}/ubuntu");
    let ubuntu_sha = digest("ubuntu:xenial-20161010");
    import(
        &s,
        &format!("{ubuntu}@{ubuntu_sha}"),
        &trivy(&[
            ("CVE-2016-7943", "CRITICAL", Some("2.23-0ubuntu5")),
            ("CVE-2017-1000081", "HIGH", None),
            ("CVE-2016-6323", "LOW", None),
        ]),
    );
    sign(&s, &gpg, &ubuntu, &ubuntu_sha);
    let (ok, msg) = admit(&s, "default", &format!("{ubuntu}@{ubuntu_sha}"));
    assert!(!ok);
    assert!(msg.contains("ImageSecurityPolicy default/test-security-policy: found fixable CVE-2016-7943 in libc6 with severity CRITICAL, above the threshold MEDIUM"), "{msg}");
    assert!(!msg.contains("CVE-2017-1000081"), "allowlisted: {msg}");
    assert!(!msg.contains("not attested"), "it is signed: {msg}");

    // A signature by another key does not count.
    let mallory = admit_testkit::Gpg::new();
    mallory.generate(GPG_USER, "rsa2048", "sign");
    let forged = digest("forged");
    import(&s, &format!("{alpine}@{forged}"), &trivy(&[]));
    sign(&s, &mallory, &alpine, &forged);
    let (ok, msg) = admit(&s, "default", &format!("{alpine}@{forged}"));
    assert!(!ok, "{msg}");
    assert!(
        msg.contains("not attested by AttestationAuthority seal-of-approval"),
        "{msg}"
    );

    // Safe defaults: no scan, a tag, a namespace without policy.
    let unscanned = format!("{alpine}@{}", digest("unscanned"));
    sign(&s, &gpg, &alpine, &digest("unscanned"));
    let (ok, msg) = admit(&s, "default", &unscanned);
    assert!(!ok);
    assert!(msg.contains("no finished vulnerability scan"), "{msg}");
    let (ok, msg) = admit(&s, "default", &format!("{alpine}:3.9.5"));
    assert!(!ok);
    assert!(msg.contains("is not a fully qualified image"), "{msg}");
    let (ok, msg) = admit(&s, "kritis", &format!("{alpine}@{alpine_sha}"));
    assert!(!ok);
    assert!(
        msg.contains(
            "namespace kritis has no Kritis ImageSecurityPolicy or GenericAttestationPolicy"
        ),
        "{msg}"
    );
}

#[test]
fn bad_kritis_manifests_stop_the_server_naming_the_field() {
    let gpg = admit_testkit::Gpg::new();
    gpg.generate(GPG_USER, "rsa2048", "sign");
    let good = manifests(&gpg.export(GPG_USER));
    for (text, want) in [
        (
            good.replace("maximumSeverity: MEDIUM", "maximumSeverity: SEVERE"),
            "maximumSeverity",
        ),
        (
            good.replace("maximumSeverity: MEDIUM", "maximumSeverty: MEDIUM"),
            "maximumSeverty",
        ),
        (
            good.replace("  - seal-of-approval\n", "  - nobody\n"),
            "AttestationAuthority `nobody` is not defined in namespace default",
        ),
        (
            good.replace("kind: GenericAttestationPolicy", "kind: Deployment"),
            "kind `Deployment`",
        ),
        (
            good.replace("publicKeyData: ", "publicKeyData: not_base64-"),
            "spec.publicKeyData is not base64",
        ),
        (
            good.replace("noteReference: projects/my-proj", "noteReference: my-proj"),
            "spec.noteReference `my-proj`",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kritis.yaml"), &text).unwrap();
        let certs = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_admit"))
            .args(["webhook-cert", "--san", "127.0.0.1", "--out-dir"])
            .arg(certs.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        let data = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_admit"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--webhook-listen",
                "127.0.0.1:0",
                "--project",
                P,
                "--data-dir",
            ])
            .arg(data.path())
            .arg("--tls-cert")
            .arg(certs.path().join("tls.crt"))
            .arg("--tls-key")
            .arg(certs.path().join("tls.key"))
            .arg("--kritis-policy-dir")
            .arg(dir.path())
            .env(
                "ADMIT_MASTER_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{want}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{want}: {err}");
        assert!(err.contains("kritis.yaml"), "{err}");
    }
}
