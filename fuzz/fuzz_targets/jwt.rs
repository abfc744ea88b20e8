//! Bearer tokens (JWTs) against a fixed key set, and key sets (JWKS files) themselves.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const JWKS: &str = include_str!("../corpus_seed/jwks.json");

fn jwks() -> &'static Option<admit_crypto::Jwks> {
    static J: OnceLock<Option<admit_crypto::Jwks>> = OnceLock::new();
    J.get_or_init(|| admit_crypto::Jwks::from_json(JWKS).ok())
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    if sel & 1 == 0 {
        if let Some(j) = jwks() {
            if let Ok(claims) = j.verify(&text) {
                let rules = admit_crypto::ClaimRules {
                    issuer: "https://issuer.example",
                    audiences: &["admit".to_owned()],
                    now: 1_800_000_000,
                    leeway: 60,
                };
                let _ = admit_crypto::check_claims(&claims, &rules);
            }
        }
    } else if let Ok(j) = admit_crypto::Jwks::from_json(&text) {
        let _ = j.verify("a.b.c");
    }
});
