//! What a registry can hand over for keyless verification (issue 15): a Sigstore bundle
//! (verified against the real public-good trust root, with a keyless identity rule, for a
//! fixed digest), and the same bytes read as cosign's `dev.sigstore.cosign/bundle` annotation,
//! a certificate, and a `trusted_root.json`. Seeded with the real bundles of
//! crates/admit-crypto/tests/data/sigstore.
#![no_main]
use std::sync::OnceLock;

use admit_crypto::sigstore::{Leaf, TlogEntry, TrustRoot};
use admit_policy::{CosignTrust, IdentityRule, KeylessAuthority, verify_cosign};
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
