//! Sigstore verification, fully offline: keyless signatures (a Fulcio certificate chained to a
//! trusted CA at the time Rekor logged the signature, its embedded SCT, Rekor's inclusion
//! promise over an entry that records this signature) and Sigstore bundles.

mod bundle;
mod cert;
mod rekor;
mod sct;
mod trust_root;

pub use bundle::{Bundle, BundleSigner, Envelope};
pub use cert::{Leaf, SignerIdentity};
pub use rekor::{LoggedAt, TlogEntry};
pub use sct::{Sct, encode_list as encode_sct_list};
pub use trust_root::{CertificateAuthority, LogKey, TrustRoot, Validity};

use crate::{CryptoError, PkixKey, pae, sha256};

/// What a verified keyless signature proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeylessVerified {
    pub identity: SignerIdentity,
    /// The certificate authority the certificate chains to.
    pub authority: String,
    /// The CT log whose SCT the certificate carries.
    pub ct_log: String,
    pub logged: LoggedAt,
}

/// Verifies a keyless signature: `signature` over `message` by the certificate `cert` (PEM or
/// DER), `chain` further intermediates it came with, `entries` the Rekor entries recording it
/// (one must carry a valid inclusion promise and record this signature, certificate and
/// `artifact_sha256`: the payload's digest for cosign's layout, the DSSE payload's for an
/// envelope).
pub fn verify_keyless(
    root: &TrustRoot,
    message: &[u8],
    artifact_sha256: &[u8; 32],
    signature: &[u8],
    cert: &[u8],
    chain: &[Vec<u8>],
    entries: &[TlogEntry],
) -> Result<KeylessVerified, CryptoError> {
    let leaf = Leaf::parse(cert)?;
    leaf.key()?
        .verify(message, signature)
        .map_err(|_| CryptoError::Sigstore {
            step: "signature",
            reason: "does not verify with the signing certificate's key".into(),
        })?;
    if entries.is_empty() {
        return Err(CryptoError::Sigstore {
            step: "Rekor entry",
            reason: "none: a keyless signature needs the transparency log's promise to date it"
                .into(),
        });
    }
    let mut last = None;
    for e in entries {
        let logged = match e.verify_promise(root).and_then(|l| {
            e.check_body(signature, &leaf.der, artifact_sha256)
                .map(|()| l)
        }) {
            Ok(l) => l,
            Err(err) => {
                last = Some(err);
                continue;
            }
        };
        let (ca, issuer_spki) = leaf.verify_chain(root, chain, logged.integrated_time)?;
        let ct_log = leaf.verify_sct(root, &issuer_spki)?;
        return Ok(KeylessVerified {
            identity: leaf.identity()?,
            authority: ca.name.clone(),
            ct_log,
            logged,
        });
    }
    Err(last.unwrap_or_else(|| CryptoError::Sigstore {
        step: "Rekor entry",
        reason: "none verified".into(),
    }))
}

/// Who signed a verified bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleVerified {
    Keyless(KeylessVerified),
    /// The label of the trusted key that verified it.
    Key(String),
}

/// Verifies a bundle's DSSE envelope: keyless against `root`, or by one of `keys`.
pub fn verify_bundle(
    root: &TrustRoot,
    bundle: &Bundle,
    keys: &[(&str, &PkixKey)],
) -> Result<BundleVerified, CryptoError> {
    let env = &bundle.envelope;
    let message = pae(&env.payload_type, &env.payload);
    match &bundle.signer {
        BundleSigner::Certificate { leaf, chain } => {
            let digest = sha256(&env.payload);
            let mut last = None;
            for sig in &env.signatures {
                match verify_keyless(
                    root,
                    &message,
                    &digest,
                    sig,
                    leaf,
                    chain,
                    &bundle.tlog_entries,
                ) {
                    Ok(v) => return Ok(BundleVerified::Keyless(v)),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| CryptoError::Sigstore {
                step: "bundle",
                reason: "no signature".into(),
            }))
        }
        BundleSigner::PublicKey { hint } => {
            for sig in &env.signatures {
                if let Some((label, _)) = keys.iter().find(|(_, k)| k.verify(&message, sig).is_ok())
                {
                    return Ok(BundleVerified::Key((*label).to_owned()));
                }
            }
            Err(CryptoError::Sigstore {
                step: "bundle",
                reason: format!(
                    "signed with a key{} that no trusted key matches",
                    if hint.is_empty() {
                        String::new()
                    } else {
                        format!(" (hint `{hint}`)")
                    }
                ),
            })
        }
    }
}

/// A certificate's TBS with its embedded SCT list removed: what a CT log signs for a
/// precertificate. Tools that issue certificates with embedded SCTs (and tests) need it.
pub fn precertificate_tbs(cert_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Leaf::parse(cert_der)?.precertificate_tbs()
}

/// The DER certificates of a PEM bundle (cosign's `dev.sigstore.cosign/chain`).
pub fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, CryptoError> {
    use x509_cert::der::Encode as _;
    x509_cert::Certificate::load_pem_chain(pem.as_bytes())
        .map_err(|e| CryptoError::Sigstore {
            step: "certificate chain",
            reason: format!("not PEM certificates: {e}"),
        })?
        .iter()
        .map(|c| {
            c.to_der().map_err(|e| CryptoError::Sigstore {
                step: "certificate chain",
                reason: e.to_string(),
            })
        })
        .collect()
}
