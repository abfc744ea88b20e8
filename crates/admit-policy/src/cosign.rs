//! cosign signatures verified with public keys: the payload is the simple-signing document
//! cosign signs (`critical.type` `cosign container image signature`), it must name the very
//! digest being admitted, and one of the trusted keys must verify the signature over the
//! payload's exact bytes. Keyless signatures (a certificate instead of a key) are recognised
//! and reported as such.

use admit_crypto::{COSIGN_SIGNATURE_TYPE, PkixKey, SimpleSigning};
use base64::Engine as _;

/// One stored signature, as read from the registry.
#[derive(Debug, Clone, Copy)]
pub struct CosignSignature<'a> {
    /// The signed payload's bytes.
    pub payload: &'a [u8],
    /// The base64 signature (`dev.cosignproject.cosign/signature`), if present.
    pub signature: Option<&'a str>,
    /// The signing certificate (`dev.sigstore.cosign/certificate`), for keyless signatures.
    pub certificate: Option<&'a str>,
}

/// A trusted key and what to call it in explanations.
#[derive(Debug)]
pub struct CosignKey {
    pub label: String,
    pub key: PkixKey,
}

/// Which signature (index) which key (label) verified for `digest`; else why each failed.
pub fn verify_cosign(
    signatures: &[CosignSignature<'_>],
    digest: &str,
    keys: &[CosignKey],
) -> Result<(usize, String), Vec<String>> {
    let mut reasons = Vec::new();
    for (i, s) in signatures.iter().enumerate() {
        let payload = match SimpleSigning::parse(s.payload) {
            Ok(p) if p.signature_type == COSIGN_SIGNATURE_TYPE => p,
            Ok(p) => {
                reasons.push(format!(
                    "signature {i}: critical.type is `{}`, not `{COSIGN_SIGNATURE_TYPE}`",
                    p.signature_type
                ));
                continue;
            }
            Err(e) => {
                reasons.push(format!("signature {i}: {e}"));
                continue;
            }
        };
        if payload.manifest_digest != digest {
            reasons.push(format!(
                "signature {i} signs {}, not {digest}",
                payload.manifest_digest
            ));
            continue;
        }
        let Some(b64) = s.signature else {
            reasons.push(format!(
                "signature {i} has no dev.cosignproject.cosign/signature"
            ));
            continue;
        };
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            reasons.push(format!("signature {i}: the signature is not base64"));
            continue;
        };
        if let Some(k) = keys.iter().find(|k| k.key.verify(s.payload, &sig).is_ok()) {
            return Ok((i, k.label.clone()));
        }
        reasons.push(if s.certificate.is_some() {
            format!(
                "signature {i} is keyless (signed with a certificate) and no trusted key verifies it"
            )
        } else {
            format!("signature {i} is not verified by any trusted key")
        });
    }
    if signatures.is_empty() {
        reasons.push("no cosign signatures are stored for the image".into());
    }
    Err(reasons)
}
