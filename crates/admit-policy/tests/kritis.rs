//! Compiling Kritis' objects: every key form Kritis reads (publicKeyData, publicKeyList, typed
//! publicKeys with PGP and PKIX keys, a Secret's `public`), both spellings of the allowlist
//! fields, and how a bad object is reported: from files it is an error, from the API server it
//! breaks its own namespace only.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

use admit_policy::{KritisPolicies, SecretKeys, Secrets};
use admit_testkit::{Gpg, OpensslKey};
use base64::Engine as _;
use serde_json::{Value, json};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn object(kind: &str, ns: &str, name: &str, spec: &Value) -> (String, Value) {
    (
        format!("{kind} {ns}/{name}"),
        json!({"apiVersion": "kritis.grafeas.io/v1beta1", "kind": kind,
               "metadata": {"name": name, "namespace": ns, "uid": "x", "managedFields": []},
               "spec": spec}),
    )
}

fn pgp_public() -> (Gpg, String) {
    let g = Gpg::new();
    g.generate("a@example.com", "ed25519", "sign");
    let armored = g.export("a@example.com");
    (g, armored)
}

#[test]
fn typed_public_keys_pgp_and_pkix_compile() {
    let (g, armored) = pgp_public();
    let ec = OpensslKey::generate("p256");
    let objects = vec![
        object(
            "AttestationAuthority",
            "team",
            "both",
            &json!({"noteReference": "v1beta1/projects/p/notes/n", "publicKeys": [
                // Go writes an unset struct as `{}`: that is no PKIX key.
                {"keyType": "PGP", "keyId": g.fingerprint("a@example.com"),
                 "asciiArmoredPgpPublicKey": b64(&armored), "pkixPublicKey": {}},
                {"keyType": "PKIX", "keyId": "kritis://ci/key-1",
                 "pkixPublicKey": {"publicKeyPem": ec.public_pem, "signatureAlgorithm": "ECDSA_P256_SHA256"}},
            ]}),
        ),
        object(
            "GenericAttestationPolicy",
            "team",
            "gap",
            &json!({"attestationAuthorityNames": ["both"],
                   "admissionAllowlistPatterns": [{"namePattern": "gcr.io/base/*"}]}),
        ),
    ];
    let k = KritisPolicies::from_objects(&objects, &Secrets::new());
    assert_eq!(
        k.broken().count(),
        0,
        "{:?}",
        k.broken().collect::<Vec<_>>()
    );
    let ns = k.namespace("team").unwrap();
    let aa = &ns.authorities["both"];
    assert_eq!(aa.note.to_string(), "projects/p/notes/n");
    assert_eq!(ns.attestation[0].1.len(), 1);
    // From the API server, a namespace without policies is left to the project policy.
    assert!(k.namespace("other").is_none());
    assert!(!k.denies_unlisted());
}

#[test]
fn a_bad_object_breaks_its_namespace_only_and_names_the_field() {
    let (_, armored) = pgp_public();
    let objects = vec![
        object(
            "AttestationAuthority",
            "bad",
            "aa",
            &json!({"noteReference": "projects/p", "publicKeys": [{"keyType": "X509"}]}),
        ),
        object(
            "GenericAttestationPolicy",
            "bad",
            "gap",
            &json!({"attestationAuthorityNames": ["aa"]}),
        ),
        object(
            "ImageSecurityPolicy",
            "bad",
            "isp",
            &json!({"attestationAuthorityName": "nobody"}),
        ),
        object(
            "AttestationAuthority",
            "good",
            "aa",
            &json!({"noteReference": "projects/p", "publicKeyData": b64(&armored)}),
        ),
        object(
            "GenericAttestationPolicy",
            "good",
            "gap",
            &json!({"attestationAuthorityNames": ["aa"], "admissionWhitelistPatterns": [{"namePattern": "x/*"}]}),
        ),
    ];
    let k = KritisPolicies::from_objects(&objects, &Secrets::new());
    let broken: Vec<_> = k.broken().collect();
    assert!(broken.iter().all(|(ns, _)| *ns == "bad"), "{broken:?}");
    let all = broken
        .iter()
        .map(|(_, e)| *e)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains(
            "AttestationAuthority bad/aa: spec.publicKeys[0].keyType `X509` is not PGP or PKIX"
        ),
        "{all}"
    );
    assert!(
        all.contains("spec.attestationAuthorityNames: AttestationAuthority `aa` is not defined"),
        "{all}"
    );
    assert!(
        all.contains("spec.attestationAuthorityName: AttestationAuthority `nobody` is not defined"),
        "{all}"
    );
    assert!(k.namespace("bad").is_some());
    let good = k.namespace("good").unwrap();
    assert!(good.broken.is_empty());
    assert_eq!(good.attestation[0].1.len(), 1, "the older spelling is read");
}

#[test]
fn keys_from_a_secret_need_the_cluster() {
    let (g, armored) = pgp_public();
    let aa = object(
        "AttestationAuthority",
        "default",
        "kritis-authority",
        &json!({"noteReference": "projects/kritis-test1/notes/kritis-authority",
               "privateKeySecretName": "kritis-authority-key"}),
    );
    let isp = object(
        "ImageSecurityPolicy",
        "default",
        "my-isp",
        &json!({"attestationAuthorityName": "kritis-authority", "privateKeySecretName": "kritis-authority-key",
               "imageAllowList": ["gcr.io/my/image"]}),
    );
    let objects = vec![aa.clone(), isp];
    assert_eq!(
        KritisPolicies::secret_refs(&objects),
        vec![("default".to_owned(), "kritis-authority-key".to_owned())]
    );
    // Read from the API server: the Secret's `public` is the authority's key, its `private`
    // signs what the ISP admits.
    let mut secrets = Secrets::new();
    secrets.insert(
        ("default".into(), "kritis-authority-key".into()),
        SecretKeys {
            public: Some(armored),
            private: Some(zeroize::Zeroizing::new(g.export_secret("a@example.com"))),
            passphrase: zeroize::Zeroizing::new(String::new()),
        },
    );
    let k = KritisPolicies::from_objects(&objects, &secrets);
    assert_eq!(
        k.broken().count(),
        0,
        "{:?}",
        k.broken().collect::<Vec<_>>()
    );
    let ns = k.namespace("default").unwrap();
    let sp = &ns.image_security[0];
    assert_eq!(sp.authority.as_ref().unwrap().0, "kritis-authority");
    assert!(sp.signer.is_some());
    assert_eq!(sp.policy.spec.image_allowlist, vec!["gcr.io/my/image"]);
    assert!(
        !format!("{:?}", sp.signer).contains("PRIVATE KEY"),
        "redacted"
    );
    // Without the Secret, the authority has no key: its namespace is denied, saying why.
    let k = KritisPolicies::from_objects(&objects, &Secrets::new());
    let broken: Vec<_> = k.broken().map(|(_, e)| e.to_owned()).collect();
    assert!(
        broken[0].contains("Secret default/kritis-authority-key was not found"),
        "{broken:?}"
    );
    // From files there is no cluster to read it from.
    let text = serde_json::to_string(&aa.1).unwrap();
    let err = KritisPolicies::from_manifests(&[("aa.json".into(), text)]).unwrap_err();
    assert!(
        err.contains("spec.privateKeySecretName") && err.contains("--watch-kubernetes"),
        "{err}"
    );
}

#[test]
fn from_files_any_bad_object_is_an_error_and_unlisted_namespaces_are_denied() {
    let (_, armored) = pgp_public();
    let good = format!(
        "apiVersion: kritis.grafeas.io/v1beta1\nkind: AttestationAuthority\nmetadata:\n  name: a\nspec:\n  noteReference: projects/p\n  publicKeyList: [{}]\n---\napiVersion: kritis.grafeas.io/v1beta1\nkind: GenericAttestationPolicy\nmetadata:\n  name: g\nspec:\n  attestationAuthorityNames: [a]\n",
        b64(&armored)
    );
    let k = KritisPolicies::from_manifests(&[("k.yaml".into(), good)]).unwrap();
    assert!(k.denies_unlisted());
    assert_eq!(k.counts(), (0, 1, 1));
    let bad = "apiVersion: kritis.grafeas.io/v1beta1\nkind: GenericAttestationPolicy\nmetadata:\n  name: g\nspec:\n  attestationAuthorityNames: [a]\n  admissionAllowlistPatterns: [{namePattern: ''}]\n";
    let err = KritisPolicies::from_manifests(&[("k.yaml".into(), bad.into())]).unwrap_err();
    assert!(
        err.contains("k.yaml (document 1): spec.admissionAllowlistPatterns[0].namePattern"),
        "{err}"
    );
}
