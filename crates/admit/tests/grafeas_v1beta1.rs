//! Issue 13, part 1: Container Analysis / Grafeas `v1beta1` over the same store as `v1`.
//! Seed 001's signing flow verbatim (the note with curl on v1, the `pgpSignedAttestation`
//! occurrence and its list on v1beta1, seed 002's v1beta1 DELETE), enforced by seed 001's Kritis
//! AttestationAuthority and by a Binary Authorization attestor holding the same PGP key; and
//! every v1beta1 method, with records read back losslessly through both versions.

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
use support::{Server, digest, path_str};

const P: &str = "my-proj";
const NOTE_NAME: &str = "seal-of-approval";
const GPG_USER: &str = "joe@example.com";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// `base64 FILE` as seed 001 runs it. The seed's author ran macOS, whose `base64` does not
/// wrap lines; GNU's wraps at 76 columns, which would put raw newlines inside a JSON string
/// (invalid JSON, refused by any strict parser, Google's included), so the test uses `-w0`.
fn base64_file(path: &std::path::Path) -> String {
    let out = Command::new("base64")
        .arg("-w0")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Seed 001's "Configure Kritis to require Attestation" manifests, as `kubectl apply`d.
fn kritis_manifests(key_pub_b64: &str) -> String {
    format!(
        "apiVersion: kritis.grafeas.io/v1beta1
kind: AttestationAuthority
metadata:
  name: {NOTE_NAME}
  namespace: default
spec:
  noteReference: projects/{P}
  publicKeyData: {key_pub_b64}
---
apiVersion: kritis.grafeas.io/v1beta1
kind: GenericAttestationPolicy
metadata:
  name: {NOTE_NAME}-policy
  namespace: default
spec:
  attestationAuthorityNames:
  - {NOTE_NAME}
"
    )
}

fn pod_review(namespace: &str, image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": namespace, "name": "test", "userInfo": {"username": "joe"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test", "namespace": namespace},
                   "spec": {"containers": [{"name": "hello", "image": image,
                            "command": ["/bin/sh", "-c", "while true; do echo 'Hello World!'; date; sleep 1; done"]}]}}}})
}

fn admitted(s: &Server, namespace: &str, image: &str) -> (bool, String) {
    let r = s.review(&pod_review(namespace, image));
    (
        r["response"]["allowed"].as_bool().unwrap(),
        r["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

#[test]
fn seed_001_v1beta1_pgp_attestation_enforced_by_kritis_and_binauthz() {
    let gpg = admit_testkit::Gpg::new();
    gpg.generate(GPG_USER, "rsa2048", "sign");
    let work = tempfile::tempdir().unwrap();
    // gpg --armor --export "${GPG_USER}" > key.pub
    let key_pub = work.path().join("key.pub");
    std::fs::write(&key_pub, gpg.export(GPG_USER)).unwrap();
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(
        policies.path().join("kritis.yaml"),
        kritis_manifests(&base64_file(&key_pub)),
    )
    .unwrap();
    let s = Server::start_webhook(&["--kritis-policy-dir", path_str(policies.path())]);

    // Create Grafeas Note (seed 001 uses v1 for the note).
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
    s.curl("GET", &format!("/v1/projects/{P}/notes/{NOTE_NAME}"), None);

    // Prepare GPG Signature and Key.
    let image_name = "alpine";
    let image_sha = digest("alpine:3.9.5");
    let payload = format!(
        r#"{{
  "critical": {{
      "type": "atomic container signature",
      "image": {{
       "docker-manifest-digest": "{image_sha}"
  }},
      "identity": {{
          "docker-reference": "eu.gcr.io/{P}/{image_name}"
}}}}}}
"#
    );
    let signature_gpg = work.path().join("signature.gpg");
    std::fs::write(
        &signature_gpg,
        gpg.sign(GPG_USER, &["-a", "--sign"], payload.as_bytes()),
    )
    .unwrap();
    let gpg_key_id = gpg.fingerprint(GPG_USER);
    let signature_b64 = base64_file(&signature_gpg);

    // Create Grafeas Occurence, verbatim (the tab before pgpSignedAttestation included).
    let occurrence = format!(
        "{{
  \"resource\": {{
    \"uri\": \"https://eu.gcr.io/{P}/{image_name}@{image_sha}\"
  }},
  \"noteName\": \"projects/{P}/notes/{NOTE_NAME}\",
  \"attestation\": {{
    \"attestation\": {{
    \t\"pgpSignedAttestation\": {{
        \"signature\": \"{signature_b64}\",
        \"contentType\": \"SIMPLE_SIGNING_JSON\",
        \"pgpKeyId\": \"{gpg_key_id}\"
}}}}}}}}
"
    );
    let created = s.curl(
        "POST",
        &format!("/v1beta1/projects/{P}/occurrences"),
        Some(&occurrence),
    );
    let occ_name = created["name"].as_str().unwrap().to_owned();
    assert!(occ_name.starts_with(&format!("projects/{P}/occurrences/")));
    assert_eq!(created["kind"], "ATTESTATION");
    let sent = json!({"signature": signature_b64, "contentType": "SIMPLE_SIGNING_JSON", "pgpKeyId": gpg_key_id});
    assert_eq!(
        created["attestation"]["attestation"]["pgpSignedAttestation"],
        sent
    );

    // Verify the Occurence has been created: the v1beta1 list shows it as it was sent.
    let listed = s.curl("GET", &format!("/v1beta1/projects/{P}/occurrences"), None);
    let occs = listed["occurrences"].as_array().unwrap();
    assert_eq!(occs.len(), 1);
    assert_eq!(
        occs[0]["resource"]["uri"],
        format!("https://eu.gcr.io/{P}/{image_name}@{image_sha}")
    );
    assert_eq!(
        occs[0]["attestation"]["attestation"]["pgpSignedAttestation"],
        sent
    );
    assert!(occs[0]["createTime"].is_string());

    // The same record through v1: one signature by the key's fingerprint over the payload
    // the PGP message carries, and nothing of the server's bookkeeping.
    let v1 = s.curl("GET", &format!("/v1/{occ_name}"), None);
    assert_eq!(
        v1["resourceUri"],
        format!("https://eu.gcr.io/{P}/{image_name}@{image_sha}")
    );
    assert_eq!(
        v1["attestation"]["signatures"][0]["publicKeyId"],
        gpg_key_id.as_str()
    );
    assert_eq!(
        v1["attestation"]["serializedPayload"],
        b64(payload.as_bytes())
    );
    let v1_keys: Vec<&String> = v1.as_object().unwrap().keys().collect();
    assert_eq!(
        v1_keys,
        [
            "attestation",
            "createTime",
            "kind",
            "name",
            "noteName",
            "resourceUri",
            "updateTime"
        ],
        "{v1}"
    );

    // Kritis: the signed image is admitted in `default`, the unsigned one denied.
    let signed = format!("eu.gcr.io/{P}/{image_name}@{image_sha}");
    let unsigned = "gcr.io/google.com/cloudsdktool/cloud-sdk@sha256:1615d48b376b8a03b6beb6fc3efb62346ddb24f9492d8aa5367ab9d1bdd46482";
    let (ok, msg) = admitted(&s, "default", &signed);
    assert!(ok, "{msg}");
    let (ok, msg) = admitted(&s, "default", unsigned);
    assert!(!ok);
    assert!(msg.contains(NOTE_NAME), "{msg}");

    // Binary Authorization: an attestor on the same note holding the same PGP key, required by
    // the project policy, verifies the same occurrence (both enforcers now apply in `default`:
    // admit denies a namespace without Kritis policies, so there is no namespace for one alone).
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "create",
        "seal",
        &format!("--attestation-authority-note={NOTE_NAME}"),
        &format!("--attestation-authority-note-project={P}"),
    ]);
    let added = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestors",
        "public-keys",
        "add",
        "--attestor=seal",
        &format!("--pgp-public-key-file={}", path_str(&key_pub)),
    ]);
    assert_eq!(added["id"], gpg_key_id.as_str());
    let policy = s.write(
        "policy.yaml",
        &format!(
            "defaultAdmissionRule:
  evaluationMode: REQUIRE_ATTESTATION
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
  requireAttestationsBy:
  - projects/{P}/attestors/seal
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
    let (ok, msg) = admitted(&s, "default", &signed);
    assert!(ok, "{msg}");
    let (ok, msg) = admitted(&s, "default", unsigned);
    assert!(!ok);
    assert!(msg.contains("projects/my-proj/attestors/seal"), "{msg}");
    // The attestor's own verdict on the stored occurrence, through the validation API.
    let v1 = s.curl("GET", &format!("/v1/{occ_name}"), None);
    let verdict = s.curl(
        "POST",
        &format!("/v1/projects/{P}/attestors/seal:validateAttestationOccurrence"),
        Some(
            &json!({"attestation": v1["attestation"], "occurrenceNote": v1["noteName"],
                    "occurrenceResourceUri": v1["resourceUri"]})
            .to_string(),
        ),
    );
    assert_eq!(verdict["result"], "VERIFIED", "{verdict}");
    // gcloud lists it as a v1 attestation of the attestor.
    let atts = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestations",
        "list",
        "--attestor=seal",
        &format!("--artifact-url=https://{signed}"),
    ]);
    assert_eq!(atts.as_array().map(Vec::len), Some(1), "{atts}");

    // Seed 002 deletes through v1beta1; both enforcers stop admitting the image.
    assert_eq!(
        s.curl("DELETE", &format!("/v1beta1/{occ_name}"), None),
        json!({})
    );
    let (code, _) = s.call("GET", &format!("/v1/{occ_name}"), None);
    assert_eq!(code, 404);
    let (ok, msg) = admitted(&s, "default", &signed);
    assert!(!ok);
    assert!(msg.contains("projects/my-proj/attestors/seal"), "{msg}");
}

support::both_backends!(v1beta1_methods_read_back_through_both_versions);
/// Every v1beta1 method of `GrafeasV1Beta1`, and records written through one version read
/// through the other.
fn v1beta1_methods_read_back_through_both_versions(s: &Server) {
    let p = s.project.clone();
    let beta = |rest: &str| format!("/v1beta1/projects/{p}/{rest}");
    let v1 = |rest: &str| format!("/v1/projects/{p}/{rest}");

    // Notes: attestationAuthority is v1's attestation.
    let note = json!({"shortDescription": "QA", "attestationAuthority": {"hint": {"humanReadableName": "qa"}}});
    let created = s.curl("POST", &beta("notes?noteId=qa"), Some(&note.to_string()));
    assert_eq!(created["kind"], "ATTESTATION");
    assert_eq!(
        created["attestationAuthority"],
        note["attestationAuthority"]
    );
    let as_v1 = s.curl("GET", &v1("notes/qa"), None);
    assert_eq!(as_v1["attestation"]["hint"]["humanReadableName"], "qa");
    assert!(as_v1.get("attestationAuthority").is_none());
    // A note written through v1 reads through v1beta1.
    s.curl(
        "POST",
        &v1("notes?noteId=base"),
        Some(r#"{"image": {"resourceUrl": "https://gcr.io/p/base", "fingerprint": {"v1Name": "x", "v2Blob": ["a"]}}}"#),
    );
    let base = s.curl("GET", &beta("notes/base"), None);
    assert_eq!(base["baseImage"]["resourceUrl"], "https://gcr.io/p/base");
    assert_eq!(base["kind"], "IMAGE");
    // batchCreate, list with paging, patch with a mask, the build note's signature kept.
    let batch = json!({"notes": {
        "build": {"build": {"builderVersion": "1", "signature": {"keyId": "k1", "signature": "c2ln", "keyType": "PKIX_PEM"}}},
        "cve": {"vulnerability": {"severity": "HIGH", "details": [{"cpeUri": "cpe:/o:debian:debian_linux:9", "package": "libc6",
                "fixedLocation": {"cpeUri": "cpe:/o:debian:debian_linux:9", "package": "libc6", "version": {"name": "2.24", "kind": "NORMAL"}}}]}}}});
    let made = s.curl("POST", &beta("notes:batchCreate"), Some(&batch.to_string()));
    assert_eq!(made["notes"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        s.curl("GET", &beta("notes/build"), None)["build"],
        batch["notes"]["build"]["build"]
    );
    let cve_v1 = s.curl("GET", &v1("notes/cve"), None);
    assert_eq!(
        cve_v1["vulnerability"]["details"][0]["affectedPackage"],
        "libc6"
    );
    assert_eq!(
        cve_v1["vulnerability"]["details"][0]["fixedVersion"]["name"],
        "2.24"
    );
    assert_eq!(
        s.curl("GET", &beta("notes/cve"), None)["vulnerability"],
        batch["notes"]["cve"]["vulnerability"]
    );
    let page1 = s.curl("GET", &beta("notes?pageSize=2"), None);
    assert_eq!(page1["notes"].as_array().map(Vec::len), Some(2));
    let token = page1["nextPageToken"].as_str().unwrap();
    let page2 = s.curl(
        "GET",
        &beta(&format!("notes?pageSize=2&pageToken={token}")),
        None,
    );
    assert_eq!(page2["notes"].as_array().map(Vec::len), Some(2));
    let patched = s.curl(
        "PATCH",
        &beta("notes/qa?updateMask=shortDescription"),
        Some(r#"{"shortDescription": "QA, second edition", "longDescription": "ignored"}"#),
    );
    assert_eq!(patched["shortDescription"], "QA, second edition");
    assert!(patched.get("longDescription").is_none());
    assert_eq!(
        patched["attestationAuthority"],
        note["attestationAuthority"]
    );

    // Occurrences: a generic attestation, a vulnerability, batchCreate.
    let d = digest("app");
    let uri = format!("https://gcr.io/{p}/app@{d}");
    let att = json!({"resource": {"uri": uri, "name": "app", "contentHash": {"type": "SHA256", "value": "AAAA"}},
        "noteName": format!("projects/{p}/notes/qa"), "remediation": "none",
        "attestation": {"attestation": {"genericSignedAttestation": {"contentType": "SIMPLE_SIGNING_JSON",
            "serializedPayload": "e30=", "signatures": [{"publicKeyId": "k", "signature": "c2ln"}]}}}});
    let vuln = json!({"resource": {"uri": uri}, "noteName": format!("projects/{p}/notes/cve"),
        "vulnerability": {"severity": "HIGH", "cvssScore": 7.5, "packageIssue": [{
            "affectedLocation": {"cpeUri": "cpe:/o:debian:debian_linux:9", "package": "libc6", "version": {"name": "2.23", "kind": "NORMAL"}},
            "fixedLocation": {"cpeUri": "cpe:/o:debian:debian_linux:9", "package": "libc6", "version": {"name": "2.24", "kind": "NORMAL"}},
            "severityName": "HIGH"}]}});
    // A bad entry is named by its index and the batch writes nothing.
    let before = s.curl("GET", &beta("occurrences"), None);
    let (code, err) = s.call(
        "POST",
        &beta("occurrences:batchCreate"),
        Some(
            &json!({"occurrences": [att, {"noteName": format!("projects/{p}/notes/qa")}]})
                .to_string(),
        ),
    );
    assert_eq!(code, 400, "{err}");
    assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        err["error"]["message"],
        "occurrences[1]: resource.uri is required"
    );
    assert_eq!(s.curl("GET", &beta("occurrences"), None), before);
    let made = s.curl(
        "POST",
        &beta("occurrences:batchCreate"),
        Some(&json!({"occurrences": [att, vuln]}).to_string()),
    );
    let made = made["occurrences"].as_array().unwrap();
    assert_eq!(made.len(), 2);
    let att_name = made[0]["name"].as_str().unwrap().to_owned();
    let vuln_name = made[1]["name"].as_str().unwrap().to_owned();
    let strip = |mut v: Value| {
        for f in ["name", "kind", "createTime", "updateTime"] {
            v.as_object_mut().unwrap().remove(f);
        }
        v
    };
    // Lossless through v1beta1, and the v1 shape Binary Authorization reads.
    assert_eq!(
        strip(s.curl("GET", &format!("/v1beta1/{att_name}"), None)),
        att
    );
    assert_eq!(
        strip(s.curl("GET", &format!("/v1beta1/{vuln_name}"), None)),
        vuln
    );
    let att_v1 = s.curl("GET", &format!("/v1/{att_name}"), None);
    assert_eq!(att_v1["resourceUri"], uri);
    assert_eq!(att_v1["attestation"]["serializedPayload"], "e30=");
    let vuln_v1 = s.curl("GET", &format!("/v1/{vuln_name}"), None);
    assert_eq!(
        vuln_v1["vulnerability"]["packageIssue"][0]["fixedVersion"]["name"],
        "2.24"
    );
    assert_eq!(vuln_v1["vulnerability"]["fixAvailable"], true);

    // An occurrence written through v1 reads through v1beta1 as a generic attestation.
    let written = s.curl(
        "POST",
        &v1("occurrences"),
        Some(
            &json!({"resourceUri": uri, "noteName": format!("projects/{p}/notes/qa"),
            "attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "k2", "signature": "c2ln"}]}})
            .to_string(),
        ),
    );
    let read = s.curl(
        "GET",
        &format!("/v1beta1/{}", written["name"].as_str().unwrap()),
        None,
    );
    assert_eq!(read["resource"], json!({"uri": uri}));
    assert_eq!(
        read["attestation"]["attestation"]["genericSignedAttestation"],
        json!({"contentType": "SIMPLE_SIGNING_JSON", "serializedPayload": "e30=", "signatures": [{"publicKeyId": "k2", "signature": "c2ln"}]})
    );

    // Filters and paging as v1beta1 clients (Kritis) send them; the note's occurrences.
    let filtered = s.curl(
        "GET",
        &beta(&format!(
            "occurrences?filter={}",
            urlencode(&format!("resourceUrl=\"{uri}\" AND kind=\"ATTESTATION\""))
        )),
        None,
    );
    assert_eq!(filtered["occurrences"].as_array().map(Vec::len), Some(2));
    let paged = s.curl("GET", &beta("occurrences?pageSize=1"), None);
    assert_eq!(paged["occurrences"].as_array().map(Vec::len), Some(1));
    assert!(paged["nextPageToken"].is_string());
    let of_note = s.curl("GET", &beta("notes/qa/occurrences"), None);
    assert_eq!(of_note["occurrences"].as_array().map(Vec::len), Some(2));
    assert!(of_note["occurrences"][0]["resource"]["uri"].is_string());
    let its_note = s.curl("GET", &format!("/v1beta1/{vuln_name}/notes"), None);
    assert_eq!(its_note["name"], format!("projects/{p}/notes/cve"));
    assert!(its_note["vulnerability"]["details"][0]["cpeUri"].is_string());

    // vulnerabilitySummary in v1beta1's words.
    let summary = s.curl("GET", &beta("occurrences:vulnerabilitySummary"), None);
    let counts = summary["counts"].as_array().unwrap();
    assert!(
        counts.iter().any(|c| c["resource"]["uri"] == uri
            && c["severity"] == "HIGH"
            && c["fixableCount"] == "1"
            && c["totalCount"] == "1"),
        "{summary}"
    );

    // Patch through v1beta1 keeps what v1 cannot say; resource and noteName are immutable.
    let patched = s.curl(
        "PATCH",
        &format!("/v1beta1/{att_name}?updateMask=remediation"),
        Some(r#"{"remediation": "re-sign"}"#),
    );
    assert_eq!(patched["remediation"], "re-sign");
    assert_eq!(patched["resource"], att["resource"]);
    assert_eq!(patched["attestation"], att["attestation"]);
    let (code, err) = s.call(
        "PATCH",
        &format!("/v1beta1/{att_name}?updateMask=resource"),
        Some(&json!({"resource": {"uri": format!("https://gcr.io/{p}/other@{d}")}}).to_string()),
    );
    assert_eq!(code, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("immutable"),
        "{err}"
    );
    // A v1 patch of the attestation invalidates nothing it should not: v1beta1 shows the new one.
    s.curl(
        "PATCH",
        &format!("/v1/{att_name}?updateMask=attestation"),
        Some(r#"{"attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "k3", "signature": "c2ln"}]}}"#),
    );
    let after = s.curl("GET", &format!("/v1beta1/{att_name}"), None);
    assert_eq!(
        after["attestation"]["attestation"]["genericSignedAttestation"]["signatures"][0]["publicKeyId"],
        "k3"
    );

    // Bad input names the field; the server's own bookkeeping cannot be written through v1.
    for (path, body, needle) in [
        (
            beta("occurrences"),
            json!({"noteName": format!("projects/{p}/notes/qa"), "attestation": {"attestation": {"pgpSignedAttestation": {"signature": "c2ln", "pgpKeyId": "AB"}}}}),
            "resource.uri is required",
        ),
        (
            beta("occurrences"),
            json!({"resource": {"uri": uri}, "resourceUri": uri, "noteName": format!("projects/{p}/notes/qa"), "build": {}}),
            "unknown field `resourceUri`",
        ),
        (
            beta("occurrences"),
            json!({"resource": {"uri": uri}, "noteName": format!("projects/{p}/notes/qa"),
                   "attestation": {"attestation": {"pgpSignedAttestation": {"signature": "not base64!", "pgpKeyId": "AB"}}}}),
            "pgpSignedAttestation.signature",
        ),
        (
            v1("occurrences"),
            json!({"resourceUri": uri, "noteName": format!("projects/{p}/notes/qa"), "admitV1beta1Only": {},
                   "attestation": {"serializedPayload": "e30="}}),
            "unknown field `admitV1beta1Only`",
        ),
    ] {
        let (code, err) = s.call("POST", &path, Some(&body.to_string()));
        assert_eq!(code, 400, "{body}: {err}");
        assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");
        let msg = err["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    // Failed writes left nothing behind.
    let all = s.curl("GET", &beta("occurrences"), None);
    assert_eq!(all["occurrences"].as_array().map(Vec::len), Some(3));

    // Delete through both versions.
    s.curl("DELETE", &format!("/v1beta1/{vuln_name}"), None);
    s.curl("DELETE", &beta("notes/base"), None);
    assert_eq!(s.call("GET", &format!("/v1/{vuln_name}"), None).0, 404);
    assert_eq!(s.call("GET", &v1("notes/base"), None).0, 404);
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
