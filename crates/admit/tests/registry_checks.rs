//! Issue 15, part 4 (begun): a GKE platform policy's `imageFreshnessCheck`, judged from the
//! image config a real registry serves (Debian's `docker-registry`, images pushed with
//! `skopeo`), through `platforms/gke/policies/{id}:evaluate`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use serde_json::{Value, json};
use support::Server;
use support::registry::{PASSWORD, Registry, USER};

fn evaluate(s: &Server, image: &str) -> Value {
    s.curl(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies/fresh:evaluate",
        Some(
            &json!({"resource": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "c", "image": image}]}}})
            .to_string(),
        ),
    )
}

fn check_result(r: &Value) -> (&str, &str) {
    let c = &r["results"][0]["imageResults"][0]["checkSetResult"]["checkResults"]["results"][0];
    (
        c["evaluationResult"]["verdict"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}")),
        c["explanation"].as_str().unwrap_or(""),
    )
}

#[test]
fn image_freshness_is_judged_from_the_config_the_registry_serves_and_cached_by_digest() {
    let reg = Registry::start();
    // The server's clock is real: one image built a day ago, one last January.
    let (now, _) = admit_model_now();
    let recent = admit_model::rfc3339(now - 86_400, 0);
    let fresh = reg.push_created("team/app", "fresh", "one", &recent);
    let stale = reg.push_created("team/app", "stale", "two", "2026-01-01T00:00:00Z");
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), false, &[]);
    s.curl(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies?policyId=fresh",
        Some(
            &json!({"gkePolicy": {"checkSets": [{"displayName": "fresh", "checks": [
                {"displayName": "a week at most", "imageFreshnessCheck": {"maxUploadAgeDays": 7}}]}]}})
            .to_string(),
        ),
    );
    let fresh_image = format!("{}/team/app@{fresh}", reg.host);
    let r = evaluate(&s, &fresh_image);
    assert_eq!(r["verdict"], "CONFORMANT", "{r}");
    let (v, why) = check_result(&r);
    assert_eq!(v, "CONFORMANT");
    assert!(
        why.contains(&format!(
            "built {recent} (1 days ago, by the image config's `created` time"
        )),
        "{why}"
    );

    let r = evaluate(&s, &format!("{}/team/app@{stale}", reg.host));
    assert_eq!(r["verdict"], "NON_CONFORMANT", "{r}");
    let (_, why) = check_result(&r);
    assert!(why.contains("built 2026-01-01T00:00:00Z"), "{why}");
    assert!(why.contains("older than maxUploadAgeDays 7"), "{why}");

    // A tag is not an image: the check needs the digest.
    let r = evaluate(&s, &format!("{}/team/app:fresh", reg.host));
    assert_eq!(check_result(&r).0, "NON_CONFORMANT", "{r}");
    assert!(check_result(&r).1.contains("needs a digest"), "{r}");

    // Cached by digest: with the registry gone the answer stands (no call); an image never
    // fetched is an ERROR naming the registry's failure.
    drop(reg);
    let r = evaluate(&s, &fresh_image);
    assert_eq!(r["verdict"], "CONFORMANT", "{r}");
    let unknown = format!(
        "{}/team/app@sha256:{}",
        fresh_image.split('/').next().unwrap(),
        "0".repeat(64)
    );
    let r = evaluate(&s, &unknown);
    let (v, why) = check_result(&r);
    assert_eq!(v, "ERROR", "{r}");
    assert!(why.starts_with("imageFreshnessCheck: "), "{why}");
}

fn admit_model_now() -> (u64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (d.as_secs(), d.subsec_nanos())
}

fn cosign_payload(repo: &str, digest: &str) -> Vec<u8> {
    // What `cosign sign` writes (sigstore/cosign specs/SIGNATURE_SPEC.md, "Simple Signing").
    json!({"critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": digest},
        "type": "cosign container image signature"}, "optional": null})
    .to_string()
    .into_bytes()
}

fn signed(
    key: &admit_testkit::OpensslKey,
    payload: Vec<u8>,
) -> (Vec<u8>, serde_json::Map<String, Value>) {
    use base64::Engine as _;
    let sig = key.sign(admit_testkit::SigMode::Dgst("sha256"), &payload);
    let mut a = serde_json::Map::new();
    a.insert(
        "dev.cosignproject.cosign/signature".into(),
        json!(base64::engine::general_purpose::STANDARD.encode(sig)),
    );
    (payload, a)
}

#[test]
fn sigstore_signature_check_verifies_cosign_signatures_stored_in_the_registry() {
    let reg = Registry::start();
    let signed_digest = reg.push("team/app", "signed", "one");
    let other_digest = reg.push("team/app", "other", "two");
    let unsigned_digest = reg.push("team/app", "unsigned", "three");
    let repo = format!("{}/team/app", reg.host);
    let key = admit_testkit::OpensslKey::generate("p256");
    let stranger = admit_testkit::OpensslKey::generate("p256");
    // A valid signature by `key`; for the other image, one by a stranger and one by `key` over
    // the wrong digest (a replayed signature).
    reg.push_cosign(
        "team/app",
        &signed_digest,
        &[signed(&key, cosign_payload(&repo, &signed_digest))],
    );
    reg.push_cosign(
        "team/app",
        &other_digest,
        &[
            signed(&stranger, cosign_payload(&repo, &other_digest)),
            signed(&key, cosign_payload(&repo, &signed_digest)),
        ],
    );
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), false, &[]);
    let policy = |pem: &str| {
        json!({"gkePolicy": {"checkSets": [{"displayName": "signed", "checks": [
            {"displayName": "cosign", "sigstoreSignatureCheck": {"sigstoreAuthorities": [
                {"displayName": "release", "publicKeySet": {"publicKeys": [{"publicKeyPem": pem}]}}]}}]}]}})
    };
    s.curl(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies?policyId=fresh",
        Some(&policy(&key.public_pem).to_string()),
    );

    let r = evaluate(&s, &format!("{repo}@{signed_digest}"));
    assert_eq!(r["verdict"], "CONFORMANT", "{r}");
    let (_, why) = check_result(&r);
    assert!(
        why.contains("verified by authority 0 (release), key 0")
            && why.contains(&format!("sha256-{}.sig", &signed_digest[7..])),
        "{why}"
    );

    let r = evaluate(&s, &format!("{repo}@{other_digest}"));
    assert_eq!(r["verdict"], "NON_CONFORMANT", "{r}");
    let (_, why) = check_result(&r);
    assert!(
        why.contains("signature 0 is not verified by any trusted key"),
        "{why}"
    );
    assert!(
        why.contains(&format!(
            "signature 1 signs {signed_digest}, not {other_digest}"
        )),
        "{why}"
    );

    let r = evaluate(&s, &format!("{repo}@{unsigned_digest}"));
    assert_eq!(r["verdict"], "NON_CONFORMANT", "{r}");
    assert!(
        check_result(&r)
            .1
            .contains("no cosign signatures are stored"),
        "{r}"
    );

    // A key that is not a key is refused when the policy is written, naming the field.
    let (code, err) = s.call(
        "PUT",
        "/v1/projects/my-proj/platforms/gke/policies/fresh",
        Some(&policy("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").to_string()),
    );
    assert_eq!(code, 400, "{err}");
    assert!(
        err.to_string()
            .contains("sigstoreAuthorities[0].publicKeySet.publicKeys[0].publicKeyPem"),
        "{err}"
    );

    // Warm: the signatures were cached, so the verdict stands with the registry gone.
    drop(reg);
    let r = evaluate(&s, &format!("{repo}@{signed_digest}"));
    assert_eq!(r["verdict"], "CONFORMANT", "{r}");
}

/// A signature made by the real cosign (sigstore-rs' test corpus, `tests/data/cosign/SOURCE.md`),
/// stored in cosign's layout for the digest it signs, verified through the platform policy.
#[test]
fn a_signature_made_by_the_real_cosign_is_verified() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign");
    let public = std::fs::read_to_string(data.join("sigstore-rs.pub")).unwrap();
    let payload = std::fs::read(data.join("sigstore-rs.payload.json")).unwrap();
    let sig = std::fs::read_to_string(data.join("sigstore-rs.sig.b64")).unwrap();
    let digest = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";
    let reg = Registry::start();
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        "dev.cosignproject.cosign/signature".into(),
        json!(sig.trim()),
    );
    // Only the signature manifest is read: the image itself need not be in the registry.
    reg.push_cosign("busybox", digest, &[(payload, annotations)]);
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), false, &[]);
    let policy = |pem: &str| {
        json!({"gkePolicy": {"checkSets": [{"checks": [{"sigstoreSignatureCheck": {"sigstoreAuthorities": [
            {"publicKeySet": {"publicKeys": [{"publicKeyPem": pem}]}}]}}]}]}})
    };
    s.curl(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies?policyId=fresh",
        Some(&policy(&public).to_string()),
    );
    let image = format!("{}/busybox@{digest}", reg.host);
    let r = evaluate(&s, &image);
    assert_eq!(r["verdict"], "CONFORMANT", "{r}");
    // The other key of sigstore-rs' negative test does not verify it.
    s.curl(
        "PUT",
        "/v1/projects/my-proj/platforms/gke/policies/fresh",
        Some(
            &policy("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETJP9cqpUQsn2ggmJniWGjHdlsHzD\nJsB89BPhZYch0U0hKANx5TY+ncrm0s8bfJxxHoenAEFhwhuXeb4PqIrtoQ==\n-----END PUBLIC KEY-----\n")
                .to_string(),
        ),
    );
    let r = evaluate(&s, &image);
    assert_eq!(r["verdict"], "NON_CONFORMANT", "{r}");
}

/// `admit images describe`: seed 000's `gcloud container images describe … --format=
/// 'get(image_summary.digest)'` answered for a tag through the registry, plus admit's view of
/// the image, and the exit code of the current policy's verdict.
#[test]
fn admit_images_describe_answers_the_digest_and_what_admit_knows() {
    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), false, &[]);
    let p = &s.project;
    let key = admit_testkit::OpensslKey::generate("p256");
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/attestors?attestorId=built-by-ci"),
        Some(&json!({"userOwnedGrafeasNote": {"noteReference": format!("projects/{p}/notes/ci"), "publicKeys": [{"pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}}).to_string()),
    );
    s.curl(
        "PUT",
        &format!("/v1/projects/{p}/policy"),
        Some(&json!({"defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
            "requireAttestationsBy": [format!("projects/{p}/attestors/built-by-ci")]}}).to_string()),
    );
    for (cve, sev) in [
        ("CVE-2026-0001", "HIGH"),
        ("CVE-2026-0002", "HIGH"),
        ("CVE-2026-0003", "LOW"),
    ] {
        s.curl(
            "POST",
            &format!("/v1/projects/{p}/notes?noteId={cve}"),
            Some(&json!({"vulnerability": {"severity": sev}}).to_string()),
        );
        s.curl(
            "POST",
            &format!("/v1/projects/{p}/occurrences"),
            Some(&json!({"resourceUri": format!("https://{}/team/app@{digest}", reg.host), "noteName": format!("projects/{p}/notes/{cve}"),
                "vulnerability": {"severity": sev, "effectiveSeverity": sev}}).to_string()),
        );
    }
    let admit = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_admit"))
            .args(["images", "describe"])
            .args(args)
            .args(["--server", &s.url, "--project", p])
            .output()
            .unwrap()
    };
    let image = format!("{}/team/app:v1", reg.host);
    // Seed 000's question, by tag.
    let out = admit(&[&image, "--format", "get(image_summary.digest)"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), digest);

    let out = admit(&[&image, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["image_summary"]["fully_qualified_digest"],
        format!("{}/team/app@{digest}", reg.host)
    );
    assert_eq!(v["image_summary"]["repository"], "team/app");
    assert_eq!(v["digestFrom"], "the registry");
    assert_eq!(v["vulnerabilities"]["HIGH"], 2, "{v}");
    assert_eq!(v["vulnerabilities"]["LOW"], 1, "{v}");
    assert_eq!(v["cosignSignatures"]["count"], 0, "{v}");
    assert_eq!(v["attestors"][0]["satisfied"], false, "{v}");
    assert_eq!(v["verdict"]["verdict"], "DENIED", "{v}");

    // Attested: the attestor is satisfied by that occurrence, and the verdict (exit 0) admits.
    let pinned = format!("{}/team/app@{digest}", reg.host);
    let payload = admit_crypto::create_signature_payload(&pinned).unwrap();
    let sig = key.sign(admit_testkit::SigMode::Dgst("sha256"), payload.as_bytes());
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let occ = s.curl(
        "POST",
        &format!("/v1/projects/{p}/occurrences"),
        Some(&json!({"resourceUri": pinned, "noteName": format!("projects/{p}/notes/ci"), "attestation": {"serializedPayload": b64(payload.as_bytes()),
            "signatures": [{"publicKeyId": admit_crypto::pkix_key_id(&key.public_der()), "signature": b64(&sig)}]}}).to_string()),
    );
    let out = admit(&[&pinned, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["digestFrom"], "the reference");
    assert_eq!(v["attestors"][0]["satisfied"], true, "{v}");
    assert_eq!(v["attestors"][0]["by"]["occurrence"], occ["name"], "{v}");
    assert_eq!(v["verdict"]["verdict"], "ALLOWED", "{v}");

    // A tag the registry does not have: an error naming the registry's answer, exit 1.
    let out = admit(&[&format!("{}/team/app:nope", reg.host)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("manifest unknown"),
        "{}",
        support::stderr(&out)
    );
}

/// cosign's OCI 1.1 mode: signatures stored as referrers of the image. Debian's registry has no
/// referrers API, so they are found through the referrers tag schema, as cosign writes it there.
#[test]
fn cosign_signatures_stored_as_oci_referrers_are_found() {
    let reg = Registry::start();
    let digest = reg.push("team/app", "v1", "one");
    let repo = format!("{}/team/app", reg.host);
    let key = admit_testkit::OpensslKey::generate("p256");
    let stranger = admit_testkit::OpensslKey::generate("p256");
    // The `.sig` tag holds only a stranger's signature; the referrer holds the trusted one.
    reg.push_cosign(
        "team/app",
        &digest,
        &[signed(&stranger, cosign_payload(&repo, &digest))],
    );
    reg.push_cosign_referrer(
        "team/app",
        &digest,
        &[signed(&key, cosign_payload(&repo, &digest))],
    );
    let config = reg.docker_config(USER, PASSWORD);
    let s = reg.serve(config.path(), false, &[]);
    s.curl(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies?policyId=fresh",
        Some(
            &json!({"gkePolicy": {"checkSets": [{"checks": [{"sigstoreSignatureCheck": {"sigstoreAuthorities": [
                {"publicKeySet": {"publicKeys": [{"publicKeyPem": key.public_pem}]}}]}}]}]}})
            .to_string(),
        ),
    );
    let r = evaluate(&s, &format!("{repo}@{digest}"));
    assert_eq!(r["verdict"], "CONFORMANT", "{r}");
    let (_, why) = check_result(&r);
    assert!(
        why.contains("cosign signature 1"),
        "the referrer's signature follows the tag's: {why}"
    );
}
