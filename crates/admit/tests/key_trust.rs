//! Issue 19, part 1, through the interfaces users use: an attestor made with the real gcloud,
//! its key's validity window and revocation set through the REST API (admit extensions), kept
//! across gcloud's own updates of the attestor, and enforced on the next AdmissionReview.

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
use support::{Server, digest, path_str};

const REPO: &str = "us-docker.pkg.dev/my-proj/prod/app";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn pod(image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "prod", "name": "app", "userInfo": {"username": "dev@example.com"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
                   "spec": {"containers": [{"name": "app", "image": image}]}}}})
}

fn verdict(s: &Server, image: &str) -> (bool, String) {
    let r = s.review(&pod(image));
    (
        r["response"]["allowed"].as_bool().unwrap(),
        r["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[test]
fn validity_windows_and_revocation_change_what_admits_and_survive_gcloud() {
    let s = Server::start_webhook(&[]);
    let p = s.project.clone();
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "create",
        "built-by-ci",
        "--attestation-authority-note=ci",
        &format!("--attestation-authority-note-project={p}"),
    ]);
    let key = OpensslKey::generate("p256");
    let pem = s.write("ci.pub", &key.public_pem);
    let add_key = || {
        s.gcloud_json(&[
            "container",
            "binauthz",
            "attestors",
            "public-keys",
            "add",
            "--attestor=built-by-ci",
            &format!("--pkix-public-key-file={}", path_str(&pem)),
            "--pkix-public-key-algorithm=ecdsa-p256-sha256",
        ])
    };
    let key_id = add_key()["id"].as_str().unwrap().to_owned();
    let policy = s.write(
        "policy.yaml",
        &format!(
            "defaultAdmissionRule:
  evaluationMode: REQUIRE_ATTESTATION
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
  requireAttestationsBy: [projects/{p}/attestors/built-by-ci]
"
        ),
    );
    s.gcloud(&[
        "container",
        "binauthz",
        "policy",
        "import",
        path_str(&policy),
    ]);
    let image = format!("{REPO}@{}", digest("app"));
    let payload = admit_crypto::create_signature_payload(&image).unwrap();
    let sig = key.sign(SigMode::Dgst("sha256"), payload.as_bytes());
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/occurrences"),
        Some(
            &json!({"resourceUri": format!("https://{image}"), "noteName": format!("projects/{p}/notes/ci"),
                "attestation": {"serializedPayload": b64(payload.as_bytes()),
                "signatures": [{"publicKeyId": key_id, "signature": b64(&sig)}]}})
            .to_string(),
        ),
    );
    assert!(verdict(&s, &image).0);

    let url = format!("/v1/projects/{p}/attestors/built-by-ci");
    let put = |f: &dyn Fn(&mut Value)| {
        let mut a = s.curl("GET", &url, None);
        f(&mut a);
        s.curl("PUT", &url, Some(&a.to_string()))
    };
    // A window that ended before the attestation was recorded: it no longer counts.
    put(&|a| {
        a["userOwnedGrafeasNote"]["publicKeys"][0]["admitValidity"] =
            json!({"notBefore": "2019-01-01T00:00:00Z", "notAfter": "2020-01-01T00:00:00Z"});
    });
    let (ok, msg) = verdict(&s, &image);
    assert!(!ok);
    assert!(
        msg.contains("validity ended (2020-01-01T00:00:00Z)"),
        "{msg}"
    );
    // gcloud knows nothing of it, and its updates of the attestor do not lose it.
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "update",
        "built-by-ci",
        "--description=CI builds",
    ]);
    let described = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestors",
        "describe",
        "built-by-ci",
    ]);
    assert_eq!(described["description"], "CI builds");
    let stored = s.curl("GET", &url, None);
    assert_eq!(
        stored["userOwnedGrafeasNote"]["publicKeys"][0]["admitValidity"]["notAfter"],
        "2020-01-01T00:00:00Z",
        "{stored}"
    );
    assert!(!verdict(&s, &image).0);
    // A window around now admits again; sending it empty clears it.
    put(&|a| {
        a["userOwnedGrafeasNote"]["publicKeys"][0]["admitValidity"] =
            json!({"notBefore": "2020-01-01T00:00:00Z", "notAfter": "2100-01-01T00:00:00Z"});
    });
    assert!(verdict(&s, &image).0);
    put(&|a| {
        a["userOwnedGrafeasNote"]["publicKeys"][0]["admitValidity"] = json!({});
    });
    let cleared = s.curl("GET", &url, None);
    assert!(
        cleared["userOwnedGrafeasNote"]["publicKeys"][0]
            .get("admitValidity")
            .is_none(),
        "{cleared}"
    );

    // Revocation: stamped by the server, enforced on the next review.
    let revoked = put(&|a| {
        a["admitRevokedKeys"] = json!([{"keyId": key_id, "reason": "leaked in CI logs", "revokeTime": "1999-01-01T00:00:00Z"}]);
    });
    let stamped = revoked["admitRevokedKeys"][0]["revokeTime"]
        .as_str()
        .unwrap();
    assert!(stamped.starts_with("20"), "{revoked}");
    assert_ne!(stamped, "1999-01-01T00:00:00Z");
    let (ok, msg) = verdict(&s, &image);
    assert!(!ok);
    assert!(
        msg.contains("was revoked at") && msg.contains("leaked in CI logs"),
        "{msg}"
    );
    // It cannot be undone: not by a PUT without it, nor by removing the key and adding it back
    // with gcloud.
    put(&|a| {
        a.as_object_mut().unwrap().remove("admitRevokedKeys");
    });
    assert!(!verdict(&s, &image).0);
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "public-keys",
        "remove",
        &key_id,
        "--attestor=built-by-ci",
    ]);
    add_key();
    let stored = s.curl("GET", &url, None);
    assert_eq!(stored["admitRevokedKeys"][0]["keyId"], key_id.as_str());
    let (ok, msg) = verdict(&s, &image);
    assert!(!ok);
    assert!(msg.contains("was revoked at"), "{msg}");

    // Bad extensions are refused naming the field, and change nothing.
    let before = s.curl("GET", &url, None);
    for (patch, needle) in [
        (json!({"notBefore": "yesterday"}), "admitValidity.notBefore"),
        (
            json!({"notBefore": "2030-01-01T00:00:00Z", "notAfter": "2029-01-01T00:00:00Z"}),
            "notBefore is after notAfter",
        ),
        (json!({"validFrom": "2030-01-01T00:00:00Z"}), "validFrom"),
    ] {
        let mut a = before.clone();
        a["userOwnedGrafeasNote"]["publicKeys"][0]["admitValidity"] = patch;
        let (code, err) = s.call("PUT", &url, Some(&a.to_string()));
        assert_eq!(code, 400, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(needle),
            "{needle}: {err}"
        );
    }
    let after = s.curl("GET", &url, None);
    assert_eq!(after["etag"], before["etag"]);
}
