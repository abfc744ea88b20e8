//! Issue 15, part 4: `slsaCheck` over SLSA provenance (in-toto statements, provenance v0.2 and
//! v1) found as Grafeas BUILD occurrences (a DSSE envelope signed by the builder's key) and as
//! Sigstore bundles stored with the image in a real registry (Debian's `docker-registry`),
//! signed keylessly by a private Sigstore (support/sigstore.rs). Judged through
//! `platforms/gke/policies/{id}:evaluate`, as `gcloud beta container binauthz policy evaluate`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use base64::Engine as _;
use serde_json::{Value, json};
use support::Server;
use support::registry::{PASSWORD, Registry, USER};
use support::sigstore::{Identity, TestSigstore};

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml";
const GCB: &str = "https://cloudbuild.googleapis.com/GoogleHostedWorker";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn evaluate(s: &Server, image: &str) -> (String, String) {
    support::platform_check(s, "slsa", image)
}

fn put_policy(s: &Server, rules: &Value) -> (u16, Value) {
    let policy = json!({"gkePolicy": {"checkSets": [{"displayName": "provenance", "checks": [
        {"displayName": "slsa", "slsaCheck": {"rules": rules}}]}]}});
    let (code, body) = s.call(
        "POST",
        "/v1/projects/my-proj/platforms/gke/policies?policyId=slsa",
        Some(&policy.to_string()),
    );
    if code != 409 {
        return (code, body);
    }
    s.call(
        "PUT",
        "/v1/projects/my-proj/platforms/gke/policies/slsa",
        Some(&policy.to_string()),
    )
}

/// SLSA provenance v1 as the slsa-github-generator writes it for a container image.
fn github_v1(digest: &str, repository: &str) -> Vec<u8> {
    json!({"_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry/acme/app", "digest": {"sha256": &digest[7..]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                "externalParameters": {"workflow": {"ref": "refs/heads/main", "repository": repository,
                    "path": ".github/workflows/release.yml"}},
                "resolvedDependencies": [{"uri": format!("git+{repository}@refs/heads/main"),
                    "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}}]},
            "runDetails": {"builder": {"id": format!("{GENERATOR}@refs/tags/v2.0.0")},
                "metadata": {"invocationId": "https://github.com/acme/app/actions/runs/1/attempts/1"}}}})
    .to_string()
    .into_bytes()
}

/// SLSA provenance v0.2 from Cloud Build (`config` false: a build without a config file).
fn gcb_v02(digest: &str, config: bool) -> Vec<u8> {
    let mut invocation = json!({"parameters": {}, "environment": {}});
    if config {
        invocation["configSource"] = json!({"uri": "git+https://github.com/acme/app@refs/heads/main",
            "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "entryPoint": "cloudbuild.yaml"});
    }
    json!({"_type": "https://in-toto.io/Statement/v0.1",
        "subject": [{"name": "registry/acme/app", "digest": {"sha256": &digest[7..]}}],
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": {"builder": {"id": format!("{GCB}@v0.3")},
            "buildType": "https://cloudbuild.googleapis.com/CloudBuildYaml@v0.1",
            "invocation": invocation,
            "materials": [{"uri": "git+https://github.com/acme/app", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}}]}})
    .to_string()
    .into_bytes()
}

/// A Grafeas BUILD occurrence carrying `statement` in a DSSE envelope signed by `key`.
fn record_build(s: &Server, image: &str, statement: &[u8], key: &admit_testkit::OpensslKey) {
    let sig = key.sign(
        admit_testkit::SigMode::Dgst("sha256"),
        &admit_crypto::pae("application/vnd.in-toto+json", statement),
    );
    let (code, body) = s.call(
        "POST",
        "/v1/projects/my-proj/occurrences",
        Some(
            &json!({"noteName": "projects/my-proj/notes/provenance", "resourceUri": format!("https://{image}"),
                "build": {"inTotoSlsaProvenanceV1": serde_json::from_slice::<Value>(statement).unwrap()},
                "envelope": {"payload": B64.encode(statement), "payloadType": "application/vnd.in-toto+json",
                    "signatures": [{"sig": B64.encode(sig), "keyid": "cloud-build"}]}})
            .to_string(),
        ),
    );
    assert_eq!(code, 200, "{body}");
}

#[test]
fn slsa_provenance_from_grafeas_and_from_the_registry_is_judged_as_the_rules_say() {
    let reg = Registry::start();
    let sigstore = TestSigstore::new();
    let repo = format!("{}/acme/app", reg.host);
    let mut d = std::collections::BTreeMap::new();
    for (i, name) in [
        "github",
        "github-evil",
        "github-att",
        "gcb",
        "gcb-stranger",
        "gcb-no-config",
        "nothing",
    ]
    .iter()
    .enumerate()
    {
        d.insert(*name, reg.push("acme/app", name, &i.to_string()));
    }
    let generator = Identity::new(GITHUB, &format!("{GENERATOR}@refs/tags/v2.0.0"));
    const V1: &str = "https://slsa.dev/provenance/v1";
    reg.push_bundle(
        "acme/app",
        &d["github"],
        &sigstore.bundle_of(
            &github_v1(&d["github"], "https://github.com/acme/app"),
            &generator,
        ),
        V1,
    );
    reg.push_bundle(
        "acme/app",
        &d["github-evil"],
        &sigstore.bundle_of(
            &github_v1(&d["github-evil"], "https://github.com/evil/app"),
            &generator,
        ),
        V1,
    );
    // The slsa-github-generator's container workflow stores provenance with `cosign attest`:
    // the `.att` tag layout.
    let att = sigstore.attest(
        &github_v1(&d["github-att"], "https://github.com/acme/app"),
        "https://slsa.dev/provenance/v1",
        &generator,
    );
    reg.push_cosign_attestations(
        "acme/app",
        &d["github-att"],
        &[(att.payload, att.annotations)],
    );
    let config = reg.docker_config(USER, PASSWORD);
    let flags = sigstore.json_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = reg.serve(config.path(), false, &flags);
    let (code, body) = s.call(
        "POST",
        "/v1/projects/my-proj/notes?noteId=provenance",
        Some(&json!({"build": {"builderVersion": "GoogleHostedWorker"}}).to_string()),
    );
    assert_eq!(code, 200, "{body}");
    let cloud_build = admit_testkit::OpensslKey::generate("p256");
    let stranger = admit_testkit::OpensslKey::generate("p256");
    let at = |n: &str| format!("{repo}@{}", d[n]);
    record_build(&s, &at("gcb"), &gcb_v02(&d["gcb"], true), &cloud_build);
    record_build(
        &s,
        &at("gcb-stranger"),
        &gcb_v02(&d["gcb-stranger"], true),
        &stranger,
    );
    record_build(
        &s,
        &at("gcb-no-config"),
        &gcb_v02(&d["gcb-no-config"], false),
        &cloud_build,
    );

    let (code, body) = put_policy(
        &s,
        &json!([
            {"trustedBuilder": "GOOGLE_CLOUD_BUILD", "configBasedBuildRequired": true,
             "trustedSourceRepoPatterns": ["github.com/acme/*"],
             "admitBuilder": {"publicKeySet": {"publicKeys": [{"publicKeyPem": cloud_build.public_pem}]}}},
            {"admitBuilder": {"id": GENERATOR, "admitKeyless": {"identities": [
                {"issuer": GITHUB, "subjectRegExp": "https://github\\.com/slsa-framework/slsa-github-generator/.*"}]}},
             "configBasedBuildRequired": true, "trustedSourceRepoPatterns": ["github.com/acme/**"]}
        ]),
    );
    assert_eq!(code, 200, "{body}");

    let (verdict, why) = evaluate(&s, &at("gcb"));
    assert_eq!(verdict, "CONFORMANT", "{why}");
    for part in [
        "rules[0]",
        "rules[0]'s builder key 0",
        &format!(
            "built by `{GCB}@v0.3` from configuration `cloudbuild.yaml` in github.com/acme/app"
        ),
        "matches `github.com/acme/*`",
    ] {
        assert!(why.contains(part), "`{part}` missing from {why}");
    }
    let (verdict, why) = evaluate(&s, &at("github"));
    assert_eq!(verdict, "CONFORMANT", "{why}");
    assert!(
        why.contains("rules[1]")
            && why.contains("bundle 0")
            && why.contains("keyless")
            && why.contains("`.github/workflows/release.yml` in github.com/acme/app"),
        "{why}"
    );
    for (name, expect) in [
        (
            "github-evil",
            "github.com/evil/app matches none of trustedSourceRepoPatterns",
        ),
        ("gcb-stranger", "verify with none of the builder's keys"),
        ("gcb-no-config", "configBasedBuildRequired"),
        ("nothing", "no SLSA provenance"),
    ] {
        let (verdict, why) = evaluate(&s, &at(name));
        assert_eq!(verdict, "NON_CONFORMANT", "{name}: {why}");
        assert!(why.contains(expect), "{name}: expected `{expect}` in {why}");
    }
    // The GitHub provenance is not Cloud Build's, whoever signed it.
    let (code, _) = put_policy(
        &s,
        &json!([{"trustedBuilder": "GOOGLE_CLOUD_BUILD",
            "admitBuilder": {"admitKeyless": {"identities": [{"issuer": GITHUB, "subjectRegExp": ".*"}]}}}]),
    );
    assert_eq!(code, 200);
    let (verdict, why) = evaluate(&s, &at("github"));
    assert_eq!(verdict, "NON_CONFORMANT", "{why}");
    assert!(
        why.contains(&format!("not the trusted builder `{GCB}`")),
        "{why}"
    );

    // A rule admit cannot judge is an ERROR, saying why: Cloud Build's keys are not fetched
    // offline, and CEL constraints are not evaluated.
    let (code, _) = put_policy(&s, &json!([{"trustedBuilder": "GOOGLE_CLOUD_BUILD"}]));
    assert_eq!(code, 200, "a policy Google accepts is accepted");
    let (verdict, why) = evaluate(&s, &at("gcb"));
    assert_eq!(verdict, "ERROR", "{why}");
    assert!(why.contains("no roots of trust"), "{why}");
    let (code, _) = put_policy(
        &s,
        &json!([{"trustedBuilder": "GOOGLE_CLOUD_BUILD", "customConstraints": "true",
            "admitBuilder": {"publicKeySet": {"publicKeys": [{"publicKeyPem": cloud_build.public_pem}]}}}]),
    );
    assert_eq!(code, 200);
    let (verdict, why) = evaluate(&s, &at("gcb"));
    assert_eq!(verdict, "ERROR", "{why}");
    assert!(why.contains("customConstraints"), "{why}");

    // Bad rules are refused when written, naming the field.
    for (rules, field) in [
        (json!([]), "slsaCheck.rules"),
        (
            json!([{"configBasedBuildRequired": true}]),
            "rules[0].trustedBuilder",
        ),
        (
            json!([{"trustedBuilder": "JENKINS"}]),
            "rules[0].trustedBuilder",
        ),
        (
            json!([{"trustedBuilder": "GOOGLE_CLOUD_BUILD", "trustedSourceRepoPatterns": ["https://github.com/acme"]}]),
            "trustedSourceRepoPatterns[0]",
        ),
        (
            json!([{"trustedBuilder": "GOOGLE_CLOUD_BUILD", "trustedSourceRepoPatterns": ["github.com/*/app"]}]),
            "trustedSourceRepoPatterns[0]",
        ),
        (
            json!([{"trustedBuilder": "GOOGLE_CLOUD_BUILD", "admitBuilder": {"id": GENERATOR}}]),
            "admitBuilder.id",
        ),
        (
            json!([{"admitBuilder": {"id": GENERATOR, "publicKeySet": {"publicKeys": [{"publicKeyPem": "x"}]}}}]),
            "admitBuilder.publicKeySet.publicKeys[0].publicKeyPem",
        ),
    ] {
        let (code, body) = put_policy(&s, &rules);
        assert_eq!(code, 400, "{rules}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{rules}: {message}");
    }
}
