//! Rekor transparency log entries, checked offline: the signed entry timestamp (the log's
//! inclusion promise, a signature over the canonical JSON of body, integrated time, log id and
//! index) and the entry's body, which must record this very signature, key and artifact.

use base64::Engine as _;
use serde_json::Value;

use super::TrustRoot;
use super::cert::hex;
use crate::CryptoError;

/// A signature and its signer's PEM, as an entry's body records them.
type RecordedSignature = (Option<Vec<u8>>, Option<Vec<u8>>);

fn bad(reason: impl Into<String>) -> CryptoError {
    CryptoError::Sigstore {
        step: "Rekor entry",
        reason: reason.into(),
    }
}

/// A Rekor v1 entry as a signature carries it: cosign's `dev.sigstore.cosign/bundle`
/// annotation, or a Sigstore bundle's `tlogEntries[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    /// The canonicalized body, as the log stored it.
    pub body: Vec<u8>,
    pub integrated_time: u64,
    pub log_index: u64,
    pub log_id: [u8; 32],
    pub signed_entry_timestamp: Option<Vec<u8>>,
}

/// What a verified entry told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedAt {
    pub log: String,
    pub log_index: u64,
    pub integrated_time: u64,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn int(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

impl TlogEntry {
    /// Reads cosign's `dev.sigstore.cosign/bundle` annotation:
    /// `{"SignedEntryTimestamp": b64, "Payload": {"body": b64, "integratedTime", "logIndex",
    /// "logID": hex}}`.
    pub fn from_cosign_bundle(json: &str) -> Result<Self, CryptoError> {
        let v: Value = serde_json::from_str(json)
            .map_err(|e| bad(format!("dev.sigstore.cosign/bundle is not JSON: {e}")))?;
        let p = &v["Payload"];
        let field = |name: &str| {
            bad(format!(
                "dev.sigstore.cosign/bundle: Payload.{name} is missing or malformed"
            ))
        };
        let log_id = p["logID"]
            .as_str()
            .and_then(unhex)
            .ok_or_else(|| field("logID"))?;
        Ok(TlogEntry {
            body: p["body"].as_str().and_then(b64).ok_or_else(|| field("body"))?,
            integrated_time: int(&p["integratedTime"]).ok_or_else(|| field("integratedTime"))?,
            log_index: int(&p["logIndex"]).ok_or_else(|| field("logIndex"))?,
            log_id,
            signed_entry_timestamp: Some(
                v["SignedEntryTimestamp"]
                    .as_str()
                    .and_then(b64)
                    .ok_or_else(|| bad("dev.sigstore.cosign/bundle: SignedEntryTimestamp is missing or not base64"))?,
            ),
        })
    }

    /// Reads one of a Sigstore bundle's `verificationMaterial.tlogEntries[]`.
    pub fn from_bundle_entry(field: &str, v: &Value) -> Result<Self, CryptoError> {
        let f = |name: &str| bad(format!("{field}.{name} is missing or malformed"));
        let log_id = v["logId"]["keyId"]
            .as_str()
            .and_then(b64)
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or_else(|| f("logId.keyId"))?;
        let set = match &v["inclusionPromise"]["signedEntryTimestamp"] {
            Value::Null => None,
            s => Some(
                s.as_str()
                    .and_then(b64)
                    .ok_or_else(|| f("inclusionPromise.signedEntryTimestamp"))?,
            ),
        };
        Ok(TlogEntry {
            body: v["canonicalizedBody"]
                .as_str()
                .and_then(b64)
                .ok_or_else(|| f("canonicalizedBody"))?,
            integrated_time: int(&v["integratedTime"]).ok_or_else(|| f("integratedTime"))?,
            log_index: int(&v["logIndex"]).ok_or_else(|| f("logIndex"))?,
            log_id,
            signed_entry_timestamp: set,
        })
    }

    /// Verifies the signed entry timestamp with the log's key from `root`, valid at the
    /// entry's integrated time.
    pub fn verify_promise(&self, root: &TrustRoot) -> Result<LoggedAt, CryptoError> {
        let Some(set) = &self.signed_entry_timestamp else {
            return Err(bad(
                "carries no inclusion promise (signed entry timestamp); entries that only carry an inclusion proof need a signed timestamp, which admit does not verify",
            ));
        };
        let Some(log) = root.tlogs.iter().find(|l| l.id == self.log_id) else {
            return Err(bad(format!(
                "was logged by {}, which is not a trusted Rekor log",
                hex(&self.log_id)
            )));
        };
        if !log.valid.contains(self.integrated_time) {
            return Err(bad(format!(
                "{}'s key was not valid at the entry's integrated time {}",
                log.name,
                admit_model::rfc3339(self.integrated_time, 0)
            )));
        }
        // Canonical JSON (RFC 8785): keys sorted, no spaces; the values need no escaping.
        let canonical = format!(
            r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
            base64::engine::general_purpose::STANDARD.encode(&self.body),
            self.integrated_time,
            hex(&self.log_id),
            self.log_index
        );
        log.key.verify(canonical.as_bytes(), set).map_err(|_| {
            bad(format!(
                "its signed entry timestamp does not verify with {}'s key",
                log.name
            ))
        })?;
        Ok(LoggedAt {
            log: log.name.clone(),
            log_index: self.log_index,
            integrated_time: self.integrated_time,
        })
    }

    /// Checks that the body records `signature` made by `signer` (DER certificate or SPKI)
    /// over an artifact: `artifact_sha256` for hashedrekord/rekord entries, the DSSE
    /// payload's SHA-256 for intoto/dsse entries.
    pub fn check_body(
        &self,
        signature: &[u8],
        signer_der: &[u8],
        artifact_sha256: &[u8; 32],
    ) -> Result<(), CryptoError> {
        let body: Value = serde_json::from_slice(&self.body)
            .map_err(|e| bad(format!("its body is not JSON: {e}")))?;
        let kind = body["kind"].as_str().unwrap_or_default();
        let version = body["apiVersion"].as_str().unwrap_or_default();
        let spec = &body["spec"];
        let (hash, sigs): (Option<&str>, Vec<RecordedSignature>) = match (kind, version) {
            ("hashedrekord" | "rekord", "0.0.1") => (
                spec["data"]["hash"]["value"].as_str(),
                vec![(
                    spec["signature"]["content"].as_str().and_then(b64),
                    spec["signature"]["publicKey"]["content"]
                        .as_str()
                        .and_then(b64),
                )],
            ),
            ("intoto", "0.0.2") => (
                spec["content"]["payloadHash"]["value"].as_str(),
                spec["content"]["envelope"]["signatures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        // intoto v0.0.2 stores the (base64) signature base64-encoded again.
                        let sig = s["sig"]
                            .as_str()
                            .and_then(b64)
                            .and_then(|inner| String::from_utf8(inner).ok())
                            .and_then(|inner| b64(&inner));
                        (sig, s["publicKey"].as_str().and_then(b64))
                    })
                    .collect(),
            ),
            ("dsse", "0.0.1") => (
                spec["payloadHash"]["value"].as_str(),
                spec["signatures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        (
                            s["signature"].as_str().and_then(b64),
                            s["verifier"].as_str().and_then(b64),
                        )
                    })
                    .collect(),
            ),
            _ => {
                return Err(bad(format!(
                    "its body is a `{kind}` v{version} entry, which admit does not read"
                )));
            }
        };
        if hash.map(str::to_ascii_lowercase) != Some(hex(artifact_sha256)) {
            return Err(bad(format!(
                "its body records artifact sha256:{}, not the signed sha256:{}",
                hash.unwrap_or("(none)"),
                hex(artifact_sha256)
            )));
        }
        let recorded = sigs.iter().any(|(sig, key)| {
            sig.as_deref() == Some(signature)
                && key
                    .as_deref()
                    .and_then(pem_der)
                    .is_some_and(|d| d == signer_der)
        });
        if !recorded {
            return Err(bad(
                "its body does not record this signature made with this certificate or key",
            ));
        }
        Ok(())
    }
}

/// The DER inside a PEM block (a certificate or public key as Rekor bodies hold them).
fn pem_der(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")?;
    let body_start = start + text[start..].find('\n')? + 1;
    let end = body_start + text[body_start..].find("-----END ")?;
    let b: String = text[body_start..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    b64(&b)
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
