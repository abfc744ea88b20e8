//! Issue 12, one test per finding, through the HTTP API a user (or an attacker) would hit:
//! requests that used to crash the process, fool an access check or outgrow the server.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::Server;

const OWNER: &str = "owner-token-0123456789";

fn healthy(s: &Server) {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "5"])
        .arg(format!("{}/healthz", s.url))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the server must still answer /healthz: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_error(r: &(u16, Value), code: u16, status: &str, needle: &str) {
    assert_eq!(r.0, code, "{}", r.1);
    assert_eq!(r.1["error"]["status"], status, "{}", r.1);
    let m = r.1["error"]["message"].as_str().unwrap_or_default();
    assert!(m.contains(needle), "want `{needle}` in `{m}`");
}

/// A server with access control on: `OWNER` is `user:owner@example.com`, owner of everything.
fn with_owner() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{OWNER} user:owner@example.com\n")).unwrap();
    let s = Server::start_args(&[
        "--token-file",
        tokens.to_str().unwrap(),
        "--owner",
        "user:owner@example.com",
    ]);
    (s, dir)
}

#[test]
fn deeply_nested_filters_are_refused_and_the_server_lives_on() {
    let s = Server::start();
    // 20,000 `(` used to overflow the parser's stack and abort the process.
    let r = s.call(
        "GET",
        &format!("/v1/projects/p/occurrences?filter={}", "(".repeat(20_000)),
        None,
    );
    assert_error(&r, 400, "INVALID_ARGUMENT", "bytes long");
    healthy(&s);
    // Within the length bound, nesting and the number of terms are bounded too.
    for (filter, why) in [
        (
            format!("{}kind=%22A%22{}", "(".repeat(1000), ")".repeat(1000)),
            "nesting",
        ),
        (format!("{}kind=%22A%22", "NOT%20".repeat(500)), "nesting"),
        (format!("{}kind=%22A%22", "-".repeat(2000)), "nesting"),
        (vec!["kind=%22A%22"; 200].join("%20AND%20"), "comparisons"),
    ] {
        let r = s.call(
            "GET",
            &format!("/v1/projects/p/occurrences?filter={filter}"),
            None,
        );
        assert_error(&r, 400, "INVALID_ARGUMENT", why);
        healthy(&s);
    }
    // The same filters through a note's occurrences.
    s.curl(
        "POST",
        "/v1/projects/p/notes?noteId=n",
        Some(r#"{"attestation":{"hint":{"humanReadableName":"n"}}}"#),
    );
    let r = s.call(
        "GET",
        &format!(
            "/v1/projects/p/notes/n/occurrences?filter={}",
            "(".repeat(3000)
        ),
        None,
    );
    assert_error(&r, 400, "INVALID_ARGUMENT", "nesting");
    healthy(&s);
}

#[test]
fn bodies_of_the_wrong_json_type_are_invalid_argument_on_every_write() {
    let s = Server::start();
    s.curl(
        "POST",
        "/v1/projects/p/notes?noteId=n",
        Some(r#"{"attestation":{"hint":{"humanReadableName":"n"}}}"#),
    );
    let writes = [
        ("POST", "/v1/projects/p/platforms/gke/policies?policyId=x"),
        ("PUT", "/v1/projects/p/platforms/gke/policies/x"),
        ("POST", "/v1/projects/p/platforms/gke/policies/x:evaluate"),
        ("PUT", "/v1/projects/p/policy"),
        ("POST", "/v1/projects/p/attestors?attestorId=a"),
        ("PUT", "/v1/projects/p/attestors/a"),
        ("PUT", "/v1alpha2/projects/p/continuousValidationConfig"),
        ("POST", "/v1/projects/p/policy:setIamPolicy"),
        ("POST", "/v1/projects/p/notes?noteId=m"),
        ("PATCH", "/v1/projects/p/notes/n"),
        ("POST", "/v1/projects/p/notes:batchCreate"),
        ("POST", "/v1/projects/p/notes/n:setIamPolicy"),
        ("POST", "/v1/projects/p/occurrences"),
        ("POST", "/v1/projects/p/occurrences:batchCreate"),
        ("POST", "/v1/projects/p:setIamPolicy"),
        (
            "POST",
            "/v1/projects/p/locations/global/keyRings?keyRingId=r",
        ),
    ];
    for (method, path) in writes {
        for (body, kind) in [
            ("[]", "an array"),
            ("1", "a number"),
            ("\"x\"", "a string"),
            ("true", "a boolean"),
        ] {
            let r = s.call(method, path, Some(body));
            assert_eq!(r.0, 400, "{method} {path} {body}: {}", r.1);
            assert_eq!(r.1["error"]["status"], "INVALID_ARGUMENT");
            let m = r.1["error"]["message"].as_str().unwrap_or_default();
            // Either the object check or the typed decoder names what it expected.
            assert!(
                m.contains(kind) || m.contains("expected") || m.contains("object"),
                "{method} {path} {body}: {m}"
            );
        }
    }
    healthy(&s);
    // Nothing was written by any of them.
    let (_, l) = s.call("GET", "/v1/projects/p/platforms/gke/policies", None);
    assert!(
        l["platformPolicies"].as_array().is_none_or(Vec::is_empty),
        "{l}"
    );
}

#[test]
fn oversized_bodies_are_refused_before_they_are_read() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let filler = "x".repeat(admit_api::MAX_REQUEST_BODY + 1);
    std::fs::write(&big, format!("{{\"x\":\"{filler}\"}}")).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", big.display()))
        .arg(format!("{}/v1/projects/p/occurrences", s.url))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413");
    healthy(&s);
}

#[test]
fn an_occurrence_cannot_be_moved_to_another_note_or_resource() {
    let s = Server::start();
    for (p, n) in [("a", "mine"), ("b", "theirs")] {
        s.curl(
            "POST",
            &format!("/v1/projects/{p}/notes?noteId={n}"),
            Some(r#"{"attestation":{"hint":{"humanReadableName":"n"}}}"#),
        );
    }
    let occ = s.curl(
        "POST",
        "/v1/projects/a/occurrences",
        Some(
            &json!({"resourceUri": "https://r.example/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                     "noteName": "projects/a/notes/mine", "remediation": "none",
                     "attestation": {"serializedPayload": "e30=", "signatures": []}})
            .to_string(),
        ),
    );
    let name = occ["name"].as_str().unwrap();
    for (mask, body, field) in [
        (
            "",
            json!({"noteName": "projects/b/notes/theirs"}),
            "noteName",
        ),
        (
            "?updateMask=noteName",
            json!({"noteName": "projects/b/notes/theirs"}),
            "noteName",
        ),
        (
            "?updateMask=note_name",
            json!({"note_name": "projects/b/notes/theirs"}),
            "noteName",
        ),
        (
            "?updateMask=resourceUri",
            json!({"resourceUri": "https://r.example/other@sha256:2222222222222222222222222222222222222222222222222222222222222222"}),
            "resourceUri",
        ),
    ] {
        let r = s.call(
            "PATCH",
            &format!("/v1/{name}{mask}"),
            Some(&body.to_string()),
        );
        assert_error(
            &r,
            400,
            "INVALID_ARGUMENT",
            &format!("{field} is immutable"),
        );
    }
    // The occurrence still belongs to its own note; other fields still patch.
    let (_, note) = s.call("GET", &format!("/v1/{name}/notes"), None);
    assert_eq!(note["name"], "projects/a/notes/mine");
    let patched = s.curl(
        "PATCH",
        &format!("/v1/{name}?updateMask=remediation"),
        Some(r#"{"remediation":"upgrade","noteName":"projects/a/notes/mine"}"#),
    );
    assert_eq!(patched["remediation"], "upgrade");
    assert_eq!(patched["noteName"], "projects/a/notes/mine");
}

#[test]
fn concurrent_first_grants_cannot_both_win() {
    let s = Server::start();
    s.curl(
        "POST",
        "/v1/projects/p/notes?noteId=n",
        Some(r#"{"attestation":{"hint":{"humanReadableName":"n"}}}"#),
    );
    // Sixteen callers each read "no policy" (etag ACAB) and grant a different member.
    let results: Vec<(u16, Value)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let s = &s;
                sc.spawn(move || {
                    let body = json!({"policy": {"etag": "ACAB", "bindings": [
                        {"role": "roles/containeranalysis.notes.occurrences.viewer",
                         "members": [format!("user:u{i}@example.com")]}]}});
                    s.call(
                        "POST",
                        "/v1/projects/p/notes/n:setIamPolicy",
                        Some(&body.to_string()),
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(c, _)| *c == 200)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (c, v) in results.iter().filter(|(c, _)| *c != 200) {
        assert_eq!(*c, 409, "{v}");
        assert_eq!(v["error"]["status"], "ABORTED");
    }
    // What is stored is exactly what the one winner was told.
    let (_, stored) = s.call("POST", "/v1/projects/p/notes/n:getIamPolicy", Some("{}"));
    assert_eq!(stored["bindings"], winners[0]["bindings"]);
    assert_eq!(stored["etag"], winners[0]["etag"]);
}

#[test]
fn a_recreated_resource_does_not_inherit_old_grants() {
    let s = Server::start();
    let grant = json!({"policy": {"bindings": [
        {"role": "roles/viewer", "members": ["user:mallory@example.com"]}]}})
    .to_string();
    let note_body = r#"{"attestation":{"hint":{"humanReadableName":"n"}}}"#;
    s.curl("POST", "/v1/projects/p/notes?noteId=n", Some(note_body));
    let attestor =
        json!({"userOwnedGrafeasNote": {"noteReference": "projects/p/notes/n"}}).to_string();
    let occ = json!({"resourceUri": "https://r.example/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                     "noteName": "projects/p/notes/n",
                     "attestation": {"serializedPayload": "e30=", "signatures": []}})
    .to_string();
    s.curl(
        "POST",
        "/v1/projects/p/attestors?attestorId=a",
        Some(&attestor),
    );
    let occ_name = s.curl("POST", "/v1/projects/p/occurrences", Some(&occ))["name"]
        .as_str()
        .unwrap()
        .to_owned();
    for resource in ["projects/p/attestors/a", &occ_name, "projects/p/notes/n"] {
        s.curl(
            "POST",
            &format!("/v1/{resource}:setIamPolicy"),
            Some(&grant),
        );
        let (_, p) = s.call("POST", &format!("/v1/{resource}:getIamPolicy"), Some("{}"));
        assert_eq!(p["bindings"][0]["members"][0], "user:mallory@example.com");
        s.curl("DELETE", &format!("/v1/{resource}"), None);
    }
    // Recreated under the same names: no grants.
    s.curl("POST", "/v1/projects/p/notes?noteId=n", Some(note_body));
    s.curl(
        "POST",
        "/v1/projects/p/attestors?attestorId=a",
        Some(&attestor),
    );
    for resource in ["projects/p/attestors/a", "projects/p/notes/n"] {
        let (code, p) = s.call("POST", &format!("/v1/{resource}:getIamPolicy"), Some("{}"));
        assert_eq!(code, 200, "{p}");
        assert!(p.get("bindings").is_none(), "{resource} inherited {p}");
        assert_eq!(p["etag"], "ACAB");
    }
}

#[test]
fn access_control_and_routing_read_a_path_the_same_way() {
    let (s, _dir) = with_owner();
    let policy = r#"{"defaultAdmissionRule":{"evaluationMode":"ALWAYS_DENY","enforcementMode":"ENFORCED_BLOCK_AND_AUDIT_LOG"}}"#;
    // `%61` is `a`: the change lands on project `a` and is audited as project `a`.
    let r = s.call_as(Some(OWNER), "PUT", "/v1/projects/%61/policy", Some(policy));
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["name"], "projects/a/policy");
    let (_, p) = s.call_as(Some(OWNER), "GET", "/v1/projects/a/policy", None);
    assert_eq!(p["defaultAdmissionRule"]["evaluationMode"], "ALWAYS_DENY");
    let (_, log) = s.call_as(
        Some(OWNER),
        "GET",
        "/admit/v1/projects/a/auditRecords?filter=verdict%3DADMIN_CHANGE",
        None,
    );
    let names: Vec<&str> = log["auditRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["projects/a/policy"], "{log}");
    let (_, log) = s.call_as(
        Some(OWNER),
        "GET",
        "/admit/v1/projects/%2561/auditRecords",
        None,
    );
    assert_eq!(log["error"]["status"], "INVALID_ARGUMENT", "{log}");
    // What no resource name can hold is refused before access control or routing.
    for path in [
        "/v1/projects/a%2Fb/policy",
        "/v1/projects/%2E%2E/policy",
        "/v1/projects/a%00/policy",
        "/v1/projects/a%20b/policy",
        "/v1/projects//policy",
    ] {
        let r = s.call_as(Some(OWNER), "PUT", path, Some(policy));
        assert_eq!(r.0, 400, "{path}: {}", r.1);
        assert_eq!(r.1["error"]["status"], "INVALID_ARGUMENT", "{path}");
    }
    healthy(&s);
}

#[test]
fn platform_policy_evaluation_reads_other_projects_only_with_seed_000s_grants() {
    let (s, _dir) = with_owner();
    let image = format!("us-docker.pkg.dev/dep/prod/web@{}", support::digest("web"));
    // Project `secret` holds a critical vulnerability and an attestation for the image.
    s.call_as(
        Some(OWNER),
        "POST",
        "/v1/projects/secret/notes?noteId=CVE-2099-0001",
        Some(r#"{"vulnerability":{"severity":"CRITICAL"}}"#),
    );
    let (code, v) = s.call_as(
        Some(OWNER),
        "POST",
        "/v1/projects/secret/occurrences",
        Some(&json!({"resourceUri": format!("https://{image}"), "noteName": "projects/secret/notes/CVE-2099-0001",
                     "vulnerability": {"severity": "CRITICAL", "effectiveSeverity": "CRITICAL", "fixAvailable": true}}).to_string()),
    );
    assert_eq!(code, 200, "{v}");
    let key = admit_testkit::OpensslKey::generate("p256");
    let keys = json!([{"signatureAlgorithm": "ECDSA_P256_SHA256", "publicKeyPem": key.public_pem}]);
    let policy = json!({"gkePolicy": {"checkSets": [{"displayName": "all", "checks": [
        {"displayName": "scanned", "vulnerabilityCheck": {"maximumFixableSeverity": "LOW", "maximumUnfixableSeverity": "LOW",
                                                          "containerAnalysisVulnerabilityProjects": ["projects/secret"]}},
        {"displayName": "signed", "simpleSigningAttestationCheck": {"attestationAuthenticators": [{"displayName": "x", "pkixPublicKeySet": {"pkixPublicKeys": keys}}],
                                                                   "containerAnalysisAttestationProjects": ["projects/secret"]}}]}]}});
    let (code, v) = s.call_as(
        Some(OWNER),
        "POST",
        "/v1/projects/dep/platforms/gke/policies?policyId=gate",
        Some(&policy.to_string()),
    );
    assert_eq!(code, 200, "{v}");
    let resource = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"},
                          "spec": {"containers": [{"name": "web", "image": image}]}});
    let evaluate = || {
        let (code, v) = s.call_as(
            Some(OWNER),
            "POST",
            "/v1/projects/dep/platforms/gke/policies/gate:evaluate",
            Some(&json!({"resource": resource}).to_string()),
        );
        assert_eq!(code, 200, "{v}");
        v["results"][0]["imageResults"][0]["checkSetResult"]["checkResults"]["results"]
            .as_array()
            .unwrap()
            .clone()
    };
    // Without the grant both checks are errors naming it, and nothing of `secret` leaks.
    let results = evaluate();
    for r in &results {
        assert_eq!(r["evaluationResult"]["verdict"], "ERROR", "{r}");
        let why = r["explanation"].as_str().unwrap();
        assert!(
            why.contains("roles/containeranalysis.occurrences.viewer"),
            "{why}"
        );
        assert!(why.contains("secret"), "{why}");
        assert!(!why.contains("CVE-2099-0001"), "{why}");
    }
    // With it (seed 000: the deployer project's service agent reads the other project), the
    // vulnerability is reported.
    let agent = format!(
        "serviceAccount:service-{}@gcp-sa-binaryauthorization.iam.gserviceaccount.com",
        admit_service::project_number("dep")
    );
    let grant = json!({"policy": {"bindings": [{"role": "roles/containeranalysis.occurrences.viewer", "members": [agent]}]}});
    let (code, v) = s.call_as(
        Some(OWNER),
        "POST",
        "/v1/projects/secret:setIamPolicy",
        Some(&grant.to_string()),
    );
    assert_eq!(code, 200, "{v}");
    let results = evaluate();
    assert_eq!(
        results[0]["evaluationResult"]["verdict"], "NON_CONFORMANT",
        "{results:?}"
    );
    assert!(
        results[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("CVE-2099-0001")
    );
    assert_eq!(results[1]["evaluationResult"]["verdict"], "NON_CONFORMANT");
}

#[test]
fn key_material_failures_are_internal_and_destroyed_versions_lose_their_material_when_destroyed() {
    let s = Server::start();
    let ring = "projects/p/locations/global/keyRings/r";
    s.curl(
        "POST",
        "/v1/projects/p/locations/global/keyRings?keyRingId=r",
        Some("{}"),
    );
    for k in ["a", "b"] {
        s.curl(
            "POST",
            &format!("/v1/{ring}/cryptoKeys?cryptoKeyId={k}"),
            Some(r#"{"purpose":"ASYMMETRIC_SIGN","versionTemplate":{"algorithm":"EC_SIGN_P256_SHA256"}}"#),
        );
    }
    let sign = |k: &str| {
        s.call(
            "POST",
            &format!("/v1/{ring}/cryptoKeys/{k}/cryptoKeyVersions/1:asymmetricSign"),
            Some(r#"{"digest":{"sha256":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}}"#),
        )
    };
    assert_eq!(sign("a").0, 200);
    // Wrapped material that no longer unwraps (tampered here; a wrong master key is the same):
    // INTERNAL with a generic message, nothing about keys or why.
    let va = format!("{ring}/cryptoKeys/a/cryptoKeyVersions/1");
    s.sqlite3(&format!(
        "UPDATE resources SET secret = zeroblob(64) WHERE name = '{va}'"
    ));
    let r = sign("a");
    assert_eq!(r.0, 500, "{}", r.1);
    assert_eq!(r.1["error"]["status"], "INTERNAL");
    assert_eq!(r.1["error"]["message"], "internal error");
    // Destroying a version stops it signing at once; its wrapped private key is kept while
    // it can be restored (Cloud KMS' schedule) and erased, in the write that makes it
    // DESTROYED, as soon as its destroyTime has passed (moved into the past here).
    let vb = format!("{ring}/cryptoKeys/b/cryptoKeyVersions/1");
    let size = |v: &str| {
        s.sqlite3(&format!(
            "SELECT coalesce(length(secret), 0) FROM resources WHERE name = '{v}'"
        ))
    };
    assert_ne!(size(&vb), "0");
    let destroyed = s.curl("POST", &format!("/v1/{vb}:destroy"), Some("{}"));
    assert_eq!(destroyed["state"], "DESTROY_SCHEDULED");
    assert_eq!(sign("b").0, 400);
    s.sqlite3(&format!(
        "UPDATE resources SET body = json_set(body, '$.destroyTime', '2020-01-01T00:00:00.000000000Z') WHERE name = '{vb}'"
    ));
    let after = s.curl("GET", &format!("/v1/{vb}"), None);
    assert_eq!(after["state"], "DESTROYED");
    assert_eq!(after["destroyEventTime"], "2020-01-01T00:00:00.000000000Z");
    assert_eq!(size(&vb), "0");
    assert_eq!(sign("b").0, 400);
    let (code, _) = s.call("POST", &format!("/v1/{vb}:restore"), Some("{}"));
    assert_eq!(code, 400);
    healthy(&s);
}

#[test]
fn batches_are_bounded_and_admission_fails_closed_past_its_read_bound() {
    let s = Server::start_webhook(&[]);
    let p = &s.project;
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let key = admit_testkit::OpensslKey::generate("p256");
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{p}/notes/ci"),
        "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=ci"),
        Some(&attestor.to_string()),
    );
    let policy = json!({"defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION",
        "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG", "requireAttestationsBy": [format!("projects/{p}/attestors/ci")]}});
    s.curl(
        "PUT",
        &format!("/v1/projects/{p}/policy"),
        Some(&policy.to_string()),
    );
    let image = format!("us-docker.pkg.dev/{p}/prod/app@{}", support::digest("app"));
    let junk = |n: usize| {
        let occ = json!({"resourceUri": image, "noteName": format!("projects/{p}/notes/ci"),
                         "attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "x", "signature": "AAAA"}]}});
        json!({"occurrences": vec![occ; n]}).to_string()
    };
    let batch = format!("/v1/projects/{p}/occurrences:batchCreate");
    let r = s.call("POST", &batch, Some(&junk(admit_service::MAX_BATCH + 1)));
    assert_error(&r, 400, "INVALID_ARGUMENT", "at most 1000");
    let notes: serde_json::Map<String, Value> = (0..=admit_service::MAX_BATCH)
        .map(|i| (format!("n{i}"), json!({"attestation": {}})))
        .collect();
    let r = s.call(
        "POST",
        &format!("/v1/projects/{p}/notes:batchCreate"),
        Some(&json!({"notes": notes}).to_string()),
    );
    assert_error(&r, 400, "INVALID_ARGUMENT", "at most 1000");
    // More junk attestations under one image than admission will read: denied, saying why.
    let batches = admit_service::MAX_OCCURRENCES_PER_IMAGE / admit_service::MAX_BATCH + 1;
    for _ in 0..batches {
        s.curl("POST", &batch, Some(&junk(admit_service::MAX_BATCH)));
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"},
                     "spec": {"containers": [{"name": "web", "image": image}]}});
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "name": "web", "namespace": "prod",
        "operation": "CREATE", "userInfo": {"username": "alice"}, "object": pod}});
    let resp = s.review(&review);
    assert_eq!(resp["response"]["allowed"], false, "{resp}");
    let m = resp["response"]["status"]["message"].as_str().unwrap();
    assert!(m.contains("refusing to verify them all"), "{m}");
    healthy(&s);
}

#[test]
fn a_note_batch_that_fails_writes_nothing() {
    let s = Server::start();
    let note = r#"{"attestation":{"hint":{"humanReadableName":"n"}}}"#;
    s.curl("POST", "/v1/projects/p/notes?noteId=taken", Some(note));
    let batch = json!({"notes": {"fresh-1": {"attestation": {}}, "taken": {"attestation": {}}, "fresh-2": {"attestation": {}}}});
    let r = s.call(
        "POST",
        "/v1/projects/p/notes:batchCreate",
        Some(&batch.to_string()),
    );
    assert_error(&r, 409, "ALREADY_EXISTS", "taken");
    let bad = json!({"notes": {"fresh-1": {"attestation": {}}, "fresh-2": {"nope": 1}}});
    let r = s.call(
        "POST",
        "/v1/projects/p/notes:batchCreate",
        Some(&bad.to_string()),
    );
    assert_eq!(r.0, 400, "{}", r.1);
    let (_, l) = s.call("GET", "/v1/projects/p/notes", None);
    let names: Vec<&str> = l["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["projects/p/notes/taken"]);
}
