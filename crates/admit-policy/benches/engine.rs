//! Policy-evaluation and signature-verification throughput, printed as a table.
//!
//! Run: `cargo bench -p admit-policy --bench engine`
//!
//! Every figure is also given as a ratio to the P-256 verify rate measured in the same run
//! (the crypto floor), because absolute numbers on a shared 2-core machine are noise.

#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a bench binary: set-up failures abort, results go to stdout"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use admit_crypto::{PgpKey, PkixKey, create_signature_payload, pkix_key_id};
use admit_model::{
    AttestationOccurrence, Attestor, AttestorPublicKey, Bytes, Format, NoteKind, Occurrence,
    PkixPublicKey, Policy, Signature, SignatureAlgorithm as A, UserOwnedGrafeasNote, decode,
};
use admit_policy::{CompiledPolicy, Context, Evidence, ImageRef, Request};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine as _;

const WINDOW: Duration = Duration::from_millis(700);
const D: &str = "sha256:9999999999999999999999999999999999999999999999999999999999999999";

/// Runs `f` repeatedly for about `WINDOW` and returns operations per second.
fn rate(mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < WINDOW {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        body.join("\n")
    )
}

struct Signed {
    name: &'static str,
    key: PkixKey,
    sig: Vec<u8>,
}

fn pkix_cases(msg: &[u8]) -> Vec<Signed> {
    let rng = SystemRandom::new();
    let mut out = Vec::new();
    for (name, alg, signing) in [
        (
            "ECDSA P-256 SHA-256",
            A::EcdsaP256Sha256,
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        ),
        (
            "ECDSA P-384 SHA-384",
            A::EcdsaP384Sha384,
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        ),
        (
            "ECDSA P-521 SHA-512",
            A::EcdsaP521Sha512,
            &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        ),
    ] {
        let kp = EcdsaKeyPair::generate(signing).unwrap();
        let der = kp.public_key().as_der().unwrap();
        let sig = kp.sign(&rng, msg).unwrap().as_ref().to_vec();
        out.push(Signed {
            name,
            key: PkixKey::from_pem(&pem(der.as_ref()), alg).unwrap(),
            sig,
        });
    }
    for (name, alg, size, pad) in [
        (
            "RSA-2048 PKCS#1 SHA-256",
            A::RsaSignPkcs12048Sha256,
            KeySize::Rsa2048,
            &signature::RSA_PKCS1_SHA256 as &dyn signature::RsaEncoding,
        ),
        (
            "RSA-2048 PSS SHA-256",
            A::RsaPss2048Sha256,
            KeySize::Rsa2048,
            &signature::RSA_PSS_SHA256,
        ),
        (
            "RSA-3072 PKCS#1 SHA-256",
            A::RsaSignPkcs13072Sha256,
            KeySize::Rsa3072,
            &signature::RSA_PKCS1_SHA256,
        ),
        (
            "RSA-4096 PSS SHA-512",
            A::RsaPss4096Sha512,
            KeySize::Rsa4096,
            &signature::RSA_PSS_SHA512,
        ),
    ] {
        let kp = RsaKeyPair::generate(size).unwrap();
        let der = kp.public_key().as_der().unwrap();
        let mut sig = vec![0u8; kp.public_modulus_len()];
        kp.sign(pad, &rng, msg, &mut sig).unwrap();
        out.push(Signed {
            name,
            key: PkixKey::from_pem(&pem(der.as_ref()), alg).unwrap(),
            sig,
        });
    }
    let kp = Ed25519KeyPair::generate().unwrap();
    let der = kp.public_key().as_der().unwrap();
    let sig = kp.sign(msg).as_ref().to_vec();
    out.push(Signed {
        name: "Ed25519",
        key: PkixKey::from_pem(&pem(der.as_ref()), A::EcSignEd25519).unwrap(),
        sig,
    });
    out
}

fn main() {
    let image = format!("gcr.io/bench-proj/app@{D}");
    let payload = create_signature_payload(&image).unwrap();
    let msg = payload.as_bytes();
    let mut rows: Vec<(String, f64)> = Vec::new();

    let cases = pkix_cases(msg);
    for c in &cases {
        let r = rate(|| c.key.verify(black_box(msg), black_box(&c.sig)).unwrap());
        rows.push((format!("verify {}", c.name), r));
    }
    let floor = rows[0].1;

    let gpg = admit_testkit::Gpg::new();
    for (uid, algo, label) in [
        ("ed@bench", "ed25519", "Ed25519"),
        ("rsa@bench", "rsa2048", "RSA-2048"),
    ] {
        gpg.generate(uid, algo, "sign");
        let key = PgpKey::from_armored(&gpg.export(uid)).unwrap();
        let sig = gpg.sign(uid, &["--armor", "--sign"], msg);
        let r = rate(|| {
            black_box(key.verify(black_box(&sig), msg).unwrap());
        });
        rows.push((
            format!("verify OpenPGP {label} (armored, compressed gpg --sign)"),
            r,
        ));
    }

    // Policy evaluation.
    let allow: Policy = decode(
        "globalPolicyEvaluationMode: ENABLE\nadmissionWhitelistPatterns:\n- namePattern: gcr.io/tools/*\n- namePattern: docker.io/library/busybox\n- namePattern: quay.io/prometheus/**\ndefaultAdmissionRule:\n  evaluationMode: ALWAYS_ALLOW\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n",
        Format::Yaml,
    )
    .unwrap();
    let allow = CompiledPolicy::new(allow).unwrap();
    let req = |img: &str| Request {
        images: vec![img.to_owned()],
        context: Context::default(),
    };
    let empty = Evidence::new();
    let r1 = req(&image);
    rows.push((
        "evaluate ALWAYS_ALLOW (system + 3 exempt patterns checked)".into(),
        rate(|| {
            black_box(allow.evaluate(&r1, &empty, 0));
        }),
    ));
    let r2 = req("registry.k8s.io/pause:3.9");
    rows.push((
        "evaluate exempt by system policy".into(),
        rate(|| {
            black_box(allow.evaluate(&r2, &empty, 0));
        }),
    ));
    rows.push((
        "parse + normalise image reference".into(),
        rate(|| {
            black_box(ImageRef::parse(black_box("nginx:1.25")).unwrap());
        }),
    ));

    let p256 = &cases[0];
    let attestor = Attestor {
        name: "projects/bench-proj/attestors/ci".into(),
        user_owned_grafeas_note: Some(UserOwnedGrafeasNote {
            note_reference: "projects/bench-proj/notes/ci".into(),
            public_keys: vec![AttestorPublicKey {
                pkix_public_key: Some(PkixPublicKey {
                    public_key_pem: pem(p256.key.spki_der()),
                    signature_algorithm: A::EcdsaP256Sha256,
                    key_id: None,
                }),
                ..Default::default()
            }],
            delegation_service_account_email: None,
        }),
        ..Default::default()
    };
    let mut ev = Evidence::new();
    ev.add_attestor(&attestor);
    ev.add_occurrence(Occurrence {
        name: "projects/bench-proj/occurrences/1".into(),
        resource_uri: image,
        note_name: "projects/bench-proj/notes/ci".into(),
        kind: NoteKind::Attestation,
        attestation: Some(AttestationOccurrence {
            serialized_payload: Bytes(msg.to_vec()),
            signatures: vec![Signature {
                signature: Bytes(p256.sig.clone()),
                public_key_id: pkix_key_id(p256.key.spki_der()),
            }],
            jwts: vec![],
        }),
        ..Default::default()
    });
    let require: Policy = decode(
        "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy: [projects/bench-proj/attestors/ci]\n",
        Format::Yaml,
    )
    .unwrap();
    let require = CompiledPolicy::new(require).unwrap();
    assert!(require.evaluate(&r1, &ev, 0).allowed);
    rows.push((
        "evaluate REQUIRE_ATTESTATION, 1 attestor, P-256 (verifies)".into(),
        rate(|| {
            black_box(require.evaluate(&r1, &ev, 0));
        }),
    ));

    // Keyless (issue 15): a real GitHub Actions bundle against the public-good trust root,
    // offline: DSSE signature (P-256), Rekor promise (P-256), chain (P-384 twice), SCT (P-256).
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../admit-crypto/tests/data/sigstore/"
    );
    let root = admit_crypto::sigstore::TrustRoot::from_trusted_root_json(
        &std::fs::read(format!("{data}trusted-root-public-good.json")).unwrap(),
    )
    .unwrap();
    let bundle = admit_crypto::sigstore::Bundle::parse(
        &std::fs::read(format!("{data}bundle-provenance.json")).unwrap(),
    )
    .unwrap();
    let rule = admit_policy::IdentityRule::from_json(
        "bench",
        &serde_json::json!({"issuer": "https://token.actions.githubusercontent.com",
            "subjectRegExp": "https://github\\.com/sigstore/.*"}),
    )
    .unwrap();
    let keyless = [admit_policy::KeylessAuthority {
        label: "bench".into(),
        identities: vec![rule],
    }];
    let trust = admit_policy::CosignTrust {
        keys: &[],
        keyless: &keyless,
        root: Some(&root),
    };
    assert!(admit_policy::verify_bundle_signer(&bundle, &trust).is_ok());
    rows.push((
        "keyless Sigstore bundle (chain, SCT, Rekor promise, DSSE, identity)".into(),
        rate(|| {
            black_box(admit_policy::verify_bundle_signer(&bundle, &trust).is_ok());
        }),
    ));

    println!("{:<70} {:>14} {:>10}", "operation", "ops/s", "× P-256");
    println!("{}", "-".repeat(96));
    for (name, r) in &rows {
        println!("{name:<70} {r:>14.0} {:>10.2}", r / floor);
    }
}
