//! The seed walkthroughs, verbatim, with the real gcloud 528 and curl against `admit serve`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;

use support::{Server, digest, path_str, stderr};

const KEY_LOCATION: &str = "global";
const KEYRING: &str = "binauthz-keys";
const KEY_NAME: &str = "codelab-key";
const NOTE_ID: &str = "my-attestor-note";
const ATTESTOR_ID: &str = "my-binauthz-attestor";

/// Seed 000: KMS key ring and key, the note by curl, attestor, KMS public key, sign-and-create,
/// list, policy import — then the attestation really verifies (server-side validation and the
/// offline engine over gcloud's own JSON).
#[test]
fn seed_000_codelab_walkthrough() {
    seed_000(&Server::start());
}

/// The same walkthrough against a PostgreSQL-backed server.
#[test]
fn seed_000_codelab_walkthrough_on_postgres() {
    let db = support::PgDatabase::create();
    seed_000(&Server::start_postgres(&db.url, &[]));
}

fn seed_000(s: &Server) {
    let p = s.project.clone();
    // "Enable the APIs", verbatim.
    s.gcloud(&["services", "enable", "container.googleapis.com"]);
    s.gcloud(&["services", "enable", "binaryauthorization.googleapis.com"]);
    let enabled = s.gcloud(&[
        "services",
        "list",
        "--enabled",
        "--format=value(config.name)",
    ]);
    assert!(
        enabled.contains("binaryauthorization.googleapis.com"),
        "{enabled}"
    );
    s.gcloud(&[
        "kms",
        "keyrings",
        "create",
        KEYRING,
        &format!("--location={KEY_LOCATION}"),
    ]);
    s.gcloud(&[
        "kms",
        "keys",
        "create",
        KEY_NAME,
        &format!("--keyring={KEYRING}"),
        &format!("--location={KEY_LOCATION}"),
        "--purpose",
        "asymmetric-signing",
        "--default-algorithm=ec-sign-p256-sha256",
    ]);
    let note = s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes/?noteId={NOTE_ID}"),
        Some(r#"{"attestation":{"hint":{"human_readable_name":"This note represents an attestation authority"}}}"#),
    );
    assert_eq!(note["name"], format!("projects/{p}/notes/{NOTE_ID}"));
    assert_eq!(note["kind"], "ATTESTATION");
    let got = s.curl("GET", &format!("/v1/projects/{p}/notes/{NOTE_ID}"), None);
    assert_eq!(got["name"], note["name"]);

    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "create",
        ATTESTOR_ID,
        &format!("--attestation-authority-note={NOTE_ID}"),
        &format!("--attestation-authority-note-project={p}"),
    ]);
    let listed = s.gcloud(&["container", "binauthz", "attestors", "list"]);
    assert!(
        listed.contains(ATTESTOR_ID) && listed.contains(&format!("projects/{p}/notes/{NOTE_ID}")),
        "{listed}"
    );

    let added = s.gcloud_json(&[
        "beta",
        "container",
        "binauthz",
        "attestors",
        "public-keys",
        "add",
        &format!("--attestor={ATTESTOR_ID}"),
        &format!("--keyversion-project={p}"),
        &format!("--keyversion-location={KEY_LOCATION}"),
        &format!("--keyversion-keyring={KEYRING}"),
        &format!("--keyversion-key={KEY_NAME}"),
        "--keyversion=1",
    ]);
    let key_id = added["id"].as_str().expect("added key id").to_owned();
    assert!(key_id.ends_with(&format!("/v1/projects/{p}/locations/global/keyRings/{KEYRING}/cryptoKeys/{KEY_NAME}/cryptoKeyVersions/1")), "{key_id}");
    assert_eq!(
        added["pkixPublicKey"]["signatureAlgorithm"],
        "ECDSA_P256_SHA256"
    );
    let listed = s.gcloud(&["container", "binauthz", "attestors", "list"]);
    assert!(listed.contains(" 1 "), "one public key now: {listed}");

    let container_path = format!("us.gcr.io/{p}/hello-world");
    let d = digest("hello-world build 1");
    s.gcloud(&[
        "beta",
        "container",
        "binauthz",
        "attestations",
        "sign-and-create",
        &format!("--artifact-url={container_path}@{d}"),
        &format!("--attestor={ATTESTOR_ID}"),
        &format!("--attestor-project={p}"),
        &format!("--keyversion-project={p}"),
        &format!("--keyversion-location={KEY_LOCATION}"),
        &format!("--keyversion-keyring={KEYRING}"),
        &format!("--keyversion-key={KEY_NAME}"),
        "--keyversion=1",
    ]);
    let atts = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestations",
        "list",
        &format!("--attestor={ATTESTOR_ID}"),
        &format!("--attestor-project={p}"),
    ]);
    let atts = atts.as_array().expect("list");
    assert_eq!(atts.len(), 1, "{atts:?}");
    assert_eq!(atts[0]["resourceUri"], format!("{container_path}@{d}"));
    assert_eq!(
        atts[0]["attestation"]["signatures"][0]["publicKeyId"],
        key_id.as_str()
    );

    let policy = s.write(
        "updated_policy.yaml",
        &format!("globalPolicyEvaluationMode: ENABLE\ndefaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy:\n  - projects/{p}/attestors/{ATTESTOR_ID}\n"),
    );
    s.gcloud(&[
        "container",
        "binauthz",
        "policy",
        "import",
        path_str(&policy),
    ]);
    let exported = s.gcloud(&["container", "binauthz", "policy", "export"]);
    assert!(
        exported.contains("evaluationMode: REQUIRE_ATTESTATION") && exported.contains("etag:"),
        "{exported}"
    );

    // The KMS-made signature verifies: on the server (validateAttestationOccurrence) …
    let att = &atts[0]["attestation"];
    let v = s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors/{ATTESTOR_ID}:validateAttestationOccurrence"),
        Some(&serde_json::json!({"attestation": att, "occurrenceNote": format!("projects/{p}/notes/{NOTE_ID}"), "occurrenceResourceUri": format!("{container_path}@{d}")}).to_string()),
    );
    assert_eq!(v["result"], "VERIFIED", "{v}");
    let other = digest("something else");
    let v = s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors/{ATTESTOR_ID}:validateAttestationOccurrence"),
        Some(&serde_json::json!({"attestation": att, "occurrenceNote": format!("projects/{p}/notes/{NOTE_ID}"), "occurrenceResourceUri": format!("{container_path}@{other}")}).to_string()),
    );
    assert_eq!(v["result"], "ATTESTATION_NOT_VERIFIABLE", "{v}");

    // … and offline, from what gcloud itself prints.
    let dir = tempfile::tempdir().unwrap();
    let attestor = s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "describe",
        ATTESTOR_ID,
        "--format=json",
    ]);
    std::fs::write(dir.path().join("attestor.json"), attestor).unwrap();
    let listed = s.gcloud(&[
        "container",
        "binauthz",
        "attestations",
        "list",
        &format!("--attestor={ATTESTOR_ID}"),
        "--format=json",
    ]);
    std::fs::create_dir(dir.path().join("atts")).unwrap();
    std::fs::write(dir.path().join("atts/list.json"), listed).unwrap();
    let exported = s.gcloud(&["container", "binauthz", "policy", "export"]);
    std::fs::write(dir.path().join("policy.yaml"), exported).unwrap();
    let eval = |image: &str| {
        Command::new(env!("CARGO_BIN_EXE_admit"))
            .args([
                "evaluate",
                "--policy",
                path_str(&dir.path().join("policy.yaml")),
                "--attestors",
                path_str(&dir.path().join("attestor.json")),
                "--attestations",
                path_str(&dir.path().join("atts")),
                "--image",
                image,
            ])
            .output()
            .unwrap()
    };
    let ok = eval(&format!("{container_path}@{d}"));
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        stderr(&ok)
    );
    let denied = eval(&format!("{container_path}@{other}"));
    assert_eq!(
        denied.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&denied.stdout)
    );
}

support::both_backends!(seed_002_attestation_list_and_delete_occurrence);
/// Seed 002: an attestation created from a payload and a signature file, listed, and its
/// occurrence deleted with the REST call.
fn seed_002_attestation_list_and_delete_occurrence(s: &Server) {
    let p = s.project.clone();
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=qa-note"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"QA"}}}"#),
    );
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "create",
        "qa",
        "--attestation-authority-note=qa-note",
        &format!("--attestation-authority-note-project={p}"),
    ]);
    let key = admit_testkit::OpensslKey::generate("p256");
    let pub_file = s.write("qa.pub", &key.public_pem);
    let added = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestors",
        "public-keys",
        "add",
        "--attestor=qa",
        &format!("--pkix-public-key-file={}", path_str(&pub_file)),
        "--pkix-public-key-algorithm=ecdsa-p256-sha256",
    ]);
    let key_id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(key_id, admit_crypto::pkix_key_id(&key.public_der()));

    let image = format!("gcr.io/{p}/app@{}", digest("app"));
    let payload = s.gcloud(&[
        "container",
        "binauthz",
        "create-signature-payload",
        &format!("--artifact-url={image}"),
    ]);
    let payload_file = s.write("payload.json", &payload);
    let sig = key.sign(admit_testkit::SigMode::Dgst("sha256"), payload.as_bytes());
    let sig_file = s.data.path().join("sig.der");
    std::fs::write(&sig_file, sig).unwrap();
    s.gcloud(&[
        "container",
        "binauthz",
        "attestations",
        "create",
        &format!("--artifact-url={image}"),
        "--attestor=qa",
        &format!("--attestor-project={p}"),
        &format!("--signature-file={}", path_str(&sig_file)),
        &format!("--payload-file={}", path_str(&payload_file)),
        &format!("--public-key-id={key_id}"),
        "--validate",
    ]);
    let listed = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestations",
        "list",
        "--attestor=qa",
        &format!("--artifact-url={image}"),
    ]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    let name = listed[0]["name"].as_str().unwrap().to_owned();
    let empty = s.curl("DELETE", &format!("/v1/{name}"), None);
    assert_eq!(empty, serde_json::json!({}));
    let after = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestations",
        "list",
        "--attestor=qa",
    ]);
    assert_eq!(after.as_array().map(Vec::len), Some(0));
}

support::both_backends!(seed_001_curl_note_and_occurrence);
/// Seed 001: the note created with curl (full body with a name) and an occurrence posted with
/// the v1 REST call; both read back.
fn seed_001_curl_note_and_occurrence(s: &Server) {
    let p = s.project.clone();
    let note = serde_json::json!({
        "name": format!("projects/{p}/notes/seal-of-approval"),
        "shortDescription": "Image Attestation.",
        "longDescription": "Image Attestation.",
        "attestation": {"hint": {"humanReadableName": "Seal of Approval"}}
    });
    let created = s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=seal-of-approval"),
        Some(&note.to_string()),
    );
    assert_eq!(created["shortDescription"], "Image Attestation.");
    let d = digest("alpine 3.9.5");
    let occ = serde_json::json!({
        "resourceUri": format!("https://eu.gcr.io/{p}/alpine@{d}"),
        "noteName": format!("projects/{p}/notes/seal-of-approval"),
        "attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "ABCD", "signature": "c2ln"}]}
    });
    let created = s.curl(
        "POST",
        &format!("/v1/projects/{p}/occurrences"),
        Some(&occ.to_string()),
    );
    assert_eq!(created["kind"], "ATTESTATION");
    let listed = s.curl("GET", &format!("/v1/projects/{p}/occurrences"), None);
    assert_eq!(
        listed["occurrences"][0]["resourceUri"],
        format!("https://eu.gcr.io/{p}/alpine@{d}")
    );
}
