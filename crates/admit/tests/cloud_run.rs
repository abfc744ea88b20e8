//! Issue 13, part 2: Cloud Run (seed 002) on its analogue here, the Knative Service, through the
//! webhook over real TLS. No annotation is no bypass; `run.googleapis.com/binary-authorization`
//! selects `default` or a Cloud Run platform policy (made with the real gcloud) that is then
//! evaluated; `run.googleapis.com/binary-authorization-breakglass` with a justification breaks
//! glass and is recorded; denials carry `ContainerImageUnauthorized`; an update that creates no
//! revision is not re-evaluated; a `batch` Job with the annotations is a Cloud Run job.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;

use admit_testkit::{OpensslKey, SigMode};
use base64::Engine as _;
use serde_json::{Value, json};
use support::{Server, digest, path_str};

const P: &str = "my-proj";
const REPO: &str = "asia-east1-docker.pkg.dev/my-proj/allow-repo/nginx";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A `serving.knative.dev/v1` Service, as `kn service create` / Cloud Run YAML writes it.
fn ksvc(name: &str, image: &str, annotations: &Value) -> Value {
    json!({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/maxScale": "3"}},
                 "spec": {"containerConcurrency": 80, "containers": [{"image": image, "ports": [{"containerPort": 8080}]}]}},
                 "traffic": [{"latestRevision": true, "percent": 100}]}})
}

fn review(object: &Value, operation: &str, old: Option<&Value>) -> Value {
    let kind = object["kind"].as_str().unwrap();
    let group = object["apiVersion"]
        .as_str()
        .unwrap()
        .rsplit_once('/')
        .map_or("", |(g, _)| g);
    let mut r = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("uid-{}", object["metadata"]["name"].as_str().unwrap()),
        "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": format!("{}s", kind.to_lowercase())},
        "operation": operation, "namespace": "default",
        "name": object["metadata"]["name"], "userInfo": {"username": "dev@example.com"},
        "object": object}});
    if let Some(o) = old {
        r["request"]["oldObject"] = o.clone();
    }
    r
}

fn import_policy(s: &Server, yaml: &str) {
    let f = s.write("policy.yaml", yaml);
    s.gcloud(&["container", "binauthz", "policy", "import", path_str(&f)]);
}

/// Seed 002's "Disallow All Images" default rule, with an exempt image pattern.
const DISALLOW_ALL: &str = "defaultAdmissionRule:
  evaluationMode: ALWAYS_DENY
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
admissionWhitelistPatterns:
- namePattern: gcr.io/example-project/helloworld:*
";

fn audit(s: &Server, filter: &str) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["audit", "list", "--filter", filter, "--format", "json"])
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Stores a simple-signing attestation of `image` under `note`, signed by `key`.
fn attest(s: &Server, image: &str, note: &str, key: &OpensslKey) {
    let payload = admit_crypto::create_signature_payload(image).unwrap();
    let sig = key.sign(SigMode::Dgst("sha256"), payload.as_bytes());
    let occ = json!({"resourceUri": image, "noteName": format!("projects/{P}/notes/{note}"),
        "attestation": {"serializedPayload": b64(payload.as_bytes()),
        "signatures": [{"publicKeyId": admit_crypto::pkix_key_id(&key.public_der()), "signature": b64(&sig)}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/occurrences"),
        Some(&occ.to_string()),
    );
}

#[test]
fn knative_services_follow_cloud_runs_binary_authorization_contract() {
    let s = Server::start_webhook(&[]);
    import_policy(&s, DISALLOW_ALL);
    let image = format!("{REPO}@{}", digest("nginx"));

    // No annotation: the project policy still applies (no opt-out), Cloud Run's reason.
    for annotations in [
        json!({}),
        json!({"run.googleapis.com/binary-authorization": "default"}),
    ] {
        let r = s.review(&review(&ksvc("web", &image, &annotations), "CREATE", None));
        let resp = &r["response"];
        assert_eq!(resp["allowed"], false, "{r}");
        assert_eq!(
            resp["status"]["reason"], "ContainerImageUnauthorized",
            "{r}"
        );
        let msg = resp["status"]["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!(
                "Container image '{image}' is not authorized by policy"
            )),
            "{msg}"
        );
        assert!(msg.contains("ALWAYS_DENY"), "{msg}");
    }
    // The exempt image of the policy is admitted.
    let exempt = s.review(&review(
        &ksvc(
            "hello",
            "gcr.io/example-project/helloworld:latest",
            &json!({}),
        ),
        "CREATE",
        None,
    ));
    assert_eq!(exempt["response"]["allowed"], true, "{exempt}");

    // A Cloud Run platform policy, made with gcloud, named in the annotation: evaluated
    // instead of the project policy. It requires an attestation by an inline attestor.
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/notes?noteId=demo-attestor-note"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"demo"}}}"#),
    );
    let key = OpensslKey::generate("p256");
    let platform = format!(
        "description: seed 002 on Knative
cloudRunPolicy:
  allowlistPatterns:
  - namePattern: gcr.io/example-project/**
  rule:
    evaluationMode: REQUIRE_ATTESTATION
    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
    requiredAttestors:
    - id: demo-attestor
      attestationNote: projects/{P}/notes/demo-attestor-note
      publicKeys:
      - id: {}
        pkixPublicKey:
          publicKeyPem: |
{}
          signatureAlgorithm: ECDSA_P256_SHA256
",
        admit_crypto::pkix_key_id(&key.public_der()),
        key.public_pem
            .lines()
            .map(|l| format!("            {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let f = s.write("cloud-run.yaml", &platform);
    s.gcloud(&[
        "beta",
        "container",
        "binauthz",
        "policy",
        "create",
        "require-attested",
        "--platform=cloudRun",
        &format!("--policy-file={}", path_str(&f)),
    ]);
    let named = json!({"run.googleapis.com/binary-authorization": format!("projects/{P}/platforms/cloudRun/policies/require-attested")});
    let unsigned = s.review(&review(&ksvc("web", &image, &named), "CREATE", None));
    assert_eq!(unsigned["response"]["allowed"], false, "{unsigned}");
    let msg = unsigned["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("denied by projects/my-proj/platforms/cloudRun/policies/require-attested"),
        "{msg}"
    );
    assert!(msg.contains("demo-attestor"), "{msg}");
    attest(&s, &image, "demo-attestor-note", &key);
    let signed = s.review(&review(&ksvc("web", &image, &named), "CREATE", None));
    assert_eq!(signed["response"]["allowed"], true, "{signed}");
    // The same signed image without the annotation: the project policy (ALWAYS_DENY) again.
    let default = s.review(&review(&ksvc("web", &image, &json!({})), "CREATE", None));
    assert_eq!(default["response"]["allowed"], false);
    // The policy's allowlist admits without attestation.
    let listed = s.review(&review(
        &ksvc("web2", "gcr.io/example-project/team/app:v1", &named),
        "CREATE",
        None,
    ));
    assert_eq!(listed["response"]["allowed"], true, "{listed}");

    // A name that is no Cloud Run policy of this project, or names none that exists: fail closed.
    for (value, needle) in [
        (
            "strict",
            "neither `default` nor a Cloud Run platform policy",
        ),
        (
            "projects/other-proj/platforms/cloudRun/policies/require-attested",
            "neither `default` nor a Cloud Run platform policy of project my-proj",
        ),
        (
            "projects/my-proj/platforms/cloudRun/policies/missing",
            "not found",
        ),
    ] {
        let r = s.review(&review(
            &ksvc(
                "web",
                &image,
                &json!({"run.googleapis.com/binary-authorization": value}),
            ),
            "CREATE",
            None,
        ));
        assert_eq!(r["response"]["allowed"], false, "{value}: {r}");
        let msg = r["response"]["status"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{value}: {msg}");
    }

    // Breakglass: a non-empty justification admits and is recorded; an empty one does not.
    let glass =
        json!({"run.googleapis.com/binary-authorization-breakglass": "INC-1234: outage fix"});
    let broke = s.review(&review(&ksvc("urgent", &image, &glass), "CREATE", None));
    assert_eq!(broke["response"]["allowed"], true, "{broke}");
    assert!(
        broke["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("breakglass"),
        "{broke}"
    );
    let empty = json!({"run.googleapis.com/binary-authorization-breakglass": "  "});
    let refused = s.review(&review(&ksvc("urgent2", &image, &empty), "CREATE", None));
    assert_eq!(refused["response"]["allowed"], false);
    let records = audit(&s, "verdict=BREAKGLASS");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["name"], "urgent");
    assert_eq!(records[0]["cloudRun"]["kind"], "service");
    assert_eq!(
        records[0]["cloudRun"]["breakglassJustification"],
        "INC-1234: outage fix"
    );
    let denied = audit(&s, "verdict=DENIED");
    assert!(
        denied
            .iter()
            .all(|r| r["cloudRun"]["statusReason"] == "ContainerImageUnauthorized"),
        "{denied:?}"
    );

    // A policy applies to new revisions only: a traffic-only update keeps the running
    // revision (admitted although the project policy denies its image); a new image does not.
    let running = ksvc("live", &image, &json!({}));
    let mut traffic = running.clone();
    traffic["spec"]["traffic"] = json!([{"revisionName": "live-00001", "percent": 100}]);
    traffic["metadata"]["labels"] = json!({"team": "web"});
    let r = s.review(&review(&traffic, "UPDATE", Some(&running)));
    assert_eq!(r["response"]["allowed"], true, "{r}");
    let mut new_revision = running.clone();
    new_revision["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!(format!("{REPO}@{}", digest("nginx-2")));
    let r = s.review(&review(&new_revision, "UPDATE", Some(&running)));
    assert_eq!(r["response"]["allowed"], false, "{r}");
    // An UPDATE without the old object (never sent by an API server) is evaluated.
    let r = s.review(&review(&traffic, "UPDATE", None));
    assert_eq!(r["response"]["allowed"], false, "{r}");

    // A Cloud Run job: a batch Job with the annotations follows the same contract.
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "nightly", "namespace": "default",
                     "annotations": {"run.googleapis.com/binary-authorization": "default"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "j", "image": image}]}}}});
    let r = s.review(&review(&job, "CREATE", None));
    assert_eq!(
        r["response"]["status"]["reason"],
        "ContainerImageUnauthorized"
    );
    let mut glass_job = job;
    glass_job["metadata"]["annotations"]["run.googleapis.com/binary-authorization-breakglass"] =
        json!("backfill approved by sec");
    let r = s.review(&review(&glass_job, "CREATE", None));
    assert_eq!(r["response"]["allowed"], true, "{r}");
    let jobs = audit(&s, "verdict=BREAKGLASS");
    assert!(
        jobs.iter().any(|r| r["cloudRun"]["kind"] == "job"),
        "{jobs:?}"
    );
}

#[test]
fn dry_run_policy_admits_knative_services_and_records_it() {
    let s = Server::start_webhook(&[]);
    import_policy(
        &s,
        "defaultAdmissionRule:
  evaluationMode: ALWAYS_DENY
  enforcementMode: DRYRUN_AUDIT_LOG_ONLY
",
    );
    let image = format!("{REPO}@{}", digest("nginx"));
    let r = s.review(&review(&ksvc("web", &image, &json!({})), "CREATE", None));
    assert_eq!(r["response"]["allowed"], true, "{r}");
    let records = audit(&s, "verdict=DRY_RUN");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["kind"], "Service");
    assert_eq!(records[0]["apiGroup"], "serving.knative.dev");
    assert_eq!(records[0]["cloudRun"]["kind"], "service");
}

#[test]
fn cloud_run_platform_policies_are_validated_when_stored() {
    let s = Server::start_webhook(&[]);
    for (yaml, needle) in [
        (
            "cloudRunPolicy:\n  rule:\n    evaluationMode: REQUIRE_ATTESTATION\n    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n    requiredAttestors:\n    - id: a\n      attestationNote: notes/x\n",
            "requiredAttestors[0].attestationNote",
        ),
        (
            "cloudRunPolicy:\n  rule:\n    evaluationMode: REQUIRE_ATTESTATION\n    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n",
            "requireAttestationsBy",
        ),
        (
            "cloudRunPolicy:\n  allowlistPatterns: []\n",
            "cloudRunPolicy.rule is required",
        ),
    ] {
        let f = s.write("bad.yaml", yaml);
        let out = s.gcloud_raw(&[
            "beta",
            "container",
            "binauthz",
            "policy",
            "create",
            "bad",
            "--platform=cloudRun",
            &format!("--policy-file={}", path_str(&f)),
        ]);
        assert!(!out.status.success(), "{yaml}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle}: {err}");
    }
}
