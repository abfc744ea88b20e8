//! The signing certificate of a keyless signature: who it names (the OIDC issuer in Fulcio's
//! extensions, the subject in the SAN), its chain to a trusted Fulcio CA at the time the
//! transparency log recorded the signature (webpki, code-signing usage), and its embedded
//! SCTs (RFC 6962 §3.2, over the precertificate's TBS with the SCT list removed).

use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_cert::der::asn1::{Ia5String, OctetString, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::{CertificateAuthority, TrustRoot};
use crate::{CryptoError, PkixKey, sha256};

/// Fulcio's OIDC issuer extension, raw string (v1, deprecated) and DER UTF8String (v2).
const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's `otherName` SAN for a username identity.
const OTHERNAME_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// The embedded SCT list (RFC 6962 §3.3).
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// id-kp-codeSigning, which Fulcio's leaf and intermediate certificates carry.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

fn bad(reason: impl Into<String>) -> CryptoError {
    CryptoError::Sigstore {
        step: "certificate",
        reason: reason.into(),
    }
}

/// Who a Fulcio certificate says signed: the OIDC issuer and the subject alternative names
/// (email addresses, URIs such as a CI workflow's, Fulcio usernames).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerIdentity {
    pub issuer: Option<String>,
    pub subjects: Vec<String>,
}

impl std::fmt::Display for SignerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subject {} from issuer {}",
            if self.subjects.is_empty() {
                "(none)".to_owned()
            } else {
                self.subjects.join(", ")
            },
            self.issuer.as_deref().unwrap_or("(none)")
        )
    }
}

/// A parsed leaf certificate.
#[derive(Debug)]
pub struct Leaf {
    pub der: Vec<u8>,
    cert: Certificate,
}

impl Leaf {
    /// Parses one certificate, PEM (`-----BEGIN CERTIFICATE-----`) or DER.
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        let cert = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            let mut chain = Certificate::load_pem_chain(bytes)
                .map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
            if chain.len() != 1 {
                return Err(bad(format!(
                    "expected one PEM certificate, found {}",
                    chain.len()
                )));
            }
            chain.remove(0)
        } else {
            Certificate::from_der(bytes).map_err(|e| bad(format!("not a DER certificate: {e}")))?
        };
        let der = cert.to_der().map_err(|e| bad(e.to_string()))?;
        Ok(Leaf { der, cert })
    }

    /// The certificate's key, as a verifier with the algorithm cosign would sign with.
    pub fn key(&self) -> Result<PkixKey, CryptoError> {
        let spki = self
            .cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| bad(e.to_string()))?;
        PkixKey::from_cosign_der(spki).map_err(|e| bad(format!("its public key: {e}")))
    }

    pub fn identity(&self) -> Result<SignerIdentity, CryptoError> {
        let mut issuer = None;
        let mut subjects = Vec::new();
        for ext in self.cert.tbs_certificate.extensions.iter().flatten() {
            let value = ext.extn_value.as_bytes();
            if ext.extn_id == ISSUER_V2 {
                let s = Utf8StringRef::from_der(value)
                    .map_err(|e| bad(format!("the OIDC issuer extension (v2): {e}")))?;
                issuer = Some(s.as_str().to_owned());
            } else if ext.extn_id == ISSUER_V1 && issuer.is_none() {
                issuer = Some(
                    std::str::from_utf8(value)
                        .map_err(|_| bad("the OIDC issuer extension (v1) is not UTF-8"))?
                        .to_owned(),
                );
            } else if ext.extn_id == SUBJECT_ALT_NAME {
                let san = SubjectAltName::from_der(value)
                    .map_err(|e| bad(format!("the subject alternative name: {e}")))?;
                for name in san.0 {
                    match name {
                        GeneralName::Rfc822Name(s)
                        | GeneralName::UniformResourceIdentifier(s)
                        | GeneralName::DnsName(s) => subjects.push(ia5(&s)),
                        GeneralName::OtherName(o) if o.type_id == OTHERNAME_USERNAME => {
                            if let Ok(u) = o.value.decode_as::<Utf8StringRef<'_>>() {
                                subjects.push(u.as_str().to_owned());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(SignerIdentity { issuer, subjects })
    }

    /// Verifies the chain to one of `root`'s CAs at `time` (Unix seconds), extra
    /// `intermediates` allowed; returns the CA and the issuer's DER SubjectPublicKeyInfo.
    pub fn verify_chain<'r>(
        &self,
        root: &'r TrustRoot,
        extra_intermediates: &[Vec<u8>],
        time: u64,
    ) -> Result<(&'r CertificateAuthority, Vec<u8>), CryptoError> {
        let leaf_der = CertificateDer::from(self.der.as_slice());
        let ee = webpki::EndEntityCert::try_from(&leaf_der)
            .map_err(|e| bad(format!("rejected by the chain verifier: {e}")))?;
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(time));
        let mut reasons = Vec::new();
        for ca in root.authorities.iter().filter(|ca| ca.valid.contains(time)) {
            let anchor_der = CertificateDer::from(ca.root.as_slice());
            let anchor = match webpki::anchor_from_trusted_cert(&anchor_der) {
                Ok(a) => a,
                Err(e) => {
                    reasons.push(format!("{}: its root is unusable: {e}", ca.name));
                    continue;
                }
            };
            let intermediates: Vec<CertificateDer<'_>> = ca
                .intermediates
                .iter()
                .chain(extra_intermediates)
                .map(|d| CertificateDer::from(d.as_slice()))
                .collect();
            match ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &[anchor],
                &intermediates,
                at,
                webpki::KeyUsage::required(CODE_SIGNING),
                None,
                None,
            ) {
                Ok(path) => return Ok((ca, path.issuer_spki().as_ref().to_vec())),
                Err(e) => reasons.push(format!("{}: {e}", ca.name)),
            }
        }
        if reasons.is_empty() {
            return Err(bad(format!(
                "no trusted certificate authority was valid at {}",
                admit_model::rfc3339(time, 0)
            )));
        }
        Err(bad(format!(
            "does not chain to a trusted certificate authority at {}: {}",
            admit_model::rfc3339(time, 0),
            reasons.join("; ")
        )))
    }

    /// Verifies that one of the certificate's embedded SCTs is signed by a CT log of `root`;
    /// returns that log's name. `issuer_spki` is the issuing CA's DER SubjectPublicKeyInfo.
    pub fn verify_sct(&self, root: &TrustRoot, issuer_spki: &[u8]) -> Result<String, CryptoError> {
        let tbs = &self.cert.tbs_certificate;
        let Some(ext) = tbs
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == SCT_LIST)
        else {
            return Err(bad(
                "carries no embedded SCT (certificate transparency proof)",
            ));
        };
        let list = OctetString::from_der(ext.extn_value.as_bytes())
            .map_err(|e| bad(format!("the SCT list extension: {e}")))?;
        let precert_der = self.precertificate_tbs()?;
        let issuer_key_hash = sha256(issuer_spki);
        let scts = super::sct::parse_list(list.as_bytes())?;
        let mut reasons = Vec::new();
        for sct in &scts {
            let Some(log) = root.ctlogs.iter().find(|l| l.id == sct.log_id) else {
                reasons.push(format!("SCT from unknown log {}", hex(&sct.log_id)));
                continue;
            };
            let secs = sct.timestamp_ms / 1000;
            if !log.valid.contains(secs) {
                reasons.push(format!("{} was not valid when it issued the SCT", log.name));
                continue;
            }
            let signed = sct.signed_data(&issuer_key_hash, &precert_der);
            match log.key.verify(&signed, &sct.signature) {
                Ok(()) => return Ok(log.name.clone()),
                Err(_) => reasons.push(format!("the SCT does not verify with {}", log.name)),
            }
        }
        if scts.is_empty() {
            reasons.push("the SCT list is empty".into());
        }
        Err(bad(format!(
            "certificate transparency: {}",
            reasons.join("; ")
        )))
    }
}

impl Leaf {
    /// The TBS certificate without the SCT list extension (RFC 6962 §3.2).
    pub fn precertificate_tbs(&self) -> Result<Vec<u8>, CryptoError> {
        let mut precert = self.cert.tbs_certificate.clone();
        if let Some(exts) = precert.extensions.as_mut() {
            exts.retain(|e| e.extn_id != SCT_LIST);
        }
        precert.to_der().map_err(|e| bad(e.to_string()))
    }
}

fn ia5(s: &Ia5String) -> String {
    s.as_str().to_owned()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
