//! cosign signature layers as a registry hands them over (issue 15): the payload blob and the
//! `dev.cosignproject.cosign/signature` annotation, split at the first NUL byte, verified for a
//! fixed digest against a real P-256 cosign key (sigstore-rs' test key).
#![no_main]
use std::sync::OnceLock;

use admit_policy::{CosignKey, CosignSignature, CosignTrust, verify_cosign};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENptdY/l3nB0yqkXLBWkZWQwo6+cu
OSWS1X9vPavpiQOoTTGC0xX57OojUadxF1cdQmrsiReWg2Wn4FneJfa8xw==
-----END PUBLIC KEY-----";
const DIGEST: &str = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";

fn keys() -> &'static [CosignKey] {
    static KEYS: OnceLock<Vec<CosignKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        vec![CosignKey {
            label: "fuzz".into(),
            key: admit_crypto::PkixKey::from_cosign_pem(KEY).expect("the test key parses"),
        }]
    })
}

fuzz_target!(|data: &[u8]| {
    let (payload, signature) = match data.iter().position(|b| *b == 0) {
        Some(i) => (
            &data[..i],
            Some(String::from_utf8_lossy(&data[i + 1..]).into_owned()),
        ),
        None => (data, None),
    };
    let signatures = [CosignSignature {
        payload,
        signature: signature.as_deref(),
        ..CosignSignature::default()
    }];
    let trust = CosignTrust {
        keys: keys(),
        keyless: &[],
        root: None,
    };
    let _ = verify_cosign(&signatures, &[], DIGEST, &trust);
});
