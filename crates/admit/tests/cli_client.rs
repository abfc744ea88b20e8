//! The `admit` client commands against a real server, cross-checked with the real gcloud:
//! what admit writes, gcloud reads (and the reverse), and attestations verify.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use std::process::{Command, Output};

use support::{Server, path_str, stderr};

const D: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

fn admit(s: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(args)
        .env("ADMIT_SERVER", &s.url)
        .env("ADMIT_PROJECT", &s.project)
        .output()
        .unwrap()
}

fn ok(s: &Server, args: &[&str]) -> String {
    let o = admit(s, args);
    assert!(o.status.success(), "admit {args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(s: &Server, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    serde_json::from_str(&ok(s, &a)).unwrap()
}

support::both_backends!(admit_client_commands_round_trip_with_gcloud);
fn admit_client_commands_round_trip_with_gcloud(s: &Server) {
    let p = s.project.clone();
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=ci"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"ci"}}}"#),
    );

    // KMS through admit.
    ok(s, &["kms", "keyrings", "create", "ring"]);
    ok(
        s,
        &[
            "kms",
            "keys",
            "create",
            "signer",
            "--keyring",
            "ring",
            "--default-algorithm",
            "ec-sign-p256-sha256",
        ],
    );
    let pem = ok(
        s,
        &[
            "kms",
            "versions",
            "get-public-key",
            "1",
            "--key",
            "signer",
            "--keyring",
            "ring",
        ],
    );
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");

    // Attestor through admit, seen by gcloud.
    ok(
        s,
        &[
            "attestors",
            "create",
            "ci",
            "--attestation-authority-note",
            "ci",
            "--description",
            "built by CI",
        ],
    );
    let kv = format!(
        "projects/{p}/locations/global/keyRings/ring/cryptoKeys/signer/cryptoKeyVersions/1"
    );
    let k = json(
        s,
        &[
            "attestors",
            "public-keys",
            "add",
            "--attestor",
            "ci",
            "--keyversion",
            &kv,
        ],
    );
    assert_eq!(
        k["pkixPublicKey"]["signatureAlgorithm"],
        "ECDSA_P256_SHA256"
    );
    let local = admit_testkit::OpensslKey::generate("p384");
    let pub_file = s.write("local.pub", &local.public_pem);
    let k2 = json(
        s,
        &[
            "attestors",
            "public-keys",
            "add",
            "--attestor",
            "ci",
            "--pkix-public-key-file",
            path_str(&pub_file),
            "--pkix-public-key-algorithm",
            "ecdsa-p384-sha384",
        ],
    );
    assert_eq!(k2["id"], admit_crypto::pkix_key_id(&local.public_der()));
    let described = s.gcloud_json(&["container", "binauthz", "attestors", "describe", "ci"]);
    assert_eq!(described["description"], "built by CI");
    assert_eq!(
        described["userOwnedGrafeasNote"]["publicKeys"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let table = ok(s, &["attestors", "list"]);
    assert!(
        table.contains("ci")
            && table.contains(&format!("projects/{p}/notes/ci"))
            && table.contains(" 2"),
        "{table}"
    );

    // Attestations: KMS-signed and locally signed (also PAE-encoded), validated by the server.
    let image = format!("gcr.io/{p}/app@{D}");
    ok(
        s,
        &[
            "attestations",
            "sign-and-create",
            "--artifact-url",
            &image,
            "--attestor",
            "ci",
            "--keyversion",
            &kv,
            "--validate",
        ],
    );
    let key_file = local.private_key_path();
    ok(
        s,
        &[
            "attestations",
            "sign-and-create",
            "--artifact-url",
            &image,
            "--attestor",
            "ci",
            "--pkix-private-key-file",
            path_str(&key_file),
            "--pkix-algorithm",
            "ecdsa-p384-sha384",
            "--pae-encode-payload",
            "--validate",
        ],
    );
    // A key of the wrong declared algorithm is refused before anything is stored.
    let bad = admit(
        s,
        &[
            "attestations",
            "sign-and-create",
            "--artifact-url",
            &image,
            "--attestor",
            "ci",
            "--pkix-private-key-file",
            path_str(&key_file),
            "--pkix-algorithm",
            "ecdsa-p256-sha256",
        ],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));

    // A PGP attestor signed with a local OpenPGP secret key.
    let gpg = admit_testkit::Gpg::new();
    gpg.generate("signer <signer@example.com>", "ed25519", "sign");
    let pgp_pub = s.write("signer.asc", &gpg.export("signer@example.com"));
    let pgp_sec = s.write("signer.sec", &gpg.export_secret("signer@example.com"));
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId=qa"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"qa"}}}"#),
    );
    ok(
        s,
        &[
            "attestors",
            "create",
            "qa",
            "--attestation-authority-note",
            "qa",
        ],
    );
    ok(
        s,
        &[
            "attestors",
            "public-keys",
            "add",
            "--attestor",
            "qa",
            "--pgp-public-key-file",
            path_str(&pgp_pub),
        ],
    );
    ok(
        s,
        &[
            "attestations",
            "sign-and-create",
            "--artifact-url",
            &image,
            "--attestor",
            "qa",
            "--pgp-private-key-file",
            path_str(&pgp_sec),
            "--validate",
        ],
    );
    let pgp_atts = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestations",
        "list",
        "--attestor=qa",
    ]);
    assert_eq!(
        pgp_atts[0]["attestation"]["signatures"][0]["publicKeyId"],
        gpg.fingerprint("signer@example.com").as_str()
    );

    // gcloud lists both and the server verifies each of them.
    let listed = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestations",
        "list",
        "--attestor=ci",
        &format!("--artifact-url={image}"),
    ]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for o in listed {
        let v = s.curl(
            "POST",
            &format!("/v1/projects/{p}/attestors/ci:validateAttestationOccurrence"),
            Some(&serde_json::json!({"attestation": o["attestation"], "occurrenceNote": o["noteName"], "occurrenceResourceUri": o["resourceUri"]}).to_string()),
        );
        assert_eq!(v["result"], "VERIFIED", "{v}");
    }
    let ours = json(
        s,
        &[
            "attestations",
            "list",
            "--attestor",
            "ci",
            "--artifact-url",
            &image,
        ],
    );
    assert_eq!(ours.as_array().map(Vec::len), Some(2));

    // A signature file made by openssl, stored with `attestations create --validate`.
    let other = format!("gcr.io/{p}/other@{D}");
    let payload = ok(s, &["create-signature-payload", "--artifact-url", &other]);
    let sig = local.sign(admit_testkit::SigMode::Dgst("sha384"), payload.as_bytes());
    let sig_file = s.data.path().join("sig");
    std::fs::write(&sig_file, sig).unwrap();
    ok(
        s,
        &[
            "attestations",
            "create",
            "--artifact-url",
            &other,
            "--attestor",
            "ci",
            "--signature-file",
            path_str(&sig_file),
            "--public-key-id",
            k2["id"].as_str().unwrap(),
            "--validate",
        ],
    );
    // The same signature over another image is refused by --validate and nothing is stored.
    let third = format!("gcr.io/{p}/third@{D}");
    let refused = admit(
        s,
        &[
            "attestations",
            "create",
            "--artifact-url",
            &third,
            "--attestor",
            "ci",
            "--signature-file",
            path_str(&sig_file),
            "--public-key-id",
            k2["id"].as_str().unwrap(),
            "--validate",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("does not verify"),
        "{}",
        stderr(&refused)
    );
    // Two signed by KMS and a local PKIX key, one by PGP, one from a signature file.
    assert_eq!(
        json(s, &["attestations", "list"]).as_array().map(Vec::len),
        Some(4)
    );

    // Policy import/export through admit, read by gcloud.
    let policy = s.write("policy.yaml", &format!("defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy: [projects/{p}/attestors/ci]\n"));
    ok(s, &["policy", "import", path_str(&policy)]);
    assert!(
        s.gcloud(&["container", "binauthz", "policy", "export"])
            .contains(&format!("projects/{p}/attestors/ci"))
    );
    let exported = ok(s, &["policy", "export"]);
    assert!(
        exported.contains("REQUIRE_ATTESTATION") && exported.contains("etag:"),
        "{exported}"
    );
    let bad_policy = s.write(
        "bad.yaml",
        "defaultAdmissionRule:\n  evaluationMode: NOPE\n",
    );
    let o = admit(s, &["policy", "import", path_str(&bad_policy)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("defaultAdmissionRule.evaluationMode"),
        "{}",
        stderr(&o)
    );

    // Remove a key and delete the attestor.
    ok(
        s,
        &[
            "attestors",
            "public-keys",
            "remove",
            k2["id"].as_str().unwrap(),
            "--attestor",
            "ci",
        ],
    );
    assert_eq!(
        json(s, &["attestors", "describe", "ci"])["userOwnedGrafeasNote"]["publicKeys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let o = admit(s, &["attestors", "delete", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("NOT_FOUND"), "{}", stderr(&o));
}

#[test]
fn client_commands_need_a_project_and_a_reachable_server() {
    let o = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["policy", "export"])
        .env_remove("ADMIT_PROJECT")
        .env("ADMIT_SERVER", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--project"), "{}", stderr(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_admit"))
        .args(["policy", "export", "--project", "p"])
        .env("ADMIT_SERVER", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
}
