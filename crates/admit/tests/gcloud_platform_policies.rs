//! Platform policies through gcloud's `policy create|describe|list|update|delete|evaluate`
//! and `evaluate-and-sign --no-upload`, with real vulnerability and attestation data.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;

use base64::Engine as _;
use serde_json::json;
use support::{Server, digest, path_str};

support::both_backends!(platform_policies_lifecycle_evaluate_and_sign);
fn platform_policies_lifecycle_evaluate_and_sign(s: &Server) {
    let p = s.project.clone();
    let key = admit_testkit::OpensslKey::generate("p256");
    let indented_pem = key
        .public_pem
        .lines()
        .map(|l| format!("                  {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let policy = format!(
        "description: prod gate
gkePolicy:
  imageAllowlist:
    allowPattern: [registry.k8s.io/pause*]
  checkSets:
  - displayName: prod
    scope:
      kubernetesNamespace: prod
    checks:
    - displayName: trusted
      trustedDirectoryCheck:
        trustedDirPatterns: [us-docker.pkg.dev/{p}/prod/*]
    - displayName: scanned
      vulnerabilityCheck:
        maximumFixableSeverity: MEDIUM
        maximumUnfixableSeverity: HIGH
        allowedCves: [CVE-2024-0002]
    - displayName: signed
      simpleSigningAttestationCheck:
        attestationAuthenticators:
        - displayName: ci
          pkixPublicKeySet:
            pkixPublicKeys:
            - signatureAlgorithm: ECDSA_P256_SHA256
              publicKeyPem: |
{indented_pem}
  - displayName: everything else
    checks:
    - alwaysDeny: true
"
    );
    let file = s.write("policy.yaml", &policy);
    s.gcloud(&[
        "beta",
        "container",
        "binauthz",
        "policy",
        "create",
        "prod-gate",
        "--platform=gke",
        &format!("--policy-file={}", path_str(&file)),
    ]);
    let described = s.gcloud_json(&[
        "beta",
        "container",
        "binauthz",
        "policy",
        "describe",
        "prod-gate",
        "--platform=gke",
    ]);
    assert_eq!(described["description"], "prod gate");
    assert!(
        s.gcloud(&["alpha", "container", "binauthz", "policy", "list", "gke"])
            .contains(&format!("projects/{p}/platforms/gke/policies/prod-gate"))
    );

    // Data for the checks: a scan with an allowed critical CVE, a fixable LOW and an attestation.
    let good = format!("us-docker.pkg.dev/{p}/prod/web@{}", digest("web"));
    for (cve, sev, fix) in [
        ("CVE-2024-0001", "LOW", true),
        ("CVE-2024-0002", "CRITICAL", false),
    ] {
        s.curl(
            "POST",
            &format!("/v1/projects/{p}/notes?noteId={cve}"),
            Some(&json!({"vulnerability": {"severity": sev}}).to_string()),
        );
        s.curl("POST", &format!("/v1/projects/{p}/occurrences"), Some(&json!({"resourceUri": format!("https://{good}"), "noteName": format!("projects/{p}/notes/{cve}"), "vulnerability": {"severity": sev, "effectiveSeverity": sev, "fixAvailable": fix}}).to_string()));
    }
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let payload = admit_crypto::create_signature_payload(&good).unwrap();
    let sig = key.sign(admit_testkit::SigMode::Dgst("sha256"), payload.as_bytes());
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    s.curl("POST", &format!("/v1/projects/{p}/occurrences"), Some(&json!({"resourceUri": good, "noteName": format!("projects/{p}/notes/ci"), "attestation": {"serializedPayload": b64(payload.as_bytes()), "signatures": [{"publicKeyId": admit_crypto::pkix_key_id(&key.public_der()), "signature": b64(&sig)}]}}).to_string()));

    let resource = |image: &str, ns: &str| {
        let out = Command::new("kubectl")
            .args([
                "create",
                "deployment",
                "web",
                &format!("--image={image}"),
                "-n",
                ns,
                "--dry-run=client",
                "-o",
                "yaml",
            ])
            .output()
            .expect("kubectl");
        assert!(out.status.success());
        s.write(
            &format!("{ns}-{}.yaml", image.len()),
            &String::from_utf8_lossy(&out.stdout),
        )
    };
    let evaluate = |res: &std::path::Path| {
        s.gcloud_raw(&[
            "beta",
            "container",
            "binauthz",
            "policy",
            "evaluate",
            "prod-gate",
            "--platform=gke",
            &format!("--resource={}", path_str(res)),
            "--format=json",
        ])
    };

    let ok = evaluate(&resource(&good, "prod"));
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    let checks = &v["results"][0]["imageResults"][0]["checkSetResult"]["checkResults"]["results"];
    assert_eq!(checks.as_array().map(Vec::len), Some(3), "{v}");
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["evaluationResult"]["verdict"] == "CONFORMANT"),
        "{v}"
    );

    // Unsigned, outside the trusted directory, in another namespace: each fails its way.
    let unsigned = format!("us-docker.pkg.dev/{p}/prod/api@{}", digest("api"));
    let out = evaluate(&resource(&unsigned, "prod"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no attestation for"));
    let out = evaluate(&resource(
        &format!("docker.io/library/nginx@{}", digest("nginx")),
        "prod",
    ));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not in a trusted directory"));
    let out = evaluate(&resource(&good, "dev"));
    assert_eq!(out.status.code(), Some(2));
    let pause = evaluate(&resource("registry.k8s.io/pause:3.9", "dev"));
    assert_eq!(pause.status.code(), Some(0), "top-level allowlist");

    // A vulnerability over the threshold turns the good image non-conformant.
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=CVE-2024-0003"),
        Some(r#"{"vulnerability":{"severity":"HIGH"}}"#),
    );
    s.curl("POST", &format!("/v1/projects/{p}/occurrences"), Some(&json!({"resourceUri": good, "noteName": format!("projects/{p}/notes/CVE-2024-0003"), "vulnerability": {"severity": "HIGH", "fixAvailable": true}}).to_string()));
    let out = evaluate(&resource(&good, "prod"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("CVE-2024-0003 (HIGH, fixable)"));

    // Relax it with update (no GET, a PUT of the file), then evaluate-and-sign.
    let relaxed = s.write(
        "relaxed.yaml",
        &policy.replace(
            "maximumFixableSeverity: MEDIUM",
            "maximumFixableSeverity: HIGH",
        ),
    );
    s.gcloud(&[
        "beta",
        "container",
        "binauthz",
        "policy",
        "update",
        "prod-gate",
        "--platform=gke",
        &format!("--policy-file={}", path_str(&relaxed)),
    ]);
    let res = resource(&good, "prod");
    let out_file = s.data.path().join("signed.yaml");
    s.gcloud(&[
        "alpha",
        "container",
        "binauthz",
        "policy",
        "evaluate-and-sign",
        "prod-gate",
        "--platform=gke",
        &format!("--resource={}", path_str(&res)),
        "--no-upload",
        &format!("--output-file={}", path_str(&out_file)),
    ]);
    let annotated = std::fs::read_to_string(&out_file).unwrap();
    let att = annotated
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("binaryauthorization.googleapis.com/attestations: ")
        })
        .expect("annotation");
    let envelope: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE
            .decode(att.trim())
            .unwrap(),
    )
    .unwrap();
    let statement_bytes = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&statement_bytes).unwrap();
    assert_eq!(
        statement["predicateType"],
        "https://binaryauthorization.googleapis.com/policy_verification/v0.1"
    );
    assert_eq!(
        format!(
            "{}@sha256:{}",
            statement["subject"][0]["name"].as_str().unwrap(),
            statement["subject"][0]["digest"]["sha256"]
                .as_str()
                .unwrap()
        ),
        good
    );
    // The envelope verifies with the public key the KMS publishes for the signing key.
    let keyid = envelope["signatures"][0]["keyid"].as_str().unwrap();
    let pk = s.curl("GET", &format!("/v1/{keyid}/publicKey"), None);
    let verifier = admit_crypto::PkixKey::from_pem(
        pk["pem"].as_str().unwrap(),
        admit_model::SignatureAlgorithm::EcdsaP256Sha256,
    )
    .unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let pae = admit_crypto::pae(envelope["payloadType"].as_str().unwrap(), &statement_bytes);
    assert_eq!(verifier.verify(&pae, &sig), Ok(()));

    // A non-conformant resource is not signed: exit 2.
    let bad = s.gcloud_raw(&[
        "alpha",
        "container",
        "binauthz",
        "policy",
        "evaluate-and-sign",
        "prod-gate",
        "--platform=gke",
        &format!("--resource={}", path_str(&resource(&unsigned, "prod"))),
        "--no-upload",
    ]);
    assert_eq!(bad.status.code(), Some(2));

    // Validation: a scoped last check set is refused.
    let bad_policy = s.write("bad.yaml", "gkePolicy:\n  checkSets:\n  - scope:\n      kubernetesNamespace: prod\n    checks:\n    - alwaysDeny: true\n");
    let out = s.gcloud_raw(&[
        "beta",
        "container",
        "binauthz",
        "policy",
        "create",
        "bad",
        "--platform=gke",
        &format!("--policy-file={}", path_str(&bad_policy)),
    ]);
    assert!(
        !out.status.success() && support::stderr(&out).contains("catch-all"),
        "{}",
        support::stderr(&out)
    );

    s.gcloud(&[
        "beta",
        "container",
        "binauthz",
        "policy",
        "delete",
        "prod-gate",
        "--platform=gke",
    ]);
    let gone = s.gcloud_raw(&[
        "beta",
        "container",
        "binauthz",
        "policy",
        "describe",
        "prod-gate",
        "--platform=gke",
    ]);
    assert!(!gone.status.success());
}
