//! Issue 13, part 5: the identity steps of seeds 000 and 001 with the real gcloud, verbatim, on
//! a server with access control on — Service Usage (`services enable`, `list`), IAM service
//! accounts and their IAM policy, a project custom role granting exactly its permissions, and
//! Workload Identity: the Kubernetes service account `kritis/kritis` (a JWT from the cluster's
//! issuer) acts as the Google service account that granted it `roles/iam.workloadIdentityUser`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use admit_testkit::OpensslKey;
use serde_json::{Value, json};
use support::Server;

const ISSUER: &str =
    "https://container.googleapis.com/v1/projects/my-proj/locations/us-east1/clusters/prod";
const OWNER: &str = "owner-token-0123456789";
const GCP_PROJECT: &str = "my-proj";
const K8S_NAMESPACE: &str = "kritis";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn k8s_token(key: &OpensslKey, namespace: &str, name: &str) -> String {
    key.jwt(
        "k1",
        "RS256",
        &json!({"iss": ISSUER, "aud": ["admit"], "sub": format!("system:serviceaccount:{namespace}:{name}"),
                "iat": now(), "nbf": now(), "exp": now() + 3600}),
    )
}

#[test]
fn seed_001_identity_steps_verbatim_and_workload_identity_honoured() {
    let key = OpensslKey::generate("rsa2048");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [key.jwk("k1")]}).to_string()).unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{OWNER} user:owner@example.com\n")).unwrap();
    let owner_token = dir.path().join("owner.token");
    std::fs::write(&owner_token, OWNER).unwrap();
    let s = Server::start_args(&[
        "--token-file",
        tokens.to_str().unwrap(),
        "--owner",
        "user:owner@example.com",
        "--oidc-issuer",
        ISSUER,
        "--oidc-jwks-file",
        jwks.to_str().unwrap(),
        "--oidc-audience",
        "admit",
        "--oidc-workload-pool",
        "my-proj.svc.id.goog",
    ]);
    let gcloud = |args: &[&str]| s.gcloud_as(&owner_token, args);

    // Seed 001, "Setup Container Analysis API".
    gcloud(&["services", "enable", "containeranalysis.googleapis.com"]);
    gcloud(&["services", "enable", "containerscanning.googleapis.com"]);
    let enabled = gcloud(&[
        "services",
        "list",
        "--enabled",
        "--format=value(config.name)",
    ]);
    let mut enabled: Vec<&str> = enabled.lines().collect();
    enabled.sort_unstable();
    assert_eq!(
        enabled,
        [
            "containeranalysis.googleapis.com",
            "containerscanning.googleapis.com"
        ]
    );

    // Seed 001, "Create GCP Service Account for Kritis", verbatim.
    gcloud(&["iam", "service-accounts", "create", "kritis"]);
    let kritis_sa = format!("kritis@{GCP_PROJECT}.iam.gserviceaccount.com");
    let member = format!("serviceAccount:{GCP_PROJECT}.svc.id.goog[{K8S_NAMESPACE}/kritis]");
    gcloud(&[
        "iam",
        "service-accounts",
        "add-iam-policy-binding",
        &kritis_sa,
        &format!("--member={member}"),
        "--role=roles/iam.workloadIdentityUser",
    ]);
    // "Create and assign required role to Service Account", verbatim.
    gcloud(&[
        "iam",
        "roles",
        "create",
        "kritisRole",
        "--permissions",
        "containeranalysis.notes.listOccurrences,containeranalysis.occurrences.list",
        "--project",
        GCP_PROJECT,
    ]);
    gcloud(&[
        "projects",
        "add-iam-policy-binding",
        GCP_PROJECT,
        "--member",
        &format!("serviceAccount:kritis@{GCP_PROJECT}.iam.gserviceaccount.com"),
        "--role",
        &format!("projects/{GCP_PROJECT}/roles/kritisRole"),
    ]);
    let described: Value = serde_json::from_str(&gcloud(&[
        "iam",
        "service-accounts",
        "describe",
        &kritis_sa,
        "--format=json",
    ]))
    .unwrap();
    assert_eq!(described["email"], kritis_sa.as_str());
    assert_eq!(described["projectId"], GCP_PROJECT);

    // A note for Kritis to read.
    let (code, v) = s.call_as(
        Some(OWNER),
        "POST",
        &format!("/v1/projects/{GCP_PROJECT}/notes?noteId=seal-of-approval"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"Seal of Approval"}}}"#),
    );
    assert_eq!(code, 200, "{v}");

    // Kritis' pod token: acts as kritis@ and holds exactly kritisRole's two permissions.
    let kritis = k8s_token(&key, K8S_NAMESPACE, "kritis");
    let call = |token: &str, method: &str, path: &str| s.call_as(Some(token), method, path, None);
    let occurrences = format!("/v1/projects/{GCP_PROJECT}/occurrences");
    let note_occurrences = format!("/v1/projects/{GCP_PROJECT}/notes/seal-of-approval/occurrences");
    assert_eq!(call(&kritis, "GET", &occurrences).0, 200);
    assert_eq!(call(&kritis, "GET", &note_occurrences).0, 200);
    let (code, err) = call(&kritis, "GET", &format!("/v1/projects/{GCP_PROJECT}/notes"));
    assert_eq!(code, 403, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("containeranalysis.notes.list"),
        "{err}"
    );
    let (code, _) = s.call_as(
        Some(&kritis),
        "POST",
        &occurrences,
        Some(r#"{"resourceUri":"https://gcr.io/p/a@sha256:00","noteName":"projects/my-proj/notes/seal-of-approval","attestation":{}}"#),
    );
    assert_eq!(code, 403);
    // testIamPermissions tells the same story.
    let (code, held) = s.call_as(
        Some(&kritis),
        "POST",
        &format!("/v1/projects/{GCP_PROJECT}:testIamPermissions"),
        Some(r#"{"permissions":["containeranalysis.occurrences.list","containeranalysis.notes.listOccurrences","containeranalysis.notes.list"]}"#),
    );
    assert_eq!(code, 200, "{held}");
    assert_eq!(
        held["permissions"],
        json!([
            "containeranalysis.occurrences.list",
            "containeranalysis.notes.listOccurrences"
        ])
    );
    // Another workload in the namespace was granted nothing.
    let other = k8s_token(&key, K8S_NAMESPACE, "other");
    assert_eq!(call(&other, "GET", &occurrences).0, 403);

    // The role changes, and so do the grants: exactly what it includes, nothing once deleted.
    gcloud(&[
        "iam",
        "roles",
        "update",
        "kritisRole",
        "--project",
        GCP_PROJECT,
        "--remove-permissions",
        "containeranalysis.occurrences.list",
    ]);
    assert_eq!(call(&kritis, "GET", &occurrences).0, 403);
    assert_eq!(call(&kritis, "GET", &note_occurrences).0, 200);
    gcloud(&[
        "iam",
        "roles",
        "delete",
        "kritisRole",
        "--project",
        GCP_PROJECT,
    ]);
    assert_eq!(call(&kritis, "GET", &note_occurrences).0, 403);
    gcloud(&[
        "iam",
        "roles",
        "undelete",
        "kritisRole",
        "--project",
        GCP_PROJECT,
    ]);
    assert_eq!(call(&kritis, "GET", &note_occurrences).0, 200);
    // Removing the Workload Identity binding ends the impersonation.
    gcloud(&[
        "iam",
        "service-accounts",
        "remove-iam-policy-binding",
        &kritis_sa,
        &format!("--member={member}"),
        "--role=roles/iam.workloadIdentityUser",
    ]);
    assert_eq!(call(&kritis, "GET", &note_occurrences).0, 403);

    // What gcloud refuses to do to a real project, admit refuses too, naming the reason.
    for (args, needle) in [
        (
            vec![
                "iam",
                "roles",
                "create",
                "bad",
                "--project",
                GCP_PROJECT,
                "--permissions",
                "storage.objects.get",
            ],
            "Permission storage.objects.get is not valid",
        ),
        (
            vec![
                "projects",
                "add-iam-policy-binding",
                GCP_PROJECT,
                "--member",
                "user:a@example.com",
                "--role",
                "projects/other-proj/roles/kritisRole",
            ],
            "custom role of project other-proj",
        ),
        (
            vec![
                "projects",
                "add-iam-policy-binding",
                GCP_PROJECT,
                "--member",
                "user:a@example.com",
                "--role",
                "projects/my-proj/roles/nope",
            ],
            "does not exist",
        ),
        (
            vec!["iam", "service-accounts", "create", "kritis"],
            "already exists",
        ),
        (
            vec!["iam", "service-accounts", "create", "k"],
            "accountId `k`",
        ),
    ] {
        let out = s.gcloud_raw_as(Some(&owner_token), &args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // Without credentials nothing of this is reachable.
    let anonymous = s.gcloud_raw(&["iam", "service-accounts", "list"]);
    assert!(!anonymous.status.success());
}
