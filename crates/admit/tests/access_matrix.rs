//! The authorization matrix: every API method × a principal holding each of twelve roles (and
//! one holding none) × the same and another project, over HTTP with bearer tokens. The
//! expectations are written here from Google's published "required permission" and role tables,
//! independently of the server's own tables: a role outside a row's set must be refused (zero
//! unexpected grants), a role inside it must succeed, and nobody is let in from another project.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

mod support;

use serde_json::{Value, json};
use support::Server;

const A: &str = "proj-a";
const B: &str = "proj-b";
const OWNER_TOKEN: &str = "owner-token-0123456789";
const NOBODY_TOKEN: &str = "nobody-token-0123456789";

/// (short name, role) for the principals under test.
const ROLES: &[(&str, &str)] = &[
    ("O", "roles/owner"),
    ("E", "roles/editor"),
    ("V", "roles/viewer"),
    ("PE", "roles/binaryauthorization.policyEditor"),
    ("AV", "roles/binaryauthorization.attestorsVerifier"),
    ("AE", "roles/binaryauthorization.attestorsEditor"),
    ("NOV", "roles/containeranalysis.notes.occurrences.viewer"),
    ("NA", "roles/containeranalysis.notes.attacher"),
    ("OE", "roles/containeranalysis.occurrences.editor"),
    ("SV", "roles/cloudkms.signerVerifier"),
    ("KA", "roles/cloudkms.admin"),
    ("PKV", "roles/cloudkms.publicKeyViewer"),
];

fn token(short: &str) -> String {
    format!("token-{short}-0123456789")
}

fn member(short: &str) -> String {
    format!("user:{}@example.com", short.to_ascii_lowercase())
}

/// One API method: how to call it in project `{p}` and which roles may.
struct Row {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    /// Roles (short names) that hold the permission; `None`: any authenticated caller.
    allowed: Option<&'static [&'static str]>,
    /// Changes state: the refused principals are tried first, then one allowed principal.
    mutates: bool,
}

fn row(method: &'static str, path: &'static str, allowed: &'static [&'static str]) -> Row {
    Row {
        method,
        path,
        body: None,
        allowed: Some(allowed),
        mutates: method != "GET",
    }
}

fn with(mut r: Row, body: Value) -> Row {
    r.body = Some(body);
    r
}

fn reads(mut r: Row) -> Row {
    r.mutates = false;
    r
}

const RING: &str = "/v1/projects/{p}/locations/global/keyRings";

fn rows(occurrence: &str, doomed_occurrence: &str) -> Vec<Row> {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let occ = leak(format!("/v1/projects/{{p}}/occurrences/{occurrence}"));
    let doomed = leak(format!(
        "/v1/projects/{{p}}/occurrences/{doomed_occurrence}"
    ));
    let key = leak(format!("{RING}/r1/cryptoKeys/k1"));
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": "projects/proj-a/notes/n1"}, "description": "updated"});
    let platform = json!({"gkePolicy": {"checkSets": [{"displayName": "all", "checks": [{"displayName": "deny", "alwaysDeny": true}]}]}});
    vec![
        // Binary Authorization policy.
        row("GET", "/v1/projects/{p}/policy", &["O", "E", "V", "PE"]),
        with(
            row("PUT", "/v1/projects/{p}/policy", &["O", "E", "PE"]),
            json!({"globalPolicyEvaluationMode": "ENABLE", "defaultAdmissionRule": {"evaluationMode": "ALWAYS_DENY", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}}),
        ),
        row(
            "GET",
            "/v1/projects/{p}/policy:getIamPolicy",
            &["O", "E", "V"],
        ),
        with(
            row("POST", "/v1alpha2/projects/{p}/policy:setIamPolicy", &["O"]),
            json!({"policy": {"bindings": []}}),
        ),
        // Attestors.
        row(
            "GET",
            "/v1/projects/{p}/attestors",
            &["O", "E", "V", "AV", "AE"],
        ),
        with(
            row(
                "POST",
                "/v1/projects/{p}/attestors?attestorId=created",
                &["O", "E", "AE"],
            ),
            json!({"userOwnedGrafeasNote": {"noteReference": "projects/proj-a/notes/n1"}}),
        ),
        row(
            "GET",
            "/v1/projects/{p}/attestors/att1",
            &["O", "E", "V", "AV", "AE"],
        ),
        with(
            row("PUT", "/v1/projects/{p}/attestors/att1", &["O", "E", "AE"]),
            attestor,
        ),
        with(
            row(
                "POST",
                "/v1/projects/{p}/attestors/att1:validateAttestationOccurrence",
                &["O", "E", "AV", "AE"],
            ),
            json!({"attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "k", "signature": "c2ln"}]},
                   "occurrenceNote": "projects/proj-a/notes/n1", "occurrenceResourceUri": format!("gcr.io/x/y@sha256:{}", "1".repeat(64))}),
        ),
        row(
            "GET",
            "/v1/projects/{p}/attestors/att1:getIamPolicy",
            &["O", "E", "V"],
        ),
        with(
            row(
                "POST",
                "/v1/projects/{p}/attestors/att1:setIamPolicy",
                &["O"],
            ),
            json!({"policy": {"bindings": []}}),
        ),
        with(
            row(
                "POST",
                "/v1/projects/{p}/attestors/att1:testIamPermissions",
                &[],
            ),
            json!({"permissions": ["binaryauthorization.attestors.get"]}),
        ),
        row("GET", "/v1/locations/global/policy", &[]),
        // Container Analysis notes.
        row("GET", "/v1/projects/{p}/notes", &["O", "E", "V", "NOV"]),
        with(
            row("POST", "/v1/projects/{p}/notes?noteId=created", &["O", "E"]),
            json!({"attestation": {"hint": {"humanReadableName": "x"}}}),
        ),
        row(
            "GET",
            "/v1/projects/{p}/notes/n1",
            &["O", "E", "V", "NOV", "NA"],
        ),
        with(
            row(
                "PATCH",
                "/v1/projects/{p}/notes/n1?updateMask=shortDescription",
                &["O", "E"],
            ),
            json!({"shortDescription": "patched"}),
        ),
        reads(with(
            row(
                "POST",
                "/v1/projects/{p}/notes/n1:getIamPolicy",
                &["O", "E", "V"],
            ),
            json!({}),
        )),
        with(
            row("POST", "/v1/projects/{p}/notes/n1:setIamPolicy", &["O"]),
            json!({"policy": {"bindings": []}}),
        ),
        row(
            "GET",
            "/v1/projects/{p}/notes/n1/occurrences",
            &["O", "E", "V", "NOV"],
        ),
        // Occurrences: creating one also needs notes.attachOccurrence on its note.
        row(
            "GET",
            "/v1/projects/{p}/occurrences",
            &["O", "E", "V", "NOV", "OE"],
        ),
        with(
            row("POST", "/v1/projects/{p}/occurrences", &["O", "E"]),
            json!({"resourceUri": format!("gcr.io/x/y@sha256:{}", "2".repeat(64)), "noteName": "projects/proj-a/notes/n1",
                   "attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "k", "signature": "c2ln"}]}}),
        ),
        row("GET", occ, &["O", "E", "V", "NOV", "OE"]),
        with(
            row(
                "PATCH",
                leak(format!("{occ}?updateMask=remediation")),
                &["O", "E", "OE"],
            ),
            json!({"remediation": "none needed"}),
        ),
        row(
            "GET",
            leak(format!("{occ}/notes")),
            &["O", "E", "V", "NOV", "OE"],
        ),
        reads(with(
            row(
                "POST",
                leak(format!("{occ}:getIamPolicy")),
                &["O", "E", "V"],
            ),
            json!({}),
        )),
        row(
            "GET",
            "/v1/projects/{p}/occurrences:vulnerabilitySummary",
            &["O", "E", "V", "NOV", "OE"],
        ),
        row("DELETE", doomed, &["O", "E", "OE"]),
        // Cloud KMS.
        row("GET", RING, &["O", "E", "V", "KA"]),
        with(
            row(
                "POST",
                leak(format!("{RING}?keyRingId=created")),
                &["O", "E", "KA"],
            ),
            json!({}),
        ),
        row("GET", leak(format!("{RING}/r1")), &["O", "E", "V", "KA"]),
        row(
            "GET",
            leak(format!("{RING}/r1:getIamPolicy")),
            &["O", "E", "V", "KA"],
        ),
        with(
            row(
                "POST",
                leak(format!("{RING}/r1:setIamPolicy")),
                &["O", "KA"],
            ),
            json!({"policy": {"bindings": []}}),
        ),
        row(
            "GET",
            leak(format!("{RING}/r1/cryptoKeys")),
            &["O", "E", "V", "KA"],
        ),
        with(
            row(
                "POST",
                leak(format!("{RING}/r1/cryptoKeys?cryptoKeyId=created")),
                &["O", "E", "KA"],
            ),
            json!({"purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": "EC_SIGN_P256_SHA256"}}),
        ),
        row("GET", key, &["O", "E", "V", "KA"]),
        row(
            "GET",
            leak(format!("{key}:getIamPolicy")),
            &["O", "E", "V", "KA"],
        ),
        with(
            row("POST", leak(format!("{key}:setIamPolicy")), &["O", "KA"]),
            json!({"policy": {"bindings": []}}),
        ),
        row(
            "GET",
            leak(format!("{key}/cryptoKeyVersions")),
            &["O", "E", "V", "KA"],
        ),
        row(
            "GET",
            leak(format!("{key}/cryptoKeyVersions/1")),
            &["O", "E", "V", "KA"],
        ),
        row(
            "GET",
            leak(format!("{key}/cryptoKeyVersions/1/publicKey")),
            &["O", "E", "KA", "SV", "PKV"],
        ),
        // Nobody but a signer may use the key: not even its owner or admin.
        reads(with(
            row(
                "POST",
                leak(format!("{key}/cryptoKeyVersions/1:asymmetricSign")),
                &["SV"],
            ),
            json!({"digest": {"sha256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}),
        )),
        with(
            row(
                "POST",
                leak(format!("{key}/cryptoKeyVersions")),
                &["O", "E", "KA"],
            ),
            json!({}),
        ),
        with(
            row(
                "POST",
                leak(format!("{key}/cryptoKeyVersions/2:destroy")),
                &["O", "E", "KA"],
            ),
            json!({}),
        ),
        // Platform policies and continuous validation.
        row("GET", "/v1/projects/{p}/platforms", &["O", "E", "V", "PE"]),
        row(
            "GET",
            "/v1/projects/{p}/platforms/gke/policies",
            &["O", "E", "V", "PE"],
        ),
        with(
            row(
                "POST",
                "/v1/projects/{p}/platforms/gke/policies?policyId=created",
                &["O", "E", "PE"],
            ),
            platform.clone(),
        ),
        row(
            "GET",
            "/v1/projects/{p}/platforms/gke/policies/pp1",
            &["O", "E", "V", "PE"],
        ),
        with(
            row(
                "PUT",
                "/v1/projects/{p}/platforms/gke/policies/pp1",
                &["O", "E", "PE"],
            ),
            platform,
        ),
        row(
            "DELETE",
            "/v1/projects/{p}/platforms/gke/policies/pp1",
            &["O", "E", "PE"],
        ),
        row(
            "GET",
            "/v1alpha2/projects/{p}/continuousValidationConfig",
            &["O", "E", "V", "PE"],
        ),
        with(
            row(
                "PUT",
                "/v1alpha2/projects/{p}/continuousValidationConfig",
                &["O", "E", "PE"],
            ),
            json!({"enforcementPolicyConfig": {"enabled": true}}),
        ),
        // Resource Manager and the audit log.
        row(
            "GET",
            "/v1/projects/{p}",
            &["O", "E", "V", "PE", "AV", "AE", "NOV", "OE"],
        ),
        reads(with(
            row("POST", "/v1/projects/{p}:getIamPolicy", &["O", "E", "V"]),
            json!({}),
        )),
        row(
            "GET",
            "/admit/v1/projects/{p}/auditRecords",
            &["O", "E", "V"],
        ),
        // Grafeas v1beta1: the same permissions as v1.
        row(
            "GET",
            "/v1beta1/projects/{p}/notes",
            &["O", "E", "V", "NOV"],
        ),
        row(
            "GET",
            "/v1beta1/projects/{p}/occurrences",
            &["O", "E", "V", "NOV", "OE"],
        ),
        with(
            row("POST", "/v1beta1/projects/{p}/occurrences", &["O", "E"]),
            json!({"resource": {"uri": format!("gcr.io/x/y@sha256:{}", "3".repeat(64))}, "noteName": "projects/proj-a/notes/n1",
                   "attestation": {"attestation": {"genericSignedAttestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "k", "signature": "c2ln"}]}}}}),
        ),
        // Cloud Logging's read API over the audit log (the project is named in the body).
        reads(with(
            row("POST", "/v2/entries:list", &["O", "E", "V"]),
            json!({"resourceNames": ["projects/proj-a"], "filter": "severity>=DEFAULT"}),
        )),
        // Service Usage.
        row("GET", "/v1/projects/{p}/services", &["O", "E", "V"]),
        with(
            row(
                "POST",
                "/v1/projects/{p}/services/containeranalysis.googleapis.com:enable",
                &["O", "E"],
            ),
            json!({}),
        ),
        with(
            row("POST", "/v1/projects/{p}/services:batchEnable", &["O", "E"]),
            json!({"serviceIds": ["containerscanning.googleapis.com"]}),
        ),
        with(
            row(
                "POST",
                "/v1/projects/{p}/services/containerscanning.googleapis.com:disable",
                &["O", "E"],
            ),
            json!({}),
        ),
        row(
            "GET",
            "/v1/projects/{p}/services/containeranalysis.googleapis.com",
            &["O", "E", "V"],
        ),
        // IAM: service accounts and custom roles.
        with(
            row("POST", "/v1/projects/{p}/serviceAccounts", &["O", "E"]),
            json!({"accountId": "matrix-sa"}),
        ),
        row("GET", "/v1/projects/{p}/serviceAccounts", &["O", "E", "V"]),
        row(
            "GET",
            "/v1/projects/{p}/serviceAccounts/matrix-sa@{p}.iam.gserviceaccount.com",
            &["O", "E", "V"],
        ),
        reads(with(
            row(
                "POST",
                "/v1/projects/{p}/serviceAccounts/matrix-sa@{p}.iam.gserviceaccount.com:getIamPolicy",
                &["O", "E", "V"],
            ),
            json!({}),
        )),
        with(
            row(
                "POST",
                "/v1/projects/{p}/serviceAccounts/matrix-sa@{p}.iam.gserviceaccount.com:setIamPolicy",
                &["O"],
            ),
            json!({"policy": {"bindings": []}}),
        ),
        with(
            row("POST", "/v1/projects/{p}/roles", &["O"]),
            json!({"roleId": "matrixRole", "role": {"includedPermissions": ["containeranalysis.notes.get"]}}),
        ),
        row("GET", "/v1/projects/{p}/roles", &["O", "E", "V"]),
        row("GET", "/v1/projects/{p}/roles/matrixRole", &["O", "E", "V"]),
        with(
            row(
                "PATCH",
                "/v1/projects/{p}/roles/matrixRole?updateMask=title",
                &["O"],
            ),
            json!({"title": "matrix"}),
        ),
        reads(with(
            row("POST", "/v1/permissions:queryTestablePermissions", &[]),
            json!({"fullResourceName": "//cloudresourcemanager.googleapis.com/projects/proj-a"}),
        )),
        // Last: deletions of what earlier rows use.
        row("DELETE", "/v1/projects/{p}/roles/matrixRole", &["O"]),
        with(
            row("POST", "/v1/projects/{p}/roles/matrixRole:undelete", &["O"]),
            json!({}),
        ),
        row(
            "DELETE",
            "/v1/projects/{p}/serviceAccounts/matrix-sa@{p}.iam.gserviceaccount.com",
            &["O", "E"],
        ),
        row(
            "DELETE",
            "/v1/projects/{p}/attestors/att1",
            &["O", "E", "AE"],
        ),
        row("DELETE", "/v1/projects/{p}/notes/n-doomed", &["O", "E"]),
    ]
}

fn owner(s: &Server, method: &str, path: &str, body: Option<Value>) -> Value {
    let b = body.map(|b| b.to_string());
    let (code, v) = s.call_as(Some(OWNER_TOKEN), method, path, b.as_deref());
    assert!(
        (200..300).contains(&code),
        "owner {method} {path}: {code} {v}"
    );
    v
}

/// What the owner sets up in one project; returns (occurrence id, doomed occurrence id).
fn populate(s: &Server, p: &str) -> (String, String) {
    for n in ["n1", "n-doomed"] {
        owner(
            s,
            "POST",
            &format!("/v1/projects/{p}/notes?noteId={n}"),
            Some(json!({"attestation": {"hint": {"humanReadableName": n}}})),
        );
    }
    owner(
        s,
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=att1"),
        Some(json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{p}/notes/n1")}})),
    );
    let mut occ = Vec::new();
    for i in 0..2 {
        let v = owner(
            s,
            "POST",
            &format!("/v1/projects/{p}/occurrences"),
            Some(
                json!({"resourceUri": format!("gcr.io/x/y@sha256:{}", i.to_string().repeat(64)), "noteName": format!("projects/{p}/notes/n1"),
                "attestation": {"serializedPayload": "e30=", "signatures": [{"publicKeyId": "k", "signature": "c2ln"}]}}),
            ),
        );
        occ.push(
            v["name"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    let ring = RING.replace("{p}", p);
    owner(s, "POST", &format!("{ring}?keyRingId=r1"), Some(json!({})));
    owner(
        s,
        "POST",
        &format!("{ring}/r1/cryptoKeys?cryptoKeyId=k1"),
        Some(
            json!({"purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": "EC_SIGN_P256_SHA256"}}),
        ),
    );
    owner(
        s,
        "POST",
        &format!("/v1/projects/{p}/platforms/gke/policies?policyId=pp1"),
        Some(
            json!({"gkePolicy": {"checkSets": [{"displayName": "all", "checks": [{"displayName": "deny", "alwaysDeny": true}]}]}}),
        ),
    );
    (occ.remove(0), occ.remove(0))
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut tokens = format!(
        "# test principals\n{OWNER_TOKEN} user:owner@example.com\n{NOBODY_TOKEN} user:nobody@example.com\n"
    );
    for (short, _) in ROLES {
        tokens.push_str(&format!("{} {}\n", token(short), member(short)));
    }
    let file = dir.path().join("tokens");
    std::fs::write(&file, tokens).unwrap();
    let s = Server::start_args(&[
        "--token-file",
        file.to_str().unwrap(),
        "--owner",
        "user:owner@example.com",
    ]);
    drop(dir); // read at start-up
    s
}

fn denied(code: u16) -> bool {
    code == 403
}

#[test]
fn every_method_by_every_role_in_this_and_another_project() {
    let s = start();
    let (occ_a, doomed_a) = populate(&s, A);
    let (occ_b, doomed_b) = populate(&s, B);
    // Each role on project A only, through the project's IAM policy (inherited by every
    // resource in it).
    let bindings: Vec<Value> = ROLES
        .iter()
        .map(|(short, role)| json!({"role": role, "members": [member(short)]}))
        .collect();
    owner(
        &s,
        "POST",
        &format!("/v1/projects/{A}:setIamPolicy"),
        Some(json!({"policy": {"bindings": bindings}})),
    );

    let mut checked = 0;
    for (p, occ, doomed) in [(A, &occ_a, &doomed_a)] {
        for r in rows(occ, doomed) {
            let path = r.path.replace("{p}", p);
            let body = r.body.as_ref().map(|b| b.to_string().replace("proj-a", p));
            let call = |tok: Option<&str>| s.call_as(tok, r.method, &path, body.as_deref());
            let what = format!("{} {path}", r.method);

            // No credentials, or unknown ones: UNAUTHENTICATED, whatever the method.
            let (code, v) = call(None);
            assert_eq!(
                (code, v["error"]["status"].as_str()),
                (401, Some("UNAUTHENTICATED")),
                "{what}: {v}"
            );
            let (code, _) = call(Some("not-a-known-token-at-all"));
            assert_eq!(code, 401, "{what}");

            let Some(allowed) = r.allowed.filter(|a| !a.is_empty()) else {
                // Any authenticated caller.
                for tok in [NOBODY_TOKEN.to_owned(), token("PKV")] {
                    let (code, v) = call(Some(&tok));
                    assert!((200..300).contains(&code), "{what} as {tok}: {code} {v}");
                }
                continue;
            };
            let (code, v) = call(Some(NOBODY_TOKEN));
            assert!(
                denied(code),
                "{what}: a principal with no role got {code} {v}"
            );
            assert_eq!(v["error"]["status"], "PERMISSION_DENIED", "{what}");
            for (short, role) in ROLES {
                let ok = allowed.contains(short);
                if ok && r.mutates {
                    continue;
                }
                let (code, v) = call(Some(&token(short)));
                checked += 1;
                if ok {
                    assert!(
                        (200..300).contains(&code),
                        "{what}: {role} must be allowed, got {code} {v}"
                    );
                } else {
                    assert!(
                        denied(code),
                        "{what}: {role} must be refused, got {code} {v}"
                    );
                }
            }
            if r.mutates {
                let first = allowed[0];
                let (code, v) = call(Some(&token(first)));
                checked += 1;
                assert!(
                    (200..300).contains(&code),
                    "{what}: {first} must be allowed, got {code} {v}"
                );
            }
        }
    }
    assert!(checked > 500, "{checked}");

    // Project B: every holder of a role on A is refused everything there.
    for r in rows(&occ_b, &doomed_b) {
        let Some(allowed) = r.allowed.filter(|a| !a.is_empty()) else {
            continue;
        };
        let path = r.path.replace("{p}", B);
        let body = r.body.as_ref().map(|b| b.to_string().replace("proj-a", B));
        for short in allowed {
            let (code, v) = s.call_as(Some(&token(short)), r.method, &path, body.as_deref());
            assert!(
                denied(code),
                "{} {path} in {B} as {short}: {code} {v}",
                r.method
            );
        }
    }
    // … and B's resources are intact: the owner still sees them.
    owner(&s, "GET", &format!("/v1/projects/{B}/attestors/att1"), None);
    owner(
        &s,
        "GET",
        &format!("/v1/projects/{B}/occurrences/{doomed_b}"),
        None,
    );
}

#[test]
fn test_iam_permissions_answers_truthfully_and_admin_changes_are_audited() {
    let s = start();
    populate(&s, A);
    owner(
        &s,
        "POST",
        &format!("/v1/projects/{A}/attestors/att1:setIamPolicy"),
        Some(
            json!({"policy": {"bindings": [{"role": "roles/binaryauthorization.attestorsVerifier", "members": [member("NOV")]}]}}),
        ),
    );
    let ask = json!({"permissions": [
        "binaryauthorization.attestors.get",
        "binaryauthorization.attestors.update",
        "binaryauthorization.attestors.verifyImageAttested",
        "binaryauthorization.attestors.setIamPolicy"]})
    .to_string();
    let path = format!("/v1/projects/{A}/attestors/att1:testIamPermissions");
    let (_, v) = s.call_as(Some(&token("NOV")), "POST", &path, Some(&ask));
    assert_eq!(
        v["permissions"],
        json!([
            "binaryauthorization.attestors.get",
            "binaryauthorization.attestors.verifyImageAttested"
        ])
    );
    let (_, v) = s.call_as(Some(NOBODY_TOKEN), "POST", &path, Some(&ask));
    assert_eq!(v["permissions"], json!([]), "{v}");
    let (_, v) = s.call_as(Some(OWNER_TOKEN), "POST", &path, Some(&ask));
    assert_eq!(v["permissions"].as_array().map(Vec::len), Some(4), "{v}");
    // The grant on the attestor does not reach the project's other attestors.
    owner(
        &s,
        "POST",
        &format!("/v1/projects/{A}/attestors?attestorId=att2"),
        Some(json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{A}/notes/n1")}})),
    );
    let (code, _) = s.call_as(
        Some(&token("NOV")),
        "GET",
        &format!("/v1/projects/{A}/attestors/att2"),
        None,
    );
    assert_eq!(code, 403);
    let (code, _) = s.call_as(
        Some(&token("NOV")),
        "GET",
        &format!("/v1/projects/{A}/attestors/att1"),
        None,
    );
    assert_eq!(code, 200);

    // Bad IAM policies are refused naming the field, and change nothing.
    let (code, v) = s.call_as(
        Some(OWNER_TOKEN),
        "POST",
        &format!("/v1/projects/{A}:setIamPolicy"),
        Some(&json!({"policy": {"bindings": [{"role": "roles/made.up", "members": ["user:x@example.com"]}]}}).to_string()),
    );
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy.bindings[0].role `roles/made.up`"),
        "{v}"
    );
    let (code, v) = s.call_as(
        Some(OWNER_TOKEN),
        "POST",
        &format!("/v1/projects/{A}:setIamPolicy"),
        Some(
            &json!({"policy": {"bindings": [{"role": "roles/viewer", "members": ["alice"]}]}})
                .to_string(),
        ),
    );
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy.bindings[0].members[0]"),
        "{v}"
    );

    // Administrative changes are in the audit log with who made them; reads are not.
    owner(
        &s,
        "PUT",
        &format!("/v1/projects/{A}/policy"),
        Some(
            json!({"defaultAdmissionRule": {"evaluationMode": "ALWAYS_ALLOW", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}}),
        ),
    );
    let (code, _) = s.call_as(
        Some(&token("NOV")),
        "PUT",
        &format!("/v1/projects/{A}/policy"),
        Some("{}"),
    );
    assert_eq!(code, 403);
    let log = owner(
        &s,
        "GET",
        &format!("/admit/v1/projects/{A}/auditRecords?filter=verdict%3DADMIN_CHANGE"),
        None,
    );
    let records = log["auditRecords"].as_array().expect("records");
    let seen: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_owned(),
                r["permission"].as_str().unwrap().to_owned(),
                r["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let o = "user:owner@example.com".to_owned();
    for want in [
        (
            o.clone(),
            "containeranalysis.notes.create".to_owned(),
            format!("projects/{A}"),
        ),
        (
            o.clone(),
            "binaryauthorization.attestors.create".to_owned(),
            format!("projects/{A}"),
        ),
        (
            o.clone(),
            "binaryauthorization.attestors.setIamPolicy".to_owned(),
            format!("projects/{A}/attestors/att1"),
        ),
        (
            o.clone(),
            "cloudkms.cryptoKeys.create".to_owned(),
            format!("projects/{A}/locations/global/keyRings/r1"),
        ),
        (
            o.clone(),
            "binaryauthorization.policy.update".to_owned(),
            format!("projects/{A}/policy"),
        ),
    ] {
        assert!(seen.contains(&want), "{want:?} not in {seen:?}");
    }
    // Refused and failed changes and reads leave no admin record.
    assert!(seen.iter().all(|(u, _, _)| *u == o), "{seen:?}");
    assert!(
        seen.iter()
            .all(|(_, p, _)| !p.ends_with(".get") && !p.ends_with(".list")),
        "{seen:?}"
    );
}

#[test]
fn the_admit_client_sends_its_token() {
    let s = start();
    populate(&s, A);
    let dir = tempfile::tempdir().unwrap();
    let run = |token: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_admit"));
        c.args(["attestors", "list", "--format", "json"])
            .env("ADMIT_SERVER", &s.url)
            .env("ADMIT_PROJECT", A)
            .env_remove("ADMIT_TOKEN_FILE");
        if let Some(t) = token {
            let f = dir.path().join("token");
            std::fs::write(&f, format!("{t}\n")).unwrap();
            c.env("ADMIT_TOKEN_FILE", &f);
        }
        c.output().unwrap()
    };
    let out = run(Some(OWNER_TOKEN));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("att1"), "{listed}");
    let out = run(None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNAUTHENTICATED"));
    let out = run(Some(NOBODY_TOKEN));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PERMISSION_DENIED"));
}

#[test]
fn the_server_refuses_a_network_address_without_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without authentication"),
        "{err}"
    );
    // Owners without any way to authenticate are a configuration error too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_admit"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--owner",
            "user:a@example.com",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--owner needs a way to authenticate"));
    // A token file with a bad line names it.
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "0123456789abcdef0 user:a@example.com\nshort user:b@example.com\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_admit"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            tokens.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tokens:2: the token is shorter than 16 characters"),
        "{err}"
    );
}
