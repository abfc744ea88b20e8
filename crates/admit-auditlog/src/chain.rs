//! The chain: how lines are written and hashed, and the key that signs heads and checkpoints.
//!
//! A record line is `{"prev":HEX,"record":{…},"seq":N}`; its hash is the SHA-256 of the line's
//! bytes (without the newline) and the next record's `prev`. The first record's `prev` is the
//! log's genesis hash. A head line, `{"head":{"hash":HEX,"seq":N,"sig":B64}}`, signs the chain
//! up to record N.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;

use crate::AuditLogError;

pub(crate) type Hash = [u8; 32];

pub(crate) fn sha256(bytes: &[u8]) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(digest(&SHA256, bytes).as_ref());
    h
}

pub(crate) fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `prev` of a new log's first record.
pub(crate) fn genesis(log_id: &str) -> Hash {
    sha256(format!("admit-audit-genesis\n{log_id}").as_bytes())
}

/// The line of record `seq`: `record` is compact JSON, embedded as it is (the keys in the
/// order `serde_json` writes an object's: the lines are the same as when records were
/// re-serialized here).
pub(crate) fn record_line(seq: u64, prev: &Hash, record: &str) -> String {
    let prev = hex(prev);
    let mut line = String::with_capacity(record.len() + prev.len() + 48);
    line.push_str("{\"prev\":\"");
    line.push_str(&prev);
    line.push_str("\",\"record\":");
    line.push_str(record);
    line.push_str(",\"seq\":");
    line.push_str(&seq.to_string());
    line.push('}');
    line
}

pub(crate) fn head_message(log_id: &str, seq: u64, hash: &Hash) -> Vec<u8> {
    format!("admit-audit-head\n{log_id}\n{seq}\n{}", hex(hash)).into_bytes()
}

pub(crate) fn checkpoint_message(log_id: &str, seq: u64, prev: &Hash) -> Vec<u8> {
    format!("admit-audit-checkpoint\n{log_id}\n{seq}\n{}", hex(prev)).into_bytes()
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The key that signs heads and checkpoints.
pub struct Signer {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public", &self.verifier().to_base64())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The signing key derived from the server's 32-byte master key (HKDF-SHA256), so every
    /// replica holding the master key signs as one, and nothing more needs keeping secret.
    pub fn from_master(master: &[u8; 32]) -> Result<Self, AuditLogError> {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        let fail = |_| AuditLogError::Invalid("cannot derive the audit signing key".into());
        let prk = Salt::new(HKDF_SHA256, b"admit audit log").extract(master);
        let info: [&[u8]; 1] = [b"admit audit log signing key v1"];
        let okm = prk.expand(&info, HKDF_SHA256).map_err(fail)?;
        let mut seed = [0u8; 32];
        okm.fill(&mut seed).map_err(fail)?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| AuditLogError::Invalid("cannot make the audit signing key".into()))?;
        seed.fill(0);
        Ok(Signer { pair })
    }

    pub fn verifier(&self) -> Verifier {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.pair.public_key().as_ref());
        Verifier { key }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> String {
        b64().encode(self.pair.sign(message).as_ref())
    }
}

/// The public half: what `verify` checks signatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    key: [u8; 32],
}

impl Verifier {
    /// From the base64 of the raw 32-byte Ed25519 key (what `to_base64` prints).
    pub fn from_base64(text: &str) -> Result<Self, AuditLogError> {
        let bytes = b64()
            .decode(text.trim())
            .map_err(|e| AuditLogError::Invalid(format!("public key: not base64 ({e})")))?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            AuditLogError::Invalid(format!(
                "public key: {} bytes; an Ed25519 key is 32",
                b.len()
            ))
        })?;
        Ok(Verifier { key })
    }

    pub fn to_base64(&self) -> String {
        b64().encode(self.key)
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(sig) = b64().decode(signature) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, &self.key)
            .verify(message, &sig)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test")]
    use super::*;

    #[test]
    fn a_record_line_is_what_serde_json_writes_for_the_same_object() {
        let record = serde_json::json!({"verdict": "ALLOWED", "name": "a \"b\"\nc", "n": [1, 2]});
        let prev = sha256(b"before");
        let line = record_line(7, &prev, &record.to_string());
        let expected =
            serde_json::json!({"seq": 7, "prev": hex(&prev), "record": record}).to_string();
        assert_eq!(line, expected);
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["record"], record);
    }
}
