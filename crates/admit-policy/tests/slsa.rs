//! SLSA provenance read from a real statement: sigstore-js 1.3.0's, made by GitHub Actions and
//! verified in admit-crypto's tests (crates/admit-crypto/tests/data/sigstore/SOURCE.md).

#![allow(clippy::unwrap_used, reason = "tests abort loudly")]

use admit_crypto::sigstore::Bundle;
use admit_policy::{SlsaRequirements, check_provenance, read_provenance};

const DIGEST: &str = "sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751";

#[test]
fn github_actions_provenance_v02_is_read_and_judged() {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../admit-crypto/tests/data/sigstore/bundle-provenance.json"
    ))
    .unwrap();
    let b = Bundle::parse(&raw).unwrap();
    let p = read_provenance(&b.envelope.payload_type, &b.envelope.payload, DIGEST).unwrap();
    assert_eq!(p.builder_id, "https://github.com/actions/runner");
    assert_eq!(
        p.config_source,
        Some((
            "github.com/sigstore/sigstore-js".to_owned(),
            ".github/workflows/release.yml".to_owned()
        ))
    );
    let patterns = ["github.com/sigstore/*".to_owned()];
    let req = SlsaRequirements {
        builder_id: "https://github.com/actions/runner",
        source_patterns: &patterns,
        config_based: true,
    };
    let said = check_provenance(&req, &p).unwrap();
    assert!(said.contains("matches `github.com/sigstore/*`"), "{said}");
    let other = ["github.com/acme/**".to_owned()];
    let e = check_provenance(
        &SlsaRequirements {
            source_patterns: &other,
            ..req.clone()
        },
        &p,
    )
    .unwrap_err();
    assert!(e.contains("matches none"), "{e}");
    let e = check_provenance(
        &SlsaRequirements {
            builder_id: "https://cloudbuild.googleapis.com/GoogleHostedWorker",
            ..req
        },
        &p,
    )
    .unwrap_err();
    assert!(e.contains("not the trusted builder"), "{e}");
    // The statement is about the npm package, not about an image.
    let e =
        read_provenance(&b.envelope.payload_type, &b.envelope.payload, "sha256:00").unwrap_err();
    assert!(e.contains("subject is not sha256:00"), "{e}");
}
