//! Seed 000's multi-project set-up, end to end with the real gcloud 528, one token file per
//! identity: a note project, an attestor project (attestor and KMS key), and the deployer
//! project whose policy the webhook enforces. Each grant the seed lists is needed, and each is
//! made the way the seed makes it (gcloud for IAM bindings, curl for the note's IAM policy).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::{Server, digest, stderr};

const NOTE_PROJECT: &str = "note-proj";
const ATTESTOR_PROJECT: &str = "attestor-proj";
/// The webhook enforces this project's policy.
const DEPLOYER_PROJECT: &str = "my-proj";
const NOTE_ID: &str = "prod-note";
const ATTESTOR_ID: &str = "prod-attestor";

const ADMIN: &str = "admin-token-0123456789";
const ALICE: &str = "alice-token-0123456789"; // runs the attestor project
const NORA: &str = "nora-token-0123456789"; // runs the note project
const DAVE: &str = "dave-token-0123456789"; // deploys

fn review(image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "r-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": "prod", "name": "web", "userInfo": {"username": "dave"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"},
                   "spec": {"containers": [{"name": "web", "image": image}]}}}})
}

/// (allowed, message) of the webhook's answer.
fn admit(s: &Server, image: &str) -> (bool, String) {
    let r = s.review(&review(image));
    (
        r["response"]["allowed"].as_bool().unwrap(),
        r["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

struct Identities {
    _dir: tempfile::TempDir,
    files: std::collections::HashMap<&'static str, PathBuf>,
}

impl Identities {
    fn file(&self, token: &str) -> &std::path::Path {
        &self.files[token]
    }
}

fn identities() -> (Identities, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = std::collections::HashMap::new();
    let mut table = String::new();
    for (token, who) in [
        (ADMIN, "user:admin@example.com"),
        (ALICE, "user:alice@example.com"),
        (NORA, "user:nora@example.com"),
        (DAVE, "user:dave@example.com"),
    ] {
        let f = dir
            .path()
            .join(format!("{}.token", &who[5..who.find('@').unwrap()]));
        // gcloud strips the trailing newline (contract §5).
        std::fs::write(&f, format!("{token}\n")).unwrap();
        files.insert(token, f);
        table.push_str(&format!("{token} {who}\n"));
    }
    let table_file = dir.path().join("tokens");
    std::fs::write(&table_file, table).unwrap();
    (Identities { _dir: dir, files }, table_file)
}

fn denied(s: &Server, token: &std::path::Path, args: &[&str]) -> String {
    let out = s.gcloud_raw_as(Some(token), args);
    assert!(
        !out.status.success(),
        "gcloud {args:?} should have been refused"
    );
    stderr(&out)
}

#[test]
fn seed_000_multi_project_setup_with_per_identity_tokens() {
    let (ids, table) = identities();
    let s = Server::start_webhook(&[
        "--token-file",
        table.to_str().unwrap(),
        "--owner",
        "user:admin@example.com",
    ]);
    let admin = ids.file(ADMIN);
    let alice = ids.file(ALICE);
    let dave = ids.file(DAVE);

    // Without a token gcloud gets UNAUTHENTICATED.
    let out = s.gcloud_raw(&["container", "binauthz", "policy", "export"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("401") || stderr(&out).contains("UNAUTHENTICATED"),
        "{}",
        stderr(&out)
    );

    // The administrator hands each project to its team with `gcloud projects
    // add-iam-policy-binding`; alice may also sign with the attestor project's keys.
    for (project, member, role) in [
        (NOTE_PROJECT, "user:nora@example.com", "roles/owner"),
        (ATTESTOR_PROJECT, "user:alice@example.com", "roles/owner"),
        (
            ATTESTOR_PROJECT,
            "user:alice@example.com",
            "roles/cloudkms.signerVerifier",
        ),
        (
            DEPLOYER_PROJECT,
            "user:dave@example.com",
            "roles/binaryauthorization.policyEditor",
        ),
    ] {
        s.gcloud_as(
            admin,
            &[
                "projects",
                "add-iam-policy-binding",
                project,
                &format!("--member={member}"),
                &format!("--role={role}"),
                "--condition=None",
            ],
        );
    }

    // Note project: the note, by REST as in the seed.
    let (code, v) = s.call_as(
        Some(NORA),
        "POST",
        &format!("/v1/projects/{NOTE_PROJECT}/notes/?noteId={NOTE_ID}"),
        Some(r#"{"attestation":{"hint":{"human_readable_name":"prod attestation authority"}}}"#),
    );
    assert_eq!(code, 200, "{v}");

    // Attestor project: key ring, key, attestor over the other project's note, public key.
    let in_attestor = format!("--project={ATTESTOR_PROJECT}");
    s.gcloud_as(
        alice,
        &[
            "kms",
            "keyrings",
            "create",
            "keys",
            "--location=global",
            &in_attestor,
        ],
    );
    s.gcloud_as(
        alice,
        &[
            "kms",
            "keys",
            "create",
            "signer",
            "--keyring=keys",
            "--location=global",
            "--purpose=asymmetric-signing",
            "--default-algorithm=ec-sign-p256-sha256",
            &in_attestor,
        ],
    );
    s.gcloud_as(
        alice,
        &[
            "container",
            "binauthz",
            "attestors",
            "create",
            ATTESTOR_ID,
            &format!("--attestation-authority-note={NOTE_ID}"),
            &format!("--attestation-authority-note-project={NOTE_PROJECT}"),
            &in_attestor,
        ],
    );
    s.gcloud_as(
        alice,
        &[
            "beta",
            "container",
            "binauthz",
            "attestors",
            "public-keys",
            "add",
            &format!("--attestor={ATTESTOR_ID}"),
            &format!("--keyversion-project={ATTESTOR_PROJECT}"),
            "--keyversion-location=global",
            "--keyversion-keyring=keys",
            "--keyversion-key=signer",
            "--keyversion=1",
            &in_attestor,
        ],
    );

    // Signing: alice may not attach occurrences to nora's note until nora lets her.
    let image = format!(
        "us-docker.pkg.dev/{DEPLOYER_PROJECT}/prod/web@{}",
        digest("web v1")
    );
    let sign = [
        "beta",
        "container",
        "binauthz",
        "attestations",
        "sign-and-create",
        &format!("--artifact-url={image}"),
        &format!("--attestor={ATTESTOR_ID}"),
        &format!("--attestor-project={ATTESTOR_PROJECT}"),
        &format!("--keyversion-project={ATTESTOR_PROJECT}"),
        "--keyversion-location=global",
        "--keyversion-keyring=keys",
        "--keyversion-key=signer",
        "--keyversion=1",
        &in_attestor,
    ];
    let err = denied(&s, alice, &sign);
    assert!(
        err.contains("containeranalysis.notes.attachOccurrence"),
        "{err}"
    );
    let (code, v) = s.call_as(
        Some(NORA),
        "POST",
        &format!("/v1/projects/{NOTE_PROJECT}/notes/{NOTE_ID}:setIamPolicy"),
        Some(&json!({"resource": format!("projects/{NOTE_PROJECT}/notes/{NOTE_ID}"), "policy": {"bindings": [
            {"role": "roles/containeranalysis.notes.attacher", "members": ["user:alice@example.com"]}]}}).to_string()),
    );
    assert_eq!(code, 200, "{v}");
    s.gcloud_as(alice, &sign);
    // The KMS key signs for its signers only: the deployer cannot mint attestations.
    let err = denied(&s, dave, &sign);
    assert!(
        err.contains("PERMISSION_DENIED") || err.contains("403") || err.contains("denied"),
        "{err}"
    );

    // Deployer project: dave imports a policy requiring the other project's attestor. He
    // cannot touch the attestor project.
    let policy = format!(
        "globalPolicyEvaluationMode: ENABLE
defaultAdmissionRule:
  evaluationMode: REQUIRE_ATTESTATION
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
  requireAttestationsBy:
  - projects/{ATTESTOR_PROJECT}/attestors/{ATTESTOR_ID}
"
    );
    let policy_file = s.write("policy.yaml", &policy);
    s.gcloud_as(
        dave,
        &[
            "container",
            "binauthz",
            "policy",
            "import",
            policy_file.to_str().unwrap(),
            &format!("--project={DEPLOYER_PROJECT}"),
        ],
    );
    let err = denied(
        &s,
        dave,
        &[
            "container",
            "binauthz",
            "attestors",
            "create",
            "mine",
            &format!("--attestation-authority-note={NOTE_ID}"),
            &format!("--attestation-authority-note-project={NOTE_PROJECT}"),
            &in_attestor,
        ],
    );
    assert!(
        err.contains("binaryauthorization.attestors.create"),
        "{err}"
    );

    // Admission, step by step through the seed's "Extra Permission Settings".
    let (ok, msg) = admit(&s, &image);
    assert!(!ok);
    assert!(
        msg.contains("may not use attestor") && msg.contains("attestorsVerifier"),
        "{msg}"
    );

    // "Deployer To Attestor": the deployer's Binary Authorization service agent gets
    // attestorsVerifier on the attestor, named from the project number as the seed does.
    let number = s
        .gcloud_as(
            dave,
            &[
                "projects",
                "describe",
                DEPLOYER_PROJECT,
                "--format=value(projectNumber)",
            ],
        )
        .trim()
        .to_owned();
    assert_eq!(number.len(), 12, "{number}");
    let deployer_agent = format!(
        "serviceAccount:service-{number}@gcp-sa-binaryauthorization.iam.gserviceaccount.com"
    );
    s.gcloud_as(
        alice,
        &[
            "container",
            "binauthz",
            "attestors",
            "add-iam-policy-binding",
            ATTESTOR_ID,
            &format!("--member={deployer_agent}"),
            "--role=roles/binaryauthorization.attestorsVerifier",
            &in_attestor,
        ],
    );
    let (ok, msg) = admit(&s, &image);
    assert!(!ok);
    assert!(
        msg.contains("cannot read the occurrences") && msg.contains("notes.occurrences.viewer"),
        "{msg}"
    );

    // "Attestor To Access Container Analysis Note": the seed's iam_request.json, verbatim in
    // shape, for the attestor project's service agent.
    let attestor_number = s
        .gcloud_as(
            alice,
            &[
                "projects",
                "describe",
                ATTESTOR_PROJECT,
                "--format=value(projectNumber)",
            ],
        )
        .trim()
        .to_owned();
    let binauthz_sa =
        format!("service-{attestor_number}@gcp-sa-binaryauthorization.iam.gserviceaccount.com");
    let iam_request = format!(
        r#"{{'resource': 'projects/{NOTE_PROJECT}/notes/{NOTE_ID}', 'policy': {{'bindings': [{{'role': 'roles/containeranalysis.notes.occurrences.viewer', 'members': ['serviceAccount:{binauthz_sa}']}}]}}}}"#
    )
    .replace('\'', "\"");
    let (code, v) = s.call_as(
        Some(NORA),
        "POST",
        &format!("/v1/projects/{NOTE_PROJECT}/notes/{NOTE_ID}:setIamPolicy"),
        Some(&iam_request),
    );
    assert_eq!(code, 200, "{v}");

    let (ok, msg) = admit(&s, &image);
    assert!(
        ok,
        "the attested image is admitted once every grant is in place: {msg}"
    );
    let unsigned = format!(
        "us-docker.pkg.dev/{DEPLOYER_PROJECT}/prod/web@{}",
        digest("web v2")
    );
    let (ok, msg) = admit(&s, &unsigned);
    assert!(!ok);
    assert!(msg.contains("no attestation"), "{msg}");

    // Taking the verifier grant away denies again at once.
    s.gcloud_as(
        alice,
        &[
            "container",
            "binauthz",
            "attestors",
            "remove-iam-policy-binding",
            ATTESTOR_ID,
            &format!("--member={deployer_agent}"),
            "--role=roles/binaryauthorization.attestorsVerifier",
            &in_attestor,
        ],
    );
    assert!(!admit(&s, &image).0);

    // Every administrative change above is in the audit logs, with who made it.
    let (_, log) = s.call_as(
        Some(ADMIN),
        "GET",
        &format!(
            "/admit/v1/projects/{ATTESTOR_PROJECT}/auditRecords?filter=verdict%3DADMIN_CHANGE"
        ),
        None,
    );
    let who_did: Vec<(String, String)> = log["auditRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_owned(),
                r["permission"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        (
            "user:admin@example.com",
            "resourcemanager.projects.setIamPolicy",
        ),
        ("user:alice@example.com", "cloudkms.keyRings.create"),
        (
            "user:alice@example.com",
            "binaryauthorization.attestors.create",
        ),
        (
            "user:alice@example.com",
            "binaryauthorization.attestors.update",
        ),
        (
            "user:alice@example.com",
            "binaryauthorization.attestors.setIamPolicy",
        ),
    ] {
        assert!(
            who_did.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} not in {who_did:?}"
        );
    }
}
