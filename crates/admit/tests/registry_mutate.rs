//! Issue 15, parts 1 and 2: tags resolved to digests by the mutating webhook (`POST /mutate`),
//! against a real registry (Debian's `docker-registry` with TLS and htpasswd, images pushed
//! with `skopeo`; `support/registry.rs`), with credentials from a docker `config.json` and the
//! registry's CA from `--registry-ca-file`. The patched Pod then goes through the validating
//! webhook, which judges the digest.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::sync::OnceLock;

use admit_testkit::{OpensslKey, SigMode};
use base64::Engine as _;
use serde_json::{Value, json};
use support::registry::{PASSWORD, Registry, USER};
use support::{Server, path_str};

fn key() -> &'static OpensslKey {
    static K: OnceLock<OpensslKey> = OnceLock::new();
    K.get_or_init(|| OpensslKey::generate("p256"))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The attestor `built-by-ci` (note `ci`, `key()`) and `policy` as the project's policy.
fn setup(s: &Server, policy: &Value) {
    let p = &s.project;
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{p}/notes/ci"), "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key().public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=built-by-ci"),
        Some(&attestor.to_string()),
    );
    s.curl(
        "PUT",
        &format!("/v1/projects/{p}/policy"),
        Some(&policy.to_string()),
    );
}

fn require(enforcement: &str, exempt: &[&str]) -> Value {
    json!({
        "admissionWhitelistPatterns": exempt.iter().map(|p| json!({"namePattern": p})).collect::<Vec<_>>(),
        "defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": enforcement,
            "requireAttestationsBy": ["projects/my-proj/attestors/built-by-ci"]}})
}

fn attest(s: &Server, image: &str) {
    let payload = admit_crypto::create_signature_payload(image).unwrap();
    let sig = key().sign(SigMode::Dgst("sha256"), payload.as_bytes());
    let occ = json!({"resourceUri": image, "noteName": format!("projects/{}/notes/ci", s.project), "attestation": {"serializedPayload": b64(payload.as_bytes()), "signatures": [{"publicKeyId": admit_crypto::pkix_key_id(&key().public_der()), "signature": b64(&sig)}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{}/occurrences", s.project),
        Some(&occ.to_string()),
    );
}

fn pod(name: &str, images: &[&str], annotations: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "prod", "annotations": annotations},
        "spec": {"containers": images.iter().enumerate()
            .map(|(i, im)| json!({"name": format!("c{i}"), "image": im})).collect::<Vec<_>>()}})
}

/// Waits (up to 10 s) for a stdout line (an audit record) that `wanted` accepts.
fn await_stdout(s: &Server, what: &str, wanted: impl Fn(&str) -> bool) {
    let start = std::time::Instant::now();
    while !s.stdout.lock().unwrap().iter().any(|l| wanted(l)) {
        assert!(
            start.elapsed().as_secs() < 10,
            "{what}: {:?}",
            s.stdout.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn review_of(object: &Value, uid: &str) -> Value {
    let api = object["apiVersion"].as_str().unwrap();
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": group, "version": version, "kind": object["kind"]},
        "operation": "CREATE", "namespace": "prod", "name": object["metadata"]["name"],
        "userInfo": {"username": "dev@example.com"}, "object": object}})
}

fn mutate(s: &Server, object: &Value, uid: &str) -> Value {
    let (code, body) = s.webhook_call("/mutate?timeout=10s", &review_of(object, uid).to_string());
    assert_eq!(code, 200, "{body}");
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["response"]["uid"], uid);
    r["response"].clone()
}

/// Admitted, with nothing changed and nothing to warn about.
fn untouched(r: &Value) {
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r.get("patch").is_none() && r.get("warnings").is_none(),
        "{r}"
    );
}

/// Applies the response's JSONPatch as the API server does (this webhook sends only `test`
/// and `replace`; a failed `test` fails the whole patch).
fn apply(object: &Value, response: &Value) -> Value {
    assert_eq!(response["patchType"], "JSONPatch", "{response}");
    let ops: Vec<Value> = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(response["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut out = object.clone();
    for op in ops {
        let at = out
            .pointer_mut(op["path"].as_str().unwrap())
            .expect("patch path exists");
        match op["op"].as_str().unwrap() {
            "test" => assert_eq!(*at, op["value"], "test op failed"),
            "replace" => *at = op["value"].clone(),
            other => panic!("unexpected op {other}"),
        }
    }
    out
}

#[test]
fn tags_become_the_digest_the_registry_serves_and_validation_judges_it() {
    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    assert!(digest.starts_with("sha256:"), "{digest}");
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), true, &["--registry-tag-cache-seconds", "2"]);
    setup(&s, &require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]));
    let image = format!("{}/team/app:v1", reg.host);
    let object = pod("web", &[&image, &image], &json!({}));

    let response = mutate(&s, &object, "m-1");
    assert_eq!(response["allowed"], true, "{response}");
    let patched = apply(&object, &response);
    let pinned = format!("{image}@{digest}");
    assert_eq!(patched["spec"]["containers"][0]["image"], pinned.as_str());
    assert_eq!(patched["spec"]["containers"][1]["image"], pinned.as_str());
    assert_eq!(
        response["auditAnnotations"]["resolved-images"],
        format!("{image} -> {digest}, {image} -> {digest}")
    );

    // The validating webhook judges that digest: denied unattested, admitted once attested,
    // and its audit record names the pinned image.
    let r = s.review(&review_of(&patched, "v-1"));
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(
        r["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains(&digest),
        "{r}"
    );
    attest(&s, &format!("{}/team/app@{digest}", reg.host));
    let r = s.review(&review_of(&patched, "v-2"));
    assert_eq!(r["response"]["allowed"], true, "{r}");
    // The audit records (one JSON line each on stdout) name the pinned image.
    await_stdout(&s, &format!("no audit record names {pinned}"), |l| {
        l.contains(&pinned) && l.contains("v-2")
    });

    // The tag moves: within the tag cache's 2 s the old digest is served, then the new one.
    let moved = reg.push("team/app", "v1", "two");
    assert_ne!(moved, digest);
    let again = apply(&object, &mutate(&s, &object, "m-2"));
    assert_eq!(again["spec"]["containers"][0]["image"], pinned.as_str());
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let later = apply(&object, &mutate(&s, &object, "m-2b"));
    assert_eq!(
        later["spec"]["containers"][0]["image"],
        format!("{image}@{moved}").as_str()
    );

    // Registry calls are measured; cache hits are not calls.
    let metrics = s.curl_text("/metrics");
    let count = |outcome: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("admit_registry_call_duration_seconds_count")
                    && l.contains("operation=\"resolve\"")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or(0.0)
    };
    // m-1 (one call for two containers), then m-2b after the cache expired; m-2 was cached.
    assert_eq!(count("ok"), 2.0, "{metrics}");

    // A tag the registry does not have: denied with the registry's own error.
    let missing = pod(
        "gone",
        &[&format!("{}/team/app:nope", reg.host)],
        &json!({}),
    );
    let response = mutate(&s, &missing, "m-3");
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(message.contains("cannot resolve"), "{message}");
    assert!(message.contains("manifest unknown"), "{message}");
}

#[test]
fn resolution_failures_deny_unless_breakglass_or_dry_run_and_exempt_images_cost_no_call() {
    let reg = Registry::start();
    reg.push("team/app", "v1", "one");
    // Wrong credentials.
    let config = reg.docker_config(USER, "wrong");
    let s = reg.serve(config.path(), true, &["--registry-tag-cache-seconds", "0"]);
    // An exempt pattern for a registry that does not exist: any call to it would fail.
    setup(
        &s,
        &require("ENFORCED_BLOCK_AND_AUDIT_LOG", &["127.0.0.1:9/exempt/*"]),
    );
    let image = format!("{}/team/app:v1", reg.host);
    let r = mutate(&s, &pod("web", &[&image], &json!({})), "w-1");
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(message.contains(&reg.host), "{message}");
    assert!(
        message.to_lowercase().contains("not authorized"),
        "the registry's refusal is passed on: {message}"
    );

    // Breakglass: admitted unresolved with a warning (the validating webhook records it).
    let r = mutate(
        &s,
        &pod(
            "urgent",
            &[&image],
            &json!({"alpha.image-policy.k8s.io/break-glass": "true"}),
        ),
        "w-2",
    );
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r.get("patch").is_none(), "{r}");
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("because breakglass"),
        "{r}"
    );

    // Exempt: no call at all (a call to 127.0.0.1:9 would fail), no patch.
    let r = mutate(
        &s,
        &pod("ex", &["127.0.0.1:9/exempt/tool:1"], &json!({})),
        "w-3",
    );
    untouched(&r);

    // ALWAYS_ALLOW: no call either.
    s.curl(
        "PUT",
        "/v1/projects/my-proj/policy",
        Some(r#"{"defaultAdmissionRule": {"evaluationMode": "ALWAYS_ALLOW", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}}"#),
    );
    let r = mutate(
        &s,
        &pod("any", &["127.0.0.1:9/nowhere/app:1"], &json!({})),
        "w-4",
    );
    untouched(&r);

    // A dry-run rule: the failure is a warning, not a denial.
    s.curl(
        "PUT",
        "/v1/projects/my-proj/policy",
        Some(&require("DRYRUN_AUDIT_LOG_ONLY", &[]).to_string()),
    );
    let r = mutate(&s, &pod("dry", &[&image], &json!({})), "w-5");
    assert_eq!(r["allowed"], true, "{r}");
    assert!(
        r["warnings"][0].as_str().unwrap().contains("dry-run"),
        "{r}"
    );

    // Without credentials at all (anonymous), the registry's challenge is the answer.
    let empty = tempfile::tempdir().unwrap();
    let anon = reg.serve(empty.path(), true, &[]);
    setup(&anon, &require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]));
    let r = mutate(&anon, &pod("web", &[&image], &json!({})), "w-6");
    assert_eq!(r["allowed"], false, "{r}");

    // Without the CA, TLS to the registry fails closed.
    let no_ca = Server::start_webhook(&["--docker-config", path_str(config.path())]);
    setup(&no_ca, &require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]));
    let r = mutate(&no_ca, &pod("web", &[&image], &json!({})), "w-7");
    assert_eq!(r["allowed"], false, "{r}");
}

/// The whole path through a real kube-apiserver: admit registered as a mutating and a
/// validating webhook; `kubectl run` with a tag creates a Pod pinned to the digest, which the
/// validating webhook admitted because that digest is attested.
#[test]
fn kubectl_run_by_tag_creates_a_pod_pinned_to_the_attested_digest() {
    use support::kapi::Kapi;
    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), true, &[]);
    setup(&s, &require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]));
    attest(&s, &format!("{}/team/app@{digest}", reg.host));

    let k = Kapi::start("");
    let ca = b64(&std::fs::read(s.data.path().join("ca.crt")).unwrap());
    let url = |path: &str| format!("{}{path}", s.webhook.as_deref().unwrap());
    let rules = json!([{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]);
    let configs = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "admit-resolve"},
         "webhooks": [{"name": "resolve.admit.dev", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 10, "reinvocationPolicy": "Never",
            "clientConfig": {"url": url("/mutate"), "caBundle": ca}, "rules": rules}]},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": "admit-validate"},
         "webhooks": [{"name": "validate.admit.dev", "admissionReviewVersions": ["v1"], "sideEffects": "NoneOnDryRun",
            "failurePolicy": "Fail", "timeoutSeconds": 10,
            "clientConfig": {"url": url("/validate"), "caBundle": ca}, "rules": rules}]}]});
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("webhooks.json");
    std::fs::write(&f, configs.to_string()).unwrap();
    let out = k.kubectl(&["apply", "-f", path_str(&f)]);
    assert!(out.status.success(), "{}", support::stderr(&out));

    // Once the API server calls the webhooks, an unknown tag is refused with the registry's
    // error.
    let start = std::time::Instant::now();
    let refusal = loop {
        let out = k.kubectl(&[
            "run",
            "missing",
            "--image",
            &format!("{}/team/app:nope", reg.host),
            "--restart=Never",
        ]);
        let said = support::stderr(&out);
        if !out.status.success() && said.contains("cannot resolve") {
            break said;
        }
        if out.status.success() {
            let _ = k.kubectl(&["delete", "pod", "missing", "--wait=false"]);
        }
        assert!(
            start.elapsed().as_secs() < 30,
            "the webhooks never took effect: {said}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert!(refusal.contains("manifest unknown"), "{refusal}");

    let image = format!("{}/team/app:v1", reg.host);
    let out = k.kubectl(&["run", "web", "--image", &image, "--restart=Never"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let out = k.kubectl(&[
        "get",
        "pod",
        "web",
        "-o",
        "jsonpath={.spec.containers[0].image}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{image}@{digest}")
    );
}

/// docker's credential helpers: `credHelpers` names `docker-credential-NAME`, run with the
/// registry on stdin; its answer authenticates the resolution.
#[test]
fn a_docker_credential_helper_supplies_the_credentials() {
    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let asked = dir.path().join("asked");
    let helper = bin.join("docker-credential-admit-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat > {asked}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$(cat {asked})\"\n",
            asked = asked.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("docker");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        json!({"credHelpers": {reg.host.clone(): "admit-test"}}).to_string(),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let s = Server::start_webhook_env(
        &[
            "--registry-ca-file",
            path_str(&reg.ca_file()),
            "--docker-config",
            path_str(&config),
        ],
        &[("PATH", &path)],
    );
    setup(&s, &require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]));
    let image = format!("{}/team/app:v1", reg.host);
    let object = pod("web", &[&image], &json!({}));
    let response = mutate(&s, &object, "h-1");
    assert_eq!(response["allowed"], true, "{response}");
    let patched = apply(&object, &response);
    assert_eq!(
        patched["spec"]["containers"][0]["image"],
        format!("{image}@{digest}").as_str()
    );
    assert_eq!(std::fs::read_to_string(&asked).unwrap(), reg.host);
}

/// The note `release` and the attestor `signed-by-release`, whose one key, `release`, is
/// marked `admitCosign`.
fn cosign_attestor(s: &Server, release: &OpensslKey) {
    let p = &s.project;
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=release"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"release"}}}"#),
    );
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{p}/notes/release"),
        "publicKeys": [{"pkixPublicKey": {"publicKeyPem": release.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}, "admitCosign": true}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=signed-by-release"),
        Some(&attestor.to_string()),
    );
}

/// admit extension: an attestor key marked `admitCosign` is a cosign key, so a cosign
/// signature stored in the registry satisfies that attestor. One policy then demands a
/// Grafeas attestation by CI and a cosign signature by the release key.
#[test]
fn one_policy_demands_a_grafeas_attestation_and_a_cosign_signature() {
    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), true, &["--registry-tag-cache-seconds", "0"]);
    let release = OpensslKey::generate("p256");
    let p = s.project.clone();
    cosign_attestor(&s, &release);
    let mut policy = require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]);
    policy["defaultAdmissionRule"]["requireAttestationsBy"] = json!([
        "projects/my-proj/attestors/built-by-ci",
        "projects/my-proj/attestors/signed-by-release"
    ]);
    setup(&s, &policy);
    // The extension round-trips through the API.
    let a = s.curl(
        "GET",
        &format!("/v1/projects/{p}/attestors/signed-by-release"),
        None,
    );
    assert_eq!(
        a["userOwnedGrafeasNote"]["publicKeys"][0]["admitCosign"], true,
        "{a}"
    );

    // An update that does not know the extension (gcloud's) keeps it.
    let mut plain = a;
    plain["userOwnedGrafeasNote"]["publicKeys"][0]
        .as_object_mut()
        .unwrap()
        .remove("admitCosign");
    plain["description"] = json!("release signing");
    let updated = s.curl(
        "PUT",
        &format!("/v1/projects/{p}/attestors/signed-by-release"),
        Some(&plain.to_string()),
    );
    assert_eq!(
        updated["userOwnedGrafeasNote"]["publicKeys"][0]["admitCosign"], true,
        "{updated}"
    );

    let image = format!("{}/team/app:v1", reg.host);
    let object = apply(
        &pod("web", &[&image], &json!({})),
        &mutate(&s, &pod("web", &[&image], &json!({})), "c-0"),
    );
    let pinned = format!("{}/team/app@{digest}", reg.host);
    let verdict = |uid: &str| {
        let r = s.review(&review_of(&object, uid));
        (
            r["response"]["allowed"].as_bool().unwrap(),
            r["response"]["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    // Neither: both attestors are named in the denial, the cosign one with where it looked.
    let (allowed, why) = verdict("c-1");
    assert!(!allowed);
    assert!(why.contains("no cosign signatures are stored"), "{why}");
    // The Grafeas attestation alone is not enough.
    attest(&s, &pinned);
    let (allowed, why) = verdict("c-2");
    assert!(!allowed, "{why}");
    assert!(why.contains("signed-by-release"), "{why}");
    // A cosign signature by another key is not either.
    let stranger = OpensslKey::generate("p256");
    let payload = json!({"critical": {"identity": {"docker-reference": format!("{}/team/app", reg.host)},
        "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"}, "optional": null})
    .to_string()
    .into_bytes();
    let layer = |k: &OpensslKey| {
        let mut a = serde_json::Map::new();
        a.insert(
            "dev.cosignproject.cosign/signature".into(),
            json!(b64(&k.sign(SigMode::Dgst("sha256"), &payload))),
        );
        (payload.clone(), a)
    };
    reg.push_cosign("team/app", &digest, &[layer(&stranger)]);
    let (allowed, why) = verdict("c-3");
    assert!(!allowed);
    assert!(
        why.contains("signature 0 is not verified by any trusted key"),
        "{why}"
    );
    // cosign's layout holds every signature of the image: the release key's signature joins.
    reg.push_cosign("team/app", &digest, &[layer(&stranger), layer(&release)]);
    let (allowed, why) = verdict("c-4");
    assert!(allowed, "{why}");
    // The audit record says which signature satisfied the attestor.
    await_stdout(&s, "no audit record names the signature", |l| {
        l.contains("c-4") && l.contains(&format!("sha256-{}.sig#1", &digest[7..]))
    });
    // Revoking the release key takes the signature's weight away.
    let mut revoked = s.curl(
        "GET",
        &format!("/v1/projects/{p}/attestors/signed-by-release"),
        None,
    );
    let key_id = revoked["userOwnedGrafeasNote"]["publicKeys"][0]["id"].clone();
    revoked["admitRevokedKeys"] = json!([{"keyId": key_id, "reason": "leaked"}]);
    s.curl(
        "PUT",
        &format!("/v1/projects/{p}/attestors/signed-by-release"),
        Some(&revoked.to_string()),
    );
    let (allowed, why) = verdict("c-5");
    assert!(!allowed, "{why}");
    assert!(why.contains("revoked"), "{why}");
}

/// A Sigstore bundle signed by an attestor's cosign key (`cosign sign --key …
/// --new-bundle-format`, stored as a referrer) satisfies the attestor as a `.sig` signature does,
/// and the audit record names the bundle.
#[test]
fn a_key_signed_sigstore_bundle_satisfies_a_cosign_attestor() {
    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    let other = reg.push("team/app", "v2", "two");
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), true, &["--registry-tag-cache-seconds", "0"]);
    let release = OpensslKey::generate("p256");
    cosign_attestor(&s, &release);
    let mut policy = require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]);
    policy["defaultAdmissionRule"]["requireAttestationsBy"] =
        json!(["projects/my-proj/attestors/signed-by-release"]);
    setup(&s, &policy);
    const SIGN: &str = "https://sigstore.dev/cosign/sign/v1";
    reg.push_bundle(
        "team/app",
        &digest,
        &support::sigstore::key_bundle(&digest, &release),
        SIGN,
    );
    // A bundle by the same key about v1, stored with v2: the statement names another digest.
    reg.push_bundle(
        "team/app",
        &other,
        &support::sigstore::key_bundle(&digest, &release),
        SIGN,
    );
    let verdict = |d: &str, uid: &str| {
        let image = format!("{}/team/app@{d}", reg.host);
        let r = s.review(&review_of(&pod("web", &[&image], &json!({})), uid));
        (
            r["response"]["allowed"].as_bool().unwrap(),
            r["response"]["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    let (allowed, why) = verdict(&digest, "b-1");
    assert!(allowed, "{why}");
    let (allowed, why) = verdict(&other, "b-2");
    assert!(!allowed);
    assert!(
        why.contains(&format!("statement's subject is not {other}")),
        "{why}"
    );
    await_stdout(&s, "no audit record names the bundle", |l| {
        l.contains("b-1") && l.contains(&format!("sha256-{}.sig#bundle-0", &digest[7..]))
    });
}

/// Controllers' pod templates are pinned only with `--mutate-pod-templates`.
#[test]
fn pod_templates_are_pinned_only_when_asked() {
    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    let config = reg.docker_config(USER, PASSWORD);
    let image = format!("{}/team/app:v1", reg.host);
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"initContainers": [{"name": "init", "image": image}],
                     "containers": [{"name": "c", "image": image}]}}}});
    let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "prod"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}}});
    let ca = reg.ca_file();
    for templates in [false, true] {
        let mut flags = vec![
            "--registry-ca-file",
            path_str(&ca),
            "--docker-config",
            path_str(config.path()),
        ];
        if templates {
            flags.push("--mutate-pod-templates");
        }
        let s = Server::start_webhook(&flags);
        setup(&s, &require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]));
        let r = mutate(&s, &deployment, "d-1");
        assert_eq!(r["allowed"], true, "{r}");
        let r2 = mutate(&s, &cronjob, "d-2");
        if !templates {
            assert!(
                r.get("patch").is_none() && r2.get("patch").is_none(),
                "{r} {r2}"
            );
            continue;
        }
        let pinned = format!("{image}@{digest}");
        let d = apply(&deployment, &r);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            pinned.as_str()
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["initContainers"][0]["image"],
            pinned.as_str()
        );
        let c = apply(&cronjob, &r2);
        assert_eq!(
            c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"],
            pinned.as_str()
        );
    }
}

/// A registry that accepts connections and never answers: the mutation is denied within the
/// API server's deadline, naming the timeout, and while it waits, reviews beyond
/// `--webhook-max-in-flight` are shed with 503 instead of queueing.
#[test]
fn a_registry_that_never_answers_costs_a_bounded_wait_and_a_bounded_queue() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming() {
            held.push(c); // accepted, never read or answered
        }
    });
    let s = Server::start_webhook(&["--webhook-max-in-flight", "1"]);
    setup(&s, &require("ENFORCED_BLOCK_AND_AUDIT_LOG", &[]));
    let object = pod(
        "web",
        &[&format!("127.0.0.1:{port}/team/app:v1")],
        &json!({}),
    );
    let body = review_of(&object, "slow").to_string();
    std::thread::scope(|t| {
        let waiting = t.spawn(|| {
            let started = std::time::Instant::now();
            let r = s.webhook_call("/mutate?timeout=3s", &body);
            (r, started.elapsed())
        });
        std::thread::sleep(std::time::Duration::from_millis(700));
        let (code, shed) = s.webhook_call("/mutate?timeout=3s", &body);
        assert_eq!(code, 503, "{shed}");
        let ((code, answer), took) = waiting.join().unwrap();
        assert_eq!(code, 200, "{answer}");
        let r: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(r["response"]["allowed"], false, "{r}");
        let message = r["response"]["status"]["message"].as_str().unwrap();
        assert!(message.contains("did not answer for"), "{message}");
        assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    });
}
