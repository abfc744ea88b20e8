//! What a registry can hand over for keyless verification (issue 15): a Sigstore bundle
//! or a `.att` DSSE envelope
//! (verified against the real public-good trust root, with a keyless identity rule, for a
//! fixed digest), and the same bytes read as cosign's `dev.sigstore.cosign/bundle` annotation,
//! a certificate, and a `trusted_root.json`. Seeded with the real bundles of
//! crates/admit-crypto/tests/data/sigstore.
#![no_main]
use std::sync::OnceLock;

use admit_crypto::sigstore::{Leaf, TlogEntry, TrustRoot};
use admit_policy::{
    CosignAttestation, CosignTrust, IdentityRule, KeylessAuthority, verify_cosign,
    verify_cosign_attestation,
};
use libfuzzer_sys::fuzz_target;

const DIGEST: &str = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";

fn root() -> &'static TrustRoot {
    static ROOT: OnceLock<TrustRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        TrustRoot::from_trusted_root_json(include_bytes!(
            "../../crates/admit-crypto/tests/data/sigstore/trusted-root-public-good.json"
        ))
        .expect("the public-good root parses")
    })
}

fn keyless() -> &'static [KeylessAuthority] {
    static AUTH: OnceLock<Vec<KeylessAuthority>> = OnceLock::new();
    AUTH.get_or_init(|| {
        let rule = serde_json::json!({"issuerRegExp": ".*", "subjectRegExp": ".*"});
        vec![KeylessAuthority {
            label: "fuzz".into(),
            identities: vec![IdentityRule::from_json("fuzz", &rule).expect("the rule parses")],
        }]
    })
}

fuzz_target!(|data: &[u8]| {
    let trust = CosignTrust {
        keys: &[],
        keyless: keyless(),
        root: Some(root()),
    };
    let _ = verify_cosign(&[], &[data], DIGEST, &trust);
    // The same bytes as a `.att` layer's DSSE envelope, keyless with the real 2021 certificate.
    let attestation = CosignAttestation {
        envelope: data,
        certificate: Some(include_str!(
            "../../crates/admit-crypto/tests/data/sigstore/cosign-2021-keyless.cert.pem"
        )),
        chain: None,
        rekor_bundle: Some(include_str!(
            "../../crates/admit-crypto/tests/data/sigstore/cosign-2021-keyless.bundle.json"
        )),
    };
    let _ = verify_cosign_attestation(&attestation, &trust);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = admit_policy::read_provenance("application/vnd.in-toto+json", data, DIGEST);
        let _ = admit_policy::check_repo_pattern(s);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(entry) = TlogEntry::from_cosign_bundle(s) {
            let _ = entry.verify_promise(root());
            let _ = entry.check_body(b"sig", b"der", &[0; 32]);
        }
    }
    if let Ok(leaf) = Leaf::parse(data) {
        let _ = leaf.identity();
        let _ = leaf.verify_chain(root(), &[], 1_681_839_912);
        let _ = leaf.verify_sct(root(), b"");
    }
    let _ = TrustRoot::from_trusted_root_json(data);
});
