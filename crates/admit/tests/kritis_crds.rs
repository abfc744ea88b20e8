//! Issue 14, part 1: Kritis' custom resources from a real kube-apiserver (tools/kapi). The CRDs
//! of `deploy/crds/` are applied with kubectl; `admit serve --watch-kubernetes` enforces the
//! objects within a second of `kubectl apply` and forgets them on `kubectl delete`; until its
//! first list has completed it denies every review. Seed 001's manifests (also through
//! `kubectl run`, with the webhook registered with the API server), Kritis' integration
//! test data (typed `publicKeys`, with Kritis' own signing keys) and Kritis' examples (keys in a
//! Secret, an ImageSecurityPolicy that attests what passes) load and behave as in Kritis. An
//! object that does not compile denies its namespace; the schemas refuse bad values.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use support::kapi::Kapi;
use support::{Server, digest, path_str};

const P: &str = "my-proj";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/kritis")
        .join(name)
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `kubectl apply -f` of `yaml` (written to a file); panics on failure.
fn apply(k: &Kapi, dir: &Path, name: &str, yaml: &str) {
    let f = dir.join(name);
    std::fs::write(&f, yaml).unwrap();
    let out = k.kubectl(&["apply", "-f", path_str(&f)]);
    assert!(
        out.status.success(),
        "kubectl apply {name}: {}\n{}",
        text(&out),
        k.log()
            .lines()
            .skip_while(|l| !l.contains("fatal error") && !l.starts_with("panic"))
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Registers admit's webhook with the API server (clientConfig by URL, with admit's CA), for
/// pods only, so `kubectl run` is decided by it.
fn register_webhook(k: &Kapi, s: &Server, dir: &Path) {
    let ca = std::fs::read(s.data.path().join("ca.crt")).unwrap();
    let config = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "admit-kritis"},
        "webhooks": [{"name": "validate.admit.dev", "admissionReviewVersions": ["v1"], "sideEffects": "NoneOnDryRun",
            "failurePolicy": "Fail", "timeoutSeconds": 10,
            "clientConfig": {"url": format!("{}/validate", s.webhook.as_deref().unwrap()), "caBundle": b64(&ca)},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}]}]});
    let f = dir.join("webhook.json");
    std::fs::write(&f, config.to_string()).unwrap();
    let out = k.kubectl(&["apply", "-f", path_str(&f)]);
    assert!(out.status.success(), "{}", text(&out));
}

fn pod(namespace: &str, image: &str) -> Value {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
        "namespace": namespace, "name": "test", "userInfo": {"username": "joe"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test", "namespace": namespace},
                   "spec": {"containers": [{"name": "hello", "image": image}]}}}})
}

fn admit(s: &Server, namespace: &str, image: &str) -> (bool, String) {
    let r = s.review(&pod(namespace, image));
    (
        r["response"]["allowed"].as_bool().unwrap(),
        r["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

/// Polls the webhook until `want` holds for the verdict on `image` in `namespace`, for at most
/// `limit`; returns how long it took, or panics with the last answer.
fn until(
    s: &Server,
    namespace: &str,
    image: &str,
    limit: Duration,
    want: impl Fn(bool, &str) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let (ok, msg) = admit(s, namespace, image);
        if want(ok, &msg) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "after {limit:?}, {image} in {namespace}: allowed={ok} {msg}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The atomic container signature of `repo@sha`, `gpg -a --sign`ed by `uid`, stored under
/// `note` through the v1 REST API.
fn sign(s: &Server, gpg: &admit_testkit::Gpg, uid: &str, note: &str, repo: &str, sha: &str) {
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{repo}"}},"image":{{"docker-manifest-digest":"{sha}"}},"type":"atomic container signature"}},"optional":null}}"#
    );
    let signature = gpg.sign(uid, &["-a", "--sign"], payload.as_bytes());
    let project = note.split('/').nth(1).unwrap();
    let occurrence = json!({
        "resourceUri": format!("https://{repo}@{sha}"),
        "noteName": note,
        "attestation": {"serializedPayload": b64(payload.as_bytes()),
                        "signatures": [{"publicKeyId": gpg.fingerprint(uid), "signature": b64(&signature)}]},
    });
    s.curl(
        "POST",
        &format!("/v1/projects/{project}/occurrences"),
        Some(&occurrence.to_string()),
    );
}

fn note(s: &Server, name: &str) {
    let (project, id) = name
        .strip_prefix("projects/")
        .unwrap()
        .split_once("/notes/")
        .unwrap();
    s.curl(
        "POST",
        &format!("/v1/projects/{project}/notes?noteId={id}"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"kritis"}}}"#),
    );
}

/// A Trivy report: a finished scan with the given (CVE, severity, fixed version) findings.
fn import(s: &Server, image: &str, findings: &[(&str, &str, Option<&str>)]) {
    let vulns: Vec<Value> = findings
        .iter()
        .map(|(cve, sev, fix)| {
            let mut v = json!({"VulnerabilityID": cve, "PkgName": "libc6", "InstalledVersion": "2.23", "Severity": sev, "Status": "affected"});
            if let Some(f) = fix {
                v["FixedVersion"] = json!(f);
                v["Status"] = json!("fixed");
            }
            v
        })
        .collect();
    let report = json!({"SchemaVersion": 2, "ArtifactName": "x", "ArtifactType": "container_image",
        "Results": [{"Target": "x (debian 12)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": vulns}]});
    let f = s.write(
        &format!("scan-{}.json", &digest(image)[7..15]),
        &report.to_string(),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["vulns", "import", "--format", "trivy", path_str(&f)])
        .args(["--image", image])
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn kritis_custom_resources_from_the_api_server() {
    let k = Kapi::start("");
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_webhook(&[
        "--watch-kubernetes",
        "--kubeconfig",
        path_str(&k.kubeconfig),
    ]);
    s.curl(
        "PUT",
        &format!("/v1/projects/{P}/policy"),
        Some(r#"{"defaultAdmissionRule":{"evaluationMode":"ALWAYS_ALLOW","enforcementMode":"ENFORCED_BLOCK_AND_AUDIT_LOG"}}"#),
    );
    let nginx = format!("gcr.io/{P}/nginx@{}", digest("nginx"));

    // No CRDs yet: nothing has been listed, so every review fails closed, saying why.
    let (ok, msg) = admit(&s, "other", &nginx);
    assert!(
        !ok && msg.contains("not yet listed the Kritis policies"),
        "{msg}"
    );

    // The CRDs; once admit's watch has listed them, a namespace without Kritis policies is
    // left to the project policy (ALWAYS_ALLOW here), as in Kritis.
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds/kritis.yaml");
    let out = k.kubectl(&["apply", "-f", path_str(&crds)]);
    assert!(out.status.success(), "{}", text(&out));
    let out = k.kubectl(&[
        "wait",
        "--for=condition=established",
        "--timeout=60s",
        "crd/attestationauthorities.kritis.grafeas.io",
        "crd/genericattestationpolicies.kritis.grafeas.io",
        "crd/imagesecuritypolicies.kritis.grafeas.io",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    until(&s, "default", &nginx, Duration::from_secs(60), |ok, _| ok);

    // Seed 001's AttestationAuthority and GenericAttestationPolicy, as the seed applies them.
    let gpg = admit_testkit::Gpg::new();
    gpg.generate("joe@example.com", "rsa2048", "sign");
    let seed_note = format!("projects/{P}/notes/seal-of-approval");
    note(&s, &seed_note);
    apply(
        &k,
        dir.path(),
        "seed-001.yaml",
        &format!(
            "apiVersion: kritis.grafeas.io/v1beta1
kind: AttestationAuthority
metadata:
  name: seal-of-approval
  namespace: default
spec:
  noteReference: projects/{P}
  publicKeyData: {}
---
apiVersion: kritis.grafeas.io/v1beta1
kind: GenericAttestationPolicy
metadata:
  name: seal-of-approval-policy
  namespace: default
spec:
  attestationAuthorityNames:
  - seal-of-approval
",
            b64(gpg.export("joe@example.com").as_bytes())
        ),
    );
    let took = until(&s, "default", &nginx, Duration::from_secs(5), |ok, _| !ok);
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    let (_, msg) = admit(&s, "default", &nginx);
    assert!(
        msg.contains("GenericAttestationPolicy default/seal-of-approval-policy")
            && msg.contains("not attested by AttestationAuthority seal-of-approval"),
        "{msg}"
    );
    // Other namespaces are not Kritis-enforced.
    assert!(admit(&s, "other", &nginx).0);
    let (repo, sha) = nginx.split_once('@').unwrap();
    sign(&s, &gpg, "joe@example.com", &seed_note, repo, sha);
    let (ok, msg) = admit(&s, "default", &nginx);
    assert!(ok, "{msg}");

    // The same through the API server, as seed 001 runs it: the webhook registered, then
    // `kubectl run` of an unsigned image is denied by the GAP and the signed one created.
    register_webhook(&k, &s, dir.path());
    let unsigned_pod = format!("gcr.io/{P}/cloud-sdk@{}", digest("cloud-sdk"));
    let start = Instant::now();
    let denial = loop {
        let out = k.kubectl(&[
            "run",
            "test-unsigned",
            "--image",
            &unsigned_pod,
            "--restart=Never",
        ]);
        let t = text(&out);
        if !out.status.success()
            && t.contains("GenericAttestationPolicy default/seal-of-approval-policy")
        {
            break t;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{t}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(denial.contains("denied the request"), "{denial}");
    let out = k.kubectl(&["run", "test", "--image", &nginx, "--restart=Never"]);
    assert!(out.status.success(), "{}", text(&out));

    // Kritis' integration test data, verbatim: typed `publicKeys` (keyType PGP, keyId), and a
    // GAP requiring both authorities. Kritis' own test keys expired on 2022-03-23, so an
    // attestation made with them (at a time they were valid) is refused for that reason.
    let ns = "kritis-it";
    assert!(k.kubectl(&["create", "namespace", ns]).status.success());
    let mut it = String::new();
    for f in [
        "test-attestor-1.yaml",
        "test-attestor-2.yaml",
        "my-gap.yaml",
    ] {
        it.push_str(
            &std::fs::read_to_string(data(f))
                .unwrap()
                .replace("{{ .Project }}", P),
        );
        it.push_str("\n---\n");
    }
    let it_file = dir.path().join("kritis-it.yaml");
    std::fs::write(&it_file, it).unwrap();
    let out = k.kubectl(&["apply", "-n", ns, "-f", path_str(&it_file)]);
    assert!(out.status.success(), "{}", text(&out));
    let app = format!("gcr.io/{P}/java@{}", digest("java"));
    let (repo, sha) = app.split_once('@').unwrap();
    until(&s, ns, &app, Duration::from_secs(5), |ok, msg| {
        !ok && msg.contains("not attested by AttestationAuthority test-attestor-1")
            && msg.contains("not attested by AttestationAuthority test-attestor-2")
    });
    let kritis_key = admit_testkit::Gpg::new();
    kritis_key.run(
        &["--import"],
        &std::fs::read(data("attestor-1-secret-key.pgp")).unwrap(),
    );
    let n1 = format!("projects/{P}/notes/test-attestor-1");
    note(&s, &n1);
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{repo}"}},"image":{{"docker-manifest-digest":"{sha}"}},"type":"atomic container signature"}},"optional":null}}"#
    );
    let signature = kritis_key.sign_at(
        "20210101T000000",
        "attestor@example.com",
        &["-a", "--sign"],
        payload.as_bytes(),
    );
    let occurrence = json!({"resourceUri": format!("https://{app}"), "noteName": n1,
        "attestation": {"serializedPayload": b64(payload.as_bytes()), "signatures": [
            {"publicKeyId": "88D27A9C701BD8391D372E5CCD415CBF850E2029", "signature": b64(&signature)}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/occurrences"),
        Some(&occurrence.to_string()),
    );
    let (ok, msg) = admit(&s, ns, &app);
    assert!(
        !ok && msg.contains("88D27A9C701BD8391D372E5CCD415CBF850E2029 expired"),
        "{msg}"
    );
    // The same shape with live keys: each authority's attestation is needed, both admit.
    let live = "kritis-live";
    assert!(k.kubectl(&["create", "namespace", live]).status.success());
    let signers: Vec<admit_testkit::Gpg> = (0..2).map(|_| admit_testkit::Gpg::new()).collect();
    // A YAML stream (kubectl would read a file starting with `{` as JSON only).
    let mut yaml = String::from("---\n");
    for (i, g) in signers.iter().enumerate() {
        g.generate("attestor@example.com", "rsa2048", "sign");
        let template = std::fs::read_to_string(data(&format!("test-attestor-{}.yaml", i + 1)))
            .unwrap()
            .replace("{{ .Project }}", P);
        // Kritis' manifest with this key in place of the expired one.
        let mut doc: Value = serde_saphyr::from_str(&template).unwrap();
        doc["spec"]["publicKeys"][0]["keyId"] = json!(g.fingerprint("attestor@example.com"));
        doc["spec"]["publicKeys"][0]["asciiArmoredPgpPublicKey"] =
            json!(b64(g.export("attestor@example.com").as_bytes()));
        yaml.push_str(&doc.to_string());
        yaml.push_str("\n---\n");
    }
    yaml.push_str(&std::fs::read_to_string(data("my-gap.yaml")).unwrap());
    let live_file = dir.path().join("kritis-live.yaml");
    std::fs::write(&live_file, yaml).unwrap();
    let out = k.kubectl(&["apply", "-n", live, "-f", path_str(&live_file)]);
    assert!(out.status.success(), "{}", text(&out));
    until(&s, live, &app, Duration::from_secs(5), |ok, msg| {
        !ok && msg.contains("GenericAttestationPolicy kritis-live/my-gap")
    });
    note(&s, &format!("projects/{P}/notes/test-attestor-2"));
    sign(&s, &signers[0], "attestor@example.com", &n1, repo, sha);
    let (ok, msg) = admit(&s, live, &app);
    assert!(
        !ok && msg.contains("AttestationAuthority test-attestor-2")
            && !msg.contains("AttestationAuthority test-attestor-1"),
        "one of two authorities is not enough: {msg}"
    );
    sign(
        &s,
        &signers[1],
        "attestor@example.com",
        &format!("projects/{P}/notes/test-attestor-2"),
        repo,
        sha,
    );
    let (ok, msg) = admit(&s, live, &app);
    assert!(ok, "{msg}");

    // Kritis' examples: the AttestationAuthority's key lives in a Secret (`public`, `private`),
    // and the ImageSecurityPolicy attests, with that Secret's key, every image that passes it.
    let ex = "examples";
    assert!(k.kubectl(&["create", "namespace", ex]).status.success());
    let authority = admit_testkit::Gpg::new();
    authority.generate("kritis@example.com", "rsa2048", "sign");
    let public = dir.path().join("public");
    let private = dir.path().join("private");
    std::fs::write(&public, authority.export("kritis@example.com")).unwrap();
    std::fs::write(&private, authority.export_secret("kritis@example.com")).unwrap();
    let out = k.kubectl(&[
        "create",
        "secret",
        "generic",
        "kritis-authority-key",
        "-n",
        ex,
        &format!("--from-file=public={}", path_str(&public)),
        &format!("--from-file=private={}", path_str(&private)),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    for f in [
        "attestation-authority-example.yaml",
        "image-security-policy-example.yaml",
        "generic-attestation-policy-example.yaml",
    ] {
        // The examples say `namespace: default`; moved to their own namespace, unchanged
        // otherwise, so that seed 001's policy in `default` does not apply to them.
        let yaml = std::fs::read_to_string(data(f))
            .unwrap()
            .replace("namespace: default", &format!("namespace: {ex}"));
        apply(&k, dir.path(), f, &yaml);
    }
    let good = format!("gcr.io/{P}/helloworld-app@{}", digest("hello"));
    let bad = format!("gcr.io/{P}/vulnerable@{}", digest("vulnerable"));
    import(&s, &good, &[("CVE-2024-0001", "MEDIUM", Some("2.24"))]);
    import(&s, &bad, &[("CVE-2024-0002", "CRITICAL", Some("2.24"))]);
    // The image over the threshold is denied by the ISP (and not attested).
    until(&s, ex, &bad, Duration::from_secs(5), |ok, msg| {
        !ok && msg.contains("ImageSecurityPolicy examples/my-isp")
    });
    // A Kubernetes dry run changes nothing: the image passes the ISP but is not attested, so
    // the GAP still denies it and the authority's note does not exist yet.
    let mut dry = pod(ex, &good);
    dry["request"]["dryRun"] = json!(true);
    let r = s.review(&dry);
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let (code, _) = s.call(
        "GET",
        "/v1/projects/kritis-test1/notes/kritis-authority/occurrences",
        None,
    );
    assert_eq!(code, 404, "a dry run attested nothing");
    // The image within it passes the ISP, is attested under the authority's note (created, as
    // Kritis did) and so satisfies the GAP in the same review.
    let (ok, msg) = admit(&s, ex, &good);
    assert!(ok, "{msg}");
    let occs = s.curl(
        "GET",
        "/v1/projects/kritis-test1/notes/kritis-authority/occurrences",
        None,
    );
    let occs = occs["occurrences"].as_array().unwrap();
    assert_eq!(occs.len(), 1, "{occs:?}");
    let (_, good_sha) = good.split_once('@').unwrap();
    assert!(
        occs[0]["resourceUri"].as_str().unwrap().ends_with(good_sha),
        "{occs:?}"
    );
    assert_eq!(
        occs[0]["attestation"]["signatures"][0]["publicKeyId"],
        json!(authority.fingerprint("kritis@example.com"))
    );
    // Attested once: the next review finds the attestation and attests nothing more.
    assert!(admit(&s, ex, &good).0);
    let occs = s.curl(
        "GET",
        "/v1/projects/kritis-test1/notes/kritis-authority/occurrences",
        None,
    );
    assert_eq!(occs["occurrences"].as_array().unwrap().len(), 1);

    // An object that does not compile denies its namespace instead of being skipped.
    let broken = "broken";
    assert!(k.kubectl(&["create", "namespace", broken]).status.success());
    apply(
        &k,
        dir.path(),
        "broken.yaml",
        "apiVersion: kritis.grafeas.io/v1beta1
kind: AttestationAuthority
metadata:
  name: bad-key
  namespace: broken
spec:
  noteReference: projects/my-proj
  publicKeys:
  - keyType: PGP
    asciiArmoredPgpPublicKey: bm90IGEga2V5
",
    );
    until(&s, broken, &nginx, Duration::from_secs(5), |ok, msg| {
        !ok && msg.contains("cannot be evaluated")
            && msg.contains("AttestationAuthority broken/bad-key")
            && msg.contains("spec.publicKeys[0].asciiArmoredPgpPublicKey")
    });

    // The schemas refuse what Kritis silently accepted (seed 001's caveat).
    let bad_isp = dir.path().join("bad-isp.yaml");
    std::fs::write(
        &bad_isp,
        "apiVersion: kritis.grafeas.io/v1beta1
kind: ImageSecurityPolicy
metadata:
  name: typo
  namespace: default
spec:
  packageVulnerabilityRequirements:
    maximumSeverity: SEVERE
",
    )
    .unwrap();
    let out = k.kubectl(&["apply", "-f", path_str(&bad_isp)]);
    assert!(!out.status.success());
    assert!(text(&out).contains("maximumSeverity"), "{}", text(&out));

    // Deleting the seed's GAP takes it away: unsigned images are admitted in `default` again.
    let unsigned = format!("gcr.io/{P}/unsigned@{}", digest("unsigned"));
    assert!(!admit(&s, "default", &unsigned).0);
    let out = k.kubectl(&[
        "delete",
        "genericattestationpolicy",
        "seal-of-approval-policy",
        "-n",
        "default",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let took = until(&s, "default", &unsigned, Duration::from_secs(5), |ok, _| ok);
    assert!(took <= Duration::from_secs(1), "took {took:?}");
}
