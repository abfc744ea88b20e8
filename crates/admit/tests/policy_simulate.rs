//! Issue 14, part 3: `admit policy simulate PROPOSED.yaml [--since]` against a server that
//! reaches a real kube-apiserver (tools/kapi) and has an audit log of admissions. The table of
//! a tightened policy names exactly the running pods and audited admissions it would newly deny
//! (service-account rules, replayed from the pods and the audit records, keep the others
//! admitted); the reverse change
//! is reported as newly allowed; bad input is refused naming the field, and nothing is written.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::{Command, Output};

use admit_testkit::{OpensslKey, SigMode};
use base64::Engine as _;
use serde_json::{Value, json};
use support::kapi::Kapi;
use support::{Server, digest, path_str};

const P: &str = "my-proj";
const REPO: &str = "us-docker.pkg.dev/my-proj/prod/app";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn simulate(s: &Server, file: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["policy", "simulate", path_str(file)])
        .args(extra)
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .output()
        .unwrap()
}

fn review(namespace: &str, name: &str, image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("u-{name}"), "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": namespace, "name": name, "userInfo": {"username": "ci"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                   "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn names(section: &Value) -> Vec<String> {
    section
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["namespace"].as_str().unwrap(),
                i["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn simulating_a_policy_names_exactly_the_affected_workloads() {
    let k = Kapi::start("");
    let s = Server::start_webhook(&["--kubeconfig", path_str(&k.kubeconfig)]);
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let key = OpensslKey::generate("p256");
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{P}/notes/ci"),
        "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/attestors?attestorId=built-by-ci"),
        Some(&attestor.to_string()),
    );
    let allow_all = json!({"defaultAdmissionRule": {"evaluationMode": "ALWAYS_ALLOW", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}});
    s.curl(
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(&allow_all.to_string()),
    );
    let signed = format!("{REPO}@{}", digest("signed"));
    let unsigned = format!("{REPO}@{}", digest("unsigned"));
    let payload = admit_crypto::create_signature_payload(&signed).unwrap();
    let sig = key.sign(SigMode::Dgst("sha256"), payload.as_bytes());
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/occurrences"),
        Some(
            &json!({"resourceUri": signed, "noteName": format!("projects/{P}/notes/ci"),
                "attestation": {"serializedPayload": b64(payload.as_bytes()),
                "signatures": [{"publicKeyId": admit_crypto::pkix_key_id(&key.public_der()), "signature": b64(&sig)}]}})
            .to_string(),
        ),
    );

    // Running: prod/web (attested), prod/api (not), prod/batch (not, but its service account
    // gets a rule of its own), dev/tool (not, but dev's default service account stays open).
    for ns in ["prod", "dev"] {
        assert!(k.kubectl(&["create", "namespace", ns]).status.success());
    }
    for (ns, name, image, sa) in [
        ("prod", "web", &signed, None),
        ("prod", "api", &unsigned, None),
        ("prod", "batch", &unsigned, Some("batch-runner")),
        ("dev", "tool", &unsigned, None),
    ] {
        let overrides = sa.map(|sa| json!({"spec": {"serviceAccountName": sa}}).to_string());
        let mut args = vec![
            "run",
            name,
            "-n",
            ns,
            "--image",
            image.as_str(),
            "--restart=Never",
        ];
        if let Some(o) = &overrides {
            args.extend(["--overrides", o.as_str()]);
        }
        let out = k.kubectl(&args);
        assert!(out.status.success(), "{}", text(&out));
    }
    // Audited admissions only: prod/legacy twice, dev/old once.
    let legacy = format!("{REPO}@{}", digest("legacy"));
    for (ns, name) in [("prod", "legacy"), ("prod", "legacy"), ("dev", "old")] {
        let r = s.review(&review(ns, name, &legacy));
        assert_eq!(r["response"]["allowed"], true, "{r}");
    }
    let before = s.curl("GET", &format!("/v1/projects/{P}/policy"), None);

    let strict = format!(
        "defaultAdmissionRule:
  evaluationMode: REQUIRE_ATTESTATION
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
  requireAttestationsBy:
  - projects/{P}/attestors/built-by-ci
kubernetesServiceAccountAdmissionRules:
  dev:default:
    evaluationMode: ALWAYS_ALLOW
    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
  prod:batch-runner:
    evaluationMode: ALWAYS_ALLOW
    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
"
    );
    let proposed = s.write("strict.yaml", &strict);
    let out = simulate(&s, &proposed, &["--since", "1h"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("Running workloads: 4 evaluated, 1 would change."),
        "{table}"
    );
    let api_row = table
        .lines()
        .find(|l| l.contains("Pod/api"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        api_row.starts_with("NEWLY_DENIED")
            && api_row.contains("prod")
            && api_row.contains("ALLOWED → DENIED")
            && api_row.contains("no attestation by projects/my-proj/attestors/built-by-ci"),
        "{api_row}"
    );
    for absent in ["Pod/web", "Pod/batch", "Pod/tool", "Pod/old"] {
        assert!(!table.contains(absent), "{absent}: {table}");
    }
    assert!(
        table.contains("Admissions since ")
            && table.contains("3 records, 2 distinct workloads evaluated, 1 would change."),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("NEWLY_DENIED") && l.contains("Pod/legacy (×2)")),
        "{table}"
    );

    // The same as JSON.
    let out = simulate(&s, &proposed, &["--since", "1h", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&v["running"]["newlyDenied"]), vec!["prod/api"]);
    assert_eq!(v["running"]["newlyAllowed"], json!([]));
    assert_eq!(v["running"]["evaluated"], 4);
    assert_eq!(v["running"]["newlyDenied"][0]["current"], "ALLOWED");
    assert_eq!(v["running"]["newlyDenied"][0]["proposed"], "DENIED");
    assert_eq!(names(&v["admissions"]["newlyDenied"]), vec!["prod/legacy"]);
    assert_eq!(v["admissions"]["newlyDenied"][0]["admissions"], 2);
    assert_eq!(v["admissions"]["records"], 3);

    // Nothing was written: the policy is the one before.
    let after = s.curl("GET", &format!("/v1/projects/{P}/policy"), None);
    assert_eq!(before["etag"], after["etag"]);

    // The reverse: with the strict policy in force, allowing everything again would newly admit
    // exactly prod/api (and the audited prod/legacy); exit 0, since nothing is newly denied.
    let strict_json: Value = serde_saphyr::from_str(&strict).unwrap();
    s.curl(
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(&strict_json.to_string()),
    );
    let open = s.write("open.json", &allow_all.to_string());
    let out = simulate(&s, &open, &["--since", "1h", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&v["running"]["newlyAllowed"]), vec!["prod/api"]);
    assert_eq!(v["running"]["newlyDenied"], json!([]));
    assert_eq!(names(&v["admissions"]["newlyAllowed"]), vec!["prod/legacy"]);

    // Bad input: refused naming the field, through the CLI and the API.
    let missing = s.write("missing.yaml", &strict.replace("built-by-ci", "nobody"));
    let out = simulate(&s, &missing, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("policy: invalid policy: defaultAdmissionRule.requireAttestationsBy[0]: attestor `projects/my-proj/attestors/nobody` does not exist"),
        "{}",
        text(&out)
    );
    let (code, err) = s.call(
        "POST",
        &format!("/v1/projects/{P}/policy:simulate"),
        Some(&json!({"policy": allow_all, "since": "yesterday"}).to_string()),
    );
    assert_eq!(code, 400, "{err}");
    assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("since: `yesterday`"),
        "{err}"
    );
    let (code, err) = s.call(
        "POST",
        &format!("/v1/projects/{P}/policy:simulate"),
        Some(
            &json!({"policy": {"defaultAdmissionRule": {"evaluationMode": "SOMETIMES"}}})
                .to_string(),
        ),
    );
    assert_eq!(code, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("evaluationMode"),
        "{err}"
    );
}
