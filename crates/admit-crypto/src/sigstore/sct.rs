//! Signed certificate timestamps as RFC 6962 encodes them (TLS presentation language): the
//! list embedded in a certificate, and the data a log signs for a precertificate entry.

use crate::CryptoError;

fn bad(reason: impl Into<String>) -> CryptoError {
    CryptoError::Sigstore {
        step: "SCT",
        reason: reason.into(),
    }
}

/// One SCT (v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    pub log_id: [u8; 32],
    pub timestamp_ms: u64,
    pub extensions: Vec<u8>,
    pub signature: Vec<u8>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], CryptoError> {
        if self.0.len() < n {
            return Err(bad(format!("truncated {what}")));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn uint(&mut self, n: usize, what: &str) -> Result<u64, CryptoError> {
        Ok(self
            .take(n, what)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn vec(&mut self, len_bytes: usize, what: &str) -> Result<&'a [u8], CryptoError> {
        let n = usize::try_from(self.uint(len_bytes, what)?).map_err(|_| bad("length"))?;
        self.take(n, what)
    }
}

/// Parses a `SignedCertificateTimestampList`.
pub(super) fn parse_list(bytes: &[u8]) -> Result<Vec<Sct>, CryptoError> {
    let mut outer = Reader(bytes);
    let mut list = Reader(outer.vec(2, "SCT list")?);
    if !outer.0.is_empty() {
        return Err(bad("trailing bytes after the SCT list"));
    }
    let mut out = Vec::new();
    while !list.0.is_empty() {
        let mut sct = Reader(list.vec(2, "SCT")?);
        let version = sct.uint(1, "SCT version")?;
        if version != 0 {
            // Unknown versions are skipped, as RFC 6962 §3.3 asks of clients.
            continue;
        }
        let log_id: [u8; 32] = sct
            .take(32, "SCT log id")?
            .try_into()
            .map_err(|_| bad("log id"))?;
        let timestamp_ms = sct.uint(8, "SCT timestamp")?;
        let extensions = sct.vec(2, "SCT extensions")?.to_vec();
        let _hash_and_signature_algorithms = sct.take(2, "SCT signature algorithm")?;
        let signature = sct.vec(2, "SCT signature")?.to_vec();
        if !sct.0.is_empty() {
            return Err(bad("trailing bytes after an SCT"));
        }
        out.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            signature,
        });
    }
    Ok(out)
}

impl Sct {
    /// The `digitally-signed` struct of RFC 6962 §3.2 for a precertificate entry.
    pub fn signed_data(&self, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(tbs.len() + 64);
        out.push(0); // sct_version v1
        out.push(0); // signature_type certificate_timestamp
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
        out.extend_from_slice(issuer_key_hash);
        let len = u32::try_from(tbs.len()).unwrap_or(u32::MAX).to_be_bytes();
        out.extend_from_slice(&len[1..]); // uint24 length
        out.extend_from_slice(tbs);
        let ext_len = u16::try_from(self.extensions.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&ext_len.to_be_bytes());
        out.extend_from_slice(&self.extensions);
        out
    }
}

/// Builds a `SignedCertificateTimestampList` holding `scts` (for tests and tools that make
/// certificates the way a CT-logging CA does).
pub fn encode_list(scts: &[Sct]) -> Vec<u8> {
    let mut list = Vec::new();
    for s in scts {
        let mut one = vec![0u8];
        one.extend_from_slice(&s.log_id);
        one.extend_from_slice(&s.timestamp_ms.to_be_bytes());
        one.extend_from_slice(&u16::try_from(s.extensions.len()).unwrap_or(0).to_be_bytes());
        one.extend_from_slice(&s.extensions);
        one.extend_from_slice(&[4, 3]); // sha256, ecdsa
        one.extend_from_slice(&u16::try_from(s.signature.len()).unwrap_or(0).to_be_bytes());
        one.extend_from_slice(&s.signature);
        list.extend_from_slice(&u16::try_from(one.len()).unwrap_or(0).to_be_bytes());
        list.extend_from_slice(&one);
    }
    let mut out = u16::try_from(list.len())
        .unwrap_or(0)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(&list);
    out
}
