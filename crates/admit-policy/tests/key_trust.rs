//! Issue 19, part 1, in the engine: a key's admit validity window and revocation, and OpenPGP
//! expiry and revocation signatures, judged by when the server recorded the attestation (the
//! occurrence's `createTime`, which the test sets: time is injected, not read).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

use admit_crypto::create_signature_payload;
use admit_model::{
    AttestationOccurrence, Attestor, AttestorPublicKey, Bytes, KeyValidity, NoteKind, Occurrence,
    PkixPublicKey, RevokedKey, Signature, SignatureAlgorithm, UserOwnedGrafeasNote,
};
use admit_policy::{CompiledAttestor, ImageRef};
use admit_testkit::{Gpg, OpensslKey, SigMode};

const ATTESTOR: &str = "projects/my-proj/attestors/built-by-ci";
const NOTE: &str = "projects/my-proj/notes/ci";
const IMAGE: &str = "us-docker.pkg.dev/my-proj/prod/app@sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn attestor(keys: Vec<AttestorPublicKey>, revoked: Vec<RevokedKey>) -> Attestor {
    Attestor {
        name: ATTESTOR.into(),
        user_owned_grafeas_note: Some(UserOwnedGrafeasNote {
            note_reference: NOTE.into(),
            public_keys: keys,
            delegation_service_account_email: None,
        }),
        admit_revoked_keys: revoked,
        ..Default::default()
    }
}

fn pkix(key: &OpensslKey, validity: Option<KeyValidity>) -> AttestorPublicKey {
    AttestorPublicKey {
        pkix_public_key: Some(PkixPublicKey {
            public_key_pem: key.public_pem.clone(),
            signature_algorithm: SignatureAlgorithm::EcdsaP256Sha256,
            key_id: None,
        }),
        admit_validity: validity,
        ..Default::default()
    }
}

fn occurrence(payload: &[u8], sig: Vec<u8>, key_id: &str, created: Option<&str>) -> Occurrence {
    Occurrence {
        name: "projects/my-proj/occurrences/1".into(),
        resource_uri: format!("https://{IMAGE}"),
        note_name: NOTE.into(),
        kind: NoteKind::Attestation,
        attestation: Some(AttestationOccurrence {
            serialized_payload: Bytes(payload.to_vec()),
            signatures: vec![Signature {
                signature: Bytes(sig),
                public_key_id: key_id.into(),
            }],
            jwts: vec![],
        }),
        create_time: created.map(str::to_owned),
        ..Default::default()
    }
}

fn check(a: &Attestor, occ: &Occurrence) -> Result<(), String> {
    let c = CompiledAttestor::compile(a).map_err(|e| e.to_string())?;
    c.check(&ImageRef::parse(IMAGE).unwrap(), std::slice::from_ref(occ))
        .map(|_| ())
        .map_err(|r| r.join("; "))
}

fn window(from: Option<&str>, to: Option<&str>) -> Option<KeyValidity> {
    Some(KeyValidity {
        not_before: from.map(str::to_owned),
        not_after: to.map(str::to_owned),
    })
}

#[test]
fn a_pkix_key_counts_only_inside_its_window_and_never_once_revoked() {
    let key = OpensslKey::generate("p256");
    let id = admit_crypto::pkix_key_id(&key.public_der());
    let payload = create_signature_payload(IMAGE).unwrap();
    let sig = key.sign(SigMode::Dgst("sha256"), payload.as_bytes());
    let at = |t: &str| occurrence(payload.as_bytes(), sig.clone(), &id, Some(t));
    let a = attestor(
        vec![pkix(
            &key,
            window(Some("2026-01-01T00:00:00Z"), Some("2026-12-31T23:59:59Z")),
        )],
        vec![],
    );
    assert_eq!(check(&a, &at("2026-06-01T00:00:00.000000000Z")), Ok(()));
    let early = check(&a, &at("2025-12-31T23:59:59.999999999Z")).unwrap_err();
    assert!(
        early.contains("before key") && early.contains("became valid"),
        "{early}"
    );
    let late = check(&a, &at("2027-01-01T00:00:00.000000000Z")).unwrap_err();
    assert!(
        late.contains("validity ended (2026-12-31T23:59:59Z)"),
        "{late}"
    );
    // The boundaries are inclusive, to the nanosecond.
    assert_eq!(check(&a, &at("2026-12-31T23:59:59.000000000Z")), Ok(()));
    assert!(check(&a, &at("2026-12-31T23:59:59.000000001Z")).is_err());
    // Without a createTime the window cannot be judged: not counted.
    let none = occurrence(payload.as_bytes(), sig.clone(), &id, None);
    assert!(check(&a, &none).unwrap_err().contains("no createTime"));
    // A key without a window needs no createTime.
    assert_eq!(
        check(&attestor(vec![pkix(&key, None)], vec![]), &none),
        Ok(())
    );

    // Revoked: no attestation by it counts, whenever recorded.
    let revoked = attestor(
        vec![pkix(&key, None)],
        vec![RevokedKey {
            key_id: id.clone(),
            revoke_time: "2026-11-30T00:00:00Z".into(),
            reason: "key leaked in CI logs".into(),
        }],
    );
    let e = check(&revoked, &at("2026-06-01T00:00:00Z")).unwrap_err();
    assert!(
        e.contains("was revoked at 2026-11-30T00:00:00Z (key leaked in CI logs)"),
        "{e}"
    );
    // A malformed window is an attestor error naming the field.
    let bad = attestor(vec![pkix(&key, window(Some("yesterday"), None))], vec![]);
    let e = CompiledAttestor::compile(&bad).unwrap_err().to_string();
    assert!(e.contains("publicKeys[0].admitValidity.notBefore"), "{e}");
}

#[test]
fn openpgp_expiry_and_revocation_signatures_are_honoured() {
    let g = Gpg::new();
    // Made on 2020-01-01, valid for a day.
    g.generate_at(
        "20200101T000000",
        "old <old@example.com>",
        "ed25519",
        "sign",
        "1d",
    );
    let payload = create_signature_payload(IMAGE).unwrap();
    let sig = g.sign_at(
        "20200101T120000",
        "old@example.com",
        &["--armor", "--sign"],
        payload.as_bytes(),
    );
    let fpr = g.fingerprint("old@example.com");
    let key = |armored: String| AttestorPublicKey {
        ascii_armored_pgp_public_key: Some(armored),
        ..Default::default()
    };
    let a = attestor(vec![key(g.export("old@example.com"))], vec![]);
    let at = |t: &str| occurrence(payload.as_bytes(), sig.clone(), &fpr, Some(t));
    assert_eq!(check(&a, &at("2020-01-01T12:00:01Z")), Ok(()));
    let e = check(&a, &at("2026-11-30T00:00:00Z")).unwrap_err();
    assert!(
        e.contains("after PGP key") && e.contains("expired (2020-01-02T00:00:00"),
        "{e}"
    );

    // A key that never expires, revoked with the certificate gpg made for it.
    let g = Gpg::new();
    g.generate("live <live@example.com>", "ed25519", "sign");
    let sig = g.sign(
        "live@example.com",
        &["--armor", "--sign"],
        payload.as_bytes(),
    );
    let fpr = g.fingerprint("live@example.com");
    let occ = occurrence(payload.as_bytes(), sig, &fpr, Some("2026-11-30T00:00:00Z"));
    let before = attestor(vec![key(g.export("live@example.com"))], vec![]);
    assert_eq!(check(&before, &occ), Ok(()));
    g.revoke("live@example.com");
    let after = attestor(vec![key(g.export("live@example.com"))], vec![]);
    let e = check(&after, &occ).unwrap_err();
    assert!(e.contains("carries a revocation signature"), "{e}");
}
