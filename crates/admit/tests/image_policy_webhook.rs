//! Issue 13, part 4: GKE's way in. A real kube-apiserver (tools/kapi, Kubernetes 1.20) with the
//! ImagePolicyWebhook admission plugin pointed at admit's `/imagepolicy` over TLS; `kubectl
//! run` is denied or admitted by the project policy; the break-glass annotation admits and the
//! plugin writes admit's audit annotations into the API server's own audit log as
//! `imagepolicywebhook.image-policy.k8s.io/…`, the names GKE's log labels carry.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use admit_testkit::{OpensslKey, SigMode};
use base64::Engine as _;
use serde_json::{Value, json};
use support::kapi::Kapi;
use support::{Server, digest, path_str};

const REPO: &str = "us-docker.pkg.dev/my-proj/prod/app";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn kube_apiserver_with_image_policy_webhook_enforces_the_project_policy() {
    let s = Server::start_webhook(&[]);
    let p = s.project.clone();
    // The attestor `built-by-ci`, and a policy requiring it (dry run in namespace `dry`).
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let key = OpensslKey::generate("p256");
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{p}/notes/ci"), "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=built-by-ci"),
        Some(&attestor.to_string()),
    );
    let policy = json!({
        "defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
                                 "requireAttestationsBy": [format!("projects/{p}/attestors/built-by-ci")]},
        "kubernetesNamespaceAdmissionRules": {"dry": {"evaluationMode": "ALWAYS_DENY", "enforcementMode": "DRYRUN_AUDIT_LOG_ONLY"}}});
    s.curl(
        "PUT",
        &format!("/v1/projects/{p}/policy"),
        Some(&policy.to_string()),
    );
    let signed = format!("{REPO}@{}", digest("signed"));
    let payload = admit_crypto::create_signature_payload(&signed).unwrap();
    let sig = key.sign(SigMode::Dgst("sha256"), payload.as_bytes());
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/occurrences"),
        Some(
            &json!({"resourceUri": signed, "noteName": format!("projects/{p}/notes/ci"),
                "attestation": {"serializedPayload": b64(payload.as_bytes()),
                "signatures": [{"publicKeyId": admit_crypto::pkix_key_id(&key.public_der()), "signature": b64(&sig)}]}})
            .to_string(),
        ),
    );

    // The plugin's configuration: a kubeconfig naming admit's /imagepolicy with admit's CA.
    let dir = tempfile::tempdir().unwrap();
    let webhook = s.webhook.clone().unwrap();
    let kubeconfig = dir.path().join("imagepolicy.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: admit
  cluster:
    server: {webhook}/imagepolicy
    certificate-authority: {}
users:
- name: kube-apiserver
  user: {{}}
contexts:
- name: admit
  context: {{cluster: admit, user: kube-apiserver}}
current-context: admit
",
            path_str(&s.data.path().join("ca.crt"))
        ),
    )
    .unwrap();
    let admission = dir.path().join("admission.yaml");
    std::fs::write(
        &admission,
        format!(
            "apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: ImagePolicyWebhook
  configuration:
    imagePolicy:
      kubeConfigFile: {}
      allowTTL: 1
      denyTTL: 1
      retryBackoff: 500
      defaultAllow: false
",
            path_str(&kubeconfig)
        ),
    )
    .unwrap();
    let audit_policy = dir.path().join("audit-policy.yaml");
    std::fs::write(
        &audit_policy,
        "apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
  resources:
  - group: \"\"
    resources: [\"pods\"]
",
    )
    .unwrap();
    let audit_log = dir.path().join("audit.log");
    let kapi = Kapi::start(&format!(
        "--enable-admission-plugins=ImagePolicyWebhook --admission-control-config-file={} --audit-policy-file={} --audit-log-path={}",
        path_str(&admission),
        path_str(&audit_policy),
        path_str(&audit_log)
    ));
    assert!(
        kapi.log().contains("ImagePolicyWebhook"),
        "the plugin is not in the API server's admission chain:\n{}",
        kapi.log()
    );

    // Denied: an image without attestation.
    let unsigned = format!("{REPO}@{}", digest("unsigned"));
    let out = kapi.kubectl(&["run", "denied", "--image", &unsigned, "--restart=Never"]);
    assert!(!out.status.success(), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("image policy webhook backend denied one or more images"),
        "{msg}"
    );
    assert!(
        msg.contains("projects/my-proj/attestors/built-by-ci"),
        "{msg}"
    );
    // Admitted: the attested image.
    let out = kapi.kubectl(&["run", "ok", "--image", &signed, "--restart=Never"]);
    assert!(out.status.success(), "{}", text(&out));
    // Breakglass: the annotation the plugin forwards.
    let glass = format!("{REPO}@{}", digest("glass"));
    let out = kapi.kubectl(&[
        "run",
        "glass",
        "--image",
        &glass,
        "--restart=Never",
        "--annotations=alpha.image-policy.k8s.io/break-glass=true",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // Dry run in namespace `dry`.
    assert!(
        kapi.kubectl(&["create", "namespace", "dry"])
            .status
            .success()
    );
    let dry = format!("{REPO}@{}", digest("dry"));
    let out = kapi.kubectl(&[
        "run",
        "dry",
        "-n",
        "dry",
        "--image",
        &dry,
        "--restart=Never",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    // The API server's audit log carries admit's annotations under the plugin's prefix.
    let events: Vec<Value> = std::fs::read_to_string(&audit_log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &Value| e["verb"] == "create" && e["stage"] == "ResponseComplete")
        .collect();
    let event = |name: &str| {
        events
            .iter()
            .find(|e| e["objectRef"]["name"] == name)
            .unwrap_or_else(|| panic!("no audit event for {name}: {events:?}"))
            .clone()
    };
    let g = event("glass");
    assert_eq!(
        g["annotations"]["imagepolicywebhook.image-policy.k8s.io/break-glass"], "true",
        "{g}"
    );
    assert!(
        g["annotations"]["imagepolicywebhook.image-policy.k8s.io/overridden-verification-result"]
            .as_str()
            .unwrap()
            .contains(&format!("Image {glass} denied by")),
        "{g}"
    );
    let d = event("dry");
    assert_eq!(
        d["annotations"]["imagepolicywebhook.image-policy.k8s.io/dry-run"], "true",
        "{d}"
    );
    assert_eq!(event("denied")["responseStatus"]["code"], 403);

    // admit's own record of each, and the GKE LogEntry gcloud reads.
    let broke = s.gcloud(&[
        "logging",
        "read",
        r#"resource.type="k8s_cluster" "image-policy.k8s.io/break-glass""#,
        "--format=json",
    ]);
    let broke: Value = serde_json::from_str(&broke).unwrap();
    assert_eq!(broke.as_array().map(Vec::len), Some(1), "{broke}");
    assert_eq!(
        broke[0]["labels"]["imagepolicywebhook.image-policy.k8s.io/break-glass"],
        "true"
    );
}
