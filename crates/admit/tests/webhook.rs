//! The admission webhook over real TLS, fed the AdmissionReviews captured from a real
//! kube-apiserver and objects made by `kubectl create … --dry-run=client -o json`; one named
//! test per bypass, plus dry-run, breakglass, every rule scope, every kind and the audit log.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::Command;
use std::sync::OnceLock;

use admit_testkit::{OpensslKey, SigMode};
use base64::Engine as _;
use serde_json::{Value, json};
use support::{Server, digest};

/// Copied from `../shared/fixtures/admission-review` (captured from a real kube-apiserver), so a
/// clone of this repository is self-contained.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/admission-review");
const APP: &str = "us-docker.pkg.dev/my-proj/prod/app";
const NGINX_DIGEST: &str =
    "sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31";

fn key() -> &'static OpensslKey {
    static K: OnceLock<OpensslKey> = OnceLock::new();
    K.get_or_init(|| OpensslKey::generate("p256"))
}

fn other_key() -> &'static OpensslKey {
    static K: OnceLock<OpensslKey> = OnceLock::new();
    K.get_or_init(|| OpensslKey::generate("p256"))
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A server with the webhook, the `built-by-ci` attestor (note `ci`) holding `key()`, and
/// `policy_yaml` imported.
fn setup(policy_yaml: &str, extra: &[&str]) -> Server {
    let s = Server::start_webhook(extra);
    let p = s.project.clone();
    for note in ["ci", "other-note"] {
        s.curl(
            "POST",
            &format!("/v1/projects/{p}/notes?noteId={note}"),
            Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
        );
    }
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{p}/notes/ci"), "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key().public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=built-by-ci"),
        Some(&attestor.to_string()),
    );
    import_policy(&s, policy_yaml);
    s
}

fn import_policy(s: &Server, yaml: &str) {
    let policy: Value = serde_saphyr::from_str(yaml).unwrap();
    s.curl(
        "PUT",
        &format!("/v1/projects/{}/policy", s.project),
        Some(&policy.to_string()),
    );
}

const REQUIRE: &str = "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy: [projects/my-proj/attestors/built-by-ci]\n";

/// Stores an attestation: `signed` names what the payload says, `claimed` the occurrence's
/// resource, `signer` the key that signs, `key_id` the id it claims, `note` the note.
fn attest_with(
    s: &Server,
    signed: &str,
    claimed: &str,
    signer: &OpensslKey,
    key_id: &str,
    note: &str,
) -> String {
    let payload = admit_crypto::create_signature_payload(signed).unwrap();
    let sig = signer.sign(SigMode::Dgst("sha256"), payload.as_bytes());
    let occ = json!({"resourceUri": claimed, "noteName": format!("projects/{}/notes/{note}", s.project), "attestation": {"serializedPayload": b64(payload.as_bytes()), "signatures": [{"publicKeyId": key_id, "signature": b64(&sig)}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{}/occurrences", s.project),
        Some(&occ.to_string()),
    )["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn attest(s: &Server, image: &str) -> String {
    attest_with(
        s,
        image,
        image,
        key(),
        &admit_crypto::pkix_key_id(&key().public_der()),
        "ci",
    )
}

/// `kubectl create <args> --dry-run=client -o json`.
fn kubectl(args: &[&str]) -> Value {
    let out = Command::new("kubectl")
        .args(args)
        .args(["--dry-run=client", "-o", "json"])
        .output()
        .expect("kubectl is on PATH");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Wraps an object in an AdmissionReview as the API server sends it.
fn review(object: &Value, operation: &str, sub_resource: Option<&str>) -> Value {
    let api = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let kind = object["kind"].as_str().unwrap();
    let mut r = json!({
        "uid": format!("uid-{}", digest(&object.to_string())[7..19].to_owned()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
        "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"].as_str().unwrap_or("default"),
        "operation": operation,
        "userInfo": {"username": "alice@example.com", "groups": ["system:authenticated"]},
        "object": object,
        "dryRun": false,
    });
    if let Some(sr) = sub_resource {
        r["subResource"] = json!(sr);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": r})
}

/// A Pod as a Deployment's controller would create it from the template `kubectl create
/// deployment` writes (`kubectl run --dry-run=client` needs an API server; this does not).
fn pod(name: &str, image: &str) -> Value {
    let d = kubectl(&[
        "create",
        "deployment",
        name,
        &format!("--image={image}"),
        "-n",
        "prod",
    ]);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "prod", "labels": d["spec"]["template"]["metadata"]["labels"]},
        "spec": d["spec"]["template"]["spec"],
    })
}

fn allowed(s: &Server, r: &Value) -> bool {
    let resp = s.review(r);
    assert_eq!(
        resp["response"]["uid"], r["request"]["uid"],
        "the response echoes the uid"
    );
    assert_eq!(resp["apiVersion"], r["apiVersion"]);
    resp["response"]["allowed"].as_bool().unwrap()
}

fn denial(s: &Server, r: &Value) -> String {
    let resp = s.review(r);
    assert_eq!(resp["response"]["allowed"], false, "{resp}");
    assert_eq!(resp["response"]["status"]["code"], 403);
    resp["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn captured_reviews_from_real_api_servers_are_answered_in_both_api_versions() {
    let s = setup(
        "defaultAdmissionRule:\n  evaluationMode: ALWAYS_ALLOW\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n",
        &[],
    );
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 10);
    for n in &names {
        let mut r = fixture(n);
        assert!(allowed(&s, &r), "{n}");
        r["apiVersion"] = json!("admission.k8s.io/v1beta1");
        let resp = s.review(&r);
        assert_eq!(resp["apiVersion"], "admission.k8s.io/v1beta1", "{n}");
        assert_eq!(resp["response"]["allowed"], true, "{n}");
    }
}

#[test]
fn require_attestation_on_captured_reviews_and_deploy_by_digest_message() {
    let s = setup(REQUIRE, &[]);
    let digest_pod = fixture("k8s-v1.26.4-003-pod-create-pod-digest.json");
    assert!(!allowed(&s, &digest_pod), "not attested yet");
    attest(&s, &format!("docker.io/library/nginx@{NGINX_DIGEST}"));
    assert!(
        allowed(&s, &digest_pod),
        "attested (the pod says `nginx@…`: normalised)"
    );
    assert!(allowed(
        &s,
        &fixture("k8s-v1.26.4-004-deployment-create-deploy-digest.json")
    ));
    let m = denial(&s, &fixture("k8s-v1.26.4-001-pod-create-pod-tag.json"));
    assert!(m.contains("by digest") && m.contains("nginx:1.25"), "{m}");
}

#[test]
fn bypass_update_that_swaps_the_image_is_denied() {
    let s = setup(REQUIRE, &[]);
    attest(&s, &format!("nginx@{NGINX_DIGEST}"));
    // The captured UPDATE swaps the attested digest for `nginx:1.26`.
    let m = denial(
        &s,
        &fixture("k8s-v1.26.4-005-deployment-update-deploy-digest.json"),
    );
    assert!(m.contains("nginx:1.26"), "{m}");
}

#[test]
fn bypass_ephemeral_container_added_through_the_subresource_is_denied() {
    let s = setup(REQUIRE, &[]);
    let good = format!("{APP}@{}", digest("app"));
    attest(&s, &good);
    let mut p = pod("web", &good);
    assert!(allowed(&s, &review(&p, "CREATE", None)));
    p["spec"]["ephemeralContainers"] =
        json!([{"name": "debugger", "image": "busybox:1.36", "targetContainerName": "web"}]);
    let m = denial(&s, &review(&p, "UPDATE", Some("ephemeralcontainers")));
    assert!(m.contains("busybox:1.36"), "{m}");
}

#[test]
fn bypass_init_container_with_an_unattested_image_is_denied() {
    let s = setup(REQUIRE, &[]);
    let good = format!("{APP}@{}", digest("app"));
    attest(&s, &good);
    let mut p = pod("web", &good);
    p["spec"]["initContainers"] =
        json!([{"name": "init", "image": format!("{APP}-init@{}", digest("init"))}]);
    let m = denial(&s, &review(&p, "CREATE", None));
    assert!(m.contains("-init@"), "{m}");
}

/// One test per image-bearing field of a pod spec (admit_model::IMAGE_FIELDS): an unattested
/// image in any of them denies the pod, whatever the other fields hold.
#[test]
fn bypass_every_image_bearing_field_is_checked() {
    let s = setup(REQUIRE, &[]);
    let good = format!("{APP}@{}", digest("app"));
    attest(&s, &good);
    assert!(allowed(&s, &review(&pod("web", &good), "CREATE", None)));
    let bad = format!("{APP}-other@{}", digest("other"));
    for field in admit_model::IMAGE_FIELDS {
        let mut p = pod("web", &good);
        let entry = match field {
            admit_model::ImageField::ImageVolume => {
                json!({"name": "data", "image": {"reference": bad, "pullPolicy": "IfNotPresent"}})
            }
            _ => json!({"name": "x", "image": bad}),
        };
        let list = field.list();
        match p["spec"][list].as_array_mut() {
            Some(a) => a.push(entry),
            None => p["spec"][list] = json!([entry]),
        }
        let m = denial(&s, &review(&p, "CREATE", None));
        assert!(m.contains("-other@"), "{list}: {m}");
    }
    // An image volume that names no image cannot be judged: refused.
    let mut p = pod("web", &good);
    p["spec"]["volumes"] = json!([{"name": "data", "image": {}}]);
    let resp = s.review(&review(&p, "CREATE", None));
    assert_eq!(resp["response"]["allowed"], false, "{resp}");
    let m = resp["response"]["status"]["message"].as_str().unwrap();
    assert!(m.contains("volumes[0] has no image.reference"), "{m}");
}

#[test]
fn bypass_name_tag_at_digest_is_decided_by_the_digest() {
    let s = setup(REQUIRE, &[]);
    let d = digest("app");
    attest(&s, &format!("{APP}@{d}"));
    assert!(allowed(
        &s,
        &review(&pod("a", &format!("{APP}:anything@{d}")), "CREATE", None)
    ));
    let m = denial(
        &s,
        &review(
            &pod("b", &format!("{APP}:v1@{}", digest("evil"))),
            "CREATE",
            None,
        ),
    );
    assert!(m.contains("no attestation"), "{m}");
}

#[test]
fn bypass_nginx_and_docker_io_library_nginx_are_the_same_image() {
    let policy = "admissionWhitelistPatterns:\n- namePattern: docker.io/library/nginx\ndefaultAdmissionRule:\n  evaluationMode: ALWAYS_DENY\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n";
    let s = setup(policy, &[]);
    for img in [
        "nginx",
        "nginx:1.25",
        "library/nginx:1",
        "index.docker.io/library/nginx",
        "docker.io/nginx",
    ] {
        assert!(
            allowed(&s, &review(&pod("n", img), "CREATE", None)),
            "{img}"
        );
    }
    for img in [
        "evil.io/library/nginx",
        "docker.io/library/nginx-evil",
        "gcr.io/nginx",
    ] {
        denial(&s, &review(&pod("n", img), "CREATE", None));
    }
    // And the other way round: the short pattern covers the long spelling.
    import_policy(&s, &policy.replace("docker.io/library/nginx", "nginx"));
    assert!(allowed(
        &s,
        &review(&pod("n", "docker.io/library/nginx:1.25"), "CREATE", None)
    ));
}

#[test]
fn bypass_glob_cannot_reach_another_host_or_a_deeper_path() {
    let s = setup(
        "admissionWhitelistPatterns:\n- namePattern: gcr.io/my-proj/*\ndefaultAdmissionRule:\n  evaluationMode: ALWAYS_DENY\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n",
        &[],
    );
    assert!(allowed(
        &s,
        &review(&pod("a", "gcr.io/my-proj/app:1"), "CREATE", None)
    ));
    for img in [
        "gcr.io.evil.com/my-proj/app",
        "evilgcr.io/my-proj/app",
        "gcr.io/my-proj/team/app",
        "gcr.io:8443/my-proj/app",
    ] {
        denial(&s, &review(&pod("b", img), "CREATE", None));
    }
}

#[test]
fn bypass_attestation_by_the_right_key_for_another_digest_is_denied() {
    let s = setup(REQUIRE, &[]);
    let target = format!("{APP}@{}", digest("target"));
    // Validly signed, but the payload is for another digest; the occurrence claims the target.
    attest_with(
        &s,
        &format!("{APP}@{}", digest("other")),
        &target,
        key(),
        &admit_crypto::pkix_key_id(&key().public_der()),
        "ci",
    );
    let m = denial(&s, &review(&pod("a", &target), "CREATE", None));
    assert!(m.contains("is for digest"), "{m}");
}

#[test]
fn bypass_signature_from_a_key_not_on_the_attestor_is_denied() {
    let s = setup(REQUIRE, &[]);
    let target = format!("{APP}@{}", digest("target"));
    attest_with(
        &s,
        &target,
        &target,
        other_key(),
        &admit_crypto::pkix_key_id(&key().public_der()),
        "ci",
    );
    attest_with(
        &s,
        &target,
        &target,
        other_key(),
        &admit_crypto::pkix_key_id(&other_key().public_der()),
        "ci",
    );
    let m = denial(&s, &review(&pod("a", &target), "CREATE", None));
    assert!(
        m.contains("does not verify") && m.contains("not one of"),
        "{m}"
    );
}

#[test]
fn bypass_attestation_under_another_note_is_denied() {
    let s = setup(REQUIRE, &[]);
    let target = format!("{APP}@{}", digest("target"));
    attest_with(
        &s,
        &target,
        &target,
        key(),
        &admit_crypto::pkix_key_id(&key().public_der()),
        "other-note",
    );
    let m = denial(&s, &review(&pod("a", &target), "CREATE", None));
    assert!(
        m.contains("no attestation by projects/my-proj/attestors/built-by-ci"),
        "{m}"
    );
}

#[test]
fn bypass_user_set_annotations_or_owner_references_do_not_pre_approve() {
    let s = setup(REQUIRE, &[]);
    let target = format!("{APP}@{}", digest("unattested"));
    let mut p = pod("a", &target);
    p["metadata"]["annotations"] = json!({
        "binaryauthorization.googleapis.com/attestations": "eyJhbGxvd2VkIjp0cnVlfQ==",
        "admit.dev/approved": "true",
        "alpha.image-policy.k8s.io/break-glass": "false",
    });
    p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-123", "uid": "1", "controller": true}]);
    denial(&s, &review(&p, "CREATE", None));
}

#[test]
fn store_failure_denies_with_a_reason() {
    let s = setup(REQUIRE, &[]);
    let target = format!("{APP}@{}", digest("target"));
    attest(&s, &target);
    assert!(allowed(&s, &review(&pod("a", &target), "CREATE", None)));
    // Break the database under the running server (the real sqlite3 shell).
    let db = s.data.path().join("admit.db");
    let out = Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(&db)
        .arg("DROP TABLE occurrences;")
        .output()
        .expect("sqlite3 is on PATH (apt-get install -y sqlite3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Warm reviews are answered from memory, which the change feed keeps true; it sees the
    // schema change within its poll period (20 ms) and starts over, reading the broken store.
    let started = std::time::Instant::now();
    let m = loop {
        let resp = s.review(&review(&pod("b", &target), "CREATE", None));
        if resp["response"]["allowed"] == false {
            assert_eq!(resp["response"]["status"]["code"], 403);
            break resp["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "still admitted 2 s after the store broke"
        );
    };
    assert!(
        m.contains("could not evaluate") && m.contains("fail closed"),
        "{m}"
    );
}

#[test]
fn dry_run_admits_with_a_warning_and_an_audit_record() {
    let s = setup(
        &REQUIRE.replace("ENFORCED_BLOCK_AND_AUDIT_LOG", "DRYRUN_AUDIT_LOG_ONLY"),
        &[],
    );
    let resp = s.review(&review(&pod("a", "nginx:1.25"), "CREATE", None));
    assert_eq!(resp["response"]["allowed"], true);
    let w = resp["response"]["warnings"][0].as_str().unwrap();
    assert!(
        w.contains("dry-run") && w.contains("nginx:1.25") && w.contains("by digest"),
        "{w}"
    );
    let records = s.curl(
        "GET",
        "/admit/v1/projects/my-proj/auditRecords?filter=dryRun%3Dtrue",
        None,
    );
    assert_eq!(records["auditRecords"][0]["verdict"], "DRY_RUN");
}

#[test]
fn breakglass_admits_is_audited_with_the_user_and_can_require_a_justification() {
    let s = setup(REQUIRE, &[]);
    // GKE's label works as the annotation does; any other value does not.
    let mut labelled = pod("labelled", "nginx:1.25");
    labelled["metadata"]["labels"] = json!({"image-policy.k8s.io/break-glass": "true"});
    assert!(allowed(&s, &review(&labelled, "CREATE", None)));
    labelled["metadata"]["labels"] = json!({"image-policy.k8s.io/break-glass": "yes"});
    denial(&s, &review(&labelled, "CREATE", None));
    let mut p = pod("a", "nginx:1.25");
    p["metadata"]["annotations"] = json!({"alpha.image-policy.k8s.io/break-glass": "true"});
    let resp = s.review(&review(&p, "CREATE", None));
    assert_eq!(resp["response"]["allowed"], true);
    assert!(
        resp["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("breakglass")
    );
    // On a Deployment's pod template.
    let mut d = kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "-n",
        "prod",
    ]);
    d["spec"]["template"]["metadata"]["annotations"] =
        json!({"alpha.image-policy.k8s.io/break-glass": "true"});
    assert!(allowed(&s, &review(&d, "CREATE", None)));
    let records = s.curl(
        "GET",
        "/admit/v1/projects/my-proj/auditRecords?filter=breakglass%3Dtrue",
        None,
    );
    let records = records["auditRecords"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["user"], "alice@example.com");
    assert_eq!(records[0]["verdict"], "BREAKGLASS");

    let strict = setup(
        REQUIRE,
        &[
            "--breakglass-justification-annotation",
            "admit.dev/justification",
        ],
    );
    let m = denial(&strict, &review(&p, "CREATE", None));
    assert!(m.contains("admit.dev/justification"), "{m}");
    p["metadata"]["annotations"]["admit.dev/justification"] = json!("INC-1234: prod outage");
    assert!(allowed(&strict, &review(&p, "CREATE", None)));
}

#[test]
fn every_rule_scope_applies() {
    let deny = "evaluationMode: ALWAYS_DENY\n    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG";
    let allow_default = "defaultAdmissionRule:\n  evaluationMode: ALWAYS_ALLOW\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n";
    let cases = [
        (
            format!("clusterAdmissionRules:\n  us-east1.prod:\n    {deny}\n"),
            "clusterAdmissionRules",
        ),
        (
            format!("kubernetesNamespaceAdmissionRules:\n  prod:\n    {deny}\n"),
            "kubernetesNamespaceAdmissionRules",
        ),
        (
            format!("kubernetesServiceAccountAdmissionRules:\n  prod:builder:\n    {deny}\n"),
            "kubernetesServiceAccountAdmissionRules",
        ),
        (
            format!(
                "istioServiceIdentityAdmissionRules:\n  spiffe://mesh.example/ns/prod/sa/builder:\n    {deny}\n"
            ),
            "istioServiceIdentityAdmissionRules",
        ),
    ];
    let s = setup(
        allow_default,
        &[
            "--cluster",
            "us-east1.prod",
            "--istio-trust-domain",
            "mesh.example",
        ],
    );
    for (rules, scope) in cases {
        import_policy(&s, &format!("{allow_default}{rules}"));
        let mut p = pod("a", "nginx:1.25");
        p["spec"]["serviceAccountName"] = json!("builder");
        let m = denial(&s, &review(&p, "CREATE", None));
        assert!(m.contains(scope), "{scope}: {m}");
        // The same pod elsewhere falls back to the default rule.
        let mut elsewhere = p.clone();
        elsewhere["metadata"]["namespace"] = json!("dev");
        let r = review(&elsewhere, "CREATE", None);
        if scope == "clusterAdmissionRules" {
            denial(&s, &r);
        } else {
            assert!(allowed(&s, &r), "{scope}");
        }
    }
}

#[test]
fn every_workload_kind_is_enforced_and_unknown_kinds_are_documented() {
    let s = setup(REQUIRE, &[]);
    let img = "nginx:1.25";
    let objects = vec![
        kubectl(&[
            "create",
            "deployment",
            "d",
            &format!("--image={img}"),
            "-n",
            "prod",
        ]),
        kubectl(&[
            "create",
            "job",
            "j",
            &format!("--image={img}"),
            "-n",
            "prod",
        ]),
        kubectl(&[
            "create",
            "cronjob",
            "c",
            &format!("--image={img}"),
            "--schedule=* * * * *",
            "-n",
            "prod",
        ]),
    ];
    let template = kubectl(&[
        "create",
        "deployment",
        "t",
        &format!("--image={img}"),
        "-n",
        "prod",
    ]);
    let mut all = objects;
    for (api, kind) in [
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("v1", "ReplicationController"),
        ("serving.knative.dev/v1", "Service"),
        ("argoproj.io/v1alpha1", "Rollout"),
    ] {
        let mut o = template.clone();
        o["apiVersion"] = json!(api);
        o["kind"] = json!(kind);
        all.push(o);
    }
    for o in &all {
        let m = denial(&s, &review(o, "CREATE", None));
        assert!(m.contains(img), "{}: {m}", o["kind"]);
        denial(&s, &review(o, "UPDATE", None));
    }
    // A kind with no pod spec cannot run an image: admitted with a warning.
    let cm = kubectl(&[
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=b",
        "-n",
        "prod",
    ]);
    let resp = s.review(&review(&cm, "CREATE", None));
    assert_eq!(resp["response"]["allowed"], true);
    assert!(
        resp["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("does not know kind")
    );
    // A container without an image is refused, not skipped.
    let mut p = pod("x", img);
    p["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("image");
    assert!(denial(&s, &review(&p, "CREATE", None)).contains("has no image"));
}

#[test]
fn caches_never_answer_from_stale_data() {
    let s = setup(REQUIRE, &[]);
    let p = s.project.clone();
    let target = format!("{APP}@{}", digest("cached"));
    let occ = attest(&s, &target);
    let r = review(&pod("a", &target), "CREATE", None);
    assert!(allowed(&s, &r));
    assert!(allowed(&s, &r), "answered from the cache");
    // Key rotation: the attestor loses the key → denied at once.
    let mut a = s.curl(
        "GET",
        &format!("/v1/projects/{p}/attestors/built-by-ci"),
        None,
    );
    a["userOwnedGrafeasNote"]["publicKeys"] = json!([{"pkixPublicKey": {"publicKeyPem": other_key().public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]);
    s.curl(
        "PUT",
        &format!("/v1/projects/{p}/attestors/built-by-ci"),
        Some(&a.to_string()),
    );
    denial(&s, &r);
    // Rotate back, allowed again; then delete the attestation → denied.
    a["userOwnedGrafeasNote"]["publicKeys"] = json!([{"pkixPublicKey": {"publicKeyPem": key().public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]);
    a.as_object_mut().unwrap().remove("etag");
    s.curl(
        "PUT",
        &format!("/v1/projects/{p}/attestors/built-by-ci"),
        Some(&a.to_string()),
    );
    assert!(allowed(&s, &r));
    s.curl("DELETE", &format!("/v1/{occ}"), None);
    denial(&s, &r);
    // A policy change applies at once.
    attest(&s, &target);
    assert!(allowed(&s, &r));
    import_policy(
        &s,
        "defaultAdmissionRule:\n  evaluationMode: ALWAYS_DENY\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n",
    );
    denial(&s, &r);
}

#[test]
fn audit_log_records_every_decision_and_admit_audit_list_filters_them() {
    let s = setup(REQUIRE, &["--cluster", "us-east1.prod"]);
    let target = format!("{APP}@{}", digest("audited"));
    attest(&s, &target);
    assert!(allowed(&s, &review(&pod("ok", &target), "CREATE", None)));
    denial(&s, &review(&pod("bad", "nginx:1.25"), "CREATE", None));
    let admit = |filter: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_admit"))
            .args(["audit", "list", "--filter", filter, "--format", "json"])
            .env("ADMIT_SERVER", &s.url)
            .env("ADMIT_PROJECT", "my-proj")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let denied = admit("verdict=DENIED");
    let denied = denied.as_array().unwrap();
    assert_eq!(denied.len(), 1);
    let r = &denied[0];
    assert_eq!(r["name"], "bad");
    assert_eq!(r["namespace"], "prod");
    assert_eq!(r["cluster"], "us-east1.prod");
    assert_eq!(r["kind"], "Pod");
    assert_eq!(r["user"], "alice@example.com");
    assert_eq!(r["images"][0]["image"], "nginx:1.25");
    assert_eq!(
        r["images"][0]["rule"]["evaluationMode"],
        "REQUIRE_ATTESTATION"
    );
    assert!(
        r["images"][0]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("by digest")
    );
    let allowed_records = admit("verdict=ALLOWED AND namespace=prod");
    assert_eq!(
        allowed_records[0]["images"][0]["digest"],
        target.rsplit_once('@').unwrap().1
    );
    // The log also holds the administrative changes (policy import, attestor, KMS).
    let all = admit("");
    let (admin, admission): (Vec<&Value>, Vec<&Value>) = all
        .as_array()
        .unwrap()
        .iter()
        .partition(|r| r["verdict"] == "ADMIN_CHANGE");
    assert_eq!(admission.len(), 2);
    assert!(
        admin
            .iter()
            .any(|r| r["permission"] == "binaryauthorization.policy.update"),
        "{all}"
    );
    // The filter is the Logging query language: a field no entry has matches nothing (as in
    // Cloud Logging), and a filter that does not parse is refused naming where.
    assert_eq!(admit("colour=red"), serde_json::json!([]));
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["audit", "list", "--filter", "verdict=(DENIED"])
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", "my-proj")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("filter at offset 8: `(` is not closed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn malformed_reviews_are_refused() {
    let s = setup(REQUIRE, &[]);
    let url = format!("{}/validate", s.webhook.as_ref().unwrap());
    for body in [
        "{not json",
        r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}"#,
        r#"{"apiVersion":"v1","kind":"Pod"}"#,
    ] {
        let out = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(s.data.path().join("ca.crt"))
            .args(["-X", "POST", "--data-binary", body, &url])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "400", "{body}");
    }
}

#[test]
fn image_reviews_from_the_image_policy_webhook_plugin_are_decided_the_same_way() {
    let s = setup(REQUIRE, &[]);
    let target = format!("{APP}@{}", digest("image-review"));
    attest(&s, &target);
    let ask = |images: &[&str], annotations: Value| {
        let containers: Vec<Value> = images.iter().map(|i| json!({"image": i})).collect();
        let body = json!({"apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview",
            "spec": {"containers": containers, "annotations": annotations, "namespace": "prod"}});
        let (code, text) = s.webhook_call("/imagepolicy", &body.to_string());
        assert_eq!(code, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["apiVersion"], "imagepolicy.k8s.io/v1alpha1");
        assert_eq!(v["kind"], "ImageReview");
        v["status"].clone()
    };
    let ok = ask(&[&target], json!({}));
    assert_eq!(ok["allowed"], true, "{ok}");
    let denied = ask(&[&target, "nginx:1.25"], json!({}));
    assert_eq!(denied["allowed"], false);
    assert!(
        denied["reason"]
            .as_str()
            .unwrap()
            .contains("projects/my-proj/attestors/built-by-ci"),
        "{denied}"
    );
    let glass = ask(
        &["nginx:1.25"],
        json!({"alpha.image-policy.k8s.io/break-glass": "true"}),
    );
    assert_eq!(glass["allowed"], true);
    assert_eq!(glass["auditAnnotations"]["break-glass"], "true");
    assert!(
        glass["auditAnnotations"]["overridden-verification-result"]
            .as_str()
            .unwrap()
            .contains("Image nginx:1.25 denied by"),
        "{glass}"
    );
    // Malformed reviews are refused naming the field (the plugin then applies defaultAllow).
    for (body, needle) in [
        (
            json!({"apiVersion": "v1", "kind": "ImageReview"}),
            "apiVersion",
        ),
        (
            json!({"apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview", "spec": {}}),
            "spec.containers",
        ),
        (
            json!({"apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview", "spec": {"containers": [{}]}}),
            "spec.containers[0].image",
        ),
        (
            json!({"apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview", "spec": {"containers": [{"image": "a"}], "annotations": {"x": 1}}}),
            "spec.annotations.x",
        ),
    ] {
        let (code, text) = s.webhook_call("/imagepolicy", &body.to_string());
        assert_eq!(code, 400, "{body}");
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // Each decision is in the audit log, as a Pod in the review's namespace.
    let records = s.curl(
        "GET",
        "/admit/v1/projects/my-proj/auditRecords?filter=namespace%3Dprod",
        None,
    );
    assert_eq!(records["auditRecords"].as_array().map(Vec::len), Some(3));
}
