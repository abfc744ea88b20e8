//! The wire contract over real HTTP where gcloud does not reach: google.rpc errors naming the
//! field, failed requests writing nothing, Grafeas filters, pages, patches, lossless kinds,
//! summaries, and KMS integrity checks.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use serde_json::{Value, json};
use support::Server;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn assert_error(r: &(u16, Value), code: u16, status: &str, needle: &str) {
    assert_eq!(r.0, code, "{}", r.1);
    assert_eq!(r.1["error"]["code"], code);
    assert_eq!(r.1["error"]["status"], status);
    let m = r.1["error"]["message"].as_str().unwrap_or_default();
    assert!(m.contains(needle), "want `{needle}` in `{m}`");
}

support::both_backends!(bad_requests_are_google_rpc_errors_naming_the_field_and_write_nothing);
fn bad_requests_are_google_rpc_errors_naming_the_field_and_write_nothing(s: &Server) {
    let r = s.call("PUT", "/v1/projects/p1/policy", Some("{not json"));
    assert_error(&r, 400, "INVALID_ARGUMENT", "JSON");
    let r = s.call(
        "PUT",
        "/v1/projects/p1/policy",
        Some(r#"{"defaultAdmissionRule":{"evaluationMode":"SOMETIMES"}}"#),
    );
    assert_error(
        &r,
        400,
        "INVALID_ARGUMENT",
        "defaultAdmissionRule.evaluationMode",
    );
    let r = s.call("PUT", "/v1/projects/p1/policy", Some(r#"{"defaultAdmissionRule":{"evaluationMode":"ALWAYS_ALLOW","enforcementMode":"ENFORCED_BLOCK_AND_AUDIT_LOG"},"bogus":1}"#));
    assert_error(&r, 400, "INVALID_ARGUMENT", "bogus");
    let r = s.call("PUT", "/v1/projects/p1/policy", Some("{}"));
    assert_error(
        &r,
        400,
        "INVALID_ARGUMENT",
        "defaultAdmissionRule: required",
    );
    // Nothing was written: the default policy is still served, without an etag.
    let (code, p) = s.call("GET", "/v1/projects/p1/policy", None);
    assert_eq!(code, 200);
    assert_eq!(p["defaultAdmissionRule"]["evaluationMode"], "ALWAYS_ALLOW");
    assert!(p.get("etag").is_none());

    let r = s.call("POST", "/v1/projects/p1/attestors", Some("{}"));
    assert_error(&r, 400, "INVALID_ARGUMENT", "attestorId");
    let r = s.call(
        "POST",
        "/v1/projects/p1/attestors?attestorId=a",
        Some(r#"{"userOwnedGrafeasNote":{"noteReference":"notes/n"}}"#),
    );
    assert_error(&r, 400, "INVALID_ARGUMENT", "noteReference");
    let r = s.call("POST", "/v1/projects/p1/attestors?attestorId=a", Some(r#"{"userOwnedGrafeasNote":{"noteReference":"projects/p1/notes/n","publicKeys":[{"pkixPublicKey":{"publicKeyPem":"junk","signatureAlgorithm":"ECDSA_P256_SHA256"}}]}}"#));
    assert_error(&r, 400, "INVALID_ARGUMENT", "publicKeys[0].pkixPublicKey");
    assert_error(
        &s.call("GET", "/v1/projects/p1/attestors/a", None),
        404,
        "NOT_FOUND",
        "projects/p1/attestors/a",
    );
    assert_error(
        &s.call("GET", "/v9/projects/p1/policy", None),
        404,
        "NOT_FOUND",
        "/v9/",
    );
}

fn mk_note(s: &Server, project: &str, id: &str) {
    let (c, v) = s.call(
        "POST",
        &format!("/v1/projects/{project}/notes?noteId={id}"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"x"}}}"#),
    );
    assert_eq!(c, 200, "{v}");
}

support::both_backends!(occurrence_filters_pages_and_lossless_kinds);
fn occurrence_filters_pages_and_lossless_kinds(s: &Server) {
    mk_note(s, "p", "att");
    let (c, _) = s.call(
        "POST",
        "/v1/projects/vulnz/notes?noteId=CVE-2024-1",
        Some(r#"{"vulnerability":{"severity":"HIGH","cvssScore":7.5}}"#),
    );
    assert_eq!(c, 200);
    let vuln = json!({
        "resourceUri": format!("https://gcr.io/p/app@{D1}"), "noteName": "projects/vulnz/notes/CVE-2024-1", "kind": "VULNERABILITY",
        "vulnerability": {"severity": "HIGH", "effectiveSeverity": "MEDIUM", "cvssScore": 7.5, "fixAvailable": true,
            "packageIssue": [{"affectedPackage": "openssl", "affectedVersion": {"name": "1.1", "kind": "NORMAL"}, "fixedVersion": {"name": "1.2", "kind": "NORMAL"}, "futureField": {"x": 1}}],
            "cvssv3": {"baseScore": 7.5, "attackVector": "ATTACK_VECTOR_NETWORK"}},
        "remediation": "upgrade"
    });
    let discovery = json!({"resourceUri": format!("https://gcr.io/p/app@{D1}"), "noteName": "projects/p/notes/att", "discovery": {"analysisStatus": "FINISHED_SUCCESS", "continuousAnalysis": "ACTIVE"}});
    let build = json!({"resourceUri": format!("gcr.io/p/app@{D2}"), "noteName": "projects/p/notes/att", "build": {"provenance": {"id": "b1", "builtArtifacts": [{"checksum": "x"}]}, "intotoStatement": {"_type": "https://in-toto.io/Statement/v0.1", "subject": []}}});
    let att = json!({"resourceUri": format!("gcr.io/p/app@{D2}"), "noteName": "projects/p/notes/att", "attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "k", "signature": "c2ln"}]}});
    let (c, created) = s.call(
        "POST",
        "/v1/projects/p/occurrences:batchCreate",
        Some(&json!({"occurrences": [vuln, discovery, build, att]}).to_string()),
    );
    assert_eq!(c, 200, "{created}");
    let created = created["occurrences"].as_array().unwrap().clone();
    assert_eq!(created.len(), 4);
    // Lossless: fields we do not model come back unchanged.
    let (_, got) = s.call(
        "GET",
        &format!("/v1/{}", created[0]["name"].as_str().unwrap()),
        None,
    );
    assert_eq!(
        got["vulnerability"]["packageIssue"][0]["futureField"],
        json!({"x": 1})
    );
    assert_eq!(
        got["vulnerability"]["cvssv3"]["attackVector"],
        "ATTACK_VECTOR_NETWORK"
    );
    assert_eq!(got["remediation"], "upgrade");
    let (_, b) = s.call(
        "GET",
        &format!("/v1/{}", created[2]["name"].as_str().unwrap()),
        None,
    );
    assert_eq!(
        b["build"]["intotoStatement"]["_type"],
        "https://in-toto.io/Statement/v0.1"
    );
    assert_eq!(b["kind"], "BUILD");

    let list = |filter: &str| -> Vec<String> {
        let f = filter
            .replace(' ', "%20")
            .replace('"', "%22")
            .replace('(', "%28")
            .replace(')', "%29")
            .replace(',', "%2C");
        let (c, v) = s.call(
            "GET",
            &format!("/v1/projects/p/occurrences?filter={f}&pageSize=100"),
            None,
        );
        assert_eq!(c, 200, "{v}");
        v["occurrences"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|o| o["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        list(&format!("has_suffix(resourceUrl, \"{D1}\")")),
        ["VULNERABILITY", "DISCOVERY"]
    );
    assert_eq!(
        list(&format!(
            "has_suffix(resourceUrl, \"{D2}\") AND kind = \"ATTESTATION\""
        )),
        ["ATTESTATION"]
    );
    assert_eq!(
        list("noteProjectId = \"vulnz\" OR (kind = \"BUILD\")"),
        ["VULNERABILITY", "BUILD"]
    );
    assert_eq!(list("NOT noteId = \"att\""), ["VULNERABILITY"]);
    let (c, v) = s.call(
        "GET",
        "/v1/projects/p/occurrences?filter=severity%20%3D%20%22HIGH%22",
        None,
    );
    assert_error(
        &(c, v),
        400,
        "INVALID_ARGUMENT",
        "unsupported field `severity`",
    );

    // Stable pages of one.
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let (_, v) = s.call(
            "GET",
            &format!("/v1/projects/p/occurrences?pageSize=1&pageToken={token}"),
            None,
        );
        seen.push(v["occurrences"][0]["name"].as_str().unwrap().to_owned());
        match v["nextPageToken"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        created
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    );

    let (_, by_note) = s.call("GET", "/v1/projects/p/notes/att/occurrences", None);
    assert_eq!(by_note["occurrences"].as_array().map(Vec::len), Some(3));
    let (_, note) = s.call(
        "GET",
        &format!("/v1/{}/notes", created[3]["name"].as_str().unwrap()),
        None,
    );
    assert_eq!(note["name"], "projects/p/notes/att");

    let (_, summary) = s.call(
        "GET",
        "/v1/projects/p/occurrences:vulnerabilitySummary",
        None,
    );
    let counts = summary["counts"].as_array().unwrap();
    assert!(
        counts.iter().any(|c| c["severity"] == "MEDIUM"
            && c["fixableCount"] == "1"
            && c["totalCount"] == "1"),
        "{summary}"
    );
    assert!(
        counts
            .iter()
            .any(|c| c.get("severity").is_none() && c["totalCount"] == "1"),
        "{summary}"
    );

    // PATCH with an update mask touches only the masked field.
    let name = created[3]["name"].as_str().unwrap();
    let (c, patched) = s.call(
        "PATCH",
        &format!("/v1/{name}?updateMask=remediation"),
        Some(r#"{"remediation":"rotate keys","resourceUri":"ignored"}"#),
    );
    assert_eq!(c, 200, "{patched}");
    assert_eq!(patched["remediation"], "rotate keys");
    assert_eq!(patched["resourceUri"], format!("gcr.io/p/app@{D2}"));
    assert_error(
        &s.call("PATCH", &format!("/v1/{name}?updateMask=name"), Some("{}")),
        400,
        "INVALID_ARGUMENT",
        "cannot be updated",
    );

    // A batch with one bad member writes nothing.
    let bad = json!({"occurrences": [{"resourceUri": "gcr.io/x", "noteName": "projects/p/notes/att", "attestation": {"serializedPayload": "e30="}}, {"resourceUri": "gcr.io/x", "noteName": "projects/p/notes/missing", "attestation": {}}]});
    assert_error(
        &s.call(
            "POST",
            "/v1/projects/p/occurrences:batchCreate",
            Some(&bad.to_string()),
        ),
        404,
        "NOT_FOUND",
        "projects/p/notes/missing",
    );
    let (_, all) = s.call("GET", "/v1/projects/p/occurrences", None);
    assert_eq!(all["occurrences"].as_array().map(Vec::len), Some(4));
}

support::both_backends!(kms_rejects_corrupted_requests_and_reports_checksums);
fn kms_rejects_corrupted_requests_and_reports_checksums(s: &Server) {
    let ring = "projects/p/locations/global/keyRings/r";
    assert_eq!(
        s.call(
            "POST",
            "/v1/projects/p/locations/global/keyRings?keyRingId=r",
            Some("{}")
        )
        .0,
        200
    );
    let (c, k) = s.call("POST", &format!("/v1/{ring}/cryptoKeys?cryptoKeyId=k"), Some(r#"{"purpose":"ASYMMETRIC_SIGN","versionTemplate":{"algorithm":"EC_SIGN_P256_SHA256","protectionLevel":"SOFTWARE"}}"#));
    assert_eq!(c, 200, "{k}");
    let v = format!("{ring}/cryptoKeys/k/cryptoKeyVersions/1");
    let (_, pk) = s.call("GET", &format!("/v1/{v}/publicKey"), None);
    let pem = pk["pem"].as_str().unwrap();
    assert_eq!(
        pk["pemCrc32c"],
        admit_crypto::crc32c(pem.as_bytes()).to_string()
    );
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
    let digest = admit_crypto::sha256(b"data");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE.encode(digest);
    let good_crc = admit_crypto::crc32c(&digest);
    let (c, r) = s.call(
        "POST",
        &format!("/v1/{v}:asymmetricSign"),
        Some(&json!({"digest": {"sha256": b64}, "digestCrc32c": good_crc.to_string()}).to_string()),
    );
    assert_eq!(c, 200, "{r}");
    assert_eq!(r["verifiedDigestCrc32c"], true);
    let sig = base64::engine::general_purpose::STANDARD
        .decode(r["signature"].as_str().unwrap())
        .unwrap();
    assert_eq!(r["signatureCrc32c"], admit_crypto::crc32c(&sig).to_string());
    let r = s.call(
        "POST",
        &format!("/v1/{v}:asymmetricSign"),
        Some(
            &json!({"digest": {"sha256": b64}, "digestCrc32c": (good_crc ^ 1).to_string()})
                .to_string(),
        ),
    );
    assert_error(&r, 400, "INVALID_ARGUMENT", "corrupted");
    let r = s.call("POST", &format!("/v1/{ring}/cryptoKeys?cryptoKeyId=sym"), Some(r#"{"purpose":"ENCRYPT_DECRYPT","versionTemplate":{"algorithm":"GOOGLE_SYMMETRIC_ENCRYPTION"}}"#));
    assert_error(&r, 400, "INVALID_ARGUMENT", "ENCRYPT_DECRYPT");
    // No API returns private key material.
    let (_, ver) = s.call("GET", &format!("/v1/{v}"), None);
    assert_eq!(ver["state"], "ENABLED");
    assert!(
        !ver.to_string().contains("PRIVATE") && ver.get("admitPublicKeyPem").is_none(),
        "{ver}"
    );
    let (_, destroyed) = s.call("POST", &format!("/v1/{v}:destroy"), Some("{}"));
    assert_eq!(destroyed["state"], "DESTROY_SCHEDULED");
    let r = s.call(
        "POST",
        &format!("/v1/{v}:asymmetricSign"),
        Some(&json!({"digest": {"sha256": b64}}).to_string()),
    );
    assert_error(&r, 400, "FAILED_PRECONDITION", "not enabled");
}

support::both_backends!(unserved_methods_and_the_attestors_delegation_email);
/// A served path with a method it does not serve answers a google.rpc.Status (404, as Google),
/// never an empty 405; an attestor's `delegationServiceAccountEmail` is the service agent that
/// admission uses to read its note (`service-NUMBER@gcp-sa-binaryauthorization…`, NUMBER the
/// project number gcloud's `projects describe` shows).
fn unserved_methods_and_the_attestors_delegation_email(s: &Server) {
    let p = s.project.clone();
    for (method, path) in [
        ("DELETE", format!("/v1/projects/{p}/policy")),
        ("PATCH", format!("/v1/projects/{p}/attestors")),
        ("PUT", format!("/v1/projects/{p}/notes")),
    ] {
        let r = s.call(method, &path, Some("{}"));
        assert_error(
            &r,
            404,
            "NOT_FOUND",
            &format!("method {method} is not served"),
        );
    }
    mk_note(s, &p, "n");
    let created = s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=a"),
        Some(
            &json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{p}/notes/n")}})
                .to_string(),
        ),
    );
    let number = s.gcloud(&["projects", "describe", &p, "--format=value(projectNumber)"]);
    assert_eq!(
        created["userOwnedGrafeasNote"]["delegationServiceAccountEmail"],
        format!(
            "service-{}@gcp-sa-binaryauthorization.iam.gserviceaccount.com",
            number.trim()
        )
    );
}

support::both_backends!(concurrent_updates_of_one_occurrence_lose_nothing);
/// Two clients PATCH different fields of one occurrence at once: each update is a
/// read-modify-write, so without a precondition one could overwrite the other's field with
/// what it read. Every update must survive.
fn concurrent_updates_of_one_occurrence_lose_nothing(s: &Server) {
    mk_note(s, "race", "CVE-2024-9");
    let created = s.curl(
        "POST",
        "/v1/projects/race/occurrences",
        Some(
            &json!({"resourceUri": format!("https://gcr.io/p/app@{D1}"), "noteName": "projects/race/notes/CVE-2024-9",
                "vulnerability": {"severity": "LOW", "cvssScore": 0.0}, "remediation": "none yet"})
            .to_string(),
        ),
    );
    let name = created["name"].as_str().unwrap().to_owned();
    const ROUNDS: u32 = 25;
    std::thread::scope(|t| {
        let name = &name;
        t.spawn(move || {
            for i in 0..ROUNDS {
                let (c, v) = s.call(
                    "PATCH",
                    &format!("/v1/{name}?updateMask=remediation"),
                    Some(&json!({"remediation": format!("step {i}")}).to_string()),
                );
                assert_eq!(c, 200, "{v}");
            }
        });
        t.spawn(move || {
            for i in 0..ROUNDS {
                let (c, v) = s.call(
                    "PATCH",
                    &format!("/v1/{name}?updateMask=vulnerability"),
                    Some(
                        &json!({"vulnerability": {"severity": "HIGH", "cvssScore": f64::from(i)}})
                            .to_string(),
                    ),
                );
                assert_eq!(c, 200, "{v}");
            }
        });
    });
    let last = s.curl("GET", &format!("/v1/{name}"), None);
    assert_eq!(
        last["remediation"],
        format!("step {}", ROUNDS - 1),
        "{last}"
    );
    assert_eq!(
        last["vulnerability"]["cvssScore"],
        f64::from(ROUNDS - 1),
        "{last}"
    );
}
