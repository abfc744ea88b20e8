//! Issue 5, the pipeline half: `admit vulns import` of real-format Trivy and Grype reports, and
//! `admit signer` run with seed 003's cloudbuild flags verbatim in every mode, against
//! `admit serve`. Attestations it makes are verified by the server against an attestor.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::{Server, digest};

const P: &str = "my-proj";
const NOTE: &str = "projects/my-proj/notes/vulnz-attestor";
const KEY: &str =
    "projects/my-proj/locations/global/keyRings/binauthz/cryptoKeys/signer/cryptoKeyVersions/1";

/// Seed 003's kritis-policy.yaml, byte for byte (tabs in the comments included).
const SEED_003_POLICY: &str = "apiVersion: kritis.grafeas.io/v1beta1
kind: VulnzSigningPolicy
metadata:
  name: kritis-policy
spec:
  imageVulnerabilityRequirements:
    # コンテナイメージに発見された脆弱性に対する許容度
\t\t# ENUM: BLOCK_ALL/LOW/MEDIUM/HIGH/CRITICAL/ALLOW_ALL
    maximumFixableSeverity: CRITICAL
    # 見つかった脆弱性のうち、修正プログラムが存在しないものに対する許容範囲
\t\t# ENUM: BLOCK_ALL/LOW/MEDIUM/HIGH/CRITICAL/ALLOW_ALL
    maximumUnfixableSeverity: ALLOW_ALL
    # フィルタにかけないCVEのリスト
    allowlistCVEs: []
";

/// Stricter: fixable up to MEDIUM, unfixable up to HIGH, one CVE allowlisted.
const STRICT_POLICY: &str = "apiVersion: kritis.grafeas.io/v1beta1
kind: VulnzSigningPolicy
metadata:
  name: strict
spec:
  imageVulnerabilityRequirements:
    maximumFixableSeverity: MEDIUM
    maximumUnfixableSeverity: HIGH
    allowlistCVEs:
    - projects/goog-vulnz/notes/CVE-2024-24790
";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/scans")
        .join(name)
}

fn image(seed: &str) -> String {
    format!("us-docker.pkg.dev/{P}/prod/web@{}", digest(seed))
}

fn admit(s: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(args)
        .env("ADMIT_SERVER", &s.url)
        .env_remove("ADMIT_PROJECT")
        .env_remove("ATTESTATION_POLICY_PATH")
        .env_remove("ATTESTATION_NOTE_NAME")
        .current_dir(s.data.path())
        .output()
        .unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn import(s: &Server, format: &str, report: &Path, img: &str) -> Output {
    admit(
        s,
        &[
            "vulns",
            "import",
            "--project",
            P,
            "--format",
            format,
            report.to_str().unwrap(),
            "--image",
            img,
        ],
    )
}

/// Occurrences of `kind` for the image, as the API lists them.
fn occurrences(s: &Server, img: &str, kind: &str) -> Vec<Value> {
    let d = img.rsplit_once('@').unwrap().1;
    let filter = format!("kind=\"{kind}\" AND has_suffix(resourceUrl, \"{d}\")")
        .replace(' ', "%20")
        .replace('"', "%22");
    let v = s.curl(
        "GET",
        &format!("/v1/projects/{P}/occurrences?filter={filter}&pageSize=1000"),
        None,
    );
    v["occurrences"].as_array().cloned().unwrap_or_default()
}

/// The KMS key the seed's `-kms_key_name` names, and an attestor that trusts it.
fn kms_and_attestor(s: &Server) {
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/locations/global/keyRings?keyRingId=binauthz"),
        Some("{}"),
    );
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/locations/global/keyRings/binauthz/cryptoKeys?cryptoKeyId=signer"),
        Some(r#"{"purpose":"ASYMMETRIC_SIGN","versionTemplate":{"algorithm":"EC_SIGN_P256_SHA256"}}"#),
    );
    let pk = s.curl("GET", &format!("/v1/{KEY}/publicKey"), None);
    let host = s.url.split_once("://").unwrap().1;
    let attestor = json!({"userOwnedGrafeasNote": {"noteReference": NOTE, "publicKeys": [
        {"id": format!("//{host}/v1/{KEY}"), "pkixPublicKey": {"publicKeyPem": pk["pem"], "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/notes?noteId=vulnz-attestor"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"vulnz"}}}"#),
    );
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/attestors?attestorId=vulnz"),
        Some(&attestor.to_string()),
    );
}

fn verified(s: &Server, attestor: &str, occ: &Value) -> Value {
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/attestors/{attestor}:validateAttestationOccurrence"),
        Some(&json!({"attestation": occ["attestation"], "occurrenceNote": occ["noteName"], "occurrenceResourceUri": occ["resourceUri"]}).to_string()),
    )
}

/// Seed 003's step, verbatim but for the substitutions.
fn seed_003_signer(s: &Server, mode: &str, img: &str, policy: &str, timeout: &str) -> Output {
    std::fs::write(s.data.path().join("image-digest.txt"), img).unwrap();
    std::fs::write(s.data.path().join("kritis-policy.yaml"), policy).unwrap();
    let script = format!(
        "{admit} signer -mode {mode} -image $(/bin/cat image-digest.txt) -policy kritis-policy.yaml -vulnz_timeout {timeout} -kms_key_name {KEY} -kms_digest_alg SHA256 -note_name {NOTE} -poll_interval 200ms",
        admit = env!("CARGO_BIN_EXE_admit")
    );
    Command::new("bash")
        .args(["-e", "-c", &script])
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", P)
        .current_dir(s.data.path())
        .output()
        .unwrap()
}

#[test]
fn trivy_and_grype_reports_become_grafeas_occurrences() {
    let s = Server::start();
    let img = image("web v1");
    let out = import(&s, "trivy", &data("trivy-web.json"), &img);
    assert!(out.status.success(), "{}", err(&out));
    let vulns = occurrences(&s, &img, "VULNERABILITY");
    let by_cve = |v: &[Value], cve: &str| -> Value {
        v.iter()
            .find(|o| o["noteName"] == format!("projects/goog-vulnz/notes/{cve}").as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{cve} missing"))
    };
    assert_eq!(vulns.len(), 5, "one occurrence per CVE");
    let openssl = by_cve(&vulns, "CVE-2023-5363");
    assert_eq!(openssl["resourceUri"], format!("https://{img}"));
    assert_eq!(openssl["vulnerability"]["severity"], "HIGH");
    assert_eq!(openssl["vulnerability"]["effectiveSeverity"], "HIGH");
    assert_eq!(openssl["vulnerability"]["cvssScore"], 7.5);
    assert_eq!(openssl["vulnerability"]["fixAvailable"], true);
    let issues = openssl["vulnerability"]["packageIssue"].as_array().unwrap();
    assert_eq!(issues.len(), 2, "libcrypto3 and libssl3");
    assert_eq!(issues[0]["affectedPackage"], "libcrypto3");
    assert_eq!(issues[0]["affectedVersion"]["name"], "3.1.3-r0");
    assert_eq!(issues[0]["fixedVersion"]["name"], "3.1.4-r0");
    let busybox = by_cve(&vulns, "CVE-2023-42363");
    assert_eq!(busybox["vulnerability"]["fixAvailable"], false);
    assert_eq!(
        busybox["vulnerability"]["packageIssue"][0]["fixedVersion"]["kind"],
        "MAXIMUM"
    );
    let note = s.curl("GET", "/v1/projects/goog-vulnz/notes/CVE-2024-24790", None);
    assert_eq!(note["vulnerability"]["severity"], "CRITICAL");
    let discovery = occurrences(&s, &img, "DISCOVERY");
    assert_eq!(discovery.len(), 1);
    assert_eq!(
        discovery[0]["discovery"]["analysisStatus"],
        "FINISHED_SUCCESS"
    );

    // A re-scan (Grype this time) replaces the findings; the DISCOVERY stays one.
    let out = import(&s, "grype", &data("grype-web.json"), &img);
    assert!(out.status.success(), "{}", err(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 4 vulnerabilities (5 replaced)")
    );
    let vulns = occurrences(&s, &img, "VULNERABILITY");
    assert_eq!(vulns.len(), 4);
    assert_eq!(
        by_cve(&vulns, "GHSA-w32m-9786-jp63")["vulnerability"]["fixAvailable"],
        false,
        "wont-fix"
    );
    assert_eq!(
        by_cve(&vulns, "CVE-2023-45288")["vulnerability"]["severity"],
        "MINIMAL"
    );
    assert_eq!(
        by_cve(&vulns, "CVE-2023-5363")["vulnerability"]["cvssScore"],
        7.5
    );
    let discovery = occurrences(&s, &img, "DISCOVERY");
    assert_eq!(discovery.len(), 1);
    assert!(
        discovery[0]["discovery"]["analysisCompleted"]["analysisType"][0]
            .as_str()
            .unwrap()
            .starts_with("grype")
    );

    // Bad input: named, and nothing written.
    let mut bad: Value =
        serde_json::from_str(&std::fs::read_to_string(data("trivy-web.json")).unwrap()).unwrap();
    bad["Results"][1]["Vulnerabilities"][2]["Severity"] = json!("SEVERE");
    let bad_file = s.write("bad-trivy.json", &bad.to_string());
    let out = import(&s, "trivy", &bad_file, &img);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err(&out).contains("Results[1].Vulnerabilities[2].Severity"),
        "{}",
        err(&out)
    );
    assert_eq!(occurrences(&s, &img, "VULNERABILITY").len(), 4);
    let out = import(
        &s,
        "trivy",
        &data("trivy-web.json"),
        "us-docker.pkg.dev/my-proj/prod/web:latest",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err(&out).contains("must be a digest reference"),
        "{}",
        err(&out)
    );
    let out = import(&s, "clair", &data("trivy-web.json"), &img);
    assert!(
        err(&out).contains("unknown report format `clair`"),
        "{}",
        err(&out)
    );
}

#[test]
fn seed_003_signer_in_every_mode() {
    let s = Server::start();
    kms_and_attestor(&s);
    let img = image("web v1");
    assert!(
        import(&s, "trivy", &data("trivy-web.json"), &img)
            .status
            .success()
    );

    // check-and-sign with the seed's policy: unfixable CRITICALs are allowed, fixable ones up
    // to CRITICAL too, so the image passes and is signed with the KMS key.
    let out = seed_003_signer(&s, "check-and-sign", &img, SEED_003_POLICY, "60m");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(
        err(&out)
            .contains("passes VulnzSigningPolicy \"kritis-policy\" (5 vulnerabilities checked)"),
        "{}",
        err(&out)
    );
    let atts = occurrences(&s, &img, "ATTESTATION");
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0]["noteName"], NOTE);
    let v = verified(&s, "vulnz", &atts[0]);
    assert_eq!(v["result"], "VERIFIED", "{v}");

    // Signing again: the attestation exists, nothing changes without -overwrite …
    let out = seed_003_signer(&s, "check-and-sign", &img, SEED_003_POLICY, "60m");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(err(&out).contains("already exists"), "{}", err(&out));
    assert_eq!(
        occurrences(&s, &img, "ATTESTATION")[0]["name"],
        atts[0]["name"]
    );

    // check-only with a stricter policy: every violation listed, exit 2, nothing signed. The
    // allowlisted CRITICAL does not count; the unfixable CRITICAL above HIGH does.
    let other = image("web v2");
    assert!(
        import(&s, "trivy", &data("trivy-web.json"), &other)
            .status
            .success()
    );
    let out = seed_003_signer(&s, "check-only", &other, STRICT_POLICY, "60m");
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    let e = err(&out);
    assert!(e.contains("2 violation(s) among 5 vulnerabilities"), "{e}");
    assert!(e.contains("fixable CVE-2023-5363 in libcrypto3, libssl3 with severity HIGH, above the threshold MEDIUM"), "{e}");
    assert!(e.contains("unfixable CVE-2024-45338 in golang.org/x/net with severity CRITICAL, above the threshold HIGH"), "{e}");
    assert!(!e.contains("CVE-2024-24790"), "allowlisted: {e}");
    assert!(occurrences(&s, &other, "ATTESTATION").is_empty());
    // check-and-sign with the same policy refuses to sign.
    let out = seed_003_signer(&s, "check-and-sign", &other, STRICT_POLICY, "60m");
    assert_eq!(out.status.code(), Some(2));
    assert!(occurrences(&s, &other, "ATTESTATION").is_empty());

    // bypass-and-sign: no scan needed, signed at once.
    let unscanned = image("web v3");
    let out = seed_003_signer(&s, "bypass-and-sign", &unscanned, SEED_003_POLICY, "60m");
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert_eq!(
        verified(&s, "vulnz", &occurrences(&s, &unscanned, "ATTESTATION")[0])["result"],
        "VERIFIED"
    );

    // A scan that never finishes: the signer waits, says so, and gives up at the timeout.
    let pending = image("web v4");
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/occurrences"),
        Some(&json!({"resourceUri": format!("https://{pending}"), "noteName": "projects/goog-analysis/notes/PACKAGE_VULNERABILITY",
            "kind": "DISCOVERY", "discovery": {"analysisStatus": "PENDING"}}).to_string()),
    );
    let started = std::time::Instant::now();
    let out = seed_003_signer(&s, "check-and-sign", &pending, SEED_003_POLICY, "2s");
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    let e = err(&out);
    assert!(
        e.contains("waiting for the vulnerability scan") && e.contains("PENDING"),
        "{e}"
    );
    assert!(
        e.contains("timed out after 2s waiting for the vulnerability scan"),
        "{e}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    assert!(occurrences(&s, &pending, "ATTESTATION").is_empty());

    // -overwrite replaces the attestation.
    let out = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args([
            "signer",
            "-mode=bypass-and-sign",
            "-image",
            &img,
            "-kms_key_name",
            KEY,
            "-kms_digest_alg=SHA256",
            "-note_name",
            NOTE,
            "-overwrite",
        ])
        .env("ADMIT_SERVER", &s.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let now = occurrences(&s, &img, "ATTESTATION");
    assert_eq!(now.len(), 1);
    assert_ne!(now[0]["name"], atts[0]["name"]);

    // Bad invocations: exit 1, saying why.
    let fresh = image("web v9");
    for (args, why) in [
        (
            vec![
                "signer",
                "-mode",
                "check-only",
                "-image",
                "us-docker.pkg.dev/my-proj/prod/web:latest",
                "-policy",
                "kritis-policy.yaml",
            ],
            "should have digest",
        ),
        (
            vec!["signer", "-mode", "sign-please", "-image", img.as_str()],
            "unrecognized mode sign-please",
        ),
        (
            vec![
                "signer",
                "-mode",
                "bypass-and-sign",
                "-image",
                img.as_str(),
                "-note_name",
                NOTE,
            ],
            "Neither kms_key_name",
        ),
        (
            vec![
                "signer",
                "-mode",
                "bypass-and-sign",
                "-image",
                img.as_str(),
                "-note_name",
                "notes/x",
                "-kms_key_name",
                KEY,
                "-kms_digest_alg",
                "SHA256",
            ],
            "note name 'notes/x' is invalid",
        ),
        (
            vec![
                "signer",
                "-mode",
                "bypass-and-sign",
                "-image",
                fresh.as_str(),
                "-note_name",
                NOTE,
                "-kms_key_name",
                KEY,
                "-kms_digest_alg",
                "SHA512",
            ],
            "does not match the key version's algorithm EC_SIGN_P256_SHA256",
        ),
        (
            vec![
                "signer",
                "-mode",
                "check-only",
                "-image",
                img.as_str(),
                "-policy",
                "kritis-policy.yaml",
                "-vulnz_timeout",
                "soon",
            ],
            "-vulnz_timeout",
        ),
    ] {
        let out = admit(&s, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", err(&out));
        assert!(err(&out).contains(why), "{args:?}: {}", err(&out));
    }
}

#[test]
fn signer_with_local_pgp_and_pkix_keys() {
    let s = Server::start();
    let img = image("local keys");
    assert!(
        import(&s, "grype", &data("grype-web.json"), &img)
            .status
            .success()
    );
    let policy = s.write("policy.yaml", SEED_003_POLICY);
    // PKIX: an openssl key; the attestor trusts its ni:/// id.
    let key = admit_testkit::OpensslKey::generate("p256");
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/notes?noteId=local"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"local"}}}"#),
    );
    let att = json!({"userOwnedGrafeasNote": {"noteReference": "projects/my-proj/notes/local", "publicKeys": [
        {"pkixPublicKey": {"publicKeyPem": key.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/attestors?attestorId=local-pkix"),
        Some(&att.to_string()),
    );
    let out = admit(
        &s,
        &[
            "signer",
            "-image",
            &img,
            "-policy",
            policy.to_str().unwrap(),
            "-note_name",
            "projects/my-proj/notes/local",
            "-pkix_private_key",
            key.private_key_path().to_str().unwrap(),
            "-pkix_alg",
            "ecdsa-p256-sha256",
            "-vulnz_timeout",
            "10s",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let atts = occurrences(&s, &img, "ATTESTATION");
    assert_eq!(verified(&s, "local-pkix", &atts[0])["result"], "VERIFIED");

    // OpenPGP: a gpg key, as Kritis' -pgp_private_key; a note the signer creates itself.
    let gpg = admit_testkit::Gpg::new();
    gpg.generate("signer@example.com", "ed25519", "sign");
    let secret = s.write("signer.asc", &gpg.export_secret("signer@example.com"));
    let out = admit(
        &s,
        &[
            "signer",
            "--mode",
            "check-and-sign",
            "--image",
            &img,
            "--policy",
            policy.to_str().unwrap(),
            "--note-name",
            "projects/my-proj/notes/pgp",
            "--pgp-private-key",
            secret.to_str().unwrap(),
            "--vulnz-timeout",
            "10s",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let note = s.curl("GET", "/v1/projects/my-proj/notes/pgp", None);
    assert_eq!(note["kind"], "ATTESTATION");
    let att = json!({"userOwnedGrafeasNote": {"noteReference": "projects/my-proj/notes/pgp", "publicKeys": [
        {"asciiArmoredPgpPublicKey": gpg.export("signer@example.com")}]}});
    s.curl(
        "POST",
        &format!("/v1/projects/{P}/attestors?attestorId=local-pgp"),
        Some(&att.to_string()),
    );
    let pgp_att = occurrences(&s, &img, "ATTESTATION")
        .into_iter()
        .find(|o| o["noteName"] == "projects/my-proj/notes/pgp")
        .unwrap();
    assert_eq!(verified(&s, "local-pgp", &pgp_att)["result"], "VERIFIED");
}
