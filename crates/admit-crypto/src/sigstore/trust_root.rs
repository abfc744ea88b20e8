//! The trust root keyless signatures are checked against, read from files: sigstore's
//! `trusted_root.json` (the format of `cosign verify --trusted-root`, sigstore-go and
//! policy-controller's TrustRoot), or PEM files as cosign's `SIGSTORE_ROOT_FILE`,
//! `SIGSTORE_REKOR_PUBLIC_KEY` and `SIGSTORE_CT_LOG_PUBLIC_KEY_FILE` name them.

use base64::Engine as _;
use serde_json::Value;
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};

use crate::{CryptoError, PkixKey, sha256};

fn bad(field: impl Into<String>, reason: impl Into<String>) -> CryptoError {
    CryptoError::Sigstore {
        step: "trust root",
        reason: format!("{}: {}", field.into(), reason.into()),
    }
}

/// A period a key or CA may be used in, in Unix seconds; open ends are unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub start: Option<u64>,
    pub end: Option<u64>,
}

impl Validity {
    pub fn contains(&self, t: u64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }

    fn parse(field: &str, v: &Value) -> Result<Self, CryptoError> {
        let at = |k: &str| -> Result<Option<u64>, CryptoError> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => admit_model::parse_rfc3339(s)
                    .map(|(secs, _)| Some(secs))
                    .ok_or_else(|| bad(format!("{field}.{k}"), "not an RFC 3339 timestamp")),
                Some(_) => Err(bad(format!("{field}.{k}"), "must be a string")),
            }
        };
        Ok(Validity {
            start: at("start")?,
            end: at("end")?,
        })
    }
}

/// A Fulcio-like certificate authority: its root (the trust anchor) and intermediates.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    /// What to call it in explanations (the root's subject, or the entry's `uri`).
    pub name: String,
    pub root: Vec<u8>,
    pub intermediates: Vec<Vec<u8>>,
    pub valid: Validity,
}

/// A transparency log (Rekor) or certificate transparency log key, found by its log id
/// (the SHA-256 of its DER SubjectPublicKeyInfo).
#[derive(Debug)]
pub struct LogKey {
    pub name: String,
    pub id: [u8; 32],
    pub key: PkixKey,
    pub valid: Validity,
}

/// Fulcio CAs, Rekor keys and CT log keys.
#[derive(Debug, Default)]
pub struct TrustRoot {
    pub authorities: Vec<CertificateAuthority>,
    pub tlogs: Vec<LogKey>,
    pub ctlogs: Vec<LogKey>,
}

fn b64(field: &str, v: &Value) -> Result<Vec<u8>, CryptoError> {
    let s = v
        .as_str()
        .ok_or_else(|| bad(field, "required, a base64 string"))?;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| bad(field, format!("not base64: {e}")))
}

fn subject_of(der: &[u8]) -> Result<String, CryptoError> {
    let cert = Certificate::from_der(der).map_err(|e| bad("certificate", e.to_string()))?;
    Ok(cert.tbs_certificate.subject.to_string())
}

impl TrustRoot {
    /// Reads sigstore's `trusted_root.json`.
    pub fn from_trusted_root_json(bytes: &[u8]) -> Result<Self, CryptoError> {
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| bad("trusted_root.json", e.to_string()))?;
        if !doc.is_object() {
            return Err(bad("trusted_root.json", "must be a JSON object"));
        }
        let media = doc["mediaType"].as_str().unwrap_or_default();
        if !media.starts_with("application/vnd.dev.sigstore.trustedroot") {
            return Err(bad(
                "mediaType",
                format!("`{media}` is not a sigstore trusted root"),
            ));
        }
        let mut root = TrustRoot::default();
        for (i, ca) in doc["certificateAuthorities"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let field = format!("certificateAuthorities[{i}]");
            let mut chain = Vec::new();
            for (j, c) in ca["certChain"]["certificates"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = format!("{field}.certChain.certificates[{j}].rawBytes");
                let der = b64(&at, &c["rawBytes"])?;
                subject_of(&der).map_err(|e| bad(&at, e.to_string()))?;
                chain.push(der);
            }
            let Some(anchor) = chain.pop() else {
                return Err(bad(
                    format!("{field}.certChain.certificates"),
                    "must hold at least the root certificate",
                ));
            };
            let name = ca["uri"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map_or_else(|| subject_of(&anchor), |u| Ok(u.to_owned()))?;
            root.authorities.push(CertificateAuthority {
                name,
                root: anchor,
                intermediates: chain,
                valid: Validity::parse(&format!("{field}.validFor"), &ca["validFor"])?,
            });
        }
        for (list, out) in [("tlogs", &mut root.tlogs), ("ctlogs", &mut root.ctlogs)] {
            for (i, log) in doc[list].as_array().into_iter().flatten().enumerate() {
                let field = format!("{list}[{i}]");
                let der = b64(
                    &format!("{field}.publicKey.rawBytes"),
                    &log["publicKey"]["rawBytes"],
                )?;
                let id: [u8; 32] = match log["logId"]["keyId"] {
                    Value::Null => sha256(&der),
                    ref v => b64(&format!("{field}.logId.keyId"), v)?
                        .try_into()
                        .map_err(|_| bad(format!("{field}.logId.keyId"), "must be 32 bytes"))?,
                };
                let key = PkixKey::from_cosign_der(der)
                    .map_err(|e| bad(format!("{field}.publicKey.rawBytes"), e.to_string()))?;
                out.push(LogKey {
                    name: log["baseUrl"].as_str().unwrap_or(list).to_owned(),
                    id,
                    key,
                    valid: Validity::parse(
                        &format!("{field}.publicKey.validFor"),
                        &log["publicKey"]["validFor"],
                    )?,
                });
            }
        }
        if root.authorities.is_empty() && root.tlogs.is_empty() {
            return Err(bad(
                "trusted_root.json",
                "has neither certificateAuthorities nor tlogs",
            ));
        }
        Ok(root)
    }

    /// Reads PEM files: Fulcio's chain (root and intermediates, in any order), Rekor's public
    /// keys and the CT logs' public keys (each may hold several `PUBLIC KEY` blocks).
    pub fn from_pem(
        fulcio_chain: &str,
        rekor_keys: &str,
        ctlog_keys: &str,
    ) -> Result<Self, CryptoError> {
        let certs = Certificate::load_pem_chain(fulcio_chain.as_bytes())
            .map_err(|e| bad("Fulcio chain", format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad("Fulcio chain", "holds no certificate"));
        }
        let mut roots = Vec::new();
        let mut intermediates = Vec::new();
        for c in &certs {
            let der = c.to_der().map_err(|e| bad("Fulcio chain", e.to_string()))?;
            let tbs = &c.tbs_certificate;
            if tbs.subject == tbs.issuer {
                roots.push((tbs.subject.to_string(), der));
            } else {
                intermediates.push(der);
            }
        }
        if roots.is_empty() {
            return Err(bad(
                "Fulcio chain",
                "holds no self-signed root certificate to anchor the chain",
            ));
        }
        let mut root = TrustRoot {
            authorities: roots
                .into_iter()
                .map(|(name, der)| CertificateAuthority {
                    name,
                    root: der,
                    intermediates: intermediates.clone(),
                    valid: Validity::default(),
                })
                .collect(),
            ..TrustRoot::default()
        };
        root.tlogs = log_keys("Rekor public key", rekor_keys)?;
        root.ctlogs = log_keys("CT log public key", ctlog_keys)?;
        Ok(root)
    }

    /// Adds another root's CAs and logs to this one.
    pub fn extend(&mut self, other: TrustRoot) {
        self.authorities.extend(other.authorities);
        self.tlogs.extend(other.tlogs);
        self.ctlogs.extend(other.ctlogs);
    }

    /// `2 certificate authorities, 1 Rekor key, 2 CT log keys`.
    pub fn summary(&self) -> String {
        format!(
            "{} certificate authorities, {} Rekor keys, {} CT log keys",
            self.authorities.len(),
            self.tlogs.len(),
            self.ctlogs.len()
        )
    }
}

fn log_keys(what: &str, pem: &str) -> Result<Vec<LogKey>, CryptoError> {
    const END: &str = "-----END PUBLIC KEY-----";
    let mut keys = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let Some(end) = rest[start..].find(END) else {
            return Err(bad(
                what,
                "a PEM block has no `-----END PUBLIC KEY-----` line",
            ));
        };
        let block = &rest[start..start + end + END.len()];
        let key = PkixKey::from_cosign_pem(block)
            .map_err(|e| bad(format!("{what} {}", keys.len()), e.to_string()))?;
        keys.push(LogKey {
            name: format!("{what} {}", keys.len()),
            id: sha256(key.spki_der()),
            key,
            valid: Validity::default(),
        });
        rest = &rest[start + end + END.len()..];
    }
    if keys.is_empty() {
        return Err(bad(what, "holds no `PUBLIC KEY` block"));
    }
    Ok(keys)
}
