//! Sigstore bundles (`application/vnd.dev.sigstore.bundle…+json`, v0.1 to v0.3), as cosign
//! writes them for an image since `--new-bundle-format`: a DSSE envelope over an in-toto
//! statement, the signing certificate (or a key hint) and the Rekor entries.

use base64::Engine as _;
use serde_json::Value;

use super::rekor::TlogEntry;
use crate::CryptoError;

fn bad(reason: impl Into<String>) -> CryptoError {
    CryptoError::Sigstore {
        step: "bundle",
        reason: reason.into(),
    }
}

/// What signed the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSigner {
    /// A certificate (keyless), with any further chain certificates the bundle carries.
    Certificate { leaf: Vec<u8>, chain: Vec<Vec<u8>> },
    /// A key known to the verifier; the hint is informational.
    PublicKey { hint: String },
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

/// A parsed bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub media_type: String,
    pub signer: BundleSigner,
    pub tlog_entries: Vec<TlogEntry>,
    pub envelope: Envelope,
}

/// Protobuf JSON `bytes`: standard base64, or the URL-safe alphabet protobuf also accepts.
fn b64(field: &str, v: &Value) -> Result<Vec<u8>, CryptoError> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    v.as_str()
        .and_then(|s| STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok())
        .ok_or_else(|| bad(format!("{field} is missing or not base64")))
}

impl Envelope {
    /// Reads a DSSE envelope (`{payloadType, payload, signatures: [{sig, keyid}]}`, bytes in
    /// base64) as a bundle, a `.att` layer or a Grafeas occurrence carries one; `field` names it
    /// in errors. At least one signature is required.
    pub fn from_json(field: &str, env: &Value) -> Result<Self, CryptoError> {
        let signatures = env["signatures"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| b64(&format!("{field}.signatures[{i}].sig"), &s["sig"]))
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.is_empty() {
            return Err(bad(format!("{field}.signatures is empty")));
        }
        Ok(Envelope {
            payload_type: env["payloadType"]
                .as_str()
                .ok_or_else(|| bad(format!("{field}.payloadType is missing")))?
                .to_owned(),
            payload: b64(&format!("{field}.payload"), &env["payload"])?,
            signatures,
        })
    }

    /// The pre-authentication encoding its signatures sign.
    pub fn pae(&self) -> Vec<u8> {
        crate::pae(&self.payload_type, &self.payload)
    }
}

impl Bundle {
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let media_type = v["mediaType"].as_str().unwrap_or_default().to_owned();
        if !media_type.starts_with("application/vnd.dev.sigstore.bundle") {
            return Err(bad(format!(
                "mediaType `{media_type}` is not a Sigstore bundle's"
            )));
        }
        let vm = &v["verificationMaterial"];
        let signer = if let Some(c) = vm.get("certificate").filter(|c| !c.is_null()) {
            BundleSigner::Certificate {
                leaf: b64("verificationMaterial.certificate.rawBytes", &c["rawBytes"])?,
                chain: Vec::new(),
            }
        } else if let Some(chain) = vm["x509CertificateChain"]["certificates"].as_array() {
            let mut ders = chain
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    b64(
                        &format!(
                            "verificationMaterial.x509CertificateChain.certificates[{i}].rawBytes"
                        ),
                        &c["rawBytes"],
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            if ders.is_empty() {
                return Err(bad(
                    "verificationMaterial.x509CertificateChain.certificates is empty",
                ));
            }
            let leaf = ders.remove(0);
            BundleSigner::Certificate { leaf, chain: ders }
        } else if let Some(k) = vm.get("publicKey").filter(|k| !k.is_null()) {
            BundleSigner::PublicKey {
                hint: k["hint"].as_str().unwrap_or_default().to_owned(),
            }
        } else {
            return Err(bad(
                "verificationMaterial has no certificate, x509CertificateChain or publicKey",
            ));
        };
        let tlog_entries = vm["tlogEntries"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, e)| {
                TlogEntry::from_bundle_entry(&format!("verificationMaterial.tlogEntries[{i}]"), e)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let env = &v["dsseEnvelope"];
        if env.is_null() {
            return Err(if v["messageSignature"].is_null() {
                bad("has neither dsseEnvelope nor messageSignature")
            } else {
                bad(
                    "holds a messageSignature (a signed blob); cosign signs images with a DSSE envelope",
                )
            });
        }
        Ok(Bundle {
            media_type,
            signer,
            tlog_entries,
            envelope: Envelope::from_json("dsseEnvelope", env)?,
        })
    }
}
