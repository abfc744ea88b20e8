//! Contract §4 commands in the GA, beta and alpha tracks, asserting on what gcloud prints.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

mod support;

use support::{Server, path_str, stderr};

const TRACKS: [&[&str]; 3] = [&[], &["beta"], &["alpha"]];

fn cmd<'a>(track: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = track.to_vec();
    v.extend_from_slice(rest);
    v
}

fn note(s: &Server, id: &str) {
    let p = &s.project;
    s.curl(
        "POST",
        &format!("/v1/projects/{p}/notes?noteId={id}"),
        Some(r#"{"attestation":{"hint":{"humanReadableName":"n"}}}"#),
    );
}

support::both_backends!(attestors_lifecycle_in_every_track);
fn attestors_lifecycle_in_every_track(s: &Server) {
    note(s, "n");
    let gpg = admit_testkit::Gpg::new();
    gpg.generate("a <a@example.com>", "ed25519", "sign");
    let pgp_file = s.write("a.asc", &gpg.export("a@example.com"));
    let fpr = gpg.fingerprint("a@example.com");
    let key = admit_testkit::OpensslKey::generate("rsa2048");
    let pem_file = s.write("k.pem", &key.public_pem);
    for (i, track) in TRACKS.iter().enumerate() {
        let id = format!("att-{i}");
        s.gcloud(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "create",
                &id,
                "--attestation-authority-note=n",
                "--attestation-authority-note-project=my-proj",
                "--description=first",
            ],
        ));
        let dup = s.gcloud_raw(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "create",
                &id,
                "--attestation-authority-note=n",
                "--attestation-authority-note-project=my-proj",
            ],
        ));
        assert!(
            !dup.status.success() && stderr(&dup).contains("already exists"),
            "{}",
            stderr(&dup)
        );

        let d = s.gcloud_json(&cmd(
            track,
            &["container", "binauthz", "attestors", "describe", &id],
        ));
        let note_field = if track.is_empty() {
            "userOwnedGrafeasNote"
        } else {
            "userOwnedDrydockNote"
        };
        assert_eq!(
            d[note_field]["noteReference"],
            format!("projects/{}/notes/n", s.project),
            "{d}"
        );
        assert_eq!(d["description"], "first");

        s.gcloud(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "update",
                &id,
                "--description=second",
            ],
        ));
        let added = s.gcloud_json(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "public-keys",
                "add",
                &format!("--attestor={id}"),
                &format!("--pgp-public-key-file={}", path_str(&pgp_file)),
                "--comment=pgp",
            ],
        ));
        assert_eq!(added["id"], fpr.as_str());
        let added = s.gcloud_json(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "public-keys",
                "add",
                &format!("--attestor={id}"),
                &format!("--pkix-public-key-file={}", path_str(&pem_file)),
                "--pkix-public-key-algorithm=rsa-sign-pkcs1-2048-sha256",
            ],
        ));
        let pkix_id = added["id"].as_str().unwrap().to_owned();
        assert!(pkix_id.starts_with("ni:///sha-256;"), "{pkix_id}");
        // A declared algorithm that is not the key's is refused by the server.
        let wrong = s.gcloud_raw(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "public-keys",
                "add",
                &format!("--attestor={id}"),
                &format!("--pkix-public-key-file={}", path_str(&pem_file)),
                "--pkix-public-key-algorithm=ecdsa-p256-sha256",
                "--public-key-id-override=urn:x:1",
            ],
        ));
        assert!(
            !wrong.status.success()
                && stderr(&wrong).contains("INVALID_ARGUMENT")
                && stderr(&wrong).contains("does not match the key"),
            "{}",
            stderr(&wrong)
        );

        s.gcloud(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "public-keys",
                "update",
                &fpr,
                &format!("--attestor={id}"),
                "--comment=renamed",
            ],
        ));
        let d = s.gcloud_json(&cmd(
            track,
            &["container", "binauthz", "attestors", "describe", &id],
        ));
        assert_eq!(d["description"], "second");
        let keys = d[note_field]["publicKeys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["comment"], "renamed");
        s.gcloud(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "public-keys",
                "remove",
                &pkix_id,
                &format!("--attestor={id}"),
            ],
        ));
        s.gcloud(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestors",
                "public-keys",
                "remove",
                &fpr,
                &format!("--attestor={id}"),
            ],
        ));
        let d = s.gcloud_json(&cmd(
            track,
            &["container", "binauthz", "attestors", "describe", &id],
        ));
        assert!(d[note_field].get("publicKeys").is_none(), "{d}");

        let listed = s.gcloud(&cmd(track, &["container", "binauthz", "attestors", "list"]));
        assert!(listed.contains(&id), "{listed}");
        s.gcloud(&cmd(
            track,
            &["container", "binauthz", "attestors", "delete", &id],
        ));
        let gone = s.gcloud_raw(&cmd(
            track,
            &["container", "binauthz", "attestors", "describe", &id],
        ));
        assert!(
            !gone.status.success() && stderr(&gone).contains("NOT_FOUND"),
            "{}",
            stderr(&gone)
        );
    }
}

support::both_backends!(policy_import_export_etags_and_validation);
fn policy_import_export_etags_and_validation(s: &Server) {
    let p = s.project.clone();
    let default = s.gcloud(&["container", "binauthz", "policy", "export"]);
    assert!(
        default.contains("evaluationMode: ALWAYS_ALLOW") && default.contains("registry.k8s.io/*"),
        "{default}"
    );

    let good = s.write("p.yaml", "admissionWhitelistPatterns:\n- namePattern: gcr.io/my-proj/tools/*\ndefaultAdmissionRule:\n  evaluationMode: ALWAYS_DENY\n  enforcementMode: DRYRUN_AUDIT_LOG_ONLY\nclusterAdmissionRules:\n  us-east1-b.prod:\n    evaluationMode: ALWAYS_ALLOW\n    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n");
    for track in TRACKS {
        s.gcloud(&cmd(
            track,
            &["container", "binauthz", "policy", "import", path_str(&good)],
        ));
    }
    // An exported file carries etag and updateTime; importing it again is accepted …
    let exported = s.gcloud(&["container", "binauthz", "policy", "export"]);
    let file = s.write("exported.yaml", &exported);
    s.gcloud(&["container", "binauthz", "policy", "import", path_str(&file)]);
    // … but now its etag is stale: ABORTED.
    let stale = s.gcloud_raw(&["container", "binauthz", "policy", "import", path_str(&file)]);
    // gcloud renders 409 ABORTED as "… is the subject of a conflict: <our message>".
    assert!(
        !stale.status.success() && stderr(&stale).contains("etag mismatch"),
        "{}",
        stderr(&stale)
    );

    let bad = s.write("bad.yaml", &format!("defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy:\n  - projects/{p}/attestors/missing\nadmissionWhitelistPatterns:\n- namePattern: gcr.io/a*b\n"));
    let out = s.gcloud_raw(&["container", "binauthz", "policy", "import", path_str(&bad)]);
    let e = stderr(&out);
    assert!(
        !out.status.success()
            && e.contains("INVALID_ARGUMENT")
            && e.contains("admissionWhitelistPatterns[0].namePattern"),
        "{e}"
    );
    // Nothing was written.
    assert!(
        s.gcloud(&["container", "binauthz", "policy", "export"])
            .contains("ALWAYS_DENY")
    );

    let sys = s.gcloud(&[
        "alpha",
        "container",
        "binauthz",
        "policy",
        "export-system-policy",
    ]);
    assert!(
        sys.contains("registry.k8s.io/pause") && sys.contains("name: locations/global/policy"),
        "{sys}"
    );
}

support::both_backends!(iam_and_continuous_validation);
fn iam_and_continuous_validation(s: &Server) {
    note(s, "n");
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "create",
        "a",
        "--attestation-authority-note=n",
        "--attestation-authority-note-project=my-proj",
    ]);
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "add-iam-policy-binding",
        "a",
        "--member=serviceAccount:deployer@p.iam.gserviceaccount.com",
        "--role=roles/binaryauthorization.attestorsVerifier",
    ]);
    let p = s.gcloud_json(&["container", "binauthz", "attestors", "get-iam-policy", "a"]);
    assert_eq!(
        p["bindings"][0]["role"],
        "roles/binaryauthorization.attestorsVerifier"
    );
    assert_eq!(
        p["bindings"][0]["members"][0],
        "serviceAccount:deployer@p.iam.gserviceaccount.com"
    );
    s.gcloud(&[
        "container",
        "binauthz",
        "policy",
        "add-iam-policy-binding",
        "--member=user:alice@example.com",
        "--role=roles/binaryauthorization.policyEditor",
    ]);
    let p = s.gcloud_json(&["container", "binauthz", "policy", "get-iam-policy"]);
    assert_eq!(p["bindings"][0]["members"][0], "user:alice@example.com");
    s.gcloud(&[
        "container",
        "binauthz",
        "policy",
        "remove-iam-policy-binding",
        "--member=user:alice@example.com",
        "--role=roles/binaryauthorization.policyEditor",
    ]);
    let p = s.gcloud_json(&["container", "binauthz", "policy", "get-iam-policy"]);
    assert!(
        p.get("bindings")
            .is_none_or(|b| b.as_array().is_none_or(Vec::is_empty)),
        "{p}"
    );

    let d = s.gcloud(&[
        "alpha",
        "container",
        "binauthz",
        "continuous-validation",
        "describe",
    ]);
    assert!(d.contains("enabled: false"), "{d}");
    s.gcloud(&[
        "alpha",
        "container",
        "binauthz",
        "continuous-validation",
        "enable",
    ]);
    assert!(
        s.gcloud(&[
            "alpha",
            "container",
            "binauthz",
            "continuous-validation",
            "describe"
        ])
        .contains("enabled: true")
    );
    s.gcloud(&[
        "alpha",
        "container",
        "binauthz",
        "continuous-validation",
        "disable",
    ]);
    assert!(
        s.gcloud(&[
            "alpha",
            "container",
            "binauthz",
            "continuous-validation",
            "describe"
        ])
        .contains("enabled: false")
    );
}

support::both_backends!(kms_public_key_and_asymmetric_sign_with_crc32c);
fn kms_public_key_and_asymmetric_sign_with_crc32c(s: &Server) {
    s.gcloud(&["kms", "keyrings", "create", "r", "--location=global"]);
    for (key, alg) in [
        ("ec", "ec-sign-p384-sha384"),
        ("rsa", "rsa-sign-pss-2048-sha256"),
    ] {
        s.gcloud(&[
            "kms",
            "keys",
            "create",
            key,
            "--keyring=r",
            "--location=global",
            "--purpose=asymmetric-signing",
            &format!("--default-algorithm={alg}"),
        ]);
        let pem_file = s.data.path().join(format!("{key}.pem"));
        s.gcloud(&[
            "kms",
            "keys",
            "versions",
            "get-public-key",
            "1",
            &format!("--key={key}"),
            "--keyring=r",
            "--location=global",
            &format!("--output-file={}", path_str(&pem_file)),
        ]);
        let input = s.write("input.txt", "sign me");
        let sig_file = s.data.path().join(format!("{key}.sig"));
        // gcloud kms asymmetric-sign checks every CRC32C and the verified flags.
        s.gcloud(&[
            "kms",
            "asymmetric-sign",
            "--version=1",
            &format!("--key={key}"),
            "--keyring=r",
            "--location=global",
            "--digest-algorithm=sha256"
                .replace("sha256", if key == "ec" { "sha384" } else { "sha256" })
                .as_str(),
            &format!("--input-file={}", path_str(&input)),
            &format!("--signature-file={}", path_str(&sig_file)),
        ]);
        // The real openssl verifies what our KMS signed with the key it published.
        let mut args = vec![
            "dgst".to_owned(),
            format!("-{}", if key == "ec" { "sha384" } else { "sha256" }),
            "-verify".into(),
            path_str(&pem_file).into(),
        ];
        if key == "rsa" {
            args.extend([
                "-sigopt".into(),
                "rsa_padding_mode:pss".into(),
                "-sigopt".into(),
                "rsa_pss_saltlen:-1".into(),
            ]);
        }
        args.extend([
            "-signature".into(),
            path_str(&sig_file).into(),
            path_str(&input).into(),
        ]);
        let out = std::process::Command::new("openssl")
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl verify {key}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
    let skipped = s.gcloud_json(&[
        "kms",
        "keys",
        "create",
        "empty",
        "--keyring=r",
        "--location=global",
        "--purpose=asymmetric-signing",
        "--default-algorithm=ec-sign-p256-sha256",
        "--skip-initial-version-creation",
    ]);
    assert_eq!(skipped[0]["purpose"], "ASYMMETRIC_SIGN");
    let versions = s.gcloud_json(&[
        "kms",
        "keys",
        "versions",
        "list",
        "--key=empty",
        "--keyring=r",
        "--location=global",
    ]);
    assert_eq!(versions.as_array().map(Vec::len), Some(0));
    let keys = s.gcloud(&["kms", "keys", "list", "--keyring=r", "--location=global"]);
    assert!(
        keys.contains("/cryptoKeys/ec") && keys.contains("/cryptoKeys/rsa"),
        "{keys}"
    );
}

support::both_backends!(attestations_in_every_track);
fn attestations_in_every_track(s: &Server) {
    let p = s.project.clone();
    note(s, "n");
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "create",
        "a",
        "--attestation-authority-note=n",
        &format!("--attestation-authority-note-project={p}"),
    ]);
    s.gcloud(&["kms", "keyrings", "create", "r", "--location=global"]);
    s.gcloud(&[
        "kms",
        "keys",
        "create",
        "k",
        "--keyring=r",
        "--location=global",
        "--purpose=asymmetric-signing",
        "--default-algorithm=rsa-sign-pkcs1-2048-sha256",
    ]);
    let kv = format!("projects/{p}/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1");
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "public-keys",
        "add",
        "--attestor=a",
        &format!("--keyversion={kv}"),
    ]);
    let key = admit_testkit::OpensslKey::generate("p256");
    let pem_file = s.write("k.pem", &key.public_pem);
    let added = s.gcloud_json(&[
        "container",
        "binauthz",
        "attestors",
        "public-keys",
        "add",
        "--attestor=a",
        &format!("--pkix-public-key-file={}", path_str(&pem_file)),
        "--pkix-public-key-algorithm=ecdsa-p256-sha256",
    ]);
    let pkix_id = added["id"].as_str().unwrap().to_owned();
    for (i, track) in TRACKS.iter().enumerate() {
        let image = format!("gcr.io/{p}/app{i}@sha256:{}", format!("{i}").repeat(64));
        // create-signature-payload is the same in every track.
        let payload = s.gcloud(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "create-signature-payload",
                &format!("--artifact-url={image}"),
            ],
        ));
        let payload_file = s.write(&format!("payload{i}"), &payload);
        let sig_file = s.data.path().join(format!("sig{i}"));
        std::fs::write(
            &sig_file,
            key.sign(admit_testkit::SigMode::Dgst("sha256"), payload.as_bytes()),
        )
        .unwrap();
        s.gcloud(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestations",
                "create",
                &format!("--artifact-url={image}"),
                "--attestor=a",
                &format!("--attestor-project={p}"),
                &format!("--signature-file={}", path_str(&sig_file)),
                &format!("--payload-file={}", path_str(&payload_file)),
                &format!("--public-key-id={pkix_id}"),
                "--validate",
            ],
        ));
        if !track.is_empty() {
            s.gcloud(&cmd(
                track,
                &[
                    "container",
                    "binauthz",
                    "attestations",
                    "sign-and-create",
                    &format!("--artifact-url={image}"),
                    "--attestor=a",
                    &format!("--attestor-project={p}"),
                    &format!("--keyversion={kv}"),
                    "--validate",
                    "--pae-encode-payload",
                ],
            ));
        }
        let listed = s.gcloud_json(&cmd(
            track,
            &[
                "container",
                "binauthz",
                "attestations",
                "list",
                "--attestor=a",
                &format!("--artifact-url={image}"),
            ],
        ));
        let want = if track.is_empty() { 1 } else { 2 };
        assert_eq!(listed.as_array().map(Vec::len), Some(want), "{listed}");
        // Whatever gcloud stored verifies on the server.
        for o in listed.as_array().unwrap() {
            let v = s.curl("POST", &format!("/v1/projects/{p}/attestors/a:validateAttestationOccurrence"), Some(&serde_json::json!({"attestation": o["attestation"], "occurrenceNote": o["noteName"], "occurrenceResourceUri": o["resourceUri"]}).to_string()));
            assert_eq!(v["result"], "VERIFIED", "{v}");
        }
    }
    // A signature that does not verify: --validate warns, gcloud still creates it (advisory),
    // and the server's validation says why.
    let image = format!("gcr.io/{p}/tampered@sha256:{}", "f".repeat(64));
    let sig_file = s.data.path().join("bad-sig");
    std::fs::write(
        &sig_file,
        key.sign(admit_testkit::SigMode::Dgst("sha256"), b"something else"),
    )
    .unwrap();
    let out = s.gcloud_raw(&[
        "container",
        "binauthz",
        "attestations",
        "create",
        &format!("--artifact-url={image}"),
        "--attestor=a",
        &format!("--attestor-project={p}"),
        &format!("--signature-file={}", path_str(&sig_file)),
        &format!("--public-key-id={pkix_id}"),
        "--validate",
    ]);
    assert!(
        stderr(&out).contains("Attestation could not be validated")
            && stderr(&out).contains("does not verify"),
        "{}",
        stderr(&out)
    );

    // IAM from a file, with an etag that must be base64 and current.
    let iam = s.gcloud_json(&["container", "binauthz", "attestors", "get-iam-policy", "a"]);
    let file = s.write("iam.json", &serde_json::json!({"bindings": [{"role": "roles/binaryauthorization.attestorsViewer", "members": ["group:sec@example.com"]}], "etag": iam["etag"]}).to_string());
    s.gcloud(&[
        "container",
        "binauthz",
        "attestors",
        "set-iam-policy",
        "a",
        path_str(&file),
    ]);
    let stale = s.gcloud_raw(&[
        "container",
        "binauthz",
        "attestors",
        "set-iam-policy",
        "a",
        path_str(&file),
    ]);
    assert!(!stale.status.success(), "a stale IAM etag must be refused");
}
