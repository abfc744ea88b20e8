//! Sigstore verification against real material (tests/data/sigstore/SOURCE.md): the
//! public-good trust root, bundles made by GitHub Actions, a keyless signature the real cosign
//! made in 2021; and each check shown to bite by changing one thing.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

use admit_crypto::sigstore::{
    Bundle, BundleVerified, TlogEntry, TrustRoot, verify_bundle, verify_keyless,
};
use admit_crypto::{CryptoError, sha256};
use base64::Engine as _;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/sigstore/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn public_good() -> TrustRoot {
    TrustRoot::from_trusted_root_json(&data("trusted-root-public-good.json")).unwrap()
}

fn keyless(result: Result<BundleVerified, CryptoError>) -> admit_crypto::sigstore::KeylessVerified {
    match result {
        Ok(BundleVerified::Keyless(v)) => v,
        other => panic!("expected a keyless verification, got {other:?}"),
    }
}

#[test]
fn the_public_good_trust_root_is_read_whole() {
    let root = public_good();
    assert_eq!(
        root.summary(),
        "2 certificate authorities, 1 Rekor keys, 2 CT log keys"
    );
    assert_eq!(root.tlogs[0].name, "https://rekor.sigstore.dev");
}

#[test]
fn a_github_actions_provenance_bundle_verifies_offline() {
    let root = public_good();
    let bundle = Bundle::parse(&data("bundle-provenance.json")).unwrap();
    assert_eq!(bundle.envelope.payload_type, "application/vnd.in-toto+json");
    let v = keyless(verify_bundle(&root, &bundle, &[]));
    assert_eq!(
        v.identity.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    assert_eq!(
        v.identity.subjects,
        ["https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"]
    );
    assert_eq!(v.logged.log_index, 18_300_934);
    assert_eq!(v.logged.integrated_time, 1_681_839_912);
    assert_eq!(v.ct_log, "https://ctfe.sigstore.dev/2022");
    assert_eq!(v.authority, "https://fulcio.sigstore.dev");

    let again = keyless(verify_bundle(
        &root,
        &Bundle::parse(&data("sigstore.js@2.0.0-provenance.sigstore.json")).unwrap(),
        &[],
    ));
    assert_eq!(
        again.identity.subjects,
        ["https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"]
    );
}

#[test]
fn an_envelope_with_a_second_foreign_signature_still_verifies_by_the_certificate() {
    let v = keyless(verify_bundle(
        &public_good(),
        &Bundle::parse(&data("dsse-2sigs.sigstore.json")).unwrap(),
        &[],
    ));
    assert!(v.identity.issuer.is_some(), "{v:?}");
}

#[allow(clippy::needless_pass_by_value, reason = "takes unwrap_err()'s value")]
fn reason(e: CryptoError) -> String {
    e.to_string()
}

#[test]
fn each_check_of_a_bundle_bites() {
    let root = public_good();
    let good = Bundle::parse(&data("bundle-provenance.json")).unwrap();

    // The payload changed: the signature no longer verifies.
    let mut b = good.clone();
    b.envelope.payload[10] ^= 1;
    let e = reason(verify_bundle(&root, &b, &[]).unwrap_err());
    assert!(
        e.contains("does not verify with the signing certificate"),
        "{e}"
    );

    // The promise is over another time.
    let mut b = good.clone();
    b.tlog_entries[0].integrated_time += 1;
    let e = reason(verify_bundle(&root, &b, &[]).unwrap_err());
    assert!(e.contains("signed entry timestamp does not verify"), "{e}");

    // No promise at all.
    let mut b = good.clone();
    b.tlog_entries[0].signed_entry_timestamp = None;
    let e = reason(verify_bundle(&root, &b, &[]).unwrap_err());
    assert!(e.contains("no inclusion promise"), "{e}");

    // A log we do not trust.
    let mut b = good.clone();
    b.tlog_entries[0].log_id[0] ^= 1;
    let e = reason(verify_bundle(&root, &b, &[]).unwrap_err());
    assert!(e.contains("not a trusted Rekor log"), "{e}");

    // A trust root without the CT logs: the SCT cannot be checked, so the bundle fails.
    let mut no_ct = public_good();
    no_ct.ctlogs.clear();
    let e = reason(verify_bundle(&no_ct, &good, &[]).unwrap_err());
    assert!(
        e.contains("certificate transparency") && e.contains("unknown log"),
        "{e}"
    );

    // Without the CA the certificate chains nowhere.
    let mut no_ca = public_good();
    no_ca.authorities.clear();
    let e = reason(verify_bundle(&no_ca, &good, &[]).unwrap_err());
    assert!(e.contains("no trusted certificate authority"), "{e}");

    // The CA's validity window (validFor) must hold the integrated time.
    let mut expired = public_good();
    for ca in &mut expired.authorities {
        ca.valid.end = Some(1_681_839_911);
    }
    let e = reason(verify_bundle(&expired, &good, &[]).unwrap_err());
    assert!(
        e.contains("no trusted certificate authority was valid"),
        "{e}"
    );
}

#[test]
fn a_blob_signature_bundle_is_refused_for_an_image() {
    let e = reason(Bundle::parse(&data("othername.sigstore.json")).unwrap_err());
    assert!(e.contains("messageSignature"), "{e}");
}

#[test]
fn a_2021_cosign_keyless_signature_verifies_up_to_its_missing_sct() {
    let root = public_good();
    let payload = data("cosign-2021-keyless.payload.json");
    let sig = base64::engine::general_purpose::STANDARD
        .decode(data("cosign-2021-keyless.sig"))
        .unwrap();
    let cert = data("cosign-2021-keyless.cert.pem");
    let entry = TlogEntry::from_cosign_bundle(
        &String::from_utf8(data("cosign-2021-keyless.bundle.json")).unwrap(),
    )
    .unwrap();
    // The Rekor promise and the body are sound.
    let logged = entry.verify_promise(&root).unwrap();
    assert_eq!(
        (logged.log_index, logged.integrated_time),
        (783_607, 1_634_714_717)
    );
    entry
        .check_body(
            &sig,
            &admit_crypto::sigstore::Leaf::parse(&cert).unwrap().der,
            &sha256(&payload),
        )
        .unwrap();
    // The certificate chains to the 2021 Fulcio root at that time…
    let leaf = admit_crypto::sigstore::Leaf::parse(&cert).unwrap();
    let (ca, _) = leaf
        .verify_chain(&root, &[], logged.integrated_time)
        .unwrap();
    assert_eq!(ca.name, "https://fulcio.sigstore.dev");
    assert_eq!(leaf.identity().unwrap().subjects, ["flavio@castelli.me"]);
    assert_eq!(leaf.identity().unwrap().issuer, None);
    // …but not ten minutes later, when it had expired.
    let e = reason(
        leaf.verify_chain(&root, &[], logged.integrated_time + 1200)
            .unwrap_err(),
    );
    assert!(e.contains("does not chain"), "{e}");
    // It predates embedded SCTs, so the whole verification refuses it, naming why.
    let e = reason(
        verify_keyless(
            &root,
            &payload,
            &sha256(&payload),
            &sig,
            &cert,
            &[],
            std::slice::from_ref(&entry),
        )
        .unwrap_err(),
    );
    assert!(e.contains("no embedded SCT"), "{e}");
    // Another payload is caught by the signature, and a body about another artifact too.
    let mut other = payload;
    other[5] ^= 1;
    let e = reason(
        verify_keyless(
            &root,
            &other,
            &sha256(&other),
            &sig,
            &cert,
            &[],
            std::slice::from_ref(&entry),
        )
        .unwrap_err(),
    );
    assert!(e.contains("does not verify"), "{e}");
    let e = reason(
        entry
            .check_body(&sig, &leaf.der, &sha256(b"another artifact"))
            .unwrap_err(),
    );
    assert!(e.contains("records artifact sha256:e7801de9"), "{e}");
}

#[test]
fn bad_trust_roots_are_refused_naming_the_field() {
    for (doc, field) in [
        (r#"{"mediaType":"text/plain"}"#, "mediaType"),
        (
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{"publicKey":{"rawBytes":"!!"}}]}"#,
            "tlogs[0].publicKey.rawBytes",
        ),
        (
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","certificateAuthorities":[{"certChain":{"certificates":[]}}]}"#,
            "certificateAuthorities[0].certChain.certificates",
        ),
        (
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
            "neither certificateAuthorities nor tlogs",
        ),
    ] {
        let e = reason(TrustRoot::from_trusted_root_json(doc.as_bytes()).unwrap_err());
        assert!(e.contains(field), "{doc}: {e}");
    }
    let e = reason(TrustRoot::from_pem("nothing", "", "").unwrap_err());
    assert!(e.contains("Fulcio chain"), "{e}");
}
