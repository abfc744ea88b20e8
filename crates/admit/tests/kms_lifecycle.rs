//! Issue 16, part 2 (the KMS half): the key lifecycle with the real gcloud — `keys update`
//! (labels; rotation refused for asymmetric keys), `keys versions disable|enable|destroy|
//! restore`, `destroyTime` on the key's `destroyScheduledDuration` — and a version that is not
//! ENABLED neither signs nor vouches for the attestations it signed.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use serde_json::{Value, json};
use support::{Server, digest};

fn admitted(s: &Server, image: &str) -> (bool, String) {
    let r = s.review(
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "prod", "name": "p", "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c", "image": image}]}}}}),
    );
    (
        r["response"]["allowed"].as_bool().unwrap(),
        r["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[test]
fn the_kms_key_lifecycle_through_gcloud_and_what_a_version_may_vouch_for() {
    let s = Server::start_webhook(&[]);
    let p = s.project.clone();
    let kms = |args: &[&str]| {
        let mut all = vec!["kms"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--location=global", "--keyring=ring", "--format=json"]);
        s.gcloud_json(&all)
    };
    s.gcloud(&["kms", "keyrings", "create", "ring", "--location=global"]);
    s.gcloud(&[
        "kms",
        "keys",
        "create",
        "signer",
        "--keyring=ring",
        "--location=global",
        "--purpose=asymmetric-signing",
        "--default-algorithm=ec-sign-p256-sha256",
        "--destroy-scheduled-duration=2d",
    ]);
    // keys update: labels; rotation is not for asymmetric keys.
    let updated = kms(&["keys", "update", "signer", "--update-labels=team=security"]);
    assert_eq!(updated["labels"]["team"], "security", "{updated}");
    assert_eq!(updated["destroyScheduledDuration"], "172800s");
    let rotation = s.gcloud_raw(&[
        "kms",
        "keys",
        "update",
        "signer",
        "--keyring=ring",
        "--location=global",
        "--rotation-period=30d",
        "--next-rotation-time=2030-01-01T00:00:00Z",
    ]);
    assert!(!rotation.status.success());

    // An attestor on the KMS key, and an attestation it signs (seed 002's commands).
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=kms-note"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"kms"}}}"#),
    );
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "create",
        "kms-attestor",
        "--attestation-authority-note=kms-note",
        &format!("--attestation-authority-note-project={p}"),
    ]);
    s.gcloud(&[
        "beta",
        "container",
        "binauthz",
        "attestors",
        "public-keys",
        "add",
        "--attestor=kms-attestor",
        &format!("--keyversion-project={p}"),
        "--keyversion-location=global",
        "--keyversion-keyring=ring",
        "--keyversion-key=signer",
        "--keyversion=1",
    ]);
    let policy = s.write(
        "policy.yaml",
        &format!(
            "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy: [projects/{p}/attestors/kms-attestor]\n"
        ),
    );
    s.gcloud(&[
        "container",
        "binauthz",
        "policy",
        "import",
        support::path_str(&policy),
    ]);
    let image = format!(
        "asia-east1-docker.pkg.dev/{p}/allow-repo/nginx@{}",
        digest("nginx")
    );
    s.gcloud(&[
        "beta",
        "container",
        "binauthz",
        "attestations",
        "sign-and-create",
        &format!("--artifact-url={image}"),
        "--attestor=kms-attestor",
        &format!("--attestor-project={p}"),
        &format!("--keyversion-project={p}"),
        "--keyversion-location=global",
        "--keyversion-keyring=ring",
        "--keyversion-key=signer",
        "--keyversion=1",
    ]);
    assert!(admitted(&s, &image).0);

    // Disabled: it signs nothing and vouches for nothing; enabled again: both come back.
    let v = kms(&["keys", "versions", "disable", "1", "--key=signer"]);
    assert_eq!(v["state"], "DISABLED");
    let (ok, msg) = admitted(&s, &image);
    assert!(!ok);
    assert!(msg.contains("cryptoKeyVersions/1 is DISABLED"), "{msg}");
    let sign = s.gcloud_raw(&[
        "kms",
        "asymmetric-sign",
        "--version=1",
        "--key=signer",
        "--keyring=ring",
        "--location=global",
        "--digest-algorithm=sha256",
        &format!("--input-file={}", support::path_str(&policy)),
        &format!(
            "--signature-file={}",
            support::path_str(&s.data.path().join("sig"))
        ),
    ]);
    assert!(!sign.status.success());
    let v = kms(&["keys", "versions", "enable", "1", "--key=signer"]);
    assert_eq!(v["state"], "ENABLED");
    assert!(admitted(&s, &image).0);

    // Destroy: scheduled for the key's 2 days, not the moment; restore brings it back
    // DISABLED, and enabling it restores everything.
    let v: Value = kms(&["keys", "versions", "destroy", "1", "--key=signer"]);
    assert_eq!(v["state"], "DESTROY_SCHEDULED");
    let at = admit_model::parse_rfc3339(v["destroyTime"].as_str().unwrap())
        .unwrap()
        .0;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(at.abs_diff(now + 172_800) < 120, "{v}");
    let (ok, msg) = admitted(&s, &image);
    assert!(!ok);
    assert!(msg.contains("is DESTROY_SCHEDULED"), "{msg}");
    let v = kms(&["keys", "versions", "restore", "1", "--key=signer"]);
    assert_eq!(v["state"], "DISABLED");
    assert!(v.get("destroyTime").is_none(), "{v}");
    kms(&["keys", "versions", "enable", "1", "--key=signer"]);
    assert!(admitted(&s, &image).0);
    // What cannot happen is refused: enabling a version scheduled for destruction.
    kms(&["keys", "versions", "destroy", "1", "--key=signer"]);
    let refused = s.gcloud_raw(&[
        "kms",
        "keys",
        "versions",
        "enable",
        "1",
        "--key=signer",
        "--keyring=ring",
        "--location=global",
    ]);
    assert!(!refused.status.success());
    assert!(!admitted(&s, &image).0);
}
